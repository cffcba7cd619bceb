"""Plain-text finders, usable without spaCy: sentence spans, date values, acronym definitions.

``find_sentences``, ``normalise_date`` (and the date pattern it reads the groups of) and
``find_acronyms`` ("Long Name (ABBR)"); the components ``kg_sentences``, ``kg_dates`` and
``kg_acronyms`` are built on them.
"""

from __future__ import annotations

import re

from kg.extract.chars import finditer_from

__all__ = ["find_sentences", "find_acronyms", "normalise_date", "DATE_RE", "SMALL_WORDS"]


_SENTENCE_END = re.compile(r"[。！？!?；;\n]+|(?<=[a-z0-9\)])\.(?=\s)|…{1,2}")


_SENTENCE_END_CHAR = re.compile(r"[。！？!?；;\n.…]")  # what each _SENTENCE_END alternative starts with


def find_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans of ``text`` (end punctuation included)."""
    spans, start = [], 0
    for m in finditer_from(_SENTENCE_END, text, (m.start() for m in _SENTENCE_END_CHAR.finditer(text))):
        if text[start : m.end()].strip():
            spans.append((start, m.end()))
        start = m.end()
    if text[start:].strip():
        spans.append((start, len(text)))
    return spans or [(0, len(text))]


DATE_RE = re.compile(
    r"(?<!\d)(?P<y>\d{4})\s*年\s*(?:(?P<m>\d{1,2})\s*月\s*(?:(?P<d>\d{1,2})\s*[日号])?|(?P<ny>元旦))?"
    r"|(?<!\d)(?P<iy>\d{4})[-/.](?P<im>\d{1,2})[-/.](?P<id>\d{1,2})(?!\d)"
    r"|(?<![\d年])(?P<m2>\d{1,2})\s*月\s*(?P<d2>\d{1,2})\s*[日号]"
    r"|(?P<cy>[〇零一二三四五六七八九]{4})年"
)
_ZH_DIGITS = {c: str(i) for i, c in enumerate("零一二三四五六七八九")} | {"〇": "0"}


def normalise_date(match: re.Match) -> str | None:
    """ISO 8601 value of a date match (``--MM-DD`` when the year is unknown)."""
    g = match.groupdict()

    def ok(y=None, m=None, d=None) -> bool:
        return (m is None or 1 <= int(m) <= 12) and (d is None or 1 <= int(d) <= 31)

    if g["y"]:
        if g["ny"]:
            return f"{g['y']}-01-01"
        if g["d"] and ok(m=g["m"], d=g["d"]):
            return f"{g['y']}-{int(g['m']):02d}-{int(g['d']):02d}"
        if g["m"] and ok(m=g["m"]):
            return f"{g['y']}-{int(g['m']):02d}"
        return g["y"]
    if g["iy"]:
        return f"{g['iy']}-{int(g['im']):02d}-{int(g['id']):02d}" if ok(m=g["im"], d=g["id"]) else None
    if g["m2"]:
        return f"--{int(g['m2']):02d}-{int(g['d2']):02d}" if ok(m=g["m2"], d=g["d2"]) else None
    if g["cy"]:
        return "".join(_ZH_DIGITS[c] for c in g["cy"])
    return None


SMALL_WORDS = {"a", "an", "the", "and", "or", "of", "for", "to", "in", "on", "with", "by", "via", "from", "at",
                "as", "is", "are", "be", "all", "you", "them", "it", "its", "into", "over", "vs", "not", "do", "what"}


_ACRONYM_DEF = re.compile(
    r"(?P<long>(?:[A-Z][A-Za-z0-9\-]*|[a-z][a-z\-]*)(?:[ \t]+(?:[A-Z][A-Za-z0-9\-]*|of|for|and|the|with|in|on|to|a)){1,8})"
    r"[ \t]*[(（][ \t]*(?P<abbr>[A-Z][A-Za-z0-9\-]*[A-Z0-9][A-Za-z0-9\-]*)[ \t]*[)）]"
)
_ACRONYM_RUN = re.compile(r"[A-Za-z0-9\- \t]+")


def _initials_match(long: str, abbr: str) -> bool:
    letters = [c for c in abbr.upper() if c.isalpha()]
    parts = [p for p in re.split(r"[\s\-]+", long) if p]
    initials = "".join(p[0].upper() for p in parts if p.lower() not in SMALL_WORDS or p[0].isupper())
    it = iter(initials + "".join(c.upper() for c in long if c.isupper()))
    return bool(letters) and letters[0] == parts[0][0].upper() and all(c in it for c in letters[1:])


def find_acronyms(text: str) -> list[tuple[int, int, int, int]]:
    """``(long_start, long_end, abbr_start, abbr_end)`` of each "Long Name (ABBR)" in ``text``."""
    found = []
    # the long form and the spaces after it are a run of Latin letters, digits, dashes and spaces that
    # ends at the bracket: a definition starts inside such a run
    starts = (p for m in _ACRONYM_RUN.finditer(text) if text.startswith(("(", "（"), m.end()) for p in range(m.start(), m.end()))
    for m in finditer_from(_ACRONYM_DEF, text, starts):
        long, abbr = m.group("long"), m.group("abbr")
        words = long.split()
        # trim leading words until the initials line up with the abbreviation
        offset = m.start("long")
        while words and not _initials_match(" ".join(words), abbr):
            offset = text.index(words[1], offset + len(words[0])) if len(words) > 1 else offset
            words = words[1:]
        if len(words) < 2:
            continue
        long_start = offset
        long_end = m.end("long")
        found.append((long_start, long_end, m.start("abbr"), m.end("abbr")))
    return found
