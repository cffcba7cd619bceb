"""The extraction pass: typed entities, their mentions and dates, from a note's prose.

This module owns the spaCy pipeline (``zh`` with the jieba segmenter, no
downloaded model) and its components, each registered by name and doing one
thing; it turns their findings into :mod:`kg.model` records.  No spaCy object
leaves this module.

Components, in pipeline order (each writes to ``doc.user_data``):

``kg_sentences``       sentence spans (Chinese and Western end punctuation, line breaks)
``kg_dates``           dates, normalised to ISO 8601 where possible
``kg_titles``          titles in 《》 and quoted English titles → Paper
``kg_english_titles``  English title-case lines and segments in reading lists → Paper
``kg_acronyms``        "Long Name (ABBR)" definitions → Paper / Organization, ABBR an alias
``kg_model_names``     model names written with capitals and digits (L2MT, GPT-3) → Paper
``kg_conferences``     venue acronym + year (CVPR 2018) → Event
``kg_gazetteer``       countries, regions, provinces, prefectures, states, cities → Place
``kg_suffix_names``    names ending in organisation, event or place words → Organization / Event / Place
``kg_org_context``     coordinated names before 财阀/集团 (三井和三菱两家财阀), Latin names before 网站/公司 → Organization
``kg_person_names``    surname + given name, transliterated names, role-word context → Person
``kg_lexicon``         jieba's dictionary tags (nr/ns/nt) as a weak signal
``kg_model_ner``       a trained pipeline's NER (only with ``--model``)
``kg_resolve``         overlaps settled, one candidate per span

Entity keys are ``f"{type}/{canonical name}"``; they depend on the note and the
curation only.

Speed (the largest CPU consumer of a build): the text is segmented once, by
``_Segmenter`` (jieba's own algorithm and tables, word for word, in fewer Python
steps); jieba's dictionary and POS tables load from one marshal cache; what the
components derive from a text (token starts, token classes, Latin words) is made once
per text and what they derive from a word is remembered per word; lexicons are trie
regexes; patterns whose matches can only start at a few places are tried only there
(``_finditer_from``); overlap tests use a covered-characters map.  Every one of these
gives the same results as the plain scan it replaces (see tests/test_nlp_segment.py).
"""

from __future__ import annotations

import hashlib
import marshal
import os
import re
import sys
import tempfile
import unicodedata
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from functools import lru_cache
from importlib import resources
from math import log as _log
from operator import attrgetter
from typing import Any

from kg.errors import ModelError
from kg.model import ENTITY_TYPES, EXTRACTOR_VERSION, Curation, DateMention, Entity, Extraction, Mention, Note  # noqa: F401

__all__ = [
    "COMPONENTS",
    "Extractor",
    "load_extractor",
    "entity_key",
    "normalise_date",
    "clear_caches",
]

#: names of the project's components, in pipeline order
COMPONENTS = (
    "kg_sentences",
    "kg_dates",
    "kg_titles",
    "kg_english_titles",
    "kg_acronyms",
    "kg_model_names",
    "kg_conferences",
    "kg_gazetteer",
    "kg_suffix_names",
    "kg_org_context",
    "kg_person_names",
    "kg_lexicon",
)

# kg.model.EXTRACTOR_VERSION is bumped whenever the extraction output changes, so that stores rebuild

CANDIDATES = "kg_candidates"  # user_data key: list of (start, end, type, method, priority)


def entity_key(type_: str, name: str) -> str:
    """The key of an entity: its type and canonical name."""
    return f"{type_}/{name}"


# ---------------------------------------------------------------- resources


def _read_words(name: str) -> list[str]:
    text = resources.files("kg").joinpath("data", name).read_text(encoding="utf-8")
    words: list[str] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0] if line.lstrip().startswith("#") else line
        words.extend(line.split())
    return words


@dataclass(frozen=True)
class _Resources:
    surnames_zh: frozenset[str]
    surnames_ja: frozenset[str]
    places: frozenset[str]
    place_suffixes: tuple[str, ...]
    org_suffixes: tuple[str, ...]
    org_suffixes_en: frozenset[str]
    event_words: tuple[str, ...]
    roles: frozenset[str]
    stopwords: frozenset[str]
    conferences: frozenset[str]
    translit: frozenset[str]
    regnal: tuple[str, ...]
    freq: dict[str, int]
    tags: dict[str, str]
    place_re: re.Pattern
    role_re: re.Pattern
    common_acronyms: frozenset[str]
    surname_start_re: re.Pattern
    long_surname_re: re.Pattern
    orgs: frozenset[str]
    org_re: re.Pattern
    rulers: frozenset[str]
    events: frozenset[str]
    event_re: re.Pattern
    event_modifiers: frozenset[str]
    countries: frozenset[str]
    country_abbr: frozenset[str]
    segmenter: "_Segmenter"
    role_lens: tuple[int, ...]  # the lengths of the role words, longest first
    ja_lens: tuple[int, ...]  # the lengths of the Japanese surnames, longest first
    surname_lens: dict[str, tuple[int, ...]]  # first character → lengths (≤ 4) of the surnames it starts, longest first
    surname_long: dict[str, bool]  # surname (≤ 4 characters) → whether its given name may have three characters
    ruler_heads: frozenset[str]  # the proper prefixes of the rulers' names
    translit_re: re.Pattern  # a run of transliteration characters, maybe with middle dots
    suffix_ends: frozenset[str]  # the last characters of event, organisation and place words
    token_classes: dict[str, int]  # word → its _token_class (filled as words are met)


def _read_section(name: str, header: str) -> list[str]:
    """The words of one ``# header`` section of a data file."""
    text = resources.files("kg").joinpath("data", name).read_text(encoding="utf-8")
    words, inside = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            inside = line.lstrip("# ").strip() == header
        elif inside:
            words.extend(line.split())
    return words


#: a dynasty and a temple or posthumous title: 汉献帝, 唐太宗, 明成祖
_DYNASTY_TITLE = "[秦汉晋隋唐宋元明清辽金][太高世中仁英宪孝武文景宣献灵哀惠昭章和安顺桓少平光明神熹思怀愍穆德睿]{1,2}[帝宗祖]"


_DYNASTY_TITLE_RE = re.compile(_DYNASTY_TITLE)


#: bumped when the layout of the cached jieba tables changes
_TABLES_FORMAT = 1


def _tables_cache_file(key: str) -> str:
    """Where the jieba tables of ``key`` are cached: in ``$KG_CACHE_DIR``, else ``$XDG_CACHE_HOME/kg``
    or ``~/.cache/kg``, named after the key (a file for another jieba or dictionary is another file)."""
    if os.environ.get("KG_CACHE_DIR"):
        root = os.path.abspath(os.environ["KG_CACHE_DIR"])
    else:
        root = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "kg")
        if not os.path.isabs(root):  # no home directory to be found: the temporary directory, per user
            root = os.path.join(tempfile.gettempdir(), f"kg-cache-{os.getuid() if hasattr(os, 'getuid') else 'user'}")
    return os.path.join(root, f"jieba-tables-{hashlib.sha1(key.encode()).hexdigest()[:16]}.marshal")


def _import_jieba() -> Any:
    """jieba, imported with setuptools' ``pkg_resources`` hidden.  jieba imports it only to open its own
    data files and falls back to plain paths without it, while importing it scans every installed
    distribution: ~0.2 s of each extraction worker's start, a tenth of a one-note rebuild."""
    if "jieba" in sys.modules:
        return sys.modules["jieba"]
    hide = "pkg_resources" not in sys.modules
    if hide:
        sys.modules["pkg_resources"] = None  # type: ignore[assignment]  # makes `import pkg_resources` fail
    try:
        import jieba
    finally:
        if hide and sys.modules.get("pkg_resources", 0) is None:
            del sys.modules["pkg_resources"]
    return jieba


def _jieba_tables() -> tuple[dict[str, int], int, dict[str, str]]:
    """jieba's prefix dictionary (word → frequency, 0 for prefixes only), its total, and its
    part-of-speech tags (``jieba.posseg``'s table), with jieba's default tokenizer initialised.

    jieba reads its dictionary cache an object at a time and ``jieba.posseg`` parses its
    dictionary text on import (together ~1.1 s); here both tables come from one file read at
    once (~0.3 s), written from jieba's own tables the first time and keyed by jieba's version
    and its dictionary file, so a changed dictionary is read again.  Any problem with the cache
    falls back to jieba's own loading.
    """
    jieba = _import_jieba()

    jieba.setLogLevel(60)
    dt = jieba.dt
    default_dict = dt.dictionary is None and not dt.user_word_tag_tab
    try:
        st = os.stat(os.path.join(os.path.dirname(jieba.__file__), jieba.DEFAULT_DICT_NAME))
        key = f"kg-jieba-tables {_TABLES_FORMAT} jieba {jieba.__version__} {st.st_size} {st.st_mtime_ns}"
    except OSError:
        default_dict = False
    unfit = False  # a cache file that could not be used: written again
    if default_dict and not dt.initialized and "jieba.posseg" not in sys.modules:
        try:
            with open(_tables_cache_file(key), "rb") as f:
                head, freq, total, tags = marshal.loads(f.read())
            if head == key and type(freq) is dict and type(total) is int and type(tags) is dict:
                dt.FREQ, dt.total, dt.initialized = freq, total, True
                return freq, total, tags
            unfit = True
        except FileNotFoundError:
            pass
        except (OSError, ValueError, EOFError, TypeError):
            unfit = True
    import jieba.posseg

    jieba.initialize()
    freq, total, tags = dt.FREQ, dt.total, jieba.posseg.dt.word_tag_tab
    if default_dict and (unfit or not os.path.isfile(_tables_cache_file(key))):
        _write_tables(key, freq, total, tags)
    return freq, total, tags


def _write_tables(key: str, freq: dict[str, int], total: int, tags: dict[str, str]) -> None:
    """Write the tables cache atomically; a cache that cannot be written is simply not used."""
    path = _tables_cache_file(key)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        same = {w: w for w in freq}  # the tag table shares the dictionary's strings (smaller, faster to read)
        shared = {same.get(w, w): sys.intern(t) for w, t in tags.items()}
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".jieba-tables.")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(marshal.dumps((key, freq, total, shared), 4))
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        for name in os.listdir(os.path.dirname(path)):  # the tables of an older jieba or dictionary
            if name.startswith("jieba-tables-") and name != os.path.basename(path):
                os.unlink(os.path.join(os.path.dirname(path), name))
    except OSError:
        pass


@lru_cache(maxsize=1)
def _resources() -> _Resources:
    freq, total, tags = _jieba_tables()
    orgs = _read_words("org_suffixes.txt")
    places = frozenset(_read_words("places.txt"))
    roles = frozenset(_read_words("role_words.txt"))
    surnames_zh = frozenset(_read_words("surnames_zh.txt"))
    surnames_ja = frozenset(_read_words("surnames_ja.txt"))
    by_length = lambda words: sorted(set(words), key=lambda w: (-len(w), w))  # noqa: E731
    orgs_known = frozenset(_read_words("organizations.txt"))
    rulers = frozenset(_read_words("rulers.txt")) | frozenset(_read_words("leaders.txt"))
    translit = frozenset("".join(_read_words("transliteration_chars.txt")))
    event_words = _read_words("event_words.txt")
    place_suffixes = _read_words("place_suffixes.txt")
    # what _surname_at finds at a position: a Japanese surname (any length), or a Chinese one, whose
    # given name may have three characters when it is Japanese or has two characters or more
    surname_long = {w: True for w in surnames_ja if len(w) <= 4}
    surname_long.update({w: len(w) >= 2 for w in surnames_zh if len(w) <= 4 and w not in surnames_ja})
    surname_lens: dict[str, set[int]] = defaultdict(set)
    for w in surname_long:
        surname_lens[w[0]].add(len(w))
    single_surnames = {w for w in surname_long if len(w) == 1 and _is_cjk(w) and w not in _FUNCTION_CHARS}
    long_surnames: dict[str, list[str]] = defaultdict(list)  # first character (no surname alone) → the rests
    for w in surname_long:
        if len(w) > 1 and _is_cjk(w[0]) and w[0] not in single_surnames:
            long_surnames[w[0]].append(w[1:])
    return _Resources(
        surnames_zh=surnames_zh,
        surnames_ja=surnames_ja,
        places=places,
        place_suffixes=tuple(by_length(place_suffixes)),
        org_suffixes=tuple(by_length(w for w in orgs if not w.isascii())),
        org_suffixes_en=frozenset(w for w in orgs if w.isascii()),
        event_words=tuple(by_length(event_words)),
        roles=roles,
        stopwords=frozenset(_read_words("stopwords.txt")),
        conferences=frozenset(_read_words("conferences.txt")),
        translit=translit,
        regnal=tuple(by_length(_read_words("regnal.txt"))),
        freq=freq,
        tags=tags,
        segmenter=_Segmenter(freq, total),
        place_re=re.compile(_words_pattern(places)),
        role_re=re.compile(_words_pattern(roles)),
        common_acronyms=_common_acronyms(),
        # where the surnames _person_by_surname weighs start (up to four characters, the first CJK;
        # a lone function character is never taken as one): one-character surnames, and longer ones
        # whose first character is none (中村, 一条: 中 and 一 are too frequent to try each)
        surname_start_re=re.compile("[" + "".join(sorted(single_surnames)) + "]"),
        # (the first character followed by one of the rests: every start, also inside another surname)
        long_surname_re=re.compile("|".join(
            re.escape(c) + "(?=" + _words_pattern(rests) + ")" for c, rests in sorted(long_surnames.items()))),
        orgs=orgs_known,
        rulers=rulers,
        org_re=re.compile(_words_pattern(w for w in orgs_known if not w.isascii())),
        events=frozenset(_read_words("events.txt")),
        event_re=re.compile("|".join(map(re.escape, by_length(_read_words("events.txt"))))),
        event_modifiers=frozenset(_read_words("event_modifiers.txt")),
        countries=frozenset(_read_section("places.txt", "countries and regions")),
        country_abbr=frozenset("".join(_read_words("country_abbreviations.txt"))),
        role_lens=_lengths(roles),
        ja_lens=_lengths(surnames_ja),
        surname_lens={c: tuple(sorted(ns, reverse=True)) for c, ns in surname_lens.items()},
        surname_long=surname_long,
        ruler_heads=frozenset(r[:k] for r in rulers for k in range(1, len(r))),
        translit_re=re.compile("(?:[" + "".join(sorted(translit)) + "]{2,}(?:[" + _TRANSLIT_SEP + "]["
                               + "".join(sorted(translit)) + "]{1,})*)"),
        suffix_ends=frozenset(w[-1] for w in (*event_words, *orgs, *place_suffixes, "党员")),
        token_classes={},
    )


