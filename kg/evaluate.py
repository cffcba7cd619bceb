"""Scoring extracted entities against a hand-made gold file.

This module owns the gold file format and the precision/recall/F1 report.

Gold format (JSON, UTF-8)::

    {
      "version": 1,
      "notes": {
        "2026-6-10-Qing_7.markdown": {
          "Person": [["年羹尧"], ["纳兰性德", "性德"]],
          "Place": [["湖北"]],
          "optional": {"Paper": [["华尔街日报"]]}
        }
      }
    }

``notes`` maps a note path (as in ``Note.path``) to its entities by type (one
of ``kg.model.ENTITY_TYPES``).  Version 2 adds ``"lang"`` (``"zh"`` or ``"en"``) and ``"split"``
(``"dev"`` or ``"test"``) to each note; the split must be the one :func:`gold_split` gives its
path, a rule fixed before anything was tuned.  Each entity is a list of accepted forms, the
first one the preferred name; a bare string is one form.  ``optional`` holds
entities that may or may not be extracted: finding them is not a false
positive, missing them is not a false negative.  Entities of all notes are
pooled per type (the same name in two notes is one entity).

A predicted entity ``(type, name, aliases)`` matches a gold entity of the same
type when its name or any alias equals any accepted form, compared after
Unicode NFKC normalisation, case folding and collapsing of white space.
Precision is the share of predicted entities (not optional) that match a gold
entity; recall is the share of gold entities matched by some prediction.

:func:`evaluate` pools entities over notes; :func:`evaluate_notes` scores each note apart
(distinct entity strings per note) and sums the counts, and :func:`evaluate_halves` does that
for each half and language of a version 2 gold file.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Mapping
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from kg.errors import EvalError
from kg.model import ENTITY_TYPES

__all__ = ["Gold", "NoteGold", "TypeScore", "Report", "load_gold", "parse_gold", "evaluate", "evaluate_notes",
           "evaluate_halves", "gold_split", "normalise"]


def gold_split(path: str) -> str:
    """The half a gold note belongs to, by a fixed rule on its path: the parity of the first 32 bits
    of the path's SHA-1.

    >>> gold_split("2024-7-15-Qing_5.markdown"), gold_split("2022-4-7-Russo_Ukrainian_War_Wind.markdown")
    ('dev', 'test')
    """
    return "dev" if int(hashlib.sha1(path.encode("utf-8")).hexdigest()[:8], 16) % 2 == 0 else "test"


def normalise(form: str) -> str:
    """The comparison form of a name: NFKC, case-folded, single spaces."""
    return " ".join(unicodedata.normalize("NFKC", form).casefold().split())


@dataclass(frozen=True)
class NoteGold:
    """The gold of one note: per type, its entities as sets of accepted forms."""

    entities: dict[str, tuple[frozenset[str], ...]]
    optional: dict[str, tuple[frozenset[str], ...]]
    lang: str | None = None
    split: str | None = None


@dataclass(frozen=True)
class Gold:
    """Gold entities pooled over notes: per type, a tuple of accepted-form sets; and note by note."""

    notes: tuple[str, ...]
    entities: dict[str, tuple[frozenset[str], ...]]
    optional: dict[str, tuple[frozenset[str], ...]] = field(default_factory=dict)
    by_note: dict[str, NoteGold] = field(default_factory=dict)


@dataclass(frozen=True)
class TypeScore:
    type: str
    true_positives: int
    predicted: int
    gold: int
    found: int  # gold entities matched

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted if self.predicted else (1.0 if not self.gold else 0.0)

    @property
    def recall(self) -> float:
        return self.found / self.gold if self.gold else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True)
class Report:
    scores: tuple[TypeScore, ...]
    false_positives: dict[str, tuple[str, ...]]
    false_negatives: dict[str, tuple[str, ...]]

    def score(self, type_: str) -> TypeScore:
        for s in self.scores:
            if s.type == type_:
                return s
        raise KeyError(type_)

    def format(self, details: bool = False) -> str:
        """A plain table: one row per type with P, R, F1 and counts."""
        lines = [f"{'type':<14}{'P':>7}{'R':>7}{'F1':>7}{'pred':>7}{'gold':>7}"]
        for s in self.scores:
            lines.append(
                f"{s.type:<14}{s.precision:>7.3f}{s.recall:>7.3f}{s.f1:>7.3f}{s.predicted:>7}{s.gold:>7}"
            )
        if details:
            for type_ in ENTITY_TYPES:
                if self.false_positives.get(type_):
                    lines.append(f"{type_} false positives: {', '.join(self.false_positives[type_])}")
                if self.false_negatives.get(type_):
                    lines.append(f"{type_} missed: {', '.join(self.false_negatives[type_])}")
        return "\n".join(lines)


def _forms(entry, where: str) -> frozenset[str]:
    if isinstance(entry, str):
        entry = [entry]
    if not isinstance(entry, list) or not entry or not all(isinstance(x, str) and x.strip() for x in entry):
        raise EvalError(f"{where}: an entity must be a non-empty list of names (accepted forms), got {entry!r}")
    return frozenset(normalise(x) for x in entry)


def _by_type(table, where: str, into: dict[str, list[frozenset[str]]]) -> None:
    if not isinstance(table, dict):
        raise EvalError(f"{where}: expected an object mapping entity types to lists of entities")
    for type_, entries in table.items():
        if type_ not in ENTITY_TYPES:
            raise EvalError(f"{where}: unknown type {type_!r}; use one of {', '.join(ENTITY_TYPES)}")
        if not isinstance(entries, list):
            raise EvalError(f"{where}.{type_}: expected a list of entities")
        for i, entry in enumerate(entries):
            into[type_].append(_forms(entry, f"{where}.{type_}[{i}]"))


def _pool(groups: list[frozenset[str]]) -> tuple[frozenset[str], ...]:
    """Join entities sharing a form (the same name in two notes is one entity)."""
    pooled: list[set[str]] = []
    for group in groups:
        hits = [p for p in pooled if p & group]
        merged = set(group)
        for p in hits:
            merged |= p
            pooled.remove(p)
        pooled.append(merged)
    return tuple(frozenset(p) for p in pooled)


def parse_gold(data, source: str = "gold") -> Gold:
    """Validate decoded gold JSON (see the module docstring)."""
    if not isinstance(data, dict) or not isinstance(data.get("notes"), dict):
        raise EvalError(f"{source}: expected an object with a \"notes\" object mapping note paths to entities")
    required: dict[str, list[frozenset[str]]] = {t: [] for t in ENTITY_TYPES}
    optional: dict[str, list[frozenset[str]]] = {t: [] for t in ENTITY_TYPES}
    by_note: dict[str, NoteGold] = {}
    for note, table in data["notes"].items():
        where = f"{source}: notes[{note!r}]"
        if not isinstance(table, dict):
            raise EvalError(f"{where} must be an object of entity types")
        table = dict(table)
        opt = table.pop("optional", {})
        lang, split = table.pop("lang", None), table.pop("split", None)
        if split is not None and split != gold_split(note):
            raise EvalError(f"{where}: split {split!r}, but the fixed rule puts this note in {gold_split(note)!r} "
                            "(kg.evaluate.gold_split); a note's half is never chosen by hand")
        if lang not in (None, "zh", "en"):
            raise EvalError(f"{where}: lang must be \"zh\" or \"en\", not {lang!r}")
        mine: dict[str, list[frozenset[str]]] = {t: [] for t in ENTITY_TYPES}
        mine_opt: dict[str, list[frozenset[str]]] = {t: [] for t in ENTITY_TYPES}
        _by_type(table, where, mine)
        _by_type(opt, f"{where}.optional", mine_opt)
        for t in ENTITY_TYPES:
            required[t] += mine[t]
            optional[t] += mine_opt[t]
        by_note[note] = NoteGold({t: tuple(g) for t, g in mine.items()}, {t: tuple(g) for t, g in mine_opt.items()},
                                 lang, split)
    return Gold(
        notes=tuple(sorted(data["notes"])),
        entities={t: _pool(g) for t, g in required.items()},
        optional={t: _pool(g) for t, g in optional.items()},
        by_note=by_note,
    )


def load_gold(path: str | Path) -> Gold:
    """Read and validate a gold JSON file; errors raise :class:`~kg.errors.EvalError`."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EvalError(f"cannot read gold file ({exc})", path=str(path)) from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EvalError(f"not valid JSON ({exc})", path=str(path)) from exc
    try:
        return parse_gold(data, path.name)
    except EvalError as exc:
        raise EvalError(exc.message, path=str(path)) from None


