"""No SPARQL request leaves the machine (issue 20, item 2): the read-only check reads the query's algebra,
and the server's SPARQL workers have no network at all."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from contextlib import contextmanager

import httpx
import pytest
from test_api_graph import api_store  # noqa: F401 - the fixture
from test_server_limits import serving

from kg.errors import QueryError, QueryRefusedError
from kg.store import check_read_only_query


@contextmanager
def listener():
    """A SPARQL endpoint on loopback that answers one row and counts who called it; yields (url, hits)."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            hits.append(self.path)
            self.rfile.read(int(self.headers.get("content-length") or 0))
            body = b'{"head":{"vars":["x"]},"results":{"bindings":[{"x":{"type":"literal","value":"LEAK"}}]}}'
            self.send_response(200)
            self.send_header("content-type", "application/sparql-results+json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/sparql", hits
    finally:
        server.shutdown()
        server.server_close()


def hostile(url: str) -> list[str]:
    return [
        # the query: a '\#' in a prefixed name hid SERVICE from the old tokenizer
        f"PREFIX ex: <http://e/> SELECT * WHERE {{ BIND(ex:a\\# AS ?k) SERVICE <{url}> {{ ?x ?y ?z }} }}",
        f"PREFIX ex: <http://e/> SELECT * WHERE {{ BIND(ex:a\\' AS ?k) SERVICE <{url}> {{ ?x ?y ?z }} }}",
        f"SELECT * WHERE {{ \\u0053ERVICE <{url}> {{ ?x ?y ?z }} }}",  # a codepoint escape is the same word
        f"SELECT * WHERE {{ ?s ?p ?o . service silent <{url}> {{ ?x ?y ?z }} }}",
        f"SELECT * WHERE {{ ?s ?p ?o .SERVICE#a comment\n<{url}> {{ ?x ?y ?z }} }}",
    ]


def test_the_server_never_calls_out(api_store):  # noqa: F811
    with listener() as (url, hits), serving(api_store) as (base, _):
        with httpx.Client(base_url=base, timeout=30) as c:
            for q in hostile(url):
                for r in (c.get("/sparql", params={"query": q}),
                          c.post("/sparql", content=q.encode(), headers={"content-type": "application/sparql-query"})):
                    assert r.status_code in (400, 403), (q, r.text)
                    assert "LEAK" not in r.text
    assert hits == []


def test_kg_sparql_never_calls_out(api_store):  # noqa: F811
    with listener() as (url, hits):
        for q in hostile(url)[:2]:
            r = subprocess.run([sys.executable, "-m", "kg.cli", "sparql", q, "--store", str(api_store)],
                               capture_output=True, text=True, timeout=120)
            assert r.returncode == 2 and "LEAK" not in r.stdout, (r.stdout, r.stderr)
            assert "Traceback" not in r.stderr
    assert hits == []


_PROBE = """
import socket, sys
from kg.api.sparql_worker import isolate_network
isolated = isolate_network() if sys.argv[2] == "1" else False
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2).close()
    print(isolated, "connected")
except OSError as err:
    print(isolated, "refused", err)
"""


def test_a_worker_process_cannot_reach_the_network():
    with listener() as (url, _):
        port = url.split(":")[2].split("/")[0]
        free = subprocess.run([sys.executable, "-c", _PROBE, port, "0"], capture_output=True, text=True, timeout=60)
        assert free.stdout.split()[1] == "connected", free  # the probe can tell
        boxed = subprocess.run([sys.executable, "-c", _PROBE, port, "1"], capture_output=True, text=True, timeout=60)
        if boxed.stdout.split()[0] != "True":
            pytest.skip("this system allows no network namespace (the SERVICE check stands alone)")
        assert boxed.stdout.split()[1] == "refused", boxed


@pytest.mark.parametrize("query,refused", [
    ("SELECT * WHERE { ?s ?p ?o }", None),
    ("ASK {}", None),
    ("CONSTRUCT { ?s kg:name ?n } WHERE { ?s kg:name ?n } LIMIT 3", None),
    ("SELECT ?t WHERE { ?s kg:title ?t FILTER(CONTAINS(?t, 'SERVICE')) }", None),  # a word in a string
    ("SELECT * WHERE { ?s <https://schema.org/Service> ?o . ?s schema:service ?x }", None),  # names
    ("SELECT * WHERE { ?s ?p ?o OPTIONAL { SERVICE ?where { ?a ?b ?c } } }", QueryRefusedError),
    ("PREFIX ex: <http://e/> SELECT * WHERE { BIND(ex:a\\# AS ?k) SERVICE <http://127.0.0.1:1/s> { ?x ?y ?z } }",
     QueryError),
    ("SELECT * FROM <http://example.org/g> WHERE { ?s ?p ?o }", QueryRefusedError),
    ("SELECT * FROM NAMED <urn:x> WHERE { GRAPH ?g { ?s ?p ?o } }", QueryRefusedError),
    ("DELETE WHERE { ?s ?p ?o }", QueryRefusedError),
    ("PREFIX a: <urn:a#> INSERT DATA { a:x a:y a:z }", QueryRefusedError),
    ("LOAD <http://example.org/data.ttl>", QueryRefusedError),
    ("SELECT * WHERE { ?s nope:p ?o }", QueryError),
])
def test_the_read_only_check_reads_the_algebra(query, refused):
    if refused is None:
        check_read_only_query(query)
    else:
        with pytest.raises(refused):
            check_read_only_query(query)
