"""Training the tagger (``kg train``) from gold files: what each unit should be labelled, and the CRF.

A gold note lists its entities by the forms the note writes them in (``tests/gold/README.md``).
The labels come from finding every form in the note's prose, longest first and never overlapping,
Latin forms only on word boundaries: each occurrence is an entity of that type (``B-``/``I-``
labels over its units), optional forms are found too (so that nothing inside them is taken for
another entity) but labelled ``O``.  A sequence is trained on only if its labels fall on unit
boundaries.  Which notes a model learns from is the caller's choice (``kg train`` uses the dev half
of ``tests/gold/annotated.json`` and the notes of ``tests/gold/gold.json``, never the test half).

The model is written as ``tagger.crfsuite`` with ``tagger.json`` beside it: the feature version, the
training parameters, the notes and label counts it saw, and the digest that stores use to know that
the extractor changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kg.errors import ModelError
from kg.extract.features import FEATURES_VERSION, UnitFeatures, sequences_of, units_of
from kg.model import ENTITY_TYPES, Note

__all__ = ["GoldNote", "TrainingReport", "gold_spans", "labelled_sequences", "read_gold_notes", "train_tagger",
           "cross_validate", "DEFAULT_PARAMS"]

#: CRFsuite settings (L-BFGS with elastic-net regularisation), chosen by cross-validation on the dev half
DEFAULT_PARAMS = {"c1": 0.1, "c2": 0.1, "max_iterations": 150, "feature.possible_transitions": True}


@dataclass(frozen=True)
class GoldNote:
    """One annotated note: its parsed text and its entities as ``{type: [[form, ...], ...]}``."""

    note: Note
    entities: dict[str, list[list[str]]]
    optional: dict[str, list[list[str]]] = field(default_factory=dict)


def read_gold_notes(path: str | os.PathLike[str], split: str | None = None) -> list[GoldNote]:
    """The notes of a gold file (of one half, if ``split`` is given), read from the folders its
    ``"sources"`` list names (relative to the gold file)."""
    from kg.evaluate import load_gold
    from kg.notes import read_note

    path = Path(path)
    gold = load_gold(path)  # validates the file, and the halves against the fixed rule
    data = json.loads(path.read_text(encoding="utf-8"))
    folders = [(path.parent / s).resolve() for s in data.get("sources", [])]
    out = []
    for name, table in sorted(data["notes"].items()):
        if split is not None and gold.by_note[name].split not in (split, None):
            continue
        file = next((f / name for f in folders if (f / name).is_file()), None)
        if file is None:
            raise ModelError(f"{path}: the note {name} is in none of the gold's source folders "
                             f"({', '.join(map(str, folders)) or 'none named'}); check \"sources\" in the gold file")
        entities = {t: [e if isinstance(e, list) else [e] for e in v] for t, v in table.items() if t in ENTITY_TYPES}
        optional = {t: [e if isinstance(e, list) else [e] for e in v] for t, v in table.get("optional", {}).items()}
        out.append(GoldNote(read_note(file, name), entities, optional))
    return out


def _is_word_char(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def gold_spans(text: str, entities: dict[str, list[list[str]]],
               optional: dict[str, list[list[str]]] | None = None) -> list[tuple[int, int, str, bool]]:
    """``(start, end, type, optional)`` of every occurrence of every form in ``text``.

    >>> gold_spans("PLE 不在 RIPPLES 里；PLE!", {"Paper": [["PLE"]]})
    [(0, 3, 'Paper', False), (17, 20, 'Paper', False)]
    >>> gold_spans("日本共产党在日本", {"Organization": [["日本共产党"]], "Place": [["日本"]]})
    [(0, 5, 'Organization', False), (6, 8, 'Place', False)]
    """
    forms = [(f, t, False) for t, ents in entities.items() for ent in ents for f in ent]
    forms += [(f, t, True) for t, ents in (optional or {}).items() for ent in ents for f in ent]
    forms.sort(key=lambda x: (-len(x[0]), x[2], x[0]))
    taken = bytearray(len(text) + 1)
    out = []
    for form, type_, opt in forms:
        if len(form.strip()) < 2:
            continue
        j = text.find(form)
        while j >= 0:
            k = j + len(form)
            if not ((_is_word_char(form[0]) and j > 0 and _is_word_char(text[j - 1]))
                    or (_is_word_char(form[-1]) and k < len(text) and _is_word_char(text[k]))
                    or taken.find(1, j, k) >= 0):
                taken[j:k] = b"\x01" * (k - j)
                out.append((j, k, type_, opt))
            j = text.find(form, j + 1)
    return sorted(out)


def labelled_sequences(text: str, findings: dict, spans: Sequence[tuple[int, int, str, bool]]
                       ) -> Iterator[tuple[list[list[str]], list[str]]]:
    """``(features, labels)`` of each sentence of ``text`` whose gold spans fall on unit boundaries;
    ``findings`` is what the rule components found (``Extractor.rule_findings``)."""
    units = units_of(text)
    if not units:
        return
    feats = UnitFeatures(text, units, findings.get("kg_candidates", []), findings["kg_tokens"])
    labels = ["O"] * len(units)
    bad = set()
    first = {s: i for i, (s, _e) in enumerate(units)}
    last = {e: i for i, (_s, e) in enumerate(units)}
    for s, e, type_, opt in spans:
        i, j = first.get(s), last.get(e)
        if i is None or j is None:
            bad.add(s)
            continue
        if not opt:
            labels[i] = "B-" + type_
            for k in range(i + 1, j + 1):
                labels[k] = "I-" + type_
    bad_units = {i for i, (s, e) in enumerate(units) if any(s <= b < e for b in bad)} if bad else set()
    for seq in sequences_of(text, units):
        if bad_units and any(i in bad_units for i in seq):
            continue
        yield feats.features(seq), [labels[i] for i in seq]


@dataclass
class TrainingReport:
    notes: int
    sequences: int
    labels: Counter
    model_dir: Path
    digest: str


def train_tagger(gold: Iterable[GoldNote], model_dir: str | os.PathLike[str],
                 params: dict | None = None, sources: Sequence[str] = ()) -> TrainingReport:
    """Train the tagger on ``gold`` and write it to ``model_dir`` (``tagger.crfsuite`` and ``tagger.json``);
    ``sources`` names the gold files, for the record."""
    import pycrfsuite

    from kg.extract.extractor import load_extractor

    rules = load_extractor(tagger=False)
    settings = {**DEFAULT_PARAMS, **(params or {})}
    trainer = pycrfsuite.Trainer(verbose=False)
    trainer.set_params(settings)
    notes = sequences = 0
    labels: Counter = Counter()
    names = []
    for g in gold:
        unknown = set(g.entities) - set(ENTITY_TYPES)
        if unknown:
            raise ModelError(f"{g.note.path}: unknown entity type {sorted(unknown)[0]!r} in the gold; "
                             f"use one of {', '.join(ENTITY_TYPES)}")
        text = "\n".join(b.text for b in g.note.blocks)
        spans = gold_spans(text, g.entities, g.optional)
        notes += 1
        names.append(g.note.path)
        for xs, ys in labelled_sequences(text, rules.rule_findings(text, g.note.text), spans):
            trainer.append(xs, ys)
            sequences += 1
            labels.update(y for y in ys if y.startswith("B-"))
    if not sequences:
        raise ModelError("no training sentences: the gold holds no note with text; check the gold file")
    out = Path(model_dir)
    out.mkdir(parents=True, exist_ok=True)
    # written beside the target and renamed, so that a failed training leaves the old model whole
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        crf = Path(tmp) / "tagger.crfsuite"
        trainer.train(str(crf))
        digest = hashlib.sha256(crf.read_bytes()).hexdigest()[:16]
        info = {"features_version": FEATURES_VERSION, "digest": digest, "params": settings,
                "gold": list(sources), "notes": sorted(names), "sequences": sequences,
                "entities": {k[2:]: v for k, v in sorted(labels.items())},
                "retrain": "kg train  (see kg/extract/training.py)"}
        (Path(tmp) / "tagger.json").write_text(json.dumps(info, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        os.replace(crf, out / "tagger.crfsuite")
        os.replace(Path(tmp) / "tagger.json", out / "tagger.json")
    return TrainingReport(notes, sequences, labels, out, digest)


def cross_validate(gold: Sequence[GoldNote], folds: int = 5, params: dict | None = None,
                   models: str | os.PathLike[str] | None = None) -> dict[str, list[tuple[str, str, tuple[str, ...]]]]:
    """What a tagger trained without each note finds in it: the notes are dealt into ``folds``
    groups in order, and each group is extracted by a model trained on the others.  Returns
    ``{note path: [(type, name, aliases), ...]}``, for :func:`kg.evaluate.evaluate_notes`.  This is
    how the dev half is read for errors without scoring a model on the notes it learnt.

    ``models`` keeps the fold models in that folder, and a fold whose model is already there is not
    trained again (to try changes after the tagger, such as resolving, on the same models)."""
    from kg.extract.extractor import load_extractor

    if folds < 2 or folds > len(gold):
        raise ModelError(f"cross-validation needs 2 to {len(gold)} folds, not {folds}")
    found: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(folds):
            held = gold[k::folds]
            held_paths = {g.note.path for g in held}
            model = Path(models or tmp) / f"fold{k}"
            if not (models and (model / "tagger.json").is_file()):
                train_tagger([g for g in gold if g.note.path not in held_paths], model, params)
            extractor = load_extractor(tagger_dir=model)
            for g in held:
                x = extractor.extract(g.note)
                found[g.note.path] = [(e.type, e.name, e.aliases) for e in x.entities]
    return found
