"""Component ``kg_resolve``: overlaps settled, one candidate per span.

Titles are a layer of their own; the others are settled by priority, then length, then
position (``_non_overlapping``); places and people heading a kept name are kept too
(``_nested``); people and places in the wrong setting are dropped.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import defaultdict

from spacy.language import Language

from kg.extract.document import CANDIDATES, _text
from kg.extract.resources import _resources


@Language.component("kg_resolve")
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
