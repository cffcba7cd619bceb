"""HTTP routes for graph views: ``/viz`` (the viewer page) and ``/export/{format}``.

Query parameters are the view filters of ``kg export``: ``type`` (repeat or
comma-separate), ``community``, ``centre`` (or ``center``), ``radius``,
``min_weight``, ``max_nodes``, ``drop_isolated``, ``co_mention``.  Answers are
cached per store generation, filters and format, so a viewer reopened on an
unchanged graph costs nothing; so does asking again for a view that failed (an unknown centre).
Views are computed on the server's heavy lane (kg.api.lanes): when it is full, 503 with Retry-After.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kg.errors import ExportError, KGError, NotFoundError
from kg.export import VIEW_FORMATS, export_view, parse_filter

__all__ = ["viz_routes"]

_CACHE_SIZE = 16
_cache: OrderedDict[tuple, tuple[bytes, str] | KGError] = OrderedDict()
_cache_lock = threading.Lock()
_key_locks: dict[tuple, threading.Lock] = {}  # one render per key at a time: the others wait and take its answer


def _render(store: Any, fmt: str, params: dict[str, Any]) -> tuple[bytes, str]:
    filters = parse_filter(params)
    generation = store.generation()
    key = (store.location, generation, fmt, filters)
    with _cache_lock:
        lock = _key_locks.setdefault(key, threading.Lock())
    with lock:
        with _cache_lock:
            hit = _cache.get(key)
            if hit is not None:
                _cache.move_to_end(key)
        if hit is None:
            try:
                hit = export_view(store.select, fmt, filters, title="kg: entity graph")
            except (ExportError, NotFoundError) as err:  # a failure is remembered too: it would fail again
                hit = err
            with _cache_lock:
                _cache[key] = hit
                while len(_cache) > _CACHE_SIZE:
                    _cache.popitem(last=False)
        with _cache_lock:
            _key_locks.pop(key, None)
    if isinstance(hit, KGError):
        raise copy.copy(hit).with_traceback(None)
    return hit


def _cached(store: Any, fmt: str, params: dict[str, Any]) -> tuple[bytes, str] | None:
    """The answer already made for these filters on the generation last seen live (no thread, no I/O)."""
    gen = getattr(store, "_gen", None)
    if gen is None:
        return None
    with _cache_lock:
        hit = _cache.get((store.location, gen.name, fmt, parse_filter(params)))
    if isinstance(hit, KGError):
        raise copy.copy(hit).with_traceback(None)
    return hit


def _params(request: Request) -> dict[str, Any]:
    q = request.query_params
    return {k: q.getlist(k) for k in q.keys()}


async def _answer(request: Request, fmt: str) -> Response:
    backend = request.app.state.backend
    params = _params(request)
    try:
        hit = _cached(backend.store, fmt, params)
        body, media = hit or await request.app.state.lanes.heavy.run(_render, backend.store, fmt, params)
    except ExportError as err:
        return JSONResponse({"error": {"code": err.code, "message": str(err)}}, status_code=400)
    headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    if fmt != "html":
        headers["Content-Disposition"] = f'inline; filename="kg.{VIEW_FORMATS[fmt][1]}"'
    return Response(body, media_type=media, headers=headers)


async def viz_endpoint(request: Request) -> Response:
    return await _answer(request, "html")


async def export_endpoint(request: Request) -> Response:
    fmt = request.path_params["format"]
    if fmt not in VIEW_FORMATS:
        return JSONResponse({"error": {"code": "not_found", "message":
                                       f"no view format {fmt!r}; use one of {', '.join(VIEW_FORMATS)}"}},
                            status_code=404)
    return await _answer(request, fmt)


def viz_routes() -> list[Route]:
    return [
        Route("/viz", viz_endpoint, methods=["GET"]),
        Route("/export/{format}", export_endpoint, methods=["GET"]),
    ]
