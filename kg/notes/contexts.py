"""A reference's context: the prose a source's URL belongs to (the blocks before a URL line, the paragraph
a link stands in), with everything but prose blanked."""

from __future__ import annotations

from bisect import bisect_right

from kg.model import Block, Reference

__all__ = ["CONTEXT_MAX_CHARS", "PROSE", "context_text", "with_contexts"]

PROSE = frozenset({"paragraph", "list_item", "quote"})
#: a reference's context is at most this long (the blocks nearest its URL are kept)
CONTEXT_MAX_CHARS = 1500


def with_contexts(text: str, refs: list[Reference], blocks: tuple[Block, ...]) -> tuple[Reference, ...]:
    """The references with the prose each belongs to (``context_start``, ``context_end``, ``context``).

    A URL line's context is the run of prose blocks just before it in the same snippet, back to a heading
    or another reference's title line (at most :data:`CONTEXT_MAX_CHARS`, the nearest blocks first); a link
    in running text (``[text](url)``, a bare URL) has the paragraph or list item it stands in.
    """
    starts = [b.start for b in blocks]
    out = []
    for r in refs:
        span = None
        i = bisect_right(starts, r.start) - 1  # the last block starting at or before the URL
        if r.kind != "listed":
            if i >= 0 and blocks[i].start <= r.start < blocks[i].end and blocks[i].kind in PROSE:
                span = (blocks[i].start, blocks[i].end)
        else:
            first = last = None
            while i >= 0:
                b = blocks[i]
                if b.end > r.start:  # (a block the URL line stands in is no block before it)
                    i -= 1
                    continue
                if b.kind not in PROSE or b.snippet != r.snippet or b.section != r.section:
                    break
                if last is not None and last.end - b.start > CONTEXT_MAX_CHARS:
                    break
                first, last = b, last or b
                i -= 1
            if first is not None and last is not None:
                span = (max(first.start, last.end - CONTEXT_MAX_CHARS), last.end)
        if span is not None:
            context = context_text(text, blocks, *span)
            if context.strip():
                r = Reference(r.index, r.url, r.title, r.kind, r.start, r.end, r.title_start, r.title_end,
                              r.section, r.snippet, r.line, span[0], span[1], context)
        out.append(r)
    return tuple(out)


def context_text(text: str, blocks: tuple[Block, ...], a: int, b: int) -> str:
    """``text[a:b]`` with everything but the prose of ``blocks`` blanked (newlines kept)."""
    chars = [c if c == "\n" else " " for c in text[a:b]]
    for blk in blocks:
        if blk.end <= a or blk.start >= b or blk.kind not in PROSE:
            continue
        lo, hi = max(a, blk.start), min(b, blk.end)
        chars[lo - a:hi - a] = blk.text[lo - blk.start:hi - blk.start]
    return "".join(chars)


