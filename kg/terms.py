"""Where a term stands in a text as a word: the matching rules ``sources(covering:)``, entity search and the
text index share.

* Latin script matches on word boundaries: the characters next to the term are no letters or digits
  (``PLE`` is not in ``RIPPLES`` nor in ``SIMPLE``), no ``_`` (identifiers), and no ``.`` leading on to a
  letter (``ple.com``).  An acronym (2-8 capitals) matches only in capitals.  A ``/`` is a boundary
  (``MMOE/ESMM/PLE`` lists three names) unless it is part of a path (``github.com/PLE``).
* Chinese matches on words: both ends of the match must be word boundaries of jieba's segmentation of
  the run of Han characters it stands in (search mode, dictionary words only), so ``华为`` is not found in
  ``中华为民`` (中华 / 为) while ``黑船`` is found in ``黑船事件`` and ``赫鲁晓夫`` in ``赫鲁晓夫访美``.
* Nothing inside a URL: URLs are blanked before matching.

Also here: the text SQLite FTS5 tables index (:func:`fts_text`: Han characters one token each, so that
any word can be looked up as a phrase of characters and then checked by the rules above), the phrase a term
becomes (:func:`fts_phrase`), and the names a title or a name lists (:func:`listed_names`).

>>> find_term("Progressive Layered Extraction (PLE) and RIPPLES", "PLE")
[(32, 35)]
>>> find_term("A SIMPLE model, see ple.com or https://x.org/a#PLE", "PLE")
[]
>>> find_term("多目标学习(MMOE/ESMM/PLE)", "PLE"), find_term("中华为民", "华为"), find_term("黑船事件", "黑船")
([(16, 19)], [], [(0, 2)])
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = [
    "CJK",
    "blank_urls",
    "normalise_term",
    "is_acronym",
    "find_term",
    "word_spans",
    "names_term",
    "fts_text",
    "fts_phrase",
    "listed_names",
]

#: Han characters and kana (scripts written without spaces between words)
CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RE = re.compile(f"[{CJK}]")
_CJK_RUN = re.compile(f"[{CJK}]+")
_URL_RE = re.compile(r"(?:https?|ftp)://\S+|www\.\S+", re.IGNORECASE)
_SPACE_RE = re.compile(r"\s+")
_FTS_TOKEN = re.compile(r"[^\W_]+")


def blank_urls(text: str) -> str:
    """``text`` with every URL replaced by spaces (offsets are kept).

    >>> blank_urls("see https://x.org/PLE now")
    'see                   now'
    """
    return _URL_RE.sub(lambda m: " " * len(m.group(0)), text)


def normalise_term(term: str) -> str:
    """The form a typed term is matched in: NFKC, inner whitespace collapsed, trimmed.

    >>> normalise_term("  Ｊｅｆｆ   Dean ")
    'Jeff Dean'
    """
    return " ".join(unicodedata.normalize("NFKC", term).split())


def is_acronym(form: str) -> bool:
    """2-8 capitals (digits, ``&`` and ``-`` allowed): matched only in capitals.

    >>> is_acronym("PLE"), is_acronym("Rust"), is_acronym("GPT-4")
    (True, False, True)
    """
    return (2 <= len(form) <= 8 and form.upper() == form and bool(re.fullmatch(r"[A-Z0-9&\-]+", form))
            and any(c.isalpha() for c in form))


def _is_word(c: str) -> bool:
    """A letter or digit of a script that separates words with spaces."""
    return c.isalnum() and not _CJK_RE.match(c)


@lru_cache(maxsize=4096)
def _pattern(term: str, acronym: bool) -> re.Pattern[str]:
    body = r"\s+".join(re.escape(p) for p in term.split(" "))
    return re.compile(body, 0 if acronym else re.IGNORECASE)


@lru_cache(maxsize=8192)
def _boundaries(run: str) -> frozenset[int]:
    """Word boundaries of a run of Han characters: jieba's search-mode words, dictionary words only."""
    import jieba

    jieba.setLogLevel(60)
    cuts = {0, len(run)}
    for _, a, b in jieba.tokenize(run, mode="search", HMM=False):
        cuts.add(a)
        cuts.add(b)
    return frozenset(cuts)


