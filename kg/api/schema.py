"""The GraphQL schema (strawberry): types, resolvers, DataLoaders, limits.

How resolvers read the graph
----------------------------
* A request works on one :class:`Snapshot`: the Oxigraph store of one
  generation, taken once when the request starts, so a build that goes live
  mid-request never gives a mix of the old and the new graph.
* Per generation, a small :class:`Catalogue` is read once (entity names,
  types, aliases, link scores; note metadata): name and alias lookups, entity
  lists and note fields are answered from it without a query.  User input is
  matched against the catalogue in Python, or bound as a SPARQL parameter; it
  is never pasted into query text.
* The catalogue also holds, read on first need, a ranking index: every
  entity's coverage nodes in the order ``sources`` answers in (score, direct
  first, source URL, source IRI).  A request takes an entity's best n from
  it and reads details for those n only, however many sources cover it.
* Everything per entity or per coverage (mentions, coverages, relatedness,
  evidence) is read by DataLoaders: one SPARQL query per batch of keys,
  whatever the number of parents (no N+1).  The keys of a batch are IRIs the
  store itself minted (taken from the catalogue or earlier results) and are
  written with pyoxigraph's own serialiser in a VALUES block.
* Store calls run in a small thread pool, so the event loop keeps answering.

Limits: depth, aliases, tokens and query size (validation), ``first`` ≤ 500,
argument length, and a time limit per request (:class:`KGSchema`).  Errors of
kg (:class:`kg.errors.KGError`) reach the client with their message and code;
anything else is masked.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import contextlib
import logging
import os
import re
import threading
import unicodedata
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from enum import Enum
from typing import Annotated, Any, Optional

import pyoxigraph as ox
import strawberry
from graphql import GraphQLError
from strawberry.dataloader import DataLoader
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

from kg.api.lanes import Deadline, LoopLane
from kg.api.limits import MAX_FIRST, CostLimiter
from kg.api.names import NameIndex, NameMatch
from kg.errors import KGError, NotFoundError, QueryError, QueryTimeoutError
from kg.model import ENTITY_KINDS, ENTITY_TYPES
from kg.store import EmbeddedStore, StoreSnapshot
from kg.terms import find_term
from kg.textindex import INDEX_FILE, TextHit, TextIndex, rows_from_store
from kg.vocab import KG_NS, LINKS_GRAPH, relatedness_iri

__all__ = [
    "MAX_FIRST",
    "MAX_DEPTH",
    "MAX_ALIASES",
    "MAX_TOKENS",
    "MAX_QUERY_CHARS",
    "MAX_ARG_CHARS",
    "GraphBackend",
    "Snapshot",
    "Context",
    "KGSchema",
    "build_schema",
    "schema",
]

log = logging.getLogger("kg.api")

MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 3000
MAX_QUERY_CHARS = 20_000
MAX_ARG_CHARS = 500
DEFAULT_TIME_LIMIT = 10.0
_WORD_MATCHES = 5  # entities a term that names none may stand for (a word of their names)
_MENTIONS_PER_ENTITY = MAX_FIRST  # a DataLoader batch never reads more than this per key


# ====================================================================== reading the store


class Snapshot:
    """One generation of the store, for the length of one request.

    Its store calls run in the calling thread: a request runs on a thread of its own (kg.api.lanes), never on
    the server's event loop.
    """

    def __init__(self, store: StoreSnapshot, generation: str, catalogue: "Catalogue"):
        self.store = store
        self.generation = generation
        self.catalogue = catalogue

    def select(self, sparql: str, bindings: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return self.store.select(sparql, bindings)

    async def aselect(self, sparql: str, bindings: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return self.store.select(sparql, bindings)

    async def call(self, fn, *args):
        return fn(*args)


def values(var: str, iris: Sequence[str]) -> str:
    """``VALUES ?var { <iri> ... }`` for IRIs the store minted (serialised by pyoxigraph, which validates them)."""
    return f"VALUES ?{var} {{ {' '.join(str(ox.NamedNode(i)) for i in iris)} }}"


def norm(text: str) -> str:
    """The form names are matched in: NFKC, case-folded, inner whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


