"""Character and tag classes, and the regex helpers every component uses: no spaCy, no word lists.

The CJK ranges and the function, name and tag sets that tell where a name may start or end;
``words_pattern`` (a word list as a trie regex); ``finditer_from`` (a pattern tried only
where its matches can start) and the runs whose starts are those places; the Latin word pattern.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

__all__ = [
    "PUNCT", "FUNCTION_CHARS", "NOT_NAME_END", "NOT_NAME_CHAR", "FUNCTION_TAGS", "NAME_TAGS", "CJK_CHARS", "CJK_CONTENT",
    "CJK_NAME_CHARS", "ALNUM_DASH_RUN", "WORD_CHAR_RUN", "LATIN_WORD", "TRANSLIT_SEP", "words_pattern", "is_cjk",
    "word_lengths", "ends_with_any", "starts_with_any", "finditer_from", "run_starts",
]


_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
PUNCT = set("，。！？；：、,.!?;:（）()《》“”‘’\"'「」『』【】[]—-…·~～ \t\n\u3000/|")
#: characters that end a name when they follow it
FUNCTION_CHARS = set("的了是在和与及就也都而被把将对从向为以于或之其这那着过得地所又还很最更再已曾并但却则因如说等可连虽便即乃仍竟亦均皆给让叫")
#: characters a given name never ends with
NOT_NAME_END = set("家们氏等的了是在和与及就也都而被把将对从向为以于或之其这那着过得地所又还很最更再已曾并但却则因如说")
#: characters that never stand in a given name
NOT_NAME_CHAR = set("的了是在和与及就也都而被把将对从向为以于或之其这那着过得地所又还很最更再已曾并但却则因如说年月日时分个们一二三四五六七八九十百千万亿第后前上下中内外里多少不没有无")
FUNCTION_TAGS = {"uj", "ul", "uz", "ug", "uv", "ud", "u", "p", "c", "r", "d", "v", "vd", "vn", "q", "f", "y", "e", "o", "x", "zg", "t", "a", "ad"}
NAME_TAGS = {"nr", "nrfg", "nrt"}


def words_pattern(words: Iterable[str]) -> str:
    """A regex matching, where it is tried, the longest of ``words`` that starts there: the same
    matches as the alternation of the words longest first, written as a trie (``北(?:京|海道)?``),
    so that the regex engine follows one branch per character instead of trying every word."""
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def branch(node: dict) -> str:
        alts = [re.escape(ch) + branch(node[ch]) for ch in sorted(node) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        if "" in node:  # a word ends here: longer ones first, then this one
            return (body if len(alts) > 1 else "(?:" + body + ")") + "?"
        return body

    return branch(trie) if trie else "(?!)"


#: the characters _CJK matches, for set operations (``CJK_CHARS.issuperset(word)``: all CJK)
CJK_CHARS = frozenset(map(chr, (*range(0x3400, 0xA000), *range(0xF900, 0xFB00))))
#: CJK characters that are no function characters: what a name may run on into
CJK_CONTENT = CJK_CHARS - FUNCTION_CHARS
#: CJK characters that may stand in a given name
CJK_NAME_CHARS = CJK_CHARS - NOT_NAME_CHAR


def is_cjk(ch: str) -> bool:
    """Whether the character ``ch`` is a CJK ideograph (``_CJK``)."""
    return ch in CJK_CHARS


def word_lengths(words: Iterable[str]) -> tuple[int, ...]:
    return tuple(sorted({len(w) for w in words}, reverse=True))


def ends_with_any(text: str, i: int, words: frozenset[str], lengths: tuple[int, ...]) -> bool:
    """``any(text.endswith(w, 0, i) for w in words)``, one lookup per length."""
    return any(text[i - n : i] in words for n in lengths if n <= i)


def starts_with_any(word: str, words: frozenset[str], lengths: tuple[int, ...]) -> bool:
    """``any(word.startswith(w) for w in words)``, one lookup per length."""
    return any(word[:n] in words for n in lengths if n <= len(word))


def finditer_from(pattern: re.Pattern, text: str, starts: Iterable[int]) -> Iterator[re.Match]:
    """``pattern.finditer(text)`` for a pattern that never matches empty and whose every match
    starts at one of ``starts`` (ascending; more are fine): the same matches, tried only there.

    ``finditer`` tries each position from the end of the last match on, and a match at a position
    is the same whether ``finditer`` or ``match(text, position)`` tries it (lookbehinds see the
    text before the position too)."""
    end = 0
    for p in starts:
        if p >= end:
            m = pattern.match(text, p)
            if m:
                yield m
                end = m.end()


#: maximal runs of characters, whose starts are the only places some patterns can start
ALNUM_DASH_RUN = re.compile(r"[A-Za-z0-9\-]+")
WORD_CHAR_RUN = re.compile(r"[A-Za-z0-9\-_.]+")


def run_starts(run: re.Pattern, text: str) -> list[int]:
    return [m.start() for m in run.finditer(text)]


LATIN_WORD = re.compile(r"(?<![A-Za-z0-9\-_.])[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*(?![A-Za-z0-9_])")


TRANSLIT_SEP = "·•・‧"
