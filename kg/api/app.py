"""The HTTP server: one starlette app over a built store.

====================================  =====================================================
``/``, ``/search?q=``                 the front page and its entity search (kg.web.pages)
``/graphql``                          GraphQL, GET and POST (GraphiQL in a browser unless production)
``/sparql``                           SPARQL 1.1 Protocol, query operation only (GET, POST form,
                                      POST application/sparql-query); results negotiated; the SPARQL
                                      editor for a browser's GET without a query (unless production)
``/assets/{name}``                    the pages' vendored scripts and styles (kg.web.assets)
``/dump.{ext}``                       the whole graph (or ``?note=PATH`` / ``?graph=IRI``):
                                      ttl, nt, nq, trig, jsonld
``/rdf-graph-store?graph=IRI``        Graph Store Protocol GET (``?default`` for the union)
``/healthz``                          liveness and the generation being served
``/viz``, ``/export/{format}``        the graph viewer and graph views (graphml, gexf, cytoscape,
                                      d3, dot, html), filtered by query parameters (kg.viz.routes)
====================================  =====================================================

Read-only: SPARQL updates, SERVICE, FROM <remote> and every write method are
refused with a 4xx.  kg's own errors become JSON ``{"error": {"code", "message"}}``
with a matching status (503s say ``Retry-After``), without the store's path;
anything else is a masked 500.  CORS is off unless origins are given; only
loopback Host names are answered unless others are allowed (:class:`HostCheck`).
Work runs in bounded lanes (:mod:`kg.api.lanes`): nothing slow runs on the event
loop, and heavy work cannot hold up ``/healthz`` or quick questions.

Routes come from :func:`build_routes`; other features add theirs by passing
``extra_routes`` to :func:`create_app` (or by extending the list it returns).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from strawberry.asgi import GraphQL

from kg.api.backend import GraphBackend
from kg.api.loaders import Context
from kg.api.schema import KGSchema, build_schema
from kg.api.dumps import DumpCache
from kg.api.lanes import Lanes
from kg.api.negotiation import DUMP_MEDIA, FORMAT_PARAM, GRAPH_MEDIA, RESULT_MEDIA, negotiate
from kg.api.sparql_guard import DEFAULT_TIMEOUT, DEFAULT_WORKER_MEMORY_MB
from kg.api.sparql_pool import SparqlPool
from kg.errors import KGError, NotFoundError, QueryError, QueryRefusedError
from kg.export.formats import FORMATS, RDF, listed
from kg.store import EmbeddedStore
from kg.vocab import note_graph

__all__ = ["create_app", "build_routes", "STATUS", "MAX_BODY_BYTES"]

log = logging.getLogger("kg.api")

MAX_BODY_BYTES = 1 * 2**20  # a query is text; nothing sent here needs more

#: HTTP status for each error code; codes not listed are 400 for query errors, else 500
STATUS = {
    "bad_query": 400,
    "query_refused": 403,
    "query_timeout": 503,
    "busy": 503,
    "not_found": 404,
    "no_store": 503,
    "store_error": 500,
    "not_acceptable": 406,
    "unsupported_media_type": 415,
    "request_too_large": 413,
    "result_too_large": 400,
    "bad_request": 400,
    "store_damaged": 503,
    "bad_host": 400,
    "query_too_costly": 400,
    "out_of_memory": 400,
}


class UnsupportedMediaTypeError(QueryError):
    code = "unsupported_media_type"


class BadRequestError(QueryError):
    code = "bad_request"


class NotAcceptable(QueryError):
    code = "not_acceptable"


def public_message(err: KGError, private: Sequence[str] = ()) -> str:
    """An error's message as a client sees it: the server's own folders (the store's path) left out."""
    where = Path(err.path).name if err.path else ""
    text = f"{where}: {err.message}" if where else err.message
    for p in private:
        text = text.replace(p.rstrip("/") + "/", "").replace(p, Path(p).name)
    return text


def error_response(err: KGError, private: Sequence[str] = ()) -> JSONResponse:
    status = STATUS.get(err.code, 400 if isinstance(err, QueryError) else 500)
    headers = {"Retry-After": str(getattr(err, "retry_after", 2))} if status == 503 else None
    return JSONResponse({"error": {"code": err.code, "message": public_message(err, private)}}, status_code=status,
                        headers=headers)


async def _kg_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, KGError)
    return error_response(exc, getattr(request.app.state, "private_paths", ()))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"error": {"code": "internal_error", "message": "Unexpected error."}}, status_code=500)


