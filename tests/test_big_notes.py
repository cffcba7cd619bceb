"""A big or repetitive note builds, and its entity keeps evidence and a count (its time is benchmarks/')."""

from kg.extract import load_extractor
from kg.extract.assembly import MENTIONS_PER_ENTITY, SENTENCE_WINDOW
from kg.notes import parse_note
from kg.pipeline import build
from kg.store import open_store


def test_a_name_repeated_thousands_of_times_keeps_one_mention_per_distinct_sentence():
    text = "# 重复\n\n" + "日本。" * 3000 + "东京在日本。\n"
    x = load_extractor().extract(parse_note(text, "r.md"))
    japan = [m for m in x.mentions if m.key == "Place/日本"]
    assert 1 < len(japan) <= 3 and sum(m.count for m in japan) == 3001
    assert {text[m.sentence_start:m.sentence_end] for m in japan} == {"日本。", "东京在日本。"}


def test_a_few_mentions_are_kept_one_by_one():
    text = "# a\n\n" + "日本和中国。" * (MENTIONS_PER_ENTITY // 2) + "\n"
    x = load_extractor().extract(parse_note(text, "a.md"))
    assert all(m.count == 1 for m in x.mentions) and len(x.mentions) >= MENTIONS_PER_ENTITY


def test_evidence_of_a_line_without_punctuation_is_a_window_around_the_mention():
    text = "# 长\n\n" + "的" * 5000 + "普京" + "的" * 5000 + "\n"
    x = load_extractor().extract(parse_note(text, "l.md"))
    putin = [m for m in x.mentions if m.text == "普京"]
    assert putin and all(m.sentence_end - m.sentence_start <= SENTENCE_WINDOW and
                         m.sentence_start <= m.start < m.end <= m.sentence_end for m in putin)


def test_the_graph_says_how_often_and_counts_it(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "r.md").write_text("# 重复\n\n" + "日本。" * 2000 + "\n", encoding="utf-8")
    assert build([notes], tmp_path / "s").ok
    rows = open_store(tmp_path / "s").select(
        "SELECT ?n (SUM(?c) AS ?total) (COUNT(?m) AS ?kept) WHERE { ?m kg:mentionOf ?e ; kg:occurrences ?c . "
        "?e kg:name ?n } GROUP BY ?n")
    assert [(r["n"], int(r["total"]), int(r["kept"])) for r in rows] == [("日本", 2000, 1)]
