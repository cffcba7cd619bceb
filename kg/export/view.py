"""Reading and filtering a view: the entity graph of a store as a networkx graph, cut down by a
:class:`kg.export.filters.ViewFilter`.

:func:`load_view_graph` reads entities (and, if asked for, sources) with the edges between them through
bound SPARQL, one triple pattern at a time (:class:`ViewReader`), and applies the filter (types,
communities, a centre and a radius, a minimum weight, a node budget filled by centrality).

Nodes carry ``type``, ``name``, ``aliases``, ``key``, ``centrality``, ``pagerank``, ``community``,
``degree`` and ``mentions`` (how many mentions back the entity).  Edges carry ``kind`` (``related``,
``co-mention`` or ``covers``), ``weight`` and ``method``.

Centrality and communities are the link pass's (``kg:pagerank``, ``kg:community`` in the graph).  Where the
link pass has not run (no ``kg:Relatedness`` in the store), edges are co-mentions (entities named in the
same snippet; the weight is the number of such snippets), centrality is None (the node budget then keeps
the entities most mentioned) and communities are worked out here so that a view still has them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from itertools import combinations
from typing import Any

import networkx as nx

from kg.errors import NotFoundError
from kg.export.filters import ViewFilter
from kg.model import ENTITY_TYPES
from kg.vocab import KG_NS, method_name

__all__ = ["Select", "ViewReader", "as_reader", "load_view_graph", "source_records", "simple_graph", "number",
           "demo_graph"]

Select = Callable[..., list[dict[str, Any]]]


#
# Each query is one triple pattern with its predicate (and sometimes its
# object) bound, joined here in Python.  Joins over the union of the per-note
# graphs are slow in Oxigraph (the entity query alone took minutes on the
# 251-post corpus); single patterns answer from one index in well under a
# second each.

_Q_PAIRS = "SELECT DISTINCT ?s ?p ?o WHERE { ?s ?p ?o }"
_RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


class ViewReader:
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


def as_reader(select: Select | ViewReader) -> ViewReader:
    """``select`` (a store's select) as a reader; a reader as it is (its reads are cached)."""
    return select if isinstance(select, ViewReader) else ViewReader(select)


def load_view_graph(select: Select | ViewReader, filters: ViewFilter | None = None) -> nx.MultiDiGraph:
    """The entity graph of a store (``select`` is a store's ``select``), cut down by ``filters``.

    Node ids are IRIs.  The graph is a :class:`networkx.MultiDiGraph` (two
    entities may be related by several methods); ``graph.graph`` records what
    was kept out of how much (``total_nodes``, ``shown_nodes``, ...).
    """
    f = filters or ViewFilter()
    rd = as_reader(select)
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
    rank_from, rank_to = rd.first("rankFrom"), rd.first("rankTo")
    for r in sorted(rd.typed("Relatedness")):
        a, b = froms.get(r), tos.get(r)
        if a in g and b in g and a != b:
            method = method_name(methods.get(r)) or "related"
            # one record per pair: an edge each way the pair is ranked (in the ranking end's top-k)
            for x, y in [(a, b)] * (r in rank_from) + [(b, a)] * (r in rank_to):
                g.add_edge(x, y, key=f"related:{method}", kind="related", weight=number(weights.get(r), 1.0),
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


def number(v: Any, default: float) -> float:
    """``v`` as a float; ``default`` for None or what is not a number."""
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


def source_records(rd: ViewReader) -> dict[str, tuple[str, str | None, str | None]]:
    """Source IRI → (url, title, note path)."""
    urls, titles, paths = rd.first("url"), rd.first("title"), rd.first("path")
    out = {}
    for s_ in sorted(rd.typed("Source")):
        if s_ in urls:
            note = rd.note_of(s_)
            out[s_] = (urls[s_], titles.get(s_), paths.get(note) if note else None)
    return out


def _add_sources(g: nx.MultiDiGraph, rd: ViewReader) -> None:
    entities = set(g)
    for s_, (url, title, path) in source_records(rd).items():
        g.add_node(s_, type="Source", name=title or url, key=s_, aliases=[], url=url, note=path,
                   pagerank=None, community=None, degree=None, mentions=0)
    covered = 0
    src, ent = rd.first("source"), rd.first("entity")
    score, direct, method = rd.first("score"), rd.first("direct"), rd.first("method")
    for c in sorted(rd.typed("Coverage")):
        s_, e = src.get(c), ent.get(c)
        if s_ in g and e in entities:
            m = method_name(method.get(c)) or ("direct" if direct.get(c) in (True, None) else "inferred")
            g.add_edge(s_, e, key=f"covers:{m}", kind="covers", weight=number(score.get(c), 1.0), method=m)
            covered += 1
    if not covered:
        for s_, e in rd.pairs("mentions"):
            if s_ in g and g.nodes[s_]["type"] == "Source" and e in entities:
                g.add_edge(s_, e, key="covers:title", kind="covers", weight=1.0, method="title")


def simple_graph(g: nx.MultiDiGraph) -> nx.Graph:
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
    """``centrality``: the link pass's PageRank (``kg:pagerank``; 0 for a node it gave none, a source), or
    None where the store has no link pass (centrality is the link pass's, never computed here); ``degree``
    and ``community``: the store's where it has them, else worked out here."""
    nodes = g.nodes
    have_pr = any(nodes[n]["pagerank"] is not None for n in g)
    have_comm = any(nodes[n]["community"] is not None for n in g)
    if not have_comm and g.number_of_nodes():
        simple = simple_graph(g)
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
        else:
            d["centrality"] = 0.0 if have_pr else None
        if d["degree"] is None:
            d["degree"] = len(set(g.predecessors(v)) | set(g.successors(v)))


def _standing(d: Mapping[str, Any]) -> tuple[float, int]:
    """How a node ranks (the node budget, the choice of a centre): by its centrality; where it has none (the
    store has no link pass), by how many mentions back it."""
    c = d.get("centrality")
    return (c, 0) if c is not None else (0.0, d.get("mentions") or 0)


def _resolve_centre(g: nx.MultiDiGraph, centre: str, rd: ViewReader) -> str:
    if centre in g:
        return centre
    candidates: list[str] = []
    for predicate in ("key", "name", "alias"):
        candidates = [e for e in rd.find(predicate, centre) if e in g]
        if candidates:
            break
    if not candidates:
        raise NotFoundError(f"no entity {centre!r} in the view; give its name, an alias, its key (Type/name) or IRI")
    return max(candidates, key=lambda v: (*_standing(g.nodes[v]), v))


def _apply_filters(g: nx.MultiDiGraph, f: ViewFilter, rd: ViewReader) -> nx.MultiDiGraph:
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
        ranked = sorted(keep, key=lambda v: (v != centre, *(-x for x in _standing(nodes[v])), v))
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
