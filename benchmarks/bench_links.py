"""The link pass (kg.links) on the corpus at ×1 and ×4: time, peak memory, and ratios.

Usage::

    python benchmarks/bench_links.py [--posts DIR] [--store DIR] [--scales 1,4]

``--posts`` defaults to ../shared/corpus/posts beside the repo.  The ×1 store is
built once with extraction and without links (``kg.pipeline.build(...,
links=False)``) into ``--store`` (default: a folder under /tmp, reused when it
is already there, since extraction takes minutes).  The ×k store holds k copies
of every note graph under other note names (``copy-i/<path>``): what building
k copies of the files gives, without extracting them again.  Entities keep
their keys, so copies mention the same entities, as copied files would.

Each scale runs in its own process, which reports:

* ``read``: ``load_link_input`` from the store (the baseline: reading the input),
* ``compute``: ``compute_links``,
* ``triples``: materialising ``link_triples``,
* ``write``: replacing the links graph in a store generation,
* ``peak``: the process's peak resident memory (``ru_maxrss``), and the
  Python-heap peak of ``compute_links`` alone (tracemalloc, a second run).

It prints a table with ``pass/read`` (the link pass over reading its input,
same process, same machine, same moment) and the ×k/×1 ratios of the pass
time and peak memory; linear scaling is a ratio near k.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

__all__ = ["main"]

REPO = Path(__file__).resolve().parent.parent
DEFAULT_POSTS = REPO.parent / "shared" / "corpus" / "posts"


def build_base(posts: Path, store: Path) -> None:
    from kg.pipeline import build

    if (store / "CURRENT").exists():
        return
    t = time.perf_counter()
    report = build([posts], store, links=False, n_process=2)
    print(f"built ×1 store (extraction, no links): {report.notes_seen} notes in {time.perf_counter() - t:.0f} s",
          flush=True)


def make_copies(base: Path, target: Path, k: int) -> None:
    """A store with k copies of every note graph of ``base``, under other note names."""
    import pyoxigraph as ox

    from kg.store import EmbeddedStore, write_store
    from kg.vocab import ID_NS, KG_NS, note_graph, note_iri

    if (target / "CURRENT").exists():
        return
    src = EmbeddedStore(base).oxigraph
    prefix = ID_NS + "graph/note/"
    path_pred = KG_NS + "path"
    with write_store(target) as w:
        store = w.oxigraph
        for g in sorted(src.named_graphs(), key=lambda n: n.value):
            if not g.value.startswith(prefix):
                continue
            quads = list(src.quads_for_pattern(None, None, None, g))
            path = next(q.object.value for q in quads if q.predicate.value == path_pred)
            old = str(note_iri(path))
            for i in range(k):
                new_path = f"copy-{i}/{path}"
                new = str(note_iri(new_path))
                graph = ox.NamedNode(str(note_graph(new_path)))

                def term(t):
                    if isinstance(t, ox.NamedNode) and t.value.startswith(old):
                        return ox.NamedNode(new + t.value[len(old):])
                    return t

                store.bulk_extend(
                    ox.Quad(term(q.subject), q.predicate,
                            ox.Literal(new_path) if q.predicate.value == path_pred else term(q.object), graph)
                    for q in quads)
        w.commit()


def measure(store: Path) -> dict:
    """The link pass on one store (run in a child process)."""
    from kg import links
    from kg.store import EmbeddedStore, write_store
    from kg.vocab import LINKS_GRAPH

    reader = EmbeddedStore(store)
    t0 = time.perf_counter()
    data = links.load_link_input(reader.select)
    t1 = time.perf_counter()
    result = links.compute_links(data)
    t2 = time.perf_counter()
    triples = list(links.link_triples(result))
    t3 = time.perf_counter()
    del reader
    with write_store(store) as w:  # a new generation, dropped without commit
        w.replace_graph(str(LINKS_GRAPH), triples)
        w.flush()
        t4 = time.perf_counter()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tracemalloc.start()
    links.compute_links(data)
    heap = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return {
        "entities": len(data.entities), "mentions": len(data.mentions), "sources": len(data.sources),
        "read": t1 - t0, "compute": t2 - t1, "triples": t3 - t2, "write": t4 - t3, "n_triples": len(triples),
        "rss_mb": rss, "compute_heap_mb": heap, "counts": result.counts(),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--posts", type=Path, default=DEFAULT_POSTS)
    ap.add_argument("--store", type=Path, default=Path(tempfile.gettempdir()) / "kg-bench-links" / "x1")
    ap.add_argument("--scales", default="1,4")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child)))
        return
    scales = [int(s) for s in args.scales.split(",")]
    build_base(args.posts, args.store)
    rows = {}
    for k in scales:
        store = args.store if k == 1 else args.store.parent / f"x{k}"
        if k != 1:
            t = time.perf_counter()
            make_copies(args.store, store, k)
            print(f"×{k} store: {time.perf_counter() - t:.1f} s", flush=True)
        out = subprocess.run([sys.executable, __file__, "--child", str(store)], check=True, capture_output=True,
                             text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
        rows[k] = json.loads(out.stdout.strip().splitlines()[-1])
        r = rows[k]
        print(f"×{k}: {r['entities']:,} entities, {r['mentions']:,} mentions, {r['sources']:,} sources; "
              f"{r['counts']}; {r['n_triples']:,} triples", flush=True)
    print()
    print(f"{'scale':>5} {'read s':>7} {'compute s':>9} {'triples s':>9} {'write s':>7} {'pass/read':>9} "
          f"{'peak RSS MB':>11} {'heap MB':>8} {'pass ×k/×1':>10} {'RSS ×k/×1':>9}")
    base = rows.get(1)
    for k, r in rows.items():
        link_pass = r["compute"] + r["triples"] + r["write"]
        ratio = link_pass / (base["compute"] + base["triples"] + base["write"]) if base else float("nan")
        mem = r["rss_mb"] / base["rss_mb"] if base else float("nan")
        print(f"{k:>5} {r['read']:>7.2f} {r['compute']:>9.2f} {r['triples']:>9.2f} {r['write']:>7.2f} "
              f"{link_pass / r['read']:>9.2f} {r['rss_mb']:>11.0f} {r['compute_heap_mb']:>8.0f} {ratio:>10.2f} "
              f"{mem:>9.2f}")


if __name__ == "__main__":
    main()
