"""Component ``kg_suffix_names``: names ending in an event, organisation or place word → Event / Organization / Place.

The tokens ending in a suffix word (战争, 集团, 地区...) are extended leftwards over proper
tokens; event names have their own rules (``_event_at``: ordinals, years, infix words,
verb-like heads) and a lexicon of events written without an event word (``_event_lexicon``).
"""

from __future__ import annotations

import re

from spacy.language import Language

from kg.extract.chars import FUNCTION_CHARS, FUNCTION_TAGS, ends_with_any, is_cjk
from kg.extract.document import (
    CANDIDATES, T_SUFFIX, add_candidate, doc_text, doc_tokens, ends_token, starts_token, suffix_type, token_groups, token_starts,
)
from kg.extract.resources import Resources, shared_resources

__all__ = ["kg_suffix_names", "kg_named_events", "NUMERAL"]


_ORDINAL = re.compile(r"第[一二三四五六七八九十\d]+次$")
NUMERAL = re.compile(r"^[\d一二三四五六七八九十〇零百千两]+$")


def _proper_ish(tok: str, res: Resources, allow_numeral: bool) -> bool:
    if tok in res.stopwords or tok in res.roles:
        return False
    if tok.isascii():
        return tok[:1].isalpha() or (allow_numeral and tok.isdigit())
    if allow_numeral and (NUMERAL.match(tok) or _ORDINAL.match(tok)):
        return True
    if not all(is_cjk(c) for c in tok):
        return False
    tag = res.tags.get(tok)
    if tag is None:
        return len(tok) >= 2 or tok in res.places
    if tag in FUNCTION_TAGS or (tag in ("m", "mq") and not allow_numeral):
        return False
    if len(tok) == 1 and tag not in ("ns", "nr", "j", "nz"):
        return False
    return True


_ORG_STOP_PREFIX = {"所有", "全部", "各个", "各", "整个", "这些", "那些", "一些", "许多", "多个", "地下", "自己", "我们", "他们"}


#: event words that are verbs or kinds: the name before them must be proper (清兵屠杀, 农民起义 are no events)
_EVENT_VERB_HEADS = frozenset("屠杀 大屠杀 起义 暴动 叛乱 封锁 审判 行动 选举 大选 公投 政变 兵变 革命 改革 运动 "
                              "喷发 爆发 地震 海啸 西征 东征 远征 北伐 长征 抗战 危机 内战 维新 变法".split())
#: event words of natural events, whose names hold a place (汤加火山喷发, 汶川地震)
_NATURE_HEADS = frozenset("喷发 爆发 地震 大地震 海啸".split())
#: words that may stand between a proper name and an event word (印度民族大起义, 汤加火山大喷发)
_EVENT_INFIX = frozenset("民族 人民 农民 工人 学生 大 火山 独立 解放 反 武装 军民 军队 守军 海军 陆军 空军".split())
#: event words naming games and fairs: after a country they name its team (乌克兰奥运会冠军), not the event
_HOSTED = ("奥运会", "冬奥会", "世界杯", "博览会", "世博会", "亚运会", "全运会", "运动会", "锦标赛", "航展")
#: event words that in technical prose name a protocol or a program event (UDP协议, 鼠标事件)
_TECH_HEADS = ("协议", "协定", "事件", "行动", "运动")
#: event words after which a common noun alone may name the event (广场协议): treaties and meetings
_NOUN_HEADS = frozenset("协议 协定 条约 公约 宣言 会议 峰会 大会 全会".split())
_EVENT_ORDINAL = re.compile(r"^第[一二三四五六七八九十\d]+[次届]$")
_YEAR_NUMERAL = re.compile(r"^(?:1\d{3}|20\d\d|[〇零一二三四五六七八九]+)$")
#: a determiner or a count before an event word (这是, 下一场, 一场, 两次, 这场): never part of the name
_COUNT_PREFIX = re.compile(r"^(?:[这那此该某每哪其本另各诸是]|[下上前后首末]?[一二两三四五六七八九十几数多]+[场次起轮回届个种份家位名大])")


