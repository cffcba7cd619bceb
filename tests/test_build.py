"""Notes → stored RDF graph: structure, stable IRIs, incremental and atomic builds, dumps, SHACL."""

from __future__ import annotations

import gc
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyshacl
import pytest
from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.compare import isomorphic

from kg.errors import QueryRefusedError, StoreLockedError, StoreNotFoundError
from kg.model import ENTITY_TYPES
from kg.pipeline import build
from kg.store import open_store, write_store
from kg.vocab import KG, note_graph, note_iri

from conftest import REPO, SAMPLES, corpus_or_skip

SCHEMAS = REPO / "schemas"


def _graph(store) -> Graph:
    return Graph().parse(data=open_store(store).dump("nt"), format="nt")


def test_sample_structure(structure_store):
    s = open_store(structure_store)
    top = s.select("SELECT ?h WHERE { ?s a kg:Section ; kg:level 1 ; kg:heading ?h } ORDER BY ?h")
    assert sorted(r["h"] for r in top) == ["多任务学习", "日本+"]
    rows = s.select("""SELECT ?src ?title ?heading WHERE {
        ?src a kg:Source ; kg:title ?title ; kg:section ?sec . ?sec kg:heading ?heading }""")
    assert len(rows) == 58 and len({r["src"] for r in rows}) == 58
    by_title = {r["title"]: r["heading"] for r in rows}
    assert by_title["多任务学习方法在推荐中的演变"] == "参考"
    assert by_title["福岛的宿命"] == "日本+"


def test_sources_keep_their_spans(structure_store):
    s = open_store(structure_store)
    text = (SAMPLES / "000_3c3c03ef14cd1a5a.md").read_text(encoding="utf-8")
    rows = s.select("SELECT ?url ?start ?end WHERE { ?s a kg:Source ; kg:url ?url ; kg:start ?start ; kg:end ?end }")
    assert rows and all(text[r["start"]:r["end"]] == r["url"] for r in rows)


def test_same_notes_give_isomorphic_graphs_with_same_iris(tmp_path):
    a = build([SAMPLES], tmp_path / "a", extract=False)
    b = build([SAMPLES], tmp_path / "b", extract=False)
    assert a.ok and b.ok
    ga, gb = _graph(tmp_path / "a"), _graph(tmp_path / "b")
    # the build metadata carries a timestamp; everything else is the same
    for g in (ga, gb):
        for t in list(g.triples((None, URIRef(str(KG._NS) + "builtAt"), None))):
            g.remove(t)
        for t in list(g.triples((None, URIRef(str(KG._NS) + "report"), None))):
            g.remove(t)
    assert isomorphic(ga, gb)
    assert set(ga.subjects()) == set(gb.subjects())


def _without_build_metadata(store) -> Graph:
    g = _graph(store)
    for p in ("builtAt", "report"):
        for t in list(g.triples((None, URIRef(str(KG._NS) + p), None))):
            g.remove(t)
    return g


def test_extraction_workers_give_the_graph_of_one_process(tmp_path):
    """n_process > 1 extracts in worker processes started with the build (loading while the notes are read);
    the graph is the one a single process builds, for a first build and for an update of one note."""
    notes = tmp_path / "notes"
    shutil.copytree(SAMPLES, notes)
    one = build([notes], tmp_path / "one", n_process=1)
    two = build([notes], tmp_path / "two", n_process=2)
    assert one.ok and two.ok and two.links == one.links
    assert isomorphic(_without_build_metadata(tmp_path / "one"), _without_build_metadata(tmp_path / "two"))
    victim = sorted(p for p in notes.iterdir() if p.is_file())[0]
    victim.write_text(victim.read_text(encoding="utf-8") + "\n\n## 新一节\n\n北一辉在东京见了池田成彬。\n",
                      encoding="utf-8")
    one = build([notes], tmp_path / "one", n_process=1)
    two = build([notes], tmp_path / "two", n_process=2)
    assert one.changed == two.changed == [victim.name]
    assert isomorphic(_without_build_metadata(tmp_path / "one"), _without_build_metadata(tmp_path / "two"))