def _cjk_boundary(hay: str, pos: int) -> bool:
    """Whether ``pos`` (between two characters of ``hay``) is a word boundary on the Chinese side."""
    left = pos > 0 and _CJK_RE.match(hay[pos - 1]) is not None
    right = pos < len(hay) and _CJK_RE.match(hay[pos]) is not None
    if not (left and right):
        return True
    a = pos
    while a > 0 and _CJK_RE.match(hay[a - 1]):
        a -= 1
    b = pos
    while b < len(hay) and _CJK_RE.match(hay[b]):
        b += 1
    if b - a > 200:  # a very long run: look at the characters around the position only
        a, b = max(a, pos - 20), min(b, pos + 20)
    return pos - a in _boundaries(hay[a:b])


def _in_path(hay: str, slash: int) -> bool:
    """Whether the ``/`` at ``slash`` is part of a path or a domain (``github.com/PLE``), not a list."""
    a = slash
    while a > 0 and not hay[a - 1].isspace():
        a -= 1
    b = slash
    while b < len(hay) and not hay[b].isspace():
        b += 1
    token = hay[a:b]
    return ":" in token or bool(re.search(r"\w\.\w+/", token))


def _starts_word(hay: str, a: int, chinese_words: bool = True) -> bool:
    c = hay[a]
    if _CJK_RE.match(c):
        return not chinese_words or _cjk_boundary(hay, a)
    if not _is_word(c) or a == 0:
        return True
    before = hay[a - 1]
    if _is_word(before) or before == "_":
        return False
    if before in ".@" and a >= 2 and _is_word(hay[a - 2]):
        return False
    return not (before == "/" and _in_path(hay, a - 1))


def _ends_word(hay: str, b: int, chinese_words: bool = True) -> bool:
    c = hay[b - 1]
    if _CJK_RE.match(c):
        return not chinese_words or _cjk_boundary(hay, b)
    if not _is_word(c) or b >= len(hay):
        return True
    after = hay[b]
    if _is_word(after) or after == "_":
        return False
    if after in ".@" and b + 1 < len(hay) and _is_word(hay[b + 1]):
        return False
    return not (after == "/" and _in_path(hay, b))


def find_term(text: str, term: str, *, prefix: bool = False) -> list[tuple[int, int]]:
    """The spans of ``text`` where ``term`` stands as a word (see the module's rules); with ``prefix``, where
    it starts a word (``Trans`` in ``Transformer``).  Offsets are offsets into ``text``.

    >>> find_term("Jeff Dean's talk; jeff  dean again", "Jeff Dean")
    [(0, 9), (18, 28)]
    >>> find_term("Transformer", "Trans"), find_term("Transformer", "Trans", prefix=True)
    ([], [(0, 5)])
    >>> find_term("github.com/PLE and a/PLE", "PLE")
    [(21, 24)]
    """
    t = normalise_term(term)
    if not t or not text:
        return []
    folded = unicodedata.normalize("NFKC", text)
    hay = blank_urls(folded if len(folded) == len(text) else text)  # (NFKC kept the offsets, or is not used)
    return word_spans(hay, t, prefix=prefix)


def word_spans(hay: str, term: str, *, prefix: bool = False, chinese_words: bool = True) -> list[tuple[int, int]]:
    """:func:`find_term` for a text already normalised with its URLs blanked and a term already normalised
    (:func:`normalise_term`); with ``chinese_words=False`` a Chinese term matches anywhere (no segmentation,
    for a pass over thousands of titles).

    >>> word_spans("中华为民", "华为", chinese_words=False)
    [(1, 3)]
    """
    out = []
    for m in _pattern(term, is_acronym(term)).finditer(hay):
        a, b = m.span()
        if a < b and _starts_word(hay, a, chinese_words) and (prefix or _ends_word(hay, b, chinese_words)):
            out.append((a, b))
    return out


