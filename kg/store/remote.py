"""A graph kept in a SPARQL 1.1 server (Oxigraph server, Fuseki, Virtuoso, ...) instead of a folder.

``--store http://127.0.0.1:7878`` (the server base) or ``--store http://127.0.0.1:7878/query`` (its query
endpoint): kg derives ``/query`` (SPARQL 1.1 Protocol, query), ``/update`` (SPARQL 1.1 Update) and ``/store``
(Graph Store Protocol) from it.

Reading (:class:`RemoteStore`) has the same API as :class:`kg.store.EmbeddedStore` (the protocols of
:mod:`kg.store.base`, the only module of the package this one imports).  Parameters are bound
by appending a ``VALUES`` clause built from N-Triples serialisations of the terms (escaped by pyoxigraph,
IRIs validated), never by pasting user text into the query.  Queries ask for the union of all named graphs as
the default graph (Oxigraph's ``union-default-graph`` parameter; other servers must be configured so, e.g.
Fuseki's ``tdb2:unionDefaultGraph true``; Virtuoso and QLever do it by default).

Writing (:class:`kg.store.remote_writer.RemoteWriter`, what :func:`kg.store.write_store` returns for a URL)
is a :class:`kg.store.base.GraphWriter` whose ``local`` is False.  Note graphs are replaced with batched SPARQL Update requests (``DROP SILENT
GRAPH`` + ``INSERT DATA``; each request is one transaction on Oxigraph).  A remote build is not atomic as a
whole the way the embedded store's generations are: readers may see some notes new and some old while it
runs.  What keeps it safe is the order: the first write removes the build fingerprint from the meta graph,
and ``commit`` writes the meta graph (with a fresh build id, the store's ``generation()``) last.  A build
that fails half-way therefore leaves no fingerprint, and the next build redoes every note and the links.
A lock graph keeps two builds from writing the same server at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pyoxigraph as ox

from kg.errors import (
    NotFoundError,
    QueryError,
    QueryTimeoutError,
    StoreError,
    StoreNotFoundError,
)
from kg.store.base import (PREFIXES, QUAD_FORMATS, RDF_FORMATS, RESULT_FORMATS, check_read_only_query,
                           check_result_format, graph_format, rdf_format, read_note_hashes, solution_rows, to_oxigraph)
from kg.vocab import ID_NS, META_GRAPH

__all__ = ["LOCK_GRAPH", "BUILD_NODE", "DCT_IDENTIFIER", "RemoteStore", "RemoteSnapshot", "endpoints", "sparql_term",
           "values_clause"]

#: the graph holding the build lock while a build writes the server
LOCK_GRAPH = ID_NS + "graph/lock"
#: the predicate and subject of the build id in the meta graph (what generation() reads)
DCT_IDENTIFIER = "http://purl.org/dc/terms/identifier"
BUILD_NODE = str(META_GRAPH) + "#build"

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
        return solution_rows(self._solutions(sparql, bindings))

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
        rdf = graph_format(fmt)
        accept.append(rdf[1] + (";q=0.9" if accept else ""))
        resp = self._query(sparql, bindings, ", ".join(accept))
        media = _media(resp.headers.get("content-type", ""))
        if media in _RESULT_BY_MEDIA:
            check_result_format(fmt)
        if media == "application/json":
            media = _SPARQL_RESULTS_JSON
        return resp.content, media

    def _fetch_rdf(self, url: str, params: dict | None, accept: str, what: str) -> bytes:
        return self._send("GET", url, what, params=params, headers={"Accept": accept}).content

    def dump(self, fmt: str = "ttl", graph: str | None = None) -> bytes:
        """The whole graph (or one named graph) serialised; triple formats get the union of all graphs."""
        rdf_fmt = rdf_format(fmt)
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
        return read_note_hashes(self.select)

    def snapshot(self) -> RemoteSnapshot:
        """The server's graph under the id of its last complete build (a server answers from its current
        state: a build that writes it meanwhile is seen at once)."""
        return RemoteSnapshot(self, self.generation())

    def open_name(self) -> str | None:  # nothing is held open: ask generation()
        return None

    def meta(self) -> dict[str, str]:
        """Build metadata (kg version, settings fingerprint, build time, build id)."""
        rows = self.select(f"SELECT ?p ?o WHERE {{ GRAPH <{META_GRAPH}> {{ ?m ?p ?o }} }}")
        return {str(r["p"]).rsplit("#", 1)[-1].rsplit("/", 1)[-1]: str(r["o"]) for r in rows}

    def generation(self) -> str:
        """The id of the last complete build (kept in the meta graph); empty while none is."""
        rows = self.select(f"SELECT ?id WHERE {{ GRAPH <{META_GRAPH}> {{ <{BUILD_NODE}> <{DCT_IDENTIFIER}> ?id }} }}")
        return str(rows[0]["id"]) if rows else ""

    def named_graphs(self) -> list[str]:
        rows = self.select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")
        return sorted(r["g"] for r in rows if r["g"] != LOCK_GRAPH)

    def __len__(self) -> int:
        rows = self.select("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")
        return int(rows[0]["n"]) if rows else 0


@dataclass(frozen=True)
class RemoteSnapshot:
    """The graph of a SPARQL server as a :class:`kg.store.base.StoreSnapshot` (no folder of its own)."""

    store: RemoteStore
    generation: str
    folder: Path | None = None

    def select(self, sparql: str, bindings: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return self.store.select(sparql, bindings)

    def select_tuples(self, sparql: str) -> Iterator[tuple[Any, ...]]:
        return (tuple(row.values()) for row in self.store.select(sparql))