# ---------------------------------------------------------------- GraphQL


class KGGraphQL(GraphQL):
    """strawberry's ASGI view, with a kg Context (one store snapshot per request), kg's vendored GraphiQL
    (strawberry's own loads its scripts from a CDN), strict JSON bodies and JSON answers that keep non-ASCII
    text as it is."""

    def __init__(self, schema: KGSchema, backend: GraphBackend, *, production: bool):
        super().__init__(schema, graphql_ide=None if production else "graphiql", allow_queries_via_get=True)
        self.backend = backend

    async def get_context(self, request: Any, response: Any) -> Context:  # type: ignore[override]
        return Context(await self.backend.asnapshot(), request, response)

    def should_render_graphql_ide(self, request: Any) -> bool:
        # also a browser opening /graphql?query=...: GraphiQL shows the query and runs it
        if request.method == "GET" and request.query_params.get("query") is not None:
            from kg.web.pages import prefers_html

            return self.graphql_ide is not None and prefers_html(request)
        return super().should_render_graphql_ide(request)

    async def render_graphql_ide(self, request: Request) -> Response:  # type: ignore[override]
        from kg.web.pages import graphiql_page

        return graphiql_page(request.query_params.get("query"), request.query_params.get("variables"))

    def encode_json(self, data: object) -> str:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    def decode_json(self, data: str | bytes) -> object:
        try:
            if isinstance(data, bytes):
                data = data.decode("utf-8")
            value = json.loads(data)
        except UnicodeDecodeError:
            raise BadRequestError("the request body is not UTF-8; send JSON in UTF-8") from None
        except RecursionError:
            raise BadRequestError("the request body is JSON nested too deeply") from None
        except ValueError as err:
            raise BadRequestError(f"the request body is not JSON ({err})") from None
        if not isinstance(value, (dict, list)):
            raise BadRequestError('the request body must be a JSON object: {"query": "...", "variables": {...}}')
        return value


# ---------------------------------------------------------------- SPARQL


async def _read_body(request: Request) -> bytes:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise RequestTooLarge(f"the request body is larger than {MAX_BODY_BYTES // 2**20} MiB")
    return body


class RequestTooLarge(QueryError):
    code = "request_too_large"


