"""The view formats' writers (graphml, gexf, cytoscape, d3, dot), registered by name in
:mod:`kg.export.formats`; each is ``writer(g, details, title, api) -> bytes`` (only the HTML viewer's,
:mod:`kg.export.html`, reads the last three)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from io import BytesIO
from typing import Any

import networkx as nx

from kg.export.layout import layout_positions
from kg.model import ENTITY_KINDS, SOURCE_COLOUR

__all__ = ["TYPE_COLOURS", "cytoscape_elements", "d3_node_link", "write_graphml", "write_gexf", "write_cytoscape",
           "write_d3", "write_dot"]

#: viewer colours by type (also written into DOT, GEXF)
TYPE_COLOURS = {**{k.name: k.colour for k in ENTITY_KINDS}, "Source": SOURCE_COLOUR}

Details = Mapping[str, Mapping[str, Any]] | None


def _flat_attrs(d: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes GraphML/GEXF can hold: no None, lists joined with '|'."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if v is None or k.startswith("_"):
            continue
        if isinstance(v, (list, tuple)):
            v = "|".join(map(str, v))
        elif isinstance(v, bool):
            v = str(v).lower()
        out[k] = v
    return out


def _typed_copy(g: nx.MultiDiGraph, gexf: bool = False) -> nx.MultiDiGraph:
    h = nx.MultiDiGraph()
    h.graph.update({k: v for k, v in g.graph.items() if isinstance(v, (str, int, float))})
    for v, d in g.nodes(data=True):
        attrs = _flat_attrs(d)
        attrs.setdefault("aliases", "")
        if "centrality" in attrs:  # (none where the store has no link pass)
            attrs["centrality"] = float(attrs["centrality"])
        if "pagerank" in attrs:
            attrs["pagerank"] = float(attrs["pagerank"])
        attrs["label"] = d.get("name", v)
        if gexf:
            colour = TYPE_COLOURS.get(d.get("type"), "#999999")
            attrs["viz"] = {"color": {"r": int(colour[1:3], 16), "g": int(colour[3:5], 16),
                                      "b": int(colour[5:7], 16), "a": 1.0},
                            "size": 4.0 + 40.0 * math.sqrt(attrs.get("centrality", 0.0))}
            if "pos" in d:
                attrs["viz"]["position"] = {"x": float(d["pos"][0]), "y": float(d["pos"][1]), "z": 0.0}
        attrs.pop("pos", None)
        h.add_node(v, **attrs)
    for a, b, k, d in g.edges(keys=True, data=True):
        attrs = _flat_attrs(d)
        attrs["weight"] = float(attrs.get("weight", 1.0))
        if gexf:
            attrs["label"] = attrs.get("kind", "")
        h.add_edge(a, b, key=k, **attrs)
    return h


def write_graphml(g: nx.MultiDiGraph, details: Details = None, title: str = "", api: str | None = None) -> bytes:
    buf = BytesIO()
    nx.write_graphml(_typed_copy(g), buf, encoding="utf-8", prettyprint=True, named_key_ids=True)
    return buf.getvalue()


def write_gexf(g: nx.MultiDiGraph, details: Details = None, title: str = "", api: str | None = None) -> bytes:
    buf = BytesIO()
    nx.write_gexf(_typed_copy(g, gexf=True), buf, encoding="utf-8", prettyprint=True)
    return buf.getvalue()


def _json_attrs(d: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()
            if v is not None and not k.startswith("_") and k != "pos"}


def _edge_id(a: str, b: str, k: str, i: int) -> str:
    return f"e{i}"


def cytoscape_elements(g: nx.MultiDiGraph, positions: bool = True) -> dict[str, Any]:
    """``{"data": {...}, "elements": {"nodes": [...], "edges": [...]}}``: cytoscape.js ``cy.json()`` input
    and Cytoscape's ``.cyjs``."""
    pos = layout_positions(g) if positions else {}
    nodes = []
    for v, d in g.nodes(data=True):
        el: dict[str, Any] = {"data": {"id": v, **_json_attrs(d)}}
        if v in pos:
            el["position"] = {"x": pos[v][0], "y": pos[v][1]}
        nodes.append(el)
    edges = [{"data": {"id": _edge_id(a, b, k, i), "source": a, "target": b, **_json_attrs(d)}}
             for i, (a, b, k, d) in enumerate(g.edges(keys=True, data=True))]
    meta = {k: v for k, v in g.graph.items() if isinstance(v, (str, int, float))}
    return {"data": meta, "elements": {"nodes": nodes, "edges": edges}}


def d3_node_link(g: nx.MultiDiGraph) -> dict[str, Any]:
    """Node-link JSON (``nodes``, ``links`` with ``source``/``target`` ids), as ``nx.node_link_data(edges="links")``."""
    return {
        "directed": True,
        "multigraph": True,
        "graph": {k: v for k, v in g.graph.items() if isinstance(v, (str, int, float))},
        "nodes": [{"id": v, **_json_attrs(d)} for v, d in g.nodes(data=True)],
        "links": [{"source": a, "target": b, "key": k, **_json_attrs(d)} for a, b, k, d in g.edges(keys=True, data=True)],
    }


def write_cytoscape(g: nx.MultiDiGraph, details: Details = None, title: str = "", api: str | None = None) -> bytes:
    return json.dumps(cytoscape_elements(g), ensure_ascii=False).encode("utf-8")


def write_d3(g: nx.MultiDiGraph, details: Details = None, title: str = "", api: str | None = None) -> bytes:
    return json.dumps(d3_node_link(g), ensure_ascii=False).encode("utf-8")


def _dot_quote(s: Any) -> str:
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def write_dot(g: nx.MultiDiGraph, details: Details = None, title: str = "", api: str | None = None) -> bytes:
    lines = ["digraph kg {", "  graph [overlap=false, splines=true, outputorder=edgesfirst];",
             '  node [shape=ellipse, style=filled, fontname="Noto Sans CJK SC,sans-serif", fontsize=10];',
             "  edge [arrowsize=0.5];"]
    for v, d in g.nodes(data=True):
        colour = TYPE_COLOURS.get(d.get("type"), "#999999")
        width = 0.3 + 3.0 * math.sqrt(float(d.get("centrality") or 0.0))
        attrs = {"label": d.get("name", v), "fillcolor": colour, "fontcolor": "white" if d.get("type") == "Place" else "black",
                 "width": f"{width:.2f}", "type": d.get("type", ""), "community": d.get("community", ""),
                 "centrality": f"{float(d.get('centrality') or 0):.6g}", "aliases": "|".join(d.get("aliases") or ())}
        if d.get("centrality") is None:  # the store has no link pass
            del attrs["centrality"]
        lines.append(f"  {_dot_quote(v)} [" + ", ".join(f"{k}={_dot_quote(x)}" for k, x in attrs.items()) + "];")
    for a, b, k, d in g.edges(keys=True, data=True):
        w = float(d.get("weight", 1.0))
        attrs = {"kind": d.get("kind", ""), "method": d.get("method", ""), "weight": f"{w:.6g}",
                 "penwidth": f"{min(6.0, 0.5 + math.log1p(w)):.2f}"}
        if d.get("kind") == "co-mention":
            attrs["dir"] = "none"
        lines.append(f"  {_dot_quote(a)} -> {_dot_quote(b)} [" + ", ".join(f"{k2}={_dot_quote(x)}" for k2, x in attrs.items()) + "];")
    lines.append("}")
    return ("\n".join(lines) + "\n").encode("utf-8")


