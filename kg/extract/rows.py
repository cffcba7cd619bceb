"""Compact rows of spans, for the findings of a long note.

A note of millions of characters has a finding per mention and per sentence; kept as tuples each costs
~120 bytes, so a 16 MiB note's findings alone would take gigabytes.  ``Rows`` keeps ``(start, end, *rest)``
as two integer arrays and an index into the distinct rests (a mention's type, method and priority: a
handful of distinct values), ~20 bytes a row, and gives the tuples back as it is iterated.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator

__all__ = ["Rows", "RowsView", "span_at"]


class Rows:
    """``(start, end, *rest)`` rows in the order appended.

    >>> rows = Rows()
    >>> rows.append(0, 2, ("Person", "rule", 80)); rows.append(5, 9, ("Person", "rule", 80))
    >>> list(rows), len(rows), rows.starts.tolist()
    ([(0, 2, 'Person', 'rule', 80), (5, 9, 'Person', 'rule', 80)], 2, [0, 5])
    """

    __slots__ = ("_index", "_kinds", "_rest", "ends", "starts")

    def __init__(self, rows: Iterable[tuple] = ()):
        self.starts = array("q")
        self.ends = array("q")
        self._rest = array("l")
        self._kinds: list[tuple] = []
        self._index: dict[tuple, int] = {}
        for start, end, *rest in rows:
            self.append(start, end, tuple(rest))

    def append(self, start: int, end: int, rest: tuple = ()) -> None:
        k = self._index.get(rest)
        if k is None:
            k = self._index[rest] = len(self._kinds)
            self._kinds.append(rest)
        self.starts.append(start)
        self.ends.append(end)
        self._rest.append(k)

    def __len__(self) -> int:
        return len(self.starts)

    def __iter__(self) -> Iterator[tuple]:
        kinds = self._kinds
        for s, e, k in zip(self.starts, self.ends, self._rest):
            yield (s, e, *kinds[k])

    def row(self, i: int) -> tuple:
        """The ``i``-th row."""
        return (self.starts[i], self.ends[i], *self._kinds[self._rest[i]])

    def append_row(self, other: "Rows", i: int, shift: int = 0) -> None:
        """Append row ``i`` of ``other``, its span moved by ``shift``."""
        self.append(other.starts[i] + shift, other.ends[i] + shift, other._kinds[other._rest[i]])


class RowsView:
    """Rows ``lo`` to ``hi`` of a :class:`Rows` (a block's share of a note's findings), iterated as rows are.

    >>> rows = Rows([(0, 2, "a"), (5, 9, "b"), (1, 3, "c")])
    >>> list(RowsView(rows, 1, 3)), len(RowsView(rows, 1, 3))
    ([(5, 9, 'b'), (1, 3, 'c')], 2)
    """

    __slots__ = ("hi", "lo", "rows")

    def __init__(self, rows: Rows, lo: int, hi: int):
        self.rows, self.lo, self.hi = rows, lo, hi

    def __len__(self) -> int:
        return self.hi - self.lo

    def __iter__(self) -> Iterator[tuple]:
        row = self.rows.row
        for i in range(self.lo, self.hi):
            yield row(i)


def span_at(rows: Rows | RowsView, s: int, length: int) -> tuple[int, int]:
    """The row's span ``(a, b)`` with ``a <= s < b`` among rows sorted by start (a note's sentences), else
    ``(0, length)``.

    >>> sentences = Rows([(0, 3), (3, 8)])
    >>> span_at(sentences, 4, 20), span_at(sentences, 9, 20), span_at(RowsView(sentences, 1, 2), 1, 20)
    ((3, 8), (0, 20), (0, 20))
    """
    lo, hi = (rows.lo, rows.hi) if isinstance(rows, RowsView) else (0, len(rows))
    rows = rows.rows if isinstance(rows, RowsView) else rows
    i = bisect_right(rows.starts, s, lo, hi) - 1
    if i >= lo and rows.starts[i] <= s < rows.ends[i]:
        return (rows.starts[i], rows.ends[i])
    return (0, length)
