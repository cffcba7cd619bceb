"""A big or repetitive note builds, and its entity keeps evidence and a count (its time is benchmarks/'); a note
past a per-note limit is reported and the build goes on."""

import pytest

from kg.extract import load_extractor
from kg.extract.assembly import MENTIONS_PER_ENTITY, PIECE, SENTENCE_WINDOW
from kg.notes import parse_note
from kg.pipeline import build
from kg.store import open_store


def test_a_name_repeated_thousands_of_times_keeps_one_mention_per_distinct_sentence():
    text = "# 重复\n\n" + "日本。" * 3000 + "东京在日本。\n"
    x = load_extractor().extract(parse_note(text, "r.md"))
    japan = [m for m in x.mentions if m.key == "Place/日本"]
    assert 1 < len(japan) <= 3 and sum(m.count for m in japan) == 3001
    assert {text[m.sentence_start:m.sentence_end] for m in japan} == {"日本。", "东京在日本。"}


def test_a_note_longer_than_a_piece_keeps_every_occurrence_counted_and_its_evidence():
    para = "东京在日本。" * (PIECE // 6) + "\n"
    text = "# 长\n\n" + para + "\n大阪也在日本\n\n" + para  # read in pieces, across blocks
    assert len(text) > 2 * PIECE
    x = load_extractor().extract(parse_note(text, "long.md"))
    japan = [m for m in x.mentions if m.key == "Place/日本"]
    assert sum(m.count for m in japan) == text.count("日本")
    assert {text[m.sentence_start:m.sentence_end] for m in japan} == {"东京在日本。", "大阪也在日本"}
    assert all(text[m.start:m.end] == "日本" for m in x.mentions if m.key == "Place/日本")


def test_a_paragraph_of_many_lines_is_one_block_of_all_its_lines():
    lines = [f"张三：明天去东京吗？**{k}**" for k in range(3000)]  # an exported chat: no blank lines
    note = parse_note("# 聊天\n\n" + "\n".join(lines) + "\n", "chat.md")
    [para] = [b for b in note.blocks if b.kind == "paragraph"]
    assert para.text == "\n".join(line.replace("**", "  ") for line in lines)
    assert len(para.text) == para.end - para.start


def test_a_list_or_quote_nested_past_markdown_its_limit_loses_nothing():
    deep = "".join("  " * k + f"- 第{k}层：日本\n" for k in range(200))
    note = parse_note("# 深\n\n" + deep + "- 之后的项\n\n之后的段落。\n", "deep.md")
    prose = "\n".join(b.text for b in note.blocks)
    assert all(f"第{k}层" in prose for k in range(200))
    assert "之后的项" in prose and note.blocks[-1].text == "之后的段落。"
    quoted = parse_note("# 深\n\n" + ">" * 100 + " 深处的日本\n\n之后的段落。\n", "quote.md")
    assert [b.text.strip() for b in quoted.blocks if b.kind != "heading"] == ["深处的日本", "之后的段落。"]


def test_a_long_note_read_in_pieces_is_read_as_in_one():
    import random

    from kg.notes.blocks import NoteParser

    rnd = random.Random(11)
    parts = ["# 标题", "正文里有日本。", "- 东京", "* 大阪", "1. 第一", "> 引文", "  续行", "| a | b |", "|---|---|",
             "Title", "---", "", "", "https://example.com/x", "东京大学的报告", "    代码", "[t](http://a.b) 与《书》"]
    for _ in range(300):
        text = "\n".join(rnd.choice(parts) for _ in range(rnd.randrange(1, 60))) + "\n"
        whole = NoteParser(text, "n.md", "n.md", "h").parse()
        for size in (1, 3):
            assert NoteParser(text, "n.md", "n.md", "h", chunk_lines=size).parse() == whole, (size, text)


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


def test_a_note_past_its_time_limit_gets_no_entities_and_says_why():
    from kg.extract import NoteLimits

    x = load_extractor(limits=NoteLimits(seconds=0)).extract(parse_note("# t\n\n东京在日本。\n", "t.md"))
    assert not x.entities and not x.mentions and "--note-seconds" in x.problem


def test_a_note_that_grows_the_process_past_its_memory_limit_is_stopped():
    from kg.errors import ExtractionError
    from kg.extract.limits import NoteLimits, NoteWatch, resident_mb

    if resident_mb() is None:
        pytest.skip("no /proc to read the resident memory from")
    watch = NoteWatch("big.md", NoteLimits(seconds=None, memory_mb=16))
    watch.check()
    held = b"x" * (64 << 20)  # written, so resident
    with pytest.raises(ExtractionError, match="big.md.*--note-memory-mb"):
        watch.check()
    del held


@pytest.mark.parametrize("n_process", [1, 2])  # in the build's process, and in its worker processes
def test_notes_past_a_limit_are_one_problem_line_each_and_the_build_goes_on(tmp_path, n_process):
    from kg.extract import NoteLimits

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("# 甲\n\n东京在日本。\n\nhttps://example.com/a\n日本的故事\n", encoding="utf-8")
    (notes / "b.md").write_text("# 乙\n\n普京在俄罗斯。\n", encoding="utf-8")
    report = build([notes], tmp_path / "s", n_process=n_process, limits=NoteLimits(seconds=0))
    assert sorted(p.path for p in report.problems) == ["a.md", "b.md"]
    assert all("--note-seconds" in str(p) for p in report.problems)
    store = open_store(tmp_path / "s")
    assert store.select("SELECT ?t WHERE { ?s a kg:Source ; kg:title ?t }") == [{"t": "日本的故事"}]  # its source is there
    assert store.select("SELECT ?e WHERE { ?e a kg:Person }") == []
    again = build([notes], tmp_path / "s", n_process=1)  # no limit now: both are extracted, none skipped
    assert again.ok and again.unchanged == 0 and len(again.changed) == 2
    assert open_store(tmp_path / "s").select("SELECT ?e WHERE { ?e a kg:Person }")


def test_a_build_keeps_big_blocks_in_maps_of_their_own_where_the_c_library_is_glibc():
    import platform

    from kg.allocator import keep_big_blocks_apart

    assert keep_big_blocks_apart() is (platform.system() == "Linux" and platform.libc_ver()[0] == "glibc")
