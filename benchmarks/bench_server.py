"""Load on loopback: requests/s and p50/p99 latency of the server, and in-process GraphQL latency.

Usage::

    python benchmarks/bench_server.py [--store DIR | --notes DIR [--copies K]]
                                      [--requests N] [--concurrency C] [--seconds S]

Without ``--store`` it builds ``--notes`` (default: ../shared/corpus/posts beside
the repo) into a temporary store; ``--copies 4`` copies the notes four times
under different paths first (≈1000 notes from the 251-post corpus).  Then it

1. times ``sources(covering:)`` and an entity lookup in-process (QueryRunner);
2. starts ``kg serve`` in a subprocess on a free loopback port and sends each
   question ``--requests`` times (at most ``--seconds`` each) from
   ``--concurrency`` concurrent clients, over HTTP POST /graphql;
3. prints requests/s, p50 and p99, and the resident memory of the server
   (and of its SPARQL workers).

Everything is bounded: counts and time, loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SOURCES_Q = "query($t: String!) { sources(covering: $t) { source { url title } score direct } }"
ENTITY_Q = ("query($n: String!) { entity(name: $n) { name type aliases mentions(first: 5) { text note { path } } "
            "related(first: 5) { weight to { name } } } }")


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def build_store(notes: Path, copies: int, work: Path) -> Path:
    from kg.pipeline import build

    src = notes
    if copies > 1:
        src = work / "notes"
        for i in range(copies):
            dest = src / f"copy{i}"
            dest.mkdir(parents=True)
            for f in sorted(notes.iterdir()):
                if f.is_file():
                    shutil.copy(f, dest / f.name)
    store = work / ".kg"
    t = time.perf_counter()
    report = build([src], store, n_process=max(1, min(2, os.cpu_count() or 1)))
    print(f"built {report.notes_seen} notes in {time.perf_counter() - t:.1f} s ({len(report.problems)} problems); "
          f"links: {report.links}")
    return store


def pick_names(store: Path) -> tuple[str, str]:
    """The PLE question when the graph knows PLE (else the most mentioned entity), and the most mentioned entity."""
    from kg.api.backend import GraphBackend

    backend = GraphBackend(str(store))
    try:
        cat = backend.snapshot().catalogue
        top = max(cat.entities.values(), key=lambda e: e.mention_count, default=None)
        name = top.name if top else "PLE"
        return ("PLE" if cat.lookup("PLE") else name), name
    finally:
        backend.close()


def in_process(store: Path, term: str, name: str, n: int) -> dict[str, tuple[float, float]]:
    from kg.api.query import QueryRunner

    runner = QueryRunner(store)
    out = {}

    async def go() -> None:
        for label, q, v in (("sources(covering:)", SOURCES_Q, {"t": term}), ("entity lookup", ENTITY_Q, {"n": name})):
            r = await runner.execute(q, v)
            assert "errors" not in r, r
            times = []
            for _ in range(n):
                t = time.perf_counter()
                await runner.execute(q, v)
                times.append((time.perf_counter() - t) * 1000)
            out[label] = (statistics.median(times), pct(times, 99))

    try:
        asyncio.run(go())
    finally:
        runner.close()
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return sorted(set(out))


async def load(url: str, query: str, variables: dict, requests: int, concurrency: int, seconds: float):
    import httpx

    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    sent = 0

    async def client(c: httpx.AsyncClient) -> None:
        nonlocal sent, errors
        while sent < requests and time.monotonic() < deadline:
            sent += 1
            t = time.perf_counter()
            r = await c.post("/graphql", json={"query": query, "variables": variables})
            latencies.append((time.perf_counter() - t) * 1000)
            if r.status_code != 200 or "errors" in r.json():
                errors += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as c:
        await c.post("/graphql", json={"query": query, "variables": variables})  # warm up
        t0 = time.perf_counter()
        await asyncio.gather(*(client(c) for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    return len(latencies) / wall, statistics.median(latencies), pct(latencies, 99), len(latencies), errors


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store")
    ap.add_argument("--notes", default=str(REPO.parent / "shared" / "corpus" / "posts"))
    ap.add_argument("--copies", type=int, default=1)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--inprocess", type=int, default=300, help="in-process repetitions per question")
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="kg-bench-"))
    try:
        store = Path(args.store) if args.store else build_store(Path(args.notes), args.copies, work)
        term, name = pick_names(store)
        print(f"questions: sources(covering: {term!r}), entity(name: {name!r})", flush=True)
        for label, (p50, p99) in in_process(store, term, name, args.inprocess).items():
            print(f"in-process {label:<20} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms", flush=True)

        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "kg.cli", "serve", "--store", str(store), "--port", str(port)],
                                cwd=str(REPO), stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            import httpx

            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("the server did not start")
                time.sleep(0.2)
            print(f"server: {url}, {args.concurrency} concurrent clients, at most {args.requests} requests "
                  f"or {args.seconds:g} s per question")
            for label, q, v in (("sources(covering:)", SOURCES_Q, {"t": term}), ("entity lookup", ENTITY_Q, {"n": name})):
                rps, p50, p99, n, errors = asyncio.run(load(url, q, v, args.requests, args.concurrency, args.seconds))
                print(f"HTTP {label:<20} {rps:8.0f} req/s  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  "
                      f"({n} requests, {errors} errors)")
            workers = sum(rss_mib(c) for c in children(proc.pid))
            print(f"server resident memory: {rss_mib(proc.pid):.0f} MiB (+ {workers:.0f} MiB in "
                  f"{len(children(proc.pid))} SPARQL workers)")
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