# ---------------------------------------------------------------- small helpers

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_PUNCT = set("，。！？；：、,.!?;:（）()《》“”‘’\"'「」『』【】[]—-…·~～ \t\n\u3000/|")
#: characters that end a name when they follow it
_FUNCTION_CHARS = set("的了是在和与及就也都而被把将对从向为以于或之其这那着过得地所又还很最更再已曾并但却则因如说等可连虽便即乃仍竟亦均皆给让叫")
#: characters a given name never ends with
_NOT_NAME_END = set("家们氏等的了是在和与及就也都而被把将对从向为以于或之其这那着过得地所又还很最更再已曾并但却则因如说")
#: characters that never stand in a given name
_NOT_NAME_CHAR = set("的了是在和与及就也都而被把将对从向为以于或之其这那着过得地所又还很最更再已曾并但却则因如说年月日时分个们一二三四五六七八九十百千万亿第后前上下中内外里多少不没有无")
_FUNCTION_TAGS = {"uj", "ul", "uz", "ug", "uv", "ud", "u", "p", "c", "r", "d", "v", "vd", "vn", "q", "f", "y", "e", "o", "x", "zg", "t", "a", "ad"}
_NAME_TAGS = {"nr", "nrfg", "nrt"}


def _words_pattern(words: Iterable[str]) -> str:
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


#: the characters _CJK matches, for set operations (``_CJK_CHARS.issuperset(word)``: all CJK)
_CJK_CHARS = frozenset(map(chr, (*range(0x3400, 0xA000), *range(0xF900, 0xFB00))))
#: CJK characters that are no function characters: what a name may run on into
_CJK_CONTENT = _CJK_CHARS - _FUNCTION_CHARS
#: CJK characters that may stand in a given name
_CJK_NAME_CHARS = _CJK_CHARS - _NOT_NAME_CHAR


def _is_cjk(ch: str) -> bool:
    """Whether the character ``ch`` is a CJK ideograph (``_CJK``)."""
    return ch in _CJK_CHARS


def _lengths(words: Iterable[str]) -> tuple[int, ...]:
    return tuple(sorted({len(w) for w in words}, reverse=True))


def _ends_with_any(text: str, i: int, words: frozenset[str], lengths: tuple[int, ...]) -> bool:
    """``any(text.endswith(w, 0, i) for w in words)``, one lookup per length."""
    return any(text[i - n : i] in words for n in lengths if n <= i)


def _starts_with_any(word: str, words: frozenset[str], lengths: tuple[int, ...]) -> bool:
    """``any(word.startswith(w) for w in words)``, one lookup per length."""
    return any(word[:n] in words for n in lengths if n <= len(word))


def _common_word_at(text: str, i: int, res: _Resources, min_freq: int = 30) -> int:
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


def _is_terminator(text: str, e: int, res: _Resources) -> bool:
    """Whether a name may end just before ``text[e]``: the end, punctuation, space, anything not
    CJK, a function character, a role word or a common word."""
    if e >= len(text):
        return True
    ch = text[e]
    if ch not in _CJK_CONTENT:
        return True
    if res.role_re.match(text, e) or (ch in "副总前原代正" and res.role_re.match(text, e + 1)):
        return True
    return _common_word_at(text, e, res) > 0


def _inside_word(text: str, i: int, res: _Resources, min_freq: int = 20) -> bool:
    """Whether a common dictionary word runs across the boundary before ``text[i]`` (a string not
    in jieba's dictionary is no prefix of a word either, so longer ones are not looked up)."""
    freq, tags, roles = res.freq, res.tags, res.roles
    for a in range(max(0, i - 3), i):
        for b in range(i + 1, min(len(text), a + 4) + 1):
            w = text[a:b]
            f = freq.get(w)
            if f is None:
                break
            if f >= min_freq and tags.get(w) not in _NAME_TAGS and w not in roles:
                return True
    return False


def _places_at(text: str, i: int, res: _Resources) -> list[str]:
    m = res.place_re.match(text, i)
    return [m.group(0)] if m else []


def _left_boundary(text: str, i: int, res: _Resources) -> bool:
    """Whether ``text[i]`` starts a word: after punctuation, a function character, a role or a common word."""
    if i == 0 or text[i - 1] not in _CJK_CONTENT:
        return True
    if _ends_with_any(text, i, res.roles, res.role_lens):
        return True
    return any(res.freq.get(text[a:i], 0) >= 20 for a in range(max(0, i - 4), i - 1))


def _left_ok(text: str, s: int, res: _Resources) -> bool:
    """Whether a name may start at ``s`` (no letters glued to its left)."""
    if s == 0:
        return True
    ch = text[s - 1]
    return not (ch.isascii() and ch.isalnum())


def _add(doc, start: int, end: int, type_: str, method: str, priority: int) -> None:
    if end > start:
        doc.user_data.setdefault(CANDIDATES, []).append((start, end, type_, method, priority))


def _finditer_from(pattern: re.Pattern, text: str, starts: Iterable[int]) -> Iterator[re.Match]:
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


def _tokens(doc) -> list[tuple[int, int, str]]:
    toks = doc.user_data.get("kg_tokens")
    if toks is None:
        toks = doc.user_data["kg_tokens"] = [(t.idx, t.idx + len(t.text), t.text) for t in doc if not t.is_space]
    return toks


#: maximal runs of characters, whose starts are the only places some patterns can start
_ALNUM_DASH_RUN = re.compile(r"[A-Za-z0-9\-]+")
_WORD_CHAR_RUN = re.compile(r"[A-Za-z0-9\-_.]+")


def _run_starts(run: re.Pattern, text: str) -> list[int]:
    return [m.start() for m in run.finditer(text)]


def _alnum_runs(doc) -> list[int]:
    """Where the runs of Latin letters, digits and dashes start, made once per text."""
    starts = doc.user_data.get("kg_alnum_runs")
    if starts is None:
        starts = doc.user_data["kg_alnum_runs"] = _run_starts(_ALNUM_DASH_RUN, _text(doc))
    return starts


def _latin_words(doc) -> list[re.Match]:
    """The _LATIN_WORD matches of the text, made once per text (a match follows no word character,
    so it starts a run of them)."""
    words = doc.user_data.get("kg_latin_words")
    if words is None:
        text = _text(doc)
        words = doc.user_data["kg_latin_words"] = list(_finditer_from(_LATIN_WORD, text, _run_starts(_WORD_CHAR_RUN, text)))
    return words


def _token_starts(doc) -> list[int]:
    """Where the tokens start (ascending: tokens follow one another without overlapping), made once per text."""
    starts = doc.user_data.get("kg_token_starts")
    if starts is None:
        starts = doc.user_data["kg_token_starts"] = [t[0] for t in _tokens(doc)]
    return starts


def _starts_token(starts: list[int], p: int) -> bool:
    """Whether a token starts at ``p``."""
    k = bisect_left(starts, p)
    return k < len(starts) and starts[k] == p


def _ends_token(toks: list[tuple[int, int, str]], starts: list[int], p: int) -> bool:
    """Whether a token ends at ``p``: the token holding ``p - 1``, if any, is the only one that can."""
    k = bisect_right(starts, p - 1) - 1
    return k >= 0 and toks[k][1] == p


#: token classes (bits) the components look for; a token's are remembered per word (_token_class)
_T_NEW, _T_LEXICON, _T_SUFFIX, _T_RULER_HEAD, _T_RULER = 1, 2, 4, 8, 16


def _token_class(word: str, res: "_Resources") -> int:
    """The classes of a token: a two- or three-character CJK word jieba's dictionary does not hold
    (made up by its HMM), a CJK word of two characters or more with a lexicon tag (nr, ns, nt...)
    and no stopword, a word ending in an event, organisation or place word (_suffix_type), a
    proper prefix of a ruler's name, a ruler's name."""
    found = 0
    if not res.freq.get(word) and 2 <= len(word) <= 3 and _CJK_CHARS.issuperset(word):
        found |= _T_NEW
    if res.tags.get(word) in _LEXICON_TYPES and len(word) >= 2 and word not in res.stopwords and _CJK_CHARS.issuperset(word):
        found |= _T_LEXICON
    if word[-1:] in res.suffix_ends and _suffix_type(word, res):
        found |= _T_SUFFIX
    if word in res.ruler_heads:
        found |= _T_RULER_HEAD
    if word in res.rulers:
        found |= _T_RULER
    return found


def _token_groups(doc) -> dict[int, list[int]]:
    """Per token class, the indices of the text's tokens of that class (made once per text; the
    class of a word is looked up in the dictionaries once per process, not once per token)."""
    groups = doc.user_data.get("kg_token_groups")
    if groups is None:
        res = _resources()
        memo = res.token_classes
        if len(memo) > 2_000_000:
            memo.clear()
        classes = []
        for t in _tokens(doc):
            c = memo.get(t[2])
            if c is None:
                c = memo[t[2]] = _token_class(t[2], res)
            classes.append(c)
        groups = doc.user_data["kg_token_groups"] = {bit: [] for bit in (_T_NEW, _T_LEXICON, _T_SUFFIX, _T_RULER_HEAD, _T_RULER)}
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
    res = _resources()
    res.token_classes.clear()
    _SUFFIX_CACHE.clear()
    seg = res.segmenter
    seg.hmm_cache.clear()
    seg.chars.clear()
    seg.emission.clear()


def segment(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, word)`` of the non-space words of ``text``: one jieba segmentation (HMM on),
    the same words spaCy's ``zh`` tokenizer with the jieba segmenter makes."""
    return _resources().segmenter(text)


class _Segmenter:
    """``jieba.cut(text, cut_all=False, HMM=True)``, word for word, with character offsets.

    The same steps as jieba's default tokenizer (blocks of Han characters and Latin letters,
    the most probable route through the dictionary's words, the HMM for runs of single
    characters outside it) on the same tables and with the same floating-point arithmetic and
    tie-breaking, so the words are identical; it only spends fewer Python steps per character
    (no DAG dictionary, one lookup per prefix, the HMM's Viterbi pass unrolled for its four
    states and its results remembered per run).
    """

    _HMM_CACHE_MAX = 200_000

    def __init__(self, freq: dict[str, int], total: int):
        jieba = _import_jieba()
        from jieba import finalseg

        self.freq = freq
        self.logtotal = _log(total)
        self.re_han = jieba.re_han_default
        self.hmm_re_han = finalseg.re_han
        self.hmm_re_skip = finalseg.re_skip
        self.force_split = finalseg.Force_Split_Words
        self.hmm_cache: dict[str, list[str]] = {}
        self.emission: dict[str, tuple[float, float, float, float]] = {}  # per character, filled as met
        # per character: None when no word starts with it, False when only longer ones do, else its
        # word's log(freq) - log(total) (a small table: the first lookup at each position)
        self.chars: dict[str, Any] = {}
        start, trans, emit = finalseg.start_P, finalseg.trans_P, finalseg.emit_P
        low = finalseg.MIN_FLOAT
        self.min_float = low
        self.start = tuple(start[y] for y in "BMES")
        self.emit = tuple(emit[y] for y in "BMES")
        # the transitions jieba's Viterbi pass weighs (finalseg.PrevStatus): B ← E S, M ← M B, S ← S E, E ← B M
        self.trans = (trans["E"].get("B", low), trans["S"].get("B", low), trans["M"].get("M", low),
                      trans["B"].get("M", low), trans["S"].get("S", low), trans["E"].get("S", low),
                      trans["B"].get("E", low), trans["M"].get("E", low))

    def __call__(self, text: str) -> list[tuple[int, int, str]]:
        out: list[tuple[int, int, str]] = []
        append = out.append
        pos = 0
        # re.split with one group: odd pieces are the blocks jieba segments, even ones the rest
        for k, blk in enumerate(self.re_han.split(text)):
            if k & 1:
                pos = self._cut_block(blk, pos, out)
            else:
                for ch in blk:  # jieba yields these one character at a time (whitespace runs dropped here)
                    if not ch.isspace():
                        append((pos, pos + 1, ch))
                    pos += 1
        return out

    def _cut_block(self, sentence: str, pos: int, out: list[tuple[int, int, str]]) -> int:
        """jieba's ``Tokenizer.__cut_DAG`` on one block: its words appended to ``out`` from offset
        ``pos`` on; returns the offset after them."""
        freq, logtotal = self.freq, self.logtotal
        n = len(sentence)
        # route: for each position the best (log probability, end of its first word), right to left;
        # log(freq) - logtotal + rest, the greatest (probability, end) pair, as jieba's calc
        best_p = [0.0] * (n + 1)
        best_x = [0] * (n + 1)
        log = _log
        alone = 0.0 - logtotal  # a character no word starts with: frequency 1
        chars = self.chars
        for idx in range(n - 1, -1, -1):
            c = sentence[idx]
            v = chars.get(c, chars)
            if v is chars:
                f = freq.get(c)
                v = chars[c] = None if f is None else log(f) - logtotal if f else False
            if v is None:  # no word starts with this character
                best_p[idx] = alone + best_p[idx + 1]
                best_x[idx] = idx
                continue
            i = idx + 1
            bp = None if v is False else v + best_p[i]
            bx = idx
            while i < n:
                i += 1
                f = freq.get(sentence[idx:i])
                if f is None:
                    break
                if f:
                    p = log(f) - logtotal + best_p[i]
                    if bp is None or p >= bp:
                        bp = p
                        bx = i - 1
            best_p[idx] = alone + best_p[idx + 1] if bp is None else bp
            best_x[idx] = bx
        append = out.append
        x = 0
        run = -1  # where the current run of single characters started
        while x < n:
            y = best_x[x] + 1
            if y - x == 1:
                if run < 0:
                    run = x
            else:
                if run >= 0:
                    pos = self._flush(sentence[run:x], pos, out)
                    run = -1
                append((pos, pos + y - x, sentence[x:y]))
                pos += y - x
            x = y
        if run >= 0:
            pos = self._flush(sentence[run:], pos, out)
        return pos

    def _flush(self, buf: str, pos: int, out: list[tuple[int, int, str]]) -> int:
        """A run of single characters: as it is when the dictionary knows it, else the HMM's words."""
        if len(buf) == 1:
            out.append((pos, pos + 1, buf))
            return pos + 1
        if not self.freq.get(buf):
            words = self.hmm_cache.get(buf)
            if words is None:
                if len(self.hmm_cache) >= self._HMM_CACHE_MAX:
                    self.hmm_cache.clear()
                words = self.hmm_cache[buf] = self._hmm_cut(buf)
        else:
            words = buf
        for w in words:
            end = pos + len(w)
            out.append((pos, end, w))
            pos = end
        return pos

    def _hmm_cut(self, sentence: str) -> list[str]:
        """jieba's ``finalseg.cut``."""
        out: list[str] = []
        for k, blk in enumerate(self.hmm_re_han.split(sentence)):
            if k & 1:
                for word in self._viterbi_words(blk):
                    if word not in self.force_split:
                        out.append(word)
                    else:
                        out.extend(word)
            else:
                out.extend(x for x in self.hmm_re_skip.split(blk) if x)
        return out

    def _emission(self, c: str) -> tuple[float, float, float, float]:
        """The emission log probabilities of a character in states B M E S (jieba's floor where none)."""
        low = self.min_float
        found = self.emission[c] = tuple(e.get(c, low) for e in self.emit)  # type: ignore[assignment]
        return found  # type: ignore[return-value]

    def _viterbi_words(self, obs: str) -> list[str]:
        """jieba's ``finalseg.__cut``: the Viterbi pass over states B M E S, then the words.

        Each state's score is max((score of the previous state + transition + emission, previous
        state)) as in ``finalseg.viterbi``, ties going to the greater state letter."""
        tEB, tSB, tMM, tBM, tSS, tES, tBE, tME = self.trans
        sB, sM, sE, sS = self.start
        emission = self.emission
        emit = emission.get(obs[0]) or self._emission(obs[0])
        vB, vM, vE, vS = sB + emit[0], sM + emit[1], sE + emit[2], sS + emit[3]
        back: list[tuple[str, str, str, str]] = []  # per step, the previous state of B, M, E, S
        for c in obs[1:]:
            emB, emM, emE, emS = emission.get(c) or self._emission(c)
            p1, p2 = vE + tEB + emB, vS + tSB + emB
            nB, fB = (p2, "S") if p2 >= p1 else (p1, "E")
            p1, p2 = vM + tMM + emM, vB + tBM + emM
            nM, fM = (p2, "B") if p2 > p1 else (p1, "M")
            p1, p2 = vS + tSS + emS, vE + tES + emS
            nS, fS = (p2, "E") if p2 > p1 else (p1, "S")
            p1, p2 = vB + tBE + emE, vM + tME + emE
            nE, fE = (p2, "M") if p2 >= p1 else (p1, "B")
            vB, vM, vE, vS = nB, nM, nE, nS
            back.append((fB, fM, fE, fS))
        state = "S" if vS >= vE else "E"
        states = [state]
        for fB, fM, fE, fS in reversed(back):
            state = fB if state == "B" else fM if state == "M" else fE if state == "E" else fS
            states.append(state)
        states.reverse()
        words: list[str] = []
        begin = nexti = 0
        for i, pos in enumerate(states):
            if pos == "B":
                begin = i
            elif pos == "E":
                words.append(obs[begin : i + 1])
                nexti = i + 1
            elif pos == "S":
                words.append(obs[i])
                nexti = i + 1
        if nexti < len(obs):
            words.append(obs[nexti:])
        return words