@dataclass(slots=True)
class EntityRec:
    iri: str
    type: str  # Person, Event, ...
    name: str
    aliases: list[str] = field(default_factory=list)
    pagerank: float | None = None
    community: int | None = None
    degree: int | None = None
    mention_count: int = 0
    dates: list[str] = field(default_factory=list)

    @property
    def sort_key(self) -> tuple[str, str]:
        return (norm(self.name), self.iri)


@dataclass(slots=True)
class NoteRec:
    iri: str
    path: str
    title: str | None
    category: str | None
    date: str | None


# An entity's type, name and aliases stand in the graph of every note that mentions it: match them
# inside one named graph (GRAPH ?g) and keep distinct rows, or the union default graph multiplies
# the rows by the number of notes for every pattern joined.
_Q_ENTITIES = """
SELECT DISTINCT ?e ?class ?name ?pr ?comm ?deg WHERE {
  { SELECT DISTINCT ?e ?class ?name WHERE {
      GRAPH ?g { ?e a kg:Entity ; a ?class ; kg:name ?name . }
      FILTER(?class != kg:Entity && STRSTARTS(STR(?class), "https://w3id.org/kg/ns#"))
  } }
  OPTIONAL { ?e kg:pagerank ?pr } OPTIONAL { ?e kg:community ?comm } OPTIONAL { ?e kg:degree ?deg }
}"""
_Q_ALIASES = "SELECT DISTINCT ?e ?alias WHERE { GRAPH ?g { ?e a kg:Entity ; kg:alias ?alias } }"
_Q_MENTION_COUNTS = ("SELECT ?e (SUM(COALESCE(?c, 1)) AS ?n) WHERE { ?m kg:mentionOf ?e "
                     "OPTIONAL { ?m kg:occurrences ?c } } GROUP BY ?e")
_Q_EVENT_DATES = "SELECT DISTINCT ?e ?v WHERE { GRAPH ?g { ?e a kg:Event ; kg:mentionsDate ?d . ?d kg:value ?v } }"
_Q_NOTES = """
SELECT ?n ?path ?title ?cat ?date WHERE {
  ?n a kg:Note ; kg:path ?path .
  OPTIONAL { ?n kg:title ?title } OPTIONAL { ?n kg:category ?cat } OPTIONAL { ?n kg:date ?date }
}"""
_Q_COUNTS = "SELECT ?class (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a ?class } GROUP BY ?class"
_Q_TRIPLES = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"
_Q_RELATED_ALL = """
SELECT ?a ?b ?w WHERE { ?r kg:fromEntity ?a ; kg:toEntity ?b . OPTIONAL { ?r kg:weight ?w } }"""
# The coverage ranking index: every coverage row of the links graph (one copy of each fact), and the URL
# of every source (one row per graph that states it, as the union default graph has them).  Joined in
# Python: the store's own plan for the join over all sources is far slower than the two scans.
_Q_COVERAGE_ALL = f"""
SELECT ?e ?cov ?src ?score ?direct WHERE {{ GRAPH {ox.NamedNode(str(LINKS_GRAPH))} {{
  ?cov kg:entity ?e ; kg:source ?src .
  OPTIONAL {{ ?cov kg:score ?score }} OPTIONAL {{ ?cov kg:direct ?direct }}
}} }}"""
_Q_SOURCE_URLS = "SELECT ?src ?url WHERE { GRAPH ?g { ?src kg:url ?url } }"

_TYPES = ENTITY_TYPES


