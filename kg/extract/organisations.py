"""Component ``kg_org_context``: organisations told by their context → Organization.

Known organisations from the general lexicon, numbered military units (155旅), coordinated
names before 财阀/集团 (三井和三菱两家财阀), quoted unit names, Latin names before 网站/公司.
"""

from __future__ import annotations

import re

from spacy.language import Language

from kg.extract.chars import FUNCTION_CHARS, FUNCTION_TAGS, TRANSLIT_SEP, finditer_from, is_cjk
from kg.extract.document import (
    add_candidate, alnum_runs, doc_text, doc_tokens, ends_token, latin_words, starts_token, token_starts,
)
from kg.extract.persons import VERBISH
from kg.extract.resources import Resources, shared_resources
from kg.extract.suffix_names import NUMERAL
from kg.extract.titles import CAMEL_NAME, CAPS_NAME


#: two short names coordinated before a group noun: 三井和三菱两家财阀, 美团与滴滴等公司
_COORD_ORGS = re.compile(
    r"(?<![\u3400-\u9fff])?([\u3400-\u9fff]{2})(?:和|与|及|、)([\u3400-\u9fff]{2})(?:两家|二家|几家|等)?(?=财阀|集团|家族|公司|银行|企业)"
)
_GROUP_NOUN = re.compile(r"财阀|集团|家族|公司|银行|企业")
_LATIN_ORG = re.compile(
    r"(?<![A-Za-z0-9\-])([A-Z][A-Za-z0-9]+(?:[ \t][A-Z][A-Za-z0-9]+){0,2})"
    r"(?=网站|公司|团队|新研究|研究院|实验室|平台|官方|开源|发布|推出|提出|收购|的研究)"
)


def _known_orgs(doc, text: str, res: Resources) -> None:
    """Well-known organisations from the general lexicon (百度, 谷歌, 军统, 翰林院), as whole words."""
    toks, starts = doc_tokens(doc), token_starts(doc)
    for m in res.org_re.finditer(text):
        s, e = m.start(), m.end()
        if e < len(text) and text[e] in TRANSLIT_SEP:
            continue  # 阿里·哈梅内伊 is a person
        left = s == 0 or not is_cjk(text[s - 1]) or starts_token(starts, s) or text[s - 1] in FUNCTION_CHARS
        right = e >= len(text) or not is_cjk(text[e]) or ends_token(toks, starts, e) or text[e] in FUNCTION_CHARS
        if left and right:
            add_candidate(doc, s, e, "Organization", "org_lexicon", 82)
    for m in latin_words(doc):
        if m.group(0) in res.orgs:
            add_candidate(doc, m.start(), m.end(), "Organization", "org_lexicon", 82)


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


def _military_units(doc, text: str, res: Resources) -> None:
    """Numbered units (155旅, 第128独立重型机械化旅): digits, or a 第 ordinal, and a unit word."""
    for m in finditer_from(_UNIT_RE, text, (m.start() for m in _UNIT_START.finditer(text))):
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
        add_candidate(doc, m.start(), e, "Organization", "military_unit", 80)


@Language.component("kg_org_context")
def kg_org_context(doc):
    """Organisations told by their context: coordinated names before a group noun, Latin names
    before an organisation word (Kaggle网站, DeepMind新研究)."""
    res = shared_resources()
    text = doc_text(doc)
    _known_orgs(doc, text, res)
    _military_units(doc, text, res)
    # a match ends before a group noun, five to seven characters after its start
    heads = sorted({p for m in _GROUP_NOUN.finditer(text) for p in range(m.start() - 7, m.start() - 4) if p >= 0})
    for m in finditer_from(_COORD_ORGS, text, heads):
        for g in (1, 2):
            name = m.group(g)
            if name not in res.stopwords and res.tags.get(name) not in FUNCTION_TAGS and not NUMERAL.match(name):
                add_candidate(doc, m.start(g), m.end(g), "Organization", "coordinated_org", 79)
    for m in _QUOTED_UNIT.finditer(text):
        name = m.group(1)
        if res.tags.get(name) in VERBISH or (res.tags.get(name[0]) in ("d", "ad", "v") and not all(c in res.translit for c in name)):
            continue  # 部队"缓炸": a quoted verb, not a unit's name
        if name not in res.stopwords and not re.match(r"(?:团|旅|营|师|部队|大队|中队|分队|支队)", text[m.end():]):
            add_candidate(doc, m.start(1), m.end(1), "Organization", "unit_name", 81)  # not 旅“野地”旅: a nickname of the unit before
    common = res.common_acronyms
    for m in finditer_from(_LATIN_ORG, text, alnum_runs(doc)):
        name = m.group(1)
        if name.casefold() in common or CAPS_NAME.fullmatch(name) or CAMEL_NAME.fullmatch(name):
            continue
        add_candidate(doc, m.start(1), m.end(1), "Organization", "latin_org", 63)
    return doc
