"""The Markdown reader: structure, references, titles, offsets, and bad files."""

from __future__ import annotations

import pytest

from kg.errors import NoteError
from kg.notes import find_note_files, parse_note, read_note, read_notes

from conftest import CORPUS, SAMPLE_NOTE, SAMPLES, corpus_or_skip

NOTE = """---
layout: post
title:  A test note
category: test
---

* toc
{:toc}

# First

Intro with a [link text](https://example.org/inline) and https://example.org/bare here.

## Reading

https://example.org/listed

Listed title about 《Some Paper》

![alt text](/images/x.png)

```python
secret_code = "Hidden Name"
```

| a | b |
|---|---|
| TableWord | 2 |

# Second

Para one.

---

Para two with `inline code` and **bold**.
"""


@pytest.fixture(scope="module")
def note():
    return parse_note(NOTE.encode(), "2020-1-2-test.md")


def test_front_matter_and_file_name_date(note):
    assert note.title == "A test note"
    assert note.category == "test"
    assert note.date == "2020-01-02"


def test_heading_tree(note):
    assert [s.path for s in note.sections] == [("First",), ("First", "Reading"), ("Second",)]
    first, reading, second = note.sections
    assert reading.parent == first.index and first.parent is None
    assert first.start < reading.start < reading.end <= first.end == second.start
    assert note.text[first.heading_start:first.heading_end] == "# First"


def test_references_of_each_kind(note):
    by_kind = {r.kind: r for r in note.references}
    assert set(by_kind) == {"inline", "bare", "listed"}
    assert by_kind["inline"].title == "link text"
    assert by_kind["listed"].title == "Listed title about 《Some Paper》"
    assert by_kind["listed"].section == 1
    for r in note.references:
        assert note.text[r.start:r.end] == r.url
        if r.title_start is not None:
            assert note.text[r.title_start:r.title_end] == r.title


def test_titles_images_and_offsets(note):
    (title,) = note.titles
    assert title.text == "Some Paper" and note.text[title.start:title.end] == "Some Paper"
    assert title.reference == next(r.index for r in note.references if r.kind == "listed")
    (image,) = note.images
    assert image.url == "/images/x.png" and image.alt == "alt text"
    for b in note.blocks:
        assert len(b.text) == b.end - b.start
        # masked text only ever blanks characters, it never changes them
        assert all(c == o or c == " " for c, o in zip(b.text, note.text[b.start:b.end]))


def test_code_tables_toc_and_urls_are_kept_out_of_prose(note):
    prose = "\n".join(b.text for b in note.blocks)
    for hidden in ("Hidden Name", "TableWord", "toc", "example.org", "inline code", "images/x.png", "**"):
        assert hidden not in prose
    assert "link text" in prose and "Para two" in prose


def test_snippets_split_at_rules_and_headings(note):
    texts = [note.text[s.start:s.end] for s in note.snippets]
    assert any("Para one." in t and "Para two" not in t for t in texts)
    assert any("Para two" in t and "Para one." not in t for t in texts)
    assert all(s.section is not None for s in note.snippets)


def test_sample_note_structure():
    note = read_note(SAMPLE_NOTE)
    top = [s.heading for s in note.sections if s.level == 1]
    assert top == ["多任务学习", "日本+"]
    assert len(note.references) == 58
    assert all(r.title for r in note.references)
    titled = {r.title: r for r in note.references}
    assert titled["多任务学习在推荐算法中的应用"].url == "https://mp.weixin.qq.com/s/-SHLp26oGDDp9HG-23cetg"
    japan = next(s for s in note.sections if s.heading == "日本+")
    assert titled["什么是浮世绘"].section == japan.index
    assert len(note.snippets) >= 6  # the 日本+ anecdotes are separated by ---


def test_stable_across_reads():
    assert read_note(SAMPLE_NOTE) == read_note(SAMPLE_NOTE)


@pytest.mark.parametrize(
    "data, fragment, line",
    [
        (b"", "empty", None),
        (b"   \n\n", "empty", None),
        (b"# t\n\nok\n\x00\x01binary", "NUL", 4),
        (b"# title\n\nline two\n\xff\xfe bad bytes", "UTF-8", 4),
    ],
)
def test_unreadable_files_raise_with_file_and_line(data, fragment, line):
    with pytest.raises(NoteError) as info:
        parse_note(data, "bad.md")
    assert fragment in str(info.value) and "bad.md" in str(info.value)
    assert info.value.line == line


def test_unclosed_front_matter_is_reported_but_the_text_kept():
    note = parse_note(b"---\ntitle: x\n\n# Heading\n\nText here.\n", "open.md")
    assert note.problems and note.problems[0].line == 1 and "never closed" in note.problems[0].message
    assert [s.heading for s in note.sections] == ["Heading"]


def test_folder_reading_reports_bad_files_and_keeps_the_rest(tmp_path):
    (tmp_path / "good.md").write_text("# Good\n\nFine text.\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "also.markdown").write_text("# Also\n", encoding="utf-8")
    (tmp_path / "empty.md").write_bytes(b"")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    (tmp_path / "ignored.png").write_bytes(b"\x89PNG")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.md").write_text("# no\n", encoding="utf-8")
    notes, problems = read_notes([tmp_path])
    assert sorted(n.path for n in notes) == ["good.md", "sub/also.markdown"]
    assert sorted(p.path for p in problems) == ["empty.md", "latin1.txt"]
    assert all(p.message for p in problems)


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(NoteError, match="no such file"):
        list(find_note_files([tmp_path / "nope"]))


def test_whole_corpus_reads_without_problems():
    corpus = corpus_or_skip()
    notes, problems = read_notes([corpus])
    assert len(notes) == 251 and not problems
    assert sum(len(n.references) for n in notes) > 1000
    for n in notes:
        assert n.title, n.path
        for r in n.references:
            assert n.text[r.start:r.end] == r.url
