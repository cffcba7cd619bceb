"""The entity graph as something to look at: GraphML, GEXF, Cytoscape, D3, DOT and an offline HTML viewer.

:func:`load_view_graph` reads entities (and, if asked for, sources) with the
edges between them from a store through bound SPARQL, and cuts the result down
with a :class:`ViewFilter` (types, communities, a centre and a radius, a
minimum weight, a node budget filled by centrality).  :func:`export_graph`
serialises it.

Nodes carry ``type``, ``name``, ``aliases``, ``key``, ``centrality``,
``pagerank``, ``community``, ``degree`` and ``mentions`` (how many mentions
back the entity).  Edges carry ``kind`` (``related``, ``co-mention`` or
``covers``), ``weight`` and ``method``.

Where the link pass has not run (no ``kg:Relatedness`` in the store), edges
are co-mentions (entities named in the same snippet; the weight is the number
of such snippets), centrality is PageRank computed here and communities are
Louvain communities computed here.

>>> g = demo_graph()
>>> sorted(g.nodes[n]["name"] for n in g)
['二二六兵变', '北一辉', '日本', '池田成彬']
>>> body, media = export_graph(g, "dot")
>>> media, body.startswith(b"digraph kg {")
('text/vnd.graphviz', True)
"""

from __future__ import annotations

import html as _html
import json
import math
import re
import zlib
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from io import BytesIO
from itertools import combinations
from pathlib import Path
from typing import Any

import networkx as nx

from kg.errors import ExportError, NotFoundError
from kg.model import ENTITY_KINDS, ENTITY_TYPES, SOURCE_COLOUR
from kg.vocab import KG_NS, LINKS_GRAPH

__all__ = [
    "VIEW_FORMATS",
    "NODE_TYPES",
    "ViewFilter",
    "load_view_graph",
    "export_graph",
    "export_view",
    "render_html",
    "parse_filter",
    "demo_graph",
]

Select = Callable[..., list[dict[str, Any]]]

#: export formats handled here: name → (media type, file extension)
VIEW_FORMATS: dict[str, tuple[str, str]] = {
    "graphml": ("application/graphml+xml", "graphml"),
    "gexf": ("application/gexf+xml", "gexf"),
    "cytoscape": ("application/json", "cyjs"),
    "d3": ("application/json", "json"),
    "dot": ("text/vnd.graphviz", "dot"),
    "html": ("text/html; charset=utf-8", "html"),
}

#: node types a view can hold: the entity types and Source
NODE_TYPES = (*ENTITY_TYPES, "Source")

#: viewer colours by type (also written into DOT, GEXF)
TYPE_COLOURS = {**{k.name: k.colour for k in ENTITY_KINDS}, "Source": SOURCE_COLOUR}

#: when an HTML view has more nodes than this and no budget was given, keep the most central ones
HTML_DEFAULT_MAX_NODES = 2000

_VIZ_DIR = Path(__file__).with_name("viz")


@dataclass(frozen=True)
class ViewFilter:
    """What part of the graph to show.

    ``types``: node types to keep (empty: every entity type; add ``"Source"`` for sources).
    ``communities``: community numbers to keep (empty: all).
    ``centre`` / ``radius``: keep only what lies within ``radius`` hops of an entity
    (its IRI, its key ``Type/name``, or a name or alias).
    ``min_weight``: drop edges lighter than this.
    ``max_nodes``: keep the ``max_nodes`` most central nodes (level of detail; the centre is always kept).
    ``drop_isolated``: drop nodes left without an edge.
    ``co_mention``: add co-mention edges: ``None`` only when the store has no relatedness edges.
    """

    types: tuple[str, ...] = ()
    communities: tuple[int, ...] = ()
    centre: str | None = None
    radius: int = 1
    min_weight: float = 0.0
    max_nodes: int | None = None
    drop_isolated: bool = False
    co_mention: bool | None = None

    def __post_init__(self) -> None:
        bad = [t for t in self.types if t not in NODE_TYPES]
        if bad:
            raise ExportError(f"unknown node type {bad[0]!r}; use one of {', '.join(NODE_TYPES)}")
        if self.radius < 0:
            raise ExportError("the radius must be 0 or more")
        if not math.isfinite(self.min_weight) or self.min_weight < 0:
            raise ExportError(f"min_weight must be a number of 0 or more (got {self.min_weight!r})")
        if self.max_nodes is not None and self.max_nodes < 1:
            raise ExportError("max_nodes must be 1 or more")

    @property
    def node_types(self) -> tuple[str, ...]:
        return self.types or ENTITY_TYPES


