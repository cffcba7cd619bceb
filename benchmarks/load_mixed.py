"""A bounded loopback load test: GraphQL and SPARQL mixed, many concurrent clients.

Usage::

    python benchmarks/load_mixed.py [--store DIR | --notes DIR] [--clients 50] [--seconds 60]

It starts ``kg serve`` on a free loopback port (127.0.0.1 only), then runs
``--clients`` concurrent clients for at most ``--seconds`` (and at most
``--max-requests`` in all).  Each client cycles through a mix: the PLE
question, entity lookups, a path, SPARQL SELECTs in JSON and CSV, a CONSTRUCT,
and hostile requests that must be refused with a 4xx (an update, a SERVICE
call, a GraphQL depth bomb).  It prints requests per second, p50/p99 latency
per kind and the count of responses per status class, and exits 1 if any
response was a 5xx, if a hostile request was not refused, or if the server
stopped answering.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]

GRAPHQL = [
    ("gql-sources", {"query": 'query($t: String!) { sources(covering: $t) { source { url title } score direct } }',
                     "variables": {"t": "PLE"}}),
    ("gql-entity", {"query": 'query($n: String!) { entity(name: $n) { name type aliases mentions(first: 3) { text } '
                             'related(first: 3) { weight to { name } } } }', "variables": {"n": "池田成彬"}}),
    ("gql-path", {"query": 'query($a: String!, $b: String!) { path(from: $a, to: $b) { kind evidence } }',
                  "variables": {"a": "北一辉", "b": "池田成彬"}}),
    ("gql-entities", {"query": '{ entities(type: PERSON, first: 20) { totalCount edges { node { name } } } }'}),
]
SPARQL = [
    ("sparql-json", "SELECT ?t WHERE { ?s a kg:Source ; kg:title ?t } LIMIT 20", "application/sparql-results+json"),
    ("sparql-csv", "SELECT ?n ?name WHERE { ?n a kg:Person ; kg:name ?name } LIMIT 50", "text/csv"),
    ("sparql-construct", "CONSTRUCT { ?s kg:title ?t } WHERE { ?s a kg:Source ; kg:title ?t } LIMIT 50", "text/turtle"),
]
HOSTILE = [
    ("hostile-update", "sparql", "INSERT DATA { <urn:a> <urn:b> <urn:c> }"),
    ("hostile-service", "sparql", "SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }"),
    ("hostile-depth", "graphql", "{ entity(name: \"x\") { " + "related { to { " * 20 + "name" + " } }" * 20 + " } }"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def client(base: str, deadline: float, budget: list[int], results: dict, statuses: Counter,
                 refused_ok: Counter, offset: int) -> None:
    plan = [("g", g) for g in GRAPHQL] + [("s", s) for s in SPARQL] + [("h", h) for h in HOSTILE]
    i = offset
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        while time.monotonic() < deadline and budget[0] > 0:
            budget[0] -= 1
            kind, item = plan[i % len(plan)]
            i += 1
            t = time.perf_counter()
            try:
                r = await _send(http, kind, item)
            except httpx.HTTPError as err:
                statuses[f"5xx {item[0]} {type(err).__name__}"] += 1  # no answer counts as a server failure
                results[item[0]].append(time.perf_counter() - t)
                continue
            name = item[0]
            if kind == "h":
                refused = 400 <= r.status_code < 500 or (r.status_code == 200 and "errors" in r.json())
                refused_ok[name if refused else name + " NOT REFUSED"] += 1
            results[name].append(time.perf_counter() - t)
            statuses[f"{r.status_code // 100}xx"] += 1
            if r.status_code >= 500:
                statuses[f"5xx {name} {r.status_code}"] += 1


async def _send(http: httpx.AsyncClient, kind: str, item) -> httpx.Response:
    if kind == "g":
        _, body = item
        return await http.post("/graphql", json=body)
    if kind == "s":
        _, query, accept = item
        return await http.post("/sparql", content=query.encode(),
                               headers={"content-type": "application/sparql-query", "accept": accept})
    _, where, text = item
    if where == "sparql":
        return await http.get("/sparql", params={"query": text})
    return await http.post("/graphql", json={"query": text})


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store")
    ap.add_argument("--notes", default=str(REPO / "samples"))
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--max-requests", type=int, default=200_000)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        store = args.store
        if store is None:
            store = str(Path(tmp) / "store")
            done = subprocess.run([sys.executable, "-m", "kg.cli", "build", args.notes, "--store", store],
                                  capture_output=True, text=True)
            if done.returncode not in (0, 1):
                print(done.stderr, file=sys.stderr)
                return 2
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "kg.cli", "serve", "--store", store, "--host", "127.0.0.1",
                                   "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            else:
                print("the server did not start", file=sys.stderr)
                return 2
            results: dict[str, list[float]] = defaultdict(list)
            statuses: Counter = Counter()
            refused: Counter = Counter()
            budget = [args.max_requests]
            t0 = time.monotonic()
            deadline = t0 + args.seconds

            async def run_all():
                await asyncio.gather(*(client(base, deadline, budget, results, statuses, refused, k)
                                       for k in range(args.clients)))

            asyncio.run(run_all())
            elapsed = time.monotonic() - t0
            alive = httpx.get(base + "/healthz", timeout=5).status_code == 200
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                print("the server did not stop within 30 s of SIGTERM; killed", file=sys.stderr)
                server.kill()
                server.wait()

    total = sum(len(v) for v in results.values())
    everything = [x for v in results.values() for x in v]
    print(f"{args.clients} clients, {elapsed:.1f} s, {total} requests, {total / elapsed:.0f} req/s; "
          f"p50 {pct(everything, 50) * 1000:.1f} ms, p99 {pct(everything, 99) * 1000:.1f} ms")
    print(f"{'kind':<18}{'n':>8}{'p50 ms':>10}{'p99 ms':>10}")
    for name in sorted(results):
        v = results[name]
        print(f"{name:<18}{len(v):>8}{pct(v, 50) * 1000:>10.1f}{pct(v, 99) * 1000:>10.1f}")
    print("statuses:", dict(statuses))
    print("hostile:", dict(refused))
    report = {"clients": args.clients, "seconds": elapsed, "requests": total, "rps": total / elapsed,
              "p50_ms": pct(everything, 50) * 1000, "p99_ms": pct(everything, 99) * 1000,
              "statuses": dict(statuses), "hostile": dict(refused), "server_alive_after": alive,
              "by_kind": {k: {"n": len(v), "p50_ms": pct(v, 50) * 1000, "p99_ms": pct(v, 99) * 1000}
                          for k, v in results.items()}}
    out = REPO / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "load_mixed.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    bad_5xx = sum(v for k, v in statuses.items() if k.startswith("5xx "))
    not_refused = sum(v for k, v in refused.items() if k.endswith("NOT REFUSED"))
    return 0 if (bad_5xx == 0 and not_refused == 0 and alive) else 1


if __name__ == "__main__":
    sys.exit(main())
