"""The GraphQL schema (strawberry): the Query root, errors and the limits on each request.

The API's rooms: :mod:`kg.api.backend` (the store snapshot and the catalogue of a generation),
:mod:`kg.api.loaders` (DataLoaders), :mod:`kg.api.types` (the GraphQL types), :mod:`kg.api.limits`
(what a request may ask), and this module, the root.  Store calls run on the request's own thread
(:mod:`kg.api.lanes`), so the event loop keeps answering.

Limits: depth, aliases, tokens and query size (validation), ``first`` ≤ 500, argument length, and a time
limit per request (:class:`KGSchema`).  Errors of kg (:class:`kg.errors.KGError`) reach the client with
their message and code; anything else is masked.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Annotated, Any, Optional

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionResult, Info

from kg.api.backend import Catalogue, Snapshot
from kg.api.lanes import Deadline, LoopLane
from kg.api.limits import (
    DEFAULT_TIME_LIMIT,
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_QUERY_CHARS,
    MAX_TOKENS,
    CostLimiter,
    check_first,
    check_text,
)
from kg.api.loaders import Context
from kg.api.records import CoverageRec, EntityRec, KGNotFound, decode_cursor, encode_cursor
from kg.api.types import (
    ENTITY_CLASSES,
    Coverage,
    Entity,
    EntityConnection,
    EntityEdge,
    EntityType,
    Event,
    Note,
    PageInfo,
    PathStep,
    Relatedness,
    Stats,
    TypeCount,
    entity_coverage,
    entity_of,
    entity_related,
    make_coverage,
    make_note,
)
from kg.errors import KGError, QueryTimeoutError
from kg.model import ENTITY_TYPES

__all__ = ["Query", "KGErrorExtension", "KGSchema", "build_schema", "covering_sources", "schema"]

_HOW_ORDER = {"title": 0, "context": 1, "inferred": 3}  # a text match: 0.5 in a title, 1.5 in a context


def _rank_key(c: CoverageRec) -> tuple:
    order = (0.5 if c.hit.where == "title" else 1.5) if c.hit is not None else _HOW_ORDER.get(c.how, 2)
    return (-c.score, order, c.url, c.source)


async def covering_sources(ctx: Context, term: str, first: int) -> list[Coverage]:
    """``sources(covering:)``: the coverage of the entities ``term`` means (kg.api.names), with the sources
    whose title or context has the words (kg.textindex) that these do not already list; each says how it
    was found.  A term that is no entity's name and stands in no title or context is a :class:`KGNotFound`."""
    cat = ctx.catalogue
    meant = cat.resolve(term)
    covs: list[CoverageRec] = []
    if meant:
        how = {rec.iri: m for rec, m in meant}
        for c in await entity_coverage(ctx, list(how), first):
            m = how.get(c.entity or "")
            c.match = m.says(term) if m is not None else "name"
            if m is not None and m.tier >= 2:
                c.justification = (f"no entity is named {term!r}; {m.form!r} has it ({m.says(term)}) — "
                                   f"{c.justification or ''}").rstrip(" —")
            covs.append(c)
    listed = {c.source for c in covs}
    # a text match ranks below the entities' title hits (and its context matches below their context hits):
    # only as many are looked for as can still make the first ``first``
    titles = sum(1 for c in covs if c.how == "title")
    contexts = sum(1 for c in covs if c.how == "context")
    hits = []
    if first - titles > 0:
        hits = await ctx.snap.call(lambda: cat.text_index(ctx.snap.store).search(
            term, first - titles, listed, context_limit=first - titles - contexts))
    for h in hits:
        if h.row.iri in listed:
            continue
        note = cat.notes_by_path.get(h.row.note)
        if note is None:
            continue
        listed.add(h.row.iri)
        where = "the title" if h.where == "title" else "the prose just before the link"
        lead = "" if meant else f"no entity is named {term!r}; "
        covs.append(CoverageRec(
            f"{h.row.iri}#text-match", None, h.row.iri, 1.5 if h.where == "title" else 1.0, True,
            f"text match: {lead}{where} has the words \"{h.text}\"" + (
                f" — \"{h.sentence}\"" if h.where == "context" else ""),
            "text-match:fts5", h.row.url, h.row.title, note.iri, h.row.section, "text match", "text", h))
    if not covs and not meant:
        raise cat.unknown(term, "entity or source text")
    if not covs:
        rec = meant[0][0]
        raise KGNotFound(f"no source covers {term!r}: {rec.type} {rec.name} is mentioned {rec.mention_count} "
                         "time(s), but in no source's title nor in the prose just before a link, and no source's "
                         "title or context has the words")
    covs.sort(key=_rank_key)
    return [make_coverage(c) for c in covs[:first]]


