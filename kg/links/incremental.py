"""The incremental link pass (:func:`compute_incremental`): the last full pass's state patched for the notes
a build changed and removed.

* relatedness and degree are recomputed for the entities mentioned in the changed notes (before or after
  the change), and for the neighbours of those whose context count the change moved: exactly what a full
  pass gives, except that an entity named in ``FROZEN_FROM`` contexts or more (a hub) keeps the count of
  the last full pass (its damping moves by under 1 % a context);
* PageRank is recomputed on the whole (small) entity graph: exact;
* communities are kept (Louvain is not run): an entity keeps its community, a new one joins its strongest
  related neighbour's: close to, not equal to, a full pass;
* coverage: IDF stays as the last full pass computed it (new titles are weighed with it); direct coverage is
  recomputed for the changed notes' sources and for every title naming an entity they mention; inferred
  coverage is recomputed for the entities they mention; other entities keep theirs, less the sources that
  went or changed (a new title is inferred to cover them at the next full pass).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from kg.links.compute import entity_table
from kg.links.coverage import coverage_incremental
from kg.links.records import PARALLEL_ENTITIES, LinkInput, LinkResult, related_pairs
from kg.links.relatedness import centrality, relatedness
from kg.parallel import forked

#: an entity named in at least this many contexts keeps, in an incremental pass, the context count of the last
#: full pass (its hub damping moves by under 1 % a context): its neighbours' rows are not all computed again
FROZEN_FROM = 50


def _context_counts(part: Mapping[str, list]) -> Counter:
    """How many contexts (snippets, source titles) each entity is named in, in one note's part."""
    seen: dict[str, set[str]] = defaultdict(set)
    for t in part.get("mentions", ()):
        for ctx in (t[8], t[9]):  # snippet, source
            if ctx:
                seen[t[1]].add(ctx)
    return Counter({e: len(c) for e, c in seen.items()})


def _neighbours(data: LinkInput, ents: set[str], hub: int) -> set[str]:
    """The entities that share a snippet or source title (not a hub) with one of ``ents``."""
    if not ents:
        return set()
    wanted = {ctx for m in data.mentions if m.entity in ents for ctx in (m.snippet, m.source) if ctx}
    members: dict[str, set[str]] = defaultdict(set)
    for m in data.mentions:
        for ctx in (m.snippet, m.source):
            if ctx and ctx in wanted:
                members[ctx].add(m.entity)
    return {e for mem in members.values() if len(mem) <= hub for e in mem} - ents


def compute_incremental(data: LinkInput, cache: Mapping[str, Any], fresh: Mapping[str, Any], touched: set[str],
                        p: Mapping[str, Any], stale_sources: set[str] | None = None,
                        old_parts: Sequence[Mapping[str, list]] = ()):
    """The pass from the last one's ``cache`` (its state and result) for the link input ``data``, which holds
    the changed notes' ``fresh`` parts (the last pass had their ``old_parts``); ``touched`` are the entities
    those mention, ``stale_sources`` the sources they had.  Returns the result, the state for the next pass,
    and (the last pass's records this one dropped or may have changed, the records it made): every other
    record is the last pass's, as it was."""
    old = cache["state"]
    entities = entity_table(data)
    touched = touched & set(entities)
    sections = {s.iri: s for s in data.sections}
    # hub damping: the context counts move by what the changed notes add and remove; where an entity's count
    # moved, its neighbours' rows are computed again too (a hub's count stays as the last full pass had it)
    delta: Counter = Counter()
    for part in old_parts:
        delta.subtract(_context_counts(part))
    for part in fresh.values():
        delta.update(_context_counts(part))
    freq = dict(old["freq"])
    moved = set()
    for e, d in delta.items():
        if d == 0 or freq.get(e, 0) >= FROZEN_FROM:
            continue
        n = freq.get(e, 0) + d
        if n > 0:
            freq[e] = n
        else:
            freq.pop(e, None)
        moved.add(e)
    redo_rows = touched | (_neighbours(data, moved & set(entities), p["hub_degree"]) & set(entities))
    rel_new, deg_new, freq = relatedness(data, entities, p, only=redo_rows, freq=freq)
    related = {a: rs for a, rs in old["related"].items() if a not in redo_rows and a in entities}
    related.update(rel_new)
    degree = {e: d for e, d in old["degree"].items() if e in entities and e not in redo_rows}
    degree.update(deg_new)
    # centrality (PageRank of the whole graph) in a child, beside coverage
    if len(entities) >= PARALLEL_ENTITIES:
        stats_later = forked(centrality, entities, related, degree, p, old["community"])
    else:
        stats_later = (lambda s=centrality(entities, related, degree, p, old["community"]): s)
    fresh_sources = {t[0] for part in fresh.values() for t in part.get("sources", ())}
    # what this pass may have changed, as (the last pass's records, this pass's): the rest is carried over
    redone = (redo_rows | rel_new.keys() | (old["related"].keys() - entities.keys())) & old["related"].keys()
    pairs = related_pairs((r for k in sorted(related) for r in related[k]), fresh=rel_new.keys())
    ends = redone | rel_new.keys()  # a pair with an end here may have changed (a rank, or its weight)
    dropped: list = [r for r in cache["result"].related if r.from_entity in ends or r.to_entity in ends]
    made_now: list = [r for r in pairs if r.from_entity in ends or r.to_entity in ends]
    coverages, cov_state = coverage_incremental(data, entities, sections, related, p, old["coverage"],
                                                fresh_sources, touched, stale_sources, dropped, made_now)
    stats = stats_later()
    last = {s.entity: s for s in cache["result"].stats}
    kept_stats = []
    for s in stats:  # PageRank moves everywhere a little: a value that rounds the same keeps its record
        o = last.pop(s.entity, None)
        if o is not None and o.pagerank == s.pagerank and o.community == s.community and o.degree == s.degree:
            kept_stats.append(o)
        else:
            kept_stats.append(s)
            made_now.append(s)
            if o is not None:
                dropped.append(o)
    dropped.extend(last.values())
    result = LinkResult(coverages=coverages, related=pairs,
                        stats=tuple(kept_stats), params=tuple(sorted(p.items())))
    return result, {"coverage": cov_state, "related": related, "degree": degree, "freq": freq,
                    "community": {s.entity: s.community for s in stats}}, (dropped, made_now)
