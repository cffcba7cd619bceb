"""The real server (uvicorn on a free loopback port), driven over HTTP with httpx."""

from __future__ import annotations

import json
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from test_api_graph import api_store  # noqa: F401 - the fixture

from kg.api.app import create_app
from kg.api.serving import server_config

PLE = '{ sources(covering: "PLE") { source { url } score direct } }'
SELECT = "SELECT ?n WHERE { ?e kg:name ?n } ORDER BY ?n LIMIT 3"
CONSTRUCT = "CONSTRUCT { ?e kg:name ?n } WHERE { ?e kg:name ?n } LIMIT 3"
SLOW = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?o ?q }"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(store: Path, *, header_timeout: float = 10.0, **kwargs):
    """``create_app(store, **kwargs)`` under uvicorn as ``kg serve`` runs it, in a thread; yields (URL, app)."""
    port = free_port()
    app = create_app(store, **kwargs)
    server = uvicorn.Server(server_config(app, "127.0.0.1", port, header_timeout=header_timeout))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def serve(store: Path, **kwargs):
    """Run create_app(store, **kwargs) under uvicorn in a thread; yield its base URL."""
    with serving(store, **kwargs) as (url, _app):
        yield url


@pytest.fixture(scope="module")
def base(api_store):  # noqa: F811
    with serve(api_store, sparql_timeout=2.0) as url:
        yield url


@pytest.fixture()
def http(base):
    with httpx.Client(base_url=base, timeout=30) as c:
        yield c


# ---------------------------------------------------------------- GraphQL


def test_graphql_by_post_and_get(http):
    r = http.post("/graphql", json={"query": PLE})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    got = [(s["source"]["url"], s["direct"]) for s in r.json()["data"]["sources"]]
    assert got == [("https://example.org/ple", True), ("https://example.org/mmoe", False)]
    r2 = http.get("/graphql", params={"query": PLE})
    assert r2.status_code == 200 and r2.json() == r.json()
    r3 = http.post("/graphql", json={"query": "query($n: String!) { entity(name: $n) { name } }",
                                     "variables": {"n": "Tencent"}})
    assert r3.json()["data"]["entity"]["name"] == "腾讯"


def test_graphiql_is_served_to_a_browser(http):
    r = http.get("/graphql", headers={"accept": "text/html"})
    assert r.status_code == 200 and "graphiql" in r.text.lower()


def test_graphql_errors_carry_codes(http):
    r = http.post("/graphql", json={"query": '{ sources(covering: "PLE", first: 100000) { score } }'})
    assert r.json()["errors"][0]["extensions"]["code"] == "bad_query"
    r = http.post("/graphql", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400


def test_mutations_and_get_with_mutation_are_refused(http):
    r = http.get("/graphql", params={"query": "mutation { x }"})
    assert 400 <= r.status_code < 500 or r.json().get("errors")


# ---------------------------------------------------------------- SPARQL


RESULT_TYPES = ["application/sparql-results+json", "application/sparql-results+xml", "text/csv",
                "text/tab-separated-values"]
GRAPH_TYPES = ["text/turtle", "application/n-triples", "application/ld+json"]


def _ask(http, way: str, query: str, accept: str) -> httpx.Response:
    h = {"accept": accept}
    if way == "get":
        return http.get("/sparql", params={"query": query}, headers=h)
    if way == "form":
        return http.post("/sparql", data={"query": query}, headers=h)
    return http.post("/sparql", content=query.encode(), headers={**h, "content-type": "application/sparql-query"})


@pytest.mark.parametrize("way", ["get", "form", "direct"])
@pytest.mark.parametrize("accept", RESULT_TYPES)
def test_sparql_select_each_way_each_format(http, way, accept):
    r = _ask(http, way, SELECT, accept)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].split(";")[0] == accept
    assert "PLE" in r.text
    if accept.endswith("json"):
        assert [b["n"]["value"] for b in r.json()["results"]["bindings"]][0] == "PLE"


