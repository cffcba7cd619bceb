"""A graph kept in a SPARQL 1.1 server (Oxigraph server, Fuseki, Virtuoso, ...) instead of a folder.

``--store http://127.0.0.1:7878`` (the server base) or ``--store http://127.0.0.1:7878/query`` (its query
endpoint): kg derives ``/query`` (SPARQL 1.1 Protocol, query), ``/update`` (SPARQL 1.1 Update) and ``/store``
(Graph Store Protocol) from it.

Reading (:class:`RemoteStore`) has the same API as :class:`kg.store.EmbeddedStore`.  Parameters are bound
by appending a ``VALUES`` clause built from N-Triples serialisations of the terms (escaped by pyoxigraph,
IRIs validated), never by pasting user text into the query.  Queries ask for the union of all named graphs as
the default graph (Oxigraph's ``union-default-graph`` parameter; other servers must be configured so, e.g.
Fuseki's ``tdb2:unionDefaultGraph true``; Virtuoso and QLever do it by default).

Writing (:class:`RemoteWriter`, what :func:`kg.store.write_store` returns for a URL) has the methods of
:class:`kg.store.StoreWriter`.  Note graphs are replaced with batched SPARQL Update requests (``DROP SILENT
GRAPH`` + ``INSERT DATA``; each request is one transaction on Oxigraph).  A remote build is not atomic as a
whole the way the embedded store's generations are: readers may see some notes new and some old while it
runs.  What keeps it safe is the order: the first write removes the build fingerprint from the meta graph,
and ``commit`` writes the meta graph (with a fresh build id, the store's ``generation()``) last.  A build
that fails half-way therefore leaves no fingerprint, and the next build redoes every note and the links.
A lock graph keeps two builds from writing the same server at once.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pyoxigraph as ox
from rdflib.term import Node

from kg.errors import (
    NotFoundError,
    QueryError,
    QueryTimeoutError,
    StoreError,
    StoreLockedError,
    StoreNotFoundError,
)
from kg.store import (
    PREFIXES,
    QUAD_FORMATS,
    RDF_FORMATS,
    RESULT_FORMATS,
    _note_hashes,
    check_read_only_query,
    from_oxigraph,
    to_oxigraph,
)
from kg.vocab import ID_NS, META_GRAPH, note_graph

__all__ = ["RemoteStore", "RemoteWriter", "endpoints", "sparql_term", "values_clause", "write_remote"]

#: the graph holding the build lock while a build writes the server
LOCK_GRAPH = ID_NS + "graph/lock"
_DCT_IDENTIFIER = "http://purl.org/dc/terms/identifier"
_KG = PREFIXES["kg"]
_BUILD_NODE = str(META_GRAPH) + "#build"
_LOCK_NODE = LOCK_GRAPH + "#lock"

_VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PREFIX_DECL_RE = re.compile(r"\bPREFIX\s+([A-Za-z][\w.-]*)?\s*:", re.IGNORECASE)
_SPARQL_RESULTS_JSON = "application/sparql-results+json"


# ---------------------------------------------------------------- URLs and terms


@dataclass(frozen=True)
class Endpoints:
    base: str
    query: str
    update: str
    store: str


def endpoints(url: str) -> Endpoints:
    """The query, update and Graph Store endpoints of a server, from its base URL or its query endpoint.

    >>> endpoints("http://127.0.0.1:7878/query").update
    'http://127.0.0.1:7878/update'
    >>> endpoints("http://127.0.0.1:7878/").store
    'http://127.0.0.1:7878/store'
    >>> endpoints("http://localhost:3030/ds/sparql").query
    'http://localhost:3030/ds/sparql'
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise StoreError("a remote store is an http(s) URL of a SPARQL server, e.g. http://127.0.0.1:7878",
                         path=url)
    path = parts.path.rstrip("/")
    query_path = None
    for suffix in ("/query", "/sparql"):
        if path.endswith(suffix):
            query_path, path = path, path[: -len(suffix)]
            break

    def at(p: str) -> str:
        return urlunsplit((parts.scheme, parts.netloc, p, "", ""))

    return Endpoints(base=at(path or "/").rstrip("/"), query=at(query_path or path + "/query"),
                     update=at(path + "/update"), store=at(path + "/store"))


