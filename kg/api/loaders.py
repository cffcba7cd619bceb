"""The DataLoaders of a request: everything per entity or per coverage (mentions, coverages, relatedness,
evidence) is read in batches, one SPARQL query per batch of keys, whatever the number of parents (no N+1).

The keys of a batch are IRIs the store itself minted (taken from the catalogue or earlier results) and
are written with pyoxigraph's own serialiser in a VALUES block (:func:`kg.api.records.values`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from strawberry.dataloader import DataLoader

from kg.api.backend import Snapshot
from kg.api.lanes import Deadline
from kg.api.limits import MAX_FIRST
from kg.api.records import CoverageRec, MentionRec, RelatedRec, as_int, how_of, values
from kg.vocab import method_name, sentence_of

__all__ = ["MENTIONS_PER_ENTITY", "Loaders", "Context", "mention_rec"]

MENTIONS_PER_ENTITY = MAX_FIRST  # a DataLoader batch never reads more than this per key


_Q_COVERAGE = """
SELECT ?e ?cov ?src ?score ?direct ?just ?method ?url ?title ?note ?section WHERE {{
  {values}
  ?cov kg:entity ?e ; kg:source ?src .
  OPTIONAL {{ ?cov kg:score ?score }} OPTIONAL {{ ?cov kg:direct ?direct }}
  OPTIONAL {{ ?cov kg:justification ?just }} OPTIONAL {{ ?cov kg:method ?method }}
  ?src kg:url ?url ; kg:note ?note .
  OPTIONAL {{ ?src kg:title ?title }}
  OPTIONAL {{ ?src kg:section ?sec . ?sec kg:headingPath ?section }}
}}"""

_Q_RELATED = """
SELECT ?e ?r ?to ?w ?method ?rank WHERE {{
  {values}
  {{ ?r kg:fromEntity ?e ; kg:toEntity ?to ; kg:rankFrom ?rank }} UNION {{ ?r kg:toEntity ?e ; kg:fromEntity ?to ; kg:rankTo ?rank }}
  OPTIONAL {{ ?r kg:weight ?w }} OPTIONAL {{ ?r kg:method ?method }}
}}"""

_Q_MENTIONS = """
SELECT ?e ?m ?text ?note ?start ?end ?section ?sentence ?method ?conf ?occ WHERE {{
  {values}
  ?m kg:mentionOf ?e ; oa:exact ?text ; kg:note ?note ; oa:start ?start ; oa:end ?end .
  OPTIONAL {{ ?m kg:section ?sec . ?sec kg:headingPath ?section }}
  OPTIONAL {{ ?m kg:sentence ?sentence }} OPTIONAL {{ ?m kg:method ?method }} OPTIONAL {{ ?m kg:confidence ?conf }}
  OPTIONAL {{ ?m kg:occurrences ?occ }}
}}"""

#: a mention's fields, for a mention of any entity (?e may be unbound)
_MENTION_OF_ANY = """  ?m oa:exact ?text ; kg:note ?note ; oa:start ?start ; oa:end ?end .
  OPTIONAL {{ ?m kg:mentionOf ?e }}
  OPTIONAL {{ ?m kg:section ?sec . ?sec kg:headingPath ?section }}
  OPTIONAL {{ ?m kg:sentence ?sentence }} OPTIONAL {{ ?m kg:method ?method }} OPTIONAL {{ ?m kg:confidence ?conf }}
  OPTIONAL {{ ?m kg:occurrences ?occ }}
