"""Hard to break: random and hostile notes through the reader, the extraction pass and the RDF builder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import Graph

from kg.errors import NoteError
from kg.model import ENTITY_TYPES, Note
from kg.notes import MAX_NOTE_BYTES, parse_note, read_notes
from kg.pipeline import build
from kg.rdf import build_note_graph
from kg.store import open_store

from conftest import REPO

NASTY = REPO / "tests" / "nasty"

_pieces = st.sampled_from([
    "# ", "## ", "###### ", "\n", "\n\n", "---\n", "***\n", "* ", "- ", "1. ", "> ", ">>>>>>>>>> ",
    "```\n", "~~~\n", "    ", "\t", "| a | b |\n|---|---|\n", "《", "》", "[", "]", "(", ")", "![", "](",
    "https://example.org/x?q=1#frag", "http://", "<http://a.b/c>", "{:toc}", "* toc\n", "`", "**", "_",
    "$$", "$", "\\", "<div>", "</div>", "title: x\n", "二二六兵变", "池田成彬", "1969年1月2日", "PLE",
    "Progressive Layered Extraction (PLE)", "CVPR 2018", "\u200b", "\ufeff", "\r\n", "\r", "😀", "\u0301",
])
markdownish = st.lists(st.one_of(_pieces, st.text(max_size=20)), max_size=60).map("".join)


def _check_note(note: Note) -> None:
    n = len(note.text)
    for b in note.blocks:
        assert 0 <= b.start <= b.end <= n and len(b.text) == b.end - b.start
    for r in note.references:
        assert note.text[r.start:r.end] == r.url
        if r.title_start is not None:
            assert 0 <= r.title_start <= r.title_end <= n
    for t in note.titles:
        assert note.text[t.start:t.end] == t.text
    for s in note.sections:
        assert 0 <= s.start <= s.heading_end <= s.end <= n
    for sn in note.snippets:
        assert 0 <= sn.start < sn.end <= n


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_reader_never_crashes_on_random_text(text):
    try:
        note = parse_note(text.encode("utf-8", "surrogatepass"), "random.md")
    except NoteError as err:
        assert err.path == "random.md" and err.message
        return
    _check_note(note)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markdownish)
def test_reader_never_crashes_on_markdownish_text(text):
    try:
        note = parse_note(text.encode("utf-8", "surrogatepass"), "md.md")
    except NoteError as err:
        assert err.message
        return
    _check_note(note)
    g = build_note_graph(note)
    Graph().parse(data=g.serialize(format="nt"), format="nt")


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_reader_never_crashes_on_random_bytes(data):
    try:
        note = parse_note(data, "bytes.md")
    except NoteError as err:
        assert "bytes.md" in str(err)
        return
    _check_note(note)


@pytest.fixture(scope="module")
def extractor():
    from kg.extract import load_extractor

    return load_extractor()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(markdownish)
def test_extraction_never_crashes_and_keeps_offsets(extractor, text):
    try:
        note = parse_note(text.encode("utf-8", "surrogatepass"), "x.md")
    except NoteError:
        return
    ex = extractor.extract(note)
    assert ex.problem is None, ex.problem  # a fault of kg's is caught and reported, but it is still a fault
    for m in ex.mentions:
        assert note.text[m.start:m.end] == m.text and m.type in ENTITY_TYPES
        assert not any(r.start <= m.start < r.end for r in note.references), "a mention inside a URL"
    keys = {e.key for e in ex.entities}
    assert {m.key for m in ex.mentions} <= keys
    Graph().parse(data=build_note_graph(note, ex).serialize(format="nt"), format="nt")


def test_a_lone_surrogate_leaves_the_names_around_it_found(extractor):
    # a note given as text may hold a lone surrogate (Python strings can); the tagger (crfsuite) and the
    # English model (spaCy) take UTF-8 only
    text = "# a\n\n张三去了北京\udcff。Steve Jobs met Bill Gates in Seattle\udcff.\n"
    ex = extractor.extract(parse_note(text, "a.md"))
    assert ex.problem is None
    assert {("Person", "张三"), ("Place", "北京"), ("Person", "Steve Jobs"), ("Place", "Seattle")} <= {
        (e.type, e.name) for e in ex.entities}


def test_very_long_lines_and_deep_nesting(extractor):
    text = ("# H\n\n" + "多任务学习 PLE " * 20000 + "\n\n" + ">" * 500 + " deep\n\n"
            + "".join("  " * i + "- item\n" for i in range(200)) + "《" * 1000 + "\n")
    note = parse_note(text.encode(), "long.md")
    _check_note(note)
    extractor.extract(note)


def test_huge_file_is_refused_clearly_without_reading_it(tmp_path):
    big = tmp_path / "big.md"
    with open(big, "wb") as fh:  # 50 MB, sparse: the reader must refuse on size before reading
        fh.truncate(50 * 1024 * 1024)
    (tmp_path / "ok.md").write_text("# Fine\n", encoding="utf-8")
    notes, problems = read_notes([tmp_path])
    assert [n.path for n in notes] == ["ok.md"]
    (p,) = problems
    assert p.path == "big.md" and "50.0 MiB" in p.message and "split" in p.message
    assert MAX_NOTE_BYTES < 50 * 1024 * 1024


def test_nasty_folder_builds_with_one_error_per_bad_file(tmp_path):
    bad = {p.name for p in NASTY.iterdir() if p.name.startswith("bad-")}
    good = {p.name for p in NASTY.iterdir() if p.name.startswith("ok-")}
    warned = {p.name for p in NASTY.iterdir() if p.name.startswith("warn-")}  # built, with a warning
    assert len(bad) >= 5 and len(good) >= 5
    report = build([NASTY], tmp_path / "store")
    assert sorted(p.path for p in report.problems) == sorted(bad), [str(p) for p in report.problems]
    for p in report.problems:
        assert p.message and str(p).startswith(p.path)
    built = {r["p"] for r in open_store(tmp_path / "store").select("SELECT ?p WHERE { ?n a kg:Note ; kg:path ?p }")}
    assert built == good | warned  # read as text, and reported
    assert sorted(w.path for w in report.warnings) == sorted(warned) and report.ok == (not bad)
    (broken,) = [w for w in report.warnings if w.path == "warn-front-matter-broken-yaml.md"]
    assert broken.line == 3 and "not valid YAML" in broken.message
    titles = {r["p"]: r["t"] for r in open_store(tmp_path / "store").select(
        "SELECT ?p ?t WHERE { ?n a kg:Note ; kg:path ?p ; kg:title ?t }")}
    assert titles["warn-front-matter-broken-yaml.md"] == "真正的标题"  # not "[unclosed"


def test_reading_during_a_build_sees_old_or_new_never_a_mix(tmp_path):
    """A reader polling while another process builds sees whole generations only."""
    import shutil
    import subprocess
    import sys
    import time

    from conftest import corpus_or_skip

    corpus = corpus_or_skip()
    notes = tmp_path / "notes"
    notes.mkdir()
    for f in sorted(corpus.glob("*.markdown"))[:30]:
        shutil.copy(f, notes / f.name)
    store = tmp_path / "store"
    assert build([notes], store, extract=False).ok
    reader = open_store(store)
    count_q = "SELECT (COUNT(?n) AS ?c) (COUNT(?s) AS ?sources) WHERE { { ?n a kg:Note } UNION { ?s a kg:Source } }"
    old = reader.select(count_q)[0]
    for f in sorted(corpus.glob("*.markdown"))[30:]:
        shutil.copy(f, notes / f.name)
    proc = subprocess.Popen([sys.executable, "-m", "kg.cli", "build", str(notes), "--store", str(store),
                             "--no-extract"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen = []
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        seen.append(reader.select(count_q)[0])
        time.sleep(0.01)
    assert proc.wait(timeout=120) == 0, proc.stderr.read()
    time.sleep(0.3)
    new = reader.select(count_q)[0]
    assert new["c"] == 251 and old["c"] == 30
    assert len(seen) > 3
    assert all(s in (old, new) for s in seen), {tuple(s.values()) for s in seen}
