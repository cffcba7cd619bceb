"""The link pass's records: what it reads (:class:`LinkInput` and its parts), what it makes
(:class:`LinkResult`: coverage, relatedness pairs, entity statistics), a path's :class:`Hop`, and the pass's
tunable parameters (:data:`DEFAULTS`)."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from collections.abc import Container, Iterable
from typing import Any, NamedTuple

# ---------------------------------------------------------------- what the pass reads


# The input records are named tuples: a note's part (kg.links.part_from_note) is made of them, and the pass
# reads those very objects (a reference list of 10⁵ links would otherwise hold each row twice, as the
# part's tuple and as a record).  Hashable by value, read-only.
class EntityInfo(NamedTuple):
    iri: str
    key: str
    type: str  # one of kg.model.ENTITY_TYPES
    name: str
    aliases: tuple[str, ...] = ()


class MentionInfo(NamedTuple):
    iri: str
    entity: str  # entity IRI
    note: str  # note path
    start: int
    end: int
    text: str
    sentence: str = ""
    section: str | None = None  # section IRI
    snippet: str | None = None  # snippet IRI
    source: str | None = None  # source IRI when the mention stands in a source's title


class SourceInfo(NamedTuple):
    iri: str
    note: str  # note path
    url: str
    title: str | None = None
    section: str | None = None
    snippet: str | None = None
    context_start: int | None = None  # the span of the prose the source belongs to (kg:contextStart, kg:contextEnd)
    context_end: int | None = None


class SectionInfo(NamedTuple):
    iri: str
    note: str
    heading: str
    heading_path: str  # headings from the top, joined by " / "
    level: int = 1
    parent: str | None = None


class SnippetInfo(NamedTuple):
    iri: str
    note: str
    section: str | None = None


@dataclass(frozen=True)
class LinkInput:
    """What the link pass reads from the store: plain, sorted, hashable data."""

    entities: tuple[EntityInfo, ...] = ()
    mentions: tuple[MentionInfo, ...] = ()
    sources: tuple[SourceInfo, ...] = ()
    sections: tuple[SectionInfo, ...] = ()
    snippets: tuple[SnippetInfo, ...] = ()
    notes: tuple[tuple[str, str], ...] = ()  # (note IRI, path)


# ---------------------------------------------------------------- what the pass makes


class _Record:
    """Pickled as the class and its field values: a cache of thousands of notes holds ~10⁵ records, and the
    dataclass default (``__getstate__`` calling ``fields()`` per object) takes seconds to write and read.

    Read-only by convention and hashable by value, not frozen: reading the cache builds every record again,
    and a frozen dataclass's ``__init__`` (``object.__setattr__`` per field) took half of that time."""

    __slots__ = ()

    def __reduce__(self):
        return type(self), _ATTRS[type(self)](self)


@dataclass(slots=True, unsafe_hash=True)
class Coverage(_Record):
    source: str
    entity: str
    score: float
    direct: bool
    method: str
    # the justification, or the pieces it is joined from: a title's coverage keeps the title's own string (a
    # reference list of 10⁵ links then holds no second copy of each title while the pass runs)
    why: str | tuple[str, ...]
    evidence: tuple[str, ...] = ()  # mention IRIs
    via: tuple[str, ...] = ()  # entity IRIs
    matched: tuple[str, ...] = ()  # the forms or features that matched

    @property
    def justification(self) -> str:
        """Why the source covers the entity, in words.

        >>> Coverage("s", "e", 1.5, True, "m", ("the title ", '"X"', " names X")).justification
        'the title "X" names X'
        """
        why = self.why
        return why if isinstance(why, str) else "".join(why)


@dataclass(slots=True, unsafe_hash=True)
class Related(_Record):
    from_entity: str
    to_entity: str
    weight: float
    rank: int
    method: str
    evidence: tuple[str, ...] = ()  # mention IRIs from the best shared context


@dataclass(slots=True, unsafe_hash=True)
class RelatedPair(_Record):
    """One relatedness record per unordered pair (and method): the ends in IRI order, the weight and evidence
    once, and each end's rank of the other where it keeps the other in its top-k (else None)."""

    from_entity: str
    to_entity: str
    weight: float
    method: str
    evidence: tuple[str, ...] = ()
    rank_from: int | None = None  # to_entity's rank among from_entity's related
    rank_to: int | None = None  # from_entity's rank among to_entity's related


