"""HTTP routes for graph views: ``/viz`` (the viewer page) and ``/export/{format}``.

Query parameters are the view filters of ``kg export``: ``type`` (repeat or
comma-separate), ``community``, ``centre`` (or ``center``), ``radius``,
``min_weight``, ``max_nodes``, ``drop_isolated``, ``co_mention``.  Answers are
cached per store generation, filters and format, so a viewer reopened on an
unchanged graph costs nothing; so does asking again for a view that failed (an unknown centre).
Views are computed in the server's view processes (kg.api.lanes): when they are all taken, 503 with
Retry-After.
"""

from __future__ import annotations

import asyncio
import copy
from collections import OrderedDict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kg.errors import ExportError, KGError, NotFoundError
from kg.export import export_view, parse_filter
from kg.export.formats import FORMATS, VIEW, names_text

__all__ = ["viz_routes", "render_view"]

_CACHE_SIZE = 16
# (store location, generation, format, filters) -> the answer, or the error it gave; kept by the server's loop
_cache: OrderedDict[tuple, tuple[bytes, str] | KGError] = OrderedDict()
_rendering: dict[tuple, asyncio.Future] = {}  # one render per key at a time: the others wait for its answer
_stores: dict[str, Any] = {}  # in a render process: the store views it has open


def render_view(location: str, fmt: str, params: dict[str, Any]) -> tuple[str, tuple[bytes, str] | KGError]:
    """``(generation, answer or error)`` of one view of the store at ``location``: run in a process of the
    server's view lane (networkx work would otherwise hold the server's interpreter lock for seconds)."""
    from kg.store import EmbeddedStore

    store = _stores.get(location)
    if store is None:
        store = _stores[location] = EmbeddedStore(location)
    generation = store.generation()
    try:
        return generation, export_view(store.select, fmt, parse_filter(params), title="kg: entity graph")
    except (ExportError, NotFoundError) as err:  # a failure is remembered too: it would fail again
        return generation, err


def _remember(key: tuple, answer: tuple[bytes, str] | KGError) -> None:
    _cache[key] = answer
    _cache.move_to_end(key)
    while len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)


def _answered(answer: tuple[bytes, str] | KGError) -> tuple[bytes, str]:
    if isinstance(answer, KGError):
        raise copy.copy(answer).with_traceback(None)
    return answer


async def _view(request: Request, fmt: str, params: dict[str, Any]) -> tuple[bytes, str]:
    store = request.app.state.backend.store
    filters = parse_filter(params)
    # the generation last seen live: a cached answer needs no worker
    key = (store.location, store.open_name(), fmt, filters)
    if key in _cache:
        _cache.move_to_end(key)
        return _answered(_cache[key])
    pending = _rendering.get(key)
    if pending is None:
        pending = asyncio.ensure_future(request.app.state.lanes.views.run(render_view, store.location, fmt, params))
        _rendering[key] = pending
        pending.add_done_callback(lambda _: _rendering.pop(key, None))
    generation, answer = await asyncio.shield(pending)
    _remember((store.location, generation, fmt, filters), answer)
    return _answered(answer)


def _params(request: Request) -> dict[str, Any]:
    q = request.query_params
    return {k: q.getlist(k) for k in q.keys()}


async def _answer(request: Request, fmt: str) -> Response:
    try:
        body, media = await _view(request, fmt, _params(request))
    except ExportError as err:
        return JSONResponse({"error": {"code": err.code, "message": str(err)}}, status_code=400)
    headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    if fmt != "html":
        headers["Content-Disposition"] = f'inline; filename="kg.{FORMATS[fmt].extension}"'
    return Response(body, media_type=media, headers=headers)


async def viz_endpoint(request: Request) -> Response:
    return await _answer(request, "html")


async def export_endpoint(request: Request) -> Response:
    fmt = request.path_params["format"]
    known = FORMATS.get(fmt)
    if known is None or known.kind != VIEW or not known.listed:
        return JSONResponse({"error": {"code": "not_found", "message":
                                       f"no view format {fmt!r}; use one of {names_text(VIEW)}"}},
                            status_code=404)
    return await _answer(request, fmt)


def viz_routes() -> list[Route]:
    return [
        Route("/viz", viz_endpoint, methods=["GET"]),
        Route("/export/{format}", export_endpoint, methods=["GET"]),
    ]