def test_a_model_that_does_not_load_fails_the_build_in_workers_too(tmp_path):
    from kg.errors import ModelError

    with pytest.raises(ModelError):
        build([SAMPLES], tmp_path / "store", model="no_such_pipeline_xyz", n_process=2)
    with pytest.raises(StoreNotFoundError):
        open_store(tmp_path / "store")


@pytest.mark.parametrize("fmt", ["ttl", "nt", "jsonld"])
def test_exported_rdf_reparses_isomorphic_to_the_store(structure_store, fmt):
    data = open_store(structure_store).dump(fmt)
    parsed = Graph().parse(data=data, format={"ttl": "turtle", "nt": "nt", "jsonld": "json-ld"}[fmt])
    assert len(parsed) > 500
    assert isomorphic(parsed, _graph(structure_store))


@pytest.mark.parametrize("fmt", ["nq", "trig"])
def test_quad_dumps_keep_one_graph_per_note(structure_store, fmt):
    ds = Dataset()
    ds.parse(data=open_store(structure_store).dump(fmt), format={"nq": "nquads", "trig": "trig"}[fmt])
    graphs = {str(g.identifier) for g in ds.graphs()}
    assert str(note_graph("000_3c3c03ef14cd1a5a.md")) in graphs


def test_structure_conforms_to_shapes(structure_store):
    _assert_conforms(_graph(structure_store))


def test_full_sample_conforms_to_shapes(sample_store):
    g = _graph(sample_store)
    assert any(g.triples((None, KG.mentionOf, None))), "extraction produced no mentions"
    _assert_conforms(g)


def test_shapes_catch_a_broken_graph(structure_store):
    g = _graph(structure_store)
    src = next(g.subjects(None, KG.Source))
    g.remove((src, KG.url, None))
    g.add((note_iri("000_3c3c03ef14cd1a5a.md"), KG.sha256, Literal("not-a-hash")))
    conforms, _, text = pyshacl.validate(g, shacl_graph=str(SCHEMAS / "shapes.ttl"), inference="none")
    assert not conforms and "url" in text and "sha256" in text


def _assert_conforms(g: Graph) -> None:
    conforms, _, text = pyshacl.validate(
        g, shacl_graph=str(SCHEMAS / "shapes.ttl"), ont_graph=str(SCHEMAS / "kg.ttl"), inference="none")
    assert conforms, text[:3000]


