"""The server's pages for people (kg.web): the front page, search, GraphiQL and the SPARQL editor, served from
the package with nothing fetched from anywhere.  Over HTTP with httpx, then in headless Chromium with every host
name but 127.0.0.1 unresolvable, checking that no request left loopback.  Screenshots go to tests/artifacts/."""

from __future__ import annotations

import fnmatch
import json
import tomllib
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from test_server import serve

from kg.api.query import run_query
from kg.export import ViewFilter, load_view_graph, node_details
from kg.model import ENTITY_TYPES
from kg.stats import compute_stats
from kg.store import EmbeddedStore
from kg.viz.browser import Chromium, find_chromium, off_machine
from kg.web.assets import VENDOR_DIR, vendored, vendored_mismatches
from kg.web.pages import saved_queries

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
PLE = '{ sources(covering: "PLE") { source { url title } score direct } }'

needs_chromium = pytest.mark.skipif(
    find_chromium() is None,
    reason="headless Chromium is not installed (apt-get install -y chromium; .ci/run installs it when missing)")


@pytest.fixture(scope="module")
def base(sample_store):
    with serve(sample_store) as url:
        yield url


@pytest.fixture()
def http(base):
    with httpx.Client(base_url=base, timeout=30) as c:
        yield c


# ---------------------------------------------------------------- the vendored files


def test_vendored_releases_match_their_record_and_ship_in_the_package():
    libs = vendored()
    assert {n: lib["npm"] for n, lib in libs.items()} == {
        "react": "react@18.3.1", "react-dom": "react-dom@18.3.1", "graphiql": "graphiql@4.1.2",
        "yasgui": "@zazuko/yasgui@4.6.2"}
    assert vendored_mismatches() == []
    for lib in libs.values():
        assert lib["npm_integrity"].startswith("sha512-") and lib["license"] == "MIT"
        assert "MIT" in (VENDOR_DIR / lib["license_file"]).read_text(encoding="utf-8")
    # every file the pages need is matched by a package-data glob, so a wheel carries it
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"]["kg"]
    kg_dir = ROOT / "kg"
    needed = [p for d in ("web/vendor", "web/static", "queries") for p in (kg_dir / d).iterdir() if p.is_file()]
    assert len(needed) > 20
    missing = [str(p.relative_to(kg_dir)) for p in needed
               if not any(fnmatch.fnmatch(str(p.relative_to(kg_dir)), g) for g in globs)]
    assert missing == []


def test_assets_are_served_and_nothing_else(http):
    for lib in vendored().values():
        for file, info in lib["files"].items():
            r = http.get(f"/assets/{file}")
            assert r.status_code == 200 and len(r.content) == info["bytes"]
            assert r.headers["content-type"].startswith("text/javascript" if file.endswith(".js") else "text/css")
    assert http.get("/assets/graphiql-start.js").status_code == 200
    for bad in ("VENDORED.json", "..%2Fpages.py", "LICENSE.react", "nope.js"):
        assert http.get(f"/assets/{bad}").status_code == 404


# ---------------------------------------------------------------- pages over HTTP


def test_front_page_says_what_the_store_holds(http, sample_store):
    r = http.get("/", headers={"accept": BROWSER_ACCEPT})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    stats = compute_stats(EmbeddedStore(sample_store), per_note=False)
    page = r.text
    assert f'<th scope="row">Notes</th><td>{stats.by_class["Note"]:,}</td>' in page
    for t in ENTITY_TYPES:
        assert f'<th scope="row">{t}</th><td>{stats.by_class.get(t, 0):,}</td>' in page
    assert f"<code id=\"generation\">{http.get('/healthz').json()['generation']}</code>" in page
    assert "builtAt" not in page and "unknown time" not in page  # the build time is shown
    for href in ("/graphql", "/sparql", "/viz", "/dump.ttl", "/dump.nq", "/export/graphml", "/export/html",
                 'action="/search"'):
        assert href in page


