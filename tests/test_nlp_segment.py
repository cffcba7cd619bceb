"""The extraction pass's own jieba segmentation and its cached jieba tables: the same words and tables as jieba's."""

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from kg import extract as nlp
from kg.extract import chars, dates, document, extractor, finders, organisations, persons, places, resources, titles

SEED = Path(__file__).resolve().parents[2] / "shared" / "seed" / "000_3c3c03ef14cd1a5a.txt"
SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "000_3c3c03ef14cd1a5a.md"


def jieba_words(text: str) -> list[tuple[int, int, str]]:
    import jieba

    out, pos = [], 0
    for w in jieba.cut(text, cut_all=False):
        if not w.isspace():
            out.append((pos, pos + len(w), w))
        pos += len(w)
    return out


def _texts() -> list[str]:
    note = SEED if SEED.is_file() else SAMPLE
    text = note.read_text(encoding="utf-8")
    rnd = random.Random(7)
    alphabet = sorted(set(text)) + list(" \t\r\n\u3000ab.-%#&+_9") + [chr(rnd.randrange(0x4E00, 0x9FD6)) for _ in range(200)]
    out = [text, "", " ", "\r\n", "作为", "GPT-3和BERT在2018年", "1.5%的人", "#&+_", "abc def\u3000中文　空格"]
    for _ in range(400):
        a = rnd.randrange(len(text))
        out.append(text[a : a + rnd.randrange(1, 200)])
        out.append("".join(rnd.choice(alphabet) for _ in range(rnd.randrange(1, 60))))
        out.append("".join(chr(rnd.randrange(0x4E00, 0x9FD6)) for _ in range(rnd.randrange(1, 30))))
    return out


def test_segment_is_jieba_cut_word_for_word():
    for text in _texts():
        assert nlp.segment(text) == jieba_words(text), text


def test_hmm_is_jiebas_finalseg():
    from jieba import finalseg

    seg = resources.shared_resources().segmenter
    for text in _texts():
        assert seg._hmm_cut(text) == list(finalseg.cut(text)), text


_PROBE = """
import json, sys
from kg.extract import segmenter
freq, total, tags = segmenter.jieba_tables()
from_cache = "jieba.posseg" not in sys.modules
import jieba, jieba.posseg
own = jieba.Tokenizer()
own.initialize()
print(json.dumps({"from_cache": from_cache, "freq": freq == own.FREQ, "total": total == own.total,
                  "tags": tags == jieba.posseg.dt.word_tag_tab, "shared": jieba.dt.FREQ is freq and jieba.dt.initialized}))
"""


def _probe(cache: Path) -> dict:
    import json

    env = {**os.environ, "KG_CACHE_DIR": str(cache)}
    done = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_jieba_tables_cache_is_written_read_and_equal_to_jiebas(tmp_path):
    first = _probe(tmp_path)
    assert not first["from_cache"] and len(list(tmp_path.glob("jieba-tables-*.marshal"))) == 1
    second = _probe(tmp_path)
    assert second == {"from_cache": True, "freq": True, "total": True, "tags": True, "shared": True}
    assert first == {**second, "from_cache": False}


@pytest.mark.parametrize("content", [b"", b"not marshal data", None])
def test_jieba_tables_cache_that_does_not_fit_is_rebuilt(tmp_path, content):
    import marshal

    _probe(tmp_path)
    (file,) = tmp_path.glob("jieba-tables-*.marshal")
    file.write_bytes(content if content is not None else marshal.dumps(("another key", {}, 1, {}), 4))
    (tmp_path / "jieba-tables-0123456789abcdef.marshal").write_bytes(b"stale")
    probe = _probe(tmp_path)
    assert probe == {"from_cache": False, "freq": True, "total": True, "tags": True, "shared": True}
    assert [f.name for f in tmp_path.glob("jieba-tables-*")] == [file.name]  # rewritten; the stale one is gone
    assert _probe(tmp_path)["from_cache"]


# ---------------------------------------------------------------- helpers of the rule components


def _fuzz_texts(n: int = 3000) -> list[str]:
    rnd = random.Random(11)
    parts = (list("的和与及、等年月日号一二三四五六七八九十〇零两公司集团财阀银行企业家族川江河山北京富士甲乙丙丁 ，。\n")
             + ["1950", "2018年3月5日", "12", "6月8日", "1970-01-02", "一九四九年", "元旦", "三井和三菱两家财阀",
                "美团与滴滴等公司", "年", "19", "-", "/"])
    return ["".join(rnd.choice(parts) for _ in range(rnd.randrange(1, 40))) for _ in range(n)]


