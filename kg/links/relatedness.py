"""Relatedness between entities (shared snippets and source titles, damped for hubs), and centrality and
communities on the graph of the kept links: :func:`relatedness`, :func:`centrality` (PageRank),
:func:`communities_of` (Louvain, safe from its infinite loop)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import networkx as nx

from kg.links.records import ROUND, EntityInfo, EntityStats, LinkInput, MentionInfo, Related
from kg.links.scoring import SCORING
from kg.parallel import forked

_IN_SNIPPET, _IN_SECTION, _IN_SOURCE = SCORING.in_snippet, SCORING.in_section, SCORING.in_source


def contexts_of(m: MentionInfo) -> list[tuple[str, float, str]]:
    """The contexts a mention puts its entity in: (context IRI, weight, kind)."""
    out = []
    if m.snippet:
        out.append((m.snippet, _IN_SNIPPET, "snippet"))
    if m.section:
        out.append((m.section, _IN_SECTION, "section"))
    if m.source:
        out.append((m.source, _IN_SOURCE, "source"))
    return out


#: how the link pass measures relatedness (kg:method of its kg:Relatedness records)
RELATED_METHOD = "adamic-adar/cosine:snippet+source"
#: contexts added to each entity's count before damping (SCORING.damping_prior): two entities named together
#: once are not more related than two named together often (plain cosine would rank a one-off co-mention first)
_DAMPING_PRIOR = SCORING.damping_prior


def damped(shared: float, n_a: int, n_b: int) -> float:
    """Relatedness from the Adamic–Adar sum of two entities' shared contexts and the contexts each is named in:
    a smoothed cosine, so that an entity named everywhere (a hub) is related to each one weakly.

    >>> round(damped(5.0, 20, 3000), 3), round(damped(0.9, 20, 2), 3), round(damped(7.5, 20, 300), 3)
    (0.018, 0.068, 0.086)
    """
    return shared / math.sqrt((n_a + _DAMPING_PRIOR) * (n_b + _DAMPING_PRIOR))


def relatedness(data: LinkInput, entities: Mapping[str, EntityInfo], p: Mapping[str, Any],
                only: set[str] | None = None, freq: Mapping[str, int] | None = None):
    """Top-k related entities per entity, their degrees, and how many contexts each entity is named in.

    ``freq`` (entity → contexts), when given, is used for the entities it holds rather than counted again
    (an incremental pass damps hubs as the last full pass counted them); with ``only``, the rows (and
    degrees) of those entities alone.
    """
    members: dict[str, dict[str, list[tuple[str, str]]]] = defaultdict(dict)  # ctx -> entity -> [(sentence, m)]
    wanted = None  # with ``only``: the contexts those entities are in (no other context adds to their rows)
    if only is not None:
        wanted = {ctx for m in data.mentions if m.entity in only for ctx, _, kind in contexts_of(m)
                  if kind != "section"}
    counted: dict[str, set[str]] = defaultdict(set)  # entity -> its contexts (those freq does not hold)
    for m in data.mentions:
        if wanted is not None and m.snippet not in wanted and m.source not in wanted and freq is not None \
                and m.entity in freq:
            continue  # (most mentions, when only a few entities' rows are wanted)
        for ctx, _, kind in contexts_of(m):
            if kind == "section":  # a section names both ends of a pair in no one sentence or snippet
                continue
            if freq is None or m.entity not in freq:
                counted[m.entity].add(ctx)
            if wanted is None or ctx in wanted:
                members[ctx].setdefault(m.entity, []).append((m.sentence, m.iri))
    n_ctx = dict(freq or {})
    n_ctx.update((e, len(c)) for e, c in counted.items())
    del counted
    scores: dict[tuple[str, str], float] = defaultdict(float)
    neighbours: dict[str, set[str]] = defaultdict(set)
    hub = p["hub_degree"]
    for ctx in sorted(members):
        ents = sorted(members[ctx])
        d = len(ents)
        if d < 2 or d > hub or (only is not None and only.isdisjoint(members[ctx])):
            continue
        add = 1.0 / math.log(1.0 + d)
        if only is None:
            pairs: Iterable[tuple[str, str]] = ((a, b) for i, a in enumerate(ents) for b in ents[i + 1:])
        else:  # only the pairs with one of those entities (each once)
            pairs = ((x, y) if x < y else (y, x) for x in ents if x in only
                     for y in ents if y != x and not (y in only and y < x))
        for a, b in pairs:
            scores[a, b] += add
            neighbours[a].add(b)
            neighbours[b].add(a)
    per: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for (a, b), sc in scores.items():
        w = damped(sc, n_ctx.get(a, 0), n_ctx.get(b, 0))
        per[a].append((w, b))
        per[b].append((w, a))
    ctx_of: dict[str, list[str]] = defaultdict(list)
    for ctx in sorted(members):
        if len(members[ctx]) <= hub:
            for e in members[ctx]:
                ctx_of[e].append(ctx)

    def evidence(a: str, b: str) -> tuple[str, ...]:
        """Two mentions that name both ends: in one sentence where there is one, else in the smallest
        shared snippet or source title (the same both ways: one record holds it for the pair)."""
        x, y = (a, b) if (len(ctx_of[a]), a) <= (len(ctx_of[b]), b) else (b, a)
        best: tuple | None = None
        for ctx in ctx_of[x]:
            mem = members[ctx]
            if y not in mem:
                continue
            said = {}
            for sentence, iri in mem[x]:
                if sentence:
                    said.setdefault(sentence, iri)
            both = next(((said[sentence], iri) for sentence, iri in mem[y] if sentence in said), None)
            key = (both is None, len(mem), ctx)
            if best is None or key < best[0]:
                best = (key, both or (mem[x][0][1], mem[y][0][1]))
        return tuple(sorted(set(best[1]))) if best is not None else ()

    related: dict[str, list[Related]] = {}
    k = p["top_k"]
    for a in sorted(per):
        if only is not None and a not in only:
            continue
        top = sorted(per[a], key=lambda t: (-t[0], t[1]))[:k]
        related[a] = [Related(a, b, round(w, ROUND), rank, RELATED_METHOD, evidence(a, b))
                      for rank, (w, b) in enumerate(top, 1)]
    degree = {e: len(neighbours.get(e, ())) for e in (entities if only is None else only)}
    return related, degree, n_ctx


def centrality(entities: Mapping[str, EntityInfo], related: Mapping[str, list[Related]],
               degree: Mapping[str, int], p: Mapping[str, Any],
               old_community: Mapping[str, int] | None = None) -> tuple[EntityStats, ...]:
    """PageRank and Louvain communities on the graph of top-k links.

    With ``old_community`` (an incremental pass) Louvain is not run again: known entities keep their
    community, a new one joins the community of its strongest related neighbour (else a new one).
    """
    g = nx.Graph()
    g.add_nodes_from(sorted(entities))
    edges: dict[tuple[str, str], list] = {}  # first seen (a, b) -> [a, b, weight]; the graph keeps that order
    for a in sorted(related):
        for r in related[a]:
            b = r.to_entity
            e = edges.get((a, b)) or edges.get((b, a))
            if e is None:
                edges[a, b] = [a, b, r.weight]
            elif r.weight > e[2]:
                e[2] = r.weight
    g.add_weighted_edges_from(edges.values())
    pr = pagerank(list(g), list(edges.values()))
    if old_community is None:
        communities = communities_of(g, p["seed"]) if g.number_of_edges() else [{n} for n in g]
        ordered = sorted((sorted(c) for c in communities), key=lambda c: (-len(c), c[0]))
        community = {n: i for i, c in enumerate(ordered) for n in c}
    else:
        community = {e: old_community[e] for e in entities if e in old_community}
        fresh = max(old_community.values(), default=-1) + 1
        for e in sorted(entities):
            if e in community:
                continue
            near = sorted(((d["weight"], v) for v, d in g[e].items() if v in community), key=lambda t: (-t[0], t[1]))
            if near:
                community[e] = community[near[0][1]]
            else:
                community[e] = fresh
                fresh += 1
    return tuple(EntityStats(e, round(pr[e], ROUND + 3), community[e], degree.get(e, 0)) for e in sorted(entities))


#: seconds Louvain may take before it is taken to be looping, and the seeds tried in turn
_LOUVAIN_SECONDS = 30.0
_LOUVAIN_TRIES = 3


def communities_of(g: nx.Graph, seed: int, seconds: float | None = None) -> list[set[str]]:
    """Louvain communities of ``g`` (networkx), made safe from its infinite loop.

    networkx 3.6's Louvain can move nodes back and forth forever when round-off makes equal gains look
    unequal (networkx issue #8739, fixed after 3.6.1).  It runs here on integer weights (the weights are
    rounded to 6 decimals, so scaled by 10⁶ they are exact integers and the partition is the same), in a
    child process; one that has not finished within a limit far beyond its usual time (seconds on
    10⁵ links) is stopped and the next seed tried; if none finishes, each connected component is a
    community.  Given the seed, Louvain either finishes or loops forever, so the answer stays deterministic
    unless the machine is over ten times slower than usual.  ``seconds`` sets the limit (default: 30 s and
    1 s per 2000 links).
    """
    gi = nx.Graph()
    gi.add_nodes_from(g)
    gi.add_weighted_edges_from((a, b, max(1, round(d["weight"] * 10 ** ROUND))) for a, b, d in g.edges(data=True))
    limit = seconds if seconds is not None else _LOUVAIN_SECONDS + gi.number_of_edges() / 2000
    for k in range(_LOUVAIN_TRIES):
        wait = forked(nx.community.louvain_communities, gi, "weight", 1, 1e-07, None, seed + k)
        try:
            return wait(timeout=limit)
        except TimeoutError:
            continue
    return [set(c) for c in nx.connected_components(g)]




def pagerank(nodes: list[str], edges: list, alpha: float = 0.85, tol: float = 1e-6,
             max_iter: int = 100) -> dict[str, float]:
    """Weighted PageRank of an undirected graph given as its nodes and ``[a, b, weight]`` edges: networkx's
    SciPy PageRank (same matrix, same iteration, same floats), without building the matrix edge by edge
    through the graph API (a second on 10⁵ links)."""
    n = len(nodes)
    if not edges:  # every node is dangling: one step gives each the same rank
        return dict.fromkeys(nodes, (1.0 - alpha) / n + alpha * sum([1.0 / n] * n) / n) if n else {}
    # (imported here: SciPy takes a good part of a second to import, and kg.links is also imported to answer
    # path queries, which never need it)
    import numpy as np
    import scipy as sp

    index = {v: i for i, v in enumerate(nodes)}
    row = np.fromiter((index[a] for a, _, _ in edges), dtype=np.int64, count=len(edges))
    col = np.fromiter((index[b] for _, b, _ in edges), dtype=np.int64, count=len(edges))
    w = np.fromiter((x for _, _, x in edges), dtype=float, count=len(edges))
    loops = row == col  # symmetrising counts a self-loop twice: networkx keeps it once
    r, c = np.concatenate([row, col[~loops]]), np.concatenate([col, row[~loops]])
    d = np.concatenate([w, w[~loops]])
    a = sp.sparse.coo_array((d, (r, c)), shape=(n, n), dtype=float).asformat("csr")
    s = a.sum(axis=1)
    s[s != 0] = 1.0 / s[s != 0]
    a = sp.sparse.dia_array((s.T, 0), shape=a.shape).tocsr() @ a
    x = np.repeat(1.0 / n, n)
    p = np.repeat(1.0 / n, n)
    dangling = np.where(s == 0)[0]
    for _ in range(max_iter):
        last = x
        x = alpha * (x @ a + sum(x[dangling]) * p) + (1 - alpha) * p
        if np.absolute(x - last).sum() < n * tol:
            return dict(zip(nodes, map(float, x)))
    raise nx.PowerIterationFailedConvergence(max_iter)