def test_search_opens_the_viewer_lists_partial_matches_or_says_nothing(http):
    r = http.get("/search", params={"q": "北一辉"})
    assert r.status_code == 303
    target = urlsplit(r.headers["location"])
    assert target.path == "/viz" and parse_qs(target.query)["centre"] == ["Person/北一辉"]
    assert target.fragment == "q=%E5%8C%97%E4%B8%80%E8%BE%89"
    view = http.get(f"{target.path}?{target.query}")
    names = {n["n"] for n in json.loads(view.text.split('<script id="kg-data" type="application/json">')[1]
                                        .split("</script>")[0])["nodes"]}
    assert "北一辉" in names and "池田成彬" in names  # the neighbourhood, not the whole graph
    partial = http.get("/search", params={"q": "北"})
    assert partial.status_code == 200 and ">北一辉</a>" in partial.text
    nothing = http.get("/search", params={"q": "无此名字"})
    assert nothing.status_code == 404 and "Nothing in the store is named like" in nothing.text
    assert http.get("/search").headers.get("location") == "/"


def test_a_browser_gets_the_sparql_editor_and_programs_get_results(http):
    page = http.get("/sparql", headers={"accept": BROWSER_ACCEPT})
    assert page.status_code == 200 and "yasgui-4.6.2.min.js" in page.text
    data = json.loads(page.text.split('<script id="kg-data" type="application/json">')[1].split("</script>")[0])
    assert sorted(e["name"] for e in data["examples"]) == sorted(q.name for q in saved_queries(".rq"))
    assert all("PREFIX kg: <https://w3id.org/kg/ns#>" in e["query"] for e in data["examples"])
    res = http.get("/sparql", params={"query": "SELECT ?n WHERE { ?e kg:name ?n } LIMIT 1"},
                   headers={"accept": "application/sparql-results+json"})
    assert res.status_code == 200 and res.json()["results"]["bindings"]
    assert http.get("/sparql", headers={"accept": "application/json"}).status_code == 400  # a program: no query


def test_graphql_answers_keep_chinese_and_a_browser_sees_graphiql_run_the_link(http):
    q = '{ entity(name: "北一辉") { name } }'
    r = http.get("/graphql", params={"query": q}, headers={"accept": "application/json"})
    assert r.json()["data"]["entity"]["name"] == "北一辉" and "北一辉" in r.text and "\\u" not in r.text
    page = http.get("/graphql", params={"query": q}, headers={"accept": BROWSER_ACCEPT})
    assert page.status_code == 200 and "graphiql-4.1.2.min.js" in page.text
    data = json.loads(page.text.split('<script id="kg-data" type="application/json">')[1].split("</script>")[0])
    assert data["query"] == q and data["run"] is True
    assert len(data["tabs"]) == 1 + len(saved_queries(".graphql"))


def test_production_turns_the_ides_off(sample_store):
    with serve(sample_store, production=True) as url, httpx.Client(base_url=url, timeout=30) as c:
        assert c.get("/graphql", headers={"accept": BROWSER_ACCEPT}).status_code == 404
        assert c.get("/sparql", headers={"accept": BROWSER_ACCEPT}).status_code == 400
        assert c.get("/assets/graphiql-4.1.2.min.js").status_code == 404
        front = c.get("/", headers={"accept": BROWSER_ACCEPT})
        assert front.status_code == 200 and 'href="/graphql"' not in front.text and 'href="/viz"' in front.text
        assert c.post("/graphql", json={"query": PLE}).json()["data"]["sources"]


# ---------------------------------------------------------------- the viewer's sources


def test_the_viewer_embeds_the_sources_the_api_gives(sample_store):
    """Every entity the API gives sources for has them in the viewer's panel data, best first, as the API
    orders them (the bug: "Sources: None recorded" for every node while the API listed them)."""
    store = EmbeddedStore(sample_store)
    answer = run_query(sample_store, "{ entities(first: 500) { edges { node { iri name "
                                     "sources(first: 5) { source { url } direct } } } } }")
    api = {e["node"]["iri"]: [s["source"]["url"] for s in e["node"]["sources"]]
           for e in answer["data"]["entities"]["edges"]}
    g = load_view_graph(store.select, ViewFilter())
    details = node_details(store.select, g)
    with_sources = [iri for iri, urls in api.items() if urls]
    assert len(with_sources) >= 20
    for iri in with_sources:
        got = [s["url"] for s in details[iri]["sources"]]
        assert got and set(got) == set(api[iri]), (iri, got, api[iri])
        assert got[0] == api[iri][0]


