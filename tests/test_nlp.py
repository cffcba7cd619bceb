"""The extraction pass on real notes: whole names, no everyday words, no URL text, acronyms, offsets, gold F1."""

from pathlib import Path

import pytest

from kg.errors import ModelError
from kg.evaluate import evaluate, load_gold
from kg.model import ENTITY_TYPES, Curation
from kg.extract import load_extractor
from kg.notes import parse_note, read_note

SHARED = Path(__file__).resolve().parents[2] / "shared"
SEED = SHARED / "seed" / "000_3c3c03ef14cd1a5a.txt"
POSTS = SHARED / "corpus" / "posts"
GOLD = Path(__file__).parent / "gold" / "gold.json"

#: F1 per type reached on tests/gold/gold.json (asserted, so regressions show).  These six notes were read
#: while the rules were written and the tagger is trained on them: a floor, not a measure of unseen notes
#: (that is the test half of tests/gold/annotated.json, test_held_out_f1_floor below)
REACHED_F1 = {"Person": 0.97, "Place": 0.98, "Organization": 0.93, "Event": 0.95, "Paper": 0.94}


@pytest.fixture(scope="session")
def extractor():
    return load_extractor()


@pytest.fixture(scope="session")
def seed(extractor):
    note = read_note(SEED, SEED.name)
    return note, extractor.extract(note)


def names(extraction, type_=None):
    return {e.name for e in extraction.entities if type_ in (None, e.type)}


def test_pipeline_is_jieba_zh_with_named_components(extractor):
    assert extractor.pipe_names[0] == "kg_sentences" and extractor.pipe_names[-1] == "kg_resolve"


def test_names_come_out_whole(seed):
    _, x = seed
    people = names(x, "Person")
    for whole in ("池田成彬", "奥崎谦三", "德川家康", "克莱芒八世", "小西行长", "三木武夫"):
        assert whole in people
    for cut in ("田成彬", "奥崎谦", "川家康", "克莱", "小西行", "武夫"):
        assert cut not in names(x)


def test_everyday_words_are_not_entities(seed):
    _, x = seed
    assert not {"卡住", "安抚", "东西", "深度"} & names(x)
    assert not any(m.text in {"卡住", "安抚", "东西", "深度"} for m in x.mentions)


def test_mentions_match_note_text_and_carry_evidence(seed):
    note, x = seed
    keys = {e.key for e in x.entities}
    for m in x.mentions:
        assert note.text[m.start:m.end] == m.text
        assert m.type in ENTITY_TYPES and m.key in keys and m.note == note.path
        assert m.sentence_start <= m.start < m.end <= m.sentence_end
        assert m.method


def test_text_inside_urls_is_never_a_mention(seed):
    note, x = seed
    for ref in note.references:
        assert not any(ref.start < m.end and m.start < ref.end for m in x.mentions)
    assert not any(m.text == "PLE" and "HPLE" in note.text[m.start - 2:m.end] for m in x.mentions)


def test_acronym_definition_gives_alias(seed):
    _, x = seed
    ple = [e for e in x.entities if "PLE" in e.aliases]
    assert len(ple) == 1 and ple[0].name == "Progressive Layered Extraction" and ple[0].type == "Paper"
    assert ple[0].key == "Paper/Progressive Layered Extraction"


def test_events_and_dates(seed):
    _, x = seed
    assert {"二二六兵变", "明治维新", "CVPR 2018"} <= names(x, "Event")
    values = {d.text: d.value for d in x.dates}
    assert values["1969年1月2日"] == "1969-01-02" and values["1970年1月"] == "1970-01"
    assert values["6月8日"] == "1970-06-08" and values["10月7日"] == "1970-10-07"  # the year of the date before
    meiji = [d for d in x.dates if d.value == "1890"]
    assert meiji and "Event/明治维新" in meiji[0].events


def test_month_day_takes_the_preceding_year_in_its_snippet(extractor):
    x = extractor.extract(parse_note("# a\n\n1970年1月出发，6月8日到达。\n\n---\n\n3月2日又走了。\n", "d.md"))
    assert [d.value for d in x.dates] == ["1970-01", "1970-06-08", "--03-02"]


