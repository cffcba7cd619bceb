"""Component ``kg_person_names``: people → Person.

Rulers (乾隆, 汉献帝), words jieba's HMM made of a surname and a given name, dotted Western
names (亚历山大·朱汉), surname + given name, transliterated names, names after a role word or
叫/名叫, and short names coordinated with a person found.  ``plausible_person`` and
``person_context`` are also read by ``kg_lexicon``.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right

from spacy.language import Language

from kg.extract.chars import (
    CJK_CHARS, CJK_NAME_CHARS, FUNCTION_CHARS, FUNCTION_TAGS, NAME_TAGS, NOT_NAME_CHAR, NOT_NAME_END, PUNCT,
    TRANSLIT_SEP, ends_with_any, finditer_from, is_cjk,
)
from kg.extract.document import (
    CANDIDATES, T_NEW, T_RULER, T_RULER_HEAD, add_candidate, common_word_at, doc_text, doc_tokens, ends_token,
    inside_word, is_terminator, left_boundary, left_ok, places_at, starts_token, token_groups, token_starts,
)
from kg.extract.resources import Resources, shared_resources

__all__ = ["kg_person_names", "person_context", "plausible_person", "VERBISH"]


#: a dynasty and a temple or posthumous title: 汉献帝, 唐太宗, 明成祖
_DYNASTY_TITLE = "[秦汉晋隋唐宋元明清辽金][太高世中仁英宪孝武文景宣献灵哀惠昭章和安顺桓少平光明神熹思怀愍穆德睿]{1,2}[帝宗祖]"


_DYNASTY_TITLE_RE = re.compile(_DYNASTY_TITLE)


#: characters a given name ends with only when a function word is glued on (揆叙可都 → 揆叙)
_WEAK_NAME_END = set("可被把将对从向为以于或就也都而又还很最更再已曾并但却则因如说等连虽便即乃仍竟亦均皆给让叫了的是在和与及着过得地所")
#: last characters that make a word a thing, a place or a group, not a person (石浦港, 海圻舰, 余生录, 幸存者)
_CATEGORY_END = set("港舰艇号录者城局部厂站馆队团党帮派式质性率权型化法论界学寨泊庄寺庙")


def _everyday_name_word(name: str, res: Resources) -> bool:
    """A two-character dictionary word that jieba tags as a name but uses as an everyday word.

    jieba's ``nr`` tag covers many common words (阳光, 荣耀, 麻木, 师爷); real two-character
    names in its dictionary are rarer words.  A frequent word counts as everyday, unless it is also
    a reign or given name the dictionary knows as such in longer names (乾隆帝, 溥仪).
    """
    if len(name) != 2 or res.tags.get(name) not in NAME_TAGS:
        return False
    return res.freq.get(name, 0) >= 100 and not res.freq.get(name + "帝") and not res.freq.get(name + "皇帝")


_KIN = re.compile(r"的?(?:侄子|侄女|儿子|女儿|妻子|丈夫|老婆|夫人|父亲|母亲|哥哥|弟弟|姐姐|妹妹|秘书|副官|亲信|学生|同学|部下|参议|舞伴|小舅子|外甥)")


def person_context(text: str, s: int, e: int, res: Resources) -> bool:
    """Whether ``text[s:e]`` stands where a person's name stands: after or before a role word,
    or before a kinship or retinue word (溥仪的侄子, 将军凤山, 党员张扬)."""
    if res.role_re.match(text, e) or _KIN.match(text, e):
        return True
    return ends_with_any(text, s, res.roles, res.role_lens) or text.endswith("党员", 0, s)


def plausible_person(text: str, s: int, e: int, res: Resources) -> bool:
    """General checks on a span proposed as a person's name by the dictionary or a surname."""
    name = text[s:e]
    if name[-1] in _CATEGORY_END or name[-1] == "人":
        return False  # 石浦港, 海圻舰, 阿富汗人
    if _everyday_name_word(name, res) and not person_context(text, s, e, res):
        return False
    if len(name) >= 4 and name[0] in res.surnames_zh and name[:2] not in res.surnames_zh and not any(
        name[:n] in res.surnames_ja for n in res.ja_lens if 2 <= n <= len(name)
    ) and not res.translit.issuperset(name):
        return False  # four characters after a one-character surname: an idiom (顾名思义, 尚方宝剑)
    if any(name.startswith(p) for p in places_at(text, s, res)) or res.role_re.search(name, 1):
        return False  # 罗马城, 罗马教皇
    if res.translit.issuperset(name) and (
        (s > 0 and text[s - 1] in res.translit) or (e < len(text) and text[e] in res.translit)
    ):
        return False  # the middle of a transliterated word (巴赫穆特, 莫比乌斯)
    return True