def evaluate(entities: Iterable[tuple[str, str, Iterable[str]]], gold: Gold) -> Report:
    """Precision, recall and F1 per type of ``(type, name, aliases)`` against ``gold``."""
    predicted: dict[str, list[tuple[str, frozenset[str]]]] = {t: [] for t in ENTITY_TYPES}
    seen: set[tuple[str, str]] = set()
    for type_, name, aliases in entities:
        if type_ not in predicted or (type_, name) in seen:
            continue
        seen.add((type_, name))
        predicted[type_].append((name, frozenset(normalise(x) for x in (name, *aliases))))
    scores, fps, fns = [], {}, {}
    for type_ in ENTITY_TYPES:
        golds = gold.entities.get(type_, ())
        optional = gold.optional.get(type_, ())
        tp = counted = 0
        matched: set[int] = set()
        fp: list[str] = []
        for name, forms in predicted[type_]:
            hits = [i for i, g in enumerate(golds) if g & forms]
            if hits:
                tp += 1
                counted += 1
                matched.update(hits)
            elif any(g & forms for g in optional):
                continue
            else:
                counted += 1
                fp.append(name)
        fns[type_] = tuple(sorted(min(g) for i, g in enumerate(golds) if i not in matched))
        fps[type_] = tuple(sorted(fp))
        scores.append(TypeScore(type_, tp, counted, len(golds), len(matched)))
    return Report(tuple(scores), fps, fns)