def names_term(text: str, term: str) -> bool:
    """Whether ``text`` names ``term`` as a word.

    >>> names_term("赫鲁晓夫访问美国", "赫鲁晓夫"), names_term("IMPLEMENTING it", "PLE")
    (True, False)
    """
    return bool(find_term(text, term))


def fts_text(text: str) -> str:
    """The text an FTS5 table (tokenizer ``unicode61``) indexes: NFKC, URLs blanked, each Han character a token
    of its own (so a Chinese word is a phrase of characters).

    >>> fts_text("PLE模型 https://x.org/RIPPLES")
    'PLE 模 型'
    """
    text = blank_urls(unicodedata.normalize("NFKC", text))
    text = _CJK_RE.sub(lambda m: f" {m.group(0)} ", text)
    return _SPACE_RE.sub(" ", text).strip()


def fts_phrase(term: str, *, prefix: bool = False) -> str | None:
    """The FTS5 query of a term: one phrase of its tokens (the last one a prefix with ``prefix``); None when the
    term has no token.  The phrase holds letters and digits only, so a user's text is never query syntax.

    >>> fts_phrase("黑船"), fts_phrase('PLE" OR x'), fts_phrase("Trans", prefix=True), fts_phrase("***")
    ('"黑 船"', '"PLE OR x"', '"Trans"*', None)
    """
    tokens = _FTS_TOKEN.findall(fts_text(term))
    if not tokens:
        return None
    return '"' + " ".join(tokens) + '"' + ("*" if prefix else "")


_LIST_SEGMENT = re.compile(r"[^()（）\[\]【】《》〈〉<>:：;；。!?！？\"“”|]+")
_SLASH = re.compile(r"\s*/\s*")
_DUN = re.compile(r"\s*、\s*")
_EN_LIST = re.compile(r"\s*(?:,\s*(?:and|or)\s+|,|\s+(?:and|or|&)\s+)\s*", re.IGNORECASE)
_ZH_LAST = re.compile(r"(?<=[^、])(?:和|与|及|以及)(?=[^、]+$)")


def listed_names(text: str) -> list[str]:
    """The names a title or a name lists, each once, in order: ``A/B/C``, ``A、B和C``, ``A, B and C``.
    A text that lists nothing gives none.

    >>> listed_names("多目标学习在推荐系统的应用(MMOE/ESMM/PLE)")
    ['MMOE', 'ESMM', 'PLE']
    >>> listed_names("Rust, SQLite and Datasette"), listed_names("赫鲁晓夫、肯尼迪和卡斯特罗")
    (['Rust', 'SQLite', 'Datasette'], ['赫鲁晓夫', '肯尼迪', '卡斯特罗'])
    >>> listed_names("see github.com/simonw/datasette"), listed_names("Learning to rank")
    ([], [])
    """
    out: list[str] = []
    for seg in _LIST_SEGMENT.findall(blank_urls(unicodedata.normalize("NFKC", text))):
        seg = seg.strip(" ,，-–—")
        parts: list[str] = []
        if "/" in seg and not _in_path(seg, seg.index("/")):
            parts = _SLASH.split(seg)
        elif "、" in seg:
            parts = _DUN.split(seg)
            parts[-1:] = [p for p in _ZH_LAST.split(parts[-1])]
        elif re.search(r"[A-Za-z]", seg) and (", " in seg or re.search(r"\s(?:and|&)\s", seg)):
            parts = _EN_LIST.split(seg)
            # a list of names: short parts, each starting with a capital or a digit (not "Learning to rank")
            if not all(p and len(p.split()) <= 4 and (p[0].isupper() or p[0].isdigit()) for p in parts):
                parts = []
        parts = [p.strip() for p in parts]
        if len(parts) >= 2 and all(0 < len(p) <= 40 for p in parts):
            for p in parts:
                if p not in out:
                    out.append(p)
    return out