def ctx_of(info: Info) -> Context:
    return info.context


def find_entities(ctx: Context, name: str, what: str = "name") -> list[EntityRec]:
    """The entities named ``name`` (name, alias, case- and width-insensitively), best first; a name none has is
    a :class:`KGNotFound` naming the nearest names."""
    recs = ctx.catalogue.lookup(check_text(name, what))
    if not recs:
        raise ctx.catalogue.unknown(name)
    return recs


@strawberry.type
class Query:
    @strawberry.field(description="Sources covering a term, best first: the entities it names (by name or alias, "
                                  "else those whose name has it as a word), then the sources whose title or "
                                  "context has the words; each says how it was found.  A term found nowhere is "
                                  "an error naming the nearest names.")
    async def sources(self, info: Info, covering: str, first: Optional[int] = 20) -> Optional[list[Coverage]]:
        ctx = ctx_of(info)
        n = check_first(first, 20)
        return await covering_sources(ctx, check_text(covering, "covering"), n)

    @strawberry.field(description="An entity by name or alias (the most mentioned one when several share it); a "
                                  "name no entity has is an error naming the nearest names.")
    def entity(self, info: Info, name: str) -> Optional[Entity]:
        return entity_of(find_entities(ctx_of(info), name)[0])

    @strawberry.field(description="Entities, optionally of one type; with 'search', those whose name or alias has "
                                  "the words (the exact name first, then an alias, a listed name, a word of the "
                                  "name, the start of a word), else by name; paged.")
    def entities(self, info: Info, type: Optional[EntityType] = None, search: Optional[str] = None,
                 first: Optional[int] = 50, after: Optional[str] = None) -> EntityConnection:
        cat = ctx_of(info).catalogue
        n = check_first(first, 50)
        recs = cat.sorted
        if search:
            found = [(m, cat.entities[m.iri]) for m in cat.names().search(check_text(search, "search"))
                     if m.iri in cat.entities]
            found.sort(key=lambda x: (x[0].tier, -x[1].mention_count, x[1].sort_key))
            recs = [r for _, r in found]
        if type is not None:
            recs = [r for r in recs if r.type == type.value]
        if search:
            start = 0
            if after:
                key = decode_cursor(check_text(after, "after"))
                start = next((i + 1 for i, r in enumerate(recs) if r.sort_key == key), 0)
        else:
            start = cat.after(recs, check_text(after, "after") if after else None)
        page = recs[start:start + n]
        edges = [EntityEdge(node=entity_of(r), cursor=encode_cursor(r.sort_key)) for r in page]
        return EntityConnection(
            edges=edges,
            page_info=PageInfo(has_next_page=start + n < len(recs), has_previous_page=start > 0,
                               start_cursor=edges[0].cursor if edges else None,
                               end_cursor=edges[-1].cursor if edges else None),
            total_count=len(recs))

    @strawberry.field(description="The entities most related to one (by name or alias), optionally of one type: "
                                  "entities named everywhere (hubs) weigh less; a name no entity has is an error.")
    async def related(self, info: Info, name: str, first: Optional[int] = 10,
                      type: Optional[EntityType] = None) -> Optional[list[Relatedness]]:
        ctx = ctx_of(info)
        n = check_first(first, 10)
        recs = find_entities(ctx, name)
        return await entity_related(ctx, recs[0].iri, n, type)

    @strawberry.field(description="The shortest chain of links between two entities; null when there is none.")
    async def path(self, info: Info, from_: Annotated[str, strawberry.argument(name="from")],
                   to: str) -> Optional[list[PathStep]]:
        ctx = ctx_of(info)
        a = find_entities(ctx, from_, "from")
        b = find_entities(ctx, to, "to")
        return await ctx.snap.call(_path, ctx.snap, a[0].iri, b[0].iri)

    @strawberry.field(description="A note by its path.")
    def note(self, info: Info, path: str) -> Optional[Note]:
        ctx = ctx_of(info)
        rec = ctx.catalogue.notes_by_path.get(check_text(path, "path", 4096))
        return make_note(ctx, rec.iri) if rec else None

    @strawberry.field(description="Events with a date in a span of years (inclusive), earliest first.")
    def events(self, info: Info, from_year: int, to_year: int, first: Optional[int] = 50) -> list[Event]:
        n = check_first(first, 50)
        out = []
        for rec in ctx_of(info).catalogue.sorted:
            if rec.type != "Event":
                continue
            years = [int(d[:4]) for d in rec.dates if d[:4].isdigit()]
            hits = [y for y in years if from_year <= y <= to_year]
            if hits:
                out.append((min(hits), rec))
        out.sort(key=lambda t: (t[0], t[1].sort_key))
        return [entity_of(rec) for _, rec in out[:n]]  # type: ignore[misc]

    @strawberry.field(description="The most central entities (by PageRank), of one community and/or type.")
    def central(self, info: Info, community: Optional[int] = None, type: Optional[EntityType] = None,
                first: Optional[int] = 10) -> list[Entity]:
        n = check_first(first, 10)
        recs = [r for r in ctx_of(info).catalogue.entities.values()
                if (community is None or r.community == community) and (type is None or r.type == type.value)]
        recs.sort(key=lambda r: (-(r.pagerank or 0.0), -r.mention_count, r.sort_key))
        return [entity_of(r) for r in recs[:n]]

    @strawberry.field(description="Counts over the graph being served.")
    async def stats(self, info: Info) -> Stats:
        ctx = ctx_of(info)
        s = await ctx.snap.call(ctx.catalogue.stats, ctx.snap.store)
        c = s["counts"]
        return Stats(generation=ctx.snap.generation, triples=s["triples"], notes=c.get("Note", 0),
                     sections=c.get("Section", 0), sources=c.get("Source", 0), mentions=c.get("Mention", 0),
                     entities=len(ctx.catalogue.entities), coverages=c.get("Coverage", 0),
                     relations=s.get("ranked", 0),
                     by_type=[TypeCount(type=EntityType(t), count=c.get(t, 0)) for t in ENTITY_TYPES])


