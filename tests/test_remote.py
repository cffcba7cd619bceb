"""The remote store: the sample built into an Oxigraph *server* answers like the embedded store.

Starts ``oxigraph serve`` (the PyPI ``oxigraph`` package, in the ``test`` extra) on a free loopback port in a
temporary folder, builds the sample into it with :func:`kg.pipeline.build`, and compares with a folder store.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pyoxigraph as ox
import pytest
from rdflib import Graph, URIRef
from rdflib.compare import isomorphic

from kg.errors import NotFoundError, QueryError, QueryRefusedError, StoreLockedError, StoreNotFoundError
from kg.pipeline import build
from kg.store.remote import LOCK_GRAPH, RemoteStore, endpoints, values_clause
from kg.store import EmbeddedStore, open_store, write_store
from kg.vocab import META_GRAPH, note_graph

from .conftest import SAMPLES

REPO = Path(__file__).resolve().parent.parent


def oxigraph_binary() -> str | None:
    """The ``oxigraph`` CLI: on PATH, or beside this Python (a venv's bin/ that is not on PATH)."""
    found = shutil.which("oxigraph")
    if found:
        return found
    beside = Path(sys.executable).parent / "oxigraph"
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OxigraphServer:
    def __init__(self, folder: Path):
        binary = oxigraph_binary()
        if binary is None:
            pytest.skip("the oxigraph server binary is not installed (pip install oxigraph, part of the "
                        "'test' extra): the remote-store tests need it")
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(folder / "server.log", "wb")
        self.proc = subprocess.Popen([binary, "serve", "--location", str(folder / "db"),
                                      "--bind", f"127.0.0.1:{self.port}"], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"oxigraph serve exited with {self.proc.returncode}: "
                                   f"{(folder / 'server.log').read_text(errors='replace')[-2000:]}")
            try:
                httpx.post(self.url + "/query", content=b"ASK {}", timeout=1,
                           headers={"Content-Type": "application/sparql-query"}).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("oxigraph serve did not answer within 20 s")
                time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = OxigraphServer(tmp_path_factory.mktemp("oxigraph-server"))
    yield srv
    srv.stop()


def _build_options() -> dict:
    """Extraction and links when those stages exist (as the sample_store fixture); the note structure before."""
    if importlib.util.find_spec("kg.extract") and importlib.util.find_spec("kg.links"):
        return {"n_process": 1}
    return {"extract": False}


@pytest.fixture(scope="module")
def remote_sample(server) -> str:
    """The sample built into the server."""
    report = build([SAMPLES], server.url, **_build_options())
    assert report.ok, report.problems
    assert report.added and report.generation.startswith("build-")
    return server.url


@pytest.fixture(scope="module")
def remote(remote_sample) -> RemoteStore:
    store = open_store(remote_sample + "/query")  # the query-endpoint form of the URL
    assert isinstance(store, RemoteStore)
    yield store
    store.close()


@pytest.fixture(scope="module")
def embedded(tmp_path_factory) -> EmbeddedStore:
    """The sample built with the same options into a folder."""
    folder = tmp_path_factory.mktemp("embedded") / ".kg"
    report = build([SAMPLES], folder, **_build_options())
    assert report.ok, report.problems
    return EmbeddedStore(folder)


def _graph(data: bytes) -> Graph:
    return Graph().parse(data=data, format="nt")


def _without_build_metadata(g: Graph) -> Graph:
    """The union graph less the meta graph's build node (its time, report and id differ from build to build)."""
    build_node = URIRef(str(META_GRAPH) + "#build")
    out = Graph()
    for t in g:
        if t[0] != build_node:
            out.add(t)
    return out


# ---------------------------------------------------------------- same answers as the embedded store


def test_same_note_hashes(remote, embedded):
    assert remote.note_hashes() == embedded.note_hashes()
    assert remote.note_hashes()


def test_same_named_graphs(remote, embedded):
    assert remote.named_graphs() == embedded.named_graphs()
    assert len(remote) == len(embedded) + 1  # the build id in the meta graph


def test_isomorphic_dumps(remote, embedded):
    union_r = _without_build_metadata(_graph(remote.dump("nt")))
    union_e = _without_build_metadata(_graph(embedded.dump("nt")))
    assert len(union_r) == len(union_e) > 100
    assert isomorphic(union_r, union_e)
    for g in embedded.named_graphs():
        if g == str(META_GRAPH):
            continue
        assert isomorphic(_graph(remote.dump("nt", g)), _graph(embedded.dump("nt", g))), g


def test_quad_dump_names_every_graph(remote, embedded):
    quads_r = list(ox.parse(remote.dump("nq"), format=ox.RdfFormat.N_QUADS))
    quads_e = list(ox.parse(embedded.dump("nq"), format=ox.RdfFormat.N_QUADS))
    assert {q.graph_name.value for q in quads_r} == {q.graph_name.value for q in quads_e}
    meta = ox.NamedNode(str(META_GRAPH))
    assert len([q for q in quads_r if q.graph_name != meta]) == len([q for q in quads_e if q.graph_name != meta])


QUERIES = [
    ("SELECT ?path ?title WHERE { ?n a kg:Note ; kg:path ?path ; kg:title ?title } ORDER BY ?path", None),
    ("SELECT ?c (COUNT(*) AS ?n) WHERE { ?s a ?c } GROUP BY ?c ORDER BY ?c", None),
    ("SELECT ?s ?level ?heading WHERE { ?s a kg:Section ; kg:level ?level ; kg:heading ?heading } "
     "ORDER BY ?level ?heading ?s", None),
    ("SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g", {"g": note_graph("000_3c3c03ef14cd1a5a.md")}),
    ("SELECT ?path ?sha WHERE { ?n kg:path ?path ; kg:sha256 ?sha }", {"path": "000_3c3c03ef14cd1a5a.md"}),
    ("SELECT ?heading ?level WHERE { ?s kg:heading ?heading ; kg:level ?level } ORDER BY ?heading", {"level": 2}),
    ("SELECT ?x ?h WHERE { ?x kg:heading ?h }", {"h": 'no such "heading" } ; DROP ALL #'}),
]


@pytest.mark.parametrize("sparql,bindings", QUERIES)
def test_same_select_answers(remote, embedded, sparql, bindings):
    assert remote.select(sparql, bindings) == embedded.select(sparql, bindings)


def test_saved_queries_answer_the_same(remote, embedded):
    saved = sorted((REPO / "queries").glob("*.rq")) if (REPO / "queries").is_dir() else []
    if not saved:
        pytest.skip("no saved SPARQL queries in queries/ yet")
    for f in saved:
        text = f.read_text(encoding="utf-8")
        if not text.lstrip().upper().startswith(("SELECT", "PREFIX", "#", "ASK", "BASE")):
            continue
        try:
            want = embedded.select(text)
        except QueryError:
            continue  # a saved query that needs parameters
        assert remote.select(text) == want, f.name


def test_query_bytes_negotiates_formats(remote):
    body, media = remote.query_bytes("SELECT ?path WHERE { ?n kg:path ?path }", "csv")
    assert media == "text/csv" and b"000_3c3c03ef14cd1a5a.md" in body
    body, media = remote.query_bytes("SELECT ?path WHERE { ?n kg:path ?path }", "json")
    assert media == "application/sparql-results+json" and b'"bindings"' in body
    body, media = remote.query_bytes("CONSTRUCT { ?n kg:path ?p } WHERE { ?n kg:path ?p }", "nt")
    assert media == "application/n-triples" and len(_graph(body)) == 1
    with pytest.raises(QueryRefusedError):
        remote.query_bytes("DROP ALL")


def test_generation_is_the_build_id(remote, remote_sample):
    gen = remote.generation()
    assert gen.startswith("build-")
    assert remote.meta()["fingerprint"]


# ---------------------------------------------------------------- GraphQL (once kg.api exists)


PLE_QUERY = """
query ($name: String!) {
  sources(covering: $name) { score direct justification method source { url title section } }
}
"""


def test_graphql_answers_equal(remote, embedded):
    api = pytest.importorskip("kg.api.query", reason="kg.api (GraphQL) is not written yet")
    want = api.run_query(embedded, PLE_QUERY, {"name": "PLE"})
    assert not want.get("errors"), want
    try:
        got = api.run_query(remote, PLE_QUERY, {"name": "PLE"})
    except (TypeError, AttributeError, StoreNotFoundError) as err:
        pytest.xfail(f"kg.api's GraphBackend does not take a remote store yet ({type(err).__name__}: {err}); "
                     "it needs to read through store.oxigraph.query and store.generation(), which RemoteStore has")
    assert got == want
    assert want["data"]["sources"], "the sample covers PLE: the comparison must not be of two empty answers"


def test_text_matches_answer_the_same(remote, embedded):
    """A term no entity is named: the embedded store answers from its generation's index file, the server's
    API from an index it makes from the server's graph."""
    api = pytest.importorskip("kg.api.query")
    q = ('query($t: String!) { sources(covering: $t) { score how match justification source { url title } '
         'evidence { text start end sentence } } }')
    for term in ("GitHub", "Multi-task"):
        want = api.run_query(embedded, q, {"t": term})
        assert not want.get("errors") and want["data"]["sources"], (term, want)
        if term == "GitHub":  # (no entity in the sample is named so)
            assert {s["how"] for s in want["data"]["sources"]} == {"text match"}
        assert api.run_query(remote, q, {"t": term}) == want, term


def test_saved_graphql_queries_answer_the_same(remote, embedded):
    api = pytest.importorskip("kg.api.query", reason="kg.api (GraphQL) is not written yet")
    saved = sorted((REPO / "queries").glob("*.graphql")) if (REPO / "queries").is_dir() else []
    if not saved:
        pytest.skip("no saved GraphQL queries in queries/ yet")
    for f in saved:
        text = f.read_text(encoding="utf-8")
        variables = {}
        for line in text.splitlines():
            if line.lstrip().startswith("# variables:"):
                variables = json.loads(line.split(":", 1)[1])
        want = api.run_query(embedded, text, variables)
        assert api.run_query(remote, text, variables) == want, f.name


# ---------------------------------------------------------------- writing: incremental, locks, errors


def test_incremental_rebuild(server, tmp_path):
    notes = tmp_path / "notes"
    shutil.copytree(SAMPLES, notes)
    (notes / "stays.md").write_text("# 留下\n\n这一篇不动。\n", encoding="utf-8")  # a build needs a note
    url = server.url
    # its own notes folder would clash with remote_sample's graph; use a fresh server folder instead
    srv = OxigraphServer(tmp_path)
    try:
        first = build([notes], srv.url, extract=False)
        assert len(first.added) == 2
        store = RemoteStore(srv.url)
        gen1, hashes1 = store.generation(), store.note_hashes()
        again = build([notes], srv.url, extract=False)
        assert again.nothing_to_do and store.generation() == gen1
        note = next(p for p in sorted(notes.iterdir()) if p.suffix == ".md")
        note.write_text(note.read_text(encoding="utf-8") + "\n\n## 新的一节\n\n加了一段。\n", encoding="utf-8")
        second = build([notes], srv.url, extract=False)
        assert second.changed == [note.name]
        assert store.generation() != gen1
        assert store.note_hashes()[note.name] != hashes1[note.name]
        assert store.select("SELECT ?h WHERE { ?s kg:heading ?h }", {"h": "新的一节"})
        (notes / note.name).unlink()
        third = build([notes], srv.url, extract=False)
        assert third.removed == [note.name]
        assert list(store.note_hashes()) == ["stays.md"]
        assert str(note_graph(note.name)) not in store.named_graphs()
        store.close()
    finally:
        srv.stop()
    assert url  # the module server is untouched


def test_a_failed_build_leaves_no_fingerprint(tmp_path):
    srv = OxigraphServer(tmp_path)
    try:
        build([SAMPLES], srv.url, extract=False)
        with pytest.raises(RuntimeError):
            with write_store(srv.url) as writer:
                writer.replace_note("half-done.md", [])
                writer.flush()
                raise RuntimeError("killed half-way")
        store = RemoteStore(srv.url)
        assert "fingerprint" not in store.meta()  # so the next build redoes everything
        assert str(LOCK_GRAPH) not in store.named_graphs()
        redo = build([SAMPLES], srv.url, extract=False)
        assert redo.changed and "fingerprint" in store.meta()
        store.close()
    finally:
        srv.stop()


def test_one_build_at_a_time(server):
    with write_store(server.url) as first:
        with pytest.raises(StoreLockedError, match="another kg build"):
            with write_store(server.url):
                pass
        assert first.note_hashes()
    with write_store(server.url):  # released
        pass


def test_unreachable_server_says_what_to_do():
    url = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(StoreNotFoundError, match="cannot reach the SPARQL server.*oxigraph serve"):
        RemoteStore(url).note_hashes()
    with pytest.raises(StoreNotFoundError, match="cannot reach"):
        build([SAMPLES], url, extract=False)


def test_server_errors_become_kg_errors(remote):
    with pytest.raises(QueryError, match="rejected the query"):
        remote.select("SELECT ?x WHERE { ?x ?y }")
    with pytest.raises(QueryError, match="invalid IRI"):
        remote.select("SELECT ?x WHERE { ?x ?p ?o }", {"x": URIRef("http://x/> } ; DROP ALL #")})
    with pytest.raises(QueryError, match="not a SPARQL variable"):
        remote.select("SELECT ?x WHERE { ?x ?p ?o }", {"x) { } DROP ALL #": 1})
    with pytest.raises(NotFoundError):
        remote.dump("nt", "https://w3id.org/kg/id/graph/none")
    with pytest.raises(StoreNotFoundError, match="HTTP 404"):
        RemoteStore(remote.endpoints.base + "/nothing/query").select("SELECT * WHERE { ?s ?p ?o } LIMIT 1")


def test_endpoint_forms():
    assert endpoints("http://127.0.0.1:7878").query == "http://127.0.0.1:7878/query"
    e = endpoints("https://example.org/ds/query")
    assert (e.query, e.update, e.store) == ("https://example.org/ds/query", "https://example.org/ds/update",
                                            "https://example.org/ds/store")
    assert values_clause({"a": URIRef("http://x/y"), "b": 'q"uote'}) == 'VALUES (?a ?b) { (<http://x/y> "q\\"uote") }'
