"""The full link pass on plain data: relatedness, centrality and communities, coverage
(:func:`compute_links`; :func:`compute_full` for a build, which also keeps the state an incremental pass
starts from)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kg.links.coverage import coverage_full
from kg.links.records import DEFAULTS, PARALLEL_ENTITIES, EntityInfo, LinkInput, LinkResult, related_pairs
from kg.links.relatedness import centrality, relatedness
from kg.parallel import forked


def compute_links(data: LinkInput, **params: Any) -> LinkResult:
    """Relatedness, coverage, centrality and communities from the link input (deterministic).

    Parameters (see :data:`DEFAULTS`): ``top_k``, ``hub_degree``, ``df_cap``,
    ``min_inferred``, ``max_inferred``, ``seed``.

    >>> from kg.links import MentionInfo, SourceInfo, coverage_of
    >>> e = [EntityInfo("e:ple", "Paper/PLE", "Paper", "PLE", ("Progressive Layered Extraction",)),
    ...      EntityInfo("e:mmoe", "Paper/MMoE", "Paper", "MMoE")]
    >>> m = [MentionInfo("m:1", "e:ple", "a.md", 10, 13, "PLE", "PLE and MMoE are multi-task models.", snippet="s:1"),
    ...      MentionInfo("m:2", "e:mmoe", "a.md", 18, 22, "MMoE", "PLE and MMoE are multi-task models.",
    ...                  snippet="s:1")]
    >>> s = [SourceInfo("src:1", "a.md", "https://x.org/1", "PLE explained"),
    ...      SourceInfo("src:2", "a.md", "https://x.org/2", "多任务模型"),
    ...      SourceInfo("src:3", "a.md", "https://x.org/3", "A SIMPLE recipe")]
    >>> r = compute_links(LinkInput(tuple(e), tuple(m), tuple(s)))
    >>> [(c.source, c.direct) for c in coverage_of(r, "e:ple")]
    [('src:1', True), ('src:2', False)]
    >>> [(x.from_entity, x.to_entity, x.rank_from, x.rank_to) for x in r.related]
    [('e:mmoe', 'e:ple', 1, 1)]
    """
    p = {**DEFAULTS, **params}
    unknown = set(params) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown link parameters: {', '.join(sorted(unknown))}")
    result, _ = compute_full(data, p)
    return result


def entity_table(data: LinkInput) -> dict[str, EntityInfo]:
    """The entities of the input by IRI, with a stand-in for one that is mentioned but not described."""
    entities = {e.iri: e for e in data.entities}
    for m in data.mentions:
        if m.entity not in entities:
            entities[m.entity] = EntityInfo(m.entity, m.entity, "Entity", m.text)
    return entities


def compute_full(data: LinkInput, p: Mapping[str, Any], emit_related: Callable[[tuple], None] | None = None):
    """The whole link pass: its result, and the state an incremental pass starts from.  ``emit_related(records)``
    is given the related links (one record per pair) as soon as they are made (the pass's writer writes them while coverage is
    computed).  With many entities, centrality is computed in a forked child meanwhile."""
    entities = entity_table(data)
    sections = {s.iri: s for s in data.sections}
    related, degree, freq = relatedness(data, entities, p)
    related_records = related_pairs(r for k in sorted(related) for r in related[k])
    if len(entities) >= PARALLEL_ENTITIES:
        stats_later = forked(centrality, entities, related, degree, p)
    else:
        stats_later = (lambda s=centrality(entities, related, degree, p): s)
    if emit_related is not None:
        emit_related(related_records)
    coverages, cov_state = coverage_full(data, entities, sections, related, p)
    stats = stats_later()
    result = LinkResult(coverages=coverages, related=related_records, stats=stats, params=tuple(sorted(p.items())))
    return result, {"coverage": cov_state, "related": related, "degree": degree, "freq": freq,
                    "community": {s.entity: s.community for s in stats}}
