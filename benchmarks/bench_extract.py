"""Extraction speed over a folder of notes, beside plain jieba segmentation of the same text.

Usage: python benchmarks/bench_extract.py [POSTS_DIR]   (default ../shared/corpus/posts from the repo)
Prints characters per second of ``Extractor.extract_many`` with n_process 1 and 2,
of ``jieba.cut`` over the same block texts, and the ratios.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

__all__ = ["main"]


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

    jieba.setLogLevel(60)
    t = time.perf_counter()
    for text in texts:
        for _ in jieba.cut(text):
            pass
    jieba_cps = chars / (time.perf_counter() - t)
    print(f"{len(notes)} notes, {chars:,} characters of prose ({len(problems)} unreadable)")
    print(f"jieba.cut                 {jieba_cps:>12,.0f} chars/s")
    for n_process in (1, 2):
        t = time.perf_counter()
        mentions = sum(len(x.mentions) for x in extractor.extract_many(notes, n_process=n_process))
        cps = chars / (time.perf_counter() - t)
        print(f"extract n_process={n_process}      {cps:>12,.0f} chars/s  ({cps / jieba_cps:.2f}× jieba, {mentions:,} mentions)")


if __name__ == "__main__":
    main()