def test_finditer_from_matches_finditer_when_every_start_is_given():
    texts = _fuzz_texts()
    for text in texts:
        spans = lambda ms: [(m.span(), m.groups()) for m in ms]  # noqa: E731
        starts = dates._date_starts(text)
        assert spans(chars.finditer_from(finders.DATE_RE, text, starts)) == spans(finders.DATE_RE.finditer(text)), text
        heads = sorted({p for m in organisations._GROUP_NOUN.finditer(text) for p in range(m.start() - 7, m.start() - 4) if p >= 0})
        assert spans(chars.finditer_from(organisations._COORD_ORGS, text, heads)) == spans(organisations._COORD_ORGS.finditer(text)), text


def test_dictionary_helpers_agree_with_plain_scans():
    res = resources.shared_resources()
    rnd = random.Random(3)
    text = "".join(_texts()[:50])
    roles = sorted(res.roles)
    for _ in range(3000):
        i = rnd.randrange(len(text) + 1)
        assert chars.ends_with_any(text, i, res.roles, res.role_lens) == any(text.endswith(r, 0, i) for r in roles)
        word = text[i : i + rnd.randrange(1, 6)] + rnd.choice(["", *sorted(res.surnames_ja)[:50]])
        assert chars.starts_with_any(word, res.surnames_ja, res.ja_lens) == any(word.startswith(x) for x in res.surnames_ja)
        if i < len(text):
            plain = next((n for n in (4, 3, 2) if len(text[i : i + n]) == n and res.freq.get(text[i : i + n], 0) >= 20), 0)
            assert document.common_word_at(text, i, res, min_freq=20) == plain
            plain_inside = any(
                res.freq.get(text[a:b], 0) >= 20 and res.tags.get(text[a:b]) not in chars.NAME_TAGS and text[a:b] not in res.roles
                for a in range(max(0, i - 3), i) for b in range(i + 1, min(len(text), a + 4) + 1))
            assert document.inside_word(text, i, res) == plain_inside
        expected = []
        for n in (4, 3, 2, 1):
            w = text[i : i + n]
            if len(w) == n and (w in res.surnames_ja or w in res.surnames_zh):
                expected.append((w, w in res.surnames_ja or n >= 2))
        assert persons._surname_at(text, i, res) == expected
    assert all(chars.is_cjk(c) == bool(chars._CJK.match(c)) for c in map(chr, range(0x3000, 0xFFFF)))


def test_words_pattern_matches_like_the_alternation_longest_first():
    import re

    rnd = random.Random(5)
    alphabet = "北京海道东西南山川.*?()[]|\\"
    for _ in range(300):
        words = {"".join(rnd.choice(alphabet) for _ in range(rnd.randrange(1, 5))) for _ in range(rnd.randrange(0, 30))}
        flat = re.compile("|".join(map(re.escape, sorted(words, key=lambda w: (-len(w), w)))) if words else "(?!)")
        trie = re.compile(chars.words_pattern(words))
        for _ in range(20):
            text = "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(0, 30)))
            assert [m.span() for m in trie.finditer(text)] == [m.span() for m in flat.finditer(text)], (words, text)
            for i in range(len(text) + 1):
                a, b = trie.match(text, i), flat.match(text, i)
                assert (a and a.span()) == (b and b.span())
            assert bool(trie.fullmatch(text)) == (text in words)
    res = resources.shared_resources()
    sample = _texts()[0]
    flat = re.compile("|".join(map(re.escape, sorted(res.places, key=lambda w: (-len(w), w)))))
    assert [m.span() for m in res.place_re.finditer(sample)] == [m.span() for m in flat.finditer(sample)]


def test_packed_extraction_round_trips():
    from dataclasses import fields

    from kg.model import Extraction
    from kg.notes import parse_note

    assert [f.name for f in fields(Extraction)] == ["note", "entities", "mentions", "dates", "problem"]
    x = nlp.load_extractor().extract(parse_note(
        "# t\n\n1970年1月，北京大学的张三在北京。6月8日回来。Long Short Term Memory (LSTM) 很好。\n", "t.md"))
    assert x.mentions and x.dates and x.entities
    assert extractor._unpack(extractor._pack(x)) == x
    failed = Extraction(note="f.md", entities=(), mentions=(), problem="extraction stopped")
    assert extractor._unpack(extractor._pack(failed)) == failed


def test_token_groups_are_the_token_classes():
    doc = document.PlainDoc(_texts()[0])
    res = resources.shared_resources()
    groups = document.token_groups(doc)
    for bit, members in groups.items():
        assert members == [i for i, t in enumerate(doc.user_data["kg_tokens"]) if document._token_class(t[2], res) & bit]


