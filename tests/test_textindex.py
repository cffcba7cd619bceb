"""The text index (kg.textindex): kept in each store generation by the build, updated note by note, matching
its graph; and the word rules it answers by (kg.terms)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kg.api.query import QueryRunner
from kg.api.backend import GraphBackend
from kg.pipeline import build
from kg.store import EmbeddedStore
from kg.terms import find_term, listed_names
from kg.textindex import INDEX_FILE, TextIndex, rows_from_store

A = """# Talks

Jeff Dean gave the keynote about large-scale systems.

https://example.org/keynote

Keynote at the systems conference
"""
B = """# 历史

1959年赫鲁晓夫访问美国。

https://example.org/visit

一次访问
"""
C = """# Links

https://example.org/ripples

RIPPLES and a SIMPLE recipe
"""


def _gen(store: Path) -> Path:
    return store / (store / "CURRENT").read_text().strip()


def _write(folder: Path, **notes: str) -> None:
    folder.mkdir(exist_ok=True)
    for name, text in notes.items():
        (folder / name).write_text(text, encoding="utf-8")


def _urls(index: TextIndex, term: str) -> list[str]:
    return [h.row.url for h in index.search(term)]


def test_a_build_keeps_the_index_beside_the_graph_and_updates_it(tmp_path):
    notes, store = tmp_path / "notes", tmp_path / ".kg"
    _write(notes, **{"a.md": A, "b.md": B, "c.md": C})
    assert build([notes], store, extract=False).ok
    first = _gen(store)
    index = TextIndex.open(first / INDEX_FILE)
    assert _urls(index, "Jeff Dean") == ["https://example.org/keynote"]
    assert _urls(index, "赫鲁晓夫") == ["https://example.org/visit"]
    assert _urls(index, "PLE") == [] and _urls(index, "SIMPLE") == ["https://example.org/ripples"]
    index.close()

    # one note changes, one goes: the new generation's index has the new text and not the old
    _write(notes, **{"a.md": A.replace("Jeff Dean", "Guido van Rossum")})
    (notes / "b.md").unlink()
    report = build([notes], store, extract=False)
    assert report.changed == ["a.md"] and report.removed == ["b.md"]
    second = _gen(store)
    assert second != first
    index = TextIndex.open(second / INDEX_FILE)
    assert _urls(index, "Jeff Dean") == [] and _urls(index, "Guido van Rossum") == ["https://example.org/keynote"]
    assert _urls(index, "赫鲁晓夫") == [] and index.notes() == {"a.md", "c.md"}
    assert _urls(index, "SIMPLE") == ["https://example.org/ripples"]  # the unchanged note's rows were carried over
    # the index holds what its generation's graph says of every source
    graph_rows = rows_from_store(EmbeddedStore(store).select)
    held = sorted((r for n in index.notes() for r in index.rows_of(n)), key=lambda r: r.iri)
    assert held == sorted(graph_rows, key=lambda r: r.iri) and graph_rows
    index.close()
    # the generation before keeps its own index, as it keeps its graph
    old = TextIndex.open(first / INDEX_FILE)
    assert _urls(old, "Jeff Dean") == ["https://example.org/keynote"]
    old.close()


def test_a_note_that_fails_keeps_its_rows_when_everything_is_rewritten(tmp_path):
    notes, store = tmp_path / "notes", tmp_path / ".kg"
    _write(notes, **{"a.md": A, "b.md": B})
    assert build([notes], store, extract=False).ok
    (notes / "b.md").write_bytes(b"\x00\x01binary")
    report = build([notes], store, extract=False, force=True)  # a generation started empty
    assert report.kept_on_error == ["b.md"]
    index = TextIndex.open(_gen(store) / INDEX_FILE)
    assert _urls(index, "赫鲁晓夫") == ["https://example.org/visit"] and index.notes() == {"a.md", "b.md"}
    index.close()


def test_the_api_answers_from_the_generations_file(tmp_path):
    notes, store = tmp_path / "notes", tmp_path / ".kg"
    _write(notes, **{"a.md": A})
    assert build([notes], store, extract=False).ok
    backend = GraphBackend(store)
    try:
        snap = backend.snapshot()
        assert snap.catalogue.text_index(snap.store).where == str(_gen(store) / INDEX_FILE)
        r = QueryRunner(backend)
        data = r.run('{ sources(covering: "Jeff Dean") { how source { url } } }')["data"]
        assert data == {"sources": [{"how": "text match", "source": {"url": "https://example.org/keynote"}}]}
    finally:
        backend.close()


def test_an_index_of_another_version_is_a_clear_error(tmp_path):
    path = tmp_path / INDEX_FILE
    index = TextIndex.for_build(path)
    index.commit()
    index.close()
    import sqlite3

    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '0' WHERE key = 'schema'")
    from kg.errors import StoreError

    with pytest.raises(StoreError, match="another version.*kg build --force"):
        TextIndex.open(path)


# ---------------------------------------------------------------- the word rules


@pytest.mark.parametrize("text, term, found", [
    ("PLE explained", "PLE", True),
    ("RIPPLES", "PLE", False),
    ("a SIMPLE model", "PLE", False),
    ("see https://example.org/page#PLE", "PLE", False),
    ("see example.org/page#PLE", "PLE", True),  # no URL: a hash tag
    ("ple in lower case", "PLE", False),  # an acronym matches in capitals
    ("ple.com", "ple", False),
    ("the_PLE_model", "PLE", False),
    ("(MMOE/ESMM/PLE)", "ESMM", True),
    ("github.com/org/PLE", "PLE", False),
    ("Rust, SQLite and Datasette", "sqlite", True),
    ("中华为民", "华为", False),
    ("华为手机", "华为", True),
    ("黑船事件", "黑船", True),
    ("赫鲁晓夫访问美国", "赫鲁晓夫", True),
    ("马继援生于1920年", "马继援", True),
    ("jeff\n dean", "Jeff Dean", True),
])
def test_word_rules(text, term, found):
    assert bool(find_term(text, term)) is found


def test_lists_yield_each_name():
    assert listed_names("多目标学习在推荐系统的应用(MMOE/ESMM/PLE)") == ["MMOE", "ESMM", "PLE"]
    assert listed_names("Rust, SQLite and Datasette") == ["Rust", "SQLite", "Datasette"]
    assert listed_names("赫鲁晓夫、肯尼迪和卡斯特罗") == ["赫鲁晓夫", "肯尼迪", "卡斯特罗"]
    assert listed_names("A survey of learning to rank, and more") == []
    assert listed_names("see https://example.org/a/b/c") == []
