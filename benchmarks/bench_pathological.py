"""Big and repetitive notes: build time and peak memory as the note doubles.

    python benchmarks/bench_pathological.py [--base CHARS] [--steps 4] [--case NAME ...] [--big]

Each case is one generated note at 1×, 2×, 4×, 8× the base size (default 100,000 characters), built
cold (``kg build``, extraction and links) in a process of its own; the table gives seconds, CPU seconds and
peak resident memory (the build process and its workers, from ``os.wait4``), and the ratio of CPU time and of
memory to the size before (CPU time, not wall time: on a shared machine wall time measures the neighbours).
Targets: time ratio ≤ 2.3 per doubling; ``--big`` also builds each case at 16 MiB (the size limit of a
note) and checks peak memory ≤ 1 GB.  Not part of the test suite.

Cases: ``long_line`` (one line of prose without punctuation, full of names), ``repeated_name`` (one
name a sentence, hundreds of thousands of times), ``chat_log`` (one paragraph of many short lines, as an
exported chat reads), ``table`` (a Markdown table of many rows), ``links``
(a reference list: URL lines, each followed by a title), ``deep_list`` (a list nested 200 levels, then
more items).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kg.notes import MAX_NOTE_BYTES

__all__ = ["CASES", "make_note", "main"]

_SENTENCE = "日本的东京和大阪，美国的纽约，普京与泽连斯基，GitHub和SQLite"


def _long_line(n: int) -> str:
    return "# 长\n\n" + (_SENTENCE * (n // len(_SENTENCE) + 1))[:n] + "\n"


def _repeated_name(n: int) -> str:
    return "# 重复\n\n" + "日本。" * (n // 3) + "\n"


def _chat_log(n: int) -> str:
    line = "张三：明天去东京吗？\n"
    return "# 聊天\n\n" + line * (n // len(line)) + "\n"


def _table(n: int) -> str:
    row = "| 日本 | 东京 | 1868 | 明治维新 |\n"
    return "# 表\n\n| 国 | 城 | 年 | 事 |\n|---|---|---|---|\n" + row * (n // len(row)) + "\n参见上表：日本。\n"


def _links(n: int) -> str:
    item = "https://example.com/{i}\n\n东京大学的{i}号报告\n\n"
    out, size, i = ["# 链接\n\n"], 0, 0
    while size < n:
        s = item.format(i=i)
        out.append(s)
        size += len(s)
        i += 1
    return "".join(out)


def _deep_list(n: int) -> str:
    lines = [("  " * k) + f"- 第{k}层：日本与中国\n" for k in range(200)]
    head = "".join(lines)
    body = "- 美国的纽约和华盛顿\n" * max(0, (n - len(head)) // 12)
    return "# 深\n\n" + head + body


CASES = {"long_line": _long_line, "repeated_name": _repeated_name, "chat_log": _chat_log, "table": _table,
         "links": _links, "deep_list": _deep_list}


def make_note(case: str, chars: int) -> str:
    """The note of ``case`` with about ``chars`` characters."""
    return CASES[case](chars)


def note_of_bytes(case: str, limit: int) -> str:
    """The note of ``case`` as large as fits in ``limit`` bytes of UTF-8 (a note's size limit is in bytes)."""
    sample = make_note(case, 10_000)
    chars = int(limit * len(sample) / len(sample.encode("utf-8"))) - 1_000
    note = make_note(case, chars)
    while len(note.encode("utf-8")) > limit:
        chars = int(chars * 0.99)
        note = make_note(case, chars)
    return note


def _build(note: str, workdir: Path) -> tuple[float, float, float, str]:
    notes = workdir / "notes"
    notes.mkdir()
    (notes / "a.md").write_text(note, encoding="utf-8")
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", "from kg.cli import main; main()", "build", str(notes),
                             "--store", str(workdir / "s")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t
    out = (proc.stdout.read() if proc.stdout else "") + (proc.stderr.read() if proc.stderr else "")
    cpu = usage.ru_utime + usage.ru_stime  # the build's own work: what a busy machine does not inflate much
    return seconds, cpu, usage.ru_maxrss / 1024, f"exit {os.waitstatus_to_exitcode(status)}: {out.strip()[-200:]}"


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", type=int, default=100_000)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--case", action="append", choices=sorted(CASES))
    ap.add_argument("--big", action="store_true", help="also build each case at 16 MiB and check ≤ 1 GB")
    args = ap.parse_args(argv)
    results: dict = {}
    print(f"{'case':<15}{'chars':>11}{'seconds':>10}{'cpu s':>8}{'×cpu':>6}{'peak MB':>9}{'×mem':>7}  build")
    for case in args.case or list(CASES):
        rows = []
        sizes = [args.base * 2**k for k in range(args.steps)] + ([None] if args.big else [])
        for chars in sizes:  # None: as large as a note may be (MAX_NOTE_BYTES)
            with tempfile.TemporaryDirectory() as tmp:
                note = make_note(case, chars) if chars is not None else note_of_bytes(case, MAX_NOTE_BYTES)
                seconds, cpu, mb, said = _build(note, Path(tmp))
            prev = rows[-1] if rows and chars is not None and chars == rows[-1]["asked"] * 2 else None
            rows.append({"asked": chars, "chars": len(note), "seconds": round(seconds, 2), "cpu": round(cpu, 2),
                         "peak_mb": round(mb),
                         "build": said})
            tr = f"{cpu / prev['cpu']:.2f}" if prev else "–"
            mr = f"{mb / prev['peak_mb']:.2f}" if prev else "–"
            print(f"{case:<15}{len(note):>11,}{seconds:>10.2f}{cpu:>8.1f}{tr:>6}{mb:>9.0f}{mr:>7}  {said.splitlines()[0][:50]}")
        results[case] = rows
    worst = max((b["cpu"] / a["cpu"] for rows in results.values() for a, b in zip(rows, rows[1:])
                 if b["asked"] is not None and b["asked"] == 2 * a["asked"]), default=0)
    failed = [f"{case} at {r['chars']:,} characters: {r['build']}" for case, rows in results.items() for r in rows
              if not r["build"].startswith("exit 0")]
    for line in failed:  # a build that did not build measures nothing
        print(f"FAILED {line}")
    print(f"worst CPU-time ratio per doubling: {worst:.2f} (target ≤ 2.3)")
    if args.big:
        peak = max(r[-1]["peak_mb"] for r in results.values())
        print(f"largest peak at 16 MiB: {peak:.0f} MB (target ≤ 1024)")
    return results


if __name__ == "__main__":
    main()