class Catalogue:
    """What every request of one generation needs, read once: entities and notes."""

    def __init__(self, store: StoreSnapshot):
        self.generation_dir = store.folder  # an embedded store's generation folder (its link cache is there)
        self.entities: dict[str, EntityRec] = {}
        for r in store.select(_Q_ENTITIES):
            t = str(r["class"]).rsplit("#", 1)[-1]
            if t not in _TYPES or r["e"] in self.entities:
                continue
            self.entities[r["e"]] = EntityRec(r["e"], t, r["name"], pagerank=_float(r["pr"]),
                                              community=_int(r["comm"]), degree=_int(r["deg"]))
        for r in store.select(_Q_ALIASES):
            rec = self.entities.get(r["e"])
            if rec is not None and r["alias"] != rec.name and r["alias"] not in rec.aliases:
                rec.aliases.append(r["alias"])
        for r in store.select(_Q_MENTION_COUNTS):
            rec = self.entities.get(r["e"])
            if rec is not None:
                rec.mention_count = int(r["n"])
        for r in store.select(_Q_EVENT_DATES):
            rec = self.entities.get(r["e"])
            if rec is not None and r["v"] not in rec.dates:
                rec.dates.append(str(r["v"]))
        for rec in self.entities.values():
            rec.aliases.sort()
            rec.dates.sort()
        # name lookups: exact name, exact alias, then the normalised forms
        self._by_name: dict[str, list[str]] = defaultdict(list)
        self._by_alias: dict[str, list[str]] = defaultdict(list)
        self._by_norm: dict[str, list[str]] = defaultdict(list)
        for rec in self.entities.values():
            self._by_name[rec.name].append(rec.iri)
            self._by_norm[norm(rec.name)].append(rec.iri)
            for a in rec.aliases:
                self._by_alias[a].append(rec.iri)
                self._by_norm[norm(a)].append(rec.iri)
        self.sorted: list[EntityRec] = sorted(self.entities.values(), key=lambda e: e.sort_key)
        self._sorted_keys = [e.sort_key for e in self.sorted]
        self.notes: dict[str, NoteRec] = {}
        self.notes_by_path: dict[str, NoteRec] = {}
        for r in store.select(_Q_NOTES):
            if r["n"] in self.notes:
                continue
            rec = NoteRec(r["n"], r["path"], r["title"], r["cat"], _str(r["date"]))
            self.notes[rec.iri] = rec
            self.notes_by_path[rec.path] = rec
        self._stats: dict[str, Any] | None = None
        self._graph: Any = None
        self._lock = threading.Lock()
        self._coverage: dict[str, tuple[str, ...]] | None = None
        self.coverage_ranks: dict[str, tuple] = {}
        self._coverage_lock = threading.Lock()  # its own: building it must not hold up stats or paths
        self._names: NameIndex | None = None
        self._names_lock = threading.Lock()
        self._text: TextIndex | None = None
        self._text_lock = threading.Lock()

    def _rank(self, iris: list[str]) -> list[EntityRec]:
        recs = [self.entities[i] for i in dict.fromkeys(iris)]
        return sorted(recs, key=lambda e: (-e.mention_count, -(e.pagerank or 0.0), e.iri))

    def lookup(self, name: str) -> list[EntityRec]:
        """Entities named ``name``: by exact name, else alias, else case- and width-insensitively; best first."""
        for index, key in ((self._by_name, name), (self._by_alias, name), (self._by_norm, norm(name))):
            iris = index.get(key)
            if iris:
                return self._rank(iris)
        return []

    def names(self) -> NameIndex:
        """The word index of entity names and aliases (made on first need, once per generation)."""
        index = self._names
        if index is None:
            with self._names_lock:
                index = self._names
                if index is None:
                    index = self._names = NameIndex((r.iri, r.name, r.aliases) for r in self.sorted)
        return index

    def text_index(self, store: Any) -> TextIndex:
        """The generation's text index (kg.textindex): its file, or one made in memory from the graph where
        there is no file (a store in a SPARQL server, a generation written without it)."""
        index = self._text
        if index is None:
            with self._text_lock:
                index = self._text
                if index is None:
                    path = self.generation_dir / INDEX_FILE if self.generation_dir is not None else None
                    if path is not None and path.is_file():
                        index = TextIndex.open(path)
                    else:
                        index = TextIndex.in_memory(rows_from_store(store.select))
                    self._text = index
        return index

    def resolve(self, term: str) -> list[tuple[EntityRec, NameMatch]]:
        """The entities a typed term means, best first: those named so (name, alias, case- and
        width-insensitively), else those whose name lists it or has it as a word (at most 5, most mentioned
        first); [] when none fits."""
        exact = self.lookup(term)
        if exact:
            t = norm(term)
            return [(r, NameMatch(r.iri, r.name if norm(r.name) == t else next(
                (a for a in r.aliases if norm(a) == t), r.name), 0 if norm(r.name) == t else 1)) for r in exact]
        found = [(self.entities[m.iri], m) for m in self.names().search(term, prefix=False)
                 if m.iri in self.entities]
        found.sort(key=lambda x: (x[1].tier, -x[0].mention_count, -(x[0].pagerank or 0.0), x[0].iri))
        return found[:_WORD_MATCHES]

    def unknown(self, term: str, what: str = "entity") -> NotFoundError:
        """The error for a name no entity has, with the nearest names."""
        near = self.names().nearest(term)
        hint = ("; nearest names: " + ", ".join(near)) if near else "; look names up with entities(search: ...)"
        return KGNotFound(f"no {what} named {term!r}{hint}")

    def after(self, recs: list[EntityRec], cursor: str | None) -> int:
        """Index in ``recs`` (sorted like ``self.sorted``) of the first entity after ``cursor``."""
        if cursor is None:
            return 0
        key = decode_cursor(cursor)
        return bisect.bisect_right([r.sort_key for r in recs], key) if recs is not self.sorted else \
            bisect.bisect_right(self._sorted_keys, key)

    def stats(self, store: StoreSnapshot) -> dict[str, Any]:
        with self._lock:
            if self._stats is None:
                counts = {str(r["class"]).rsplit("#", 1)[-1]: int(r["n"]) for r in store.select(_Q_COUNTS)
                          if str(r["class"]).startswith(KG_NS)}
                triples = int(store.select(_Q_TRIPLES)[0]["n"])
                self._stats = {"counts": counts, "triples": triples}
            return self._stats

    def coverage_index(self, store: StoreSnapshot) -> dict[str, tuple[str, ...]]:
        """Entity IRI → its coverage nodes, best first; read on first need (once per generation).
        ``coverage_ranks`` then holds each coverage node's sort key (score, direct, URL, source)."""
        index = self._coverage
        if index is None:
            with self._coverage_lock:
                index = self._coverage
                if index is None:
                    ranks: dict[str, tuple] = {}
                    index = build_coverage_index(store, ranks)
                    self.coverage_ranks, self._coverage = ranks, index
        return index

    def link_graph(self, store: StoreSnapshot) -> Any:
        """The graph ``path`` searches: from kg.links when it is there, else the relatedness edges."""
        with self._lock:
            if self._graph is None:
                self._graph = _load_link_graph(store, self)
            return self._graph


