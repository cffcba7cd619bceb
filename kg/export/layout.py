"""Where nodes go: a seeded force-directed layout (the same graph gives the same picture), and the HTML
viewer's first view, an overview of the largest communities."""

from __future__ import annotations

import math
import zlib
from collections import Counter, defaultdict, deque
from collections.abc import Mapping
from typing import Any

import networkx as nx

from kg.export.view import simple_graph

__all__ = ["LAYOUT_CORE", "OVERVIEW_NODES", "OVERVIEW_COMMUNITIES", "layout_positions", "overview_layout"]


def layout_positions(g: nx.MultiDiGraph, scale: float | None = None) -> dict[str, tuple[float, float]]:
    """Node positions (a force-directed layout, seeded, so the same graph gives the same picture).

    The biggest components are laid out by themselves and packed in rows, so
    that small islands do not push the main one into a corner.
    """
    if g.number_of_nodes() == 0:
        return {}
    simple = simple_graph(g)
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
        for i, v in enumerate(sorted(singles, key=lambda v: -(g.nodes[v].get("centrality") or 0.0))):
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