def parse_filter(params: Mapping[str, Any]) -> ViewFilter:
    """A :class:`ViewFilter` from query parameters or CLI options (strings, lists or numbers).

    >>> parse_filter({"type": "Person,Place", "min_weight": "2", "centre": "北一辉", "radius": "2"})
    ViewFilter(types=('Person', 'Place'), communities=(), centre='北一辉', radius=2, min_weight=2.0, max_nodes=None, drop_isolated=False, co_mention=None)
    """

    def items(*names: str) -> list[str]:
        out: list[str] = []
        for name in names:
            v = params.get(name)
            if v is None:
                continue
            for part in (v if isinstance(v, (list, tuple)) else [v]):
                out.extend(p.strip() for p in str(part).split(",") if p.strip())
        return out

    def one(*names: str) -> Any:
        for name in names:
            v = params.get(name)
            if isinstance(v, (list, tuple)):
                v = v[-1] if v else None
            if v not in (None, ""):
                return v
        return None

    def flag(name: str) -> bool | None:
        v = one(name)
        if v is None:
            return None
        if isinstance(v, bool):
            return v
        return str(v).lower() in ("1", "true", "yes", "on")

    try:
        communities = tuple(int(c) for c in items("community", "communities"))
        radius = int(one("radius") or 1)
        min_weight = float(one("min_weight", "min-weight") or 0.0)
        max_nodes = one("max_nodes", "max-nodes")
        max_nodes = int(max_nodes) if max_nodes is not None else None
    except ValueError as err:
        raise ExportError(f"a filter value is not a number ({err})") from None
    types = tuple(_canon_type(t) for t in items("type", "types"))
    return ViewFilter(types=types, communities=communities, centre=one("centre", "center"), radius=radius,
                      min_weight=min_weight, max_nodes=max_nodes, drop_isolated=bool(flag("drop_isolated")),
                      co_mention=flag("co_mention"))


def _canon_type(name: str) -> str:
    for t in NODE_TYPES:
        if t.lower() == name.lower():
            return t
    raise ExportError(f"unknown node type {name!r}; use one of {', '.join(NODE_TYPES)}")


# ---------------------------------------------------------------- reading the store
#
# Each query is one triple pattern with its predicate (and sometimes its
# object) bound, joined here in Python.  Joins over the union of the per-note
# graphs are slow in Oxigraph (the entity query alone took minutes on the
# 251-post corpus); single patterns answer from one index in well under a
# second each.

_Q_PAIRS = "SELECT DISTINCT ?s ?p ?o WHERE { ?s ?p ?o }"
_RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


class _Reader:
    """Cached single-pattern reads of a store."""

    def __init__(self, select: Select):
        self.select = select
        self._pairs: dict[str, list[tuple[str, Any]]] = {}
        self._typed: dict[str, set[str]] = {}
        self._maps: dict[str, dict[str, Any]] = {}

    def pairs(self, predicate: str) -> list[tuple[str, Any]]:
        """``(subject, object)`` of every triple with this predicate."""
        if predicate not in self._pairs:
            from rdflib import URIRef

            rows = self.select(_Q_PAIRS, {"p": URIRef(KG_NS + predicate if ":" not in predicate else predicate)})
            self._pairs[predicate] = [(r["s"], r["o"]) for r in rows]
        return self._pairs[predicate]

    def first(self, predicate: str) -> dict[str, Any]:
        """Subject → its (first) object for this predicate."""
        if predicate not in self._maps:
            m: dict[str, Any] = {}
            for s_, o in self.pairs(predicate):
                m.setdefault(s_, o)
            self._maps[predicate] = m
        return self._maps[predicate]

    def typed(self, cls: str) -> set[str]:
        """Instances of ``kg:cls``."""
        if cls not in self._typed:
            from rdflib import URIRef

            rows = self.select(_Q_PAIRS, {"p": URIRef(_RDF_TYPE), "o": URIRef(KG_NS + cls)})
            self._typed[cls] = {r["s"] for r in rows}
        return self._typed[cls]

    def find(self, predicate: str, value: str) -> list[str]:
        """Subjects whose ``kg:predicate`` is the string ``value`` (bound, never pasted)."""
        from rdflib import URIRef

        return [r["s"] for r in self.select(_Q_PAIRS, {"p": URIRef(KG_NS + predicate), "o": value})]

    def note_of(self, iri: str) -> str | None:
        """The note IRI a mention or source belongs to (kg.vocab mints them as ``note#part``)."""
        note = iri.split("#", 1)[0]
        if note in self.first("path"):
            return note
        return self.first("note").get(iri)


def _reader(select: Select | _Reader) -> _Reader:
    return select if isinstance(select, _Reader) else _Reader(select)


