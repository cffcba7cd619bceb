"""A bounded loopback load test: ordinary traffic while hostile clients do their worst (issue 20).

Usage::

    python benchmarks/load_hostile.py [--store DIR | --notes DIR] [--seconds 60]

It starts ``kg serve`` on a free loopback port (127.0.0.1 only) over the store (by default it builds
``../shared/corpus/posts`` into a temporary one), then for at most ``--seconds`` runs, side by side:

* ordinary traffic, measured: ``/healthz`` every 50 ms (a process of its own); cheap GraphQL (the PLE
  question, an entity lookup, a page of entities) and cheap SPARQL (``ASK {}``, a small SELECT) from four
  clients (this process);
* hostile traffic (another process, so that its work does not slow the measuring): GraphQL nested-list
  bombs and near-limit queries (item 1), ``/export/d3`` with an unknown centre and ``/dump.nq`` four at a
  time (item 5), a cross product with ORDER BY (item 6), four clients looping on a slow SPARQL query
  (item 7).  Each hostile client waits ``--hostile-pause`` seconds (0.05) between its requests; with 0
  they also flood the server with as many cheap refusals as it can answer.

It samples the server's resident memory (and its SPARQL workers') every 0.5 s, prints p50/p99 per kind,
the worst p99 of ordinary requests in any 10-s window, statuses per kind and the memory peaks, writes
``benchmarks/results/load_hostile.json``, and exits 1 when a bound is broken: ``/healthz`` p99 ≥ 100 ms,
cheap GraphQL/SPARQL p99 ≥ 1 s (in any window), a 5xx other than the documented 503s (busy, query
timeout), a cheap request refused, or server RSS ≥ 1.5 GB.  Every loop is bounded in time and count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "posts"

CHEAP_GRAPHQL = [
    ("gql-sources", {"query": 'query($t: String!) { sources(covering: $t, first: 10) { source { url title } score } }',
                     "variables": {"t": "PLE"}}),
    ("gql-entity", {"query": 'query($n: String!) { entity(name: $n) { name type aliases mentions(first: 3) { text } '
                             'related(first: 3) { weight to { name } } } }', "variables": {"n": "日本"}}),
    ("gql-entities", {"query": '{ entities(type: PERSON, first: 20) { totalCount edges { node { name } } } }'}),
]
CHEAP_SPARQL = [
    ("sparql-ask", "ASK {}"),
    ("sparql-select", "SELECT ?t WHERE { ?s a kg:Source ; kg:title ?t } LIMIT 20"),
]
BOMB = ('{ entity(name: "中国") { mentions(first:500) { entity { mentions(first:500) { entity { '
        'mentions(first:500) { text } } } } } } }')
NEAR_LIMIT = '{ entity(name: "日本") { mentions(first: 100) { entity { mentions(first: 95) { text } } } } }'
CROSS = "SELECT * { ?a ?b ?c . ?d ?e ?f } ORDER BY ?a ?f"
SLOW = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
DOCUMENTED_503 = {"busy", "query_timeout"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _code(r: httpx.Response) -> str:
    try:
        body = r.json()
    except (ValueError, httpx.ResponseNotRead):
        return ""
    if isinstance(body, dict):
        if isinstance(body.get("error"), dict):
            return str(body["error"].get("code", ""))
        errors = body.get("errors") or []
        if errors:
            return str((errors[0].get("extensions") or {}).get("code", ""))
    return ""


# ---------------------------------------------------------------- hostile traffic (a process of its own)

async def _hostile(base: str, seconds: float, max_requests: int, only: str = "", pause: float = 0.05) -> dict:
    stop = time.monotonic() + seconds
    budget = [max_requests]
    statuses: Counter = Counter()

    async def loop(name: str, send) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=300) as http:  # (a first dump is written while waited)
            while time.monotonic() < stop and budget[0] > 0:
                budget[0] -= 1
                try:
                    r = await send(http)
                    statuses[f"{name} {r.status_code} {_code(r)}".strip()] += 1
                except httpx.HTTPError as err:
                    statuses[f"{name} no answer {type(err).__name__}"] += 1
                    await asyncio.sleep(0.2)
                await asyncio.sleep(pause)

    async def dump(http: httpx.AsyncClient) -> httpx.Response:
        async with http.stream("GET", "/dump.nq") as r:
            if r.status_code != 200:
                await r.aread()
                return r
            async for _ in r.aiter_bytes(1 << 20):
                pass
            return r

    plan = [
        *[("gql-bomb", lambda h: h.post("/graphql", json={"query": BOMB}))] * 2,
        *[("gql-near-limit", lambda h: h.post("/graphql", json={"query": NEAR_LIMIT}))] * 2,
        *[("export-unknown-centre", lambda h: h.get("/export/d3", params={"centre": "nobody-at-all"}))] * 4,
        *[("dump-nq", dump)] * 4,
        ("sparql-cross-order", lambda h: h.get("/sparql", params={"query": CROSS})),
        *[("sparql-slow", lambda h: h.get("/sparql", params={"query": SLOW}))] * 4,
    ]
    if only:  # (to find which hostile kind costs what)
        plan = [(name, send) for name, send in plan if any(k in name for k in only.split(","))]
    jobs = [loop(name, send) for name, send in plan]
    await asyncio.gather(*jobs)
    return dict(statuses)


def hostile_main(base: str, seconds: float, max_requests: int, out: str, only: str = "", pause: float = 0.05) -> None:
    result = asyncio.run(_hostile(base, seconds, max_requests, only, pause))
    Path(out).write_text(json.dumps(result), encoding="utf-8")


# ---------------------------------------------------------------- /healthz (a process of its own: its timing is the server's)

def health_main(base: str, seconds: float, max_requests: int, out: str) -> None:
    t0 = time.monotonic()
    samples: list[tuple[float, float, int]] = []
    with httpx.Client(base_url=base, timeout=30) as http:
        while time.monotonic() - t0 < seconds and len(samples) < max_requests:
            t = time.perf_counter()
            r = http.get("/healthz")
            samples.append((time.monotonic() - t0, time.perf_counter() - t, r.status_code))
            time.sleep(0.05)
    Path(out).write_text(json.dumps(samples), encoding="utf-8")


# ---------------------------------------------------------------- ordinary traffic (measured)

async def _ordinary(base: str, seconds: float, max_requests: int, t0: float) -> tuple[dict, Counter]:
    stop = time.monotonic() + seconds
    budget = [max_requests]
    samples: dict[str, list[tuple[float, float]]] = defaultdict(list)  # kind -> (time since start, latency)
    statuses: Counter = Counter()

    async def cheap(k: int) -> None:
        plan = [("g", x) for x in CHEAP_GRAPHQL] + [("s", x) for x in CHEAP_SPARQL]
        i = k
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            while time.monotonic() < stop and budget[0] > 0:
                budget[0] -= 1
                kind, item = plan[i % len(plan)]
                i += 1
                t = time.perf_counter()
                if kind == "g":
                    r = await http.post("/graphql", json=item[1])
                    # "no entity or source text named X" (not_found) answers the question too
                    errors = r.json().get("errors") or [] if r.status_code == 200 else [{}]
                    ok = all((e.get("extensions") or {}).get("code") == "not_found" for e in errors)
                else:
                    r = await http.get("/sparql", params={"query": item[1]})
                    ok = r.status_code == 200
                samples[item[0]].append((time.monotonic() - t0, time.perf_counter() - t))
                statuses[f"{item[0]} {r.status_code} {_code(r)}{'' if ok else ' NOT ANSWERED'}".strip()] += 1
                await asyncio.sleep(0.02)

    await asyncio.gather(*(cheap(k) for k in range(4)))
    return samples, statuses


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store")
    ap.add_argument("--notes", default=str(CORPUS))
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--max-requests", type=int, default=100_000)
    ap.add_argument("--only", default="", help="only these hostile kinds (comma-separated name parts)")
    ap.add_argument("--hostile-pause", type=float, default=0.05,
                    help="seconds each hostile client waits between its requests (0: as fast as answers come)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        store = args.store
        if store is None:
            store = str(Path(tmp) / "store")
            print(f"building {args.notes} ...", file=sys.stderr)
            done = subprocess.run([sys.executable, "-m", "kg.cli", "build", args.notes, "--store", store],
                                  capture_output=True, text=True)
            if done.returncode not in (0, 1):
                print(done.stderr, file=sys.stderr)
                return 2
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log_path = Path(tmp) / "server.log"  # (a pipe nobody reads would stall the server once full)
        log_file = open(log_path, "w")
        server = subprocess.Popen([sys.executable, "-m", "kg.cli", "serve", "--store", store, "--host", "127.0.0.1",
                                   "--port", str(port)], stdout=subprocess.DEVNULL, stderr=log_file)
        memory: dict[str, int] = {"server_kb": 0, "workers_kb": 0, "total_kb": 0}
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.wait(0.5):
                s = rss_kb(server.pid)
                w = sum(rss_kb(c) for c in children(server.pid))
                memory["server_kb"] = max(memory["server_kb"], s)
                memory["workers_kb"] = max(memory["workers_kb"], w)
                memory["total_kb"] = max(memory["total_kb"], s + w)

        try:
            for _ in range(600):
                try:
                    if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            else:
                print("the server did not start", file=sys.stderr)
                return 2
            t_warm = time.monotonic()  # each cheap question once: the server reads what a generation needs first
            with httpx.Client(base_url=base, timeout=120) as c:
                for _, body in CHEAP_GRAPHQL:
                    c.post("/graphql", json=body)
                for _, q in CHEAP_SPARQL:
                    c.get("/sparql", params={"query": q})
            warm_up = time.monotonic() - t_warm
            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            hostile_out = Path(tmp) / "hostile.json"
            hostile = subprocess.Popen([sys.executable, __file__, "--hostile-child", base, str(args.seconds),
                                        str(args.max_requests), str(hostile_out), args.only,
                                        str(args.hostile_pause)])
            health_out = Path(tmp) / "health.json"
            prober = subprocess.Popen([sys.executable, __file__, "--health-child", base, str(args.seconds),
                                       str(args.max_requests), str(health_out)])
            t0 = time.monotonic()
            samples, statuses = asyncio.run(_ordinary(base, args.seconds, args.max_requests, t0))
            elapsed = time.monotonic() - t0
            prober.wait(timeout=args.seconds + 60)
            for at, took, status in json.loads(health_out.read_text()) if health_out.exists() else []:
                samples["healthz"].append((at, took))
                statuses[f"healthz {status}"] += 1
            hostile.wait(timeout=args.seconds + 300)
            hostile_statuses = json.loads(hostile_out.read_text()) if hostile_out.exists() else {}
            alive = httpx.get(base + "/healthz", timeout=5).status_code == 200
            sampling.set()
        finally:
            sampling.set()
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                print("the server did not stop within 30 s of SIGTERM; killed", file=sys.stderr)
                server.kill()
                server.wait()
            log_file.close()
            log = log_path.read_text(errors="replace")

    lat = {k: [x for _, x in v] for k, v in samples.items()}
    cheap_kinds = [k for k in lat if k != "healthz"]
    windows: dict[int, list[float]] = defaultdict(list)
    for k in cheap_kinds:
        for at, x in samples[k]:
            windows[int(at // 10)].append(x)
    worst_window = max((pct(v, 99) for v in windows.values()), default=0.0)
    print(f"warm-up (each cheap question once, before measuring) {warm_up:.1f} s")
    print(f"{elapsed:.1f} s; ordinary requests {sum(len(v) for v in lat.values())}, hostile requests "
          f"{sum(hostile_statuses.values())}")
    print(f"{'kind':<16}{'n':>7}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for k in sorted(lat):
        v = lat[k]
        print(f"{k:<16}{len(v):>7}{pct(v, 50) * 1000:>10.1f}{pct(v, 99) * 1000:>10.1f}{max(v) * 1000:>10.1f}")
    print(f"cheap GraphQL/SPARQL: worst p99 in a 10-s window {worst_window * 1000:.0f} ms; by window: "
          + ", ".join(f"{w * 10}-{w * 10 + 10} s {pct(v, 99) * 1000:.0f}" for w, v in sorted(windows.items())))
    hw: dict[int, list[float]] = defaultdict(list)
    for at, x in samples.get("healthz", []):
        hw[int(at // 10)].append(x)
    print("healthz p99 by window: " + ", ".join(f"{w * 10}-{w * 10 + 10} s {pct(v, 99) * 1000:.0f}"
                                                for w, v in sorted(hw.items())))
    print("ordinary statuses:", dict(statuses))
    print("hostile statuses:", hostile_statuses)
    print(f"peak RSS: server {memory['server_kb'] / 1024:.0f} MB, SPARQL workers {memory['workers_kb'] / 1024:.0f} MB, "
          f"together {memory['total_kb'] / 1024:.0f} MB")

    def undocumented_5xx(name: str) -> bool:
        parts = name.split()
        codes = [p for p in parts if p.isdigit() and len(p) == 3]
        if not codes or not codes[0].startswith("5"):
            return "no answer" in name
        return not (codes[0] == "503" and any(c in DOCUMENTED_503 for c in parts))

    bad = [k for k in [*statuses, *hostile_statuses] if undocumented_5xx(k)]
    refused_cheap = [k for k in statuses if "NOT ANSWERED" in k]
    checks = {
        "healthz p99 < 100 ms": pct(lat.get("healthz", [1.0]), 99) < 0.1,
        "cheap p99 < 1 s in every window": worst_window < 1.0,
        "no 5xx but documented 503s": not bad,
        "every cheap request answered": not refused_cheap,
        "server RSS < 1.5 GB": memory["server_kb"] < 1.5 * 2**20,
        "server alive after": alive,
    }
    for name, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'} {name}")
    report = {"seconds": elapsed, "warm_up_seconds": warm_up, "checks": checks, "memory_kb": memory, "worst_window_p99_ms": worst_window * 1000,
              "ordinary": {k: {"n": len(v), "p50_ms": pct(v, 50) * 1000, "p99_ms": pct(v, 99) * 1000,
                               "max_ms": max(v) * 1000} for k, v in lat.items()},
              "ordinary_statuses": dict(statuses), "hostile_statuses": hostile_statuses,
              "undocumented_5xx": bad, "server_log_lines": len(log.splitlines()), "server_log_head": log[:2000]}
    out = REPO / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "load_hostile.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--hostile-child":
        hostile_main(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6], float(sys.argv[7]))
        sys.exit(0)
    if len(sys.argv) > 1 and sys.argv[1] == "--health-child":
        health_main(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
        sys.exit(0)
    sys.exit(main())