class _Doc:
    """What the components read of a spaCy ``Doc``: ``text`` and ``user_data`` (tokens precomputed)."""

    __slots__ = ("text", "user_data")

    def __init__(self, text: str):
        self.text = text
        self.user_data: dict[str, Any] = {"kg_text": text, "kg_tokens": segment(text)}


# ---------------------------------------------------------------- components

_SENTENCE_END = re.compile(r"[。！？!?；;\n]+|(?<=[a-z0-9\)])\.(?=\s)|…{1,2}")


_SENTENCE_END_CHAR = re.compile(r"[。！？!?；;\n.…]")  # what each _SENTENCE_END alternative starts with


def find_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans of ``text`` (end punctuation included)."""
    spans, start = [], 0
    for m in _finditer_from(_SENTENCE_END, text, (m.start() for m in _SENTENCE_END_CHAR.finditer(text))):
        if text[start : m.end()].strip():
            spans.append((start, m.end()))
        start = m.end()
    if text[start:].strip():
        spans.append((start, len(text)))
    return spans or [(0, len(text))]


def _text(doc) -> str:
    text = doc.user_data.get("kg_text")
    if text is None:
        text = doc.user_data["kg_text"] = doc.text
    return text


def kg_sentences(doc):
    doc.user_data["kg_sentences"] = find_sentences(_text(doc))
    return doc


_DATE_RE = re.compile(
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


#: where a date can start: a run of digits (each Arabic alternative is preceded by no digit), or
#: four Chinese digits before 年 (at any of its positions: no lookbehind)
_DIGIT_RUN = re.compile(r"\d+")
_ZH_YEAR_START = re.compile(r"[〇零一二三四五六七八九](?=[〇零一二三四五六七八九]{3}年)")


def _date_starts(text: str) -> list[int]:
    return sorted(_run_starts(_DIGIT_RUN, text) + _run_starts(_ZH_YEAR_START, text))


def kg_dates(doc):
    text = _text(doc)
    starts = _date_starts(text)
    doc.user_data["kg_dates"] = [(m.start(), m.end(), normalise_date(m)) for m in _finditer_from(_DATE_RE, text, starts)]
    return doc


_BRACKET_TITLE = re.compile(r"《([^《》\n]{1,200})》")
_QUOTED = re.compile(r"[“\"]([A-Za-z][^“”\"\n]{3,200})[”\"]")
_PERIODICAL_END = ("报", "日报", "时报", "晚报", "周刊", "杂志", "新闻")


def kg_titles(doc):
    text = _text(doc)
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
        _add(doc, s, e, kind, "title_brackets", 90)
    for m in _QUOTED.finditer(text):
        if len(m.group(1).split()) >= 3:
            _add(doc, m.start(1), m.end(1), "Paper", "title_quotes", 85)
    return doc


_EN_WORD = r"[A-Za-z][A-Za-z0-9\-'’]*"
_EN_SEGMENT = re.compile(rf"{_EN_WORD}(?:[ \t]*[:,&+/]?[ \t]*(?:{_EN_WORD}|\d+))*[?!]?")
_EN_WORD_RE = re.compile(_EN_WORD)
_SMALL_WORDS = {"a", "an", "the", "and", "or", "of", "for", "to", "in", "on", "with", "by", "via", "from", "at",
                "as", "is", "are", "be", "all", "you", "them", "it", "its", "into", "over", "vs", "not", "do", "what"}


def _looks_like_title(words: list[str]) -> bool:
    if len(words) < 3:
        return False
    content = [w for w in words if w.lower() not in _SMALL_WORDS]
    if not content:
        return False
    capital = sum(1 for w in content if w[0].isupper() or any(c.isdigit() for c in w))
    return capital / len(content) >= 0.75


@lru_cache(maxsize=1)
def _first_names() -> frozenset[str]:
    return frozenset(_read_words("first_names_latin.txt"))


def _latin_person(words: list[str]) -> bool:
    """Two to four capitalised words starting with a known given name (Gaius Plinius Secundus)."""
    return 2 <= len(words) <= 4 and words[0] in _first_names() and all(
        re.fullmatch(r"[A-Z][a-z]+", w) for w in words)


def kg_english_titles(doc):
    text = _text(doc)
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
        if _latin_person(words) and not set(words) & _resources().org_suffixes_en:
            end = m.start() + seg.rfind(words[-1]) + len(words[-1])
            if end >= len(text) or not text[end].isalpha():  # whole words only (not Kekul of Kekulé)
                _add(doc, m.start(), end, "Person", "latin_person", 70)
            continue
        before = text[: m.start()].rstrip()
        after = text[m.start() + len(seg) :].lstrip()
        # a sentence inside Chinese prose is not a title; a line or a segment of a title line is
        if before.endswith(("《", "“", '"')) or after.startswith(("(", "（")) and len(words) < 3:
            continue
        _add(doc, m.start(), m.start() + len(seg), "Paper", "english_title", 60)
    return doc


_ACRONYM_DEF = re.compile(
    r"(?P<long>(?:[A-Z][A-Za-z0-9\-]*|[a-z][a-z\-]*)(?:[ \t]+(?:[A-Z][A-Za-z0-9\-]*|of|for|and|the|with|in|on|to|a)){1,8})"
    r"[ \t]*[(（][ \t]*(?P<abbr>[A-Z][A-Za-z0-9\-]*[A-Z0-9][A-Za-z0-9\-]*)[ \t]*[)）]"
)
_ACRONYM_RUN = re.compile(r"[A-Za-z0-9\- \t]+")
_ABBR_RE = re.compile(r"(?<![A-Za-z0-9\-])[A-Z][A-Za-z0-9\-]*[A-Z0-9](?![A-Za-z0-9\-])")


def _initials_match(long: str, abbr: str) -> bool:
    letters = [c for c in abbr.upper() if c.isalpha()]
    parts = [p for p in re.split(r"[\s\-]+", long) if p]
    initials = "".join(p[0].upper() for p in parts if p.lower() not in _SMALL_WORDS or p[0].isupper())
    it = iter(initials + "".join(c.upper() for c in long if c.isupper()))
    return bool(letters) and letters[0] == parts[0][0].upper() and all(c in it for c in letters[1:])


def find_acronyms(text: str) -> list[tuple[int, int, int, int]]:
    """``(long_start, long_end, abbr_start, abbr_end)`` of each "Long Name (ABBR)" in ``text``."""
    found = []
    # the long form and the spaces after it are a run of Latin letters, digits, dashes and spaces that
    # ends at the bracket: a definition starts inside such a run
    starts = (p for m in _ACRONYM_RUN.finditer(text) if text.startswith(("(", "（"), m.end()) for p in range(m.start(), m.end()))
    for m in _finditer_from(_ACRONYM_DEF, text, starts):
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


def kg_acronyms(doc):
    text = _text(doc)
    res = _resources()
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
        _add(doc, ls, le, kind, "acronym", 95)
        _add(doc, as_, ae, kind, "acronym", 95)
    doc.user_data["kg_acronyms"] = defs
    return doc


_MODEL_NAME = re.compile(r"(?<![A-Za-z0-9\-])(?=[A-Za-z0-9\-]*\d)(?=(?:[A-Za-z0-9\-]*[A-Z]){2})[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*(?![A-Za-z0-9\-])")


_LATIN_WORD = re.compile(r"(?<![A-Za-z0-9\-_.])[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*(?![A-Za-z0-9_])")
#: an acronym in capitals (TCN, STGCN) or a CamelCase name with a capital run or a -Net ending (CubicLSTM, WaveNet)
_CAPS_NAME = re.compile(r"[A-Z][A-Z0-9]{1,7}s?")
_CAMEL_NAME = re.compile(r"(?:[A-Z][a-z]+)+(?:[A-Z]{2,}[a-z]*|Net|Nets|Former|former)(?:[A-Z][a-z]+|[A-Z]{2,})*|[A-Z][a-z]+[A-Z]{2,}[A-Za-z]*")
#: words around a Latin name that make it a named model, method or paper
_MODEL_CUE_BEFORE = ("模型之", "模型", "算法", "网络", "论文", "方法", "框架之", "利用", "使用", "基于", "提出")
_MODEL_CUE_AFTER = ("模型", "论文", "网络", "算法", "架构", "方法", "详解", "原理", "解读")


def _common_acronyms() -> frozenset[str]:
    return frozenset(w.casefold() for w in _read_words("common_acronyms.txt"))


def _is_technical(text: str, words: "list[re.Match] | None" = None) -> bool:
    """A note about technology: many distinct Latin words in its prose (``words``: its _LATIN_WORD matches)."""
    found = _LATIN_WORD.findall(text) if words is None else [m.group(0) for m in words]
    return len({w.casefold() for w in found if len(w) >= 2}) >= 12


def kg_model_names(doc):
    """Named models (Paper): capitals and digits (L2MT, GPT-3, YOLOv3); in technical notes also
    acronyms (TCN, STGCN), CamelCase names (CubicLSTM, LightNet, Graph WaveNet) and Latin words
    a model word stands beside (模型SDM, 使用Resnet模型).  Common acronyms, units, conference and
    organisation abbreviations (GPU, API, PDF, CVPR, MIT) are left out."""
    text = _text(doc)
    res = _resources()
    for m in _finditer_from(_MODEL_NAME, text, _alnum_runs(doc)):
        _add(doc, m.start(), m.end(), "Paper", "model_name", 62)
    words = _latin_words(doc)
    if not _is_technical(text, words):
        return doc
    common = res.common_acronyms
    for m in words:
        word = m.group(0)
        s, e = m.start(), m.end()
        folded = word.casefold()
        if folded in common or folded in _SMALL_WORDS:
            continue
        before = text[max(0, s - 3) : s]
        after = text[e : e + 2]
        cue = before.endswith(_MODEL_CUE_BEFORE) or after.startswith(_MODEL_CUE_AFTER)
        if (word in res.conferences or word.upper() in res.conferences) and not cue:
            continue  # a venue (CVPR), unless a model word stands beside it (模型SDM)
        caps = bool(_CAPS_NAME.fullmatch(word)) and len(word.rstrip("s")) >= 3
        camel = bool(_CAMEL_NAME.fullmatch(word))
        if not (caps or camel or (cue and word[0].isupper() and len(word) >= 3)):
            continue
        # a capitalised word just before a CamelCase name belongs to it (Graph WaveNet, Self-Attention ConvLSTM)
        if camel:
            p = re.search(r"(?<![A-Za-z0-9\-])([A-Z][a-z]+(?:-[A-Z][a-z]+)?)[ \t]$", text[max(0, s - 30) : s])
            if p and p.group(1).casefold() not in common and p.group(1).lower() not in _SMALL_WORDS:
                s -= len(p.group(0))
        _add(doc, s, e, "Paper", "model_name", 61 if cue or camel else 58)
    return doc


#: a whole run of letters followed by a number: the only places a _CONFERENCE_YEAR match starts
#: (its letters are a whole run: a letter after them would stop the year)
_LETTERS_BEFORE_NUMBER = re.compile(r"(?<![A-Za-z])[A-Za-z]++(?=[ \t]*'?\d)")
_CONFERENCE_YEAR = re.compile(r"(?<![A-Za-z])([A-Za-z]{2,12})[ \t]*'?((?:19|20)\d\d|\d\d)(?!\d)")


def kg_conferences(doc):
    res = _resources()
    text = _text(doc)
    for m in _finditer_from(_CONFERENCE_YEAR, text, _run_starts(_LETTERS_BEFORE_NUMBER, text)):
        if m.group(1) in res.conferences or m.group(1).upper() in res.conferences:
            _add(doc, m.start(), m.end(), "Event", "conference_year", 92)
    return doc


#: river endings: a known place or mountain's name before them names a river (富士山 → 富士川)
_RIVER_RE = re.compile(r"([\u3400-\u9fff]{2,4}?)(川|江|河)")
#: a Latin name in brackets after a Chinese transliteration (斯通博利式(Stromboli), 武尔卡诺(Vulcano))
_LATIN_GLOSS = re.compile(r"([\u3400-\u9fff]{2,8})[ \t]*[(（][ \t]*([A-Z][a-z]{2,}(?:[ \t][A-Z][a-z]{2,}){0,2})[ \t]*[)）]")
#: words naming a kind of place, after a transliteration (X火山, X岛), or saying it is one (是一座火山)
_PLACE_KIND = ("火山", "群岛", "岛", "山", "湖", "河")


_RIVER_END = re.compile("[川江河]")


def _river_names(doc, text: str, res: _Resources) -> None:
    """Rivers named after a known place or mountain: X + 川/江/河 where X or X山 is a known place
    (富士山 → 富士川); the ending must not start an everyday word (河流, 江湖)."""
    for m in _RIVER_END.finditer(text):
        i = m.start()
        if i < 2:
            continue
        e = i + 1
        if not _is_terminator(text, e, res) or res.freq.get(text[i : i + 2], 0) >= 30:
            continue
        for n in (4, 3, 2):
            s = i - n
            if s < 0:
                continue
            prefix = text[s:i]
            if not all(_is_cjk(c) for c in prefix):
                continue
            known = prefix + "山" in res.places or (prefix in res.places and prefix not in res.countries)
            if known and text[s:e] not in res.places and (s == 0 or not _is_cjk(text[s - 1]) or _left_boundary(text, s, res)):
                _add(doc, s, e, "Place", "river_name", 66)
                break


_OPEN_BRACKET = re.compile("[(（]")


def _gloss_starts(text: str) -> list[int]:
    """Where a _LATIN_GLOSS match can start (ascending): two to eight CJK characters before an
    opening bracket, spaces or tabs between."""
    out: list[int] = []
    for m in _OPEN_BRACKET.finditer(text):
        r = m.start()
        while r > 0 and text[r - 1] in " \t":
            r -= 1
        s = r
        while s > 0 and r - s < 8 and "\u3400" <= text[s - 1] <= "\u9fff":
            s -= 1
        out.extend(range(s, r - 1))
    return out


#: what says a name is a landform: 是一座火山, 为岛
_IS_PLACE = re.compile(r"(?:是|为)(?:一座|一个|座)?(?:活|死|海底)?(?:火山|岛|山)")


def _says_place_after(window: str, stem: str) -> bool:
    """Whether ``stem`` stands somewhere in ``window`` right before _IS_PLACE (武尔卡诺是一座火山)."""
    j = window.find(stem)
    while j >= 0:
        if _IS_PLACE.match(window, j + len(stem)):
            return True
        j = window.find(stem, j + 1)
    return False


def _latin_place_glosses(doc, text: str, res: _Resources) -> None:
    """A Latin name glossing a transliteration is a place when the transliteration stands before a
    place-kind word (火山, 岛) nearby, or the text says it is one (武尔卡诺是一座火山)."""
    for m in _finditer_from(_LATIN_GLOSS, text, _gloss_starts(text)):
        stem = m.group(1)
        if stem.endswith("式"):
            stem = stem[:-1]
        # the transliteration: the longest tail of the Chinese run made of transliteration characters
        k = len(stem)
        while k > 0 and stem[k - 1] in res.translit:
            k -= 1
        stem = stem[k:] if len(stem) - k >= 2 else stem[-4:]
        if len(stem) < 2:
            continue
        window = text[max(0, m.start() - 80) : m.end() + 80]
        cue = any(stem + w in window for w in _PLACE_KIND) or _says_place_after(window, stem)
        if cue:
            _add(doc, m.start(2), m.end(2), "Place", "latin_place", 68)


def kg_gazetteer(doc):
    res = _resources()
    text = _text(doc)
    toks = _tokens(doc)
    starts = _token_starts(doc)
    for m in res.place_re.finditer(text):
        s, e = m.start(), m.end()
        # a place name glued into a longer dictionary word is not a mention (东京湾 is fine, 中国人 too);
        # one starting inside a dictionary place word names that whole place (伪满洲国, not 满洲)
        k = bisect_right(starts, s) - 1
        if (k >= 0 and toks[k][0] < s and toks[k][1] >= e and s - toks[k][0] <= 2 and len(toks[k][2]) <= 6
                and res.tags.get(toks[k][2]) == "ns" and not res.place_re.match(text, toks[k][0])):
            _add(doc, toks[k][0], toks[k][1], "Place", "gazetteer", 70)
            continue
        _add(doc, s, e, "Place", "gazetteer", 70)
    _river_names(doc, text, res)
    _latin_place_glosses(doc, text, res)
    return doc


_ORDINAL = re.compile(r"第[一二三四五六七八九十\d]+次$")
_NUMERAL = re.compile(r"^[\d一二三四五六七八九十〇零百千两]+$")


def _proper_ish(tok: str, res: _Resources, allow_numeral: bool) -> bool:
    if tok in res.stopwords or tok in res.roles:
        return False
    if tok.isascii():
        return tok[:1].isalpha() or (allow_numeral and tok.isdigit())
    if allow_numeral and (_NUMERAL.match(tok) or _ORDINAL.match(tok)):
        return True
    if not all(_is_cjk(c) for c in tok):
        return False
    tag = res.tags.get(tok)
    if tag is None:
        return len(tok) >= 2 or tok in res.places
    if tag in _FUNCTION_TAGS or (tag in ("m", "mq") and not allow_numeral):
        return False
    if len(tok) == 1 and tag not in ("ns", "nr", "j", "nz"):
        return False
    return True


_SUFFIX_CACHE: dict[str, tuple[str, str] | None] = {}


def _suffix_type(tok: str, res: _Resources) -> tuple[str, str] | None:
    """(type, suffix) when a token ends with an event, organisation or place word."""
    try:
        return _SUFFIX_CACHE[tok]
    except KeyError:
        found = _SUFFIX_CACHE[tok] = _suffix_type_uncached(tok, res)
        return found


def _suffix_type_uncached(tok: str, res: _Resources) -> tuple[str, str] | None:
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


_ORG_STOP_PREFIX = {"所有", "全部", "各个", "各", "整个", "这些", "那些", "一些", "许多", "多个", "地下", "自己", "我们", "他们"}
#: two short names coordinated before a group noun: 三井和三菱两家财阀, 美团与滴滴等公司
_COORD_ORGS = re.compile(
    r"(?<![\u3400-\u9fff])?([\u3400-\u9fff]{2})(?:和|与|及|、)([\u3400-\u9fff]{2})(?:两家|二家|几家|等)?(?=财阀|集团|家族|公司|银行|企业)"
)
_GROUP_NOUN = re.compile(r"财阀|集团|家族|公司|银行|企业")
_LATIN_ORG = re.compile(
    r"(?<![A-Za-z0-9\-])([A-Z][A-Za-z0-9]+(?:[ \t][A-Z][A-Za-z0-9]+){0,2})"
    r"(?=网站|公司|团队|新研究|研究院|实验室|平台|官方|开源|发布|推出|提出|收购|的研究)"
)


def _known_orgs(doc, text: str, res: _Resources) -> None:
    """Well-known organisations from the general lexicon (百度, 谷歌, 军统, 翰林院), as whole words."""
    toks, starts = _tokens(doc), _token_starts(doc)
    for m in res.org_re.finditer(text):
        s, e = m.start(), m.end()
        if e < len(text) and text[e] in _TRANSLIT_SEP:
            continue  # 阿里·哈梅内伊 is a person
        left = s == 0 or not _is_cjk(text[s - 1]) or _starts_token(starts, s) or text[s - 1] in _FUNCTION_CHARS
        right = e >= len(text) or not _is_cjk(text[e]) or _ends_token(toks, starts, e) or text[e] in _FUNCTION_CHARS
        if left and right:
            _add(doc, s, e, "Organization", "org_lexicon", 82)
    for m in _latin_words(doc):
        if m.group(0) in res.orgs:
            _add(doc, m.start(), m.end(), "Organization", "org_lexicon", 82)


#: a unit's name in quotes after its unit word: 突击团“斯卡拉”, 第3旅“野地”
_QUOTED_UNIT = re.compile(r"(?:团|旅|营|师|部队|大队|中队|分队|支队|舰队|军团)[“「\"]([\u3400-\u9fffA-Za-z·]{2,8})[”」\"]")
#: numbered military units: 155旅, 第128独立重型机械化旅, 第17兵团, 演剧二队
_UNIT_RE = re.compile(
    r"(?<![\d０-９])(?:第)?(?P<num>\d{1,4}|[一二三四五六七八九十百]{1,4})"
    r"(?P<mid>(?:独立|重型|机械化|摩托化|装甲|空降|空中突击|海军陆战|步兵|炮兵|坦克|山地|突击|近卫|警卫|特种|快速反应|领土防卫){0,4})"
    r"(?P<unit>旅|师|集团军|兵团|军团|纵队|支队|大队|中队|团|军|舰队)(?![\u3400-\u9fff]{0,1}长)"
)
_UNIT_START = re.compile(r"[第\d一二三四五六七八九十百]")  # where a _UNIT_RE match starts
_UNIT_PREFIX_WORD = re.compile(r"[\u3400-\u9fff]{1,6}(?:军|营|部|队)?$")


def _military_units(doc, text: str, res: _Resources) -> None:
    """Numbered units (155旅, 第128独立重型机械化旅): digits, or a 第 ordinal, and a unit word."""
    for m in _finditer_from(_UNIT_RE, text, (m.start() for m in _UNIT_START.finditer(text))):
        num, mid, unit = m.group("num"), m.group("mid"), m.group("unit")
        arabic = num.isdigit()
        if not arabic and not m.group(0).startswith("第"):
            continue  # 三个团, 两个师 are counts; Chinese numerals need 第
        if unit in ("团", "军") and not (arabic or mid) :
            continue  # 第一军 is a unit but 第三团 too often a count; keep the clear ones
        if arabic and len(num) == 4 and num.startswith(("19", "20")):
            continue  # a year (1950年) never stands here, but 2018师 would be odd
        e = m.end()
        if e < len(text) and text[e] in "人名个次位":
            continue
        _add(doc, m.start(), e, "Organization", "military_unit", 80)


def kg_org_context(doc):
    """Organisations told by their context: coordinated names before a group noun, Latin names
    before an organisation word (Kaggle网站, DeepMind新研究)."""
    res = _resources()
    text = _text(doc)
    _known_orgs(doc, text, res)
    _military_units(doc, text, res)
    # a match ends before a group noun, five to seven characters after its start
    heads = sorted({p for m in _GROUP_NOUN.finditer(text) for p in range(m.start() - 7, m.start() - 4) if p >= 0})
    for m in _finditer_from(_COORD_ORGS, text, heads):
        for g in (1, 2):
            name = m.group(g)
            if name not in res.stopwords and res.tags.get(name) not in _FUNCTION_TAGS and not _NUMERAL.match(name):
                _add(doc, m.start(g), m.end(g), "Organization", "coordinated_org", 79)
    for m in _QUOTED_UNIT.finditer(text):
        name = m.group(1)
        if res.tags.get(name) in _VERBISH or (res.tags.get(name[0]) in ("d", "ad", "v") and not all(c in res.translit for c in name)):
            continue  # 部队"缓炸": a quoted verb, not a unit's name
        if name not in res.stopwords and not re.match(r"(?:团|旅|营|师|部队|大队|中队|分队|支队)", text[m.end():]):
            _add(doc, m.start(1), m.end(1), "Organization", "unit_name", 81)  # not 旅“野地”旅: a nickname of the unit before
    common = res.common_acronyms
    for m in _finditer_from(_LATIN_ORG, text, _alnum_runs(doc)):
        name = m.group(1)
        if name.casefold() in common or _CAPS_NAME.fullmatch(name) or _CAMEL_NAME.fullmatch(name):
            continue
        _add(doc, m.start(1), m.end(1), "Organization", "latin_org", 63)
    return doc


#: event words that are verbs or kinds: the name before them must be proper (清兵屠杀, 农民起义 are no events)
_EVENT_VERB_HEADS = frozenset("屠杀 大屠杀 起义 暴动 叛乱 封锁 审判 行动 选举 大选 公投 政变 兵变 革命 改革 运动 "
                              "喷发 爆发 地震 海啸 西征 东征 远征 北伐 长征 抗战 危机 内战 维新 变法".split())
#: event words of natural events, whose names hold a place (汤加火山喷发, 汶川地震)
_NATURE_HEADS = frozenset("喷发 爆发 地震 大地震 海啸".split())
#: words that may stand between a proper name and an event word (印度民族大起义, 汤加火山大喷发)
_EVENT_INFIX = frozenset("民族 人民 农民 工人 学生 大 火山 独立 解放 反 武装 军民 军队 守军 海军 陆军 空军".split())
#: event words naming games and fairs: after a country they name its team (乌克兰奥运会冠军), not the event
_HOSTED = ("奥运会", "冬奥会", "世界杯", "博览会", "世博会", "亚运会")
#: event words that in technical prose name a protocol or a program event (UDP协议, 鼠标事件)
_TECH_HEADS = ("协议", "协定", "事件", "行动", "运动")
#: event words after which a common noun alone may name the event (广场协议): treaties and meetings
_NOUN_HEADS = frozenset("协议 协定 条约 公约 宣言 会议 峰会 大会 全会".split())
_EVENT_ORDINAL = re.compile(r"^第[一二三四五六七八九十\d]+[次届]$")
_YEAR_NUMERAL = re.compile(r"^(?:1\d{3}|20\d\d|[〇零一二三四五六七八九]+)$")
#: a determiner or a count before an event word (这是, 下一场, 一场, 两次, 这场): never part of the name
_COUNT_PREFIX = re.compile(r"^(?:[这那此该某每哪其本另各诸是]|[下上前后首末]?[一二两三四五六七八九十几数多]+[场次起轮回届个种份家位名大])")


def _event_token_kind(tok: str, res: _Resources) -> str | None:
    """How a token before an event word counts: 'strong' (a proper name, a number-year), 'ordinal',
    'infix', 'noun' (a common noun, not generic), or None (it ends the name)."""
    if tok in res.event_modifiers or tok in res.stopwords or tok in res.roles:
        return None
    if _EVENT_ORDINAL.match(tok):
        return "ordinal"
    if _YEAR_NUMERAL.match(tok):
        return "year"
    if tok.isascii():
        return "latin" if tok[:1].isalpha() else None
    if not all(_is_cjk(c) for c in tok) or _COUNT_PREFIX.match(tok):
        return None
    if tok in _EVENT_INFIX:
        return "infix"
    if len(tok) <= 3 and all(c in res.country_abbr for c in tok) and len(tok) >= 2:
        return "strong"
    if len(tok) == 1:  # an abbreviation counts only in a pair (英缅), a transliteration character beside one
        if tok in res.country_abbr:
            return "abbr"
        return "tchar" if tok in res.translit and res.tags.get(tok) not in _FUNCTION_TAGS else None
    tag = res.tags.get(tok)
    if tok in res.places or tag in ("ns", "nr", "nrfg", "nrt", "nz", "j"):
        return "strong"
    if tag in _FUNCTION_TAGS or tag in ("m", "mq", "b"):
        return None
    if tag is None or all(c in res.translit for c in tok):
        return "strong" if tok[0] not in _FUNCTION_CHARS and tok[-1] not in _FUNCTION_CHARS else None
    return "strong" if res.freq.get(tok, 0) < 100 else "noun"  # a rare noun is a name (硫黄岛, 钟离)


def _part_text(text: str, parts: list, k: int, end: int) -> str:
    return text[parts[k][0] : parts[k + 1][0] if k + 1 < len(parts) else end]


def _event_at(doc, text: str, toks: list, i: int, suffix: str, res: _Resources) -> None:
    """An event name ending in the event word of token ``i``: proper names, a number-year, an
    ordinal (第一次) and a few infix words before it; function-word prefixes (这是, 下一场) trimmed;
    generic modifiers (秘密, 重要) and lone common nouns before verb-like heads rejected."""
    s, e, tok = toks[i]
    verbish = suffix in _EVENT_VERB_HEADS
    if suffix in ("喷发", "爆发") and not (tok.startswith("火山") or text.endswith(("火山", "火山大"), 0, s)):
        return  # 战争爆发 is no event; a named 火山 喷发 is
    parts: list[tuple[int, str]] = []  # (start, kind) of the prefix tokens, left to right
    if len(tok) > len(suffix):
        prefix = tok[: len(tok) - len(suffix)]
        kind = _event_token_kind(prefix, res)
        if prefix.startswith("火山"):
            kind = "infix"
        elif res.tags.get(tok) is not None:
            # a dictionary event name (鸦片战争, 明治维新, 秘密会议): generic and count prefixes rejected,
            # only an ordinal before it
            if prefix in res.event_modifiers or _COUNT_PREFIX.match(prefix) or prefix in res.stopwords:
                return
            kind = "whole"
        if kind is None or kind in ("abbr", "year") and not _YEAR_NUMERAL.match(prefix):
            return
        parts.append((s, kind))
    j = i - 1
    start = s
    while j >= 0 and i - j <= 4:
        ps, pe, ptok = toks[j]
        if pe != start or e - ps > 14:
            break
        if parts and parts[0][1] == "whole":
            if not _EVENT_ORDINAL.match(ptok):
                break
            kind = "ordinal"
        else:
            kind = _event_token_kind(ptok, res)
        if kind is None or (parts and parts[0][1] == "ordinal"):
            break
        if kind == "noun" and any(k not in ("infix",) for _, k in parts):
            break  # a common noun before a proper name is not part of it (志愿者投身西班牙内战)
        parts.insert(0, (ps, kind))
        start = ps
        j -= 1
    # trim from the left: infix words and a lone common noun before a proper name are not the name's start
    while parts and (parts[0][1] == "infix" or (parts[0][1] == "ordinal" and len(parts) > 1 and parts[1][1] not in ("strong", "abbr", "latin", "whole", "noun"))):
        parts.pop(0)
    # a one-character abbreviation stands only beside another (英缅战争; 比谢尔久科夫改革 is 比 + a name)
    for k in range(len(parts) - 1, -1, -1):
        glued = lambda x, want: 0 <= x < len(parts) and (  # noqa: E731
            parts[x][1] == want or parts[x][1] == "strong" and all(c in pool for c in _part_text(text, parts, x, e - len(suffix))))
        pool = res.country_abbr if parts[k][1] == "abbr" else res.translit
        if parts[k][1] in ("abbr", "tchar") and not (glued(k - 1, parts[k][1]) or glued(k + 1, parts[k][1])):
            del parts[: k + 1]
            break
    # a country before another proper name only locates it (菲律宾皮纳图博火山爆发, 美国珍珠港事件)
    if len(parts) >= 2 and parts[0][1] == "strong" and parts[1][1] in ("strong", "latin"):
        if text[parts[0][0] : parts[1][0]] in res.countries:
            parts.pop(0)
    if not parts:
        return
    kinds = [k for _, k in parts]
    start = parts[0][0]
    name = text[start:e]
    abbrs = sum(1 for k in kinds if k == "abbr")
    if abbrs and abbrs < 2 and "strong" not in kinds:
        return
    if "year" in kinds:
        digits = "".join(_part_text(text, parts, x, e - len(suffix)) for x, k in enumerate(kinds) if k == "year")
        if not ("strong" in kinds or "whole" in kinds or len(digits) >= 2):
            return
    proper = any(k in ("strong", "whole", "latin", "year", "tchar") for k in kinds) or abbrs >= 2
    if not proper and (suffix not in _NOUN_HEADS or kinds[-1] == "ordinal" or "noun" not in kinds):
        return  # 清兵屠杀, 生平海战: a common noun names a treaty or a meeting (广场协议), nothing else
    if "latin" in kinds and suffix in _TECH_HEADS:
        return  # SIP协议, OpenCV鼠标事件
    if suffix in _HOSTED and any(_part_text(text, parts, x, e - len(suffix)) in res.countries for x in range(len(parts))):
        return  # 乌克兰奥运会冠军
    if name in res.stopwords or len(name) <= len(suffix):
        return
    _add(doc, start, e, "Event", "event_nature" if suffix in _NATURE_HEADS else "event_suffix", 80)


def _event_lexicon(doc, text: str, res: _Resources) -> None:
    """Events written without an event word, from a general list of a whole category (抗美援朝),
    and named banquets (千叟宴, 鸿门宴): a rare two-character name before 宴."""
    toks = _tokens(doc)
    starts = _token_starts(doc)
    for m in res.event_re.finditer(text):
        a, b = m.start(), m.end()
        left = a == 0 or not _is_cjk(text[a - 1]) or _starts_token(starts, a)
        right = b >= len(text) or not _is_cjk(text[b]) or _ends_token(toks, starts, b) or text[b] in _FUNCTION_CHARS
        if left and right:
            _add(doc, a, b, "Event", "event_lexicon", 78)
    for a, b, tok in (toks if "宴" in text else ()):
        if len(tok) == 3 and tok.endswith("宴") and tok[:2] not in res.event_modifiers and all(_is_cjk(c) for c in tok):
            prefix = tok[:2]
            if res.freq.get(prefix, 0) < 20 and not (set(prefix) & _FUNCTION_CHARS) and res.freq.get(tok, 0) < 1000:
                _add(doc, a, b, "Event", "event_banquet", 76)


def kg_suffix_names(doc):
    res = _resources()
    text = _text(doc)
    toks = _tokens(doc)
    _event_lexicon(doc, text, res)
    for i in _token_groups(doc)[_T_SUFFIX]:  # the tokens ending in a suffix word
        s, e, tok = toks[i]
        found = _suffix_type(tok, res)
        if not found:
            continue
        type_, suffix = found
        if type_ == "Event":
            _event_at(doc, text, toks, i, suffix, res)
            continue
        if type_ == "Organization" and (
            _ends_with_any(tok, len(tok), res.roles, res.role_lens)
            or (len(suffix) == 1 and len(tok) >= 2 and res.tags.get(tok) not in (None, "nt", "nz", "j", "ns"))
        ):
            continue  # a role (广州将军) or an everyday word ending in 军/党 (冠军, 敌军), not an organisation
        end = e - 1 if suffix == "党员" else e
        allow_numeral = type_ == "Event"
        tag = res.tags.get(tok)
        extend = True
        if len(tok) > len(suffix):
            prefix = tok[: len(tok) - len(suffix)] if suffix != "党员" else tok[:-2]
            if tag is not None and tag in _FUNCTION_TAGS:
                continue
            if not (tag in ("ns", "nt", "nz", "nr", "j", "n", "l", "i") or _proper_ish(prefix, res, allow_numeral)):
                continue
            # a complete dictionary name (明治维新, 鸦片战争) takes no place prefix
            extend = not (type_ == "Event" and tag is not None)
        elif type_ == "Place" and len(suffix) == 1:
            continue  # a lone 山/河/市 after a word is too weak
        generic = False
        if type_ == "Place":
            if tok in res.places or (tag == "ns" and len(tok) > len(suffix)):
                extend = False  # a gazetteer or dictionary place takes no prefix (不敢当广州将军, 海底平顶山)
            elif len(tok) > len(suffix) and tag is not None and tag not in ("nz", "j"):
                generic = True  # a common noun ending in a place word (火山, 机关, 城市) needs a proper name before it
                if tok in res.stopwords:
                    continue
        start = s
        j = i - 1
        while extend and j >= 0 and i - j <= 3:
            ps, pe, ptok = toks[j]
            if pe != start or not _proper_ish(ptok, res, allow_numeral) or end - ps > 14:
                break
            if type_ == "Place" and (ptok in res.orgs or ptok.endswith(("员", "人", "者"))
                                     or (_suffix_type(ptok, res) or ("",))[0] == "Organization"):
                break  # 国民党中统淮阴地区, 共产党员松岛: an organisation or a person word ends the place
            if generic and (ptok in res.places or not (all(c in res.translit for c in ptok) or res.tags.get(ptok) in ("ns", "nz")
                                                        or (tok in _LANDFORMS and not res.freq.get(ptok) and any(c in res.translit for c in ptok)))):
                break  # 汤加火山 is 汤加, 浅层火山 no place; an unknown word of transliteration is part of it (斯通博利火山)
            if type_ == "Organization" and (res.tags.get(ptok) in ("m", "mq", "r", "b") or _NUMERAL.match(ptok[:1])
                                            or ptok.endswith(("人", "员", "者")) or ptok in _ORG_STOP_PREFIX):
                break  # 所有部队, 八辆汽车, 负责人共产党员
            start = ps
            j -= 1
        if start == s and (len(tok) == len(suffix) or generic):
            continue  # nothing but the suffix word, or a common noun
        if suffix == "党员" and text[start:end].endswith("共党") and end - start >= 3:
            end -= 1  # 中共党员 → 中共
        name = text[start:end]
        if name in res.stopwords or len(name) < 2:
            continue
        if type_ == "Place":
            ntag = res.tags.get(name)
            if (ntag is not None and ntag not in ("ns", "nz", "j")) or (ntag is None and start == s):
                continue
            if _org_follows(text, end, res):
                continue  # 中统淮阴地区调查统计室: a place word inside an organisation's name
        priority = {"Event": 80, "Organization": 78, "Place": 55}[type_]
        _add(doc, start, end, type_, f"{type_.lower()}_suffix", priority)
    return doc


_TRANSLIT_SEP = "·•・‧"
#: landform nouns a transliterated name stands before (斯通博利火山)
_LANDFORMS = frozenset("火山 群岛 半岛 山脉 海峡 盆地 高原 平原 沙漠 运河 海湾 湖泊".split())
#: endings of an office or bureau name a region can stand inside (淮阴地区调查统计室)
_OFFICE_END = ("室", "处", "科", "股", "所", "局", "署", "部", "厅", "站", "委", "办")


def _org_follows(text: str, e: int, res: _Resources) -> bool:
    """Whether the words right after ``e`` (up to punctuation or a function character) end in an
    organisation or office word: the place before them is part of that organisation's name."""
    k = e
    while k < len(text) and k - e < 10 and _is_cjk(text[k]) and text[k] not in _FUNCTION_CHARS:
        k += 1
    run = text[e:k]
    if len(run) < 2:
        return False
    # an office word at the end, or one followed by a role (调查统计室主任)
    for cut in range(len(run), 1, -1):
        head = run[:cut]
        if head.endswith(res.org_suffixes) or head.endswith(_OFFICE_END) and (cut == len(run) or res.role_re.match(run, cut)):
            return True
    return False