def build_coverage_index(store: StoreSnapshot, ranks: dict[str, tuple] | None = None) -> dict[str, tuple[str, ...]]:
    """Every entity's coverage nodes in the order ``sources`` gives: score (highest first), direct before
    inferred, then source URL and source IRI; a coverage without a score counts 1.0, without ``direct``
    as inferred.  One row per (coverage, URL) pair, as a join over the union default graph would give.
    Rows are read one at a time (a server's resident memory keeps the high-water mark of this read).
    ``ranks``, when given, receives each coverage node's sort key (its first row's)."""
    urls: dict[str, list[str]] = {}
    for src, url in store.select_tuples(_Q_SOURCE_URLS):
        urls.setdefault(src, []).append(url)
    rows: dict[str, list[tuple]] = defaultdict(list)
    for e, cov, src, score, direct in store.select_tuples(_Q_COVERAGE_ALL):
        key = (-float(score) if score is not None else -1.0, not direct if direct is not None else True)
        for url in urls.get(src, ()):
            rows[e].append((*key, url, src, cov))
    del urls
    index: dict[str, tuple[str, ...]] = {}
    for e in list(rows):
        lst = rows.pop(e)
        lst.sort()
        index[e] = tuple(row[4] for row in lst)
        if ranks is not None:
            for row in lst:
                ranks.setdefault(row[4], row[:4])
    return index


def _load_link_graph(store: StoreSnapshot, catalogue: Catalogue) -> Any:
    try:
        from kg import links  # the link pass: its own projection and path search
    except ImportError:
        links = None
    if links is not None and hasattr(links, "load_link_input") and hasattr(links, "project_graph"):
        data = links.cached_link_input(catalogue.generation_dir) if catalogue.generation_dir else None
        if data is None:
            data = links.load_link_input(store.select)
        return ("links", links.project_graph(data))
    import networkx as nx

    g = nx.Graph()
    for r in store.select(_Q_RELATED_ALL):
        w = _float(r["w"]) or 1.0
        if g.has_edge(r["a"], r["b"]):
            w = max(w, g[r["a"]][r["b"]]["weight"])
        g.add_edge(r["a"], r["b"], weight=w)
    return ("related", g)