def _utf8(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadRequestError(f"the request body is not UTF-8 (byte {err.start}); send the query in UTF-8") from None


async def sparql_endpoint(request: Request) -> Response:
    pool: SparqlPool = request.app.state.sparql
    params = request.query_params
    if request.method == "GET":
        query = params.get("query")
        if query is None and "update" not in params and not request.app.state.production:
            from kg.web.pages import prefers_html, sparql_editor_page

            if prefers_html(request):
                return sparql_editor_page()
        if "update" in params:
            raise QueryRefusedError("SPARQL updates are refused: the graph is read-only; rebuild it with 'kg build'")
    else:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = await _read_body(request)
        if ctype == "application/sparql-query":
            query = _utf8(body)
        elif ctype == "application/x-www-form-urlencoded":
            from urllib.parse import parse_qs

            try:
                form = parse_qs(_utf8(body), keep_blank_values=True, errors="strict")
            except UnicodeDecodeError:
                raise BadRequestError("the form's %-escapes are not UTF-8") from None
            if "update" in form:
                raise QueryRefusedError("SPARQL updates are refused: the graph is read-only; "
                                        "rebuild it with 'kg build'")
            query = (form.get("query") or [None])[0]
            params = {**dict(params), **{k: v[0] for k, v in form.items()}}  # type: ignore[assignment]
        elif ctype == "application/sparql-update":
            raise QueryRefusedError("SPARQL updates are refused: the graph is read-only; rebuild it with 'kg build'")
        else:
            raise UnsupportedMediaTypeError(
                f"POST a query as application/sparql-query or application/x-www-form-urlencoded (got {ctype or 'none'})")
    if not query:
        raise BadRequestError("no query: send ?query=... (GET) or a POST body (SPARQL 1.1 Protocol)")
    for p in ("default-graph-uri", "named-graph-uri"):
        if p in params:
            raise QueryRefusedError(f"{p} is refused: kg does not load graphs; query its named graphs with GRAPH")
    fmt = params.get("format")
    if fmt:
        if fmt not in FORMAT_PARAM:
            raise NotAcceptable(f"unknown format {fmt!r}; use one of {', '.join(FORMAT_PARAM)}")
        result_fmt, rdf_fmt = FORMAT_PARAM[fmt]
        result_fmt = result_fmt or "json"
        rdf_fmt = rdf_fmt or "ttl"
    else:
        accept = request.headers.get("accept")
        result_fmt = negotiate(accept, RESULT_MEDIA)
        rdf_fmt = negotiate(accept, GRAPH_MEDIA)
        if result_fmt is None and rdf_fmt is None:
            raise NotAcceptable("the Accept header names no format this endpoint answers in: "
                                f"{', '.join(dict.fromkeys([*RESULT_MEDIA, *GRAPH_MEDIA]))}")
    result = await pool.run(query, result_fmt, rdf_fmt)
    return Response(result.body, media_type=result.media_type, headers={"Vary": "Accept"})


# ---------------------------------------------------------------- dumps


async def _dump(request: Request, fmt: str, graph: str | None) -> Response:
    dumps: DumpCache = request.app.state.dumps
    path = await dumps.get(fmt, graph)
    name, found = "kg" if graph is None else "kg-graph", FORMATS[fmt]
    headers = {"Content-Disposition": f'inline; filename="{name}.{found.extension}"'}
    return dumps.response(path, found.media_type, headers)


DUMP_EXTS = tuple(f.name for f in listed(RDF))  # the RDF formats of kg.export.formats


async def dump_endpoint(request: Request) -> Response:
    ext = request.path_params["ext"]
    if ext not in DUMP_EXTS:
        offered = [f"/dump.{x}" for x in DUMP_EXTS]
        raise NotFoundError(f"no dump format {ext!r}; use {', '.join(offered[:-1])} or {offered[-1]}")
    return await _dump(request, ext, _graph_param(request))


def _graph_param(request: Request) -> str | None:
    note = request.query_params.get("note")
    graph = request.query_params.get("graph")
    if note and graph:
        raise BadRequestError("give either note= or graph=, not both")
    if note:
        return _checked_iri(str(note_graph(note)), "note")
    return _checked_iri(graph, "graph") if graph else None


def _checked_iri(iri: str, what: str) -> str:
    import pyoxigraph as ox

    try:
        ox.NamedNode(iri)
    except ValueError:
        raise BadRequestError(f"{what}= is not a valid IRI: {iri[:200]!r}") from None
    return iri


async def graph_store_endpoint(request: Request) -> Response:
    params = request.query_params
    if ("graph" in params) == ("default" in params):
        raise BadRequestError("name one graph: ?graph=IRI or ?default (Graph Store Protocol)")
    fmt = negotiate(request.headers.get("accept"), DUMP_MEDIA)
    if fmt is None:
        raise NotAcceptable(f"the Accept header names no RDF format this server writes: {', '.join(DUMP_MEDIA)}")
    graph = params.get("graph") or None
    if "graph" in params and not graph:
        raise BadRequestError("?graph= needs an IRI")
    return await _dump(request, fmt, _checked_iri(graph, "graph") if graph else None)


async def healthz(request: Request) -> Response:
    backend: GraphBackend = request.app.state.backend
    lanes: Lanes = request.app.state.lanes
    try:
        store = backend.store
        live = store.live_name() if isinstance(store, EmbeddedStore) else None
        if live is not None and live == store.open_name():
            gen = live  # the generation open is the live one: no thread, no store call
        else:  # (re)opening a generation reads its files: on the probe thread
            gen = await lanes.probe.run(store.generation)
    except KGError as err:
        return JSONResponse({"status": "unavailable", "error": {"code": err.code, "message": public_message(
            err, request.app.state.private_paths)}}, status_code=503)
    return JSONResponse({"status": "ok", "generation": gen, "store": Path(backend.store.location).name,
                         "sparql_workers_replaced": request.app.state.sparql.replaced,
                         "sparql_network_isolated": request.app.state.sparql.isolated})


# ---------------------------------------------------------------- the app


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes (413), whether or not they say their length."""

    def __init__(self, app: Any, limit: int = MAX_BODY_BYTES):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for k, v in scope.get("headers", ()):
            if k == b"content-length" and v.isdigit() and int(v) > self.limit:
                return await _too_large(scope, receive, send, self.limit)
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    raise RequestTooLarge(f"the request body is larger than {self.limit // 2**20} MiB")
            return msg

        await self.app(scope, limited, send)


async def _too_large(scope: Any, receive: Any, send: Any, limit: int) -> None:
    resp = error_response(RequestTooLarge(f"the request body is larger than {limit // 2**20} MiB"))
    await resp(scope, receive, send)


def build_routes(graphql_app: Any) -> list[BaseRoute]:
    """The server's routes; extend the list for new features."""
    from kg.viz.routes import viz_routes
    from kg.web.pages import web_routes

    return [
        *web_routes(),  # /, /search and /assets/{name}: pages for people (kg.web)
        Route("/graphql", graphql_app, methods=["GET", "POST"]),
        Route("/sparql", sparql_endpoint, methods=["GET", "POST"]),
        Route("/dump.{ext}", dump_endpoint, methods=["GET"]),
        Route("/rdf-graph-store", graph_store_endpoint, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        *viz_routes(),  # /viz and /export/{format}: graph views (kg.export)
    ]


#: Host header names answered by default: a page on another site that rebinds its name to 127.0.0.1 is refused
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


class HostCheck:
    """Answer only requests whose Host header names an allowed host (DNS rebinding), 400 otherwise.

    Loopback names and addresses are allowed; others only when given (``*`` allows any).
    """

    def __init__(self, app: Any, allowed: Sequence[str] = ()):
        self.app = app
        self.any = "*" in allowed
        self.allowed = {h.lower().rstrip(".") for h in (*LOOPBACK_HOSTS, *allowed)}

    def allows(self, host: str) -> bool:
        name = _host_name(host)
        if self.any or name in self.allowed or name.endswith(".localhost"):
            return True
        import ipaddress

        try:
            return ipaddress.ip_address(name).is_loopback
        except ValueError:
            return False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            host = next((v for k, v in scope.get("headers", ()) if k == b"host"), None)
            if host is not None and not self.allows(host.decode("latin-1")):
                err = BadHostError(f"this server answers for {', '.join(sorted(self.allowed))} only; start it with "
                                   "--allow-host NAME to answer for another name")
                return await error_response(err)(scope, receive, send)
        await self.app(scope, receive, send)


class BadHostError(QueryError):
    code = "bad_host"


def _host_name(host: str) -> str:
    """The name of a Host header, without the port: ``[::1]:8000`` → ``::1``, ``Example.org.:80`` → ``example.org``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def create_app(
    store_location: str | os.PathLike[str],
    *,
    production: bool = False,
    cors_origins: Sequence[str] = (),
    allowed_hosts: Sequence[str] = (),
    sparql_timeout: float = DEFAULT_TIMEOUT,
    sparql_workers: int = 2,
    sparql_memory_mb: int = DEFAULT_WORKER_MEMORY_MB,
    graphql_time_limit: float = 10.0,
    graphql_threads: int = 4,
    heavy_threads: int = 2,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """The ASGI app over the store at ``store_location`` (opened now: a missing store fails fast).

    ``allowed_hosts`` adds Host header names to the loopback ones (``*``: any); the SPARQL workers may use
    ``sparql_memory_mb`` each; heavy work (dumps, views) gets ``heavy_threads`` threads of its own.
    """
    store = EmbeddedStore(store_location)
    pool = SparqlPool(store.location, size=sparql_workers, timeout=sparql_timeout, memory_mb=sparql_memory_mb)
    lanes = Lanes(graphql_threads=graphql_threads, heavy_threads=heavy_threads, sparql=pool)
    backend = GraphBackend(store, executor=lanes.store.executor, warm=True)  # coverage index read ahead
    schema = build_schema(production=production, time_limit=graphql_time_limit, lane=lanes.graphql)
    dumps = DumpCache(store, lanes.heavy)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await lanes.start()
        try:
            await backend.asnapshot()  # read the catalogue before the first request
        except KGError as err:
            log.warning("the store cannot be read yet: %s", err)
        try:
            yield
        finally:
            await lanes.close()
            dumps.close()

    middleware = [Middleware(HostCheck, allowed=tuple(allowed_hosts)), Middleware(BodyLimit)]
    if cors_origins:
        middleware.append(Middleware(CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET", "POST"],
                                     allow_headers=["content-type", "accept"]))
    routes = [*build_routes(KGGraphQL(schema, backend, production=production)), *extra_routes]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                    exception_handlers={KGError: _kg_error, Exception: _unexpected})
    app.state.backend = backend
    app.state.sparql = pool
    app.state.lanes = lanes
    app.state.dumps = dumps
    app.state.schema = schema
    app.state.production = production
    root = Path(store.location)
    app.state.private_paths = tuple(dict.fromkeys(p for p in (str(root.resolve()), str(root.absolute()))
                                                  if p not in ("/", "")))
    return app
