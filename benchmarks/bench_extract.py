"""Extraction speed over a folder of notes, beside plain jieba segmentation of the same text.

Usage: python benchmarks/bench_extract.py [POSTS_DIR]   (default ../shared/corpus/posts from the repo)
Prints characters per second of ``Extractor.extract_many`` with n_process 1 and 2,
of ``jieba.cut`` over the same block texts, and the ratios (wall clock, all in one run, so a
busy machine slows both sides).  It also prints characters per CPU second (this process and
its worker processes), which a busy machine disturbs less: with n_process=2 the wall-clock
gain is bounded by how many cores are actually free.
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

__all__ = ["main"]


def _fmt(x: float) -> str:
    return f"{x:>12,.0f}"


def main(argv: list[str] | None = None) -> None:
    import jieba

    from kg.nlp import load_extractor
    from kg.notes import read_notes

    argv = sys.argv[1:] if argv is None else argv
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

    jieba.setLogLevel(60)
    t, c = time.perf_counter(), cpu()
    for text in texts:
        for _ in jieba.cut(text):
            pass
    jieba_cps = chars / (time.perf_counter() - t)
    jieba_cpu = chars / (cpu() - c)
    print(f"{len(notes)} notes, {chars:,} characters of prose ({len(problems)} unreadable)")
    print(f"jieba.cut                 {jieba_cps:>12,.0f} chars/s  {jieba_cpu:>12,.0f} chars/CPU-s")
    for n_process in (1, 2):
        t, c = time.perf_counter(), cpu()
        mentions = sum(len(x.mentions) for x in extractor.extract_many(notes, n_process=n_process))
        cps = chars / (time.perf_counter() - t)
        cpu_cps = chars / (cpu() - c)
        print(f"extract n_process={n_process}      {cps:>12,.0f} chars/s  {_fmt(cpu_cps)} chars/CPU-s"
              f"  ({cps / jieba_cps:.2f}× jieba wall, {cpu_cps / jieba_cpu:.2f}× per CPU, {mentions:,} mentions)")


if __name__ == "__main__":
    main()