def _sum(reports: list[Report]) -> Report:
    scores = []
    for type_ in ENTITY_TYPES:
        parts = [r.score(type_) for r in reports]
        scores.append(TypeScore(type_, sum(p.true_positives for p in parts), sum(p.predicted for p in parts),
                                sum(p.gold for p in parts), sum(p.found for p in parts)))
    fps = {t: tuple(sorted({x for r in reports for x in r.false_positives.get(t, ())})) for t in ENTITY_TYPES}
    fns = {t: tuple(sorted({x for r in reports for x in r.false_negatives.get(t, ())})) for t in ENTITY_TYPES}
    return Report(tuple(scores), fps, fns)


def evaluate_notes(found: Mapping[str, Iterable[tuple[str, str, Iterable[str]]]], gold: Gold,
                   notes: Iterable[str] | None = None) -> Report:
    """Score each gold note (or each of ``notes``) against the entities found in it, ``found[note]``,
    and sum the counts: distinct entity strings per note.  A gold note with nothing found counts
    all its entities as missed."""
    reports = []
    for note in sorted(gold.by_note if notes is None else notes):
        g = gold.by_note[note]
        single = Gold((note,), g.entities, g.optional)
        reports.append(evaluate(found.get(note, ()), single))
    return _sum(reports)


def evaluate_halves(found: Mapping[str, Iterable[tuple[str, str, Iterable[str]]]], gold: Gold
                    ) -> dict[tuple[str, str], Report]:
    """:func:`evaluate_notes` for each ``(split, lang)`` of the gold (version 1 notes: ``("all", "all")``)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for note, g in gold.by_note.items():
        groups.setdefault((g.split or "all", g.lang or "all"), []).append(note)
    return {key: evaluate_notes(found, gold, notes) for key, notes in sorted(groups.items())}
