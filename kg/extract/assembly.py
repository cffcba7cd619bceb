"""How a note's findings become its mentions: the pieces a long note is read in, the evidence window
around a mention, a person's boundary settled by the note's other mentions, short forms of a person's
name, and one mention per sentence for a name the note repeats very often.  No spaCy.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import replace
from typing import Any

from kg.extract.chars import is_cjk
from kg.extract.resources import shared_resources
from kg.model import Mention

__all__ = ["Found", "PIECE", "SENTENCE_WINDOW", "MENTIONS_PER_ENTITY", "text_pieces", "evidence_window", "collapse_mentions",
           "trim_to_known", "short_forms", "COMPANY_ENDINGS", "company_short_forms"]

class Found:
    """A mention as found, before it is a :class:`kg.model.Mention`: its span, type, method and priority, its
    block, its evidence window (note offsets) and how many occurrences it stands for.  (Slots, not a dict:
    a long note has one per few characters.)"""

    __slots__ = ("start", "end", "type", "method", "prio", "block", "sent_start", "sent_end", "count")

    def __init__(self, start: int, end: int, type: str, method: str, prio: int, block: Any, sent_start: int,
                 sent_end: int, count: int = 1):
        self.start, self.end, self.type, self.method, self.prio = start, end, type, method, prio
        self.block, self.sent_start, self.sent_end, self.count = block, sent_start, sent_end, count

    def but(self, **changes: Any) -> "Found":
        """A copy with ``changes``."""
        values = {k: getattr(self, k) for k in self.__slots__}
        values.update(changes)
        return Found(**values)


#: a note's text longer than this is read in pieces of about this many characters
PIECE = 50_000


def text_pieces(text: str) -> list[tuple[int, int]]:
    r"""``(start, end)`` of pieces of ``text`` of at most ``PIECE`` characters, cut after a line break
    where there is one in the second half of a piece, else after a sentence's end, else anywhere.

    >>> text_pieces("a" * 10), [b - a for a, b in text_pieces(("x" * 40_000 + "\n") * 3)]
    ([(0, 10)], [40001, 40001, 40001])
    """
    out, a, n = [], 0, len(text)
    while n - a > PIECE:
        lo, hi = a + PIECE // 2, a + PIECE
        cut = text.rfind("\n", lo, hi)
        if cut < 0:
            cut = max(text.rfind(p, lo, hi) for p in "。！？；.!?;")
        cut = hi if cut < 0 else cut + 1
        out.append((a, cut))
        a = cut
    out.append((a, n))
    return out


#: the longest evidence kept for a mention: a longer sentence is cut to this many characters around it
SENTENCE_WINDOW = 400
#: a note naming one entity more often than this keeps one mention of it per distinct sentence
MENTIONS_PER_ENTITY = 50


def evidence_window(sentence: tuple[int, int], s: int, e: int) -> tuple[int, int]:
    """The sentence around a mention ``[s, e)``, cut to at most ``SENTENCE_WINDOW`` characters
    (centred on the mention) when it is longer: a line without punctuation is not one piece of evidence.

    >>> evidence_window((0, 50), 10, 12), evidence_window((0, 10_000), 5_000, 5_002)
    ((0, 50), (4801, 5201))
    """
    a, b = sentence
    if b - a <= SENTENCE_WINDOW:
        return sentence
    half = (SENTENCE_WINDOW - (e - s)) // 2
    start = max(a, min(s - half, b - SENTENCE_WINDOW))
    return start, min(b, start + SENTENCE_WINDOW)


def collapse_mentions(text: str, mentions: list[Mention]) -> list[Mention]:
    """Where a note names one entity more than ``MENTIONS_PER_ENTITY`` times, one mention per distinct
    sentence stands for all the mentions of it there (its ``count``): every distinct piece of evidence
    is kept, and what a note costs follows what it says, not how often it repeats it."""
    per_key = Counter(m.key for m in mentions)
    if not per_key or max(per_key.values()) <= MENTIONS_PER_ENTITY:
        return mentions
    kept: dict[tuple[str, str], int] = {}
    counts: list[int] = []
    out: list[Mention] = []
    for m in mentions:
        if per_key[m.key] <= MENTIONS_PER_ENTITY:
            out.append(m)
            counts.append(m.count)
            continue
        where = (m.key, text[m.sentence_start : m.sentence_end])
        k = kept.get(where)
        if k is None:
            kept[where] = len(out)
            out.append(m)
            counts.append(m.count)
        else:
            counts[k] += m.count
    return [m if c == m.count else replace(m, count=c) for m, c in zip(out, counts)]


def trim_to_known(text: str, found: list[Found]) -> list[Found]:
    """A person the tagger found that is another person it found in the note plus one Han character
    on either side is cut to that name (桓温之, 但桓温 → 桓温): where the model's boundary wavers, the
    note's other mentions decide.  A character that ends place or organisation names is never cut."""
    res = shared_resources()
    known = {(text[f.start : f.end], f.type) for f in found if f.method == "tagger"}
    keep_end = res.suffix_ends
    out = []
    for f in found:
        s, e = f.start, f.end
        if f.method == "tagger" and f.type == "Person" and e - s >= 3 and is_cjk(text[s]) and is_cjk(text[e - 1]):
            for a, b in ((s + 1, e), (s, e - 1), (s + 1, e - 1)):
                if b - a >= 2 and (text[a:b], f.type) in known and not (b < e and text[e - 1] in keep_end):
                    f = f.but(start=a, end=b)
                    break
        out.append(f)
    return out


_NAME_PARTS = re.compile(r"[·•・‧ ]")


def short_forms(people: set[str]) -> dict[str, str]:
    """Names of people that the note also writes in full, as a family name after a given name
    (乔布斯 and 史蒂夫·乔布斯, Jobs and Steve Jobs): the short form → the full name, where exactly one
    full name ends with it.

    >>> short_forms({"乔布斯", "史蒂夫·乔布斯", "Dean", "Jeff Dean", "Howard Dean", "张"})
    {'乔布斯': '史蒂夫·乔布斯'}
    """
    full: dict[str, list[str]] = defaultdict(list)
    for name in people:
        parts = _NAME_PARTS.split(name)
        if len(parts) > 1 and len(parts[-1]) >= 2:
            full[parts[-1]].append(name)
    return {short: names[0] for short, names in full.items() if short in people and len(names) == 1}


#: the endings of a company's full name that a note may leave off (苹果公司 → 苹果), longest first
COMPANY_ENDINGS = ("股份有限公司", "有限公司", "公司", "集团")


def company_short_forms(organisations: set[str], not_names: frozenset[str] = frozenset()) -> dict[str, str]:
    """Companies the note names in full with a company ending: the name without it → the full name, where
    it has at least two characters and is not one of ``not_names`` (everyday words, places).

    >>> company_short_forms({"苹果公司", "瓦格纳集团", "上海公司", "A公司", "百事"}, frozenset({"上海"}))
    {'瓦格纳': '瓦格纳集团', '苹果': '苹果公司'}
    """
    out: dict[str, str] = {}
    for name in sorted(organisations):
        end = next((e for e in COMPANY_ENDINGS if name.endswith(e)), None)
        if end is None:
            continue
        stem = name[: -len(end)].strip()
        if len(stem) >= 2 and stem not in not_names and stem not in organisations:
            out.setdefault(stem, name)
    return dict(sorted(out.items()))
