"""Where the graph lives: an embedded Oxigraph store on disk (the default).

The store folder holds generations (``gen-000001``, ...) and a ``CURRENT``
file naming the live one.  A build writes a new generation, starting from a
cheap hard-linked backup of the live one, and switches ``CURRENT`` only when
everything is written: a build that is killed leaves the previous generation
live and complete, and readers (a running server) see either the old graph or
the new one, never a mix.

One named graph per note (``kg.vocab.note_graph``), so a note is replaced as a
unit; the link pass writes its own graph (``kg.vocab.LINKS_GRAPH``).  Queries
see the union of all graphs as their default graph.

SPARQL parameters are bound (``bindings=``), never pasted into query text.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pyoxigraph as ox
from rdflib import BNode, Literal, URIRef
from rdflib.term import Node

from kg.errors import QueryError, QueryRefusedError, StoreError, StoreLockedError, StoreNotFoundError
from kg.integrity import CHECKSUM_FILE, damage_error, reading, set_aside, verify_generation, write_checksums
from kg.vocab import KG_NS, META_GRAPH, note_graph

__all__ = [
    "DEFAULT_STORE",
    "RDF_FORMATS",
    "RESULT_FORMATS",
    "GraphStore",
    "EmbeddedStore",
    "StoreWriter",
    "open_store",
    "write_store",
    "to_oxigraph",
    "from_oxigraph",
    "check_read_only_query",
]

DEFAULT_STORE = ".kg"
_GEN_RE = re.compile(r"^gen-(\d{6,})$")
_KEEP_GENERATIONS = 2  # the live one and the one before, which a reader may still have open

#: RDF serialisations by short name: (pyoxigraph format, media type, file extension)
RDF_FORMATS: dict[str, tuple[ox.RdfFormat, str, str]] = {
    "ttl": (ox.RdfFormat.TURTLE, "text/turtle", "ttl"),
    "turtle": (ox.RdfFormat.TURTLE, "text/turtle", "ttl"),
    "nt": (ox.RdfFormat.N_TRIPLES, "application/n-triples", "nt"),
    "nq": (ox.RdfFormat.N_QUADS, "application/n-quads", "nq"),
    "trig": (ox.RdfFormat.TRIG, "application/trig", "trig"),
    "jsonld": (ox.RdfFormat.JSON_LD, "application/ld+json", "jsonld"),
    "xml": (ox.RdfFormat.RDF_XML, "application/rdf+xml", "rdf"),
}
#: SPARQL SELECT/ASK result serialisations by short name
RESULT_FORMATS: dict[str, tuple[ox.QueryResultsFormat, str]] = {
    "json": (ox.QueryResultsFormat.JSON, "application/sparql-results+json"),
    "xml": (ox.QueryResultsFormat.XML, "application/sparql-results+xml"),
    "csv": (ox.QueryResultsFormat.CSV, "text/csv"),
    "tsv": (ox.QueryResultsFormat.TSV, "text/tab-separated-values"),
}
QUAD_FORMATS = {"nq", "trig"}

PREFIXES = {
    "kg": KG_NS,
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "schema": "https://schema.org/",
    "prov": "http://www.w3.org/ns/prov#",
}


class GraphStore(Protocol):
    """What the rest of kg needs of a store, embedded or remote."""

    location: str

    def select(self, sparql: str, bindings: Mapping[str, Any] | None = None) -> list[dict[str, Any]]: ...

    def query_bytes(self, sparql: str, fmt: str = "json", bindings: Mapping[str, Any] | None = None) -> tuple[bytes, str]: ...

    def dump(self, fmt: str, graph: str | None = None) -> bytes: ...

    def note_hashes(self) -> dict[str, str]: ...

    def generation(self) -> str: ...


# ---------------------------------------------------------------- term conversion

_XSD = "http://www.w3.org/2001/XMLSchema#"
_XSD_STRING = URIRef(_XSD + "string")


def to_oxigraph(term: Node | Any) -> ox.NamedNode | ox.Literal | ox.BlankNode:
    """An rdflib term (or a plain Python value) as a pyoxigraph term."""
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        if term.datatype is not None and str(term.datatype) != _XSD + "string":
            return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
        return ox.Literal(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, (ox.NamedNode, ox.Literal, ox.BlankNode)):
        return term
    if isinstance(term, bool):
        return ox.Literal("true" if term else "false", datatype=ox.NamedNode(_XSD + "boolean"))
    if isinstance(term, int):
        return ox.Literal(str(term), datatype=ox.NamedNode(_XSD + "integer"))
    if isinstance(term, float):
        return ox.Literal(repr(term), datatype=ox.NamedNode(_XSD + "double"))
    if isinstance(term, str):
        return ox.Literal(term)
    raise TypeError(f"cannot bind a {type(term).__name__} in SPARQL")


_NUMERIC = {_XSD + t for t in ("integer", "int", "long", "short", "nonNegativeInteger", "positiveInteger")}
_FLOAT = {_XSD + t for t in ("double", "float", "decimal")}


def from_oxigraph(term: Any) -> Any:
    """A pyoxigraph term as a plain Python value: IRIs and strings as ``str``, numbers and booleans as such."""
    if term is None:
        return None
    if isinstance(term, ox.Literal):
        dt = term.datatype.value
        v = term.value
        try:
            if dt in _NUMERIC:
                return int(v)
            if dt in _FLOAT:
                return float(v)
            if dt == _XSD + "boolean":
                return v in ("true", "1")
        except ValueError:
            return v
        return v
    if isinstance(term, (ox.NamedNode, ox.BlankNode)):
        return term.value
    return str(term)


# ---------------------------------------------------------------- read-only checks

# A SERVICE keyword as the grammar has it: not part of a name, then an IRI, a variable or a prefixed name
# (comments and SILENT between).  Looked for in the text as well as in the parse, so that a query another
# parser would read differently from rdflib's is refused rather than run.
_GAP = r"(?:\s|#[^\n]*(?:\n|$))+"
_SERVICE_TEXT_RE = re.compile(
    r"(?<![\w:\-\\])SERVICE" + _GAP + r"(?:SILENT" + _GAP + r")?(?:<|[?$]|[^\W\d][\w.\-]*:|:)", re.IGNORECASE)
_UPDATE_WORDS = ("INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY", "MOVE", "ADD", "WITH")


def check_read_only_query(sparql: str) -> None:
    """Raise :class:`QueryRefusedError` for updates, SERVICE calls and FROM graphs; :class:`QueryError` for
    a query that does not parse.

    The decision is taken on the query's algebra as rdflib's SPARQL parser builds it, not on its words.

    >>> check_read_only_query("SELECT * WHERE { ?s ?p ?o }")
    >>> check_read_only_query("DELETE WHERE { ?s ?p ?o }")
    Traceback (most recent call last):
    ...
    kg.errors.QueryRefusedError: SPARQL updates (DELETE) are refused: the graph is read-only; rebuild it with 'kg build'
    """
    from pyparsing import ParseException
    from rdflib.plugins.sparql.algebra import translateQuery
    from rdflib.plugins.sparql.parser import expandUnicodeEscapes, parseQuery, parseUpdate

    try:
        parsed = parseQuery(sparql)
    except ParseException as err:
        try:
            update = parseUpdate(sparql)
        except (ParseException, ValueError, TypeError):
            raise QueryError(f"the SPARQL query does not parse (kg reads every query with rdflib's parser before it "
                             f"runs): {err.msg} (line {err.lineno}, column {err.col})") from None
        verbs = [r.name for r in update.get("request", ())]
        verb = next((w for w in _UPDATE_WORDS if verbs and verbs[0].upper().startswith(w)), "an update")
        raise QueryRefusedError(
            f"SPARQL updates ({verb}) are refused: the graph is read-only; rebuild it with 'kg build'") from None
    except (ValueError, TypeError) as err:
        raise QueryError(f"the SPARQL query does not parse: {err}") from None
    if "datasetClause" in parsed[1]:
        raise QueryRefusedError(
            "FROM/FROM NAMED is refused: kg does not load graphs; "
            "query the named graphs of this store with GRAPH instead")
    try:
        query = translateQuery(parsed, initNs=PREFIXES)
    except Exception as err:  # noqa: BLE001 - rdflib raises plain Exception for an unknown prefix
        raise QueryError(f"the SPARQL query does not parse: {err}") from None
    if "ServiceGraphPattern" in _algebra_names(query.algebra):
        raise QueryRefusedError("SERVICE is refused: kg does not call other SPARQL endpoints")
    if _SERVICE_TEXT_RE.search(expandUnicodeEscapes(sparql)):
        raise QueryRefusedError(
            "SERVICE is refused: the query's text holds 'SERVICE' before an IRI or a variable; kg does not call "
            "other SPARQL endpoints (reword a string or comment that says it)")


def _algebra_names(node: Any) -> set[str]:
    from rdflib.plugins.sparql.parserutils import CompValue

    names: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, CompValue):
            names.add(n.name)
            stack.extend(n.values())
        elif isinstance(n, (list, tuple)):
            stack.extend(n)
    return names


# ---------------------------------------------------------------- the embedded store


def _generations(root: Path) -> list[Path]:
    gens = [p for p in root.iterdir() if p.is_dir() and _GEN_RE.match(p.name)] if root.is_dir() else []
    return sorted(gens, key=lambda p: int(_GEN_RE.match(p.name).group(1)))


def _current(root: Path) -> Path | None:
    try:
        name = (root / "CURRENT").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not _GEN_RE.match(name) or not (root / name).is_dir():
        return None
    return root / name


def _check_current(root: Path) -> None:
    """Raise :class:`StoreDamagedError` when ``CURRENT`` is there but names no generation that is there."""
    path = root / "CURRENT"
    if not path.exists():
        return
    try:
        name = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as err:
        raise damage_error(f"CURRENT cannot be read ({err})", path, root) from None
    if not _GEN_RE.match(name):
        raise damage_error(f"CURRENT should name the live generation but holds {name[:40]!r}", path, root)
    if not (root / name).is_dir():
        raise damage_error(f"CURRENT names {name}, which is not there", path, root)


class EmbeddedStore:
    """A read-only view of the live generation of an on-disk store.

    It notices a build that switched generations and reopens (``refresh``),
    so a long-running server answers from the newest complete graph.
    """

    def __init__(self, location: str | os.PathLike[str] = DEFAULT_STORE):
        self.root = Path(location)
        self.location = str(self.root)
        self._gen: Path | None = None
        self._store: ox.Store | None = None
        self._checked = 0.0
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> bool:
        """Reopen if a newer generation went live; return whether it did."""
        now = time.monotonic()
        if not force and now - self._checked < 0.2:
            return False
        self._checked = now
        gen = _current(self.root)
        if gen is None:
            if not self.root.exists():
                raise StoreNotFoundError(
                    "no kg store here; build one first with 'kg build NOTES --store DIR'", path=self.location)
            _check_current(self.root)
            raise StoreNotFoundError("the folder holds no built graph; run 'kg build NOTES --store DIR'",
                                     path=self.location)
        if gen == self._gen and self._store is not None:
            return False
        verify_generation(gen)
        try:
            with reading(gen):
                store = ox.Store.read_only(str(gen))
        except OSError as err:
            raise StoreError(f"cannot open the store ({err}); rebuild it with 'kg build'", path=str(gen)) from None
        except RuntimeError as err:  # RocksDB's other complaints
            raise StoreError(f"cannot open the store ({str(err)[:300]}); rebuild it with 'kg build --force'",
                             path=str(gen)) from None
        self._store, self._gen = store, gen
        return True

    def live_name(self) -> str | None:
        """The name of the live generation as ``CURRENT`` says now (one small read; nothing is opened)."""
        gen = _current(self.root)
        return gen.name if gen is not None else None

    @property
    def oxigraph(self) -> ox.Store:
        self.refresh()
        assert self._store is not None
        return self._store

    def generation(self) -> str:
        self.refresh()
        return self._gen.name if self._gen else ""

    def _run(self, sparql: str, bindings: Mapping[str, Any] | None):
        subs = {ox.Variable(k): to_oxigraph(v) for k, v in (bindings or {}).items()}
        try:
            with reading(self):
                return self.oxigraph.query(sparql, use_default_graph_as_union=True, prefixes=PREFIXES,
                                           substitutions=subs or None)
        except SyntaxError as err:
            raise QueryError(f"the SPARQL query does not parse: {err}") from None
        except (RuntimeError, ValueError, OSError) as err:
            raise QueryError(f"the SPARQL query failed: {err}") from None

    def select(self, sparql: str, bindings: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a SELECT; rows as dicts of plain Python values.

        Bound variables must appear in the SELECT projection (Oxigraph
        substitutes projected variables only).
        """
        result = self._run(sparql, bindings)
        if isinstance(result, ox.QueryBoolean):
            return [{"result": bool(result)}]
        if not isinstance(result, ox.QuerySolutions):
            raise QueryError("select() takes a SELECT query; use construct() for CONSTRUCT/DESCRIBE")
        names = [v.value for v in result.variables]
        with reading(self):
            return [{n: from_oxigraph(sol[n]) for n in names} for sol in result]

    def ask(self, sparql: str, bindings: Mapping[str, Any] | None = None) -> bool:
        result = self._run(sparql, bindings)
        if not isinstance(result, ox.QueryBoolean):
            raise QueryError("ask() takes an ASK query")
        return bool(result)

    def query_bytes(self, sparql: str, fmt: str = "json", bindings: Mapping[str, Any] | None = None) -> tuple[bytes, str]:
        """Run any read-only query and serialise its result: ``(body, media type)``.

        ``fmt`` names a result format (json, xml, csv, tsv) for SELECT/ASK and an
        RDF format (ttl, nt, jsonld, xml) for CONSTRUCT/DESCRIBE.
        """
        check_read_only_query(sparql)
        result = self._run(sparql, bindings)
        if isinstance(result, ox.QueryTriples):
            rdf_fmt, media, _ = RDF_FORMATS.get(fmt) or RDF_FORMATS["ttl"]
            if fmt in QUAD_FORMATS:
                rdf_fmt, media, _ = RDF_FORMATS["ttl"]
            with reading(self):
                return result.serialize(format=rdf_fmt), media
        if fmt not in RESULT_FORMATS:
            raise QueryError(f"unknown result format {fmt!r}; use one of {', '.join(RESULT_FORMATS)}")
        res_fmt, media = RESULT_FORMATS[fmt]
        with reading(self):
            return result.serialize(format=res_fmt), media

    def dump(self, fmt: str = "ttl", graph: str | None = None, output: Any = None) -> bytes | None:
        """The whole graph (or one named graph) serialised; triple formats get the union of all graphs.

        With ``output`` (a binary file) it is written there, a piece at a time, and None returned.
        """
        if fmt not in RDF_FORMATS:
            raise StoreError(f"unknown RDF format {fmt!r}; use one of {', '.join(sorted(RDF_FORMATS))}")
        rdf_fmt = RDF_FORMATS[fmt][0]
        store = self.oxigraph
        with reading(self):
            if graph is not None:
                node = ox.NamedNode(graph)
                if not store.contains_named_graph(node):
                    from kg.errors import NotFoundError

                    raise NotFoundError(f"no graph {graph} in the store")
                if fmt in QUAD_FORMATS:
                    quads = store.quads_for_pattern(None, None, None, node)
                    return ox.serialize(quads, output, format=rdf_fmt)
                return store.dump(output, format=rdf_fmt, from_graph=node)
            if fmt in QUAD_FORMATS:
                return store.dump(output, format=rdf_fmt)
            triples = store.query("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }", use_default_graph_as_union=True)
            return triples.serialize(output, format=rdf_fmt)

    def note_hashes(self) -> dict[str, str]:
        return _note_hashes(self)

    def meta(self) -> dict[str, str]:
        """Build metadata (kg version, settings fingerprint, build time)."""
        with reading(self):
            quads = self.oxigraph.quads_for_pattern(None, None, None, ox.NamedNode(str(META_GRAPH)))
            return {q.predicate.value.rsplit("#", 1)[-1]: q.object.value for q in quads}

    def named_graphs(self) -> list[str]:
        with reading(self):
            return sorted(g.value for g in self.oxigraph.named_graphs())

    def __len__(self) -> int:
        with reading(self):
            return len(self.oxigraph)