def test_events_have_proper_names_and_no_function_prefix(extractor):
    x = extractor.extract(parse_note(
        "# e\n\n这是第一次阿富汗战争。时间序列的下一场革命？开了最后一次秘密会议。"
        "乌克兰奥运会冠军拍卖金牌。1839年第一次英缅战争爆发。公元79年，维苏威火山喷发。\n", "e.md"))
    events = names(x, "Event")
    assert {"第一次阿富汗战争", "第一次英缅战争", "维苏威火山喷发"} <= events
    assert not {"这是第一次阿富汗战争", "下一场革命", "秘密会议", "乌克兰奥运会"} & events


def test_reference_title_mentions_point_at_the_reference(seed):
    _, x = seed
    in_titles = [m for m in x.mentions if m.reference is not None]
    assert any(m.text == "L2MT" for m in in_titles)


def test_acronym_resolution_within_and_across_notes(extractor):
    defined = parse_note("# A\n\nWe use Progressive Layered Extraction (PLE) here.\n\nLater PLE again.\n", "a.md")
    other = parse_note("# B\n\nPolar Line Estimation (PLE) is something else.\n", "b.md")
    bare = parse_note("# C\n\n模型 PLE 的效果\n", "c.md")
    xa, xb, xc = (extractor.extract(n) for n in (defined, other, bare))
    keys_a = {m.key for m in xa.mentions if m.text == "PLE"}
    assert keys_a == {"Paper/Progressive Layered Extraction"} and len([m for m in xa.mentions if m.text == "PLE"]) == 2
    keys_b = {m.key for m in xb.mentions if m.text == "PLE"}
    assert len(keys_b) == 1 and keys_b.pop().endswith("/Polar Line Estimation")  # its type is the tagger's
    assert all(m.key != "Paper/Progressive Layered Extraction" for m in xc.mentions)


def test_same_name_in_two_notes_has_one_key(extractor):
    a = extractor.extract(parse_note("# x\n\n当时的内阁总理大臣是三木武夫，他认为。\n", "a.md"))
    b = extractor.extract(parse_note("# y\n\n首相三木武夫在东京说，这样不好。\n", "b.md"))
    assert "Person/三木武夫" in {e.key for e in a.entities} & {e.key for e in b.entities}


def test_curation_is_honoured():
    cur = Curation(aliases=(("小西", "小西行长"),), not_entities=("德川家康",), types=(("三井", "Organization"),))
    x = load_extractor(curation=cur).extract(read_note(SEED, SEED.name))
    assert "德川家康" not in names(x)
    assert all(m.key == "Person/小西行长" for m in x.mentions if m.text in ("小西", "小西行长"))


def test_deterministic_and_parallel_equal(extractor):
    notes = [read_note(SEED, SEED.name)] + [read_note(POSTS / p, p) for p in sorted(load_gold(GOLD).notes) if not p.startswith("000_")]
    one = list(extractor.extract_many(notes))
    again = list(extractor.extract_many(notes))
    two = list(extractor.extract_many(notes, n_process=2))
    assert one == again == two
    assert [x.note for x in one] == [n.path for n in notes]


def test_missing_model_raises_model_error():
    with pytest.raises(ModelError, match="not installed"):
        load_extractor(model="no_such_pipeline_xyz")


def test_gold_f1_per_type(extractor):
    gold = load_gold(GOLD)
    entities = []
    for path in gold.notes:
        file = SEED if path == SEED.name else POSTS / path
        x = extractor.extract(read_note(file, path))
        entities += [(e.type, e.name, e.aliases) for e in x.entities]
    report = evaluate(entities, gold)
    print(report.format(details=True))
    for type_, floor in REACHED_F1.items():
        assert report.score(type_).f1 >= floor, report.format(details=True)


def test_general_place_and_person_rules(extractor):
    x = extractor.extract(parse_note(
        "# g\n\n以富士山和富士川为界。热带气旋云雅经过。（织田信长&弥助）。一个斯拉夫人的故事。"
        "海底平顶山很平。苏阿战争结束了。\n\n>Gaius Plinius Secundus，公元23年生。\n", "g.md"))
    assert {"富士山", "富士川"} <= names(x, "Place") and not {"平顶山"} & names(x)
    assert {"织田信长", "弥助", "Gaius Plinius Secundus"} <= names(x, "Person")
    assert not {"云雅", "斯拉夫", "苏阿"} & names(x, "Person")