VERBISH = {"v", "vn", "vd", "r", "p", "d", "c", "u", "q", "a", "ad", "m"}


def _role_before(text: str, i: int, res: Resources) -> bool:
    return ends_with_any(text, i, res.roles, res.role_lens)


def _verb_like_given(surname: str, given: str, res: Resources) -> bool:
    """Whether a single-character surname that is mostly an everyday word (来, 由, 任, 全, 费) is
    followed by a verb, pronoun or measure word rather than a given name."""
    if res.tags.get(given) in ("q",) or (len(given) == 1 and res.tags.get(given) == "q"):
        return True
    if res.tags.get(surname) not in VERBISH:
        return False
    return res.tags.get(given[0]) in VERBISH or res.tags.get(given) in VERBISH


def _person_by_new_word(doc, res: Resources) -> None:
    """A word jieba's HMM made up (not in its dictionary) of a surname and one or two name
    characters is a name (刘峙, 潘从洲, 李仙洲)."""
    text = doc_text(doc)
    toks = doc_tokens(doc)
    for i in token_groups(doc)[T_NEW]:
        s, e, tok = toks[i]
        surname, given = tok[0], tok[1:]
        if surname not in res.surnames_zh or surname in FUNCTION_CHARS or surname in NOT_NAME_CHAR:
            continue
        if _verb_like_given(surname, given, res) or given[-1] in NOT_NAME_END or given[-1] in "朝代国" or any(c in NOT_NAME_CHAR and c not in "从" for c in given):
            continue
        if any(res.freq.get(given[j:], 0) >= 50 for j in range(len(given) - 1)) or not left_ok(text, s, res):
            continue
        if plausible_person(text, s, e, res) and is_terminator(text, e, res):
            add_candidate(doc, s, e, "Person", "new_word_name", 64)


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


def _person_by_dot(doc, res: Resources) -> None:
    """A Western name written with a middle dot: the words either side of it (亚历山大·朱汉)."""
    text = doc_text(doc)
    toks = doc_tokens(doc)
    for m in finditer_from(_DOT_NAME, text, _dot_name_starts(text)):
        dot = m.end(1)
        k = bisect_left(token_starts(doc), dot) - 1  # the token ending at the dot, if one does
        tok = toks[k] if k >= 0 and toks[k][1] == dot else None
        if tok is None or not CJK_CHARS.issuperset(tok[2]) or tok[2] in res.stopwords:
            continue
        s = tok[0]
        e = m.end()
        # the name after the dot ends at a function character or a common word
        k = dot + 1
        while k < e and not (text[k] in FUNCTION_CHARS or (k > dot + 2 and common_word_at(text, k, res) and text[k] not in res.translit)):
            k += 1
        e = k
        if e - dot >= 3 and text[s:e] not in res.places:
            add_candidate(doc, s, e, "Person", "dotted_name", 70)


def _surname_at(text: str, i: int, res: Resources) -> list[tuple[str, bool]]:
    """The surnames (up to four characters) starting at ``i``, longest first, each with whether its
    given name may have three characters (Japanese surnames, Chinese ones of two characters)."""
    out = []
    long = res.surname_long
    for n in res.surname_lens.get(text[i : i + 1], ()):
        w = text[i : i + n]
        if len(w) == n and w in long:
            out.append((w, long[w]))
    return out


def _inside_dictionary_word(toks: list, tok_starts: list, s: int, e: int, res: Resources) -> bool:
    """Whether ``text[s:e]`` lies strictly inside one longer dictionary word (尚方 in 尚方宝剑)."""
    k = bisect_right(tok_starts, s) - 1
    if k < 0:
        return False
    a, b, tok = toks[k]
    return a <= s and e < b and len(tok) >= 3 and res.freq.get(tok, 0) > 0


