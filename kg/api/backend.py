"""The store behind the API: a :class:`Snapshot` per request, and per generation a :class:`Catalogue`.

* A request works on one :class:`Snapshot`: one generation of the store (``store.snapshot()``,
  :class:`kg.store.StoreSnapshot`), taken once when the request starts, so a build that goes live
  mid-request never gives a mix of the old and the new graph.
* Per generation, a small :class:`Catalogue` is read once (entity names, types, aliases, link scores; note
  metadata): name and alias lookups, entity lists and note fields are answered from it without a query.
  User input is matched against the catalogue in Python, or bound as a SPARQL parameter; it is never
  pasted into query text.
* The catalogue also holds, read on first need, a ranking index: every entity's coverage nodes in the
  order ``sources`` answers in (score, direct first, source URL, source IRI).  A request takes an
  entity's best n from it and reads details for those n only, however many sources cover it.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import os
import threading
from collections import defaultdict
from collections.abc import Mapping
from concurrent.futures import Executor
from typing import Any

import pyoxigraph as ox

from kg.api.names import NameIndex, NameMatch
from kg.api.records import EntityRec, KGNotFound, NoteRec, as_float, as_int, as_str, decode_cursor, norm
from kg.errors import NotFoundError
from kg.model import ENTITY_TYPES
from kg.store import EmbeddedStore, StoreSnapshot, check_layout
from kg.terms import find_term
from kg.textindex import INDEX_FILE, TextIndex, rows_from_store
from kg.vocab import KG_NS, LINKS_GRAPH

__all__ = ["WORD_MATCHES", "Snapshot", "Catalogue", "GraphBackend", "build_coverage_index"]

log = logging.getLogger("kg.api")

WORD_MATCHES = 5  # entities a term that names none may stand for (a word of their names)


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


# An entity's types, name and aliases stand once, in the entities graph (kg.entity_graph)
_Q_ENTITIES = """
SELECT ?e ?class ?name ?pr ?comm ?deg WHERE {
  ?e a kg:Entity ; a ?class ; kg:name ?name .
  FILTER(?class != kg:Entity && STRSTARTS(STR(?class), "https://w3id.org/kg/ns#"))
  OPTIONAL { ?e kg:pagerank ?pr } OPTIONAL { ?e kg:community ?comm } OPTIONAL { ?e kg:degree ?deg }
}"""
_Q_ALIASES = "SELECT ?e ?alias WHERE { ?e a kg:Entity ; kg:alias ?alias }"
_Q_MENTION_COUNTS = ("SELECT ?e (SUM(COALESCE(?c, 1)) AS ?n) WHERE { ?m kg:mentionOf ?e "
                     "OPTIONAL { ?m kg:occurrences ?c } } GROUP BY ?e")
_Q_EVENT_DATES = "SELECT DISTINCT ?e ?v WHERE { ?e a kg:Event . ?d kg:dateOf ?e ; kg:value ?v }"
_Q_NOTES = """
SELECT ?n ?path ?title ?cat ?date WHERE {
  ?n a kg:Note ; kg:path ?path .
  OPTIONAL { ?n kg:title ?title } OPTIONAL { ?n kg:category ?cat } OPTIONAL { ?n kg:date ?date }
}"""
_Q_COUNTS = "SELECT ?class (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a ?class } GROUP BY ?class"
_Q_TRIPLES = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"
#: the related links as the entities rank them: a pair record counts once for each end that ranks the other
_Q_RANKED = "SELECT (COUNT(*) AS ?n) WHERE { { ?r kg:rankFrom ?k } UNION { ?r kg:rankTo ?k } }"
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


class Catalogue:
    """What every request of one generation needs, read once: entities and notes."""

    def __init__(self, store: StoreSnapshot):
        self.generation_dir = store.folder  # an embedded store's generation folder (its link cache is there)
        self.entities: dict[str, EntityRec] = {}
        for r in store.select(_Q_ENTITIES):
            t = str(r["class"]).rsplit("#", 1)[-1]
            if t not in ENTITY_TYPES or r["e"] in self.entities:
                continue
            self.entities[r["e"]] = EntityRec(r["e"], t, r["name"], pagerank=as_float(r["pr"]),
                                              community=as_int(r["comm"]), degree=as_int(r["deg"]))
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
            rec = NoteRec(r["n"], r["path"], r["title"], r["cat"], as_str(r["date"]))
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
        return found[:WORD_MATCHES]

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
                ranked = int(store.select(_Q_RANKED)[0]["n"])
                self._stats = {"counts": counts, "triples": triples, "ranked": ranked}
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
        w = as_float(r["w"]) or 1.0
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
        else:
            check_layout(store)
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
