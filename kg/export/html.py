"""The HTML viewer: one self-contained page (cytoscape.js, style and data inline; nothing fetched from
anywhere), with evidence per node (:func:`node_details`) and a first view (:mod:`kg.export.layout`)."""

from __future__ import annotations

import html as _html
import json
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import networkx as nx

from kg.export.layout import OVERVIEW_NODES, layout_positions, overview_layout
from kg.export.view import Select, ViewReader, as_reader, number, source_records
from kg.export.writers import TYPE_COLOURS
from kg.vocab import LINKS_GRAPH, OA_NS, sentence_of

__all__ = ["HTML_MENTIONS_PER_NODE", "HTML_SOURCES_PER_NODE", "HTML_SENTENCE_CHARS", "HTML_EDGES_PER_NODE",
           "node_details", "render_html", "script_json", "vendored_library", "write_html"]

_VIZ_DIR = Path(__file__).parent.parent / "viz"


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


def node_details(select: Select | ViewReader, g: nx.MultiDiGraph, *, mentions_per_node: int = HTML_MENTIONS_PER_NODE,
                 sources_per_node: int = HTML_SOURCES_PER_NODE,
                 sentence_chars: int = HTML_SENTENCE_CHARS) -> dict[str, dict[str, Any]]:
    """Evidence for each node: mentions (text, sentence, note path and title) and sources (url, title),
    capped per node, one mention per note first so that the sample spans notes."""
    rd = as_reader(select)
    wanted = set(g)
    texts, sentences, in_source = rd.first(OA_NS + "exact"), rd.first("sentence"), rd.first("inSource")
    contents = rd.first("content")  # a mention's sentence is a span of its note's text
    paths, titles = rd.first("path"), rd.first("title")
    rows_by_entity: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for m, e in rd.pairs("mentionOf"):
        if e not in wanted:
            continue
        note = rd.note_of(m)
        path = paths.get(note) if note else None
        if path is None or m not in texts:
            continue
        rows_by_entity[e].append({"m": m, "text": texts[m], "path": path,
                                  "sentence": sentence_of(contents.get(note), sentences.get(m)),
                                  "title": titles.get(note), "src": in_source.get(m)})
    sources = {s_: (url, title) for s_, (url, title, _) in source_records(rd).items()}
    # the sources that cover each entity, as the API's sources(covering:) ranks them: the link pass's
    # coverage records (direct before inferred, by score), then sources whose title names the entity
    ranked: dict[str, dict[str, tuple[float, bool]]] = defaultdict(dict)
    for r in rd.select(_Q_COVERAGE):  # one query: a third of the time of four single-pattern reads
        s_, e = r["src"], r["e"]
        if e in wanted and s_ in sources:
            is_direct = r["direct"] in (True, "true", "1")
            best = ranked[e].get(s_)
            cand = (number(r["score"], 1.0 if is_direct else 0.0), is_direct)
            if best is None or cand > best:
                ranked[e][s_] = cand
    for s_, e in rd.pairs("mentions"):
        if e in wanted and s_ in sources and s_ not in ranked[e]:
            ranked[e][s_] = (1.0, True)
    for a, b, d in g.edges(data=True):
        if d.get("kind") == "covers" and a in sources and a not in ranked[b]:
            ranked[b][a] = (number(d.get("weight"), 1.0), d.get("method") != "inferred")
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




def write_html(g: nx.MultiDiGraph, details: Mapping[str, Mapping[str, Any]] | None = None,
               title: str = "kg: entity graph", api: str | None = None) -> bytes:
    """The viewer page of ``g`` as UTF-8 (the ``html`` format's writer)."""
    return render_html(g, details, title=title, api=api).encode("utf-8")
