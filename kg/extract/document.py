"""What the components share: the ``PlainDoc`` they read, candidates, tokens and word boundaries.  No spaCy.

``PlainDoc`` holds a text and its ``user_data`` (tokens made by ``segment``); ``add_candidate`` records a
candidate (start, end, type, method, priority); the token helpers derive what is made once per
text (token starts, token classes, Latin words, runs) and remember per word what is looked up
per word (token classes, suffix types: ``clear_caches`` empties them); the boundary helpers
tell whether a name may start or end at a position (dictionary words, role words, punctuation).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from typing import Any

from kg.extract.chars import (
    ALNUM_DASH_RUN, CJK_CHARS, CJK_CONTENT, LATIN_WORD, NAME_TAGS, WORD_CHAR_RUN, ends_with_any,
    finditer_from, run_starts,
)
from kg.extract.resources import Resources, shared_resources

__all__ = [
    "CANDIDATES", "LEXICON_TYPES", "T_NEW", "T_LEXICON", "T_SUFFIX", "T_RULER_HEAD", "T_RULER", "PlainDoc", "add_candidate",
    "doc_text", "doc_tokens", "token_starts", "token_groups", "alnum_runs", "latin_words", "starts_token", "ends_token",
    "common_word_at", "is_terminator", "inside_word", "places_at", "left_boundary", "left_ok", "suffix_type",
    "clear_caches", "segment",
]


CANDIDATES = "kg_candidates"  # user_data key: list of (start, end, type, method, priority)


def common_word_at(text: str, i: int, res: Resources, min_freq: int = 30) -> int:
    """Length of the longest common dictionary word (≥2 chars) starting at ``i``, or 0.

    jieba's dictionary holds every prefix of its words (frequency 0 when no word), so when the
    two characters at ``i`` are not in it, no longer word starts there either."""
    freq = res.freq
    w2 = text[i : i + 2]
    f2 = freq.get(w2)
    if f2 is None or len(w2) != 2:
        return 0
    w3 = text[i : i + 3]
    f3 = freq.get(w3)
    if f3 is not None and len(w3) == 3:
        w4 = text[i : i + 4]
        if len(w4) == 4 and freq.get(w4, 0) >= min_freq:
            return 4
        if f3 >= min_freq:
            return 3
    return 2 if f2 >= min_freq else 0


def is_terminator(text: str, e: int, res: Resources) -> bool:
    """Whether a name may end just before ``text[e]``: the end, punctuation, space, anything not
    CJK, a function character, a role word or a common word."""
    if e >= len(text):
        return True
    ch = text[e]
    if ch not in CJK_CONTENT:
        return True
    if res.role_re.match(text, e) or (ch in "副总前原代正" and res.role_re.match(text, e + 1)):
        return True
    return common_word_at(text, e, res) > 0


def inside_word(text: str, i: int, res: Resources, min_freq: int = 20) -> bool:
    """Whether a common dictionary word runs across the boundary before ``text[i]`` (a string not
    in jieba's dictionary is no prefix of a word either, so longer ones are not looked up)."""
    freq, tags, roles = res.freq, res.tags, res.roles
    for a in range(max(0, i - 3), i):
        for b in range(i + 1, min(len(text), a + 4) + 1):
            w = text[a:b]
            f = freq.get(w)
            if f is None:
                break
            if f >= min_freq and tags.get(w) not in NAME_TAGS and w not in roles:
                return True
    return False


def places_at(text: str, i: int, res: Resources) -> list[str]:
    m = res.place_re.match(text, i)
    return [m.group(0)] if m else []


def left_boundary(text: str, i: int, res: Resources) -> bool:
    """Whether ``text[i]`` starts a word: after punctuation, a function character, a role or a common word."""
    if i == 0 or text[i - 1] not in CJK_CONTENT:
        return True
    if ends_with_any(text, i, res.roles, res.role_lens):
        return True
    return any(res.freq.get(text[a:i], 0) >= 20 for a in range(max(0, i - 4), i - 1))


def left_ok(text: str, s: int, res: Resources) -> bool:
    """Whether a name may start at ``s`` (no letters glued to its left)."""
    if s == 0:
        return True
    ch = text[s - 1]
    return not (ch.isascii() and ch.isalnum())


def add_candidate(doc, start: int, end: int, type_: str, method: str, priority: int) -> None:
    if end > start:
        doc.user_data.setdefault(CANDIDATES, []).append((start, end, type_, method, priority))


def doc_tokens(doc) -> list[tuple[int, int, str]]:
    toks = doc.user_data.get("kg_tokens")
    if toks is None:
        toks = doc.user_data["kg_tokens"] = [(t.idx, t.idx + len(t.text), t.text) for t in doc if not t.is_space]
    return toks


def alnum_runs(doc) -> list[int]:
    """Where the runs of Latin letters, digits and dashes start, made once per text."""
    starts = doc.user_data.get("kg_alnum_runs")
    if starts is None:
        starts = doc.user_data["kg_alnum_runs"] = run_starts(ALNUM_DASH_RUN, doc_text(doc))
    return starts


def latin_words(doc) -> list[re.Match]:
    """The LATIN_WORD matches of the text, made once per text (a match follows no word character,
    so it starts a run of them)."""
    words = doc.user_data.get("kg_latin_words")
    if words is None:
        text = doc_text(doc)
        words = doc.user_data["kg_latin_words"] = list(finditer_from(LATIN_WORD, text, run_starts(WORD_CHAR_RUN, text)))
    return words


def token_starts(doc) -> list[int]:
    """Where the tokens start (ascending: tokens follow one another without overlapping), made once per text."""
    starts = doc.user_data.get("kg_token_starts")
    if starts is None:
        starts = doc.user_data["kg_token_starts"] = [t[0] for t in doc_tokens(doc)]
    return starts


def starts_token(starts: list[int], p: int) -> bool:
    """Whether a token starts at ``p``."""
    k = bisect_left(starts, p)
    return k < len(starts) and starts[k] == p


def ends_token(toks: list[tuple[int, int, str]], starts: list[int], p: int) -> bool:
    """Whether a token ends at ``p``: the token holding ``p - 1``, if any, is the only one that can."""
    k = bisect_right(starts, p - 1) - 1
    return k >= 0 and toks[k][1] == p


#: token classes (bits) the components look for; a token's are remembered per word (_token_class)
T_NEW, T_LEXICON, T_SUFFIX, T_RULER_HEAD, T_RULER = 1, 2, 4, 8, 16


def _token_class(word: str, res: "Resources") -> int:
    """The classes of a token: a two- or three-character CJK word jieba's dictionary does not hold
    (made up by its HMM), a CJK word of two characters or more with a lexicon tag (nr, ns, nt...)
    and no stopword, a word ending in an event, organisation or place word (suffix_type), a
    proper prefix of a ruler's name, a ruler's name."""
    found = 0
    if not res.freq.get(word) and 2 <= len(word) <= 3 and CJK_CHARS.issuperset(word):
        found |= T_NEW
    if res.tags.get(word) in LEXICON_TYPES and len(word) >= 2 and word not in res.stopwords and CJK_CHARS.issuperset(word):
        found |= T_LEXICON
    if word[-1:] in res.suffix_ends and suffix_type(word, res):
        found |= T_SUFFIX
    if word in res.ruler_heads:
        found |= T_RULER_HEAD
    if word in res.rulers:
        found |= T_RULER
    return found


def token_groups(doc) -> dict[int, list[int]]:
    """Per token class, the indices of the text's tokens of that class (made once per text; the
    class of a word is looked up in the dictionaries once per process, not once per token)."""
    groups = doc.user_data.get("kg_token_groups")
    if groups is None:
        res = shared_resources()
        memo = res.token_classes
        if len(memo) > 2_000_000:
            memo.clear()
        classes = []
        for t in doc_tokens(doc):
            c = memo.get(t[2])
            if c is None:
                c = memo[t[2]] = _token_class(t[2], res)
            classes.append(c)
        groups = doc.user_data["kg_token_groups"] = {bit: [] for bit in (T_NEW, T_LEXICON, T_SUFFIX, T_RULER_HEAD, T_RULER)}
        for i, c in enumerate(classes):
            if c:
                for bit, members in groups.items():
                    if c & bit:
                        members.append(i)
    return groups


def clear_caches() -> None:
    """Forget what the extraction remembers per word as it reads (token classes, suffix lookups,
    the segmenter's per-character tables and HMM results): outputs do not change, only the time the
    next texts take; benchmarks call it to measure a cold pass."""
    res = shared_resources()
    res.token_classes.clear()
    _SUFFIX_CACHE.clear()
    seg = res.segmenter
    seg.hmm_cache.clear()
    seg.chars.clear()
    seg.emission.clear()


def segment(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, word)`` of the non-space words of ``text``: one jieba segmentation (HMM on),
    the same words spaCy's ``zh`` tokenizer with the jieba segmenter makes."""
    return shared_resources().segmenter(text)


class PlainDoc:
    """What the components read of a spaCy ``Doc``: ``text`` and ``user_data`` (tokens precomputed; the
    whole text of the note, code included, under ``kg_note_text`` where known)."""

    __slots__ = ("text", "user_data")

    def __init__(self, text: str, note_text: str | None = None):
        self.text = text
        self.user_data: dict[str, Any] = {"kg_text": text, "kg_tokens": segment(text)}
        if note_text is not None:
            self.user_data["kg_note_text"] = note_text


def doc_text(doc) -> str:
    text = doc.user_data.get("kg_text")
    if text is None:
        text = doc.user_data["kg_text"] = doc.text
    return text


_SUFFIX_CACHE: dict[str, tuple[str, str] | None] = {}


def suffix_type(tok: str, res: Resources) -> tuple[str, str] | None:
    """(type, suffix) when a token ends with an event, organisation or place word."""
    try:
        return _SUFFIX_CACHE[tok]
    except KeyError:
        found = _SUFFIX_CACHE[tok] = _suffix_type_uncached(tok, res)
        return found


def _suffix_type_uncached(tok: str, res: Resources) -> tuple[str, str] | None:
    if not tok.endswith(res.event_words) and not tok.endswith(res.org_suffixes) and not tok.endswith(res.place_suffixes) and not tok.endswith("党员"):
        return None
    for w in res.event_words:
        if tok.endswith(w):
            return "Event", w
    for w in res.org_suffixes:
        if tok.endswith(w):
            return "Organization", w
    if tok.endswith("党员"):
        return "Organization", "党员"
    for w in res.place_suffixes:
        if tok.endswith(w):
            return "Place", w
    return None


LEXICON_TYPES = {"nr": "Person", "nrfg": "Person", "nrt": "Person", "ns": "Place", "nt": "Organization"}
