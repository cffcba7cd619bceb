"""The entity graph as something to look at: GraphML, GEXF, Cytoscape, D3, DOT and an offline HTML viewer.

:func:`export_view` loads, filters and serialises in one go (what ``kg export`` and ``/export/{format}``
call); :func:`export_graph` serialises a view graph already loaded.  The package's rooms:

* :mod:`kg.export.formats` — the table of export formats (RDF dumps and views) the CLI and the server read
* :mod:`kg.export.filters` — :class:`ViewFilter`, what part of the graph a view shows
* :mod:`kg.export.view` — reading the entity graph from a store and cutting it down
* :mod:`kg.export.writers` — the view formats' writers; :mod:`kg.export.layout` — node positions
* :mod:`kg.export.html` — the HTML viewer

Importing this package (or :mod:`kg.export.formats`) loads no networkx: the other rooms load on first use.

>>> from kg.export.view import demo_graph
>>> g = demo_graph()
>>> sorted(g.nodes[n]["name"] for n in g)
['二二六兵变', '北一辉', '日本', '池田成彬']
>>> body, media = export_graph(g, "dot")
>>> media, body.startswith(b"digraph kg {")
('text/vnd.graphviz', True)
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from kg.export.filters import NODE_TYPES, ViewFilter, parse_filter
from kg.export.formats import VIEW, VIEW_FORMATS, export_format

__all__ = [
    "VIEW_FORMATS",
    "NODE_TYPES",
    "TYPE_COLOURS",
    "HTML_DEFAULT_MAX_NODES",
    "ViewFilter",
    "load_view_graph",
    "node_details",
    "export_graph",
    "export_view",
    "render_html",
    "script_json",
    "parse_filter",
    "demo_graph",
]

#: when an HTML view has more nodes than this and no budget was given, keep the most central ones
HTML_DEFAULT_MAX_NODES = 2000

#: the names this package offers from its rooms, loaded on first use (they need networkx)
_LAZY = {
    "load_view_graph": "kg.export.view",
    "demo_graph": "kg.export.view",
    "TYPE_COLOURS": "kg.export.writers",
    "cytoscape_elements": "kg.export.writers",
    "d3_node_link": "kg.export.writers",
    "layout_positions": "kg.export.layout",
    "overview_layout": "kg.export.layout",
    "node_details": "kg.export.html",
    "render_html": "kg.export.html",
    "script_json": "kg.export.html",
    "vendored_library": "kg.export.html",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(name)
    return getattr(importlib.import_module(module), name)


def export_graph(g: Any, fmt: str, *, details: Mapping[str, Mapping[str, Any]] | None = None,
                 title: str = "kg: entity graph", api: str | None = None) -> tuple[bytes, str]:
    """Serialise a view graph (a networkx ``MultiDiGraph`` from :func:`load_view_graph`): ``(body, media type)``."""
    f = export_format(fmt, VIEW)
    return f.writer()(g, details, title, api), f.media_type


def export_view(select: Any, fmt: str, filters: ViewFilter | None = None, *, title: str | None = None,
                api: str | None = None) -> tuple[bytes, str]:
    """Load, filter and serialise in one go (``select``: a store's select).

    An HTML view with more than :data:`HTML_DEFAULT_MAX_NODES` nodes and no budget keeps the most central
    ones.
    """
    from kg.export.html import node_details
    from kg.export.view import ViewReader, load_view_graph

    export_format(fmt, VIEW)
    f = filters or ViewFilter()
    if fmt == "html" and f.max_nodes is None:
        f = replace(f, max_nodes=HTML_DEFAULT_MAX_NODES)
    rd = ViewReader(select)
    g = load_view_graph(rd, f)
    details = node_details(rd, g) if fmt == "html" else None
    return export_graph(g, fmt, details=details, title=title or "kg: entity graph", api=api)