def load_view_graph(select: Select | _Reader, filters: ViewFilter | None = None) -> nx.MultiDiGraph:
    """The entity graph of a store (``select`` is a store's ``select``), cut down by ``filters``.

    Node ids are IRIs.  The graph is a :class:`networkx.MultiDiGraph` (two
    entities may be related by several methods); ``graph.graph`` records what
    was kept out of how much (``total_nodes``, ``shown_nodes``, ...).
    """
    f = filters or ViewFilter()
    rd = _reader(select)
    g = nx.MultiDiGraph()
    names, keys = rd.first("name"), rd.first("key")
    pagerank, community, degree = rd.first("pagerank"), rd.first("community"), rd.first("degree")
    for t in ENTITY_TYPES:
        for e in sorted(rd.typed(t)):
            if e in g or e not in names:  # several classes: keep the first
                continue
            g.add_node(e, type=t, name=names[e], key=keys.get(e) or f"{t}/{names[e]}", aliases=[],
                       pagerank=pagerank.get(e), community=community.get(e), degree=degree.get(e), mentions=0)
    for e, alias in sorted(rd.pairs("alias")):
        if e in g and alias != g.nodes[e]["name"]:
            g.nodes[e]["aliases"].append(alias)
    for e, n in Counter(e for _, e in rd.pairs("mentionOf")).items():
        if e in g:
            g.nodes[e]["mentions"] = n

    related = 0
    froms, tos = rd.first("fromEntity"), rd.first("toEntity")
    weights, methods = rd.first("weight"), rd.first("method")
    for r in sorted(rd.typed("Relatedness")):
        a, b = froms.get(r), tos.get(r)
        if a in g and b in g and a != b:
            method = methods.get(r) or "related"
            g.add_edge(a, b, key=f"related:{method}", kind="related", weight=_num(weights.get(r), 1.0),
                       method=method)
            related += 1
    if not related:  # shortcut triples only
        for a, b in rd.pairs("relatedTo"):
            if a in g and b in g and a != b and not g.has_edge(a, b):
                g.add_edge(a, b, key="related:relatedTo", kind="related", weight=1.0, method="relatedTo")
                related += 1
    want_comention = f.co_mention if f.co_mention is not None else related == 0
    if want_comention:
        snippets = rd.typed("Snippet")
        _add_comentions(g, ((sn, e) for sn, e in rd.pairs("mentions") if sn in snippets))

    if "Source" in f.node_types:
        _add_sources(g, rd)

    _fill_centrality(g)
    g.graph.update(total_nodes=g.number_of_nodes(), total_edges=g.number_of_edges(),
                   edge_source="related" if related else "co-mention" if want_comention else "none")
    g = _apply_filters(g, f, rd)
    g.graph.update(shown_nodes=g.number_of_nodes(), shown_edges=g.number_of_edges())
    return g


def _num(v: Any, default: float) -> float:
    try:
        return float(v) if v is not None else default
    except (TypeError, ValueError):
        return default


def _add_comentions(g: nx.MultiDiGraph, rows: Iterable[tuple[str, str]]) -> None:
    by_snippet: dict[str, set[str]] = defaultdict(set)
    for sn, e in rows:
        if e in g:
            by_snippet[sn].add(e)
    pairs: Counter[tuple[str, str]] = Counter()
    for ents in by_snippet.values():
        if len(ents) > 60:  # a list of names, not prose: pairs would say little and cost much
            continue
        pairs.update(combinations(sorted(ents), 2))
    for (a, b), n in sorted(pairs.items()):
        g.add_edge(a, b, key="co-mention:snippet", kind="co-mention", weight=float(n), method="snippet")


def _sources(rd: _Reader) -> dict[str, tuple[str, str | None, str | None]]:
    """Source IRI → (url, title, note path)."""
    urls, titles, paths = rd.first("url"), rd.first("title"), rd.first("path")
    out = {}
    for s_ in sorted(rd.typed("Source")):
        if s_ in urls:
            note = rd.note_of(s_)
            out[s_] = (urls[s_], titles.get(s_), paths.get(note) if note else None)
    return out


def _add_sources(g: nx.MultiDiGraph, rd: _Reader) -> None:
    entities = set(g)
    for s_, (url, title, path) in _sources(rd).items():
        g.add_node(s_, type="Source", name=title or url, key=s_, aliases=[], url=url, note=path,
                   pagerank=None, community=None, degree=None, mentions=0)
    covered = 0
    src, ent = rd.first("source"), rd.first("entity")
    score, direct, method = rd.first("score"), rd.first("direct"), rd.first("method")
    for c in sorted(rd.typed("Coverage")):
        s_, e = src.get(c), ent.get(c)
        if s_ in g and e in entities:
            m = method.get(c) or ("direct" if direct.get(c) in (True, None) else "inferred")
            g.add_edge(s_, e, key=f"covers:{m}", kind="covers", weight=_num(score.get(c), 1.0), method=m)
            covered += 1
    if not covered:
        for s_, e in rd.pairs("mentions"):
            if s_ in g and g.nodes[s_]["type"] == "Source" and e in entities:
                g.add_edge(s_, e, key="covers:title", kind="covers", weight=1.0, method="title")


def _simple(g: nx.MultiDiGraph) -> nx.Graph:
    """Undirected, one edge per pair, weights summed."""
    s = nx.Graph()
    s.add_nodes_from(g)
    for a, b, w in g.edges(data="weight", default=1.0):
        if s.has_edge(a, b):
            s[a][b]["weight"] += w
        else:
            s.add_edge(a, b, weight=w)
    return s


