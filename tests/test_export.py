"""Graph views: loading from the store, filters, and every export format (issue 6)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path

import networkx as nx
import pytest
from typer.testing import CliRunner

from kg.errors import ExportError, NotFoundError
from kg.export import (
    TYPE_COLOURS,
    VIEW_FORMATS,
    ViewFilter,
    export_graph,
    export_view,
    load_view_graph,
    node_details,
    parse_filter,
)
from kg.store import EmbeddedStore
from kg.viz.demo import SAMPLE, write_demo_store
from kg.vocab import entity_iri

ROOT = Path(__file__).resolve().parents[1]
BEI = str(entity_iri("Person/北一辉"))
IKEDA = str(entity_iri("Person/池田成彬"))
MITSUI = str(entity_iri("Organization/三井"))


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> EmbeddedStore:
    """The sample note with hand-made entities, relatedness, PageRank and communities."""
    path = tmp_path_factory.mktemp("demo") / "store"
    write_demo_store(path)
    return EmbeddedStore(path)


@pytest.fixture(scope="module")
def bare_store(tmp_path_factory) -> EmbeddedStore:
    """The same entities, but no link pass: no relatedness, PageRank or communities in the store."""
    path = tmp_path_factory.mktemp("bare") / "store"
    write_demo_store(path, links=False)
    return EmbeddedStore(path)


# ---------------------------------------------------------------- loading


def test_nodes_carry_type_name_aliases_centrality_community(store):
    g = load_view_graph(store.select)
    bei = g.nodes[BEI]
    assert bei["type"] == "Person" and bei["name"] == "北一辉" and bei["key"] == "Person/北一辉"
    assert bei["aliases"] == ["北辉次郎"]
    assert bei["community"] == 0 and bei["degree"] == 4 and bei["mentions"] == 4
    assert bei["centrality"] == pytest.approx(bei["pagerank"]) and bei["centrality"] > 0
    assert max(g, key=lambda v: g.nodes[v]["centrality"]) == BEI
    assert {t for _, t in g.nodes(data="type")} == {"Person", "Event", "Place", "Organization", "Paper"}
    assert g.graph["edge_source"] == "related" and g.graph["total_nodes"] == g.number_of_nodes() == 15


def test_edges_carry_kind_weight_method(store):
    g = load_view_graph(store.select)
    edges = g.get_edge_data(BEI, str(entity_iri("Event/二二六兵变")))
    assert edges == {"related:co-occurrence": {"kind": "related", "weight": 3.0, "method": "co-occurrence"}}
    # two methods between the same pair are two edges
    assert set(g.get_edge_data(BEI, IKEDA)) == {"related:shared-neighbour"}
    assert set(g.get_edge_data(IKEDA, BEI)) == {"related:co-occurrence"}


def test_without_link_pass_edges_are_co_mentions_and_there_is_no_centrality(bare_store):
    g = load_view_graph(bare_store.select)
    assert g.graph["edge_source"] == "co-mention"
    kinds = {d["kind"] for _, _, d in g.edges(data=True)}
    assert kinds == {"co-mention"}
    assert all(d["weight"] >= 1 and d["method"] == "snippet" for _, _, d in g.edges(data=True))
    assert g.has_edge(IKEDA, MITSUI) or g.has_edge(MITSUI, IKEDA)  # named in the same snippet
    assert all(g.nodes[v]["centrality"] is None for v in g)  # the link pass's, never computed by a view
    assert all(isinstance(g.nodes[v]["community"], int) for v in g)
    # a node budget then keeps the entities most mentioned
    most = sorted(g, key=lambda v: (-g.nodes[v]["mentions"], v))[:3]
    assert set(load_view_graph(bare_store.select, ViewFilter(max_nodes=3))) == set(most)
    for fmt in VIEW_FORMATS:  # every format writes a view without centrality
        body, _ = export_view(bare_store.select, fmt)
        assert body


def test_centrality_is_the_link_pass_pagerank(tmp_path):
    from kg.pipeline import build

    store = tmp_path / "store"
    assert build([str(ROOT / "samples")], store, n_process=1).ok
    built = EmbeddedStore(store)
    pagerank = {r["e"]: r["pr"] for r in built.select("SELECT ?e ?pr WHERE { ?e kg:pagerank ?pr }")}
    g = load_view_graph(built.select)
    assert g.graph["edge_source"] == "related"
    assert pagerank and all(g.nodes[v]["centrality"] == pytest.approx(pagerank.get(v, 0.0)) for v in g)
    assert sum(g.nodes[v]["centrality"] for v in g) == pytest.approx(1.0)


def test_sources_on_request_with_covers_edges(store):
    g = load_view_graph(store.select, ViewFilter(types=("Paper", "Source")))
    types = {t for _, t in g.nodes(data="type")}
    assert types == {"Paper", "Source"}
    covers = [(a, b, d) for a, b, d in g.edges(data=True) if d["kind"] == "covers"]
    assert covers and all(g.nodes[a]["type"] == "Source" and g.nodes[b]["name"] == "Multitask Learning"
                          for a, b, _ in covers)
    src = covers[0][0]
    assert g.nodes[src]["url"].startswith("https://")


# ---------------------------------------------------------------- filters


def test_filter_by_type(store):
    g = load_view_graph(store.select, ViewFilter(types=("Person",)))
    assert {t for _, t in g.nodes(data="type")} == {"Person"} and len(g) == 7
    assert g.graph["total_nodes"] == 15 and g.graph["shown_nodes"] == 7


def test_filter_by_community(store):
    g = load_view_graph(store.select, ViewFilter(communities=(0,)))
    assert {g.nodes[v]["name"] for v in g} == {"北一辉", "池田成彬", "二二六兵变", "三井"}


@pytest.mark.parametrize("centre", ["北一辉", "北辉次郎", "Person/北一辉", BEI])
def test_filter_by_centre_and_radius(store, centre):
    one = load_view_graph(store.select, ViewFilter(centre=centre, radius=1))
    assert {one.nodes[v]["name"] for v in one} == {"北一辉", "池田成彬", "二二六兵变", "日本"}
    assert one.graph["centre"] == BEI and one.nodes[BEI]["distance"] == 0
    two = load_view_graph(store.select, ViewFilter(centre=centre, radius=2))
    assert {"三井", "麦克阿瑟"} <= {two.nodes[v]["name"] for v in two}
    zero = load_view_graph(store.select, ViewFilter(centre=centre, radius=0))
    assert list(zero) == [BEI]


def test_unknown_centre_is_a_clear_error(store):
    with pytest.raises(NotFoundError, match="no entity '无此人'"):
        load_view_graph(store.select, ViewFilter(centre="无此人"))


def test_centre_lookup_is_bound_not_pasted(store):
    # a name with SPARQL syntax in it is a value, not query text
    with pytest.raises(NotFoundError):
        load_view_graph(store.select, ViewFilter(centre='x" } UNION { ?e ?p ?o } #'))


def test_filter_by_min_weight(store):
    g = load_view_graph(store.select, ViewFilter(min_weight=2.0))
    assert g.number_of_nodes() == 15
    assert sorted(d["weight"] for _, _, d in g.edges(data=True)) == [2.0, 2.0, 2.0, 3.0]
    g = load_view_graph(store.select, ViewFilter(min_weight=2.0, drop_isolated=True))
    assert {g.nodes[v]["name"] for v in g} == {"北一辉", "池田成彬", "二二六兵变", "三井", "小西行长", "德川家康"}


def test_max_nodes_keeps_the_most_central_and_the_centre(store):
    full = load_view_graph(store.select)
    top3 = sorted(full, key=lambda v: (-full.nodes[v]["centrality"], v))[:3]  # ties by IRI
    g = load_view_graph(store.select, ViewFilter(max_nodes=3))
    assert set(g) == set(top3)
    g = load_view_graph(store.select, ViewFilter(max_nodes=2, centre="德川家康", radius=5))
    assert str(entity_iri("Person/德川家康")) in g and len(g) == 2


def test_bad_filters_are_clear_errors():
    with pytest.raises(ExportError, match="unknown node type 'Robot'"):
        parse_filter({"type": "Robot"})
    with pytest.raises(ExportError, match="not a number"):
        parse_filter({"min_weight": "heavy"})
    with pytest.raises(ExportError):
        ViewFilter(radius=-1)
    with pytest.raises(ExportError, match="unknown export format"):
        export_graph(nx.MultiDiGraph(), "png")


def test_parse_filter_takes_query_parameters_and_cli_lists():
    f = parse_filter({"type": ["person", "Place,Source"], "community": ["1", "2"], "center": "北一辉",
                      "radius": "2", "min_weight": "0.5", "max_nodes": "10", "drop_isolated": "true"})
    assert f == ViewFilter(types=("Person", "Place", "Source"), communities=(1, 2), centre="北一辉", radius=2,
                           min_weight=0.5, max_nodes=10, drop_isolated=True)
    assert parse_filter({}) == ViewFilter()


# ---------------------------------------------------------------- formats


def test_graphml_loads_in_networkx_with_attributes(store):
    body, media = export_view(store.select, "graphml")
    assert media == "application/graphml+xml"
    g = nx.read_graphml(BytesIO(body))
    assert g.is_directed()
    assert g.number_of_nodes() == 15 and g.number_of_edges() == 12
    bei = g.nodes[BEI]
    assert bei["type"] == "Person" and bei["name"] == "北一辉" and bei["aliases"] == "北辉次郎"
    assert isinstance(bei["centrality"], float) and bei["community"] == 0
    kinds = {(d["kind"], d["method"]) for _, _, d in g.edges(data=True)}
    assert ("related", "co-occurrence") in kinds
    assert all(isinstance(d["weight"], float) for _, _, d in g.edges(data=True))


def test_gexf_loads_in_networkx_with_attributes_and_colours(store):
    body, media = export_view(store.select, "gexf")
    assert media == "application/gexf+xml" and b'xmlns="http://gexf.net/1.2"' in body or b"gexf" in body[:300]
    g = nx.read_gexf(BytesIO(body))
    assert g.number_of_nodes() == 15 and g.number_of_edges() == 12
    bei = g.nodes[BEI]
    assert bei["label"] == "北一辉" and bei["type"] == "Person" and bei["community"] == 0
    assert bei["viz"]["color"]["r"] == int(TYPE_COLOURS["Person"][1:3], 16)
    assert {d["kind"] for _, _, d in g.edges(data=True)} == {"related"}


def test_cytoscape_elements_json(store):
    body, media = export_view(store.select, "cytoscape", ViewFilter(types=("Person", "Event", "Organization")))
    assert media == "application/json"
    doc = json.loads(body)
    nodes, edges = doc["elements"]["nodes"], doc["elements"]["edges"]
    ids = {n["data"]["id"] for n in nodes}
    assert BEI in ids
    bei = next(n for n in nodes if n["data"]["id"] == BEI)
    assert bei["data"]["name"] == "北一辉" and bei["data"]["aliases"] == ["北辉次郎"]
    assert set(bei["position"]) == {"x", "y"}
    assert all(e["data"]["source"] in ids and e["data"]["target"] in ids for e in edges)
    assert len({e["data"]["id"] for e in edges}) == len(edges)
    assert {"kind", "weight", "method"} <= set(edges[0]["data"])


def test_d3_node_link_json_round_trips_through_networkx(store):
    body, _ = export_view(store.select, "d3")
    doc = json.loads(body)
    assert {"nodes", "links"} <= set(doc)
    g = nx.node_link_graph(doc, edges="links")
    assert g.number_of_nodes() == 15 and g.number_of_edges() == 12
    assert g.nodes[BEI]["name"] == "北一辉"


def test_dot_is_graphviz(store):
    body, media = export_view(store.select, "dot", ViewFilter(centre="北一辉"))
    text = body.decode()
    assert media == "text/vnd.graphviz" and text.startswith("digraph kg {") and text.rstrip().endswith("}")
    assert 'label="北一辉"' in text and 'kind="related"' in text
    assert text.count(" -> ") == 4
    # quotes in names are escaped
    g = nx.MultiDiGraph()
    g.add_node('a"b', name='say "hi"', type="Person", centrality=0.1)
    assert 'label="say \\"hi\\""' in export_graph(g, "dot")[0].decode()


# ---------------------------------------------------------------- the HTML page


class _Resources(HTMLParser):
    def __init__(self):
        super().__init__()
        self.fetches: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
            if a.get("src"):
                self.fetches.append(a["src"])
        if tag == "link" and a.get("href"):
            self.fetches.append(a["href"])
        if tag in ("img", "iframe", "embed", "source", "audio", "video") and a.get("src"):
            self.fetches.append(a["src"])


def test_html_is_one_self_contained_file(store):
    body, media = export_view(store.select, "html")
    assert media.startswith("text/html")
    text = body.decode("utf-8")
    parser = _Resources()
    parser.feed(text)
    assert parser.fetches == [] and parser.scripts == 3
    assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//", text)
    assert "cytoscape.js 3.34.4" in text
    # the data is JSON inside a script element that nothing in it can close
    data = text.split('<script id="kg-data" type="application/json">', 1)[1].split("</script>", 1)[0]
    doc = json.loads(data)
    bei = next(n for n in doc["nodes"] if n["n"] == "北一辉")
    assert bei["t"] == "Person" and bei["a"] == ["北辉次郎"]
    assert len(bei["ev"]) == 3 and all(ev[0] in ("北一辉", "北辉次郎") and ev[2] == SAMPLE.name for ev in bei["ev"])
    assert any("二二六" in ev[1] or "北一辉" in ev[1] for ev in bei["ev"])


def test_html_evidence_is_capped_and_escaped(tmp_path):
    g = nx.MultiDiGraph()
    g.add_node("x", name="</script><script>alert(1)</script>", type="Person", centrality=1.0, key="Person/x")
    details = {"x": {"mentions": [{"text": "t", "sentence": "s" * 10, "note": "n.md"}] * 3, "sources": [],
                     "notes": 1}}
    text = export_graph(g, "html", details=details)[0].decode()
    assert "</script><script>alert(1)" not in text
    assert text.count("<script") == 3


def test_node_details_caps_mentions_and_prefers_spread_over_notes(store):
    g = load_view_graph(store.select)
    det = node_details(store.select, g, mentions_per_node=2, sentence_chars=10)
    assert len(det[BEI]["mentions"]) == 2
    assert all(len(m["sentence"]) <= 11 for m in det[BEI]["mentions"])
    paper = str(entity_iri("Paper/Multitask Learning"))
    assert det[paper]["sources"] and det[paper]["sources"][0]["url"].startswith("https://")


def test_html_default_budget_keeps_most_central(store, monkeypatch):
    import kg.export as ex

    monkeypatch.setattr(ex, "HTML_DEFAULT_MAX_NODES", 5)
    body, _ = export_view(store.select, "html")
    data = body.decode().split('<script id="kg-data" type="application/json">', 1)[1].split("</script>", 1)[0]
    doc = json.loads(data)
    assert len(doc["nodes"]) == 5 and doc["meta"]["total_nodes"] == 15
    assert "北一辉" in {n["n"] for n in doc["nodes"]}


def test_vendored_library_is_pinned_with_licence():
    vendor = ROOT / "kg" / "viz" / "vendor"
    meta = json.loads((vendor / "VENDORED.json").read_text())["libraries"]["cytoscape"]
    assert meta["version"] == "3.34.4" and meta["license"] == "MIT"
    lib = vendor / meta["file"]
    import hashlib

    assert hashlib.sha256(lib.read_bytes()).hexdigest() == meta["sha256"]
    assert "MIT" in (vendor / meta["license_file"]).read_text() or "Permission is hereby granted" in (
        vendor / meta["license_file"]).read_text()


# ---------------------------------------------------------------- the command line


@pytest.mark.parametrize("fmt", sorted(VIEW_FORMATS))
def test_cli_export_views(store, tmp_path, fmt):
    from kg.cli import app

    out = tmp_path / f"g.{fmt}"
    res = CliRunner().invoke(app, ["export", "--store", store.location, "--format", fmt, "-o", str(out),
                                   "--type", "Person,Event", "--min-weight", "1"])
    assert res.exit_code == 0, res.output
    assert out.stat().st_size > 100
    if fmt == "graphml":
        g = nx.read_graphml(out)
        assert {d["type"] for _, d in g.nodes(data=True)} == {"Person", "Event"}


def test_cli_export_centre_and_errors(store):
    from kg.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["export", "-s", store.location, "-f", "d3", "--centre", "北一辉", "--radius", "1"])
    assert res.exit_code == 0
    assert len(json.loads(res.stdout)["nodes"]) == 4
    res = runner.invoke(app, ["export", "-s", store.location, "-f", "d3", "--centre", "无此人"])
    assert res.exit_code == 2 and "no entity" in res.output
    res = runner.invoke(app, ["export", "-s", store.location, "-f", "d3", "--type", "Robot"])
    assert res.exit_code == 2 and "unknown node type" in res.output
    res = runner.invoke(app, ["export", "-s", store.location, "-f", "ttl"])  # RDF formats unchanged
    assert res.exit_code == 0 and "@prefix" in res.stdout or "<https://w3id.org/kg" in res.stdout


# ---------------------------------------------------------------- end to end


def test_end_to_end_on_the_sample_build(tmp_path):
    from kg.pipeline import build

    store_dir = tmp_path / "store"
    report = build([str(ROOT / "samples")], store_dir, n_process=1)
    assert report.ok
    store = EmbeddedStore(store_dir)
    g = load_view_graph(store.select)
    assert g.number_of_nodes() > 10 and g.graph["edge_source"] == "related"
    assert any(d["kind"] == "related" and d["weight"] > 0 for _, _, d in g.edges(data=True))
    for fmt in ("graphml", "gexf"):
        body, _ = export_view(store.select, fmt)
        h = (nx.read_graphml if fmt == "graphml" else nx.read_gexf)(BytesIO(body))
        assert h.number_of_nodes() == g.number_of_nodes()
    with_sources = load_view_graph(store.select, ViewFilter(types=("Paper", "Source"), min_weight=0.0))
    assert any(d["kind"] == "covers" for _, _, d in with_sources.edges(data=True))


# ---------------------------------------------------------------- the server


@pytest.fixture(scope="module")
def client(store):
    from starlette.testclient import TestClient

    from kg.api.app import create_app

    # (a loopback name: the server answers only for the hosts it is allowed, loopback ones by default)
    with TestClient(create_app(store.location, sparql_workers=1), base_url="http://localhost") as c:
        yield c


def test_server_viz_page(client):
    r = client.get("/viz", params={"type": "Person,Event"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    data = r.text.split('<script id="kg-data" type="application/json">', 1)[1].split("</script>", 1)[0]
    doc = json.loads(data)
    assert {n["t"] for n in doc["nodes"]} == {"Person", "Event"} and "北一辉" in {n["n"] for n in doc["nodes"]}
    assert client.get("/viz").status_code == 200


@pytest.mark.parametrize("fmt", sorted(VIEW_FORMATS))
def test_server_exports_with_the_same_filters(client, fmt):
    r = client.get(f"/export/{fmt}", params=[("centre", "北一辉"), ("radius", "1"), ("min_weight", "1")])
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].split(";")[0] == VIEW_FORMATS[fmt][0].split(";")[0]
    if fmt == "graphml":
        g = nx.read_graphml(BytesIO(r.content))
        assert {g.nodes[v]["name"] for v in g} == {"北一辉", "池田成彬", "二二六兵变", "日本"}
    if fmt == "d3":
        assert len(r.json()["nodes"]) == 4


def test_server_export_errors(client):
    r = client.get("/export/png")
    assert r.status_code == 404 and "graphml" in r.json()["error"]["message"]
    r = client.get("/export/d3", params={"type": "Robot"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "export_error"
    r = client.get("/export/d3", params={"radius": "far"})
    assert r.status_code == 400
    r = client.get("/export/d3", params={"centre": "无此人"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.get("/export/d3", params=[("type", "Person"), ("type", "Place")])
    assert {n["type"] for n in r.json()["nodes"]} == {"Person", "Place"}