def test_incremental_build_skips_replaces_and_removes(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("# A\n\nhttps://example.org/a\n\nTitle A\n", encoding="utf-8")
    (notes / "b.md").write_text("# B\n\nhttps://example.org/b\n\nTitle B\n", encoding="utf-8")
    store = tmp_path / "store"
    first = build([notes], store, extract=False)
    assert sorted(first.added) == ["a.md", "b.md"]
    gen1 = open_store(store).generation()

    again = build([notes], store, extract=False)
    assert again.nothing_to_do and again.unchanged == 2
    assert open_store(store).generation() == gen1  # a no-op writes nothing

    (notes / "a.md").write_text("# A\n\nhttps://example.org/a2\n\nTitle A2\n", encoding="utf-8")
    (notes / "b.md").unlink()
    (notes / "c.md").write_text("# C\n", encoding="utf-8")
    third = build([notes], store, extract=False)
    assert third.changed == ["a.md"] and third.removed == ["b.md"] and third.added == ["c.md"]
    s = open_store(store)
    titles = {r["t"] for r in s.select("SELECT ?t WHERE { ?s a kg:Source ; kg:title ?t }")}
    assert titles == {"Title A2"}
    assert {r["p"] for r in s.select("SELECT ?p WHERE { ?n a kg:Note ; kg:path ?p }")} == {"a.md", "c.md"}


def test_a_forced_rebuild_starts_empty_and_keeps_a_failing_notes_last_graph(tmp_path):
    """Rewriting every note writes a fresh generation (no graph-by-graph replacement of a copy); a note that
    fails to read this time keeps its last good graph, and nothing else of the old generation remains."""
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("# A\n\nhttps://example.org/a\n\nTitle A\n", encoding="utf-8")
    (notes / "b.md").write_text("# B\n\nhttps://example.org/b\n\nTitle B\n", encoding="utf-8")
    store = tmp_path / "store"
    build([notes], store, extract=False)
    cold = _without_build_metadata(store)
    (notes / "b.md").write_bytes(b"\x00\x01 not text")
    again = build([notes], store, extract=False, force=True)
    assert again.changed == ["a.md"] and again.kept_on_error == ["b.md"] and len(again.problems) == 1
    assert isomorphic(_without_build_metadata(store), cold)
    (notes / "b.md").unlink()
    third = build([notes], store, extract=False, force=True)
    assert third.removed == ["b.md"]
    titles = {r["t"] for r in open_store(store).select("SELECT ?t WHERE { ?s a kg:Source ; kg:title ?t }")}
    assert titles == {"Title A"}


def test_bad_notes_are_reported_and_the_rest_built(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "good.md").write_text("# Good\n\nhttps://example.org/g\n\nGood title\n", encoding="utf-8")
    (notes / "later-bad.md").write_text("# Fine for now\n", encoding="utf-8")
    store = tmp_path / "store"
    assert build([notes], store, extract=False).ok

    (notes / "later-bad.md").write_bytes(b"# Now\n\xff\xfe broken")
    (notes / "empty.md").write_bytes(b"")
    report = build([notes], store, extract=False, force=True)
    assert {p.path for p in report.problems} == {"later-bad.md", "empty.md"}
    assert next(p for p in report.problems if p.path == "later-bad.md").line == 2
    # the note that broke keeps its last good graph; nothing already built is lost
    assert report.kept_on_error == ["later-bad.md"] and not report.removed
    paths = {r["p"] for r in open_store(store).select("SELECT ?p WHERE { ?n a kg:Note ; kg:path ?p }")}
    assert paths == {"good.md", "later-bad.md"}


def test_a_failed_build_leaves_the_live_graph(tmp_path):
    store = tmp_path / "store"
    build([SAMPLES], store, extract=False)
    before = _graph(store)
    with pytest.raises(RuntimeError):
        with write_store(store) as writer:
            writer.remove_note("000_3c3c03ef14cd1a5a.md")
            raise RuntimeError("killed half way")
    assert isomorphic(_graph(store), before)
    assert len([p for p in store.iterdir() if p.name.startswith("gen-")]) == 1


def _named_graph(store, graph: str) -> Graph:
    g = Graph()
    g.parse(data=open_store(store).dump("nt", graph=graph), format="nt")
    return g


def test_the_writer_keeps_every_term_as_rdflib_gave_it(tmp_path):
    """Note graphs go to Oxigraph as N-Quads text, blank nodes as terms: escapes, languages and datatypes
    come back the same."""
    from rdflib import BNode, XSD

    s, p = URIRef("https://example.org/s"), URIRef("https://example.org/p")
    awkward = 'quote " backslash \\ newline \n return \r tab \t bell \x07 del \x7f emoji 🦀 汉字 \u2028'
    triples = [(s, p, Literal(awkward)), (s, p, Literal("名字", lang="zh")), (s, p, Literal("name", lang="en-GB")),
               (s, p, Literal(3)), (s, p, Literal("1.5", datatype=XSD.double)), (s, p, Literal(True)),
               (s, p, Literal("2024-07-03T00:00:00Z", datatype=XSD.dateTime)),
               (s, p, Literal("x", datatype=URIRef("https://example.org/dt"))), (s, p, Literal("")),
               (s, p, URIRef("https://example.org/o?q=1#frag")), (s, p, Literal("a" * 100_000))]
    blank = [(s, p, BNode("b1")), (BNode("b1"), p, Literal("in a graph with a blank node"))]
    store = tmp_path / "store"
    with write_store(store) as writer:
        writer.replace_graph("https://example.org/g/text", triples)
        writer.replace_graph("https://example.org/g/terms", blank)
        writer.commit()
    assert set(_named_graph(store, "https://example.org/g/text")) == set(triples)  # ground: sets compare
    with_blank = Graph()
    for t in blank:
        with_blank.add(t)
    assert isomorphic(_named_graph(store, "https://example.org/g/terms"), with_blank)


def test_a_graph_written_in_pieces_reads_back_as_one_written_whole(tmp_path):
    """The writer encodes a graph a chunk at a time and hands it to the loader in pieces (text, and terms
    for a chunk with a blank node), from any iterable, read once."""
    from rdflib import BNode

    p = URIRef("https://example.org/p")
    triples = [(URIRef(f"https://example.org/s/{i}"), p, Literal(f"值 {i}") if i % 3 else Literal(i))
               for i in range(2_000)]
    triples[1_234] = (URIRef("https://example.org/s/b"), p, BNode("b1"))
    graphs = {}
    for name, chunk, batch in (("whole", 100_000, 100_000), ("pieces", 7, 50)):
        store = tmp_path / name
        with write_store(store) as writer:
            writer.CHUNK, writer.BATCH = chunk, batch
            writer.replace_graph("https://example.org/g/a", (t for t in triples))
            writer.commit()
        graphs[name] = _named_graph(store, "https://example.org/g/a")
    assert len(graphs["pieces"]) == len(triples) and isomorphic(graphs["pieces"], graphs["whole"])


def test_a_graph_replaced_or_removed_while_it_is_written_ends_as_the_last_call_left_it(tmp_path):
    s, p = URIRef("https://example.org/s"), URIRef("https://example.org/p")
    store = tmp_path / "store"
    with write_store(store) as writer:
        writer.replace_graph("https://example.org/g/a", [(s, p, Literal("first"))])
        writer.replace_graph("https://example.org/g/b", [(s, p, Literal("gone"))])
        writer.flush()  # handed to the loader thread
        writer.replace_graph("https://example.org/g/a", [(s, p, Literal("second"))])
        writer.remove_graph("https://example.org/g/b")
        writer.commit()
    assert set(_named_graph(store, "https://example.org/g/a")) == {(s, p, Literal("second"))}
    assert "https://example.org/g/b" not in open_store(store).named_graphs()


def test_the_writer_is_quiet_for_a_fork_and_writes_the_rest_after(tmp_path):
    """Inside ``quiet()`` the loader thread is not writing (the link pass forks children there); what was
    queued is written once the block ends."""
    p = URIRef("https://example.org/p")
    store = tmp_path / "store"
    with write_store(store) as writer:
        for i in range(20):
            writer.replace_graph(f"https://example.org/g/{i}",
                                 [(URIRef(f"https://example.org/s/{i}/{j}"), p, Literal(j)) for j in range(5000)])
            writer.flush()
        with writer.quiet():
            assert not writer._loader._busy
            writer.load(b"<https://example.org/s> <https://example.org/p> \"after\" <https://example.org/g/x> .\n")
            assert not writer._loader._busy
        writer.commit()
    assert len(open_store(store)) == 20 * 5000 + 1


def test_a_write_that_fails_in_the_loader_fails_the_build_and_leaves_the_live_graph(tmp_path):
    from kg.errors import StoreError

    store = tmp_path / "store"
    build([SAMPLES], store, extract=False)
    before = _graph(store)
    with pytest.raises(StoreError, match="writing the graph failed"):
        with write_store(store) as writer:
            writer.remove_note("000_3c3c03ef14cd1a5a.md")
            writer.load(b"<https://example.org/s> <https://example.org/p> not-a-term .\n")
            writer.commit()
    assert isomorphic(_graph(store), before)
    assert len([p for p in store.iterdir() if p.name.startswith("gen-")]) == 1


def test_a_new_generation_copies_the_live_one_even_from_a_stale_view(tmp_path):
    from kg.store import EmbeddedStore

    store = tmp_path / "store"
    build([SAMPLES], store, extract=False)
    view = EmbeddedStore(store)  # the view a build opens first, kept open
    first = _graph(store)
    with write_store(store, live_view=view) as writer:  # copied from the view: the same generation
        writer.remove_note("000_3c3c03ef14cd1a5a.md")
        writer.commit()
    second = _graph(store)
    assert len(second) < len(first)
    # the view still shows the first generation: the next one must copy the live (second) one, not the view
    assert view.open_name() != (store / "CURRENT").read_text(encoding="utf-8").strip()
    with write_store(store, live_view=view) as writer:
        writer.commit()
    assert isomorphic(_graph(store), second)


def test_one_build_at_a_time(tmp_path):
    store = tmp_path / "store"
    with write_store(store):
        with pytest.raises(StoreLockedError, match="another kg build"):
            with write_store(store):
                pass


def test_missing_store_is_a_clear_error(tmp_path):
    with pytest.raises(StoreNotFoundError, match="kg build"):
        open_store(tmp_path / "nothing")


@pytest.mark.parametrize("query", [
    "INSERT DATA { <urn:a> <urn:b> <urn:c> }",
    "PREFIX x: <urn:x#> DELETE WHERE { ?s ?p ?o }",
    "LOAD <http://example.org/data.ttl>",
    "SELECT * FROM <http://example.org/g> WHERE { ?s ?p ?o }",
    "SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }",
    "drop all",
])
def test_store_refuses_updates_and_remote_loads(structure_store, query):
    with pytest.raises(QueryRefusedError):
        open_store(structure_store).query_bytes(query)


def test_refusal_check_is_not_fooled_by_strings(structure_store):
    body, media = open_store(structure_store).query_bytes(
        'SELECT ?t WHERE { ?s kg:title ?t FILTER(?t != "DELETE SERVICE FROM <http://x>") } LIMIT 1', "json")
    assert media == "application/sparql-results+json" and b"bindings" in body


def test_killed_build_leaves_last_good_store(tmp_path):
    """SIGKILL at random points of a real build: the store stays readable and complete."""
    import random

    corpus = corpus_or_skip()
    notes = tmp_path / "notes"
    shutil.copytree(corpus, notes)
    store = tmp_path / "store"
    subset = notes / "keep"
    subset.mkdir()
    for f in sorted(notes.glob("*.markdown"))[:20]:
        shutil.copy(f, subset / f.name)
    assert build([subset], store, extract=False).ok
    count_q = "SELECT (COUNT(DISTINCT ?n) AS ?notes) (COUNT(DISTINCT ?s) AS ?sources) WHERE { { ?n a kg:Note } UNION { ?s a kg:Source } }"
    old = open_store(store).select(count_q)[0]
    cmd = [sys.executable, "-m", "kg.cli", "build", str(notes), "--store", str(store), "--no-extract", "--force"]
    # how long a whole build takes here, so the kills fall anywhere in it, the commit included
    reference = tmp_path / "reference"
    t = time.perf_counter()
    assert subprocess.run([*cmd[:-3], str(reference), "--no-extract"], capture_output=True).returncode == 0
    duration = time.perf_counter() - t
    new = open_store(reference).select(count_q)[0]
    assert new["notes"] == 271
    rng = random.Random(20261124)
    for _ in range(5):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, 1.0) * duration)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # either the old graph or the whole new one, never a part
        assert open_store(store).select(count_q)[0] in (old, new)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert open_store(store).select(count_q)[0] == new