def _event_token_kind(tok: str, res: Resources) -> str | None:
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
    if not all(is_cjk(c) for c in tok) or _COUNT_PREFIX.match(tok):
        return None
    if tok in _EVENT_INFIX:
        return "infix"
    if len(tok) <= 3 and all(c in res.country_abbr for c in tok) and len(tok) >= 2:
        return "strong"
    if len(tok) == 1:  # an abbreviation counts only in a pair (英缅), a transliteration character beside one
        if tok in res.country_abbr:
            return "abbr"
        return "tchar" if tok in res.translit and res.tags.get(tok) not in FUNCTION_TAGS else None
    tag = res.tags.get(tok)
    if tok in res.places or tag in ("ns", "nr", "nrfg", "nrt", "nz", "j"):
        return "strong"
    if tag in FUNCTION_TAGS or tag in ("m", "mq", "b"):
        return None
    if tag is None or all(c in res.translit for c in tok):
        return "strong" if tok[0] not in FUNCTION_CHARS and tok[-1] not in FUNCTION_CHARS else None
    return "strong" if res.freq.get(tok, 0) < 100 else "noun"  # a rare noun is a name (硫黄岛, 钟离)


def _part_text(text: str, parts: list, k: int, end: int) -> str:
    return text[parts[k][0] : parts[k + 1][0] if k + 1 < len(parts) else end]


def _event_at(doc, text: str, toks: list, i: int, suffix: str, res: Resources) -> None:
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
    add_candidate(doc, start, e, "Event", "event_nature" if suffix in _NATURE_HEADS else "event_suffix", 80)


def _event_lexicon(doc, text: str, res: Resources) -> None:
    """Events written without an event word, from a general list of a whole category (抗美援朝),
    and named banquets (千叟宴, 鸿门宴): a rare two-character name before 宴."""
    toks = doc_tokens(doc)
    starts = token_starts(doc)
    for m in res.event_re.finditer(text):
        a, b = m.start(), m.end()
        left = a == 0 or not is_cjk(text[a - 1]) or starts_token(starts, a)
        right = b >= len(text) or not is_cjk(text[b]) or ends_token(toks, starts, b) or text[b] in FUNCTION_CHARS
        if left and right:
            add_candidate(doc, a, b, "Event", "event_lexicon", 78)
    for a, b, tok in (toks if "宴" in text else ()):
        if len(tok) == 3 and tok.endswith("宴") and tok[:2] not in res.event_modifiers and all(is_cjk(c) for c in tok):
            prefix = tok[:2]
            if res.freq.get(prefix, 0) < 20 and not (set(prefix) & FUNCTION_CHARS) and res.freq.get(tok, 0) < 1000:
                add_candidate(doc, a, b, "Event", "event_banquet", 76)