def _path(snap: Snapshot, a: str, b: str) -> list[PathStep] | None:
    kind, graph = snap.catalogue.link_graph(snap.store)
    if a == b:
        return []
    if kind == "links":
        from kg import links

        hops = links.find_path(graph, a, b)
        if not hops:
            return None
        return [_step(h, snap.catalogue) for h in hops]
    import networkx as nx

    try:
        nodes = nx.shortest_path(graph, a, b)
    except (nx.NetworkXNoPath, nx.NodeNotFound):
        return None
    return [PathStep(kind="related", evidence=None, from_iri=x, to_iri=y, note_iri=None,
                     weight=graph[x][y].get("weight")) for x, y in zip(nodes, nodes[1:])]


def _step(h: Any, catalogue: Catalogue) -> PathStep:
    note = getattr(h, "note", None)
    if note and note not in catalogue.notes:  # kg.links names notes by path
        rec = catalogue.notes_by_path.get(note)
        note = rec.iri if rec else None
    return PathStep(kind=str(getattr(h, "kind", "link")), evidence=getattr(h, "evidence", None),
                    from_iri=str(h.from_iri), to_iri=str(h.to_iri), note_iri=note, weight=getattr(h, "weight", None))


# ====================================================================== errors, limits, time


class KGErrorExtension(SchemaExtension):
    """kg's own errors keep their message and get ``extensions.code``; anything unexpected is masked."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not getattr(result, "errors", None):
            return
        production = bool(getattr(self.execution_context.schema, "production", False))
        result.errors = [self.client_error(e, production) for e in result.errors]

    @staticmethod
    def client_error(error: GraphQLError, production: bool = False) -> GraphQLError:
        """The error as the client sees it: kg's own with its message and code, anything else masked."""
        orig = error.original_error
        if orig is None or isinstance(orig, GraphQLError):
            ext = dict(error.extensions or {})
            ext.setdefault("code", "graphql_invalid")
            message = error.message
            if production:  # no "Did you mean ...?": a production schema does not tell its field names
                message = _SUGGESTION_RE.sub("", message)
            return GraphQLError(message, nodes=error.nodes, source=error.source, positions=error.positions,
                                path=error.path, extensions=ext)
        if isinstance(orig, KGError):
            return GraphQLError(str(orig), nodes=error.nodes, source=error.source, positions=error.positions,
                                path=error.path, extensions={"code": orig.code})
        return GraphQLError("Unexpected error.", nodes=error.nodes, source=error.source, positions=error.positions,
                            path=error.path, extensions={"code": "internal_error"})