#: what may follow a given name ending in 之: punctuation or the end, not a noun (刘备之子)
_ZHI_END = re.compile(r"$|[，。！？；：、,.!?;:（）()》”’\s&＆]|[的是说和与在曾也就]")


def _person_by_surname(doc, res: Resources) -> None:
    text = doc_text(doc)
    toks = doc_tokens(doc)
    tok_starts = token_starts(doc)
    freq, surname_lens, surname_long = res.freq, res.surname_lens, res.surname_long
    n = len(text)
    pos = 0
    starts = [m.start() for m in res.surname_start_re.finditer(text)]
    longer = [m.start() for m in res.long_surname_re.finditer(text)]
    if longer:
        starts = sorted(starts + longer)
    for i in starts:
        if i < pos or (i and text[i - 1].isascii() and text[i - 1].isalnum()):  # not left_ok
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
                if surname in FUNCTION_CHARS:
                    continue
                # (no common word starts here when its first two characters are no dictionary prefix)
                w = common_word_at(text, i, res, min_freq=20) if text[i : i + 2] in freq else 0
                if w and res.tags.get(text[i : i + w]) not in NAME_TAGS:
                    continue
                if surname in NOT_NAME_CHAR and not _role_before(text, i, res):
                    continue  # 年 is a surname right after a role word (巡抚年遐龄)
            if inside is None:
                inside = inside_word(text, i, res)
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
                if not CJK_NAME_CHARS.issuperset(given) or given[-1] in NOT_NAME_END:
                    continue
                if res.role_re.match(text, i + k):
                    break
                if given[0] in "总大小" and res.role_re.match(text, i + k + 1):
                    break
                if not is_terminator(text, e, res):
                    continue
                name = text[i:e]
                tag = res.tags.get(name)
                if name in res.stopwords or (tag is not None and tag not in NAME_TAGS and res.freq.get(name, 0) > (5 if k >= 2 else 0)):
                    continue
                if g > 1 and given[-1] in _WEAK_NAME_END:
                    continue  # a function character glued on (纳兰揆叙可都…): try the shorter name
                if not plausible_person(text, i, e, res):
                    continue
                if k == 1 and len(given) == 2 and res.freq.get(given, 0) >= 100 and res.tags.get(given) not in NAME_TAGS:
                    continue
                if len(given) >= 2 and res.freq.get(given, 0) >= 50 and res.tags.get(given) in FUNCTION_TAGS:
                    continue
                if k == 1 and g == 1 and not left_boundary(text, i, res):
                    continue
                # the given name must not be a common word running on past the name
                if any(res.freq.get(text[j : e + 1], 0) >= 30 for j in range(i + k, e)):
                    continue
                if k == 1 and _verb_like_given(surname, given, res) and not person_context(text, i, e, res):
                    continue  # 来打, 由溅落, 任哪去, 全灭: a verb after a character that is mostly a word
                best = (i, e, 75 if k >= 2 else 65)
                break
            if not best:
                known = next((text[i : i + m] for m in (4, 3) if res.tags.get(text[i : i + m]) in NAME_TAGS), None)
                if known and plausible_person(text, i, i + len(known), res):
                    best = (i, i + len(known), 75)  # the dictionary knows the whole name (左宗棠结了 → 左宗棠)
            if best:
                break
        if best and _inside_dictionary_word(toks, tok_starts, best[0], best[1], res):
            pos = toks[bisect_right(tok_starts, best[0]) - 1][1]  # no name starts inside the word either (武王伐纣)
            continue
        if best and text.startswith("之", best[1]) and best[1] - best[0] == 2 and _ZHI_END.match(text, best[1] + 1):
            best = (best[0], best[1] + 1, best[2])  # a given name ending in 之 (华克之, 王羲之)
        if best:
            add_candidate(doc, best[0], best[1], "Person", "surname", best[2])
            pos = best[1]


_PLACE_ENDINGS = ("斯克", "格勒", "堡", "茨克", "波尔", "夫卡", "维尔", "尼亚", "斯坦", "兰", "亚", "港")
_PERSON_ENDINGS = ("维奇", "斯基", "耶夫", "科夫", "诺夫", "洛夫", "娃", "娜", "耶娃")
_PLACE_PREV = set("在到于从往赴抵入经")
_PLACE_NEXT = ("地区", "附近", "方向", "前线", "城", "市", "州", "省", "港", "郊", "一带", "战役", "州长")


