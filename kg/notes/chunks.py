"""Where a long note's Markdown may be cut into pieces that markdown-it reads one at a time.

markdown-it holds a token per block for the whole text it parses: a list of half a million items is millions of
tokens at once.  A note of more than ``CHUNK_LINES`` lines is therefore parsed piece by piece, cut only where a cut
changes nothing kg reads: before a line at the left margin that follows a blank line (every open block has ended
there), or between two items of a top-level bullet list outside a table.  A note with a fence or raw HTML at the
start of a line (blocks that run across blank lines, and that may or may not be open, depending on what is
around them) is not cut at all.
"""

from __future__ import annotations

import re

__all__ = ["CHUNK_LINES", "chunk_starts"]

#: a note with more lines than this is parsed in pieces of about this many lines
CHUNK_LINES = 20_000

_UNCUTTABLE_RE = re.compile(r"^ {0,3}(?:<|```|~~~)", re.MULTILINE)
_BULLET_RE = re.compile(r"^([-*+])[ \t]+\S")


def chunk_starts(lines: list[str], size: int = CHUNK_LINES) -> list[int]:
    """The indices of the lines where pieces of at least ``size`` lines start (the first is 0).

    >>> chunk_starts(["- a", "- b", "- c", "- d"], 2)
    [0, 2]
    >>> chunk_starts(["para", "2. not a list", "", "  indented", "", "next"], 1)
    [0, 5]
    >>> chunk_starts(["| a |", "|---|", "- a", "- b", "", "c"], 1)
    [0, 5]
    >>> chunk_starts(["a", "", "```", "", "b", "```"], 1)
    [0]
    """
    if any(_UNCUTTABLE_RE.match(line) for line in lines):
        return [0]
    starts = [0]
    in_table = False  # a line with a pipe since the last blank line: what follows may be its rows
    for i, line in enumerate(lines):
        blank = not line.strip()
        if (i - starts[-1] >= size and i > 0 and line[:1] not in ("", " ", "\t")
                and (not lines[i - 1].strip() or not in_table and _siblings(lines[i - 1], line))):
            starts.append(i)
        in_table = False if blank else in_table or "|" in line
    return starts


def _siblings(previous: str, line: str) -> bool:
    a, b = _BULLET_RE.match(previous), _BULLET_RE.match(line)
    return bool(a and b and a.group(1) == b.group(1))
