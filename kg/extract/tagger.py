"""Component ``kg_tagger``: the trained sequence model that finds and types the entities.

A linear-chain CRF (CRFsuite, through python-crfsuite) labels each unit of a sentence
(``kg.extract.features``) with BIO tags over the entity types; its input includes the rule
components' candidates, so it runs after them.  Its spans become ``tagger`` candidates, with the
model's probability of the span's first label (in percent, at most 89) as priority and confidence; ``kg_resolve`` keeps them beside the
structural rules.

The model ships in the package (``kg/extract/model/``, read by :mod:`kg.extract.tagger_model`) and is
retrained from the gold by ``kg train`` (:mod:`kg.extract.training`).
"""

from __future__ import annotations

from pathlib import Path

from spacy.language import Language

from kg.extract.document import CANDIDATES, add_candidate, doc_text, doc_tokens
from kg.extract.features import UnitFeatures, sequences_of, units_of
from kg.extract.tagger_model import TaggerModel
from kg.vocab import storable_text

__all__ = ["decode", "kg_tagger_factory"]

#: the highest priority of a tagger candidate (its confidence in percent, capped): the structural rules
#: stand at 90 and more and win an overlap
_PRIORITY_CAP = 89


def decode(units: list[tuple[int, int]], labels: list[str]) -> list[tuple[int, int, str, int]]:
    """Spans ``(start, end, type, index of the first unit)`` from BIO labels; an ``I-`` label that
    does not continue a span of its type starts one.

    >>> decode([(0, 1), (1, 2), (3, 5)], ["B-Person", "I-Person", "B-Place"])
    [(0, 2, 'Person', 0), (3, 5, 'Place', 2)]
    """
    out: list[tuple[int, int, str, int]] = []
    cur: list | None = None
    for k, ((s, e), label) in enumerate(zip(units, labels)):
        if label == "O":
            if cur:
                out.append(tuple(cur))  # type: ignore[arg-type]
                cur = None
            continue
        kind, type_ = label[0], label[2:]
        if kind == "I" and cur is not None and cur[2] == type_:
            cur[1] = e
            continue
        if cur:
            out.append(tuple(cur))  # type: ignore[arg-type]
        cur = [s, e, type_, k]
    if cur:
        out.append(tuple(cur))  # type: ignore[arg-type]
    return out


class _TaggerComponent:
    def __init__(self, model: TaggerModel):
        self.model = model
        self._tagger = model.open()

    def __call__(self, doc):
        text = doc_text(doc)
        units = units_of(text)
        if not units:
            return doc
        # crfsuite takes UTF-8: a lone surrogate is read as the store keeps it ("?", one character for
        # one, so that offsets stay)
        tokens = doc_tokens(doc)
        if storable_text(text) is not text:
            text = storable_text(text)
            tokens = [(s, e, storable_text(w)) for s, e, w in tokens]
        feats = UnitFeatures(text, units, doc.user_data.get(CANDIDATES, []), tokens)
        tagger = self._tagger
        for seq in sequences_of(text, units):
            labels = tagger.tag(feats.features(seq))
            if all(label == "O" for label in labels):
                continue
            for s, e, type_, k in decode([units[i] for i in seq], labels):
                s, e = _trimmed(text, s, e)
                if e <= s or _looks_like_an_identifier(text[s:e]):
                    continue
                prio = min(_PRIORITY_CAP, max(1, round(100 * tagger.marginal(labels[k], k))))
                add_candidate(doc, s, e, type_, "tagger", prio)
        return doc


#: characters a name does not start or end with (the model sometimes takes the full stop along)
_EDGE_PUNCTUATION = ".,;:!?，。；：！？、)]}）】》\"'“”‘’([{（【《"


def _trimmed(text: str, s: int, e: int) -> tuple[int, int]:
    """A span without punctuation or space at its edges (Athena. → Athena); a closing bracket stays
    when the span opens one (GPT (3))."""
    while s < e and (text[s] in _EDGE_PUNCTUATION or text[s].isspace()):
        s += 1
    while e > s and (text[e - 1] in _EDGE_PUNCTUATION or text[e - 1].isspace()):
        if text[e - 1] in ")）" and ("(" in text[s:e] or "（" in text[s:e]):
            break
        e -= 1
    return s, e


def _looks_like_an_identifier(name: str) -> bool:
    """A key, hash or token written as one long word of letters and digits in mixed case, not a name.

    >>> _looks_like_an_identifier("dIkV0WO8DvtYmwQdBzddfILchiSyamFLenD8IOmrN"), _looks_like_an_identifier("GPT-3")
    (True, False)
    """
    return (len(name) >= 20 and name.isascii() and name.isalnum() and any(c.isdigit() for c in name)
            and any(c.isupper() for c in name) and any(c.islower() for c in name))


@Language.factory("kg_tagger", default_config={"model_dir": None})
def kg_tagger_factory(nlp, name: str, model_dir: str | None):
    """The tagger with the model in ``model_dir`` (default: the one that ships with kg)."""
    return _TaggerComponent(TaggerModel.load(Path(model_dir) if model_dir else None))