def _fill_centrality(g: nx.MultiDiGraph) -> None:
    """``centrality``: the store's PageRank where it has one, else PageRank computed here; likewise
    ``degree`` and ``community``."""
    nodes = g.nodes
    have_pr = any(nodes[n]["pagerank"] is not None for n in g)
    have_comm = any(nodes[n]["community"] is not None for n in g)
    simple = _simple(g) if (not have_pr or not have_comm) else None
    computed: dict[str, float] = {}
    if not have_pr and g.number_of_nodes():
        try:
            computed = nx.pagerank(simple, weight="weight")
        except (ImportError, nx.PowerIterationFailedConvergence):
            n = max(1, g.number_of_nodes() - 1)
            computed = {v: (d + 1) / n for v, d in simple.degree()}
    if not have_comm and g.number_of_nodes():
        try:  # label propagation: linear time; the link pass's Louvain communities are better when present
            parts = [set(c) for c in nx.community.label_propagation_communities(simple)]
        except Exception:  # noqa: BLE001 - communities are a nicety
            parts = [set(c) for c in nx.connected_components(simple)]
        parts = sorted(parts, key=lambda c: (-len(c), min(c)))
        for i, part in enumerate(parts):
            for v in part:
                nodes[v]["community"] = i
    for v in g:
        d = nodes[v]
        if d["pagerank"] is not None:
            d["centrality"] = float(d["pagerank"])
        elif computed:
            d["centrality"] = float(computed.get(v, 0.0))
        else:
            d["centrality"] = 0.0
        if d["degree"] is None:
            d["degree"] = len(set(g.predecessors(v)) | set(g.successors(v)))


def _resolve_centre(g: nx.MultiDiGraph, centre: str, rd: _Reader) -> str:
    if centre in g:
        return centre
    candidates: list[str] = []
    for predicate in ("key", "name", "alias"):
        candidates = [e for e in rd.find(predicate, centre) if e in g]
        if candidates:
            break
    if not candidates:
        raise NotFoundError(f"no entity {centre!r} in the view; give its name, an alias, its key (Type/name) or IRI")
    return max(candidates, key=lambda v: (g.nodes[v]["centrality"], v))


def _apply_filters(g: nx.MultiDiGraph, f: ViewFilter, rd: _Reader) -> nx.MultiDiGraph:
    """Work out the kept nodes on views of ``g``, then copy only what is kept."""
    types = set(f.node_types)
    centre = _resolve_centre(g, f.centre, rd) if f.centre else None
    nodes = g.nodes
    keep = {v for v, t in nodes(data="type") if t in types}
    if f.communities:
        wanted = set(f.communities)
        keep = {v for v in keep if nodes[v]["community"] in wanted or nodes[v]["type"] == "Source"}
    if centre is not None:
        keep.add(centre)
    min_w = f.min_weight

    def heavy(a: str, b: str, k: str) -> bool:
        return g[a][b][k].get("weight", 1.0) >= min_w

    view = g.subgraph(keep)
    if min_w > 0:
        view = nx.subgraph_view(view, filter_edge=heavy)
    distance: dict[str, int] = {}
    if centre is not None:
        distance = nx.single_source_shortest_path_length(view.to_undirected(as_view=True), centre, cutoff=f.radius)
        keep = set(distance)
    if f.drop_isolated:
        keep = {v for v in keep if v == centre or any(w in keep and w != v for w in view.successors(v))
                or any(w in keep and w != v for w in view.predecessors(v))}
    if f.max_nodes is not None and len(keep) > f.max_nodes:
        ranked = sorted(keep, key=lambda v: (v != centre, -nodes[v]["centrality"], v))
        keep = set(ranked[:f.max_nodes])
    h = nx.MultiDiGraph()
    h.graph.update(g.graph)
    for v in g:  # the store's order
        if v in keep:
            attrs = dict(nodes[v])
            attrs["aliases"] = list(attrs.get("aliases") or ())
            if v in distance:
                attrs["distance"] = distance[v]
            h.add_node(v, **attrs)
    h.add_edges_from((a, b, k, dict(d)) for a, b, k, d in g.edges(keys=True, data=True)
                     if a in keep and b in keep and (min_w <= 0 or d.get("weight", 1.0) >= min_w))
    if centre is not None:
        h.graph["centre"] = centre
    return h


# ---------------------------------------------------------------- serialisations


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
        attrs["centrality"] = float(attrs.get("centrality", 0.0))
        if "pagerank" in attrs:
            attrs["pagerank"] = float(attrs["pagerank"])
        attrs["label"] = d.get("name", v)
        if gexf:
            colour = TYPE_COLOURS.get(d.get("type"), "#999999")
            attrs["viz"] = {"color": {"r": int(colour[1:3], 16), "g": int(colour[3:5], 16),
                                      "b": int(colour[5:7], 16), "a": 1.0},
                            "size": 4.0 + 40.0 * math.sqrt(attrs["centrality"])}
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


def _graphml(g: nx.MultiDiGraph) -> bytes:
    buf = BytesIO()
    nx.write_graphml(_typed_copy(g), buf, encoding="utf-8", prettyprint=True, named_key_ids=True)
    return buf.getvalue()


