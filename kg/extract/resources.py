"""The word lists in ``kg/data`` and the ``Resources`` record built from them once per process.

``shared_resources()`` reads the lists, jieba's tables and the segmenter once (cached) and derives
the regexes and lookup tables the components share.  No spaCy.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from kg.extract.chars import FUNCTION_CHARS, TRANSLIT_SEP, is_cjk, word_lengths, words_pattern
from kg.extract.lexicons import read_lexicon
from kg.extract.segmenter import Segmenter, jieba_tables

__all__ = ["Resources", "shared_resources", "read_words"]


def read_words(name: str) -> list[str]:
    text = resources.files("kg").joinpath("data", name).read_text(encoding="utf-8")
    words: list[str] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0] if line.lstrip().startswith("#") else line
        words.extend(line.split())
    return words


@dataclass(frozen=True)
class Resources:
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
    #: the generated list of the world's places in Chinese (``places_zh.txt``) less ``places``
    world_place_re: re.Pattern
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
    segmenter: "Segmenter"
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


@lru_cache(maxsize=1)
def shared_resources() -> Resources:
    freq, total, tags = jieba_tables()
    orgs = read_words("org_suffixes.txt")
    places = frozenset(read_words("places.txt"))
    roles = frozenset(read_words("role_words.txt"))
    surnames_zh = frozenset(read_words("surnames_zh.txt"))
    surnames_ja = frozenset(read_words("surnames_ja.txt"))
    by_length = lambda words: sorted(set(words), key=lambda w: (-len(w), w))  # noqa: E731
    orgs_known = frozenset(read_words("organizations.txt"))
    rulers = frozenset(read_words("rulers.txt")) | frozenset(read_words("leaders.txt"))
    translit = frozenset("".join(read_words("transliteration_chars.txt")))
    event_words = read_words("event_words.txt")
    place_suffixes = read_words("place_suffixes.txt")
    # what _surname_at finds at a position: a Japanese surname (any length), or a Chinese one, whose
    # given name may have three characters when it is Japanese or has two characters or more
    surname_long = {w: True for w in surnames_ja if len(w) <= 4}
    surname_long.update({w: len(w) >= 2 for w in surnames_zh if len(w) <= 4 and w not in surnames_ja})
    surname_lens: dict[str, set[int]] = defaultdict(set)
    for w in surname_long:
        surname_lens[w[0]].add(len(w))
    single_surnames = {w for w in surname_long if len(w) == 1 and is_cjk(w) and w not in FUNCTION_CHARS}
    long_surnames: dict[str, list[str]] = defaultdict(list)  # first character (no surname alone) → the rests
    for w in surname_long:
        if len(w) > 1 and is_cjk(w[0]) and w[0] not in single_surnames:
            long_surnames[w[0]].append(w[1:])
    return Resources(
        surnames_zh=surnames_zh,
        surnames_ja=surnames_ja,
        places=places,
        place_suffixes=tuple(by_length(place_suffixes)),
        org_suffixes=tuple(by_length(w for w in orgs if not w.isascii())),
        org_suffixes_en=frozenset(w for w in orgs if w.isascii()),
        event_words=tuple(by_length(event_words)),
        roles=roles,
        stopwords=frozenset(read_words("stopwords.txt")),
        conferences=frozenset(read_words("conferences.txt")),
        translit=translit,
        regnal=tuple(by_length(read_words("regnal.txt"))),
        freq=freq,
        tags=tags,
        segmenter=Segmenter(freq, total),
        place_re=re.compile(words_pattern(places)),
        # a name the dictionary holds as another kind of word is left out (世界, 胜利, 青年: other names of
        # cities in GeoNames)
        world_place_re=re.compile(words_pattern(w for w in read_lexicon("places_zh.txt") - places
                                                if tags.get(w) in _PLACE_TAGS)),
        role_re=re.compile(words_pattern(roles)),
        common_acronyms=_common_acronyms(),
        # where the surnames _person_by_surname weighs start (up to four characters, the first CJK;
        # a lone function character is never taken as one): one-character surnames, and longer ones
        # whose first character is none (中村, 一条: 中 and 一 are too frequent to try each)
        surname_start_re=re.compile("[" + "".join(sorted(single_surnames)) + "]"),
        # (the first character followed by one of the rests: every start, also inside another surname)
        long_surname_re=re.compile("|".join(
            re.escape(c) + "(?=" + words_pattern(rests) + ")" for c, rests in sorted(long_surnames.items()))),
        orgs=orgs_known,
        rulers=rulers,
        org_re=re.compile(words_pattern(w for w in orgs_known if not w.isascii())),
        events=frozenset(read_words("events.txt")),
        event_re=re.compile("|".join(map(re.escape, by_length(read_words("events.txt"))))),
        event_modifiers=frozenset(read_words("event_modifiers.txt")),
        countries=frozenset(_read_section("places.txt", "countries and regions")),
        country_abbr=frozenset("".join(read_words("country_abbreviations.txt"))),
        role_lens=word_lengths(roles),
        ja_lens=word_lengths(surnames_ja),
        surname_lens={c: tuple(sorted(ns, reverse=True)) for c, ns in surname_lens.items()},
        surname_long=surname_long,
        ruler_heads=frozenset(r[:k] for r in rulers for k in range(1, len(r))),
        translit_re=re.compile("(?:[" + "".join(sorted(translit)) + "]{2,}(?:[" + TRANSLIT_SEP + "]["
                               + "".join(sorted(translit)) + "]{1,})*)"),
        suffix_ends=frozenset(w[-1] for w in (*event_words, *orgs, *place_suffixes, "党员")),
        token_classes={},
    )


#: jieba tags a name of the world's places may have (a place, a transliterated name, none)
_PLACE_TAGS = frozenset({None, "ns", "nr", "nrt", "nrfg"})


def _common_acronyms() -> frozenset[str]:
    return frozenset(w.casefold() for w in read_words("common_acronyms.txt"))
