"""HTTP routes for graph views: ``/viz`` (the viewer page) and ``/export/{format}``.

Query parameters are the view filters of ``kg export``: ``type`` (repeat or
comma-separate), ``community``, ``centre`` (or ``center``), ``radius``,
``min_weight``, ``max_nodes``, ``drop_isolated``, ``co_mention``.  Answers are
cached per store generation, filters and format, so a viewer reopened on an
unchanged graph costs nothing.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kg.errors import ExportError
from kg.export import VIEW_FORMATS, export_view, parse_filter

__all__ = ["viz_routes"]

_CACHE_SIZE = 16
_cache: OrderedDict[tuple, tuple[bytes, str]] = OrderedDict()
_cache_lock = threading.Lock()


def _render(store: Any, fmt: str, params: dict[str, Any]) -> tuple[bytes, str]:
    filters = parse_filter(params)
    generation = store.generation()
    key = (store.location, generation, fmt, filters)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    body, media = export_view(store.select, fmt, filters, title="kg: entity graph")
    with _cache_lock:
        _cache[key] = (body, media)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return body, media


def _params(request: Request) -> dict[str, Any]:
    q = request.query_params
    return {k: q.getlist(k) for k in q.keys()}


async def _answer(request: Request, fmt: str) -> Response:
    backend = request.app.state.backend
    loop = asyncio.get_running_loop()
    try:
        body, media = await loop.run_in_executor(backend.pool, _render, backend.store, fmt, _params(request))
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