def sparql_term(value: Any) -> str:
    """A term in SPARQL/N-Triples syntax, escaped; IRIs are validated (a ``>`` or space cannot slip in).

    >>> sparql_term("say \\"hi\\"\\n")
    '"say \\\\"hi\\\\"\\\\n"'
    >>> sparql_term(3)
    '"3"^^<http://www.w3.org/2001/XMLSchema#integer>'
    >>> from rdflib import URIRef
    >>> sparql_term(URIRef("http://x/a> } ; DROP ALL #"))
    Traceback (most recent call last):
    ...
    kg.errors.QueryError: cannot bind an invalid IRI: Invalid IRI code point '>'
    """
    try:
        term = to_oxigraph(value)
    except ValueError as err:
        raise QueryError(f"cannot bind an invalid IRI: {err}") from None
    except TypeError as err:
        raise QueryError(str(err)) from None
    if isinstance(term, ox.BlankNode):
        raise QueryError("cannot bind a blank node in a query to a remote store")
    return str(term)


def values_clause(bindings: Mapping[str, Any]) -> str:
    """A trailing ``VALUES`` clause binding each variable to one term (``None`` → ``UNDEF``).

    >>> values_clause({"g": "x", "n": None})
    'VALUES (?g ?n) { ("x" UNDEF) }'
    """
    names, terms = [], []
    for name, value in bindings.items():
        if not _VAR_RE.match(name):
            raise QueryError(f"cannot bind {name!r}: not a SPARQL variable name")
        names.append("?" + name)
        terms.append("UNDEF" if value is None else sparql_term(value))
    return f"VALUES ({' '.join(names)}) {{ ({' '.join(terms)}) }}"


def _with_prefixes(sparql: str) -> str:
    """Prepend kg's default prefixes (the embedded store passes them to Oxigraph) the query does not declare."""
    declared = {(m.group(1) or "") for m in _PREFIX_DECL_RE.finditer(sparql)}
    head = "".join(f"PREFIX {p}: <{iri}>\n" for p, iri in PREFIXES.items() if p not in declared)
    return head + sparql