"""

_Q_EVIDENCE = """
SELECT ?x ?m ?e ?text ?note ?start ?end ?section ?sentence ?method ?conf ?occ WHERE {{
  {values}
  ?x kg:evidence ?m .
""" + _MENTION_OF_ANY + """}}"""

_Q_VIA = "SELECT ?x ?v WHERE {{ {values} ?x kg:via ?v }}"
# a mention's kg:sentence is a span of its note's text (kg.vocab.sentence_of): the texts of the notes at hand
_Q_TEXTS = "SELECT ?n ?content WHERE {{ {values} ?n kg:content ?content }}"

_Q_MENTION = """
SELECT ?m ?e ?text ?note ?start ?end ?section ?sentence ?method ?conf ?occ WHERE {{
  {values}
""" + _MENTION_OF_ANY + """}}"""


def mention_rec(r: dict[str, Any], entity_key: str = "e") -> MentionRec:
    return MentionRec(r["m"], r.get(entity_key), r["text"], r["note"], int(r["start"]), int(r["end"]),
                      r["section"], r["sentence"], r["method"], 1.0 if r["conf"] is None else float(r["conf"]),
                      1 if r.get("occ") is None else int(r["occ"]))


def _chunks(keys: Sequence[str], n: int = 200) -> Iterator[Sequence[str]]:
    for i in range(0, len(keys), n):
        yield keys[i:i + n]


class Loaders:
    """The DataLoaders of one request (they cache for the request only)."""

    def __init__(self, snap: Snapshot, deadline: Deadline | None = None):
        self.snap = snap
        self.deadline = deadline or Deadline(None)
        self.coverage = DataLoader(self._coverage)
        self.related = DataLoader(self._related)
        self.mentions = DataLoader(self._mentions)
        self.evidence = DataLoader(self._evidence)
        self.via = DataLoader(self._via)
        self.mention = DataLoader(self.mention_rec)
        self._texts: dict[str, str] = {}  # note IRI -> its text, read for the sentences of its mentions

    def _sentences(self, rows: list[dict[str, Any]]) -> None:
        """Mention rows' ``sentence`` (a span of the note's text, as an IRI) as the sentence's text."""
        texts = self._texts
        wanted = [n for n in dict.fromkeys(r["note"] for r in rows if r.get("sentence")) if n not in texts]
        for chunk in _chunks(wanted):
            for r in self.snap.select(_Q_TEXTS.format(values=values("n", chunk))):
                texts[r["n"]] = r["content"]
        for r in rows:
            r["sentence"] = sentence_of(texts.get(r["note"]), r.get("sentence"))

    async def _batch(self, query: str, key_var: str, keys: list[str], build) -> list[list[Any]]:
        def run() -> dict[str, list[Any]]:
            self.deadline.check()
            out: dict[str, list[Any]] = defaultdict(list)
            for chunk in _chunks(list(dict.fromkeys(keys))):
                rows = self.snap.select(query.format(values=values(key_var, chunk)))
                if rows and "sentence" in rows[0]:
                    self._sentences(rows)
                for r in rows:
                    if "method" in r:
                        r["method"] = method_name(r["method"])
                    out[r[key_var]].append(build(r))
            return out

        found = await self.snap.call(run)
        return [found.get(k, []) for k in keys]

    async def _coverage(self, keys: list[tuple[tuple[str, ...], int]]) -> list[list[CoverageRec]]:
        """Coverage of each (entities, n): the n best sources any of them covers (the best coverage of each
        source), taken from the catalogue's ranking index; only those n are read in detail."""
        def run() -> list[list[CoverageRec]]:
            self.deadline.check()
            index = self.snap.catalogue.coverage_index(self.snap.store)
            ranks = self.snap.catalogue.coverage_ranks
            chosen: list[list[str]] = []
            for iris, n in keys:
                cands = sorted({c for e in iris for c in index.get(e, ())[:n]}, key=lambda c: (ranks[c], c))
                best, seen = [], set()
                for c in cands:
                    if ranks[c][3] not in seen:
                        seen.add(ranks[c][3])
                        best.append(c)
                        if len(best) >= n:
                            break
                chosen.append(best)
            detail: dict[str, CoverageRec] = {}
            for chunk in _chunks(list(dict.fromkeys(c for lst in chosen for c in lst))):
                for r in self.snap.select(_Q_COVERAGE.format(values=values("cov", chunk))):
                    r["method"] = method_name(r["method"])
                    direct = bool(r["direct"]) if r["direct"] is not None else False
                    detail[r["cov"]] = CoverageRec(
                        r["cov"], r["e"], r["src"], float(r["score"] if r["score"] is not None else 1.0),
                        direct, r["just"], r["method"], r["url"], r["title"], r["note"], r["section"],
                        how_of(r["method"], direct))
            return [[detail[c] for c in lst if c in detail] for lst in chosen]

        return await self.snap.call(run)

    async def _related(self, keys: list[str]) -> list[list[RelatedRec]]:
        rows = await self._batch(_Q_RELATED, "e", keys, lambda r: RelatedRec(
            r["r"], r["e"], r["to"], float(r["w"]) if r["w"] is not None else 0.0, r["method"], as_int(r["rank"])))
        for lst in rows:
            lst.sort(key=lambda x: (x.rank if x.rank is not None else 1 << 30, -x.weight, x.to))
        return rows

    async def _mentions(self, keys: list[str]) -> list[list[MentionRec]]:
        rows = await self._batch(_Q_MENTIONS, "e", keys, mention_rec)
        cat = self.snap.catalogue
        for lst in rows:
            lst.sort(key=lambda m: (cat.notes[m.note].path if m.note in cat.notes else m.note, m.start))
            del lst[MENTIONS_PER_ENTITY:]
        return rows

    async def _evidence(self, keys: list[str]) -> list[list[MentionRec]]:
        rows = await self._batch(_Q_EVIDENCE, "x", keys, mention_rec)
        for lst in rows:
            lst.sort(key=lambda m: (m.note, m.start))
        return rows

    async def mention_rec(self, keys: list[str]) -> list[list[MentionRec]]:
        return await self._batch(_Q_MENTION, "m", keys, mention_rec)

    async def _via(self, keys: list[str]) -> list[list[str]]:
        rows = await self._batch(_Q_VIA, "x", keys, lambda r: r["v"])
        return [sorted(set(lst)) for lst in rows]


class Context:
    """``info.context``: the request's snapshot and loaders (and, over HTTP, the request)."""

    def __init__(self, snap: Snapshot, request: Any = None, response: Any = None):
        self.snap = snap
        self.catalogue = snap.catalogue
        self.deadline = Deadline(None)
        self.loaders = Loaders(snap, self.deadline)
        self.request = request
        self.response = response

    def start(self, deadline: Deadline) -> None:
        """Begin the request in the thread that runs it: its time limit, and loaders bound to that thread's loop."""
        self.deadline = deadline
        self.loaders = Loaders(self.snap, deadline)