def test_latin_names_from_the_general_lists():
    from kg.extract.latin_names import latin_name_candidates

    t = ("Steve Jobs met Bill Gates in Seattle. The Apache Software Foundation and Procter & Gamble Co. "
         "hired John C. Platt, who moved to New York City from the University of Oslo.")
    found = {(t[s:e], type_) for s, e, type_, _ in latin_name_candidates(t)}
    assert {("Steve Jobs", "Person"), ("Bill Gates", "Person"), ("John C. Platt", "Person"), ("Seattle", "Place"),
            ("New York City", "Place"), ("Apache Software Foundation", "Organization"),
            ("Procter & Gamble Co", "Organization"), ("University of Oslo", "Organization")} <= found
    # a function word is no given name, a place's words are no person
    assert not {n for n, ty in found if ty == "Person"} & {"The Apache", "York City", "New York"}


def test_names_in_an_english_sentence(extractor):
    x = extractor.extract(parse_note("# Trip\n\nSteve Jobs met Bill Gates in Seattle in 1997. It rained.\n\n"
                                     "I flew from Paris to Berlin, then took a train to Belgium.\n", "t.md"))
    assert {"Steve Jobs", "Bill Gates"} <= names(x, "Person")
    assert {"Seattle", "Paris", "Berlin", "Belgium"} <= names(x, "Place")
    assert not names(x, "Paper")  # a sentence full of names is no title


def test_the_english_model_and_a_general_list_agree_unless_the_note_writes_the_word_in_lower_case(extractor):
    from kg.extract.document import CANDIDATES
    from kg.extract.english_ner import AGREED_METHOD

    def agreed(text, note_text=None):
        found = extractor.rule_findings(text, note_text)
        return {(text[c[0]:c[1]], c[2]) for c in found[CANDIDATES] if c[3] == AGREED_METHOD}

    text = "Last spring Anna Schmidt moved from Vienna to Paris for a new job."
    assert {("Anna Schmidt", "Person"), ("Vienna", "Place"), ("Paris", "Place")} <= agreed(text)
    # the note's code writes paris in lower case: there it is a word, maybe a tool, so the tagger decides
    assert ("Paris", "Place") not in agreed(text, text + "\n\n```\npip install paris\n```\n")
    # inside a Chinese sentence each run of Latin words is read as a fragment of English
    assert {("Anna Schmidt", "Person"), ("Vienna", "Place")} <= agreed("我们在 Paris 见到了 Anna Schmidt，她在 Vienna 工作。")


def test_latin_names_inside_a_chinese_sentence_are_read_by_the_english_model(extractor):
    from kg.extract.document import CANDIDATES

    text = "其他的团队比如Satinder Singh, Honglak Lee做了很多工作；t-SNE是由Laurens van der Maaten提出的。"
    found = extractor.rule_findings(text, text)
    ner = {(text[c[0]:c[1]], c[2]) for c in found[CANDIDATES] if c[3] == "english_ner"}
    # no general list names these people: the runs of capitalised words are read all the same
    assert {("Satinder Singh", "Person"), ("Honglak Lee", "Person")} <= ner
    assert not any(name.startswith("t-SNE") for name, _t in ner)
    x = extractor.extract(parse_note("# t\n\n" + text + "\n", "t.md"))
    assert {"Satinder Singh", "Laurens van der Maaten"} <= names(x, "Person")


def test_companies_in_general_are_no_organisations_but_their_places_are_places(extractor):
    x = extractor.extract(parse_note("# 裁员\n\n美国公司和英国科技企业，还有很多互联网公司都在裁员。\n", "t.md"))
    assert not names(x, "Organization")
    assert {"美国", "英国"} <= names(x, "Place")


def test_a_company_named_without_its_ending_is_the_same_company(extractor):
    x = extractor.extract(parse_note("# 苹果\n\n史蒂夫·乔布斯创立了苹果公司。后来乔布斯回到苹果。\n", "t.md"))
    company = {e.key: e for e in x.entities}["Organization/苹果公司"]
    assert company.aliases == ("苹果",)
    assert [m.text for m in x.mentions if m.key == company.key] == ["苹果公司", "苹果"]


