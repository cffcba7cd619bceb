"""Component ``kg_gazetteer``: countries, regions, provinces, prefectures, states, cities → Place.

Two lists: ``places.txt`` (method ``gazetteer``) and the generated Chinese names of the world's
countries and cities (``places_zh.txt``, method ``place_list``: only where the segmenter's words
begin and end with the name, since a list of thousands of cities holds everyday words too).

Also rivers named after a known place (富士山 → 富士川) and Latin names glossing a
transliterated place (斯通博利火山(Stromboli)).
"""

from __future__ import annotations

import re
from bisect import bisect_right

from spacy.language import Language

from kg.extract.chars import finditer_from, is_cjk
from kg.extract.document import (
    add_candidate, doc_text, doc_tokens, ends_token, is_terminator, left_boundary, starts_token, token_starts,
)
from kg.extract.resources import Resources, shared_resources


#: river endings: a known place or mountain's name before them names a river (富士山 → 富士川)
_RIVER_RE = re.compile(r"([\u3400-\u9fff]{2,4}?)(川|江|河)")
#: a Latin name in brackets after a Chinese transliteration (斯通博利式(Stromboli), 武尔卡诺(Vulcano))
_LATIN_GLOSS = re.compile(r"([\u3400-\u9fff]{2,8})[ \t]*[(（][ \t]*([A-Z][a-z]{2,}(?:[ \t][A-Z][a-z]{2,}){0,2})[ \t]*[)）]")
#: words naming a kind of place, after a transliteration (X火山, X岛), or saying it is one (是一座火山)
_PLACE_KIND = ("火山", "群岛", "岛", "山", "湖", "河")


_RIVER_END = re.compile("[川江河]")


def _river_names(doc, text: str, res: Resources) -> None:
    """Rivers named after a known place or mountain: X + 川/江/河 where X or X山 is a known place
    (富士山 → 富士川); the ending must not start an everyday word (河流, 江湖)."""
    for m in _RIVER_END.finditer(text):
        i = m.start()
        if i < 2:
            continue
        e = i + 1
        if not is_terminator(text, e, res) or res.freq.get(text[i : i + 2], 0) >= 30:
            continue
        for n in (4, 3, 2):
            s = i - n
            if s < 0:
                continue
            prefix = text[s:i]
            if not all(is_cjk(c) for c in prefix):
                continue
            known = prefix + "山" in res.places or (prefix in res.places and prefix not in res.countries)
            if known and text[s:e] not in res.places and (s == 0 or not is_cjk(text[s - 1]) or left_boundary(text, s, res)):
                add_candidate(doc, s, e, "Place", "river_name", 66)
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


def _latin_place_glosses(doc, text: str, res: Resources) -> None:
    """A Latin name glossing a transliteration is a place when the transliteration stands before a
    place-kind word (火山, 岛) nearby, or the text says it is one (武尔卡诺是一座火山)."""
    for m in finditer_from(_LATIN_GLOSS, text, _gloss_starts(text)):
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
            add_candidate(doc, m.start(2), m.end(2), "Place", "latin_place", 68)


@Language.component("kg_gazetteer")
def kg_gazetteer(doc):
    res = shared_resources()
    text = doc_text(doc)
    toks = doc_tokens(doc)
    starts = token_starts(doc)
    for m in res.place_re.finditer(text):
        s, e = m.start(), m.end()
        # a place name glued into a longer dictionary word is not a mention (东京湾 is fine, 中国人 too);
        # one starting inside a dictionary place word names that whole place (伪满洲国, not 满洲)
        k = bisect_right(starts, s) - 1
        if (k >= 0 and toks[k][0] < s and toks[k][1] >= e and s - toks[k][0] <= 2 and len(toks[k][2]) <= 6
                and res.tags.get(toks[k][2]) == "ns" and not res.place_re.match(text, toks[k][0])):
            add_candidate(doc, toks[k][0], toks[k][1], "Place", "gazetteer", 70)
            continue
        add_candidate(doc, s, e, "Place", "gazetteer", 70)
    for m in res.world_place_re.finditer(text):
        s, e = m.span()
        if starts_token(starts, s) and ends_token(toks, starts, e):
            add_candidate(doc, s, e, "Place", "place_list", 68)
    _river_names(doc, text, res)
    _latin_place_glosses(doc, text, res)
    return doc
