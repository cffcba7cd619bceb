"""Component ``kg_resolve``: what the structural rules and the trained tagger found, one span each.

Structure decides where it is unambiguous: titles in 《》 (a layer of their own: names
inside them are dropped), "Long Name (ABBR)" definitions, and venue + year (CVPR 2018).  Everything
else is the tagger's (``kg_tagger``); the other rule components only feed it features.  An acronym
definition takes the tagger's type when the tagger typed its long name or its abbreviation.
A place from the gazetteer or a person found by surname heading a kept organisation or event is a
mention too (东京高等法院 → 东京, 李仙洲集团 → 李仙洲, 汤加火山喷发 → 汤加); a tagged span that is two
candidates joined by 和/与/及/、 is two (永嘉之乱和安史之乱).  Everyday words
(``kg/data/stopwords.txt``) never stand as names, nor phrases that speak of companies in general
(美国公司, 互联网公司: ``is_generic_organisation``).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict

from spacy.language import Language

from kg.extract.document import CANDIDATES, doc_text
from kg.extract.resources import shared_resources

#: rule methods whose spans stand as they are, and those among them that form the titles layer
STRUCTURAL_METHODS = frozenset({"title_brackets", "acronym", "conference_year", "english_agreed"})
TITLE_METHODS = frozenset({"title_brackets"})


@Language.component("kg_resolve")
def kg_resolve(doc):
    """Keep the structural spans and the tagger's, settling overlaps: titles first, then the
    strongest (structural rules stand at 90 and more), then the longest, then the earliest."""
    res = shared_resources()
    cands = sorted(set(doc.user_data.get(CANDIDATES, [])))
    tagged = [c for c in cands if c[3] == "tagger"]
    tagged_type = {(c[0], c[1]): c[2] for c in tagged}
    structural = [c for c in cands if c[3] in STRUCTURAL_METHODS]
    titles = [c for c in structural if c[3] in TITLE_METHODS]
    kept_titles = _non_overlapping(titles)
    # the kept titles do not overlap: only the last one starting at or before a span can hold it
    title_starts = [t[0] for t in kept_titles]

    def inside(c: tuple) -> bool:
        k = bisect_right(title_starts, c[0]) - 1
        return k >= 0 and c[1] <= kept_titles[k][1]

    others = []
    defs = doc.user_data.get("kg_acronyms", [])
    for c in structural:
        if c[3] == "acronym":
            for ls, le, as_, ae in defs:
                if (c[0], c[1]) in ((ls, le), (as_, ae)):
                    type_ = tagged_type.get((ls, le)) or tagged_type.get((as_, ae))
                    if type_:
                        c = (c[0], c[1], type_, c[3], c[4])
                    break
            others.append(c)
        elif c[3] not in TITLE_METHODS and not inside(c):
            others.append(c)
    text = doc_text(doc)
    others += [c for c in split_joined(tagged, cands, text) if not inside(c)]
    generic = [c for c in others if c[2] == "Organization" and is_generic_organisation(text[c[0] : c[1]], res.places)]
    others = [c for c in others if c not in generic] if generic else others
    kept = [c for c in _non_overlapping(others) if text[c[0] : c[1]].strip() not in res.stopwords]
    # a generic phrase is no organisation, but the place it names is a place (美国公司 → 美国)
    kept += _nested(cands, kept + generic, text)
    doc.user_data["kg_mentions"] = sorted(kept_titles + kept)
    doc.user_data.pop("kg_text", None)
    return doc


#: the characters that join names in a list (关羽和张飞, 永嘉之乱与安史之乱, 英、法)
JOINERS = "和与及、"


def split_joined(tagged: list[tuple], cands: list[tuple], text: str) -> list[tuple]:
    """The tagger's spans, with a span that is two rule candidates joined by a joiner split into them, each
    of its candidate's type when the candidates over it agree on one (永嘉之乱和安史之乱 → 永嘉之乱, 安史之乱).

    >>> split_joined([(0, 7, "Event", "tagger", 60)], [(0, 4, "Event", "event_suffix", 80),
    ...              (5, 7, "Person", "surname", 65)], "永嘉之乱和张飞")
    [(0, 4, 'Event', 'tagger', 60), (5, 7, 'Person', 'tagger', 60)]
    """
    types: dict[tuple[int, int], set[str]] = defaultdict(set)
    for c in cands:
        if c[3] != "tagger":
            types[(c[0], c[1])].add(c[2])
    out = []
    for c in tagged:
        s, e = c[0], c[1]
        k = next((k for k in range(s + 1, e - 1) if text[k] in JOINERS and (s, k) in types and (k + 1, e) in types),
                 None)
        if k is None:
            out.append(c)
            continue
        for a, b in ((s, k), (k + 1, e)):
            found = types[(a, b)]
            type_ = next(iter(found)) if len(found) == 1 else c[2]
            out.append((a, b, type_, c[3], c[4]))
    return out


#: the rule methods that find a name heading another (and the type they find)
_NESTED_METHODS = {"gazetteer": "Place", "surname": "Person", "place_suffix": "Place"}
#: event words whose names are led by a person (王安石变法, 左宗棠西征, 李自成起义); a war is not (苏阿战争)
_PERSON_LED = ("事件", "变法", "改革", "新政", "起义", "西征", "东征", "北伐", "南征", "远征", "兵变", "政变", "之乱", "叛乱", "复辟")


#: event words of natural events, which a place heads (汤加火山喷发); a war's place does not (中原大战)
_NATURE_ENDS = ("喷发", "爆发", "地震", "海啸")


#: the heads of a phrase that speaks of companies in general (美国公司, 英国科技, 互联网公司, 日本企业)
GENERIC_ORG_HEADS = ("公司", "企业", "科技", "厂商", "厂家", "巨头", "车企", "药企", "商家")
#: the words that say which companies, in such a phrase (科技公司, 美国互联网巨头, 一家创业公司)
GENERIC_ORG_MODIFIERS = tuple(sorted({
    "科技", "高科技", "互联网", "软件", "硬件", "游戏", "汽车", "芯片", "半导体", "手机", "电子", "家电", "电商", "物流",
    "网络", "媒体", "金融", "投资", "咨询", "医药", "制药", "生物", "创业", "初创", "上市", "跨国", "外资", "外国", "本土",
    "民营", "国有", "私营", "中小", "大型", "小型", "大", "小", "新兴", "传统", "其他", "一家", "这家", "那家", "各大",
    "很多", "许多", "众多", "一些"}, key=lambda w: (-len(w), w)))


def is_generic_organisation(name: str, places: frozenset[str] = frozenset()) -> bool:
    """Whether ``name`` speaks of companies in general: a generic head after nothing but generic
    modifiers and at most one of ``places``.

    >>> [is_generic_organisation(n, frozenset({"美国", "英国"})) for n in ("美国公司", "英国科技", "互联网公司", "美国科技巨头")]
    [True, True, True, True]
    >>> [is_generic_organisation(n, frozenset({"美国"})) for n in ("苹果公司", "美国银行", "公司", "华为科技")]
    [False, False, False, False]
    """
    head = next((h for h in GENERIC_ORG_HEADS if name.endswith(h) and len(name) > len(h)), None)
    if head is None:
        return False
    rest = name[: -len(head)]
    while rest:
        word = next((m for m in GENERIC_ORG_MODIFIERS if rest.endswith(m)), None)
        if word is None:
            break
        rest = rest[: -len(word)]
    return rest == "" or rest in places


def _nested(cands: list[tuple], kept: list[tuple], text: str) -> list[tuple]:
    """Rule candidates that head a kept organisation or event (at its start, shorter): places head
    organisations and natural events, people head organisations and events led by a person."""
    heads: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for c in kept:
        if c[2] in ("Organization", "Event") and c[4] >= 50:
            heads[c[0]].append((c[1], c[2]))
    out = set()
    for c in cands:
        if _NESTED_METHODS.get(c[3]) != c[2] or c[0] not in heads:
            continue
        for end, type_ in heads[c[0]]:
            led = _NATURE_ENDS if c[2] == "Place" else _PERSON_LED
            if c[1] < end and (type_ == "Organization" or text.endswith(led, 0, end)):
                out.add(c)
                break
    return sorted(out)


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
