"""The `kg` command as a user runs it: exit codes, output formats, error lines."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from rdflib import Graph
from rdflib.compare import isomorphic

from conftest import SAMPLES


def kg(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kg.cli", *args], capture_output=True, text=True, input=input,
                          timeout=600)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("cli") / "store"
    done = kg("build", str(SAMPLES), "--store", str(path), "--no-extract")
    assert done.returncode == 0, done.stderr
    assert "1 added" in done.stdout
    return str(path)


def test_second_build_says_up_to_date(store):
    done = kg("build", str(SAMPLES), "--store", store, "--no-extract")
    assert done.returncode == 0 and "up to date" in done.stdout


def test_stats_json_counts_by_class_and_note(store):
    done = kg("stats", "--store", store, "--json")
    data = json.loads(done.stdout)
    assert data["by_class"]["Source"] == 58 and data["by_class"]["Note"] == 1
    assert data["by_note"][0]["sources"] == 58


@pytest.mark.parametrize("fmt", ["json", "csv", "tsv", "xml"])
def test_sparql_select_formats(store, fmt):
    done = kg("sparql", "SELECT ?title WHERE { ?s a kg:Source ; kg:title ?title } ORDER BY ?title LIMIT 5",
              "--store", store, "--format", fmt)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    if fmt == "json":
        assert len(json.loads(out)["results"]["bindings"]) == 5
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(out)))
        assert rows[0] == ["title"] and len(rows) == 6
    elif fmt == "tsv":
        assert out.splitlines()[0] == "?title" and len(out.splitlines()) == 6
    else:
        assert "<sparql" in out and out.count("<result>") == 5


def test_sparql_from_file_and_construct_as_turtle(store, tmp_path):
    q = tmp_path / "q.rq"
    q.write_text("CONSTRUCT { ?s kg:title ?t } WHERE { ?s a kg:Source ; kg:title ?t }", encoding="utf-8")
    done = kg("sparql", f"@{q}", "--store", store, "--format", "turtle")
    assert done.returncode == 0, done.stderr
    assert len(Graph().parse(data=done.stdout, format="turtle")) == 58


def test_export_ttl_is_isomorphic_to_nt(store, tmp_path):
    out = tmp_path / "g.ttl"
    assert kg("export", "--store", store, "--format", "ttl", "-o", str(out)).returncode == 0
    nt = kg("export", "--store", store, "--format", "nt").stdout
    assert isomorphic(Graph().parse(out, format="turtle"), Graph().parse(data=nt, format="nt"))


def test_bad_query_and_update_exit_2_with_a_message(store):
    bad = kg("sparql", "SELEC nonsense", "--store", store)
    assert bad.returncode == 2 and "does not parse" in bad.stderr
    upd = kg("sparql", "INSERT DATA { <urn:a> <urn:b> <urn:c> }", "--store", store)
    assert upd.returncode == 2 and "read-only" in upd.stderr


def test_missing_store_and_missing_notes(tmp_path):
    done = kg("stats", "--store", str(tmp_path / "none"))
    assert done.returncode == 2 and "kg build" in done.stderr
    done = kg("build", str(tmp_path / "no-notes"), "--store", str(tmp_path / "s"))
    assert done.returncode == 2 and "no-notes" in done.stderr


def test_bad_notes_exit_1_and_name_the_file(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "good.md").write_text("# Good\n", encoding="utf-8")
    (notes / "bad.md").write_bytes(b"# x\n\n\xff\xfe")
    done = kg("build", str(notes), "--store", str(tmp_path / "s"), "--no-extract")
    assert done.returncode == 1
    assert "bad.md:3:" in done.stderr and "UTF-8" in done.stderr
    assert "1 added" in done.stdout


def _one_note_store(tmp_path: Path) -> Path:
    """A store of one note, n.md, with entities (no link pass)."""
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "n.md").write_text("# 日本\n\n1969年，奥崎谦三在东京用弹弓射击昭和天皇。\n", encoding="utf-8")
    store = tmp_path / "s"
    assert kg("build", str(notes), "--store", str(store), "--no-links").returncode == 0
    return store


def test_eval_scores_the_built_graph_against_a_gold_file(tmp_path):
    store = _one_note_store(tmp_path)
    gold = tmp_path / "gold.json"
    gold.write_text(json.dumps({"version": 1, "notes": {"n.md": {
        "Person": [["奥崎谦三"], ["昭和天皇", "裕仁"]], "Place": [["东京"]]}}}, ensure_ascii=False), encoding="utf-8")
    done = kg("eval", str(gold), "--store", str(store), "--json")
    assert done.returncode == 0, done.stderr
    scores = json.loads(done.stdout)["all/all"]["scores"]  # a version 1 gold has no halves
    assert scores["Person"]["gold"] == 2 and scores["Place"]["gold"] == 1
    from kg.stats import list_entities
    from kg.store import open_store

    built = list_entities(open_store(store))
    for type_ in ("Person", "Place"):
        assert scores[type_]["predicted"] == sum(1 for e in built if e[0] == type_)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    done = kg("eval", str(bad), "--store", str(store))
    assert done.returncode == 2 and "bad.json" in done.stderr


def test_a_folder_without_notes_exits_2_and_says_so(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "picture.png").write_bytes(b"\x89PNG")
    done = kg("build", str(tmp_path / "empty"), "--store", str(tmp_path / "s"))
    assert done.returncode == 2, done.stdout
    assert f"no notes found in {tmp_path / 'empty'}" in done.stderr and ".md" in done.stderr
    assert "up to date" not in done.stdout and not (tmp_path / "s").exists()


def test_broken_front_matter_is_a_warning_with_file_and_line(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "post.md").write_text("---\nlayout: post\ntitle: [unclosed\n---\n\n# 真标题\n\n正文。\n", encoding="utf-8")
    store = tmp_path / "s"
    done = kg("build", str(notes), "--store", str(store), "--no-extract")
    assert done.returncode == 0, done.stderr  # built: a warning does not fail the build
    (line,) = [x for x in done.stderr.splitlines() if "post.md" in x]
    assert line.startswith("kg: warning: post.md:3: front matter is not valid YAML")
    title = kg("sparql", "SELECT ?t WHERE { ?n a kg:Note ; kg:title ?t }", "--store", str(store), "--format", "csv")
    assert title.stdout.splitlines()[1:] == ["真标题"]


def test_stats_titles_stand_on_their_own_lines(store):
    done = kg("stats", "--store", store)
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"{store}: generation gen-") and lines[0].endswith(" triples")
    assert "by note" in lines


def test_eval_leaves_out_gold_notes_the_store_does_not_hold(tmp_path):
    store = _one_note_store(tmp_path)
    gold = tmp_path / "gold.json"
    gold.write_text(json.dumps({"version": 1, "notes": {
        "n.md": {"Person": [["奥崎谦三"]]}, "elsewhere.md": {"Person": [["北一辉"]]},
        "also-elsewhere.md": {"Place": [["大阪"]]}}}, ensure_ascii=False), encoding="utf-8")
    done = kg("eval", str(gold), "--store", str(store), "--json")
    assert done.returncode == 0, done.stderr
    (note,) = done.stderr.splitlines()
    assert "2 of the 3 notes" in note and "not in this store" in note and "scored on the 1" in note
    scores = json.loads(done.stdout)["all/all"]["scores"]
    assert scores["Person"]["gold"] == 1 and scores["Place"]["gold"] == 0  # only n.md's gold counts
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"version": 1, "notes": {"elsewhere.md": {"Person": [["北一辉"]]}}},
                                ensure_ascii=False), encoding="utf-8")
    done = kg("eval", str(other), "--store", str(store))
    assert done.returncode == 2 and "none of the 1 notes" in done.stderr


def test_the_sample_gold_is_the_sample_note_annotated():
    from kg.evaluate import load_gold

    gold = load_gold(SAMPLES / "gold.json")
    assert gold.notes == ("000_3c3c03ef14cd1a5a.md",)
    text = (SAMPLES / "000_3c3c03ef14cd1a5a.md").read_text(encoding="utf-8")
    g = gold.by_note["000_3c3c03ef14cd1a5a.md"]
    forms = [f for table in (g.entities, g.optional) for ents in table.values() for e in ents for f in e]
    assert len(forms) > 80
    assert [f for f in forms if f not in text.casefold()] == []  # every form is written in the note (casefolded)


def test_serve_on_a_busy_port_is_one_line_and_exit_2(store):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        done = kg("serve", "--store", store, "--port", str(port))
    assert done.returncode == 2
    assert done.stderr.strip() == (f"kg: error: port {port} on 127.0.0.1 is in use (another kg serve?); "
                                   "stop it or give another --port")
    assert "serving" not in done.stderr and "Traceback" not in done.stderr


def test_sparql_json_ends_with_a_newline(store):
    done = kg("sparql", "SELECT ?n WHERE { ?e kg:path ?n }", "--store", store, "--format", "json")
    assert done.returncode == 0 and done.stdout.endswith("}\n")
