"""Text features: the bags of glossary concepts, English words and Chinese bigrams that titles and entity
contexts are compared by (:func:`text_features`, :func:`vector`), and whether a title names a form
(:func:`names_in`, :func:`find_form`)."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from sys import intern  # a feature is one string however many titles and contexts hold it

from kg.links.scoring import SCORING
from kg.terms import normalise_term, word_spans

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
URL_RE = re.compile(r"(?:https?|ftp)://\S+|www\.\S+", re.IGNORECASE)
_TOKEN_RE = re.compile(rf"[{_CJK}]+|[a-z0-9]+")
CJK_RE = re.compile(rf"[{_CJK}]")
# function characters: they split the leftover Chinese text before it is cut into bigrams
_CJK_STOP = set("的了在是和与及或之把被对从为等这那你我他她它们吗呢啊吧个一也都而就还又很最更其中上下于以由")
_EN_STOP = frozenset(
    "a an the and or of for to in on at by with from into as is are was were be been being this that these those "
    "it its via vs not no how what why when where which who whom we you they our your their i my me he she his her "
    "do does did can could should would will shall may might must about over under than then so such also all any "
    "some more most very just new one two three using use used based towards toward".split())
_W_CONCEPT, _W_GENERIC, _W_WORD, _W_BIGRAM = SCORING.concept, SCORING.generic_concept, SCORING.word, SCORING.bigram


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


@dataclass(frozen=True)
class _Glossary:
    en: dict[tuple[str, ...], tuple[str, ...]]  # stemmed word tuple -> concepts
    zh: dict[str, tuple[str, ...]]
    generic: frozenset[str]  # concepts that say what kind of text, not what about
    en_max: int
    zh_max: int
    zh_heads: frozenset[str] = frozenset()  # first two characters of every Chinese form


@lru_cache(maxsize=1)
def _glossary() -> _Glossary:
    en: dict[tuple[str, ...], set[str]] = defaultdict(set)
    zh: dict[str, set[str]] = defaultdict(set)
    generic: set[str] = set()
    file = Path(__file__).parent.parent / "data" / "glossary_en_zh.tsv"
    for line in file.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#") or "\t" not in line:
            continue
        cols = line.split("\t")
        en_side, zh_side = cols[0], cols[1]
        forms = [f.strip() for f in en_side.split("|") if f.strip()]
        concept = " ".join(_stem(w) for w in re.findall(r"[a-z0-9]+", _norm(forms[0])))
        if len(cols) > 2 and cols[2].strip() == "generic":
            generic.add("t:" + concept)
        for f in forms:
            words = tuple(_stem(w) for w in re.findall(r"[a-z0-9]+", _norm(f)))
            if words:
                en[words].add(concept)
        for f in zh_side.split("|"):
            f = _norm(f.strip())
            if len(f) >= 2 and CJK_RE.search(f):
                zh[f].add(concept)
    return _Glossary(
        {k: tuple(sorted(v)) for k, v in en.items()},
        {k: tuple(sorted(v)) for k, v in zh.items()},
        frozenset(generic),
        max((len(k) for k in en), default=1),
        max((len(k) for k in zh), default=2),
        frozenset(k[:2] for k in zh),
    )


def text_features(text: str) -> Counter:
    """The bag of features of a text: ``t:`` glossary concepts, ``w:`` English words, ``c:`` Chinese bigrams.

    URLs are removed first.  Concepts bridge the two languages:

    >>> a, b = text_features("Personalized Recommendations"), text_features("个性化推荐")
    >>> sorted(set(a) & set(b))
    ['t:personalized', 't:recommendation']
    >>> text_features("see https://example.org/ple-model")
    Counter({'w:see': 1})
    """
    g = _glossary()
    out: Counter = Counter()
    text = URL_RE.sub(" ", _norm(text))
    words: list[str] = []

    def flush_words() -> None:
        if not words:
            return
        covered = _longest_matches(words, g.en, g.en_max, 1, g, out, as_key=tuple)
        for w, cov in zip(words, covered):
            if not cov and len(w) >= 2 and w not in _EN_STOP and not w.isdigit():
                out[intern("w:" + w)] += 1
        words.clear()

    for tok in _TOKEN_RE.findall(text):
        if CJK_RE.match(tok):
            flush_words()
            _cjk_features(tok, g, out)
        else:
            words.append(_stem(tok))
    flush_words()
    return out


def _emit(concepts: Iterable[str], g: _Glossary, out: Counter) -> None:
    """Count concepts; a phrase made of known words ("recommender system") also counts theirs."""
    for c in concepts:
        out[intern("t:" + c)] += 1
        words = c.split()
        if len(words) > 1 and all((w,) in g.en for w in words):
            for w in words:
                for sub in g.en[(w,)]:
                    out[intern("t:" + sub)] += 1


def _longest_matches(seq, table: dict, max_len: int, min_len: int, g: _Glossary, out: Counter,
                     heads: frozenset[str] | set[str] | None = None, as_key=None) -> list[bool]:
    """Count the glossary's concepts in ``seq`` (words or characters), greedy longest match left to right
    (at least ``min_len`` items; where ``heads`` is given, only at a position whose first two items are the
    start of some entry); which items a match covers."""
    covered = [False] * len(seq)
    n = len(seq)
    i = 0
    while i < n:
        if heads is None or seq[i:i + 2] in heads:
            for length in range(min(max_len, n - i), min_len - 1, -1):
                part = seq[i:i + length]
                concepts = table.get(as_key(part) if as_key else part)
                if concepts:
                    _emit(concepts, g, out)
                    covered[i:i + length] = [True] * length
                    i += length
                    break
            else:
                i += 1
        else:
            i += 1
    return covered


def _cjk_features(run: str, g: _Glossary, out: Counter) -> None:
    covered = _longest_matches(run, g.zh, g.zh_max, 2, g, out, heads=g.zh_heads)
    piece: list[str] = []
    for ch, cov in zip(run + " ", covered + [True]):
        if cov or ch in _CJK_STOP:
            for a, b in zip(piece, piece[1:]):
                out[intern("c:" + a + b)] += 1
            piece = []
        else:
            piece.append(ch)


def _feature_weight(f: str) -> float:
    if f[0] == "t":
        return _W_GENERIC if f in _glossary().generic else _W_CONCEPT
    return _W_WORD if f[0] == "w" else _W_BIGRAM


def vector(bags: Iterable[tuple[Counter, float]], idf: Mapping[str, float], default_idf: float) -> dict[str, float]:
    """The unit TF-IDF vector of weighted bags of features (each feature weighted by its kind)."""
    acc: dict[str, float] = defaultdict(float)
    for bag, w in bags:
        for f, tf in bag.items():
            acc[f] += w * (1.0 + math.log(tf))
    vec = {f: v * _feature_weight(f) * idf.get(f, default_idf) for f, v in acc.items()}
    norm = math.sqrt(sum(v * v for v in vec.values()))
    return {f: v / norm for f, v in vec.items()} if norm else {}


# ---------------------------------------------------------------- names in titles


def names_in(title: str, form: str) -> bool:
    """Whether ``title`` names ``form`` as a whole word (URLs removed; acronyms only in capitals).

    >>> names_in("PLE: progressive layered extraction", "PLE")
    True
    >>> names_in("A SIMPLE model", "PLE"), names_in("IMPLEMENTING it", "PLE"), names_in("see ple.com", "PLE")
    (False, False, False)
    >>> names_in("https://x.org/PLE-paper explained", "PLE")
    False
    >>> names_in("PLE模型详解", "PLE"), names_in("池田成彬传", "池田成彬")
    (True, True)
    >>> names_in("多目标学习在推荐系统的应用(MMOE/ESMM/PLE)", "PLE"), names_in("see github.com/x/PLE", "PLE")
    (True, False)
    """
    return find_form(URL_RE.sub(" ", unicodedata.normalize("NFKC", title)), form) is not None


def find_form(title: str, form: str) -> int | None:
    """Where ``title`` (NFKC, URLs removed) names ``form`` as a word (kg.terms' rules; Chinese as a substring)."""
    form = normalise_term(form)
    if len(form) < 2:
        return None
    spans = word_spans(title, form, chinese_words=False)
    return spans[0][0] if spans else None


