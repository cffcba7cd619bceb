"""How fast the offline viewer opens and pans on a whole corpus, in headless Chromium.

    python benchmarks/bench_viewer.py [--store DIR] [--notes ../shared/corpus/posts] [--runs 5]

Builds the store first if ``--store`` holds none.  In the same run and the
same browser it opens, each ``--runs`` times in a fresh tab:

* ``blank``: an empty page (what the browser costs by itself),
* ``library``: the viewer with no data (what cytoscape.js costs),
* ``default``: ``kg export --format html`` as a user gets it (the 2000 most central entities),
* ``all``: every entity (no level of detail), to show what the cut saves,

and prints, per page, the file size, the time from navigation to the first
painted graph (median and worst), and how smoothly it pans: frames per second,
the median and 95th-percentile frame time while the whole graph is panned for
two seconds.  ``--json FILE`` also writes the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kg.export import HTML_DEFAULT_MAX_NODES, ViewFilter, export_graph, load_view_graph, node_details  # noqa: E402
from kg.store import EmbeddedStore  # noqa: E402
from kg.viz.browser import Chromium, find_chromium  # noqa: E402

_PAN = """
new Promise(resolve => {
  const cy = kg.cy, frames = [], t0 = performance.now();
  cy.fit(undefined, 30);
  let last = t0, step = 0;
  function tick(now) {
    frames.push(now - last); last = now;
    const dx = 6 * Math.sin(step / 20), dy = 4 * Math.cos(step / 25); step++;
    cy.panBy({x: dx, y: dy});
    if (now - t0 < %d) requestAnimationFrame(tick);
    else resolve(frames.slice(2));
  }
  requestAnimationFrame(tick);
})
"""


def _percentile(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


def measure(browser: Chromium, page_file: Path, runs: int, pan_ms: int) -> dict:
    opens, painted, pans = [], [], []
    for i in range(runs):
        page = browser.new_page()
        t0 = time.perf_counter()
        page.send("Page.navigate", {"url": page_file.as_uri()})
        page.wait_for("document.body && document.body.dataset.ready === '1'", timeout=60, interval=0.005)
        opens.append(time.perf_counter() - t0)
        painted.append(page.eval("window.kg ? kg.timings.painted : performance.now()") / 1000)
        if i == 0 and page.eval("!!(window.kg && kg.cy)"):
            frames = page.eval(_PAN % pan_ms, timeout=pan_ms / 1000 + 30)
            pans.append(frames)
            errors = page.errors()
            if errors:
                print(f"  page errors: {errors[:3]}", file=sys.stderr)
        page.browser.send("Target.closeTarget", {"targetId": page.target})
    out = {"bytes": page_file.stat().st_size, "open_median_s": statistics.median(opens), "open_max_s": max(opens),
           "painted_median_s": statistics.median(painted)}
    if pans:
        frames = pans[0]
        out.update(pan_fps=1000 * len(frames) / max(1e-9, sum(frames)), frame_median_ms=statistics.median(frames),
                   frame_p95_ms=_percentile(frames, 95), frame_max_ms=max(frames))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", default=str(ROOT / ".kg-bench-corpus"))
    ap.add_argument("--notes", default=str(ROOT.parent / "shared" / "corpus" / "posts"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--pan-ms", type=int, default=2000)
    ap.add_argument("--json", dest="json_out")
    args = ap.parse_args()
    if not find_chromium():
        sys.exit("no chromium on PATH: apt-get install -y chromium")
    store_dir = Path(args.store)
    if not (store_dir / "CURRENT").exists():
        from kg.pipeline import build

        print(f"building {args.notes} into {store_dir} ...", file=sys.stderr)
        t = time.perf_counter()
        build([args.notes], store_dir, n_process=2)
        print(f"  built in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    store = EmbeddedStore(store_dir)

    work = Path(tempfile.mkdtemp(prefix="kg-bench-viewer-"))
    pages: dict[str, Path] = {}
    (work / "blank.html").write_text("<!DOCTYPE html><html><body><script>requestAnimationFrame(() => "
                                     "requestAnimationFrame(() => document.body.dataset.ready = '1'))</script>"
                                     "</body></html>")
    pages["blank"] = work / "blank.html"
    import networkx as nx

    empty = nx.MultiDiGraph()
    (work / "library.html").write_bytes(export_graph(empty, "html")[0])
    pages["library"] = work / "library.html"

    t = time.perf_counter()
    full = load_view_graph(store.select)
    load_s = time.perf_counter() - t
    print(f"store: {full.graph['total_nodes']:,} entities, {full.graph['total_edges']:,} edges "
          f"({full.graph['edge_source']}); loaded in {load_s:.2f} s")
    timings = {}
    for name, budget in (("default", HTML_DEFAULT_MAX_NODES), ("all", None)):
        t = time.perf_counter()
        f = replace(ViewFilter(), max_nodes=budget)
        g = load_view_graph(store.select, f)
        details = node_details(store.select, g)
        body = export_graph(g, "html", details=details)[0]
        timings[name] = time.perf_counter() - t
        pages[name] = work / f"{name}.html"
        pages[name].write_bytes(body)
        print(f"export {name}: {g.number_of_nodes():,} nodes, {g.number_of_edges():,} edges, "
              f"{len(body) / 1e6:.2f} MB in {timings[name]:.1f} s")

    results = {}
    with Chromium(width=1400, height=900) as browser:
        print(f"browser: {browser.version.get('product')}; {args.runs} opens per page, fresh tab each\n")
        print(f"{'page':<8} {'MB':>6} {'open med':>9} {'open max':>9} {'pan fps':>8} {'frame med':>10} "
              f"{'p95':>7} {'max':>7}")
        for name, path in pages.items():
            r = measure(browser, path, args.runs, args.pan_ms)
            results[name] = r
            pan = (f"{r['pan_fps']:8.1f} {r['frame_median_ms']:9.1f}ms {r['frame_p95_ms']:6.1f}ms "
                   f"{r['frame_max_ms']:6.1f}ms") if "pan_fps" in r else f"{'-':>8} {'-':>10} {'-':>7} {'-':>7}"
            print(f"{name:<8} {r['bytes'] / 1e6:6.2f} {r['open_median_s']:8.2f}s {r['open_max_s']:8.2f}s {pan}")
    results["export_seconds"] = timings
    results["store"] = {"entities": full.graph["total_nodes"], "edges": full.graph["total_edges"],
                        "load_seconds": load_s}
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
