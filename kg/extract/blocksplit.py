"""A note's findings per block: what the pipeline found on the note's blocks joined by line breaks, split back
into each block's mentions, sentences, dates and acronyms, with block-local offsets (:func:`split_by_block`)."""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterator

from kg.extract.rows import Rows, RowsView
from kg.model import Note

__all__ = ["BlockSplit", "split_by_block"]


class BlockSplit:
    """A note's findings per block (block-local offsets), as ``blocks[k]["mentions"]`` etc. read them: each
    block's mentions and sentences are a stretch of one :class:`Rows` for the note, so that a note of many
    small blocks keeps no containers per block.  ``blocks[k]`` is made when asked for."""

    def __init__(self, count: int):
        self.count = count
        self.mentions, self.sentences = Rows(), Rows()
        self.mention_at = array("q", [0]) * (count + 1)  # block k's mentions are mentions[mention_at[k]:mention_at[k + 1]]
        self.sentence_at = array("q", [0]) * (count + 1)
        self.dates: dict[int, list] = {}
        self.acronyms: dict[int, list] = {}

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, k: int) -> dict:
        if not 0 <= k < self.count:
            raise IndexError(k)
        return {"mentions": RowsView(self.mentions, self.mention_at[k], self.mention_at[k + 1]),
                "sentences": RowsView(self.sentences, self.sentence_at[k], self.sentence_at[k + 1]),
                "dates": self.dates.get(k, ()), "acronyms": self.acronyms.get(k, ())}

    def __iter__(self) -> Iterator[dict]:
        return (self[k] for k in range(self.count))


def _grouped(rows: Rows, block_of: array, shifts: list[int] | None, at: array) -> Rows:
    """The rows of ``rows`` that ``block_of`` puts in a block (-1: none), block by block (in their order within a
    block), each moved by its block's shift (``shifts``; None: none); ``at`` is told where each block's rows
    start.  Rows already in block order (the usual case) are not sorted, and without shifts not copied."""
    last, ordered = -1, True
    for k in block_of:
        if k >= 0:
            if k < last:
                ordered = False
                break
            last = k
    if ordered and shifts is None and -1 not in block_of:
        out = rows
        for i, k in enumerate(block_of):
            at[k + 1] = i + 1
    else:
        out = Rows()
        order = range(len(block_of)) if ordered else sorted(range(len(block_of)), key=block_of.__getitem__)
        for i in order:  # (a sort is stable: a block's rows keep their order)
            k = block_of[i]
            if k >= 0:
                out.append_row(rows, i, shifts[k] if shifts is not None else 0)
                at[k + 1] = len(out)
    for k in range(1, len(at)):  # a block without rows starts where the one before ends
        at[k] = max(at[k], at[k - 1])
    return out


def split_by_block(note: Note, data: dict) -> BlockSplit:
    """Per-block findings (block-local offsets) from the findings on the joined text."""
    starts, offset = [], 0
    for block in note.blocks:
        starts.append(offset)
        offset += len(block.text) + 1
    out = BlockSplit(len(note.blocks))
    if not note.blocks:
        return out

    def where(s: int, e: int) -> int | None:
        i = bisect_right(starts, s) - 1
        if i < 0:
            return None
        return i if e <= starts[i] + len(note.blocks[i].text) else None

    mentions = data.get("kg_mentions", [])
    mentions = mentions if isinstance(mentions, Rows) else Rows(mentions)
    block_of = array("q", [-1]) * len(mentions)
    for j, (s, e) in enumerate(zip(mentions.starts, mentions.ends)):
        i = where(s, e)
        if i is not None:
            block_of[j] = i
    out.mentions = _grouped(mentions, block_of, [-a for a in starts] if len(starts) > 1 else None, out.mention_at)
    for s, e, *rest in data.get("kg_dates", []):
        i = where(s, e)
        if i is not None:
            out.dates.setdefault(i, []).append((s - starts[i], e - starts[i], *rest))
    for ls, le, s, e in data.get("kg_acronyms", []):
        i = where(ls, e)
        if i is not None:
            a = starts[i]
            out.acronyms.setdefault(i, []).append((ls - a, le - a, s - a, e - a))
    pieces, block_of = Rows(), array("q")  # a sentence's piece in each block it spans, and that block
    for s, e in data.get("kg_sentences", []):
        i = max(0, bisect_right(starts, s) - 1)
        while i < len(starts) and starts[i] < e:
            a, b = starts[i], starts[i] + len(note.blocks[i].text)
            if s < b and e > a:
                block_of.append(i)
                pieces.append(max(s, a) - a, min(e, b) - a)
            i += 1
    out.sentences = _grouped(pieces, block_of, None, out.sentence_at)
    return out