#: characters a given name ends with only when a function word is glued on (揆叙可都 → 揆叙)
_WEAK_NAME_END = set("可被把将对从向为以于或就也都而又还很最更再已曾并但却则因如说等连虽便即乃仍竟亦均皆给让叫了的是在和与及着过得地所")
#: last characters that make a word a thing, a place or a group, not a person (石浦港, 海圻舰, 余生录, 幸存者)
_CATEGORY_END = set("港舰艇号录者城局部厂站馆队团党帮派式质性率权型化法论界学寨泊庄寺庙")


def _everyday_name_word(name: str, res: _Resources) -> bool:
    """A two-character dictionary word that jieba tags as a name but uses as an everyday word.

    jieba's ``nr`` tag covers many common words (阳光, 荣耀, 麻木, 师爷); real two-character
    names in its dictionary are rarer words.  A frequent word counts as everyday, unless it is also
    a reign or given name the dictionary knows as such in longer names (乾隆帝, 溥仪).
    """
    if len(name) != 2 or res.tags.get(name) not in _NAME_TAGS:
        return False
    return res.freq.get(name, 0) >= 100 and not res.freq.get(name + "帝") and not res.freq.get(name + "皇帝")


_KIN = re.compile(r"的?(?:侄子|侄女|儿子|女儿|妻子|丈夫|老婆|夫人|父亲|母亲|哥哥|弟弟|姐姐|妹妹|秘书|副官|亲信|学生|同学|部下|参议|舞伴|小舅子|外甥)")