@pytest.mark.parametrize("way", ["get", "form", "direct"])
@pytest.mark.parametrize("accept", GRAPH_TYPES)
def test_sparql_construct_each_way_each_format(http, way, accept):
    r = _ask(http, way, CONSTRUCT, accept)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].split(";")[0] == accept
    assert "https://w3id.org/kg/ns#name" in r.text or "kg:name" in r.text


def test_sparql_ask_and_defaults(http):
    assert http.get("/sparql", params={"query": "ASK { ?s a kg:Note }"}).json()["boolean"] is True
    r = http.get("/sparql", params={"query": SELECT}, headers={"accept": "*/*"})
    assert r.headers["content-type"].startswith("application/sparql-results+json")
    r = http.get("/sparql", params={"query": CONSTRUCT}, headers={"accept": "text/html,*/*;q=0.8"})
    assert r.headers["content-type"].startswith("text/turtle")
    r = http.get("/sparql", params={"query": SELECT, "format": "csv"})
    assert r.headers["content-type"].startswith("text/csv")


@pytest.mark.parametrize("way,query,status", [
    ("get", "DELETE WHERE { ?s ?p ?o }", 403),
    ("direct", "INSERT DATA { <http://a> <http://b> <http://c> }", 403),
    ("form", "DROP ALL", 403),
    ("get", "SELECT * FROM <http://evil.example/g> WHERE { ?s ?p ?o }", 403),
    ("get", "SELECT * WHERE { SERVICE <http://evil.example/sparql> { ?s ?p ?o } }", 403),
    ("get", "SELEKT nothing", 400),
])
def test_sparql_refusals(http, way, query, status):
    r = _ask(http, way, query, "application/sparql-results+json")
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] in ("query_refused", "bad_query")


def test_sparql_protocol_refusals(http):
    r = http.post("/sparql", data={"update": "DELETE WHERE { ?s ?p ?o }"})
    assert r.status_code == 403
    r = http.post("/sparql", content=b"DELETE WHERE { ?s ?p ?o }", headers={"content-type": "application/sparql-update"})
    assert r.status_code == 403
    r = http.post("/sparql", content=b"SELECT * {}", headers={"content-type": "text/plain"})
    assert r.status_code == 415
    assert http.get("/sparql").status_code == 400
    r = http.get("/sparql", params={"query": SELECT, "default-graph-uri": "http://evil.example/g"})
    assert r.status_code == 403
    r = http.get("/sparql", params={"query": SELECT}, headers={"accept": "image/png"})
    assert r.status_code == 406
    r = http.get("/sparql", params={"query": CONSTRUCT}, headers={"accept": "text/csv"})
    assert r.status_code == 406
    r = http.put("/sparql", content=b"x")
    assert r.status_code == 405
    r = http.post("/sparql", content=b"#" * (2 * 2**20), headers={"content-type": "application/sparql-query"})
    assert r.status_code == 413


def test_an_expensive_query_is_stopped_and_the_server_keeps_answering(base):
    results: dict[str, httpx.Response] = {}

    def slow():
        with httpx.Client(base_url=base, timeout=30) as c:
            results["slow"] = c.get("/sparql", params={"query": SLOW})

    t = threading.Thread(target=slow)
    t0 = time.monotonic()
    t.start()
    time.sleep(0.3)
    with httpx.Client(base_url=base, timeout=30) as c:
        quick = [c.get("/sparql", params={"query": SELECT}) for _ in range(3)]
        gql = c.post("/graphql", json={"query": PLE})
    t.join()
    assert all(r.status_code == 200 for r in quick) and gql.status_code == 200
    slow_r = results["slow"]
    assert slow_r.status_code == 503 and slow_r.json()["error"]["code"] == "query_timeout"
    assert time.monotonic() - t0 < 10
    with httpx.Client(base_url=base, timeout=30) as c:  # the killed worker was replaced
        for _ in range(4):
            assert c.get("/sparql", params={"query": SELECT}).status_code == 200


# ---------------------------------------------------------------- dumps and the Graph Store Protocol


@pytest.mark.parametrize("ext,media", [("ttl", "text/turtle"), ("nt", "application/n-triples"),
                                       ("nq", "application/n-quads"), ("trig", "application/trig"),
                                       ("jsonld", "application/ld+json")])