def _gexf(g: nx.MultiDiGraph) -> bytes:
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


def _dot_quote(s: Any) -> str:
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _dot(g: nx.MultiDiGraph) -> bytes:
    lines = ["digraph kg {", "  graph [overlap=false, splines=true, outputorder=edgesfirst];",
             '  node [shape=ellipse, style=filled, fontname="Noto Sans CJK SC,sans-serif", fontsize=10];',
             "  edge [arrowsize=0.5];"]
    for v, d in g.nodes(data=True):
        colour = TYPE_COLOURS.get(d.get("type"), "#999999")
        width = 0.3 + 3.0 * math.sqrt(float(d.get("centrality") or 0.0))
        attrs = {"label": d.get("name", v), "fillcolor": colour, "fontcolor": "white" if d.get("type") == "Place" else "black",
                 "width": f"{width:.2f}", "type": d.get("type", ""), "community": d.get("community", ""),
                 "centrality": f"{float(d.get('centrality') or 0):.6g}", "aliases": "|".join(d.get("aliases") or ())}
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


def layout_positions(g: nx.MultiDiGraph, scale: float | None = None) -> dict[str, tuple[float, float]]:
    """Node positions (a force-directed layout, seeded, so the same graph gives the same picture).

    The biggest components are laid out by themselves and packed in rows, so
    that small islands do not push the main one into a corner.
    """
    if g.number_of_nodes() == 0:
        return {}
    simple = _simple(g)
    for a, b, d in simple.edges(data=True):
        d["weight"] = 1.0 + math.log1p(d["weight"])
    comps = sorted(nx.connected_components(simple), key=lambda c: (-len(c), min(c)))
    try:
        import numpy  # noqa: F401 - networkx layouts need it
    except ImportError:
        return {}
    pos: dict[str, tuple[float, float]] = {}
    singles = [next(iter(c)) for c in comps if len(c) == 1]
    multi = [c for c in comps if len(c) > 1]
    # pack components: each gets a square proportional to sqrt(size)
    unit = 60.0
    x = y = row_h = 0.0
    row_w = unit * math.sqrt(max(1, g.number_of_nodes())) * 1.6
    for comp in multi:
        sub = simple.subgraph(comp)
        side = unit * math.sqrt(len(comp)) * 1.4
        if len(comp) == 2:
            p = dict(zip(sorted(comp), ((-0.5, 0.0), (0.5, 0.0))))
        else:
            p = _layout_component(sub, {v: g.nodes[v].get("centrality") or 0.0 for v in comp})
        if x > 0 and x + side > row_w:
            x, y, row_h = 0.0, y + row_h + unit, 0.0
        xs = [float(c[0]) for c in p.values()]
        ys = [float(c[1]) for c in p.values()]
        span = max(max(xs) - min(xs), max(ys) - min(ys), 1e-9)
        for v, c in p.items():
            pos[v] = (x + (float(c[0]) - min(xs)) / span * side, y + (float(c[1]) - min(ys)) / span * side)
        x += side + unit
        row_h = max(row_h, side)
    # isolated nodes: a grid below
    if singles:
        y += row_h + unit * 2
        cols = max(1, int(math.sqrt(len(singles)) * 2))
        for i, v in enumerate(sorted(singles, key=lambda v: -g.nodes[v]["centrality"])):
            pos[v] = ((i % cols) * unit * 0.8, y + (i // cols) * unit * 0.8)
    return {v: (round(px, 1), round(py, 1)) for v, (px, py) in pos.items()}


#: components up to this size get a full force-directed layout; bigger ones lay out their most central
#: nodes so and place the rest around the neighbour they hang from (seconds instead of minutes)
LAYOUT_CORE = 300
_GOLDEN = math.pi * (3 - math.sqrt(5))


def _spring(sub: nx.Graph, iterations: int = 60) -> dict[str, Any]:
    k = 1.0 / math.sqrt(max(1, len(sub)))
    try:
        return nx.spring_layout(sub, k=k, iterations=iterations, weight="weight", seed=7, method="force")
    except TypeError:  # networkx < 3.5 has no method=
        return nx.spring_layout(sub, k=k, iterations=iterations, weight="weight", seed=7)


def _layout_component(sub: nx.Graph, centrality: Mapping[str, float]) -> dict[str, tuple[float, float]]:
    """A connected component's layout: force-directed for its core, the rest placed breadth-first around
    the node it hangs from, on a golden-angle spiral so that siblings do not overlap."""
    if len(sub) <= LAYOUT_CORE:
        return {v: (float(c[0]), float(c[1])) for v, c in _spring(sub).items()}
    ranked = sorted(sub, key=lambda v: (-centrality.get(v, 0.0), v))
    core = ranked[:LAYOUT_CORE]
    pos = {v: (float(c[0]), float(c[1])) for v, c in _spring(sub.subgraph(core)).items()}
    step = 1.2 / math.sqrt(LAYOUT_CORE)  # about the core's edge length (spring_layout fills [-1, 1])
    children: Counter[str] = Counter()
    queue = deque(core)
    while queue:
        u = queue.popleft()
        ux, uy = pos[u]
        for w in sorted(sub[u], key=lambda w: (-sub[u][w].get("weight", 1.0), w)):
            if w in pos:
                continue
            c = children[u]
            children[u] += 1
            r = step * (0.35 + 0.12 * math.sqrt(c))
            a = c * _GOLDEN + (zlib.crc32(u.encode()) % 628) / 100.0
            pos[w] = (ux + r * math.cos(a), uy + r * math.sin(a))
            queue.append(w)
    return pos


# ---------------------------------------------------------------- the viewer's first view

#: a view with more nodes than this opens on an overview: the most central entities of the largest
#: communities, each community in a cell of a grid that fills the screen, every node labelled
OVERVIEW_NODES = 60
OVERVIEW_COMMUNITIES = 8


def overview_layout(g: nx.MultiDiGraph, budget: int = OVERVIEW_NODES,
                    communities: int = OVERVIEW_COMMUNITIES) -> dict[str, tuple[float, float]]:
    """The overview's nodes and their positions in the unit square (the viewer stretches it to the screen).

    The largest communities (by entities in the view) come first, each with its most central entities
    (3 to 10, as the budget allows); each community has a cell of a grid, the largest top left, with its
    most central entity in the middle and the others on a ring around it, most central first, clockwise
    from the top: a picture that reads the same on any graph, with room for every label.
    """
    members: dict[Any, list[str]] = defaultdict(list)
    for v, d in g.nodes(data=True):
        if d.get("type") != "Source":
            members[d.get("community")].append(v)
    if not members:
        return {}
    groups = sorted(members.values(), key=lambda vs: (-len(vs), min(vs)))[:communities]
    per = max(3, min(10, budget // len(groups)))
    picked = [sorted(vs, key=lambda v: (-(g.nodes[v].get("centrality") or 0.0), v))[:per] for vs in groups]
    cols = max(1, math.ceil(math.sqrt(len(picked) * 16 / 9)))
    rows = math.ceil(len(picked) / cols)
    pos: dict[str, tuple[float, float]] = {}
    for i, vs in enumerate(picked):
        cx, cy = (i % cols + 0.5) / cols, (i // cols + 0.5) / rows
        pos[vs[0]] = (round(cx, 4), round(cy, 4))
        ring = vs[1:]
        for j, v in enumerate(ring):
            a = -math.pi / 2 + 2 * math.pi * j / len(ring)
            pos[v] = (round(cx + 0.36 / cols * math.cos(a), 4), round(cy + 0.36 / rows * math.sin(a), 4))
    return pos


# ---------------------------------------------------------------- the HTML viewer

# the link pass's coverage records (the same read as the API's sources(covering:) index)
_Q_COVERAGE = f"""SELECT ?e ?src ?score ?direct WHERE {{ GRAPH <{LINKS_GRAPH}> {{
  ?cov kg:entity ?e ; kg:source ?src .
  OPTIONAL {{ ?cov kg:score ?score }} OPTIONAL {{ ?cov kg:direct ?direct }}
}} }}"""

#: per node, how much evidence the viewer embeds
HTML_MENTIONS_PER_NODE = 4
HTML_SOURCES_PER_NODE = 5
HTML_SENTENCE_CHARS = 180
HTML_EDGES_PER_NODE = 12


def node_details(select: Select | _Reader, g: nx.MultiDiGraph, *, mentions_per_node: int = HTML_MENTIONS_PER_NODE,
                 sources_per_node: int = HTML_SOURCES_PER_NODE,
                 sentence_chars: int = HTML_SENTENCE_CHARS) -> dict[str, dict[str, Any]]:
    """Evidence for each node: mentions (text, sentence, note path and title) and sources (url, title),
    capped per node, one mention per note first so that the sample spans notes."""
    rd = _reader(select)
    wanted = set(g)
    texts, sentences, in_source = rd.first("text"), rd.first("sentence"), rd.first("inSource")
    paths, titles = rd.first("path"), rd.first("title")
    rows_by_entity: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for m, e in rd.pairs("mentionOf"):
        if e not in wanted:
            continue
        note = rd.note_of(m)
        path = paths.get(note) if note else None
        if path is None or m not in texts:
            continue
        rows_by_entity[e].append({"m": m, "text": texts[m], "sentence": sentences.get(m), "path": path,
                                  "title": titles.get(note), "src": in_source.get(m)})
    sources = {s_: (url, title) for s_, (url, title, _) in _sources(rd).items()}
    # the sources that cover each entity, as the API's sources(covering:) ranks them: the link pass's
    # coverage records (direct before inferred, by score), then sources whose title names the entity
    ranked: dict[str, dict[str, tuple[float, bool]]] = defaultdict(dict)
    for r in rd.select(_Q_COVERAGE):  # one query: a third of the time of four single-pattern reads
        s_, e = r["src"], r["e"]
        if e in wanted and s_ in sources:
            is_direct = r["direct"] in (True, "true", "1")
            best = ranked[e].get(s_)
            cand = (_num(r["score"], 1.0 if is_direct else 0.0), is_direct)
            if best is None or cand > best:
                ranked[e][s_] = cand
    for s_, e in rd.pairs("mentions"):
        if e in wanted and s_ in sources and s_ not in ranked[e]:
            ranked[e][s_] = (1.0, True)
    for a, b, d in g.edges(data=True):
        if d.get("kind") == "covers" and a in sources and a not in ranked[b]:
            ranked[b][a] = (_num(d.get("weight"), 1.0), d.get("method") != "inferred")
    entity_sources = {e: sorted(by_src, key=lambda s_: (not by_src[s_][1], -by_src[s_][0], sources[s_][0], s_))
                      for e, by_src in ranked.items()}
    out: dict[str, dict[str, Any]] = {}
    for v in g:
        rows = sorted(rows_by_entity.get(v, []), key=lambda r: (r["path"], r["m"]))
        picked: list[dict[str, Any]] = []
        seen_notes: set[str] = set()
        seen_sentences: set[tuple[str, str]] = set()
        rest = []
        for r in rows:  # first one per note, then the rest; one per sentence
            said = (r["path"], r.get("sentence") or r["m"])
            if said in seen_sentences:
                continue
            seen_sentences.add(said)
            if r["path"] not in seen_notes:
                seen_notes.add(r["path"])
                picked.append(r)
            else:
                rest.append(r)
        picked += rest
        mentions = []
        for r in picked[:mentions_per_node]:
            sentence = (r.get("sentence") or "").strip()
            if len(sentence) > sentence_chars:
                sentence = sentence[:sentence_chars] + "…"
            m = {"text": r["text"], "sentence": sentence, "note": r["path"]}
            if r.get("title"):
                m["title"] = r["title"]
            mentions.append(m)
        srcs = []
        for s in entity_sources.get(v, [])[:sources_per_node]:
            url, title = sources[s]
            score_, is_direct = ranked[v][s]
            srcs.append({"url": url, "title": title or url, "direct": is_direct, "score": round(score_, 3)})
        if g.nodes[v].get("type") == "Source" and g.nodes[v].get("url"):
            srcs.insert(0, {"url": g.nodes[v]["url"], "title": g.nodes[v]["name"], "direct": True, "score": 1.0})
        out[v] = {"mentions": mentions, "notes": len(seen_notes), "sources": srcs,
                  "source_count": len(entity_sources.get(v, ()))}
    return out


def _html_payload(g: nx.MultiDiGraph, details: Mapping[str, Mapping[str, Any]], title: str,
                  api: str | None) -> dict[str, Any]:
    pos = layout_positions(g)
    ids = {v: i for i, v in enumerate(g)}
    nodes = []
    for v, d in g.nodes(data=True):
        x, y = pos.get(v, (0.0, 0.0))
        n = {"id": v, "k": d.get("key", v), "n": d.get("name", v), "t": d.get("type", ""),
             "c": round(float(d.get("centrality") or 0.0), 6), "m": d.get("community"),
             "g": d.get("degree"), "x": x, "y": y}
        if d.get("aliases"):
            n["a"] = list(d["aliases"])
        if d.get("mentions"):
            n["mc"] = d["mentions"]
        det = details.get(v)
        if det:
            if det.get("mentions"):
                n["ev"] = [[m["text"], m["sentence"], m["note"], m.get("title", "")] for m in det["mentions"]]
            if det.get("sources"):  # [url, title, direct (1/0), score]
                n["src"] = [[s["url"], s["title"], int(bool(s.get("direct", True))), s.get("score", 1.0)]
                            for s in det["sources"]]
                if det.get("source_count", 0) > len(det["sources"]):
                    n["sc"] = det["source_count"]
            if det.get("notes"):
                n["nn"] = det["notes"]
        nodes.append(n)
    # one edge per pair and kind: a→b and b→a of the same kind are drawn once, with the larger weight
    merged: dict[tuple[int, int, str], list[Any]] = {}
    for a, b, d in g.edges(data=True):
        i, j = ids[a], ids[b]
        kind = d.get("kind", "")
        key = (min(i, j), max(i, j), kind)
        w = round(float(d.get("weight", 1.0)), 4)
        if key not in merged:
            merged[key] = [i, j, kind, w, d.get("method", "")]
        elif w > merged[key][3]:
            merged[key][3] = w
            merged[key][4] = d.get("method", "")
    # level of detail for edges: each node keeps its strongest HTML_EDGES_PER_NODE (an edge stays if
    # either end keeps it), so that a dense co-mention graph does not fill the file with weak links
    by_node: dict[int, list[tuple[float, tuple[int, int, str]]]] = defaultdict(list)
    for key, e in merged.items():
        by_node[e[0]].append((e[3], key))
        by_node[e[1]].append((e[3], key))
    kept: set[tuple[int, int, str]] = set()
    for lst in by_node.values():
        lst.sort(key=lambda x: (-x[0], x[1]))
        kept.update(k for _, k in lst[:HTML_EDGES_PER_NODE])
    edges = [e for key, e in merged.items() if key in kept]
    meta = {k: v for k, v in g.graph.items() if isinstance(v, (str, int, float))}
    overview = overview_layout(g) if len(nodes) > OVERVIEW_NODES and "centre" not in g.graph else {}
    return {"title": title, "meta": meta, "colours": TYPE_COLOURS, "nodes": nodes, "edges": edges, "api": api,
            "overview": [[ids[v], x, y] for v, (x, y) in overview.items()]}


def script_json(data: Any) -> str:
    """JSON that is safe inside an HTML <script> element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    # safe inside <script>: no "</", no "<!--", no line separators that old parsers choke on
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def vendored_library() -> tuple[str, str]:
    """The vendored cytoscape.js: ``(source, version)``."""
    vendor = _VIZ_DIR / "vendor"
    meta = json.loads((vendor / "VENDORED.json").read_text(encoding="utf-8"))
    lib = meta["libraries"]["cytoscape"]
    return (vendor / lib["file"]).read_text(encoding="utf-8"), lib["version"]


def render_html(g: nx.MultiDiGraph, details: Mapping[str, Mapping[str, Any]] | None = None, *,
                title: str = "kg: entity graph", api: str | None = None) -> str:
    """One self-contained HTML page (library, style and data inline; nothing fetched from anywhere)."""
    template = (_VIZ_DIR / "viewer.html").read_text(encoding="utf-8")
    lib, version = vendored_library()
    payload = _html_payload(g, details or {}, title, api)
    lib = lib.replace("</script", "<\\/script")
    page = template.replace("{{TITLE}}", _html.escape(title))
    page = page.replace("{{LIBRARY_VERSION}}", _html.escape(version))
    # replace the data and library last, by position, so that nothing inside them is taken for a marker
    before, rest = page.split("/*{{LIBRARY}}*/", 1)
    middle, after = rest.split("/*{{DATA}}*/", 1)
    return before + lib + middle + script_json(payload) + after


# ---------------------------------------------------------------- entry points


def export_graph(g: nx.MultiDiGraph, fmt: str, *, details: Mapping[str, Mapping[str, Any]] | None = None,
                 title: str = "kg: entity graph", api: str | None = None) -> tuple[bytes, str]:
    """Serialise a view graph: ``(body, media type)``."""
    if fmt not in VIEW_FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; use one of {', '.join(VIEW_FORMATS)}")
    media = VIEW_FORMATS[fmt][0]
    if fmt == "graphml":
        return _graphml(g), media
    if fmt == "gexf":
        return _gexf(g), media
    if fmt == "cytoscape":
        return json.dumps(cytoscape_elements(g), ensure_ascii=False).encode("utf-8"), media
    if fmt == "d3":
        return json.dumps(d3_node_link(g), ensure_ascii=False).encode("utf-8"), media
    if fmt == "dot":
        return _dot(g), media
    return render_html(g, details, title=title, api=api).encode("utf-8"), media


def export_view(select: Select, fmt: str, filters: ViewFilter | None = None, *, title: str | None = None,
                api: str | None = None) -> tuple[bytes, str]:
    """Load, filter and serialise in one go (what ``kg export`` and ``/export/{format}`` call).

    An HTML view with more than :data:`HTML_DEFAULT_MAX_NODES` nodes and no
    budget keeps the most central ones.
    """
    if fmt not in VIEW_FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; use one of {', '.join(VIEW_FORMATS)}")
    f = filters or ViewFilter()
    if fmt == "html" and f.max_nodes is None:
        f = replace(f, max_nodes=HTML_DEFAULT_MAX_NODES)
    rd = _Reader(select)
    g = load_view_graph(rd, f)
    details = node_details(rd, g) if fmt == "html" else None
    return export_graph(g, fmt, details=details, title=title or "kg: entity graph", api=api)


def demo_graph() -> nx.MultiDiGraph:
    """A four-entity view graph for examples and doctests."""
    g = nx.MultiDiGraph()
    ent = "https://w3id.org/kg/id/entity/"
    for i, (t, name, pr) in enumerate([("Person", "北一辉", 0.4), ("Person", "池田成彬", 0.2),
                                       ("Event", "二二六兵变", 0.3), ("Place", "日本", 0.1)]):
        g.add_node(ent + f"{t}/{name}", type=t, name=name, key=f"{t}/{name}", aliases=["北辉次郎"] if i == 0 else [],
                   pagerank=pr, centrality=pr, community=0 if i < 3 else 1, degree=None, mentions=1)
    g.add_edge(ent + "Person/北一辉", ent + "Event/二二六兵变", key="related:co-occurrence", kind="related",
               weight=3.0, method="co-occurrence")
    g.add_edge(ent + "Person/池田成彬", ent + "Person/北一辉", key="related:co-occurrence", kind="related",
               weight=1.0, method="co-occurrence")
    for v in g:
        g.nodes[v]["degree"] = g.degree(v)
    return g