def _media(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


_RESULT_BY_MEDIA = {media: fmt for fmt, media in RESULT_FORMATS.values()}
_RESULT_BY_MEDIA["application/json"] = ox.QueryResultsFormat.JSON
_RDF_BY_MEDIA = {media: fmt for fmt, media, _ in RDF_FORMATS.values()}


# ---------------------------------------------------------------- reading


class RemoteStore:
    """A read view of a graph kept in a SPARQL 1.1 server (same API as :class:`kg.store.EmbeddedStore`)."""

    def __init__(self, url: str, *, timeout: float = 60.0, union_default_graph: bool = True,
                 client: httpx.Client | None = None):
        self.endpoints = endpoints(url)
        self.location = url
        self.union_default_graph = union_default_graph
        self.timeout = timeout
        self._client = client or httpx.Client(timeout=httpx.Timeout(timeout, connect=5.0), follow_redirects=True,
                                              trust_env=False)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RemoteStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def refresh(self, force: bool = False) -> bool:  # the server always answers from its current state
        return False

    # -- HTTP

    def _send(self, method: str, url: str, what: str, *, query_error: bool = False, **kw) -> httpx.Response:
        try:
            resp = self._client.request(method, url, **kw)
        except httpx.TimeoutException:
            if query_error:
                raise QueryTimeoutError(f"the SPARQL server did not answer within {self.timeout:g} s ({what}); "
                                        "simplify the query or raise the server's time limit") from None
            raise StoreError(f"the SPARQL server did not answer within {self.timeout:g} s ({what}); "
                             "check that it is running and not overloaded", path=url) from None
        except httpx.ConnectError as err:
            raise StoreNotFoundError(
                f"cannot reach the SPARQL server ({what}: {err}); start it (e.g. 'oxigraph serve --location DIR "
                "--bind 127.0.0.1:7878') or fix the --store URL", path=url) from None
        except httpx.HTTPError as err:
            raise StoreError(f"HTTP request to the SPARQL server failed ({what}: {err}); check the --store URL",
                             path=url) from None
        if resp.status_code < 300:
            return resp
        detail = " ".join(resp.text.split())[:500] or resp.reason_phrase
        if resp.status_code in (401, 403):
            raise StoreError(f"the SPARQL server refused the {what} (HTTP {resp.status_code}: {detail}); "
                             "check the credentials and that the endpoint allows it", path=url)
        if resp.status_code == 404:
            raise StoreNotFoundError(f"no such endpoint for the {what} (HTTP 404: {detail}); --store takes the "
                                     "server base URL or its /query endpoint", path=url)
        if query_error and resp.status_code in (400, 422):
            raise QueryError(f"the SPARQL server rejected the query (HTTP {resp.status_code}): {detail}")
        raise StoreError(f"the SPARQL server answered the {what} with HTTP {resp.status_code}: {detail}", path=url)

    def _query(self, sparql: str, bindings: Mapping[str, Any] | None, accept: str) -> httpx.Response:
        text = _with_prefixes(sparql)
        if bindings:
            text = f"{text}\n{values_clause(bindings)}"
        params = {"union-default-graph": ""} if self.union_default_graph else None
        return self._send("POST", self.endpoints.query, "query", query_error=True, params=params, content=text.encode(),
                          headers={"Content-Type": "application/sparql-query; charset=utf-8", "Accept": accept})

    def update(self, sparql_update: str, what: str = "update") -> None:
        """Send a SPARQL Update (used by the writer; not exposed to users)."""
        self._send("POST", self.endpoints.update, what, content=sparql_update.encode(),
                   headers={"Content-Type": "application/sparql-update; charset=utf-8"})

    # -- the read API

    def _solutions(self, sparql: str, bindings: Mapping[str, Any] | None):
        resp = self._query(sparql, bindings, f"{_SPARQL_RESULTS_JSON}, application/json;q=0.5")
        media = _media(resp.headers.get("content-type", ""))
        if media not in (_SPARQL_RESULTS_JSON, "application/json"):
            raise QueryError(f"expected SPARQL results, the server sent {media or 'nothing'} "
                             "(select() takes SELECT/ASK queries)")
        try:
            return ox.parse_query_results(resp.content, format=ox.QueryResultsFormat.JSON)
        except (SyntaxError, ValueError) as err:
            raise StoreError(f"the SPARQL server sent results kg cannot read ({err})",
                             path=self.endpoints.query) from None

    def select(self, sparql: str, bindings: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a SELECT; rows as dicts of plain Python values (as :meth:`EmbeddedStore.select`)."""
        result = self._solutions(sparql, bindings)
        if isinstance(result, (bool, ox.QueryBoolean)):
            return [{"result": bool(result)}]
        names = [v.value for v in result.variables]
        return [{n: from_oxigraph(sol[n]) for n in names} for sol in result]

    def ask(self, sparql: str, bindings: Mapping[str, Any] | None = None) -> bool:
        result = self._solutions(sparql, bindings)
        if not isinstance(result, (bool, ox.QueryBoolean)):
            raise QueryError("ask() takes an ASK query")
        return bool(result)

    def query_bytes(self, sparql: str, fmt: str = "json", bindings: Mapping[str, Any] | None = None) -> tuple[bytes, str]:
        """Run a read-only query and return the server's serialisation: ``(body, media type)``.

        Content negotiation: ``fmt`` names a result format for SELECT/ASK and an RDF format for CONSTRUCT/DESCRIBE.
        """
        check_read_only_query(sparql)
        accept = []
        if fmt in RESULT_FORMATS:
            accept.append(RESULT_FORMATS[fmt][1])
        rdf = RDF_FORMATS["ttl"] if fmt in QUAD_FORMATS or fmt not in RDF_FORMATS else RDF_FORMATS[fmt]
        accept.append(rdf[1] + (";q=0.9" if accept else ""))
        resp = self._query(sparql, bindings, ", ".join(accept))
        media = _media(resp.headers.get("content-type", ""))
        if media in _RESULT_BY_MEDIA and fmt not in RESULT_FORMATS:
            raise QueryError(f"unknown result format {fmt!r}; use one of {', '.join(RESULT_FORMATS)}")
        if media == "application/json":
            media = _SPARQL_RESULTS_JSON
        return resp.content, media

    def _fetch_rdf(self, url: str, params: dict | None, accept: str, what: str) -> bytes:
        return self._send("GET", url, what, params=params, headers={"Accept": accept}).content

    def dump(self, fmt: str = "ttl", graph: str | None = None) -> bytes:
        """The whole graph (or one named graph) serialised; triple formats get the union of all graphs."""
        if fmt not in RDF_FORMATS:
            raise StoreError(f"unknown RDF format {fmt!r}; use one of {', '.join(sorted(RDF_FORMATS))}")
        rdf_fmt = RDF_FORMATS[fmt][0]
        if graph is not None:
            try:
                nt = self._fetch_rdf(self.endpoints.store, {"graph": graph}, "application/n-triples",
                                     "Graph Store read")
            except StoreNotFoundError as err:
                if "HTTP 404" in err.message and self._reachable():
                    raise NotFoundError(f"no graph {graph} in the store") from None
                raise
            triples = ox.parse(nt, format=ox.RdfFormat.N_TRIPLES)
            if fmt in QUAD_FORMATS:
                node = ox.NamedNode(graph)
                return ox.serialize((ox.Quad(t.subject, t.predicate, t.object, node) for t in triples),
                                    format=rdf_fmt)
            return ox.serialize(triples, format=rdf_fmt)
        if fmt in QUAD_FORMATS:
            body = self._query("SELECT ?s ?p ?o ?g WHERE { GRAPH ?g { ?s ?p ?o } }", None, _SPARQL_RESULTS_JSON)
            rows = ox.parse_query_results(body.content, format=ox.QueryResultsFormat.JSON)
            return ox.serialize((ox.Quad(r["s"], r["p"], r["o"], r["g"]) for r in rows), format=rdf_fmt)
        resp = self._query("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }", None, "application/n-triples")
        return ox.serialize(ox.parse(resp.content, format=ox.RdfFormat.N_TRIPLES), format=rdf_fmt)

    def _reachable(self) -> bool:
        try:
            self.ask("ASK {}")
            return True
        except StoreError:
            return False

    def note_hashes(self) -> dict[str, str]:
        return _note_hashes(self)

    # -- what code written against pyoxigraph's Store.query needs (kg.api reads through it)

    @property
    def oxigraph(self) -> RemoteStore:
        """Stands in for the embedded store's ``pyoxigraph.Store``: :meth:`query` answers like ``Store.query``."""
        return self

    def query(self, sparql: str, *, use_default_graph_as_union: bool = True, prefixes: Mapping[str, str] | None = None,
              substitutions: Mapping[Any, Any] | None = None, **_ignored: Any):
        """A SELECT/ASK as pyoxigraph ``QuerySolutions``/``QueryBoolean``; substitutions are bound with VALUES."""
        if prefixes:
            declared = {(m.group(1) or "") for m in _PREFIX_DECL_RE.finditer(sparql)}
            sparql = "".join(f"PREFIX {p}: <{iri}>\n" for p, iri in prefixes.items() if p not in declared) + sparql
        bindings = {getattr(k, "value", str(k)): v for k, v in (substitutions or {}).items()}
        return self._solutions(sparql, bindings or None)

    def meta(self) -> dict[str, str]:
        """Build metadata (kg version, settings fingerprint, build time, build id)."""
        rows = self.select(f"SELECT ?p ?o WHERE {{ GRAPH <{META_GRAPH}> {{ ?m ?p ?o }} }}")
        return {str(r["p"]).rsplit("#", 1)[-1].rsplit("/", 1)[-1]: str(r["o"]) for r in rows}

    def generation(self) -> str:
        """The id of the last complete build (kept in the meta graph); empty while none is."""
        rows = self.select(f"SELECT ?id WHERE {{ GRAPH <{META_GRAPH}> {{ <{_BUILD_NODE}> <{_DCT_IDENTIFIER}> ?id }} }}")
        return str(rows[0]["id"]) if rows else ""

    def named_graphs(self) -> list[str]:
        rows = self.select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")
        return sorted(r["g"] for r in rows if r["g"] != LOCK_GRAPH)

    def __len__(self) -> int:
        rows = self.select("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")
        return int(rows[0]["n"]) if rows else 0


# ---------------------------------------------------------------- writing


@dataclass(frozen=True)
class RemoteTarget:
    """What a remote build writes (``name`` is the build id that becomes the store's generation)."""

    name: str
    url: str


def _graph_block(graph: str, triples: Iterable[tuple[Node, Node, Node]]) -> tuple[str, int]:
    """``GRAPH <g> { ... }`` with the triples as N-Triples lines (escaped by pyoxigraph), and their count."""
    oxt = [ox.Triple(to_oxigraph(s), to_oxigraph(p), to_oxigraph(o)) for s, p, o in triples]
    if not oxt:
        return "", 0
    body = ox.serialize(oxt, format=ox.RdfFormat.N_TRIPLES).decode("utf-8")
    return f"GRAPH {ox.NamedNode(graph)} {{\n{body}}}", len(oxt)


class RemoteWriter:
    """Writes a build into a SPARQL server; the same methods as :class:`kg.store.StoreWriter`."""

    #: triples per SPARQL Update request
    batch_triples = 20_000

    def __init__(self, store: RemoteStore, build_id: str):
        self.store = store
        self.target = RemoteTarget(build_id, store.location)
        self._ops: list[str] = []
        self._pending_triples = 0
        self._meta: list[tuple[Node, Node, Node]] | None = None
        self._dirty = False
        self._locked = False
        self._beat = 0.0
        self.committed = False

    # -- lock

    def acquire(self, stale_after: float = 600.0) -> None:
        """Take the build lock (a triple in :data:`LOCK_GRAPH`); a lock not refreshed for ``stale_after`` s is taken over."""
        now = time.time()
        me = sparql_term(self.target.name)
        lock = f"<{_LOCK_NODE}>"
        self.store.update(
            f"DELETE {{ GRAPH <{LOCK_GRAPH}> {{ {lock} ?p ?o }} }} WHERE {{ GRAPH <{LOCK_GRAPH}> {{ {lock} <{_KG}heartbeat> ?t ; ?p ?o }}"
            f" FILTER(?t < {sparql_term(now - stale_after)}) }} ;\n"
            f"INSERT {{ GRAPH <{LOCK_GRAPH}> {{ {lock} <{_KG}heldBy> {me} ; <{_KG}heartbeat> {sparql_term(now)} }} }}"
            f" WHERE {{ FILTER NOT EXISTS {{ GRAPH <{LOCK_GRAPH}> {{ {lock} <{_KG}heldBy> ?other }} }} }}",
            "build lock")
        holders = sorted(r["h"] for r in self.store.select(
            f"SELECT ?h WHERE {{ GRAPH <{LOCK_GRAPH}> {{ <{_LOCK_NODE}> <{_KG}heldBy> ?h }} }}"))
        if holders and holders[0] == self.target.name:
            self._locked = True
            self._beat = now
            return
        if self.target.name in holders:  # lost a race: leave the lock to the other build
            self.store.update(f"DELETE DATA {{ GRAPH <{LOCK_GRAPH}> {{ {lock} <{_KG}heldBy> {me} }} }}", "build lock")
        raise StoreLockedError(
            f"another kg build ({', '.join(h for h in holders if h != self.target.name) or 'unknown'}) is writing "
            f"this server; wait for it to finish (a lock not refreshed for {stale_after:g} s is taken over, or "
            f"remove it with the SPARQL update 'DROP GRAPH <{LOCK_GRAPH}>')", path=self.store.location)

    def _heartbeat(self) -> None:
        now = time.time()
        if self._locked and now - self._beat > 30:
            self._beat = now
            self.store.update(
                f"DELETE {{ GRAPH <{LOCK_GRAPH}> {{ <{_LOCK_NODE}> <{_KG}heartbeat> ?t }} }}"
                f" INSERT {{ GRAPH <{LOCK_GRAPH}> {{ <{_LOCK_NODE}> <{_KG}heartbeat> {sparql_term(now)} }} }}"
                f" WHERE {{ GRAPH <{LOCK_GRAPH}> {{ <{_LOCK_NODE}> <{_KG}heartbeat> ?t }} }}", "build lock")

    def release(self) -> None:
        if self._locked:
            self._locked = False
            try:
                self.store.update(f"DROP SILENT GRAPH <{LOCK_GRAPH}>", "build lock release")
            except StoreError:
                pass  # a stale lock is taken over by the next build
        self.store.close()

    # -- the StoreWriter API

    def note_hashes(self) -> dict[str, str]:
        self.flush()
        return self.store.note_hashes()

    def select(self, sparql: str, bindings: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        self.flush()
        self._heartbeat()
        return self.store.select(sparql, bindings)

    def _mark_dirty(self) -> None:
        """Before the first change: drop the build fingerprint, so that a build that dies half-way is redone in full."""
        if not self._dirty:
            self._dirty = True
            self._ops.insert(0, f"DELETE WHERE {{ GRAPH <{META_GRAPH}> {{ ?b <{_KG}fingerprint> ?f }} }}")

    def replace_graph(self, graph: str, triples: Iterable[tuple[Node, Node, Node]]) -> None:
        """Replace a named graph by ``triples`` (rdflib terms); the meta graph is held back until :meth:`commit`."""
        if graph == str(META_GRAPH):
            self._meta = list(triples)
            return
        self._mark_dirty()
        block, n = _graph_block(graph, triples)
        self._ops.append(f"DROP SILENT GRAPH {ox.NamedNode(graph)}")
        if block:
            self._ops.append(f"INSERT DATA {{ {block} }}")
        self._pending_triples += n + 1
        if self._pending_triples >= self.batch_triples:
            self.flush()

    def replace_note(self, path: str, triples: Iterable[tuple[Node, Node, Node]]) -> None:
        self.replace_graph(str(note_graph(path)), triples)

    def remove_note(self, path: str) -> None:
        self.remove_graph(str(note_graph(path)))

    def remove_graph(self, graph: str) -> None:
        self._mark_dirty()
        self._ops.append(f"DROP SILENT GRAPH {ox.NamedNode(graph)}")
        self._pending_triples += 1

    def flush(self) -> None:
        if self._ops:
            ops, self._ops, self._pending_triples = self._ops, [], 0
            self.store.update(" ;\n".join(ops), "graph update")
            self._heartbeat()

    def commit(self, optimize: bool = False) -> None:
        """Write what is pending, then the meta graph (with this build's id) last.

        ``optimize`` is accepted for :class:`kg.store.StoreWriter` parity; compaction is the server's business.
        """
        from rdflib import Literal, URIRef

        self._mark_dirty()
        self.flush()
        meta = list(self._meta or [])
        meta.append((URIRef(_BUILD_NODE), URIRef(_DCT_IDENTIFIER), Literal(self.target.name)))
        block, _ = _graph_block(str(META_GRAPH), meta)
        self.store.update(f"DROP SILENT GRAPH <{META_GRAPH}> ;\nINSERT DATA {{ {block} }}", "meta graph update")
        self.committed = True

    def abort(self) -> None:
        """Drop what is not yet sent; what was sent stays (the missing fingerprint makes the next build redo it)."""
        self._ops, self._pending_triples, self._meta = [], 0, None


def _build_id() -> str:
    return time.strftime("build-%Y%m%dT%H%M%SZ-", time.gmtime()) + uuid.uuid4().hex[:8]


@contextmanager
def write_remote(url: str) -> Iterator[RemoteWriter]:
    """Write a build into the SPARQL server at ``url`` (see :func:`kg.store.write_store`)."""
    writer = RemoteWriter(RemoteStore(url), _build_id())
    try:
        writer.acquire()
    except BaseException:
        writer.store.close()
        raise
    try:
        yield writer
    except BaseException:
        writer.abort()
        raise
    finally:
        if not writer.committed:
            writer.abort()
        writer.release()