def test_dumps(http, ext, media, api_store):  # noqa: F811
    import pyoxigraph as ox

    from kg.store import RDF_FORMATS

    r = http.get(f"/dump.{ext}")
    assert r.status_code == 200 and r.headers["content-type"].split(";")[0] == media
    quads = list(ox.parse(r.content, format=RDF_FORMATS[ext][0]))
    assert len(quads) > 300
    one = http.get(f"/dump.{ext}", params={"note": "b.md"})
    assert one.status_code == 200 and 0 < len(list(ox.parse(one.content, format=RDF_FORMATS[ext][0]))) < len(quads)


def test_dump_refusals(http):
    assert http.get("/dump.exe").status_code == 404
    assert http.get("/dump.ttl", params={"note": "missing.md"}).status_code == 404
    assert http.post("/dump.ttl").status_code == 405


def test_graph_store_protocol_get(http):
    from kg.vocab import note_graph

    r = http.get("/rdf-graph-store", params={"graph": str(note_graph("a.md"))}, headers={"accept": "text/turtle"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/turtle") and "多任务学习" in r.text
    r = http.get("/rdf-graph-store", params={"default": ""}, headers={"accept": "application/n-quads"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/n-quads")
    assert http.get("/rdf-graph-store", params={"graph": "https://nowhere.example/g"}).status_code == 404
    assert http.get("/rdf-graph-store").status_code == 400
    assert http.get("/rdf-graph-store", params={"default": ""}, headers={"accept": "image/png"}).status_code == 406
    for method in ("put", "post", "delete"):
        assert http.request(method.upper(), "/rdf-graph-store", params={"default": ""}).status_code == 405


def test_healthz_and_unknown_paths(http):
    h = http.get("/healthz").json()
    assert h["status"] == "ok" and h["generation"].startswith("gen-")
    assert http.get("/nothing-here").status_code == 404


def test_cors_is_off_by_default(http):
    r = http.get("/graphql", params={"query": PLE}, headers={"origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in r.headers
    r = http.options("/graphql", headers={"origin": "https://elsewhere.example",
                                          "access-control-request-method": "POST"})
    assert "access-control-allow-origin" not in r.headers


def test_cors_when_configured_and_production_mode(api_store):  # noqa: F811
    with serve(api_store, production=True, cors_origins=("https://app.example",)) as url, \
            httpx.Client(base_url=url, timeout=30) as c:
        r = c.get("/graphql", params={"query": PLE}, headers={"origin": "https://app.example"})
        assert r.headers.get("access-control-allow-origin") == "https://app.example"
        r = c.get("/graphql", params={"query": PLE}, headers={"origin": "https://evil.example"})
        assert r.headers.get("access-control-allow-origin") is None
        assert c.get("/graphql", headers={"accept": "text/html"}).status_code == 404  # no IDE
        r = c.post("/graphql", json={"query": "{ __schema { types { name } } }"})
        assert r.json()["data"] is None
        assert c.post("/graphql", json={"query": PLE}).json()["data"]["sources"]


def test_the_server_follows_a_new_build(tmp_path):
    from test_api_graph import build_api_store

    from kg.store import write_store

    store = build_api_store(tmp_path / ".kg")
    with serve(store) as url, httpx.Client(base_url=url, timeout=30) as c:
        q = {"query": '{ note(path: "b.md") { path } stats { notes generation } }'}
        before = c.post("/graphql", json=q).json()["data"]
        assert before["note"] and before["stats"]["notes"] == 2
        with write_store(store) as w:
            w.remove_note("b.md")
            w.commit()
        time.sleep(0.3)
        after = c.post("/graphql", json=q).json()["data"]
        assert after["note"] is None and after["stats"]["notes"] == 1
        assert after["stats"]["generation"] != before["stats"]["generation"]
        r = c.get("/sparql", params={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?x a kg:Note }"})
        assert json.loads(r.text)["results"]["bindings"][0]["n"]["value"] == "1"


def test_a_missing_store_fails_fast(tmp_path):
    from kg.errors import StoreNotFoundError

    with pytest.raises(StoreNotFoundError):
        create_app(tmp_path / "nothing")
