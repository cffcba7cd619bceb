"""Components for titles, acronyms and named models → Paper (also Organization, Person, Event).

``kg_titles`` (titles in 《》 and quoted English titles), ``kg_english_titles`` (title-case
lines and segments in reading lists), ``kg_acronyms`` ("Long Name (ABBR)"), ``kg_model_names``
(L2MT, GPT-3, CamelCase names in technical notes) and ``kg_conferences`` (CVPR 2018 → Event).
"""

from __future__ import annotations

import re
from functools import lru_cache

from spacy.language import Language

from kg.extract.chars import LATIN_WORD, finditer_from, run_starts
from kg.extract.document import add_candidate, alnum_runs, doc_text, latin_words
from kg.extract.finders import SMALL_WORDS, find_acronyms
from kg.extract.resources import read_words, shared_resources

__all__ = ["kg_titles", "kg_english_titles", "kg_acronyms", "kg_model_names", "kg_conferences", "CAPS_NAME",
           "CAMEL_NAME"]


_BRACKET_TITLE = re.compile(r"《([^《》\n]{1,200})》")
_QUOTED = re.compile(r"[“\"]([A-Za-z][^“”\"\n]{3,200})[”\"]")
_PERIODICAL_END = ("报", "日报", "时报", "晚报", "周刊", "杂志", "新闻")


@Language.component("kg_titles")
def kg_titles(doc):
    text = doc_text(doc)
    for m in _BRACKET_TITLE.finditer(text):
        inner = m.group(1)
        s, e = m.start(1), m.end(1)
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e - s < 2:
            continue
        kind = "Organization" if (not inner.isascii() and inner.endswith(_PERIODICAL_END)) else "Paper"
        add_candidate(doc, s, e, kind, "title_brackets", 90)
    for m in _QUOTED.finditer(text):
        if len(m.group(1).split()) >= 3:
            add_candidate(doc, m.start(1), m.end(1), "Paper", "title_quotes", 85)
    return doc


_EN_WORD = r"[A-Za-z][A-Za-z0-9\-'’]*"
_EN_SEGMENT = re.compile(rf"{_EN_WORD}(?:[ \t]*[:,&+/]?[ \t]*(?:{_EN_WORD}|\d+))*[?!]?")
_EN_WORD_RE = re.compile(_EN_WORD)


def _looks_like_title(words: list[str], share: float = 0.75) -> bool:
    """Three words or more, at least ``share`` of those that are not small words capitalised."""
    if len(words) < 3:
        return False
    content = [w for w in words if w.lower() not in SMALL_WORDS]
    if not content:
        return False
    capital = sum(1 for w in content if w[0].isupper() or any(c.isdigit() for c in w))
    return capital / len(content) >= share


#: English prose: two lower-case words in a row
_EN_PROSE = re.compile(r"\b[a-z]{2,}[ \t]+[a-z]{2,}\b")


def _in_english_prose(text: str, start: int, end: int) -> bool:
    """Whether the segment ``text[start:end]`` stands in a line that goes on in English prose around it
    or is followed by another sentence (Steve Jobs met Bill Gates in Seattle. It rained.): a sentence of
    names, not a title line."""
    ls = text.rfind("\n", 0, start) + 1
    le = text.find("\n", end)
    le = len(text) if le < 0 else le
    if _EN_PROSE.search(text, ls, start) or _EN_PROSE.search(text, end, le):
        return True
    # a full stop after it and another sentence on the same line
    return bool(_NEXT_SENTENCE.match(text, end, le))


#: the end of a sentence and the start of the next: ". It rained"
_NEXT_SENTENCE = re.compile(r"[.!?][ \t]+[A-Z][a-z]")


@lru_cache(maxsize=1)
def _first_names() -> frozenset[str]:
    return frozenset(read_words("first_names_latin.txt"))


def _latin_person(words: list[str]) -> bool:
    """Two to four capitalised words starting with a known given name (Gaius Plinius Secundus)."""
    return 2 <= len(words) <= 4 and words[0] in _first_names() and all(
        re.fullmatch(r"[A-Z][a-z]+", w) for w in words)


@Language.component("kg_english_titles")
def kg_english_titles(doc):
    text = doc_text(doc)
    for m in _EN_SEGMENT.finditer(text):
        seg = m.group(0).rstrip(" :,&+/")
        words = _EN_WORD_RE.findall(seg)
        if not _looks_like_title(words):
            continue
        # a reading-list annotation after a hyphen is not part of the title (Convolutional LSTM Network-paper reading)
        cut = re.search(r"-(?:paper|论文|notes?|reading|review)\b.*$", seg)
        if cut:
            seg = seg[: cut.start()]
            words = _EN_WORD_RE.findall(seg)
            if not _looks_like_title(words):
                continue
        if _latin_person(words) and not set(words) & shared_resources().org_suffixes_en:
            end = m.start() + seg.rfind(words[-1]) + len(words[-1])
            if end >= len(text) or not text[end].isalpha():  # whole words only (not Kekul of Kekulé)
                add_candidate(doc, m.start(), end, "Person", "latin_person", 70)
            continue
        # in a line of English prose a title is written in Title Case throughout (or quoted, kg_titles)
        if _in_english_prose(text, m.start(), m.start() + len(seg)) and not _looks_like_title(words, 1.0):
            continue
        before = text[: m.start()].rstrip()
        after = text[m.start() + len(seg) :].lstrip()
        # a sentence inside Chinese prose is not a title; a line or a segment of a title line is
        if before.endswith(("《", "“", '"')) or after.startswith(("(", "（")) and len(words) < 3:
            continue
        add_candidate(doc, m.start(), m.start() + len(seg), "Paper", "english_title", 60)
    return doc