@Language.component("kg_suffix_names")
def kg_suffix_names(doc):
    res = shared_resources()
    text = doc_text(doc)
    toks = doc_tokens(doc)
    _event_lexicon(doc, text, res)
    for i in token_groups(doc)[T_SUFFIX]:  # the tokens ending in a suffix word
        s, e, tok = toks[i]
        found = suffix_type(tok, res)
        if not found:
            continue
        type_, suffix = found
        if type_ == "Event":
            _event_at(doc, text, toks, i, suffix, res)
            continue
        if type_ == "Organization" and (
            ends_with_any(tok, len(tok), res.roles, res.role_lens)
            or (len(suffix) == 1 and len(tok) >= 2 and res.tags.get(tok) not in (None, "nt", "nz", "j", "ns"))
        ):
            continue  # a role (广州将军) or an everyday word ending in 军/党 (冠军, 敌军), not an organisation
        end = e - 1 if suffix == "党员" else e
        allow_numeral = type_ == "Event"
        tag = res.tags.get(tok)
        extend = True
        if len(tok) > len(suffix):
            prefix = tok[: len(tok) - len(suffix)] if suffix != "党员" else tok[:-2]
            if tag is not None and tag in FUNCTION_TAGS:
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
                                     or (suffix_type(ptok, res) or ("",))[0] == "Organization"):
                break  # 国民党中统淮阴地区, 共产党员松岛: an organisation or a person word ends the place
            if generic and (ptok in res.places or not (all(c in res.translit for c in ptok) or res.tags.get(ptok) in ("ns", "nz")
                                                        or (tok in _LANDFORMS and not res.freq.get(ptok) and any(c in res.translit for c in ptok)))):
                break  # 汤加火山 is 汤加, 浅层火山 no place; an unknown word of transliteration is part of it (斯通博利火山)
            if type_ == "Organization" and (res.tags.get(ptok) in ("m", "mq", "r", "b") or NUMERAL.match(ptok[:1])
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
        add_candidate(doc, start, end, type_, f"{type_.lower()}_suffix", priority)
    return doc


#: landform nouns a transliterated name stands before (斯通博利火山)
_LANDFORMS = frozenset("火山 群岛 半岛 山脉 海峡 盆地 高原 平原 沙漠 运河 海湾 湖泊".split())
#: endings of an office or bureau name a region can stand inside (淮阴地区调查统计室)
_OFFICE_END = ("室", "处", "科", "股", "所", "局", "署", "部", "厅", "站", "委", "办")


def _org_follows(text: str, e: int, res: Resources) -> bool:
    """Whether the words right after ``e`` (up to punctuation or a function character) end in an
    organisation or office word: the place before them is part of that organisation's name."""
    k = e
    while k < len(text) and k - e < 10 and is_cjk(text[k]) and text[k] not in FUNCTION_CHARS:
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


#: event words a name of a place or a person may stand before (拿破仑战争, 巴赫姆特战役, 苏丹内战)
_NAMED_HEADS = frozenset("战争 大战 战役 会战 之战 之役 海战 空战 血战 攻防战 保卫战 围城战 登陆战 内战 起义 暴动 革命 "
                         "兵变 政变 事变 事件 惨案 危机 叛乱 之乱 之变 改革 变法 维新 大捷 北伐 东征 西征 远征".split())
#: words that may stand between the name and the event word (奥地利继承战争, 八国联军侵华战争)
_NAMED_INFIX = _EVENT_INFIX | frozenset("继承 王位 侵华 统一 殖民".split())
#: the candidates whose name may lead an event name: places and people (not titles, not the weak lexicon)
_NAME_TYPES = frozenset({"Place", "Person"})
_NAME_METHODS_SKIPPED = frozenset({"lexicon_nr", "lexicon_ns", "lexicon_nrt", "lexicon_nrfg", "surname"})
#: a year and 年 before an election or a games (1996年大选, 2016年总统选举, 2008年奥运会)
_YEAR_EVENT = re.compile(r"(?:1\d{3}|20\d\d)年(?:的)?[\u4e00-\u9fff]{0,4}?(?:大选|选举|公投|奥运会|冬奥会|世界杯|亚运会|全运会|运动会|锦标赛|博览会|世博会|航展|大火)")


@Language.component("kg_named_events")
def kg_named_events(doc):
    """Event names the suffix rule leaves out, from what the components before found: a place or a
    person the other rules name, right before an event word (拿破仑战争, 巴赫姆特战役, 苏丹内战),
    perhaps with an infix word (奥地利继承战争); and a year before an election or games (1996年大选).
    Candidates for the tagger (``event_after_name``, ``event_year``), not answers."""
    text = doc_text(doc)
    cands = doc.user_data.get(CANDIDATES)
    if cands:
        res = shared_resources()
        toks = doc_tokens(doc)
        starts = token_starts(doc)
        names_ending: dict[int, int] = {}  # end -> the earliest start of a name ending there
        events = set()
        for s, e, type_, method, _prio in cands:
            if type_ == "Event":
                events.add((s, e))
            elif type_ in _NAME_TYPES and method not in _NAME_METHODS_SKIPPED and e - s >= 2:
                names_ending[e] = min(s, names_ending.get(e, s))
        for i in token_groups(doc)[T_SUFFIX]:
            s, e, tok = toks[i]
            head = (suffix_type(tok, res) or ("", ""))[1]
            if head not in _NAMED_HEADS or (tok != head and tok[: -len(head)] not in _NAMED_INFIX):
                continue  # an event word, or one with an infix word (独立战争), not a common noun (贸易战争)
            start = names_ending.get(s)
            if start is None and i > 0 and toks[i - 1][2] in _NAMED_INFIX:
                start = names_ending.get(toks[i - 1][0])
            if start is not None and (start, e) not in events and starts_token(starts, start):
                add_candidate(doc, start, e, "Event", "event_after_name", 78)
    for m in _YEAR_EVENT.finditer(text):
        add_candidate(doc, m.start(), m.end(), "Event", "event_year", 78)
    return doc