def _person_by_transliteration(doc, res: Resources) -> None:
    text = doc_text(doc)
    for m in res.translit_re.finditer(text):
        s, e = m.start(), m.end()
        name = m.group(0)
        has_sep = any(c in name for c in TRANSLIT_SEP)
        if not has_sep and len(name) < 3:
            continue
        # trim common words glued at either end (他说 etc. are not in the set, but 特别/利用 are)
        while e - s >= 3 and res.freq.get(text[e - 2 : e], 0) >= 2000 and res.tags.get(text[e - 2 : e]) not in NAME_TAGS | {"ns"}:
            e -= 2
        while e - s >= 3 and res.freq.get(text[s : s + 2], 0) >= 2000 and res.tags.get(text[s : s + 2]) not in NAME_TAGS | {"ns"}:
            s += 2
        name = text[s:e]
        if len(name) < 3 and not has_sep:
            continue
        if name in res.places or name in res.stopwords:
            continue
        tag = res.tags.get(name)
        if tag is not None and tag not in NAME_TAGS | {"ns", "nz"} and res.freq.get(name, 0) > 50:
            continue
        if text.startswith(("人", "族", "语"), e) and len(name) <= 4:
            continue  # 斯拉夫人: a people or a language, not a person
        regnal = next((r for r in res.regnal if text.startswith(r, e)), None)
        prev = text[s - 1] if s else ""
        after = text[e:]
        if regnal:
            add_candidate(doc, s, e + len(regnal), "Person", "transliterated_regnal", 85)
            continue
        role_before = ends_with_any(text, s, res.roles, res.role_lens)
        role_after = bool(res.role_re.match(text, e))
        place_context = prev in _PLACE_PREV or after.startswith(_PLACE_NEXT) or tag == "ns"
        if len(name) == 3 and name.endswith("亚") and not place_context and not has_sep and (
                e >= len(text) or text[e] in PUNCT or text[e] in FUNCTION_CHARS) and (
                s == 0 or not is_cjk(text[s - 1]) or text[s - 1] not in res.translit):
            # three characters ending in 亚 outside a place context: a given name (谢尼亚, 塔尼亚);
            # the countries and regions so written are in the gazetteer (肯尼亚, 叙利亚)
            add_candidate(doc, s, e, "Person", "transliterated", 58)
        elif name.endswith(_PLACE_ENDINGS) or place_context:
            add_candidate(doc, s, e, "Place", "transliterated_place", 50)
        elif has_sep or role_before or role_after or name.endswith(_PERSON_ENDINGS) or tag in NAME_TAGS:
            add_candidate(doc, s, e, "Person", "transliterated", 60)


def _person_by_role(doc, res: Resources) -> None:
    """A name right after a role word (理事长池田成彬, 教皇克莱芒八世) or after 叫/名叫."""
    text = doc_text(doc)
    for m in re.finditer(r"(?:名叫|叫做|叫|名为)([\u3400-\u9fff]{2,5})(?=[，。、；：,\s]|$)", text):
        name = m.group(1)
        if len(name) >= 4 and name[:2] not in res.surnames_zh and name[:2] not in res.surnames_ja and text.count(name) < 2:
            continue  # 叫凤山入城: four characters after 叫, used once, name a thing
        if name not in res.stopwords and not res.tags.get(name, "nr").startswith(("v", "a", "d")):
            add_candidate(doc, m.start(1), m.end(1), "Person", "named_as", 70)
    # a name right after a role word: 大太监小德张的, 秘书阎又文是, 精神领袖北一辉时
    for m in res.role_re.finditer(text):
        s = m.end()
        for n in (3, 2):
            e = s + n
            name = text[s:e]
            if e > len(text) or not all(is_cjk(c) and c not in _ROLE_NAME_STOP for c in name):
                continue
            if not (e >= len(text) or text[e] in PUNCT or text[e] in "的是时在和与说等曾被将也都就"):
                continue
            if res.role_re.match(text, s) or name in res.stopwords or res.place_re.match(text, s):
                break
            tag = res.tags.get(name)
            if tag is not None and tag not in NAME_TAGS or res.freq.get(name, 0) >= 30 and tag not in NAME_TAGS:
                continue
            if common_word_at(text, e - 2, res, min_freq=30) and res.tags.get(text[e - 2 : e]) not in NAME_TAGS:
                continue
            add_candidate(doc, s, e, "Person", "role_name", 66)
            break