def test_corpus_builds_and_second_build_is_a_no_op(tmp_path):
    """The whole pipeline (extraction and links) on 251 real posts; the second build only hashes files.

    Its time is measured by benchmarks/, not here.
    """
    corpus = corpus_or_skip()
    first = build([corpus], tmp_path / "store", n_process=2)
    assert first.ok and len(first.added) == 251, first.problems
    assert first.links["entities"] > 1000 and first.links["coverage_direct"] > 0
    s = open_store(tmp_path / "store")
    gen = s.generation()
    counts = {r["t"]: r["n"] for r in s.select(
        "SELECT ?t (COUNT(?e) AS ?n) WHERE { ?e a kg:Entity ; a ?c . FILTER(?c != kg:Entity) "
        "BIND(STRAFTER(STR(?c), '#') AS ?t) } GROUP BY ?t")}
    assert set(counts) == set(ENTITY_TYPES)
    second = build([corpus], tmp_path / "store", n_process=2)
    assert second.nothing_to_do and second.unchanged == 251 and second.characters == 0
    assert open_store(tmp_path / "store").generation() == gen


def test_ask_queries(structure_store):
    s = open_store(structure_store)
    assert s.ask("ASK { ?s a kg:Source ; kg:title ?t }", {"t": "福岛的宿命"}) is True
    assert s.ask("ASK { ?s a kg:Source ; kg:title ?t }", {"t": "not a title"}) is False
    assert s.select("ASK { ?s a kg:Note }") == [{"result": True}]
    body, media = s.query_bytes("ASK { ?s a kg:Note }", "json")
    assert b"true" in body and media == "application/sparql-results+json"