def _person_context(text: str, s: int, e: int, res: _Resources) -> bool:
    """Whether ``text[s:e]`` stands where a person's name stands: after or before a role word,
    or before a kinship or retinue word (溥仪的侄子, 将军凤山, 党员张扬)."""
    if res.role_re.match(text, e) or _KIN.match(text, e):
        return True
    return _ends_with_any(text, s, res.roles, res.role_lens) or text.endswith("党员", 0, s)


def _plausible_person(text: str, s: int, e: int, res: _Resources) -> bool:
    """General checks on a span proposed as a person's name by the dictionary or a surname."""
    name = text[s:e]
    if name[-1] in _CATEGORY_END or name[-1] == "人":
        return False  # 石浦港, 海圻舰, 阿富汗人
    if _everyday_name_word(name, res) and not _person_context(text, s, e, res):
        return False
    if len(name) >= 4 and name[0] in res.surnames_zh and name[:2] not in res.surnames_zh and not any(
        name[:n] in res.surnames_ja for n in res.ja_lens if 2 <= n <= len(name)
    ) and not res.translit.issuperset(name):
        return False  # four characters after a one-character surname: an idiom (顾名思义, 尚方宝剑)
    if any(name.startswith(p) for p in _places_at(text, s, res)) or res.role_re.search(name, 1):
        return False  # 罗马城, 罗马教皇
    if res.translit.issuperset(name) and (
        (s > 0 and text[s - 1] in res.translit) or (e < len(text) and text[e] in res.translit)
    ):
        return False  # the middle of a transliterated word (巴赫穆特, 莫比乌斯)
    return True


