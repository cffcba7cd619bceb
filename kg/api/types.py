"""The GraphQL types (strawberry): notes, sources, mentions, evidence, coverage, relatedness, one object type
per entity type (kg.model.ENTITY_KINDS), pages and counts; and the resolvers their fields share."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Any, Optional

import strawberry
from strawberry.types import Info

from kg.api.backend import Snapshot
from kg.api.limits import MAX_FIRST, check_first
from kg.api.loaders import Context
from kg.api.records import CoverageRec, EntityRec, MentionRec, RelatedRec, how_of
from kg.errors import QueryError
from kg.model import ENTITY_KINDS
from kg.vocab import relatedness_iri

__all__ = ["EntityType", "Note", "Source", "Mention", "Evidence", "Coverage", "Relatedness", "Entity",
           "ENTITY_CLASSES", "Event", "EntityEdge", "PageInfo", "EntityConnection", "PathStep", "TypeCount", "Stats",
           "make_note", "make_mention", "make_evidence", "make_coverage", "make_related", "make_entity", "entity_of",
           "entity_coverage", "entity_related"]


EntityType = strawberry.enum(Enum("EntityType", [(k.enum, k.name) for k in ENTITY_KINDS]),
                             description="The kinds of entity kg extracts.")


@strawberry.type(description="One Markdown file.")
class Note:
    iri: strawberry.ID
    path: str = strawberry.field(description="Path relative to the folder the notes were read from.")
    title: Optional[str]
    category: Optional[str]
    date: Optional[str] = strawberry.field(description="ISO date (YYYY-MM-DD).")


def make_note(ctx: Context, iri: str) -> Note:
    rec = ctx.catalogue.notes.get(iri)
    if rec is None:
        return Note(iri=strawberry.ID(iri), path="", title=None, category=None, date=None)
    return Note(iri=strawberry.ID(rec.iri), path=rec.path, title=rec.title, category=rec.category, date=rec.date)


@strawberry.type(description="A reference in a note: a URL and the title the note gives it.")
class Source:
    iri: strawberry.ID
    url: str
    title: Optional[str]
    section: Optional[str] = strawberry.field(description="Headings (from the top, joined by ' / ') it stands under.")
    note_iri: strawberry.Private[str]

    @strawberry.field(description="The note the reference is written in.")
    def note(self, info: Info) -> Note:
        return make_note(info.context, self.note_iri)


@strawberry.type(description="A span of a note that names an entity.")
class Mention:
    iri: strawberry.ID
    text: str
    start: int = strawberry.field(description="Character offset (inclusive) in the note's text.")
    end: int = strawberry.field(description="Character offset (exclusive) in the note's text.")
    section: Optional[str] = strawberry.field(description="Headings it stands under, joined by ' / '.")
    sentence: Optional[str]
    method: Optional[str] = strawberry.field(description="The component that found it.")
    confidence: float
    occurrences: int = strawberry.field(description="How many occurrences of its entity it stands for: more than 1 "
                                                    "where a note names the entity very often in the same sentence.")
    note_iri: strawberry.Private[str]
    entity_iri: strawberry.Private[Optional[str]]

    @strawberry.field
    def note(self, info: Info) -> Note:
        return make_note(info.context, self.note_iri)

    @strawberry.field(description="The entity the span names.")
    def entity(self, info: Info) -> Optional["Entity"]:
        return make_entity(info.context, self.entity_iri) if self.entity_iri else None


def make_mention(m: MentionRec) -> Mention:
    return Mention(iri=strawberry.ID(m.iri), text=m.text, start=m.start, end=m.end, section=m.section,
                   sentence=m.sentence, method=m.method, confidence=m.confidence, occurrences=m.occurrences,
                   note_iri=m.note,
                   entity_iri=m.entity)


@strawberry.type(description="A span of a note that backs a link: the mention the link was derived from, or, for "
                               "a text match, the words in the source's title or context.")
class Evidence:
    text: str
    start: int
    end: int
    section: Optional[str]
    sentence: Optional[str]
    method: Optional[str]
    mention_rec: strawberry.Private[MentionRec]

    @strawberry.field
    def note(self, info: Info) -> Note:
        return make_note(info.context, self.mention_rec.note)

    @strawberry.field(description="The mention; null for a text match (words no extracted mention stands for).")
    def mention(self) -> Optional[Mention]:
        return make_mention(self.mention_rec) if self.mention_rec.iri else None


def make_evidence(m: MentionRec) -> Evidence:
    return Evidence(text=m.text, start=m.start, end=m.end, section=m.section, sentence=m.sentence,
                    method=m.method, mention_rec=m)


@strawberry.type(description="That a source covers an entity, or a term no entity stands for, and how that was "
                               "found.")
class Coverage:
    iri: strawberry.ID = strawberry.field(description="The coverage's IRI in the graph (a text match is no record "
                                                      "of the graph: its IRI is made from the source's).")
    score: float = strawberry.field(description="How strongly the source covers it: a title hit in [1.5, 2), the "
                                                "context before the link in [1, 1.5), inferred in [0.25, 1); a "
                                                "text match scores the bottom of its kind (1.5 in a title, 1 in a "
                                                "context) and ranks after the entity's own hits of that kind.")
    direct: bool = strawberry.field(description="True when the source's title or context names it; false when "
                                                "inferred.")
    how: str = strawberry.field(description="How it was found: 'title' (the source's title names the entity), "
                                            "'context' (the prose just before its link names it), 'inferred' "
                                            "(the title is about the same things), 'text match' (the words "
                                            "stand in the title or context; no extracted mention backs them).")
    match: str = strawberry.field(description="How the term asked for was read: 'name', 'alias X', 'listed in the "
                                              "name X', 'a word of the name X', or 'text' (no entity is named so).")
    justification: Optional[str]
    method: Optional[str]
    rec: strawberry.Private[CoverageRec]

    @strawberry.field
    def source(self) -> Source:
        r = self.rec
        return Source(iri=strawberry.ID(r.source), url=r.url, title=r.title, section=r.section, note_iri=r.note)

    @strawberry.field(description="The entity covered; null for a text match.")
    def entity(self, info: Info) -> Optional["Entity"]:
        return make_entity(info.context, self.rec.entity) if self.rec.entity else None

    @strawberry.field(description="The mentions the coverage rests on (for a text match: the words found).")
    async def evidence(self, info: Info) -> list[Evidence]:
        hit = self.rec.hit
        if hit is not None:
            if hit.start is None or hit.end is None:
                return []
            return [make_evidence(MentionRec("", None, hit.text, self.rec.note, hit.start, hit.end, self.rec.section,
                                             hit.sentence, "text match", 1.0))]
        return [make_evidence(m) for m in await info.context.loaders.evidence.load(self.rec.iri)]

    @strawberry.field(description="Shared neighbours that justify an inferred coverage.")
    async def via(self, info: Info) -> list["Entity"]:
        if self.rec.hit is not None:
            return []
        return [make_entity(info.context, v) for v in await info.context.loaders.via.load(self.rec.iri)
                if v in info.context.catalogue.entities]


def make_coverage(c: CoverageRec) -> Coverage:
    return Coverage(iri=strawberry.ID(c.iri), score=c.score, direct=c.direct, how=c.how or how_of(c.method, c.direct),
                    match=c.match or "name", justification=c.justification, method=c.method, rec=c)


@strawberry.type(description="How related one entity ('from', the one asked about) is to another ('to'), "
                             "with its weight and its rank among from's related entities; 'iri' names the "
                             "graph's record, which one pair of entities shares in both directions.")
class Relatedness:
    iri: strawberry.ID
    weight: float
    method: Optional[str]
    rank: Optional[int] = strawberry.field(description="1 for the most related entity of 'from'.")
    rec: strawberry.Private[RelatedRec]

    @strawberry.field(name="from")
    def from_(self, info: Info) -> "Entity":
        return make_entity(info.context, self.rec.from_)

    @strawberry.field
    def to(self, info: Info) -> "Entity":
        return make_entity(info.context, self.rec.to)

    @strawberry.field(description="The mentions the relatedness rests on: two that name both ends, in one "
                                  "sentence where there is one, else in one snippet or source title.")
    async def evidence(self, info: Info) -> list[Evidence]:
        if self.rec.evidence is not None:
            found = await info.context.loaders.mention.load_many(list(self.rec.evidence))
            return [make_evidence(m) for lst in found for m in lst]
        return [make_evidence(m) for m in await info.context.loaders.evidence.load(self.rec.iri)]


def make_related(r: RelatedRec) -> Relatedness:
    return Relatedness(iri=strawberry.ID(r.iri), weight=r.weight, method=r.method, rank=r.rank, rec=r)


async def entity_coverage(ctx: Context, iris: Sequence[str], first: int) -> list[CoverageRec]:
    """The best coverage per source of any of ``iris``, best first (at most ``first``)."""
    ranked = await ctx.loaders.coverage.load((tuple(sorted(iris)), first))
    # (copies: a request's loader cache hands the same records to every field that asks)
    return [CoverageRec(c.iri, c.entity, c.source, c.score, c.direct, c.justification, c.method, c.url, c.title,
                        c.note, c.section, c.how) for c in ranked[:first]]


async def entity_related(ctx: Context, iri: str, first: int, type_: Optional[EntityType]) -> list[Relatedness]:
    """The ``first`` entities most related to ``iri`` (of one type): the link pass's rows, and where it kept
    fewer than asked and the entity has more neighbours, the next ones as the link graph ranks them."""
    lst = await ctx.loaders.related.load(iri)
    cat = ctx.catalogue
    out = [r for r in lst if r.to in cat.entities and (type_ is None or cat.entities[r.to].type == type_.value)]
    rec = cat.entities.get(iri)
    if len(out) < first and rec is not None and (rec.degree or 0) > len(lst):
        more = await ctx.snap.call(_more_related, ctx.snap, iri,
                                   first + len(lst) if type_ is None else MAX_FIRST * 4)
        seen = {r.to for r in lst} | {iri}
        rank = max((r.rank or 0 for r in lst), default=0)
        for r in more:
            if len(out) >= first:
                break
            if r.to_entity in seen or r.to_entity not in cat.entities:
                continue
            if type_ is not None and cat.entities[r.to_entity].type != type_.value:
                continue
            rank = max(rank + 1, r.rank)  # (the link graph's rank among all its neighbours)
            seen.add(r.to_entity)
            out.append(RelatedRec(str(relatedness_iri(iri, r.to_entity, r.method)), iri, r.to_entity, r.weight,
                                  r.method, rank, r.evidence))
    return [make_related(r) for r in out[:first]]


def _more_related(snap: Snapshot, iri: str, n: int) -> list[Any]:
    kind, graph = snap.catalogue.link_graph(snap.store)
    if kind != "links":
        return []
    from kg import links

    return links.related_in(graph, iri, n)


@strawberry.interface(description="Something the notes talk about.")
class Entity:
    iri: strawberry.ID
    name: str
    type: EntityType
    aliases: list[str]
    pagerank: Optional[float] = strawberry.field(description="Centrality in the entity graph (link pass).")
    community: Optional[int] = strawberry.field(description="Community number (link pass).")
    degree: Optional[int]
    mention_count: int = strawberry.field(description="How many times the notes name it.")

    @strawberry.field(description="The spans of notes that name it, by note path and offset.")
    async def mentions(self, info: Info, first: Optional[int] = None) -> list[Mention]:
        n = check_first(first, 20)
        return [make_mention(m) for m in (await info.context.loaders.mentions.load(str(self.iri)))[:n]]

    @strawberry.field(description="The sources that cover it, best first.")
    async def sources(self, info: Info, first: Optional[int] = None) -> list[Coverage]:
        return [make_coverage(c) for c in await entity_coverage(info.context, [str(self.iri)],
                                                                check_first(first, 20))]

    @strawberry.field(description="The entities most related to it, best first; optionally of one type.")
    async def related(self, info: Info, first: Optional[int] = None,
                      type: Optional[EntityType] = None) -> list[Relatedness]:
        return await entity_related(info.context, str(self.iri), check_first(first, 10), type)


def _event_dates(self, info: Info) -> list[str]:
    rec = info.context.catalogue.entities.get(str(self.iri))
    return list(rec.dates) if rec else []


#: fields some entity types have beyond the Entity interface's
_EXTRA_FIELDS: dict[str, dict[str, Any]] = {
    "Event": {"dates": strawberry.field(_event_dates, description="Dates written beside it (ISO 8601: YYYY, "
                                                                  "YYYY-MM or YYYY-MM-DD).")},
}

#: one GraphQL object type per row of kg.model.ENTITY_KINDS
ENTITY_CLASSES: dict[str, type] = {
    k.name: strawberry.type(type(k.name, (Entity,), {"__module__": __name__, **_EXTRA_FIELDS.get(k.name, {})}),
                            description=k.comment)
    for k in ENTITY_KINDS
}
Event = ENTITY_CLASSES["Event"]  # the type of Query.events


def make_entity(ctx: Context, iri: str) -> Entity:
    rec = ctx.catalogue.entities.get(iri)
    if rec is None:
        raise QueryError(f"the graph has no entity {iri}")
    return entity_of(rec)


def entity_of(rec: EntityRec) -> Entity:
    return ENTITY_CLASSES[rec.type](iri=strawberry.ID(rec.iri), name=rec.name, type=EntityType(rec.type),
                              aliases=list(rec.aliases), pagerank=rec.pagerank, community=rec.community,
                              degree=rec.degree, mention_count=rec.mention_count)


@strawberry.type
class EntityEdge:
    node: Entity
    cursor: str


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: Optional[str]
    end_cursor: Optional[str]


@strawberry.type(description="A page of entities, Relay style.")
class EntityConnection:
    edges: list[EntityEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type(description="One hop of a path between two entities, with the evidence for it.")
class PathStep:
    kind: str = strawberry.field(description="What links the two: e.g. 'co-mention', 'related', 'covers'.")
    evidence: Optional[str] = strawberry.field(description="The text that backs the hop.")
    from_iri: strawberry.Private[str]
    to_iri: strawberry.Private[str]
    note_iri: strawberry.Private[Optional[str]]
    weight: Optional[float] = None

    @strawberry.field(name="from")
    def from_(self, info: Info) -> Entity:
        return make_entity(info.context, self.from_iri)

    @strawberry.field
    def to(self, info: Info) -> Entity:
        return make_entity(info.context, self.to_iri)

    @strawberry.field
    def note(self, info: Info) -> Optional[Note]:
        return make_note(info.context, self.note_iri) if self.note_iri else None


@strawberry.type
class TypeCount:
    type: EntityType
    count: int


@strawberry.type(description="Counts over the graph being served.")
class Stats:
    generation: str
    triples: int
    notes: int
    sections: int
    sources: int
    mentions: int
    entities: int
    coverages: int
    relations: int
    by_type: list[TypeCount]