def test_curation_beside_the_notes_is_honoured_and_a_change_rebuilds(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "n.md").write_text("# 历史\n\n1969年，奥崎谦三在东京用弹弓射击昭和天皇。日本政府没有起诉。\n", encoding="utf-8")
    store = tmp_path / "store"
    names_q = "SELECT ?name WHERE { ?e a kg:Entity ; kg:name ?name }"
    assert build([notes], store, links=False).ok
    before = {r["name"] for r in open_store(store).select(names_q)}
    assert "东京" in before
    (notes / "kg-curation.toml").write_text('not_entities = ["东京"]\n', encoding="utf-8")
    report = build([notes], store, links=False)
    assert report.changed == ["n.md"]  # same note, new curation: rebuilt
    after = {r["name"] for r in open_store(store).select(names_q)}
    assert "东京" not in after and after == before - {"东京"}


def test_a_build_leaves_the_cycle_collector_as_it_found_it(tmp_path):
    note = tmp_path / "n.md"
    note.write_text("# 笔记\n\n北一辉在东京。\n", encoding="utf-8")
    for state in (True, False):
        (gc.enable if state else gc.disable)()
        try:
            build([str(tmp_path)], tmp_path / ".kg", links=False, extract=False, force=True)
            assert gc.isenabled() is state
        finally:
            gc.enable()