_VERBISH = {"v", "vn", "vd", "r", "p", "d", "c", "u", "q", "a", "ad", "m"}


def _role_before(text: str, i: int, res: _Resources) -> bool:
    return _ends_with_any(text, i, res.roles, res.role_lens)


def _verb_like_given(surname: str, given: str, res: _Resources) -> bool:
    """Whether a single-character surname that is mostly an everyday word (来, 由, 任, 全, 费) is
    followed by a verb, pronoun or measure word rather than a given name."""
    if res.tags.get(given) in ("q",) or (len(given) == 1 and res.tags.get(given) == "q"):
        return True
    if res.tags.get(surname) not in _VERBISH:
        return False
    return res.tags.get(given[0]) in _VERBISH or res.tags.get(given) in _VERBISH


def _person_by_new_word(doc, res: _Resources) -> None:
    """A word jieba's HMM made up (not in its dictionary) of a surname and one or two name
    characters is a name (刘峙, 潘从洲, 李仙洲)."""
    text = _text(doc)
    toks = _tokens(doc)
    for i in _token_groups(doc)[_T_NEW]:
        s, e, tok = toks[i]
        surname, given = tok[0], tok[1:]
        if surname not in res.surnames_zh or surname in _FUNCTION_CHARS or surname in _NOT_NAME_CHAR:
            continue
        if _verb_like_given(surname, given, res) or given[-1] in _NOT_NAME_END or given[-1] in "朝代国" or any(c in _NOT_NAME_CHAR and c not in "从" for c in given):
            continue
        if any(res.freq.get(given[j:], 0) >= 50 for j in range(len(given) - 1)) or not _left_ok(text, s, res):
            continue
        if _plausible_person(text, s, e, res) and _is_terminator(text, e, res):
            _add(doc, s, e, "Person", "new_word_name", 64)


_DOT_NAME = re.compile(r"([\u3400-\u9fff]{2,4})([·•・‧][\u3400-\u9fff]{2,5})+")


_DOT = re.compile("[·•・‧]")


def _dot_name_starts(text: str) -> list[int]:
    """Where a _DOT_NAME match can start (ascending): two to four CJK characters before a dot."""
    out: list[int] = []
    for m in _DOT.finditer(text):
        q = s = m.start()
        while s > 0 and q - s < 4 and "\u3400" <= text[s - 1] <= "\u9fff":
            s -= 1
        out.extend(p for p in range(s, q - 1) if not out or p > out[-1])
    return out


def _person_by_dot(doc, res: _Resources) -> None:
    """A Western name written with a middle dot: the words either side of it (亚历山大·朱汉)."""
    text = _text(doc)
    toks = _tokens(doc)
    for m in _finditer_from(_DOT_NAME, text, _dot_name_starts(text)):
        dot = m.end(1)
        k = bisect_left(_token_starts(doc), dot) - 1  # the token ending at the dot, if one does
        tok = toks[k] if k >= 0 and toks[k][1] == dot else None
        if tok is None or not _CJK_CHARS.issuperset(tok[2]) or tok[2] in res.stopwords:
            continue
        s = tok[0]
        e = m.end()
        # the name after the dot ends at a function character or a common word
        k = dot + 1
        while k < e and not (text[k] in _FUNCTION_CHARS or (k > dot + 2 and _common_word_at(text, k, res) and text[k] not in res.translit)):
            k += 1
        e = k
        if e - dot >= 3 and text[s:e] not in res.places:
            _add(doc, s, e, "Person", "dotted_name", 70)


def _surname_at(text: str, i: int, res: _Resources) -> list[tuple[str, bool]]:
    """The surnames (up to four characters) starting at ``i``, longest first, each with whether its
    given name may have three characters (Japanese surnames, Chinese ones of two characters)."""
    out = []
    long = res.surname_long
    for n in res.surname_lens.get(text[i : i + 1], ()):
        w = text[i : i + n]
        if len(w) == n and w in long:
            out.append((w, long[w]))
    return out


def _inside_dictionary_word(toks: list, tok_starts: list, s: int, e: int, res: _Resources) -> bool:
    """Whether ``text[s:e]`` lies strictly inside one longer dictionary word (尚方 in 尚方宝剑)."""
    k = bisect_right(tok_starts, s) - 1
    if k < 0:
        return False
    a, b, tok = toks[k]
    return a <= s and e < b and len(tok) >= 3 and res.freq.get(tok, 0) > 0


#: what may follow a given name ending in 之: punctuation or the end, not a noun (刘备之子)
_ZHI_END = re.compile(r"$|[，。！？；：、,.!?;:（）()》”’\s&＆]|[的是说和与在曾也就]")


def _person_by_surname(doc, res: _Resources) -> None:
    text = _text(doc)
    toks = _tokens(doc)
    tok_starts = _token_starts(doc)
    freq, surname_lens, surname_long = res.freq, res.surname_lens, res.surname_long
    n = len(text)
    pos = 0
    starts = [m.start() for m in res.surname_start_re.finditer(text)]
    longer = [m.start() for m in res.long_surname_re.finditer(text)]
    if longer:
        starts = sorted(starts + longer)
    for i in starts:
        if i < pos or (i and text[i - 1].isascii() and text[i - 1].isalnum()):  # not _left_ok
            continue
        best = None
        inside = place = None  # the same for every surname at i: looked up once, when needed
        for k in surname_lens[text[i]]:  # the surnames starting here, longest first (_surname_at)
            surname = text[i : i + k]
            if len(surname) != k or surname not in surname_long:
                continue
            long_given = surname_long[surname]
            # a single-character surname glued into a common word (高中, 成为, 年轻) is no surname
            if k == 1:
                if surname in _FUNCTION_CHARS:
                    continue
                # (no common word starts here when its first two characters are no dictionary prefix)
                w = _common_word_at(text, i, res, min_freq=20) if text[i : i + 2] in freq else 0
                if w and res.tags.get(text[i : i + w]) not in _NAME_TAGS:
                    continue
                if surname in _NOT_NAME_CHAR and not _role_before(text, i, res):
                    continue  # 年 is a surname right after a role word (巡抚年遐龄)
            if inside is None:
                inside = _inside_word(text, i, res)
            if inside:
                continue
            if place is None:
                m = res.place_re.match(text, i)
                place = m.group(0) if m else ""
            if place and place.startswith(surname):
                continue
            for g in ((3, 2, 1) if long_given else (2, 1)):
                e = i + k + g
                if e > n:
                    continue
                given = text[i + k : e]
                if not _CJK_NAME_CHARS.issuperset(given) or given[-1] in _NOT_NAME_END:
                    continue
                if res.role_re.match(text, i + k):
                    break
                if given[0] in "总大小" and res.role_re.match(text, i + k + 1):
                    break
                if not _is_terminator(text, e, res):
                    continue
                name = text[i:e]
                tag = res.tags.get(name)
                if name in res.stopwords or (tag is not None and tag not in _NAME_TAGS and res.freq.get(name, 0) > (5 if k >= 2 else 0)):
                    continue
                if g > 1 and given[-1] in _WEAK_NAME_END:
                    continue  # a function character glued on (纳兰揆叙可都…): try the shorter name
                if not _plausible_person(text, i, e, res):
                    continue
                if k == 1 and len(given) == 2 and res.freq.get(given, 0) >= 100 and res.tags.get(given) not in _NAME_TAGS:
                    continue
                if len(given) >= 2 and res.freq.get(given, 0) >= 50 and res.tags.get(given) in _FUNCTION_TAGS:
                    continue
                if k == 1 and g == 1 and not _left_boundary(text, i, res):
                    continue
                # the given name must not be a common word running on past the name
                if any(res.freq.get(text[j : e + 1], 0) >= 30 for j in range(i + k, e)):
                    continue
                if k == 1 and _verb_like_given(surname, given, res) and not _person_context(text, i, e, res):
                    continue  # 来打, 由溅落, 任哪去, 全灭: a verb after a character that is mostly a word
                best = (i, e, 75 if k >= 2 else 65)
                break
            if not best:
                known = next((text[i : i + m] for m in (4, 3) if res.tags.get(text[i : i + m]) in _NAME_TAGS), None)
                if known and _plausible_person(text, i, i + len(known), res):
                    best = (i, i + len(known), 75)  # the dictionary knows the whole name (左宗棠结了 → 左宗棠)
            if best:
                break
        if best and _inside_dictionary_word(toks, tok_starts, best[0], best[1], res):
            pos = toks[bisect_right(tok_starts, best[0]) - 1][1]  # no name starts inside the word either (武王伐纣)
            continue
        if best and text.startswith("之", best[1]) and best[1] - best[0] == 2 and _ZHI_END.match(text, best[1] + 1):
            best = (best[0], best[1] + 1, best[2])  # a given name ending in 之 (华克之, 王羲之)
        if best:
            _add(doc, best[0], best[1], "Person", "surname", best[2])
            pos = best[1]


_PLACE_ENDINGS = ("斯克", "格勒", "堡", "茨克", "波尔", "夫卡", "维尔", "尼亚", "斯坦", "兰", "亚", "港")
_PERSON_ENDINGS = ("维奇", "斯基", "耶夫", "科夫", "诺夫", "洛夫", "娃", "娜", "耶娃")
_PLACE_PREV = set("在到于从往赴抵入经")
_PLACE_NEXT = ("地区", "附近", "方向", "前线", "城", "市", "州", "省", "港", "郊", "一带", "战役", "州长")


def _person_by_transliteration(doc, res: _Resources) -> None:
    text = _text(doc)
    for m in res.translit_re.finditer(text):
        s, e = m.start(), m.end()
        name = m.group(0)
        has_sep = any(c in name for c in _TRANSLIT_SEP)
        if not has_sep and len(name) < 3:
            continue
        # trim common words glued at either end (他说 etc. are not in the set, but 特别/利用 are)
        while e - s >= 3 and res.freq.get(text[e - 2 : e], 0) >= 2000 and res.tags.get(text[e - 2 : e]) not in _NAME_TAGS | {"ns"}:
            e -= 2
        while e - s >= 3 and res.freq.get(text[s : s + 2], 0) >= 2000 and res.tags.get(text[s : s + 2]) not in _NAME_TAGS | {"ns"}:
            s += 2
        name = text[s:e]
        if len(name) < 3 and not has_sep:
            continue
        if name in res.places or name in res.stopwords:
            continue
        tag = res.tags.get(name)
        if tag is not None and tag not in _NAME_TAGS | {"ns", "nz"} and res.freq.get(name, 0) > 50:
            continue
        if text.startswith(("人", "族", "语"), e) and len(name) <= 4:
            continue  # 斯拉夫人: a people or a language, not a person
        regnal = next((r for r in res.regnal if text.startswith(r, e)), None)
        prev = text[s - 1] if s else ""
        after = text[e:]
        if regnal:
            _add(doc, s, e + len(regnal), "Person", "transliterated_regnal", 85)
            continue
        role_before = _ends_with_any(text, s, res.roles, res.role_lens)
        role_after = bool(res.role_re.match(text, e))
        place_context = prev in _PLACE_PREV or after.startswith(_PLACE_NEXT) or tag == "ns"
        if len(name) == 3 and name.endswith("亚") and not place_context and not has_sep and (
                e >= len(text) or text[e] in _PUNCT or text[e] in _FUNCTION_CHARS) and (
                s == 0 or not _is_cjk(text[s - 1]) or text[s - 1] not in res.translit):
            # three characters ending in 亚 outside a place context: a given name (谢尼亚, 塔尼亚);
            # the countries and regions so written are in the gazetteer (肯尼亚, 叙利亚)
            _add(doc, s, e, "Person", "transliterated", 58)
        elif name.endswith(_PLACE_ENDINGS) or place_context:
            _add(doc, s, e, "Place", "transliterated_place", 50)
        elif has_sep or role_before or role_after or name.endswith(_PERSON_ENDINGS) or tag in _NAME_TAGS:
            _add(doc, s, e, "Person", "transliterated", 60)


def _person_by_role(doc, res: _Resources) -> None:
    """A name right after a role word (理事长池田成彬, 教皇克莱芒八世) or after 叫/名叫."""
    text = _text(doc)
    for m in re.finditer(r"(?:名叫|叫做|叫|名为)([\u3400-\u9fff]{2,5})(?=[，。、；：,\s]|$)", text):
        name = m.group(1)
        if len(name) >= 4 and name[:2] not in res.surnames_zh and name[:2] not in res.surnames_ja and text.count(name) < 2:
            continue  # 叫凤山入城: four characters after 叫, used once, name a thing
        if name not in res.stopwords and not res.tags.get(name, "nr").startswith(("v", "a", "d")):
            _add(doc, m.start(1), m.end(1), "Person", "named_as", 70)
    # a name right after a role word: 大太监小德张的, 秘书阎又文是, 精神领袖北一辉时
    for m in res.role_re.finditer(text):
        s = m.end()
        for n in (3, 2):
            e = s + n
            name = text[s:e]
            if e > len(text) or not all(_is_cjk(c) and c not in _ROLE_NAME_STOP for c in name):
                continue
            if not (e >= len(text) or text[e] in _PUNCT or text[e] in "的是时在和与说等曾被将也都就"):
                continue
            if res.role_re.match(text, s) or name in res.stopwords or res.place_re.match(text, s):
                break
            tag = res.tags.get(name)
            if tag is not None and tag not in _NAME_TAGS or res.freq.get(name, 0) >= 30 and tag not in _NAME_TAGS:
                continue
            if _common_word_at(text, e - 2, res, min_freq=30) and res.tags.get(text[e - 2 : e]) not in _NAME_TAGS:
                continue
            _add(doc, s, e, "Person", "role_name", 66)
            break


