"""Each entity's facts stand once, in the entities graph the build keeps (kg.entity_graph); a store written in
another graph layout is rebuilt by a build and refused by the readers."""

from __future__ import annotations

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.compare import isomorphic

from kg.errors import KGError, StoreLayoutError
from kg.model import ENTITY_TYPES
from kg.pipeline import build
from kg.store import open_store, write_store
from kg.vocab import ENTITIES_GRAPH, GRAPH_LAYOUT, KG, META_GRAPH, type_iri

NATURAL = "SELECT ?cls ?e ?n WHERE { ?e a ?cls ; kg:name ?n }"  # (a bound variable is projected)


def test_the_natural_per_type_query_answers_each_entity_once(sample_store):
    s = open_store(sample_store)
    seen = 0
    for t in ENTITY_TYPES:
        rows = [(r["e"], r["n"]) for r in s.select(NATURAL, {"cls": type_iri(t)})]
        assert len(rows) == len(set(rows)), f"{t}: {len(rows) - len(set(rows))} duplicate rows"
        seen += len(rows)
    assert seen > 20
    # joins do not multiply rows either: every entity's name, key and centrality, once
    rows = s.select("SELECT ?e ?n ?k ?p WHERE { ?e a kg:Person ; kg:name ?n ; kg:key ?k ; kg:pagerank ?p }")
    assert rows and len(rows) == len({r["e"] for r in rows})


def test_entity_facts_stand_in_the_entities_graph_only(sample_store):
    s = open_store(sample_store)
    graphs = {r["g"] for r in s.select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?e kg:name ?n } }")}
    assert graphs == {str(ENTITIES_GRAPH)}
    named = s.select("SELECT (COUNT(DISTINCT ?e) AS ?n) WHERE { ?m kg:mentionOf ?e }")[0]["n"]
    assert s.select("SELECT (COUNT(*) AS ?n) WHERE { ?e a kg:Entity }")[0]["n"] == named


NOTE_A = "# 论文\n\n阿里提出了 Progressive Layered Extraction (PLE)，腾讯也在东京用 PLE。\n"
NOTE_B = "# 历史\n\n1969年，奥崎谦三在东京用弹弓射击昭和天皇。日本政府没有起诉。\n"


def _entities(store) -> Graph:
    return Graph().parse(data=open_store(store).dump("nt", graph=str(ENTITIES_GRAPH)), format="nt")


def _names(store) -> set[str]:
    return {r["n"] for r in open_store(store).select("SELECT ?n WHERE { ?e a kg:Entity ; kg:name ?n }")}


def test_a_build_adds_and_removes_entities_as_notes_change(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text(NOTE_A, encoding="utf-8")
    (notes / "b.md").write_text(NOTE_B, encoding="utf-8")
    store = tmp_path / "store"
    assert build([notes], store, links=False).ok
    names = _names(store)
    assert {"Progressive Layered Extraction", "东京", "奥崎谦三"} <= names
    aliases = {r["a"] for r in open_store(store).select("SELECT ?a WHERE { ?e kg:alias ?a }")}
    assert "PLE" in aliases

    # a.md no longer names the paper (nor its alias); 东京 stays, b.md names it
    (notes / "a.md").write_text("# 论文\n\n腾讯在东京。\n", encoding="utf-8")
    report = build([notes], store, links=False)
    assert report.changed == ["a.md"]
    after = _names(store)
    assert "Progressive Layered Extraction" not in after and {"东京", "奥崎谦三", "腾讯"} <= after
    assert not open_store(store).select("SELECT ?a WHERE { ?e kg:alias ?a }")

    # b.md removed: what only it named is gone
    (notes / "b.md").unlink()
    assert build([notes], store, links=False).removed == ["b.md"]
    assert "奥崎谦三" not in _names(store) and "东京" in _names(store)

    # the graph kept step by step is the one a build from scratch writes
    fresh = tmp_path / "fresh"
    assert build([notes], fresh, links=False).ok
    assert isomorphic(_entities(store), _entities(fresh))


def _old_layout_store(store) -> None:
    """A store as an older kg wrote it: a meta graph with a build fingerprint and no kg:layout."""
    node = URIRef(str(META_GRAPH) + "#build")
    with write_store(store) as w:
        w.replace_graph(str(META_GRAPH), [(node, URIRef(str(KG._NS) + "fingerprint"), Literal("old")),
                                         (node, URIRef(str(KG._NS) + "version"), Literal("0.1"))])
        w.commit()


def test_a_store_in_an_older_layout_is_refused_then_rebuilt(tmp_path):
    store = tmp_path / "store"
    _old_layout_store(store)
    with pytest.raises(StoreLayoutError) as err:
        open_store(store)
    assert isinstance(err.value, KGError)
    assert "layout" in str(err.value) and "kg build" in str(err.value) and str(store) in str(err.value)

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "b.md").write_text(NOTE_B, encoding="utf-8")
    report = build([notes], store, links=False)
    assert report.ok and any("layout" in w.message and "rebuilt" in w.message for w in report.warnings)
    s = open_store(store)
    assert s.meta()["layout"] == GRAPH_LAYOUT and "东京" in _names(store)