def _run_fresh(code: str) -> str:
    """Run ``code`` in a fresh interpreter (module imports are process-wide) and return its output."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_worker_imports_spacy_without_its_cli_and_the_cli_still_imports_after():
    out = _run_fresh(
        "import sys\n"
        "from kg import extract as nlp\n"
        "nlp.import_spacy_without_cli()\n"
        "print('requests' in sys.modules, 'spacy.cli' in sys.modules)\n"
        "from kg.notes import parse_note\n"
        "found = nlp.load_extractor().extract(parse_note('# 记\\n\\n王小明在2020年去了上海。\\n', 'a.md'))\n"
        "print(any(e.name == '上海' for e in found.entities))\n"
        "import spacy.cli\n"
        "print(callable(spacy.cli.download), spacy.cli.__file__.endswith('__init__.py'))\n"
    )
    assert out.split() == ["False", "False", "True", "True", "True"]


def test_jieba_is_imported_without_pkg_resources_and_segments_as_before(tmp_path):
    out = _run_fresh(
        "import os, sys\n"
        f"os.environ['KG_CACHE_DIR'] = {str(tmp_path)!r}\n"  # no tables cache: jieba reads its own files
        "from kg.extract import resources\n"
        "resources.shared_resources()\n"
        "import jieba\n"
        "print('pkg_resources' in sys.modules, '/'.join(jieba.cut('北京大学的王小明在2020年去了上海')))\n"
    )
    assert out == "False 北京大学/的/王小明/在/2020/年/去/了/上海"


#: F1 per type (language, type) reached on the test half of tests/gold/annotated.json with the shipped
#: tagger, less 0.02: notes the tagger never learnt from and nobody read errors on (asserted, so a change
#: that loses ground on unseen notes shows)
HELD_OUT_F1 = {("zh", "Person"): 0.74, ("zh", "Place"): 0.71, ("zh", "Organization"): 0.66, ("zh", "Event"): 0.59,
               ("zh", "Paper"): 0.65, ("zh", "Technology"): 0.61, ("en", "Person"): 0.70, ("en", "Place"): 0.48,
               ("en", "Organization"): 0.66,
               ("en", "Paper"): 0.41, ("en", "Technology"): 0.79}
ANNOTATED = Path(__file__).parent / "gold" / "annotated.json"


def test_held_out_f1_floor(extractor):
    from kg.evaluate import evaluate_halves
    from kg.extract.training import read_gold_notes

    gold = load_gold(ANNOTATED)
    notes = read_gold_notes(ANNOTATED, "test")
    found = {x.note: [(e.type, e.name, e.aliases) for e in x.entities]
             for x in extractor.extract_many([g.note for g in notes])}
    reports = evaluate_halves(found, gold)
    for (lang, type_), floor in HELD_OUT_F1.items():
        report = reports[("test", lang)]
        assert report.score(type_).f1 >= floor, f"{lang} {type_}\n{report.format()}"


def test_a_named_place_or_person_before_an_event_word_and_a_year_before_an_election_are_event_candidates(extractor):
    from kg.extract.document import CANDIDATES

    def events(text, method):
        found = extractor.rule_findings(text, text)
        return {text[c[0]:c[1]] for c in found[CANDIDATES] if c[2] == "Event" and c[3] == method}

    text = "巴赫姆特战役持续半年。奥地利继承战争期间，苏丹内战爆发。1996年大选中叶利钦获胜。"
    assert {"巴赫姆特战役", "奥地利继承战争", "苏丹内战"} <= events(text, "event_after_name")
    assert events(text, "event_year") == {"1996年大选"}
    # a word between the place and the event word that is no part of a name ends it
    assert not events("美国人民的战争，中国发动战争。", "event_after_name")


def test_two_names_joined_by_and_are_two_mentions(extractor):
    x = extractor.extract(parse_note("# 乱\n\n淝水之战以后，永嘉之乱和安史之乱都很有名。\n", "t.md"))
    assert {"永嘉之乱", "安史之乱"} <= names(x, "Event")
    assert not any("和" in m.text for m in x.mentions)


def test_the_generated_list_of_the_worlds_places_gives_candidates_on_word_boundaries_only(extractor):
    from kg.extract.document import CANDIDATES

    text = "别尔哥罗德和汉诺威遭到袭击，全世界都在看。"
    found = extractor.rule_findings(text, text)
    listed = {text[c[0]:c[1]] for c in found[CANDIDATES] if c[3] == "place_list"}
    assert {"别尔哥罗德", "汉诺威"} <= listed
    assert "世界" not in listed  # another name of a city in GeoNames, an everyday word in the dictionary
