"""How two entities are connected, at query time: the networkx projection of the link input
(:func:`project_graph`), the entities most related to one (:func:`related_in`) and the cheapest meaningful
path between two (:func:`find_path`)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import networkx as nx

from kg.links.records import DEFAULTS, ROUND, Hop, LinkInput, Related
from kg.links.relatedness import RELATED_METHOD, contexts_of, damped
from kg.links.scoring import SCORING as S


def project_graph(data: LinkInput, hub_degree: int = DEFAULTS["hub_degree"]) -> nx.Graph:
    """The networkx projection of the link input.

    Nodes carry ``kind`` (``entity``, ``note``, ``section``, ``snippet``,
    ``source``) and ``name``.  Edges carry ``kind``:

    * ``mention``: entity — snippet / section / source title it is named in,
      with the first such mention's ``mention`` IRI, ``text``, ``sentence``,
      ``note`` and a ``cost``: 1 for snippets and sources, 1.5 for sections,
      plus ``0.8 ln(1 + n)`` for an entity named in ``n`` contexts and
      ``0.2 ln d`` for a context naming ``d`` entities, so that a path through
      a hub (a country every note names) costs more than one through specific
      links;
    * ``part``: snippet/source — section, section — parent section or note;
    * ``cooccurs``: entity — entity with the relatedness ``weight`` of the
      link pass (the Adamic–Adar sum over shared snippets and source titles,
      damped by the two context counts, see :func:`kg.links.relatedness.damped`; hubs,
      contexts naming more than ``hub_degree`` entities, excluded).

    >>> from kg.links import EntityInfo, MentionInfo
    >>> d = LinkInput((EntityInfo("e:a", "P/A", "Person", "A"),),
    ...               (MentionInfo("m:1", "e:a", "n.md", 0, 1, "A", "A.", snippet="s:1"),))
    >>> g = project_graph(d)
    >>> g.nodes["e:a"]["kind"], g.edges["e:a", "s:1"]["kind"]
    ('entity', 'mention')
    """
    g = nx.Graph()
    for n_iri, path in data.notes:
        g.add_node(n_iri, kind="note", name=path, note=path)
    note_iri = {path: n for n, path in data.notes}
    for e in data.entities:
        g.add_node(e.iri, kind="entity", name=e.name, type=e.type)
    for s in data.sections:
        g.add_node(s.iri, kind="section", name=s.heading_path, note=s.note)
    for s in data.snippets:
        g.add_node(s.iri, kind="snippet", name=s.iri.rsplit("#", 1)[-1], note=s.note)
    for s in data.sources:
        g.add_node(s.iri, kind="source", name=s.title or s.url, note=s.note, url=s.url)
    for s in data.sections:
        parent = s.parent or note_iri.get(s.note)
        if parent:
            g.add_edge(s.iri, parent, kind="part")
    for s in (*data.snippets, *data.sources):
        if s.section:
            g.add_edge(s.iri, s.section, kind="part")
        elif note_iri.get(s.note):
            g.add_edge(s.iri, note_iri[s.note], kind="part")
    members: dict[str, list[str]] = defaultdict(list)
    kinds: dict[str, str] = {}
    for m in data.mentions:
        if m.entity not in g:
            g.add_node(m.entity, kind="entity", name=m.text, type="Entity")
        for ctx, w, kind in contexts_of(m):
            if ctx not in g:
                g.add_node(ctx, kind=kind, name=ctx.rsplit("#", 1)[-1], note=m.note)
            if not g.has_edge(m.entity, ctx):
                g.add_edge(m.entity, ctx, kind="mention", weight=w, cost=S.hop if w >= 1.0 else S.hop_section,
                           mention=m.iri, text=m.text, sentence=m.sentence, note=m.note)
                members[ctx].append(m.entity)
                kinds[ctx] = kind
    n_ctx: Counter = Counter()  # contexts (snippets, source titles) each entity is named in
    for ctx, ents in members.items():
        if kinds[ctx] != "section":
            n_ctx.update(ents)
    for ctx, ents in members.items():
        spread = S.crowded_context * math.log(len(ents))
        for e in ents:
            g.edges[e, ctx]["cost"] += S.hub_entity * math.log(1.0 + n_ctx.get(e, 0)) + spread
    shared: dict[tuple[str, str], float] = defaultdict(float)
    for ctx in sorted(members):
        ents = sorted(members[ctx])
        if len(ents) < 2 or len(ents) > hub_degree or kinds[ctx] == "section":
            continue
        add = 1.0 / math.log(1.0 + len(ents))
        for i, a in enumerate(ents):
            for b in ents[i + 1:]:
                shared[a, b] += add
    for (a, b), sc in shared.items():
        g.add_edge(a, b, kind="cooccurs", weight=damped(sc, n_ctx[a], n_ctx[b]))
    return g


def related_in(graph: nx.Graph, iri: str, first: int) -> list[Related]:
    """The ``first`` entities most related to ``iri`` in a :func:`project_graph` (as the link pass ranks them,
    with the counts of this projection), each with two evidence mentions from the smallest snippet or source
    title naming both; [] for an entity the graph does not hold.

    >>> from kg.links import EntityInfo, MentionInfo
    >>> d = LinkInput((EntityInfo("e:a", "P/A", "Person", "A"), EntityInfo("e:b", "P/B", "Person", "B")),
    ...     (MentionInfo("m:1", "e:a", "n.md", 0, 1, "A", "A met B.", snippet="s:1"),
    ...      MentionInfo("m:2", "e:b", "n.md", 6, 7, "B", "A met B.", snippet="s:1")))
    >>> [(r.to_entity, r.rank, r.evidence) for r in related_in(project_graph(d), "e:a", 5)]
    [('e:b', 1, ('m:1', 'm:2'))]
    """
    if iri not in graph:
        return []
    near = sorted(((d["weight"], v) for v, d in graph[iri].items() if d.get("kind") == "cooccurs"),
                  key=lambda t: (-t[0], t[1]))[:first]
    out = []
    for rank, (w, b) in enumerate(near, 1):
        best = None
        for ctx, d in graph[iri].items():
            if d.get("kind") != "mention" or graph.nodes[ctx].get("kind") == "section" or not graph.has_edge(b, ctx):
                continue
            size = sum(1 for _, _, k in graph.edges(ctx, data="kind") if k == "mention")
            key = (d.get("sentence") != graph.edges[b, ctx].get("sentence"), size, ctx)
            if best is None or key < best[0]:
                best = (key, (d["mention"], graph.edges[b, ctx]["mention"]))
        ev = tuple(sorted(set(best[1]))) if best else ()
        out.append(Related(iri, b, round(w, ROUND), rank, RELATED_METHOD, ev))
    return out


def find_path(graph: nx.Graph, from_iri: str, to_iri: str, max_hops: int = 6,
              hub_degree: int = DEFAULTS["hub_degree"]) -> list[Hop] | None:
    """The cheapest meaningful path between two entities, as hops with their evidence; ``None`` if none.

    A meaningful path alternates entity → shared context → entity, where a
    context is a snippet or a source title that names both entities
    (``mention`` edges only).  Sections, notes, ``part`` edges and entity —
    entity shortcuts are left out, and so are hub contexts naming more than
    ``hub_degree`` entities: "both are in the same long note" explains
    nothing.  The cheapest path is taken (hop costs: see :func:`project_graph`;
    a hub entity or a crowded context costs more than a specific link).

    >>> from kg.links import EntityInfo, MentionInfo
    >>> d = LinkInput(
    ...     (EntityInfo("e:a", "P/A", "Person", "A"), EntityInfo("e:b", "P/B", "Person", "B"),
    ...      EntityInfo("e:c", "P/C", "Person", "C")),
    ...     (MentionInfo("m:1", "e:a", "n.md", 0, 1, "A", "A met B.", snippet="s:1"),
    ...      MentionInfo("m:2", "e:b", "n.md", 6, 7, "B", "A met B.", snippet="s:1"),
    ...      MentionInfo("m:3", "e:b", "n.md", 20, 21, "B", "B wrote to C.", snippet="s:2"),
    ...      MentionInfo("m:4", "e:c", "n.md", 29, 30, "C", "B wrote to C.", snippet="s:2")))
    >>> [(h.from_name, h.to_name, h.kind, h.evidence) for h in find_path(project_graph(d), "e:a", "e:c")]
    [('A', 'B', 'snippet', 'A met B.'), ('B', 'C', 'snippet', 'B wrote to C.')]
    >>> find_path(project_graph(d), "e:a", "e:c", max_hops=1) is None
    True
    """
    if from_iri not in graph or to_iri not in graph:
        return None
    if from_iri == to_iri:
        return []

    def node_ok(n: str) -> bool:
        kind = graph.nodes[n].get("kind")
        if kind == "entity":
            return True
        if kind in ("snippet", "source"):  # (a section names both ends in no one sentence or snippet)
            return sum(1 for _, _, k in graph.edges(n, data="kind") if k == "mention") <= hub_degree
        return False

    def edge_ok(u: str, v: str) -> bool:
        return graph.edges[u, v].get("kind") == "mention"

    view = nx.subgraph_view(graph, filter_node=node_ok, filter_edge=edge_ok)
    try:
        _, path = nx.bidirectional_dijkstra(view, from_iri, to_iri, weight="cost")
    except (nx.NetworkXNoPath, nx.NodeNotFound):
        return None
    if (len(path) - 1) // 2 > max_hops:
        return None
    hops = []
    for i in range(0, len(path) - 2, 2):
        a, ctx, b = path[i], path[i + 1], path[i + 2]
        ea, eb = graph.edges[a, ctx], graph.edges[ctx, b]
        kind = graph.nodes[ctx]["kind"]
        sentences = [s for s in dict.fromkeys((ea.get("sentence") or ea["text"], eb.get("sentence") or eb["text"]))]
        evidence = graph.nodes[ctx]["name"] if kind == "source" else " … ".join(sentences)
        hops.append(Hop(a, b, graph.nodes[a].get("name", a), graph.nodes[b].get("name", b), kind, ctx, evidence,
                        eb.get("note") or ea.get("note") or "", ea["mention"], eb["mention"],
                        ctx if kind == "source" else None))
    return hops