_SUGGESTION_RE = re.compile(r"\s*Did you mean [^?]*\?")


def _error_result(message: str, code: str) -> ExecutionResult:
    return ExecutionResult(data=None, errors=[GraphQLError(message, extensions={"code": code})])


class KGSchema(strawberry.Schema):
    """The schema, with a query-size check, a cost limit and a time limit on each request.

    With a ``lane`` (a server's :class:`kg.api.lanes.LoopLane`) each request runs on a thread of its own and
    is cancelled there when it passes the time limit; without one it runs on the caller's loop, and the
    loaders stop it at their next step past the limit.
    """

    time_limit: float = DEFAULT_TIME_LIMIT
    lane: LoopLane | None = None
    production: bool = False

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        # kg's own errors are answers ("no entity named X; nearest names: ..."), not faults: no traceback in
        # the log for them; anything else is logged as strawberry does
        unexpected = [e for e in errors if not isinstance(e.original_error, KGError)]
        if unexpected:
            super().process_errors(unexpected, execution_context)

    async def execute(self, query: str | None, *args: Any, **kwargs: Any) -> ExecutionResult:  # type: ignore[override]
        if query is not None and len(query) > MAX_QUERY_CHARS:
            return _error_result(f"the query is {len(query):,} characters long; at most {MAX_QUERY_CHARS:,} "
                                 "are accepted", "query_too_large")
        context = kwargs.get("context_value")
        deadline = Deadline(self.time_limit)

        async def run() -> ExecutionResult:
            if isinstance(context, Context):
                context.start(deadline)
            result = await strawberry.Schema.execute(self, query, *args, **kwargs)
            if result.errors:  # errors raised before the operation ran (syntax) get a code too
                result.errors = [KGErrorExtension.client_error(e, self.production) for e in result.errors]
            return result

        try:
            if self.lane is not None:
                return await self.lane.run(run, self.time_limit, deadline)
            return await asyncio.wait_for(run(), self.time_limit)
        except (TimeoutError, QueryTimeoutError):
            deadline.cancelled = True
            return _error_result(f"the query took longer than {self.time_limit:g} s and was stopped; "
                                 "ask for less (a smaller 'first', fewer nested fields)",
                                 QueryTimeoutError.code)


def _ignore_introspection(ctx: Any) -> bool:
    return ctx.field_name in ("__schema", "__type")


# Validation rules built once: ValidationCache keys on the rule classes, and the
# limiters make new classes per instance, so fresh limiters per request would never hit the cache.
_LIMIT_RULES = (
    *QueryDepthLimiter(max_depth=MAX_DEPTH, should_ignore=_ignore_introspection).validation_rules,
    *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
)
_NO_INTROSPECTION_RULES = tuple(DisableIntrospection().validation_rules)


def build_schema(*, production: bool = False, time_limit: float = DEFAULT_TIME_LIMIT,
                 lane: LoopLane | None = None) -> KGSchema:
    """The schema; ``production`` switches introspection and suggestions ("Did you mean ...?") off;
    ``lane`` runs each request on a thread of its own (a server)."""
    rules = [*(_NO_INTROSPECTION_RULES if production else ()), *_LIMIT_RULES]
    extensions: list[Any] = [
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: ParserCache(maxsize=256),
        lambda: AddValidationRules(rules),
        lambda: ValidationCache(maxsize=256),
        CostLimiter,
        KGErrorExtension,
    ]
    s = KGSchema(query=Query, types=list(ENTITY_CLASSES.values()), extensions=extensions,
                 config=StrawberryConfig(disable_field_suggestions=production))
    s.time_limit = time_limit
    s.lane = lane
    s.production = production
    return s


#: the schema with development settings; ``str(schema)`` is the SDL in schemas/schema.graphql
schema = build_schema()