def test_the_link_cache_finished_in_the_background_serves_the_next_build(tmp_path):
    """The link cache is finished in the background; `wait_for_background` leaves it whole, with nothing half
    written beside it, and a next build that does not wait still patches the links incrementally."""
    from kg import links as link_stage
    from kg.pipeline import wait_for_background

    notes = tmp_path / "notes"
    notes.mkdir()
    for i, (who, where) in enumerate([("北一辉", "东京"), ("池田成彬", "大阪"), ("孙中山", "广州"), ("鲁迅", "上海"),
                                      ("胡适", "北京"), ("蔡元培", "杭州"), ("梁启超", "天津"), ("康有为", "香港"),
                                      ("章太炎", "苏州"), ("宋教仁", "长沙"), ("黄兴", "武汉"), ("陈独秀", "南京")]):
        (notes / f"2020-01-{i + 1:02d}-n{i}.md").write_text(
            f"# 笔记{i}\n\n{who}在1911年去了{where}。\n\nhttps://example.org/{i}\n{who}与{where}\n",
            encoding="utf-8")
    store = tmp_path / ".kg"
    build([str(notes)], store)
    assert wait_for_background(store) >= 0.0
    live = store / (store / "CURRENT").read_text().strip()
    assert (live / link_stage.CACHE_FILE).is_file()
    assert not list(live.glob("*.writing")) and not list(live.glob("*.tmp"))
    first = sorted(notes.rglob("*.md"))[0]
    first.write_text(first.read_text(encoding="utf-8") + "\n\n北一辉去了东京。\n", encoding="utf-8")
    report = build([str(notes)], store)  # no wait in between
    assert report.phases.get("links.incremental") == 1.0