def related_pairs(related: Iterable[Related], fresh: Container[str] = ()) -> tuple[RelatedPair, ...]:
    """The pair records of directed ``related`` records, sorted.  Both directions of a pair carry the same
    weight and evidence in a full pass; where they differ (an incremental pass redoes some rows only), the
    direction whose entity is in ``fresh`` gives them, else the one from the first end.

    >>> r = [Related("b", "a", 0.5, 1, "m", ("x",)), Related("a", "b", 0.5, 3, "m", ("x",)), Related("a", "c", 0.2, 1, "m")]
    >>> [(p.from_entity, p.to_entity, p.rank_from, p.rank_to) for p in related_pairs(r)]
    [('a', 'b', 3, 1), ('a', 'c', 1, None)]
    """
    pairs: dict[tuple[str, str, str], RelatedPair] = {}
    given: dict[tuple[str, str, str], tuple[bool, bool]] = {}  # what gave a pair its weight: (fresh, first end)
    for r in related:
        a, b = (r.from_entity, r.to_entity) if r.from_entity <= r.to_entity else (r.to_entity, r.from_entity)
        key, mine = (a, b, r.method), (r.from_entity in fresh, r.from_entity == a)
        p = pairs.get(key)
        if p is None:
            p = pairs[key] = RelatedPair(a, b, r.weight, r.method, r.evidence)
            given[key] = mine
        elif mine > given[key]:
            p.weight, p.evidence, given[key] = r.weight, r.evidence, mine
        if r.from_entity == a:
            p.rank_from = r.rank
        else:
            p.rank_to = r.rank
    return tuple(pairs[k] for k in sorted(pairs))


@dataclass(slots=True, unsafe_hash=True)
class EntityStats(_Record):
    entity: str
    pagerank: float
    community: int
    degree: int


_ATTRS = {cls: operator.attrgetter(*cls.__dataclass_fields__) for cls in (Coverage, Related, RelatedPair, EntityStats)}


@dataclass(frozen=True)
class LinkResult:
    coverages: tuple[Coverage, ...] = ()
    related: tuple[RelatedPair, ...] = ()  # one record per pair (the directed lists are the pass's state)
    stats: tuple[EntityStats, ...] = ()
    params: tuple[tuple[str, Any], ...] = ()

    def counts(self) -> dict[str, int]:
        """How many links of each kind.

        >>> LinkResult().counts()
        {'coverage_direct': 0, 'coverage_inferred': 0, 'related': 0, 'entities': 0, 'communities': 0}
        """
        direct = sum(1 for c in self.coverages if c.direct)
        return {
            "coverage_direct": direct,
            "coverage_inferred": len(self.coverages) - direct,
            "related": len(self.related),
            "entities": len(self.stats),
            "communities": len({s.community for s in self.stats}),
        }


@dataclass(frozen=True, slots=True)
class Hop:
    """One step of a path: two entities named in the same snippet, section or source title."""

    from_iri: str
    to_iri: str
    from_name: str
    to_name: str
    kind: str  # "snippet", "section" or "source"
    via: str  # IRI of the shared snippet, section or source
    evidence: str  # the sentences (or title) that name both
    note: str  # note path
    from_mention: str  # mention IRI
    mention: str  # mention IRI of the entity reached
    source: str | None = None  # source IRI when kind == "source"


#: tunable parameters of :func:`compute_links`
DEFAULTS: dict[str, Any] = {
    "top_k": 10,  # related entities kept per entity (the API computes more from the projection when asked)
    "hub_degree": 80,  # contexts naming more entities than this are hubs
    "df_cap": 60,  # features in more source titles than this only score sources of the same note
    "min_inferred": 0.25,  # inferred coverage below this is dropped
    "max_inferred": 5,  # inferred coverages kept per entity
    "seed": 7,  # Louvain's seed
}

#: decimals link weights and scores are rounded to (PageRank: three more)
ROUND = 6
#: from this many entities on, a full pass computes on both cores (forked children; below, forking costs more)
PARALLEL_ENTITIES = 1000