def test_occurrences_are_the_longest_first_alternation_per_text():
    import re

    rnd = random.Random(9)
    alphabet = "张三北京大学A B\n."
    for _ in range(500):
        names = {"".join(rnd.choice(alphabet) for _ in range(rnd.randrange(1, 5))) for _ in range(rnd.randrange(1, 12))}
        texts = ["".join(rnd.choice(alphabet) for _ in range(rnd.randrange(0, 40))) for _ in range(rnd.randrange(1, 5))]
        pattern = re.compile("|".join(map(re.escape, sorted(names, key=lambda x: (-len(x), x)))))
        expected = [(k, m.start(), m.end(), m.group(0)) for k, t in enumerate(texts) for m in pattern.finditer(t)]
        assert list(extractor._occurrences(names, texts)) == expected, (names, texts)


def test_gloss_starts_and_token_bounds():
    rnd = random.Random(13)
    parts = ["(", "（", ")", "）", " ", "\t", "Stromboli", "Vulcano", "Ab", "式", "火山", "斯通博利", "武尔卡诺", "是", "a", "\n"]
    for _ in range(2000):
        text = "".join(rnd.choice(parts) for _ in range(rnd.randrange(0, 25)))
        got = [(m.span(), m.groups()) for m in chars.finditer_from(places._LATIN_GLOSS, text, places._gloss_starts(text))]
        assert got == [(m.span(), m.groups()) for m in places._LATIN_GLOSS.finditer(text)], text
    doc = document.PlainDoc(_texts()[0])
    toks, starts = doc.user_data["kg_tokens"], document.token_starts(doc)
    begins, ends = {t[0] for t in toks}, {t[1] for t in toks}
    for p in range(len(doc.text) + 2):
        assert document.starts_token(starts, p) == (p in begins)
        assert document.ends_token(toks, starts, p) == (p in ends)


def test_surname_scan_positions_are_where_a_weighed_surname_starts():
    res = resources.shared_resources()
    text = "".join(_texts()[:300]) + "中村上一条有马大久保小西行长王羲之"
    found = {m.start() for m in res.surname_start_re.finditer(text)} | {m.start() for m in res.long_surname_re.finditer(text)}
    expected = {i for i in range(len(text)) if chars.is_cjk(text[i]) and any(
        not (len(w) == 1 and w in chars.FUNCTION_CHARS) for w, _ in persons._surname_at(text, i, res))}
    assert found == expected


@pytest.mark.parametrize("name", ["sentences", "acronyms", "model", "latin", "conference", "unit", "latin_org", "dot"])
def test_anchored_patterns_find_what_finditer_finds(name):
    rnd = random.Random(name)
    parts = ["A", "Ab", "LSTM", "Long", "Short", "Term", "Memory", "of", "the", "GPT-3", "v3", "x", "2018", "19", "'", "-", "_",
             ".", "(", "（", ")", "）", " ", "\t", "\n", "。", "！", "？", "!", "?", "；", ";", "…", "……", "第", "一", "三", "百", "12",
             "旅", "师", "团", "独立", "重型", "长", "人", "网站", "公司", "·", "•", "・", "‧", "斯通", "博利", "亚历山大", "朱", "CVPR",
             "Kaggle", "DeepMind", "Net", "s", "中文"]
    pattern, starts = {
        "sentences": (finders._SENTENCE_END, lambda t: (m.start() for m in finders._SENTENCE_END_CHAR.finditer(t))),
        "acronyms": (finders._ACRONYM_DEF, lambda t: (p for m in finders._ACRONYM_RUN.finditer(t) if t.startswith(("(", "（"), m.end())
                                                 for p in range(m.start(), m.end()))),
        "model": (titles._MODEL_NAME, lambda t: chars.run_starts(chars.ALNUM_DASH_RUN, t)),
        "latin": (chars.LATIN_WORD, lambda t: chars.run_starts(chars.WORD_CHAR_RUN, t)),
        "conference": (titles._CONFERENCE_YEAR, lambda t: chars.run_starts(titles._LETTERS_BEFORE_NUMBER, t)),
        "unit": (organisations._UNIT_RE, lambda t: (m.start() for m in organisations._UNIT_START.finditer(t))),
        "latin_org": (organisations._LATIN_ORG, lambda t: chars.run_starts(chars.ALNUM_DASH_RUN, t)),
        "dot": (persons._DOT_NAME, persons._dot_name_starts),
    }[name]
    for _ in range(3000):
        text = "".join(rnd.choice(parts) for _ in range(rnd.randrange(0, 30)))
        got = [(m.span(), m.groups()) for m in chars.finditer_from(pattern, text, starts(text))]
        assert got == [(m.span(), m.groups()) for m in pattern.finditer(text)], text


def test_clear_caches_changes_no_output():
    from kg.notes import parse_note

    note = parse_note("# t\n\n1970年1月，北京大学的张三和刘峙在北京。斯通博利火山(Stromboli)。\n", "t.md")
    extractor = nlp.load_extractor()
    first = extractor.extract(note)
    nlp.clear_caches()
    res = resources.shared_resources()
    assert not res.token_classes and not res.segmenter.hmm_cache and not res.segmenter.chars
    assert extractor.extract(note) == first