#: characters never in a name found by its role word (a looser set than NOT_NAME_CHAR: 北一辉, 阎又文)
_ROLE_NAME_STOP = set("他她它我你的了是在和与及就也都而被把将对从向为以于或其这那着过得地所还很最更再已曾并但却则因如说等们个年月日")
#: words after a reign name or a title that make it a book (永乐大典, 康熙字典, 明太祖实录)
_BOOK_WORDS = ("大典", "字典", "全书", "宝典", "实录", "会典", "会要", "通鉴", "类书", "丛书", "辞典", "词典", "通宝")


def _person_by_ruler(doc, res: Resources) -> None:
    """Monarchs by reign, personal or temple name from the general list (乾隆, 溥仪, 汉献帝), as whole words."""
    text = doc_text(doc)
    toks = doc_tokens(doc)
    starts = token_starts(doc)
    rulers = res.rulers
    groups = token_groups(doc)
    # two adjacent tokens making a ruler's name: the first is a proper prefix of one
    found = [(toks[j][0], toks[j + 1][1]) for j in groups[T_RULER_HEAD]
             if j + 1 < len(toks) and toks[j][1] == toks[j + 1][0] and toks[j][2] + toks[j + 1][2] in rulers]
    found += [toks[j][:2] for j in groups[T_RULER]]
    found += [(m.start(), m.end()) for m in _DYNASTY_TITLE_RE.finditer(text)]
    for s, e in found:
        left = s == 0 or not is_cjk(text[s - 1]) or starts_token(starts, s)
        right = e >= len(text) or not is_cjk(text[e]) or ends_token(toks, starts, e) or text[e] in FUNCTION_CHARS
        if text.startswith(_BOOK_WORDS, e):
            continue  # 康熙字典, 永乐大典 are books
        if left and right and not any(res.freq.get(text[s : e + k]) for k in (1, 2, 3)):
            add_candidate(doc, s, e, "Person", "ruler", 84)


@Language.component("kg_person_names")
def kg_person_names(doc):
    res = shared_resources()
    _person_by_ruler(doc, res)
    _person_by_new_word(doc, res)
    _person_by_dot(doc, res)
    _person_by_surname(doc, res)
    _person_by_transliteration(doc, res)
    _person_by_role(doc, res)
    _person_by_coordination(doc, res)
    return doc


def _name_like(name: str, res: Resources, paired: bool) -> bool:
    """A coordinated short name: a surname first, or an unknown word whose first character is no
    adjective, adverb, verb or numeral (弥助; not 低资源, 肺鼠疫)."""
    if name[:1] in res.surnames_zh or name[:1] in res.surnames_ja or name[:2] in res.surnames_ja:
        return True
    first = ("nr", "nrfg", "nrt", "zg", "ng", None) + (("v", "n", "ns") if paired else ())
    return res.tags.get(name[0]) in first and res.freq.get(name, 0) == 0


_COORD_AFTER = re.compile(r"[ \t]*(?:&|＆|和|与|及|、)[ \t]*([\u3400-\u9fff]{2,3}?)(?:等|们)?(?=$|[）)，。、；：,;:！？!?\s])")
_COORD_BEFORE = re.compile(r"(?:^|(?<=[（(，。、；：,;:！？!?\s]))([\u3400-\u9fff]{2,3})[ \t]*(?:&|＆|和|与|及|、)[ \t]*$")


def _person_by_coordination(doc, res: Resources) -> None:
    """A short name coordinated with a person found by a strong method is a person too, when it is
    set off by punctuation on its other side (织田信长&弥助, 弥助和织田信长)."""
    text = doc_text(doc)
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
            if (tag is not None and tag not in NAME_TAGS) or res.freq.get(name, 0) >= 30 or any(c in NOT_NAME_CHAR for c in name):
                continue
            if _name_like(name, res, paired) and plausible_person(text, a, b, res):
                add_candidate(doc, a, b, "Person", "coordinated_person", 63)