def _note_hashes(store: GraphStore) -> dict[str, str]:
    rows = store.select(
        "SELECT ?path ?sha WHERE { ?n a kg:Note ; kg:path ?path ; kg:sha256 ?sha }")
    return {r["path"]: r["sha"] for r in rows}


class _NotText(Exception):
    """A term that N-Quads text would not carry as pyoxigraph would (the graph goes as terms instead)."""


_ESCAPE = str.maketrans({**{c: f"\\u{c:04X}" for c in (*range(0x20), 0x7F)},
                         **{"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}})


def _nq_iri(iri: str, cache: dict) -> str:
    text = cache.get(iri)
    if text is None:
        try:
            ox.NamedNode(iri)  # the same check as for a term: an IRI N-Quads could not carry raises here
        except ValueError:
            raise _NotText(iri) from None
        text = cache[iri] = f"<{iri}>"  # (not "<" + iri: rdflib's URIRef + str makes a URIRef)
    return text


def _nq_term(term: Any, cache: dict) -> str:
    kind = type(term)
    if kind is URIRef:
        return _nq_iri(term, cache)
    if kind is Literal:
        lexical = f'"{str.translate(term, _ESCAPE)}"'
        if term.language:
            return lexical + "@" + term.language
        datatype = term.datatype
        if datatype is not None and datatype != _XSD_STRING:
            return lexical + "^^" + _nq_iri(datatype, cache)
        return lexical
    raise _NotText(term)  # blank nodes, plain values: as terms


def _nquads(triples: list, graph: str, cache: dict) -> bytes:
    """``triples`` (rdflib IRIs and literals) as N-Quads lines in the graph ``graph`` ("<iri> .\\n")."""
    out = []
    iri = cache.get
    for s, p, o in triples:
        out.append(f"{iri(s) or _nq_term(s, cache)} {iri(p) or _nq_term(p, cache)} "
                   f"{(iri(o) if type(o) is URIRef else None) or _nq_term(o, cache)} {graph}")
    try:
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        raise _NotText("text that is not Unicode") from None


class _Loader:
    """Bulk loads into a store, one after another in a thread of their own.

    Oxigraph lets go of the GIL while it writes, and writing costs about as much as everything else a build
    does (some 8 µs a quad, in one thread whatever the API), so the build goes on while its quads are
    written.  A failure is kept and raised by the next :meth:`wait`.
    """

    def __init__(self, store: ox.Store, where: Path):
        import threading

        self._store = store
        self._where = where
        self._queue: Any = None
        self._thread: Any = None
        self._error: BaseException | None = None
        self._state = threading.Condition()
        self._busy = False  # in Oxigraph's code
        self._paused = 0

    def submit(self, quads: list[ox.Quad] | bytes) -> None:
        if self._thread is None:
            import queue
            import threading

            self._queue = queue.Queue()
            self._thread = threading.Thread(target=self._work, name="kg-store-loader", daemon=True)
            self._thread.start()
        self._queue.put(quads)

    def _work(self) -> None:
        while True:
            quads = self._queue.get()
            with self._state:
                while self._paused:
                    self._state.wait()
                self._busy = True
            try:
                if quads is None:
                    return
                if self._error is None:
                    if isinstance(quads, bytes):
                        self._store.bulk_load(quads, format=ox.RdfFormat.N_QUADS)
                    else:
                        self._store.bulk_extend(quads)
            except BaseException as err:  # noqa: BLE001  raised in the build's thread by wait()
                self._error = err
            finally:
                del quads
                with self._state:
                    self._busy = False
                    self._state.notify_all()
                self._queue.task_done()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """A block in which the thread is not writing: it finishes the load it is in, and starts the next only
        after the block."""
        with self._state:
            self._paused += 1
            while self._busy:
                self._state.wait()
        try:
            yield
        finally:
            with self._state:
                self._paused -= 1
                self._state.notify_all()

    def wait(self) -> None:
        if self._queue is not None:
            self._queue.join()
        if self._error is not None:
            err, self._error = self._error, None
            raise StoreError(f"writing the graph failed ({err}); check the disk space and rebuild",
                             path=str(self._where)) from err

    def close(self, discard: bool = False) -> None:
        """Stop the thread once it has written what it has, or with ``discard`` once the load it is in ends
        (its errors are dropped: for commit, which waited first, and abort)."""
        if discard and self._thread is not None:
            self._error = self._error or StoreError("discarded")  # what is still queued is skipped
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        self._store = None  # the writer closes the store by dropping it


class StoreWriter:
    """A new generation being written; live only after :meth:`commit`."""

    BATCH = 100_000  # quads handed to the loader at a time

    def __init__(self, root: Path, target: Path, store: ox.Store, lock_fd: int, live: Path | None = None,
                 empty: bool = False):
        self.root = root
        self.target = target
        self.live = live  # the generation that was live when this one started
        self.empty = empty  # started empty (not from a copy of the live one)
        self._store = store
        self._lock_fd = lock_fd
        self._pending: list[ox.Quad] = []
        self._pending_text: list[bytes] = []  # N-Quads, one string a graph
        self._pending_size = 0  # quads in both
        self._pending_graphs: set[str] = set()
        self._loading_graphs: set[str] = set()  # handed to the loader, maybe not written yet
        self._loader = _Loader(store, target)
        self._term_cache: dict[Node, Any] = {}
        self._text_cache: dict[Node, str] = {}
        self.committed = False

    @property
    def oxigraph(self) -> ox.Store:
        """The generation's pyoxigraph store, with everything added so far written to it."""
        self.sync()
        return self._store

    def note_hashes(self) -> dict[str, str]:
        self.sync()
        rows = self._store.query(
            "SELECT ?path ?sha WHERE { ?n a kg:Note ; kg:path ?path ; kg:sha256 ?sha }",
            use_default_graph_as_union=True, prefixes=PREFIXES)
        return {r["path"].value: r["sha"].value for r in rows}

    def select(self, sparql: str, bindings: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        self.sync()
        subs = {ox.Variable(k): to_oxigraph(v) for k, v in (bindings or {}).items()}
        result = self._store.query(sparql, use_default_graph_as_union=True, prefixes=PREFIXES,
                                   substitutions=subs or None)
        names = [v.value for v in result.variables]
        return [{n: from_oxigraph(sol[n]) for n in names} for sol in result]

    def replace_graph(self, graph: str, triples: Iterable[tuple[Node, Node, Node]]) -> None:
        """Replace a named graph by ``triples`` (rdflib terms).

        Additions are buffered and written in bulk; removals happen at once.
        """
        self._settle_graph(graph)
        node = ox.NamedNode(graph)
        if self._store.contains_named_graph(node):
            self._store.remove_graph(node)
        triples = list(triples)
        # as N-Quads text where every term allows (Oxigraph then parses and writes without the GIL), else
        # as pyoxigraph terms
        try:
            text = _nquads(triples, _nq_iri(graph, self._text_cache) + " .\n", self._text_cache)
        except _NotText:
            text = None
        if text is not None:
            self._pending_text.append(text)
            self._pending_size += len(triples)
        else:
            self._add_as_terms(node, triples)
        if len(self._text_cache) > 200_000:
            self._text_cache.clear()
        self._pending_graphs.add(graph)
        if self._pending_size >= self.BATCH:
            self.flush()

    def _add_as_terms(self, node: ox.NamedNode, triples: list[tuple[Node, Node, Node]]) -> None:
        cache = self._term_cache
        quads = self._pending
        for s, p, o in triples:
            # IRIs repeat a lot (predicates, classes, the note): convert each once
            ts = cache.get(s) if type(s) is URIRef else None
            if ts is None:
                ts = to_oxigraph(s)
                if type(s) is URIRef:
                    cache[s] = ts
            tp = cache.get(p)
            if tp is None:
                tp = cache[p] = to_oxigraph(p)
            to = cache.get(o) if type(o) is URIRef else None
            if to is None:
                to = to_oxigraph(o)
                if type(o) is URIRef and len(cache) < 200_000:
                    cache[o] = to
            quads.append(ox.Quad(ts, tp, to, node))
        if len(cache) > 200_000:
            cache.clear()
        self._pending_size += len(triples)

    def replace_note(self, path: str, triples: Iterable[tuple[Node, Node, Node]]) -> None:
        self.replace_graph(str(note_graph(path)), triples)

    def copy_graph_from_live(self, graph: str) -> None:
        """Copy a named graph as the live generation holds it (a generation started empty keeps a note that
        failed to read this time with its last good graph)."""
        if self.live is None:
            return
        node = ox.NamedNode(graph)
        before = len(self._pending)
        self._pending.extend(ox.Store.read_only(str(self.live)).quads_for_pattern(None, None, None, node))
        self._pending_size += len(self._pending) - before
        self._pending_graphs.add(graph)

    def remove_note(self, path: str) -> None:
        self.remove_graph(str(note_graph(path)))

    def remove_graph(self, graph: str) -> None:
        self._settle_graph(graph)
        node = ox.NamedNode(graph)
        if self._store.contains_named_graph(node):
            self._store.remove_graph(node)

    def _settle_graph(self, graph: str) -> None:
        # a graph's quads are written before the graph is removed or replaced
        if graph in self._pending_graphs or graph in self._loading_graphs:
            self.sync()

    def load(self, quads: list[ox.Quad] | bytes) -> None:
        """Add quads in bulk, in the background (see :meth:`flush`): pyoxigraph ``Quad`` objects, or N-Quads
        text (UTF-8), which is written without holding the GIL."""
        self.flush()
        self._loader.submit(quads)

    def flush(self) -> None:
        """Hand what was added so far to the loader thread, which writes it while the build goes on;
        :meth:`sync` waits until it is written."""
        if self._pending:
            self._loader.submit(self._pending)
            self._pending = []
        if self._pending_text:
            self._loader.submit(b"".join(self._pending_text))
            self._pending_text = []
        self._pending_size = 0
        self._loading_graphs |= self._pending_graphs
        self._pending_graphs.clear()

    def quiet(self) -> Any:
        """A context in which no thread of this writer is in Oxigraph's code, for forking a child: Oxigraph
        starts threads while it writes, and a child forked meanwhile can wait forever on a lock it copied."""
        return self._loader.paused()

    def sync(self) -> None:
        """Write everything added so far; raises :class:`StoreError` if writing failed."""
        self.flush()
        self._loader.wait()
        self._loading_graphs.clear()

    def commit(self, optimize: bool = False) -> None:
        """Make this generation the live one (atomic), and drop old generations.

        ``optimize`` compacts the store first: worth it after large builds.
        """
        self.sync()
        self._loader.close()
        self._store.flush()
        if optimize:
            self._store.optimize()
        # the store closes when its last reference goes: only then are its files final and can be listed
        closed = sys.getrefcount(self._store) <= 2  # this attribute and getrefcount's argument
        del self._store
        self._store = None  # type: ignore[assignment]
        if closed:
            write_checksums(self.target, previous=None if self.empty else self.live)
        tmp = self.root / "CURRENT.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(self.target.name + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.root / "CURRENT")
        dir_fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self.committed = True
        _drop_old_generations(self.root)

    def abort(self) -> None:
        self._pending, self._pending_text = [], []
        self._loader.close(discard=True)  # the generation is thrown away: what is queued need not be written
        if self._store is not None:
            del self._store
            self._store = None  # type: ignore[assignment]
        shutil.rmtree(self.target, ignore_errors=True)

    def release(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1


def _drop_old_generations(root: Path) -> None:
    live = _current(root)
    gens = _generations(root)
    keep = {live} if live else set()
    older = [g for g in gens if live is None or int(_GEN_RE.match(g.name).group(1)) < int(_GEN_RE.match(live.name).group(1))]
    keep.update(older[-(_KEEP_GENERATIONS - 1):] if _KEEP_GENERATIONS > 1 else [])
    for g in gens:
        if g not in keep:
            shutil.rmtree(g, ignore_errors=True)


@contextmanager
def write_store(location: str | os.PathLike[str] = DEFAULT_STORE, *, empty: bool = False,
                live_view: EmbeddedStore | None = None, set_aside_damaged: bool = False) -> Iterator[StoreWriter]:
    """Open a new generation of the store at ``location`` for writing.

    The block's changes go live when it calls ``commit()``; if it raises or
    never commits, the new generation is thrown away and the live one stays.
    Only one build at a time: a second raises :class:`StoreLockedError`.
    The new generation starts as a copy of the live one, or ``empty`` (for a
    build that rewrites everything: replacing every graph of a copy costs far
    more than writing into an empty store).
    ``live_view``, a read-only view of the same store the caller has open, is copied from when it shows the
    generation that is live once the lock is held (opening the generation again costs a tenth of a second
    while extraction workers start).
    A damaged live generation (kg.integrity) raises :class:`StoreDamagedError`, or with ``set_aside_damaged``
    is renamed ``damaged-gen-...`` and the new generation starts empty.
    An http(s) URL writes into a SPARQL 1.1 server instead (:mod:`kg.remote`).
    """
    if str(location).startswith(("http://", "https://")):
        from kg import remote  # a SPARQL 1.1 server

        with remote.write_remote(str(location)) as remote_writer:
            yield remote_writer  # type: ignore[misc]
        return
    root = Path(location)
    if root.exists() and not root.is_dir():
        raise StoreError("the store location is a file, not a folder; choose another --store", path=str(root))
    if root.is_dir() and any(root.iterdir()) and not (root / "CURRENT").exists() and not _generations(root) \
            and not (root / ".lock").exists():
        raise StoreError("the folder is not empty and is not a kg store; choose another --store", path=str(root))
    root.mkdir(parents=True, exist_ok=True)
    lock_fd = os.open(root / ".lock", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock_fd)
        raise StoreLockedError("another kg build is writing this store; wait for it to finish",
                               path=str(root)) from None
    try:
        live = _live_for_writing(root, set_aside_damaged)
        # generations that never went live were left by a killed build
        for g in _generations(root):
            if live is None or int(_GEN_RE.match(g.name).group(1)) > int(_GEN_RE.match(live.name).group(1)):
                shutil.rmtree(g, ignore_errors=True)
        gens = _generations(root)
        n = int(_GEN_RE.match(gens[-1].name).group(1)) + 1 if gens else 1
        target = root / f"gen-{n:06d}"
        try:
            if live is not None and not empty:
                with reading(live):
                    if live_view is not None and live_view._store is not None and \
                            live_view._gen.resolve() == live.resolve():
                        live_view._store.backup(str(target))
                    else:
                        ox.Store.read_only(str(live)).backup(str(target))
            store = ox.Store(str(target))
        except OSError as err:
            shutil.rmtree(target, ignore_errors=True)
            raise StoreError(f"cannot create a new generation ({err})", path=str(target)) from None
        except RuntimeError as err:
            shutil.rmtree(target, ignore_errors=True)
            raise StoreError(f"cannot create a new generation ({str(err)[:300]})", path=str(target)) from None
        writer = StoreWriter(root, target, store, lock_fd, live=live, empty=empty and live is not None)
        del store  # the writer holds the only reference: the store closes when it lets go (commit)
    except BaseException:
        os.close(lock_fd)
        raise
    try:
        yield writer
    except BaseException:
        writer.abort()
        raise
    finally:
        if not writer.committed and writer.target.exists():
            writer.abort()
        writer.release()


def _live_for_writing(root: Path, set_aside_damaged: bool) -> Path | None:
    """The live generation a build starts from, checked whole; a damaged one is set aside (or refused)."""
    import logging

    from kg.errors import StoreDamagedError

    try:
        _check_current(root)
        live = _current(root)
        if live is not None:
            verify_generation(live)
            if not (live / CHECKSUM_FILE).exists():  # built by an older kg: ask RocksDB
                with reading(live):
                    ox.Store.read_only(str(live))
        return live
    except StoreDamagedError:
        if not set_aside_damaged:
            raise
        live = _current(root)
        if live is not None:
            where = set_aside(live)
            logging.getLogger("kg.store").warning("set the damaged generation aside as %s", where.name)
        if (root / "CURRENT").exists():
            os.replace(root / "CURRENT", root / f"damaged-CURRENT-{time.strftime('%Y%m%d-%H%M%S')}")
        return None


def open_store(location: str | os.PathLike[str] = DEFAULT_STORE) -> GraphStore:
    """Open a built store for reading: a folder (embedded Oxigraph) or a SPARQL server URL (:mod:`kg.remote`)."""
    loc = str(location)
    if loc.startswith(("http://", "https://")):
        from kg import remote  # a SPARQL 1.1 server

        return remote.RemoteStore(loc)
    return EmbeddedStore(loc)
