"""Extraction speed over a folder of notes, beside plain jieba segmentation of the same text.

Usage: python benchmarks/bench_extract.py [POSTS_DIR] [--repeat N]   (default ../shared/corpus/posts from the repo)
Prints characters per second of ``Extractor.extract_many`` with n_process 1 and 2,
of ``jieba.cut`` over the same block texts, and the ratios (wall clock, all in one run, so a
busy machine slows both sides).  It also prints characters per CPU second (this process and
its worker processes), which a busy machine disturbs less: with n_process=2 the wall-clock
gain is bounded by how many cores are actually free.

Each extraction pass starts cold: the tables the extraction fills per word as it reads
(``kg.extract.clear_caches``) are emptied first, so the n_process=2 workers do not inherit what
the n_process=1 pass learnt.  With ``--repeat N`` every figure is the median of N passes.
Last, ``load_extractor()`` is timed in fresh processes (imports, jieba tables, pipeline): the
fixed cost of a build that extracts one changed note.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["main"]

_COLD_LOAD = (
    "import time; t = time.perf_counter(); from kg.extract import load_extractor; load_extractor(); "
    "print(time.perf_counter() - t)"
)


def _fmt(x: float) -> str:
    return f"{x:>12,.0f}"


def _cold_load_seconds(runs: int = 3) -> list[float]:
    """``load_extractor()`` in fresh interpreters (the jieba tables' cache is written by the first, if missing)."""
    out = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", _COLD_LOAD], capture_output=True, text=True, check=True)
        out.append(float(done.stdout.strip().splitlines()[-1]))
    return out


def main(argv: list[str] | None = None) -> None:
    import jieba

    from kg.extract import clear_caches, load_extractor
    from kg.notes import read_notes

    argv = list(sys.argv[1:] if argv is None else argv)
    repeat = 1
    if "--repeat" in argv:
        k = argv.index("--repeat")
        repeat = max(1, int(argv[k + 1]))
        del argv[k : k + 2]
    root = Path(argv[0]) if argv else Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "posts"
    notes, problems = read_notes([root])
    texts = [b.text for n in notes for b in n.blocks]
    chars = sum(len(t) for t in texts)
    extractor = load_extractor()
    extractor.extract(notes[0])  # warm up

    def cpu() -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    def jieba_pass() -> tuple[float, float]:
        t, c = time.perf_counter(), cpu()
        for text in texts:
            for _ in jieba.cut(text):
                pass
        return chars / (time.perf_counter() - t), chars / (cpu() - c)

    def extract_pass(n_process: int) -> tuple[float, float, int]:
        clear_caches()
        t, c = time.perf_counter(), cpu()
        mentions = sum(len(x.mentions) for x in extractor.extract_many(notes, n_process=n_process))
        return chars / (time.perf_counter() - t), chars / (cpu() - c), mentions

    jieba.setLogLevel(60)
    runs = [jieba_pass() for _ in range(repeat)]
    jieba_cps, jieba_cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
    print(f"{len(notes)} notes, {chars:,} characters of prose ({len(problems)} unreadable)"
          + (f"; medians of {repeat} passes" if repeat > 1 else ""))
    print(f"jieba.cut                 {jieba_cps:>12,.0f} chars/s  {jieba_cpu:>12,.0f} chars/CPU-s")
    for n_process in (1, 2):
        runs = [extract_pass(n_process) for _ in range(repeat)]
        cps, cpu_cps = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        mentions = runs[-1][2]
        print(f"extract n_process={n_process}      {cps:>12,.0f} chars/s  {_fmt(cpu_cps)} chars/CPU-s"
              f"  ({cps / jieba_cps:.2f}× jieba wall, {cpu_cps / jieba_cpu:.2f}× per CPU, {mentions:,} mentions)")
    loads = _cold_load_seconds()
    print(f"load_extractor() in a fresh process: {statistics.median(loads):.2f} s median"
          f" ({', '.join(f'{s:.2f}' for s in loads)})")


if __name__ == "__main__":
    main()