#: characters never in a name found by its role word (a looser set than _NOT_NAME_CHAR: 北一辉, 阎又文)
_ROLE_NAME_STOP = set("他她它我你的了是在和与及就也都而被把将对从向为以于或其这那着过得地所还很最更再已曾并但却则因如说等们个年月日")
#: words after a reign name or a title that make it a book (永乐大典, 康熙字典, 明太祖实录)
_BOOK_WORDS = ("大典", "字典", "全书", "宝典", "实录", "会典", "会要", "通鉴", "类书", "丛书", "辞典", "词典", "通宝")


def _person_by_ruler(doc, res: _Resources) -> None:
    """Monarchs by reign, personal or temple name from the general list (乾隆, 溥仪, 汉献帝), as whole words."""
    text = _text(doc)
    toks = _tokens(doc)
    starts = _token_starts(doc)
    rulers = res.rulers
    groups = _token_groups(doc)
    # two adjacent tokens making a ruler's name: the first is a proper prefix of one
    found = [(toks[j][0], toks[j + 1][1]) for j in groups[_T_RULER_HEAD]
             if j + 1 < len(toks) and toks[j][1] == toks[j + 1][0] and toks[j][2] + toks[j + 1][2] in rulers]
    found += [toks[j][:2] for j in groups[_T_RULER]]
    found += [(m.start(), m.end()) for m in _DYNASTY_TITLE_RE.finditer(text)]
    for s, e in found:
        left = s == 0 or not _is_cjk(text[s - 1]) or _starts_token(starts, s)
        right = e >= len(text) or not _is_cjk(text[e]) or _ends_token(toks, starts, e) or text[e] in _FUNCTION_CHARS
        if text.startswith(_BOOK_WORDS, e):
            continue  # 康熙字典, 永乐大典 are books
        if left and right and not any(res.freq.get(text[s : e + k]) for k in (1, 2, 3)):
            _add(doc, s, e, "Person", "ruler", 84)


def kg_person_names(doc):
    res = _resources()
    _person_by_ruler(doc, res)
    _person_by_new_word(doc, res)
    _person_by_dot(doc, res)
    _person_by_surname(doc, res)
    _person_by_transliteration(doc, res)
    _person_by_role(doc, res)
    _person_by_coordination(doc, res)
    return doc


def _name_like(name: str, res: _Resources, paired: bool) -> bool:
    """A coordinated short name: a surname first, or an unknown word whose first character is no
    adjective, adverb, verb or numeral (弥助; not 低资源, 肺鼠疫)."""
    if name[:1] in res.surnames_zh or name[:1] in res.surnames_ja or name[:2] in res.surnames_ja:
        return True
    first = ("nr", "nrfg", "nrt", "zg", "ng", None) + (("v", "n", "ns") if paired else ())
    return res.tags.get(name[0]) in first and res.freq.get(name, 0) == 0


_COORD_AFTER = re.compile(r"[ \t]*(?:&|＆|和|与|及|、)[ \t]*([\u3400-\u9fff]{2,3}?)(?:等|们)?(?=$|[）)，。、；：,;:！？!?\s])")
_COORD_BEFORE = re.compile(r"(?:^|(?<=[（(，。、；：,;:！？!?\s]))([\u3400-\u9fff]{2,3})[ \t]*(?:&|＆|和|与|及|、)[ \t]*$")


def _person_by_coordination(doc, res: _Resources) -> None:
    """A short name coordinated with a person found by a strong method is a person too, when it is
    set off by punctuation on its other side (织田信长&弥助, 弥助和织田信长)."""
    text = _text(doc)
    people = [c for c in doc.user_data.get(CANDIDATES, []) if c[2] == "Person" and c[4] >= 65]
    for s, e, *_ in people:
        spans = []
        m = _COORD_AFTER.match(text, e)
        if m:
            spans.append((m.start(1), m.end(1), "&" in m.group(0) or "＆" in m.group(0)))
        m = _COORD_BEFORE.search(text, max(0, s - 6), s)
        if m:
            spans.append((m.start(1), m.end(1), "&" in m.group(0) or "＆" in m.group(0)))
        for a, b, paired in spans:
            name = text[a:b]
            tag = res.tags.get(name)
            if name in res.stopwords or name in res.places or res.place_re.match(name) or res.org_re.fullmatch(name):
                continue
            if (tag is not None and tag not in _NAME_TAGS) or res.freq.get(name, 0) >= 30 or any(c in _NOT_NAME_CHAR for c in name):
                continue
            if _name_like(name, res, paired) and _plausible_person(text, a, b, res):
                _add(doc, a, b, "Person", "coordinated_person", 63)


_LEXICON_TYPES = {"nr": "Person", "nrfg": "Person", "nrt": "Person", "ns": "Place", "nt": "Organization"}


def kg_lexicon(doc):
    res = _resources()
    text = _text(doc)
    toks = _tokens(doc)
    for i in _token_groups(doc)[_T_LEXICON]:
        s, e, tok = toks[i]
        tag = res.tags[tok]
        type_ = _LEXICON_TYPES[tag]
        if type_ == "Person":
            long_surname = _starts_with_any(tok, res.surnames_ja, res.ja_lens) or tok[:2] in res.surnames_zh
            if tok[0] not in res.surnames_zh and not long_surname and tag != "nrt":
                continue
            if len(tok) >= 4 and not long_surname and tag != "nrt":
                continue  # four characters after a one-character surname: an idiom (顾名思义, 尚方宝剑)
            if len(tok) == 2 and res.tags.get(tok[0]) == "m" and not _person_context(text, s, e, res):
                continue  # a numeral-like first character reads as a quantity (余生, 多拉快跑)
            if not _plausible_person(text, s, e, res):
                continue
        if type_ == "Place" and not tok.endswith(res.place_suffixes):
            continue
        if type_ == "Organization" and not tok.endswith(res.org_suffixes) and tok[-1] not in "团局部院会社署厅校":
            continue  # jieba's nt covers everyday words (最新进展, 最大化)
        _add(doc, s, e, type_, f"lexicon_{tag}", 40)
    return doc


_NER_LABELS = {"PERSON": "Person", "PER": "Person", "GPE": "Place", "LOC": "Place", "FAC": "Place",
               "ORG": "Organization", "EVENT": "Event", "WORK_OF_ART": "Paper", "LAW": "Event"}


class _ModelNer:
    """Runs a trained pipeline's NER on the text and adds its entities as candidates."""

    def __init__(self, name: str, nlp):
        self.name = name
        self.nlp = nlp

    def __call__(self, doc):
        other = self.nlp(_text(doc))
        for ent in other.ents:
            type_ = _NER_LABELS.get(ent.label_)
            if type_:
                _add(doc, ent.start_char, ent.end_char, type_, f"ner:{self.name}", 50)
        return doc


def kg_resolve(doc):
    """Keep one candidate per stretch of text: higher priority, then longer, then earlier wins.

    Titles (《》, quoted, English title lines) are a layer of their own: names
    inside them are dropped, except acronym definitions.
    """
    res = _resources()
    cands = sorted(set(doc.user_data.get(CANDIDATES, [])))
    titles = [c for c in cands if c[3] in ("title_brackets", "title_quotes", "english_title")]
    others = [c for c in cands if c not in titles]
    kept_titles = _non_overlapping(titles)
    # the kept titles do not overlap: only the last one starting at or before a span can hold it
    title_starts = [t[0] for t in kept_titles]

    def inside(c: tuple) -> bool:
        k = bisect_right(title_starts, c[0]) - 1
        return k >= 0 and c[1] <= kept_titles[k][1]

    others = [c for c in others if c[3] == "acronym" or not inside(c)]
    kept = _non_overlapping(others)
    text = _text(doc)
    kept = [c for c in kept if text[c[0] : c[1]].strip() not in res.stopwords]
    kept += _nested(others, kept, text)
    kept = [c for c in kept if c[2] != "Person" or _person_setting_ok(text, c[0], c[1])]
    kept = [c for c in kept if not (c[2] == "Place" and text.endswith(_SETTING_PREFIX, 0, c[0]))]
    doc.user_data["kg_mentions"] = sorted(kept_titles + kept)
    doc.user_data.pop("kg_text", None)
    return doc


#: words after a name that make it a people, not a person (祖鲁战士, 斯拉夫人)
_PEOPLE_AFTER = ("族", "部落", "战士", "士兵", "武士", "民族", "人民")
#: words before a name that make it a storm (热带气旋云雅, 台风山竹)
_STORM_BEFORE = ("台风", "飓风", "气旋", "热带风暴", "强热带风暴", "风暴")
#: words after a name that make it an eponymous method or law, not a person mention (蒙特卡洛采样, 贝叶斯定理)
_EPONYM_AFTER = ("采样", "抽样", "模拟", "方法", "算法", "定理", "定律", "分布", "公式", "过程", "树搜索", "积分", "近似", "估计", "方程", "不等式", "变换")


_AMOUNT = re.compile(r"\d+(?:\.\d+)?\s*(?:%|％|倍|万|亿|元|美元|米|公里|千米|吨|以上|左右)")


def _person_setting_ok(text: str, s: int, e: int) -> bool:
    """Whether a person's name stands where a person stands: not before a number (高达80%), a people
    word (祖鲁战士), a method word (蒙特卡洛采样), nor after a storm word (热带气旋云雅)."""
    if _AMOUNT.match(text, e):
        return False  # 高达80%, but 李玉堂1950年被…, 关梦龄33岁
    if text.startswith(_PEOPLE_AFTER, e) or text.startswith(_EPONYM_AFTER, e):
        return False
    return not text.endswith(_STORM_BEFORE, 0, s)


#: words of a setting before a place word that make it a kind of landform (海底平顶山 is a seamount)
_SETTING_PREFIX = ("海底", "洋底", "湖底", "水下", "地下", "月面", "月球上", "火星上")
_NESTED_METHODS = {"gazetteer": "Place", "surname": "Person", "place_suffix": "Place"}


#: event words whose names are led by a person (王安石变法, 左宗棠西征, 李自成起义); a war is not (苏阿战争)
_PERSON_LED = ("事件", "变法", "改革", "新政", "起义", "西征", "东征", "北伐", "南征", "远征", "兵变", "政变", "之乱", "叛乱", "复辟")


def _nested(cands: list[tuple], kept: list[tuple], text: str) -> list[tuple]:
    """A gazetteer place or a surname-found person heading a kept organisation or event name is a
    mention too (东京高等法院 → 东京, 李仙洲集团 → 李仙洲, 汤加火山喷发 → 汤加)."""
    # a weak dictionary-tag organisation (东北局, jieba's nt) heads nothing
    heads = {(c[0], c[1]) for c in kept if c[2] in ("Organization", "Event") and c[4] >= 50}
    # places head organisations, and natural events (维苏威火山喷发 → 维苏威火山, 汤加)
    org_heads = {(c[0], c[1]) for c in kept if (c[2] == "Organization" and c[4] >= 50) or c[3] == "event_nature"}
    nature = {(c[0], c[1]) for c in kept if c[3] == "event_nature"}
    starts: dict[int, list[int]] = defaultdict(list)
    for a, b in heads:
        starts[a].append(b)
    out = []
    for c in cands:
        if _NESTED_METHODS.get(c[3]) == c[2] and any(c[1] < b for b in starts.get(c[0], ())) and (
            c[2] == "Person" and (any(c[1] < b for a, b in org_heads if a == c[0])
                                  or any(c[1] < b and text.endswith(_PERSON_LED, 0, b) for a, b in heads if a == c[0]))
            or c[2] != "Person" and any(c[1] < b for a, b in org_heads if a == c[0])
        ) and (c[3] != "place_suffix" or any(c[1] < b for a, b in nature if a == c[0])):
            out.append(c)
    return sorted(set(out))


def _non_overlapping(cands: list[tuple]) -> list[tuple]:
    strong = lambda c: c[4] if c[4] >= 85 else 0  # noqa: E731
    order = sorted(cands, key=lambda c: (-strong(c), -(c[1] - c[0]), -c[4], c[0], c[2]))
    taken: list[tuple] = []
    # the characters the taken spans cover: a span (never empty) overlaps one iff it covers one of them
    covered = bytearray(max((c[1] for c in cands), default=0))
    for c in order:
        if covered.find(1, c[0], c[1]) < 0:
            taken.append(c)
            covered[c[0] : c[1]] = b"\x01" * (c[1] - c[0])
    return sorted(taken)


def _register() -> None:
    from spacy.language import Language

    for name in (*COMPONENTS, "kg_resolve"):
        if name not in Language.factories:
            Language.component(name, func=globals()[name])


# ---------------------------------------------------------------- the extractor