def _warm(cat: Catalogue, store: StoreSnapshot) -> None:
    try:
        cat.coverage_index(store)
        cat.names()
        cat.text_index(store)
        find_term("预热", "预热")  # jieba's dictionary, which Chinese word matching reads
    except Exception:  # noqa: BLE001 - a request that needs it reads it again, and reports what fails
        log.debug("the coverage index could not be read ahead", exc_info=True)


def _float(v: Any) -> float | None:
    return None if v is None else float(v)


def _int(v: Any) -> int | None:
    return None if v is None else int(v)


def _str(v: Any) -> str | None:
    return None if v is None else str(v)


def encode_cursor(key: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(f"{key[0]}\x1f{key[1]}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        a, b = base64.urlsafe_b64decode(cursor.encode("ascii")).decode().split("\x1f")
    except (ValueError, UnicodeError):
        raise QueryError("the cursor is not one this server gave out; use pageInfo.endCursor") from None
    return (a, b)


class GraphBackend:
    """The store behind the API: hands out a :class:`Snapshot` per request; caches a catalogue per generation.

    ``executor`` (a server's store lane) reads catalogues off the event loop, and with ``warm`` reads ahead
    what the first requests of a generation need; without one, :meth:`asnapshot` reads in the calling thread
    (and ``warm`` reads ahead in a thread of its own).
    """

    def __init__(self, store: Any, *, executor: Executor | None = None, warm: bool = False):
        if isinstance(store, (str, os.PathLike)):
            from kg.store import open_store

            store = open_store(store)
        self.store = store  # an EmbeddedStore, or a RemoteStore
        self.executor = executor
        self._lock = threading.Lock()
        self._catalogues: dict[str, Catalogue] = {}
        # a server: read what the first requests of a generation need (the coverage index) in the
        # background as soon as its catalogue is read, rather than in the first request that needs it
        self.warm = warm

    def snapshot(self) -> Snapshot:
        with self._lock:
            store = self.store.snapshot()  # the live generation, fixed for the request
            name = store.generation
            cat = self._catalogues.get(name)
            if cat is None:
                cat = Catalogue(store)
                self._catalogues = {name: cat}  # older generations are dropped
                if self.warm and self.executor is not None:
                    with contextlib.suppress(RuntimeError):  # the executor is shut down: the server is stopping
                        self.executor.submit(_warm, cat, store)
                elif self.warm:
                    threading.Thread(target=_warm, args=(cat, store), name="kg-warm", daemon=True).start()
        return Snapshot(store, name, cat)

    async def asnapshot(self) -> Snapshot:
        if isinstance(self.store, EmbeddedStore) and self._lock.acquire(blocking=False):
            # fast path: the live generation's catalogue is already read (no I/O but a read of CURRENT
            # every 0.2 s); never waits for the lock, which a thread reading a catalogue may hold
            try:
                store = self.store.snapshot()
                cat = self._catalogues.get(store.generation)
            finally:
                self._lock.release()
            if cat is not None:
                return Snapshot(store, store.generation, cat)
        if self.executor is None:
            return self.snapshot()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self.snapshot)

    def close(self) -> None:
        """Nothing to release: the executor belongs to whoever passed it in."""


# ====================================================================== batched loads

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
  ?r kg:fromEntity ?e ; kg:toEntity ?to .
  OPTIONAL {{ ?r kg:weight ?w }} OPTIONAL {{ ?r kg:method ?method }} OPTIONAL {{ ?r kg:rank ?rank }}
}}"""

_Q_MENTIONS = """
SELECT ?e ?m ?text ?note ?start ?end ?section ?sentence ?method ?conf ?occ WHERE {{
  {values}
  ?m kg:mentionOf ?e ; kg:text ?text ; kg:note ?note ; kg:start ?start ; kg:end ?end .
  OPTIONAL {{ ?m kg:section ?sec . ?sec kg:headingPath ?section }}
  OPTIONAL {{ ?m kg:sentence ?sentence }} OPTIONAL {{ ?m kg:method ?method }} OPTIONAL {{ ?m kg:confidence ?conf }}
  OPTIONAL {{ ?m kg:occurrences ?occ }}
}}"""

_Q_EVIDENCE = """
SELECT ?x ?m ?e ?text ?note ?start ?end ?section ?sentence ?method ?conf ?occ WHERE {{
  {values}
  ?x kg:evidence ?m .
  ?m kg:text ?text ; kg:note ?note ; kg:start ?start ; kg:end ?end .
  OPTIONAL {{ ?m kg:mentionOf ?e }}
  OPTIONAL {{ ?m kg:section ?sec . ?sec kg:headingPath ?section }}
  OPTIONAL {{ ?m kg:sentence ?sentence }} OPTIONAL {{ ?m kg:method ?method }} OPTIONAL {{ ?m kg:confidence ?conf }}
  OPTIONAL {{ ?m kg:occurrences ?occ }}
}}"""

_Q_VIA = "SELECT ?x ?v WHERE {{ {values} ?x kg:via ?v }}"

_Q_MENTION = """
SELECT ?m ?e ?text ?note ?start ?end ?section ?sentence ?method ?conf ?occ WHERE {{
  {values}
  ?m kg:text ?text ; kg:note ?note ; kg:start ?start ; kg:end ?end .
  OPTIONAL {{ ?m kg:mentionOf ?e }}
  OPTIONAL {{ ?m kg:section ?sec . ?sec kg:headingPath ?section }}
  OPTIONAL {{ ?m kg:sentence ?sentence }} OPTIONAL {{ ?m kg:method ?method }} OPTIONAL {{ ?m kg:confidence ?conf }}
  OPTIONAL {{ ?m kg:occurrences ?occ }}
}}"""

_Q_NOTE_BY_PATH = "SELECT ?n ?path WHERE { ?n a kg:Note ; kg:path ?path }"


@dataclass(slots=True)
class CoverageRec:
    iri: str
    entity: str | None  # None for a text match
    source: str
    score: float
    direct: bool
    justification: str | None
    method: str | None
    url: str
    title: str | None
    note: str
    section: str | None
    how: str = ""  # title, context, inferred, text match (see how_of)
    match: str = ""  # how the term asked for was read
    hit: TextHit | None = None  # a text match's words


#: the link pass's methods of direct coverage, by what named the entity
_CONTEXT_METHODS = frozenset({"mention-in-context"})


def how_of(method: str | None, direct: bool) -> str:
    """What a coverage record of the graph rests on: the title, the context before the link, or inference."""
    if method in _CONTEXT_METHODS:
        return "context"
    return "title" if direct else "inferred"


@dataclass(slots=True)
class MentionRec:
    iri: str
    entity: str | None
    text: str
    note: str
    start: int
    end: int
    section: str | None
    sentence: str | None
    method: str | None
    confidence: float
    occurrences: int = 1


@dataclass(slots=True)
class RelatedRec:
    iri: str
    from_: str
    to: str
    weight: float
    method: str | None
    rank: int | None
    evidence: tuple[str, ...] | None = None  # mention IRIs, for a row computed at query time (not in the graph)


def _mention(r: dict[str, Any], entity_key: str = "e") -> MentionRec:
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
        self.mention = DataLoader(self._mention)

    async def _batch(self, query: str, key_var: str, keys: list[str], build) -> list[list[Any]]:
        def run() -> dict[str, list[Any]]:
            self.deadline.check()
            out: dict[str, list[Any]] = defaultdict(list)
            for chunk in _chunks(list(dict.fromkeys(keys))):
                for r in self.snap.select(query.format(values=values(key_var, chunk))):
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
                    direct = bool(r["direct"]) if r["direct"] is not None else False
                    detail[r["cov"]] = CoverageRec(
                        r["cov"], r["e"], r["src"], float(r["score"] if r["score"] is not None else 1.0),
                        direct, r["just"], r["method"], r["url"], r["title"], r["note"], r["section"],
                        how_of(r["method"], direct))
            return [[detail[c] for c in lst if c in detail] for lst in chosen]

        return await self.snap.call(run)

    async def _related(self, keys: list[str]) -> list[list[RelatedRec]]:
        rows = await self._batch(_Q_RELATED, "e", keys, lambda r: RelatedRec(
            r["r"], r["e"], r["to"], float(r["w"]) if r["w"] is not None else 0.0, r["method"], _int(r["rank"])))
        for lst in rows:
            lst.sort(key=lambda x: (x.rank if x.rank is not None else 1 << 30, -x.weight, x.to))
        return rows

    async def _mentions(self, keys: list[str]) -> list[list[MentionRec]]:
        rows = await self._batch(_Q_MENTIONS, "e", keys, _mention)
        cat = self.snap.catalogue
        for lst in rows:
            lst.sort(key=lambda m: (cat.notes[m.note].path if m.note in cat.notes else m.note, m.start))
            del lst[_MENTIONS_PER_ENTITY:]
        return rows

    async def _evidence(self, keys: list[str]) -> list[list[MentionRec]]:
        rows = await self._batch(_Q_EVIDENCE, "x", keys, _mention)
        for lst in rows:
            lst.sort(key=lambda m: (m.note, m.start))
        return rows

    async def _mention(self, keys: list[str]) -> list[list[MentionRec]]:
        return await self._batch(_Q_MENTION, "m", keys, _mention)

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


# ====================================================================== checks on arguments


def check_first(first: int | None, default: int) -> int:
    if first is None:
        return default
    if first < 0 or first > MAX_FIRST:
        raise QueryError(f"first must be between 0 and {MAX_FIRST} (got {first}); page with 'after' for more")
    return first


def check_text(value: str, what: str, limit: int = MAX_ARG_CHARS) -> str:
    if len(value) > limit:
        raise QueryError(f"{what} is {len(value):,} characters long; at most {limit} are accepted")
    if "\x00" in value:
        raise QueryError(f"{what} contains a NUL character")
    return value


# ====================================================================== GraphQL types


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


@strawberry.type(description="A weighted, directed relatedness of one entity to another.")
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
        for c in await _entity_coverage(ctx, list(how), first):
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


async def _entity_coverage(ctx: Context, iris: Sequence[str], first: int) -> list[CoverageRec]:
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
        return [make_coverage(c) for c in await _entity_coverage(info.context, [str(self.iri)],
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
_CLASSES: dict[str, type] = {
    k.name: strawberry.type(type(k.name, (Entity,), {"__module__": __name__, **_EXTRA_FIELDS.get(k.name, {})}),
                            description=k.comment)
    for k in ENTITY_KINDS
}
Event = _CLASSES["Event"]  # the type of Query.events


def make_entity(ctx: Context, iri: str) -> Entity:
    rec = ctx.catalogue.entities.get(iri)
    if rec is None:
        raise QueryError(f"the graph has no entity {iri}")
    return entity_of(rec)


def entity_of(rec: EntityRec) -> Entity:
    return _CLASSES[rec.type](iri=strawberry.ID(rec.iri), name=rec.name, type=EntityType(rec.type),
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


# ====================================================================== the root


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
                     relations=c.get("Relatedness", 0),
                     by_type=[TypeCount(type=EntityType(t), count=c.get(t, 0)) for t in _TYPES])


class KGNotFound(NotFoundError):
    """A name no entity has (the message names the nearest ones)."""


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
        result.errors = [self._process(e, production) for e in result.errors]

    @staticmethod
    def _process(error: GraphQLError, production: bool = False) -> GraphQLError:
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
        """Log what went wrong on the server's side only: a query refused or malformed is the client's
        answer, not a line in the server's log (a client sending thousands would fill it)."""
        for error in errors:
            orig = error.original_error
            if orig is not None and not isinstance(orig, (KGError, GraphQLError)):
                log.error("unexpected error in a resolver", exc_info=orig)

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
                result.errors = [KGErrorExtension._process(e, self.production) for e in result.errors]
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
    s = KGSchema(query=Query, types=list(_CLASSES.values()), extensions=extensions,
                 config=StrawberryConfig(disable_field_suggestions=production))
    s.time_limit = time_limit
    s.lane = lane
    s.production = production
    return s


#: the schema with development settings; ``str(schema)`` is the SDL in schemas/schema.graphql
schema = build_schema()