# ---------------------------------------------------------------- in Chromium, offline


@pytest.fixture(scope="module")
def browser():
    with Chromium(width=1400, height=900) as b:
        yield b


def _open(browser, url: str, ready: str = "document.body.dataset.ready === '1'"):
    page = browser.new_page()
    page.goto(url)
    page.wait_for(f"!!document.body && ({ready})", timeout=30)  # no body yet while a navigation is under way
    return page


def _offline_and_clean(page) -> None:
    assert page.requests(), "no request was seen: the check below would be empty"
    assert off_machine(page.requests()) == []
    assert page.errors() == []


@needs_chromium
def test_graphiql_renders_and_answers_which_sources_cover_PLE(browser, base, http):
    page = _open(browser, f"{base}/graphql")
    editor = "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue()"
    assert 'sources(covering: "PLE")' in page.eval(editor)
    page.eval("document.querySelector('.graphiql-execute-button').click()")
    # the answer shown is the API's, in full (read from the response editor: its text, not its drawn lines)
    result = "(() => { const e = document.querySelector('.result-window .CodeMirror'); " \
             "return e ? e.CodeMirror.getValue() : ''; })()"
    page.wait_for(f"{result}.includes('sources')", timeout=20)
    shown = json.loads(page.eval(result))
    query = page.eval(editor)
    assert shown == http.post("/graphql", json={"query": query}).json()
    sources = shown["data"]["sources"]
    assert sources and all(s["justification"] for s in sources if not s["direct"])
    page.wait_for(f"document.querySelector('.result-window').innerText.includes({json.dumps(sources[0]['source']['url'])})")
    page.screenshot(ARTIFACTS / "graphiql-ple.png")
    _offline_and_clean(page)
    # a link to /graphql?query=... opens GraphiQL on that query and runs it
    linked = _open(browser, f"{base}/graphql?query=" + quote('{ entity(name: "北一辉") { name type } }'))
    linked.wait_for(f"{result}.includes('PERSON')", timeout=20)
    assert json.loads(linked.eval(result)) == {"data": {"entity": {"name": "北一辉", "type": "PERSON"}}}
    _offline_and_clean(linked)


@needs_chromium
def test_the_sparql_editor_runs_a_saved_query(browser, base, http):
    page = _open(browser, f"{base}/sparql")
    index = page.eval("kgSparql.examples.findIndex(e => e.name === 'sources_covering')")
    assert index >= 0
    page.eval(f"const s = document.getElementById('examples'); s.value = '{index}';"
              "s.dispatchEvent(new Event('change'))")
    assert 'VALUES ?term { "PLE" }' in page.eval("kgSparql.yasgui.getTab().getYasqe().getValue()")
    page.eval("document.querySelector('.yasqe_queryButton').click()")
    rows = "document.querySelectorAll('.yasr table tbody tr').length"
    page.wait_for(f"{rows} > 0", timeout=20)
    text = page.eval("document.querySelector('.yasr table').innerText")
    query = page.eval(f"kgSparql.examples[{index}].query")
    want = http.get("/sparql", params={"query": query}, headers={"accept": "application/sparql-results+json"}).json()
    urls = [b["url"]["value"] for b in want["results"]["bindings"]]
    assert urls and page.eval(rows) == len(urls) and all(u in text for u in urls)
    page.screenshot(ARTIFACTS / "sparql-editor-sources-covering.png")
    _offline_and_clean(page)