def _clean_name(name: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", name).split()) if name.isascii() else name.strip()


class Extractor:
    """Finds entities, mentions and dates in notes.  Build it with :func:`load_extractor`."""

    def __init__(self, nlp, curation: Curation, model: str | None):
        self._nlp = nlp
        self.model = model
        self.curation = curation
        self._aliases = dict(curation.aliases)
        self._merges = dict(curation.merges)
        self._types = dict(curation.types)
        self._not = set(curation.not_entities)

    @property
    def pipe_names(self) -> tuple[str, ...]:
        return tuple(self._nlp.pipe_names)

    def extract(self, note: Note) -> Extraction:
        """Entities, mentions and dates of one note."""
        return next(self.extract_many([note]))

    def extract_many(self, notes: Iterable[Note], n_process: int = 1) -> Iterator[Extraction]:
        """Extract notes in order; ``n_process`` > 1 uses that many worker processes (same results).

        A note's blocks are read as one text joined by line breaks (a break ends
        every name and sentence), and the findings split back per block.  The
        text is segmented once (jieba, as spaCy's ``zh`` tokenizer does) and the
        components run in pipeline order on it.  Workers are forked from this
        process (the loaded pipeline is shared, not rebuilt) and send back plain
        :class:`Extraction` records, in input order.
        """
        if n_process > 1:
            notes = list(notes)
            if len(notes) >= 2 * n_process and _fork_available():
                yield from self._extract_parallel(notes, n_process)
                return
        for note in notes:
            yield self._extract_one(note)

    def _extract_one(self, note: Note) -> Extraction:
        doc = _Doc("\n".join(b.text for b in note.blocks))
        for _name, proc in self._components():
            doc = proc(doc)
        return self._build(note, _split_by_block(note, doc.user_data))

    def _components(self) -> list:
        procs = self.__dict__.get("_procs")
        if procs is None:
            procs = self.__dict__["_procs"] = list(self._nlp.pipeline)
        return procs

    def _extract_parallel(self, notes: list[Note], n_process: int) -> Iterator[Extraction]:
        import multiprocessing

        global _WORKER_EXTRACTOR, _WORKER_NOTES
        ctx = multiprocessing.get_context("fork")
        chunksize = max(1, min(8, len(notes) // (n_process * 8)))
        # inherited by the forked workers: the pipeline is loaded once, here, and the notes need not
        # be pickled to them (they get indices); they send back plain tuples (_pack), which pickle
        # several times faster than the slotted dataclasses
        _WORKER_EXTRACTOR, _WORKER_NOTES = self, notes
        try:
            with ctx.Pool(n_process) as pool:
                for packed in pool.imap(_extract_in_worker, range(len(notes)), chunksize=chunksize):
                    yield _unpack(packed)
        finally:
            _WORKER_EXTRACTOR, _WORKER_NOTES = None, []

    # -- turning block findings into model records

    def _canonical(self, name: str) -> str:
        if name not in self._merges and name not in self._aliases:
            return name  # (the loop below returns it unchanged)
        seen = set()
        while name not in seen:
            seen.add(name)
            if name in self._merges:
                name = self._merges[name]
            elif name in self._aliases:
                name = self._aliases[name]
            else:
                break
        return name

    def _build(self, note: Note, blocks: list[dict]) -> Extraction:
        found: list[dict] = []  # one per mention, note offsets
        abbr_long: dict[str, str] = {}
        for block, data in zip(note.blocks, blocks):
            sentences = data["sentences"]
            for ls, le, as_, ae in data["acronyms"]:
                abbr_long.setdefault(block.text[as_:ae], _clean_name(block.text[ls:le]))
            for s, e, type_, method, prio in data["mentions"]:
                sent = _sentence_of(sentences, s, len(block.text))
                found.append(dict(start=block.start + s, end=block.start + e, type=type_, method=method,
                                  prio=prio, block=block, sent=(block.start + sent[0], block.start + sent[1])))
        found = self._propagate(note, blocks, found)
        # type per name: curation first, then the strongest evidence, then the most frequent
        votes: dict[str, Counter] = defaultdict(Counter)
        for f in found:
            votes[note.text[f["start"] : f["end"]]][f["type"]] += f["prio"]
        spelling: dict[str, Counter] = defaultdict(Counter)
        for f in found:
            text = _clean_name(note.text[f["start"] : f["end"]])
            if text.isascii():
                spelling[text.casefold()][text] += 1
        preferred = {k: sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] for k, c in spelling.items()}
        winner = {text: c.most_common(1)[0][0] for text, c in votes.items()}  # the type each name's votes elect
        mentions: list[Mention] = []
        entities: dict[str, Entity] = {}
        aliases: dict[str, set[str]] = defaultdict(set)
        for f in found:
            text = note.text[f["start"] : f["end"]]
            surface = _clean_name(text)
            if not surface or surface in self._not:
                continue
            name = preferred.get(surface.casefold(), surface) if surface.isascii() else surface
            if f["method"] == "acronym" and surface in abbr_long:
                name = abbr_long[surface]
            elif surface in abbr_long and surface.isascii():
                name = abbr_long[surface]
            name = self._canonical(name)
            if name in self._not:
                continue
            type_ = self._types.get(name) or self._types.get(surface) or winner[text]
            if type_ not in ENTITY_TYPES:
                continue
            key = entity_key(type_, name)
            if name != surface:
                aliases[key].add(surface)
            b: Any = f["block"]
            mentions.append(Mention(
                note=note.path, start=f["start"], end=f["end"], text=text, type=type_, key=key,
                section=b.section, snippet=b.snippet, reference=b.reference,
                sentence_start=f["sent"][0], sentence_end=f["sent"][1], method=f["method"],
                confidence=round(min(1.0, f["prio"] / 100), 2),
            ))
            if key not in entities:  # (the first mention's entity stands; no other is built)
                entities[key] = Entity(key=key, type=type_, name=name)
        for abbr, long in abbr_long.items():
            canon = self._canonical(long)
            for key in list(entities):
                if entities[key].name == canon:
                    aliases[key].add(abbr)
        for alias, canon in (*self._aliases.items(), *self._merges.items()):
            for key, ent in entities.items():
                if ent.name == canon and alias != canon:
                    aliases[key].add(alias)
        ents = tuple(
            Entity(key=k, type=e.type, name=e.name, aliases=tuple(sorted(aliases[k] - {e.name})))
            for k, e in sorted(entities.items())
        )
        mentions.sort(key=lambda m: (m.start, m.end, m.key))
        dates = self._dates(note, blocks, mentions)
        return Extraction(note=note.path, entities=ents, mentions=tuple(mentions), dates=dates)

    def _propagate(self, note: Note, blocks: list[dict], found: list[dict]) -> list[dict]:
        """Every other occurrence of a name found in the note is a mention too."""
        res = _resources()
        names: dict[str, dict] = {}
        for f in found:
            text = note.text[f["start"] : f["end"]]
            if len(text) >= 2 and f["method"] not in ("title_brackets", "title_quotes", "english_title"):
                if text not in names or names[text]["prio"] < f["prio"]:
                    names[text] = f
        if not names:
            return found
        # the characters the mentions cover: an occurrence (never empty) overlaps a mention iff it covers one
        covered = bytearray(len(note.text) + 1)
        for f in found:
            covered[f["start"] : f["end"]] = b"\x01" * (f["end"] - f["start"])
        extra = []
        for k, ms, me, name in _occurrences(names, [b.text for b in note.blocks]):
            block, data = note.blocks[k], blocks[k]
            s, e = block.start + ms, block.start + me
            if covered.find(1, s, e) >= 0:
                continue
            if name.isascii():
                if (ms > 0 and block.text[ms - 1].isalnum()) or (me < len(block.text) and block.text[me].isalnum()):
                    continue
            elif len(name) == 2 and res.freq.get(block.text[ms : me + 1], 0) > 30:
                continue
            src = names[name]
            sent = _sentence_of(data["sentences"], ms, len(block.text))
            extra.append(dict(start=s, end=e, type=src["type"], method=src["method"], prio=src["prio"] - 5,
                              block=block, sent=(block.start + sent[0], block.start + sent[1])))
            covered[s:e] = b"\x01" * (e - s)
        return found + extra

    def _dates(self, note: Note, blocks: list[dict], mentions: list[Mention]) -> tuple[DateMention, ...]:
        out = []
        year, snippet = None, object()  # the year of the closest preceding date with one, in this snippet
        events_at = [(m.start, m.key) for m in mentions if m.type == "Event"]
        for block, data in zip(note.blocks, blocks):
            if block.snippet != snippet:
                year, snippet = None, block.snippet
            for s, e, value in data["dates"]:
                if value and value[:4].isdigit():
                    year = value[:4]
                elif value and value.startswith("--") and year:
                    value = year + value[1:]  # 1970年1月…，6月8日 → 1970-06-08
                sent = _sentence_of(data["sentences"], s, len(block.text))
                a, b = block.start + sent[0], block.start + sent[1]
                events = tuple(sorted({key for start, key in events_at if a <= start < b}))
                out.append(DateMention(note=note.path, start=block.start + s, end=block.start + e,
                                       text=note.text[block.start + s : block.start + e], value=value,
                                       section=block.section, snippet=block.snippet, events=events))
        return tuple(out)


_WORKER_EXTRACTOR: "Extractor | None" = None
_WORKER_NOTES: list[Note] = []


def _extract_in_worker(index: int) -> tuple:
    assert _WORKER_EXTRACTOR is not None
    return _pack(_WORKER_EXTRACTOR._extract_one(_WORKER_NOTES[index]))


_ENTITY_FIELDS = attrgetter(*(f.name for f in fields(Entity)))
_MENTION_FIELDS = attrgetter(*(f.name for f in fields(Mention)))
_DATE_FIELDS = attrgetter(*(f.name for f in fields(DateMention)))


def _pack(x: Extraction) -> tuple:
    """An extraction as plain tuples (each record's fields in declaration order), for pickling."""
    return (x.note, [_ENTITY_FIELDS(e) for e in x.entities], [_MENTION_FIELDS(m) for m in x.mentions],
            [_DATE_FIELDS(d) for d in x.dates])


def _unpack(packed: tuple) -> Extraction:
    """The extraction :func:`_pack` made the tuples of."""
    note, entities, mentions, dates = packed
    return Extraction(note=note, entities=tuple([Entity(*e) for e in entities]),
                      mentions=tuple([Mention(*m) for m in mentions]), dates=tuple([DateMention(*d) for d in dates]))


def _fork_available() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def _occurrences(names: Iterable[str], texts: list[str]) -> list[tuple[int, int, int, str]]:
    """``(text index, start, end, name)`` of the names in each text, left to right, the longest at a
    position, none overlapping: what the alternation of the names longest first finds with
    ``finditer`` in each text, in order.

    Without compiling that regex per note: every occurrence of every name (``str.find``) in the
    texts joined by line breaks, then the same left-to-right choice.  A name holding a line break
    could run across two texts there, so then the regex is used."""
    names = sorted(names, key=lambda x: (-len(x), x))
    if any("\n" in name for name in names):
        pattern = re.compile("|".join(map(re.escape, names)))
        return [(k, m.start(), m.end(), m.group(0)) for k, t in enumerate(texts) for m in pattern.finditer(t)]
    joined = "\n".join(texts)
    found = []
    for name in names:
        if not name:
            continue
        j = joined.find(name)
        while j >= 0:
            found.append((j, -len(name)))
            j = joined.find(name, j + 1)
    found.sort()
    starts, offset = [], 0
    for t in texts:
        starts.append(offset)
        offset += len(t) + 1
    out, end = [], 0
    for j, minus in found:
        if j >= end:
            end = j - minus
            k = bisect_right(starts, j) - 1
            out.append((k, j - starts[k], end - starts[k], joined[j:end]))
    return out


def _split_by_block(note: Note, data: dict) -> list[dict]:
    """Per-block findings (block-local offsets) from the findings on the joined text."""
    starts, offset = [], 0
    for block in note.blocks:
        starts.append(offset)
        offset += len(block.text) + 1
    out = [{"mentions": [], "sentences": [], "dates": [], "acronyms": []} for _ in note.blocks]
    if not out:
        return out

    def where(s: int, e: int) -> int | None:
        i = bisect_right(starts, s) - 1
        if i < 0:
            return None
        return i if e <= starts[i] + len(note.blocks[i].text) else None

    for key, field_ in (("kg_mentions", "mentions"), ("kg_dates", "dates")):
        for s, e, *rest in data.get(key, []):
            i = where(s, e)
            if i is not None:
                a = starts[i]
                out[i][field_].append((s - a, e - a, *rest))
    for ls, le, s, e in data.get("kg_acronyms", []):
        i = where(ls, e)
        if i is not None:
            a = starts[i]
            out[i]["acronyms"].append((ls - a, le - a, s - a, e - a))
    for s, e in data.get("kg_sentences", []):
        i = max(0, bisect_right(starts, s) - 1)
        while i < len(starts) and starts[i] < e:
            a, b = starts[i], starts[i] + len(note.blocks[i].text)
            if s < b and e > a:
                out[i]["sentences"].append((max(s, a) - a, min(e, b) - a))
            i += 1
    return out


def _sentence_of(sentences: list[tuple[int, int]], s: int, length: int) -> tuple[int, int]:
    """The sentence (a, b) with a <= s < b, or the whole block."""
    i = bisect_right(sentences, (s, float("inf"))) - 1
    if i >= 0 and sentences[i][0] <= s < sentences[i][1]:
        return sentences[i]
    return (0, length)


def import_spacy_without_cli() -> None:
    """Import spaCy leaving out its command line, for a process that only extracts (a build's worker).

    ``import spacy`` imports ``spacy.cli`` for one name (``spacy.info``), and with it requests, typer
    and weasel: ~0.2 s of each worker's start.  The CLI package is stood in for during the import by
    one whose ``info`` imports the real one when called; afterwards ``import spacy.cli`` imports the
    real package.  Should spaCy need more of its CLI at import, the import is simply done again whole.
    """
    if "spacy" in sys.modules:
        return
    import types

    def info(*args: Any, **kwargs: Any) -> Any:
        from spacy.cli.info import info as real

        return real(*args, **kwargs)

    package, module = types.ModuleType("spacy.cli"), types.ModuleType("spacy.cli.info")
    package.__path__ = []  # a package, so that `spacy.cli.info` can be looked up in it
    module.info = info  # type: ignore[attr-defined]
    stand_ins = {"spacy.cli": package, "spacy.cli.info": module}
    sys.modules.update(stand_ins)
    try:
        import spacy  # noqa: F401
    except Exception:  # noqa: BLE001  the stand-in did not do: forget the half import, import it whole
        for name in [m for m in sys.modules if m == "spacy" or m.startswith("spacy.")]:
            if sys.modules[name] not in stand_ins.values():
                del sys.modules[name]
    finally:
        for name, stand_in in stand_ins.items():
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]
    import spacy  # noqa: F401,F811  (a no-op unless the stand-in failed)


def load_extractor(model: str | None = None, curation: Curation | None = None) -> Extractor:
    """Build the pipeline once; ``model`` names an installed trained spaCy pipeline whose NER is added."""
    import spacy
    from spacy.language import Language

    _register()
    _resources()
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    for name in COMPONENTS:
        nlp.add_pipe(name)
    if model:
        try:
            other = spacy.load(model, exclude=["parser", "lemmatizer", "textcat", "attribute_ruler", "tagger"])
        except (OSError, ImportError, ValueError) as exc:
            raise ModelError(
                f"spaCy pipeline {model!r} is not installed or cannot be loaded ({exc}); "
                "install it as a package first, or run without --model"
            ) from None
        if "ner" not in other.pipe_names:
            raise ModelError(f"spaCy pipeline {model!r} has no 'ner' component; choose a pipeline with NER")
        factory = f"kg_model_ner_{re.sub(r'[^A-Za-z0-9_]', '_', model)}"
        if factory not in Language.factories:
            Language.factory(factory, func=lambda nlp_, name, _m=model, _o=other: _ModelNer(_m, _o))
        nlp.add_pipe(factory, name="kg_model_ner")
    nlp.add_pipe("kg_resolve")
    return Extractor(nlp, curation or Curation(), model)