_ABBR_RE = re.compile(r"(?<![A-Za-z0-9\-])[A-Z][A-Za-z0-9\-]*[A-Z0-9](?![A-Za-z0-9\-])")


@Language.component("kg_acronyms")
def kg_acronyms(doc):
    text = doc_text(doc)
    res = shared_resources()
    defs = []
    for ls, le, as_, ae in find_acronyms(text):
        long = text[ls:le]
        last = long.split()[-1]
        kind = "Organization" if last in res.org_suffixes_en else "Paper"
        # a named model heads its title ("X (ABBR): ..."); an acronym defined mid-title is a concept
        opened = text.rfind("《", 0, ls)
        in_title = opened > max(text.rfind("》", 0, ls), text.rfind("\n", 0, ls))
        head = text[opened + 1 : ls] if in_title else ""
        if head.strip() and re.search(r"[A-Za-z]", head) and kind == "Paper":
            continue
        defs.append((ls, le, as_, ae))
        add_candidate(doc, ls, le, kind, "acronym", 95)
        add_candidate(doc, as_, ae, kind, "acronym", 95)
    doc.user_data["kg_acronyms"] = defs
    return doc


_MODEL_NAME = re.compile(r"(?<![A-Za-z0-9\-])(?=[A-Za-z0-9\-]*\d)(?=(?:[A-Za-z0-9\-]*[A-Z]){2})[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*(?![A-Za-z0-9\-])")


#: an acronym in capitals (TCN, STGCN) or a CamelCase name with a capital run or a -Net ending (CubicLSTM, WaveNet)
CAPS_NAME = re.compile(r"[A-Z][A-Z0-9]{1,7}s?")
CAMEL_NAME = re.compile(r"(?:[A-Z][a-z]+)+(?:[A-Z]{2,}[a-z]*|Net|Nets|Former|former)(?:[A-Z][a-z]+|[A-Z]{2,})*|[A-Z][a-z]+[A-Z]{2,}[A-Za-z]*")
#: words around a Latin name that make it a named model, method or paper
_MODEL_CUE_BEFORE = ("模型之", "模型", "算法", "网络", "论文", "方法", "框架之", "利用", "使用", "基于", "提出")
_MODEL_CUE_AFTER = ("模型", "论文", "网络", "算法", "架构", "方法", "详解", "原理", "解读")


def _is_technical(text: str, words: "list[re.Match] | None" = None) -> bool:
    """A note about technology: many distinct Latin words in its prose (``words``: its LATIN_WORD matches)."""
    found = LATIN_WORD.findall(text) if words is None else [m.group(0) for m in words]
    return len({w.casefold() for w in found if len(w) >= 2}) >= 12


@Language.component("kg_model_names")
def kg_model_names(doc):
    """Named models (Paper): capitals and digits (L2MT, GPT-3, YOLOv3); in technical notes also
    acronyms (TCN, STGCN), CamelCase names (CubicLSTM, LightNet, Graph WaveNet) and Latin words
    a model word stands beside (模型SDM, 使用Resnet模型).  Common acronyms, units, conference and
    organisation abbreviations (GPU, API, PDF, CVPR, MIT) are left out."""
    text = doc_text(doc)
    res = shared_resources()
    for m in finditer_from(_MODEL_NAME, text, alnum_runs(doc)):
        add_candidate(doc, m.start(), m.end(), "Paper", "model_name", 62)
    words = latin_words(doc)
    if not _is_technical(text, words):
        return doc
    common = res.common_acronyms
    for m in words:
        word = m.group(0)
        s, e = m.start(), m.end()
        folded = word.casefold()
        if folded in common or folded in SMALL_WORDS:
            continue
        before = text[max(0, s - 3) : s]
        after = text[e : e + 2]
        cue = before.endswith(_MODEL_CUE_BEFORE) or after.startswith(_MODEL_CUE_AFTER)
        if (word in res.conferences or word.upper() in res.conferences) and not cue:
            continue  # a venue (CVPR), unless a model word stands beside it (模型SDM)
        caps = bool(CAPS_NAME.fullmatch(word)) and len(word.rstrip("s")) >= 3
        camel = bool(CAMEL_NAME.fullmatch(word))
        if not (caps or camel or (cue and word[0].isupper() and len(word) >= 3)):
            continue
        # a capitalised word just before a CamelCase name belongs to it (Graph WaveNet, Self-Attention ConvLSTM)
        if camel:
            p = re.search(r"(?<![A-Za-z0-9\-])([A-Z][a-z]+(?:-[A-Z][a-z]+)?)[ \t]$", text[max(0, s - 30) : s])
            if p and p.group(1).casefold() not in common and p.group(1).lower() not in SMALL_WORDS:
                s -= len(p.group(0))
        add_candidate(doc, s, e, "Paper", "model_name", 61 if cue or camel else 58)
    return doc


#: a whole run of letters followed by a number: the only places a _CONFERENCE_YEAR match starts
#: (its letters are a whole run: a letter after them would stop the year)
_LETTERS_BEFORE_NUMBER = re.compile(r"(?<![A-Za-z])[A-Za-z]++(?=[ \t]*'?\d)")
_CONFERENCE_YEAR = re.compile(r"(?<![A-Za-z])([A-Za-z]{2,12})[ \t]*'?((?:19|20)\d\d|\d\d)(?!\d)")


@Language.component("kg_conferences")
def kg_conferences(doc):
    res = shared_resources()
    text = doc_text(doc)
    for m in finditer_from(_CONFERENCE_YEAR, text, run_starts(_LETTERS_BEFORE_NUMBER, text)):
        if m.group(1) in res.conferences or m.group(1).upper() in res.conferences:
            add_candidate(doc, m.start(), m.end(), "Event", "conference_year", 92)
    return doc