@needs_chromium
def test_front_page_renders_and_its_search_opens_the_entity_in_the_viewer(browser, base):
    page = _open(browser, f"{base}/", "document.readyState === 'complete'")
    rows = page.eval("Array.from(document.querySelectorAll('.facts tr')).map(r => r.innerText)")
    assert any(r.startswith("Notes") for r in rows) and any(r.startswith("Person") for r in rows)
    page.screenshot(ARTIFACTS / "front-page.png")
    _offline_and_clean(page)
    page.eval("document.querySelector('.search input').value = '北一辉'; document.querySelector('.search').submit()")
    page.wait_for("location.pathname === '/viz' && !!document.body && document.body.dataset.ready === '1'",
                  timeout=30)
    page.wait_for("document.body.dataset.zoomedTo === '北一辉'", timeout=10)
    assert "北一辉" in page.eval("document.getElementById('panel').innerText")
    page.screenshot(ARTIFACTS / "viewer-from-search.png")
    _offline_and_clean(page)


@needs_chromium
def test_viewer_opens_readable_zooms_to_a_search_and_lists_sources(browser, base, http):
    page = _open(browser, f"{base}/viz")
    # the first view: an overview, every node labelled, spread over the canvas, with the legend of types
    assert page.eval("document.body.dataset.overview") == "1"
    assert page.eval("kg.cy.nodes().every(n => n.hasClass('lab'))")
    spread = page.eval("""(() => { const w = kg.cy.width(), h = kg.cy.height();
        const ps = kg.cy.nodes().map(n => n.renderedPosition()), xs = ps.map(p => p.x), ys = ps.map(p => p.y);
        return [(Math.max(...xs) - Math.min(...xs)) / w, (Math.max(...ys) - Math.min(...ys)) / h,
                ps.every(p => p.x >= 0 && p.y >= 0 && p.x <= w && p.y <= h)]; })()""")
    assert spread[0] > 0.6 and spread[1] > 0.6 and spread[2] is True
    legend = page.eval("document.getElementById('legend').innerText")
    assert all(t in legend for t in ("Person", "Place", "Organization", "Event", "Paper"))
    page.screenshot(ARTIFACTS / "viewer-overview.png")
    # search: the node is selected, centred and zoomed to, and its panel lists the sources the API gives
    covered = http.post("/graphql", json={"query": '{ sources(covering: "福岛") { source { url } direct } }'}
                        ).json()["data"]["sources"]
    assert covered and covered[0]["direct"]
    page.eval("const s = document.getElementById('search'); s.focus(); s.value = '福岛';"
              "s.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter'}))")
    page.wait_for("document.body.dataset.zoomedTo === '福岛'", timeout=10)
    centred = page.eval("""(() => { const n = kg.cy.$(':selected'), p = n.renderedPosition();
        return [n.data('label'), Math.abs(p.x - kg.cy.width() / 2), Math.abs(p.y - kg.cy.height() / 2), kg.cy.zoom()]; })()""")
    assert centred[0] == "福岛" and centred[1] < 5 and centred[2] < 5 and centred[3] >= 1.2
    links = page.eval("Array.from(document.querySelectorAll('#panel ul a[href]')).map(a => a.href)")
    assert [s["source"]["url"] for s in covered] == [u for u in links if u in {s["source"]["url"] for s in covered}]
    panel = page.eval("document.getElementById('panel').innerText")
    assert panel.count("names it") == sum(s["direct"] for s in covered[:5])
    assert panel.count("inferred ·") == sum(not s["direct"] for s in covered[:5])
    page.screenshot(ARTIFACTS / "viewer-sources-福岛.png")
    # Reset goes back to the overview, the whole graph is a button away; the help lists the URL options
    page.eval("document.getElementById('reset').click()")
    assert page.eval("document.body.dataset.overview") == "1"
    page.eval("document.getElementById('whole').click()")
    assert page.eval("document.body.dataset.overview") == "0"
    assert page.eval("kg.cy.nodes().length") == page.eval("kg.data.nodes.length")
    page.eval("document.getElementById('help').click()")
    help_text = page.eval("document.getElementById('panel').innerText")
    assert all(o in help_text for o in ("#q=NAME", "?centre=NAME&radius=2", "?type=Person,Place", "?max_nodes="))
    _offline_and_clean(page)
