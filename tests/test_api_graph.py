"""A small hand-made graph for the API tests: notes and extraction built by hand, links following the ontology.

``build_api_store(path)`` writes it through ``kg.store.write_store`` the way the
pipeline does; the tests of the GraphQL layer, the server and the saved queries
use it, so they do not depend on what the extraction and link passes find.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import RDF, XSD, Literal, URIRef

from kg.model import Entity, Extraction, Mention
from kg.notes import parse_note
from kg.rdf import build_note_graph, entity_triples, merge_entities
from kg.store import EmbeddedStore, write_store
from kg.vocab import ENTITIES_GRAPH, KG, LINKS_GRAPH, coverage_iri, entity_iri, mention_iri, method_iri, relatedness_iri, source_iri

NOTE_A = """---
layout: post
title: 多任务学习
category: DL
---

# 多任务学习

## 论文

https://example.org/ple

Progressive Layered Extraction (PLE): A Novel Multi-Task Learning Model

https://example.org/mmoe

MMoE and its successors

## 人物

张三在腾讯工作。李四也在腾讯。张三和李四认识。
"""

NOTE_B = """---
layout: post
title: 历史笔记
category: history
date: 1999-05-04
---

# 文化大革命

文化大革命发生在1966年到1976年。王五在北京。王五和张三是朋友。

https://example.org/history

A history of 北京
"""

ENTITIES = {
    "Paper/PLE": Entity("Paper/PLE", "Paper", "PLE", ("Progressive Layered Extraction",)),
    "Person/张三": Entity("Person/张三", "Person", "张三"),
    "Person/李四": Entity("Person/李四", "Person", "李四"),
    "Person/王五": Entity("Person/王五", "Person", "王五"),
    "Organization/腾讯": Entity("Organization/腾讯", "Organization", "腾讯", ("Tencent",)),
    "Event/文化大革命": Entity("Event/文化大革命", "Event", "文化大革命"),
    "Place/北京": Entity("Place/北京", "Place", "北京", ("Beijing",)),
}


def _mentions(note, key: str, text: str, *, reference: int | None = None, every: bool = True) -> list[Mention]:
    out, start = [], 0
    etype = key.split("/", 1)[0]
    while True:
        i = note.text.find(text, start)
        if i < 0:
            break
        section = max((x.index for x in note.sections if x.start <= i < x.end), default=None)
        snippet = max((x.index for x in note.snippets if x.start <= i < x.end), default=None)
        out.append(Mention(note.path, i, i + len(text), text, etype, key, section, snippet, reference,
                           max(0, i - 5), min(len(note.text), i + len(text) + 5), "test"))
        start = i + len(text)
        if not every:
            break
    return out


def notes_and_extractions():
    a = parse_note(NOTE_A, "a.md")
    b = parse_note(NOTE_B, "b.md")
    ex_a = [*_mentions(a, "Paper/PLE", "PLE", reference=0), *_mentions(a, "Person/张三", "张三"),
            *_mentions(a, "Person/李四", "李四"), *_mentions(a, "Organization/腾讯", "腾讯")]
    ex_b = [*_mentions(b, "Event/文化大革命", "文化大革命"), *_mentions(b, "Person/王五", "王五"),
            *_mentions(b, "Place/北京", "北京"), *_mentions(b, "Person/张三", "张三")]

    def extraction(note, ms):
        keys = dict.fromkeys(m.key for m in ms)
        return Extraction(note.path, tuple(ENTITIES[k] for k in keys), tuple(ms))

    from kg.model import DateMention

    ea = extraction(a, ex_a)
    eb = extraction(b, ex_b)
    i66 = b.text.index("1966年")
    i76 = b.text.index("1976年")
    eb = Extraction(eb.note, eb.entities, eb.mentions, (
        DateMention("b.md", i66, i66 + 5, "1966年", "1966", None, None, ("Event/文化大革命",)),
        DateMention("b.md", i76, i76 + 5, "1976年", "1976", None, None, ("Event/文化大革命",)),
    ))
    return [(a, ea), (b, eb)]


def link_triples(pairs):
    """Coverage, relatedness and centrality, as the link pass writes them (kg.ttl, links part)."""
    (a, ea), (b, eb) = pairs
    E = {k: entity_iri(k) for k in ENTITIES}
    t = []

    def coverage(src: URIRef, key: str, score: float, direct: bool, evidence: list[Mention], via=(), just=None):
        c = coverage_iri(str(src), str(E[key]))
        t.extend([(c, RDF.type, KG.Coverage), (c, KG.source, src), (c, KG.entity, E[key]),
                  (c, KG.score, Literal(score, datatype=XSD.double)),
                  (c, KG.direct, Literal(direct)), (c, KG.method, method_iri("test"))])
        for m in evidence:
            t.append((c, KG.evidence, mention_iri(m.note, m.start, m.end, m.type)))
        for v in via:
            t.append((c, KG.via, E[v]))
        if just:
            t.append((c, KG.justification, Literal(just)))

    ple = [m for m in ea.mentions if m.key == "Paper/PLE"]
    coverage(source_iri("a.md", 0), "Paper/PLE", 1.0, True, ple[:1])
    coverage(source_iri("a.md", 1), "Paper/PLE", 0.4, False, ple[:1], via=["Person/张三"],
             just="in the same section as a source that names PLE")
    coverage(source_iri("b.md", 0), "Place/北京", 1.0, True, [m for m in eb.mentions if m.key == "Place/北京"][-1:])

    def related(x: str, y: str, w: float, rank_xy: int, rank_yx: int):
        """One record per pair, its ends in IRI order, with the rank each end gives the other."""
        (a, ra), (b, rb) = sorted([(E[x], rank_xy), (E[y], rank_yx)])
        r = relatedness_iri(str(a), str(b), "test")
        t.extend([(r, RDF.type, KG.Relatedness), (r, KG.fromEntity, a), (r, KG.toEntity, b),
                  (r, KG.weight, Literal(w, datatype=XSD.double)), (r, KG.method, method_iri("test")),
                  (r, KG.rankFrom, Literal(ra, datatype=XSD.integer)), (r, KG.rankTo, Literal(rb, datatype=XSD.integer))])
        zs = [m for k in (x, y) for m in [m for m in ea.mentions + eb.mentions if m.key == k][:1]]
        for m in zs:
            t.append((r, KG.evidence, mention_iri(m.note, m.start, m.end, m.type)))

    for x, y, w in [("Person/张三", "Organization/腾讯", 0.9), ("Person/李四", "Organization/腾讯", 0.8),
                    ("Person/张三", "Person/李四", 0.7), ("Person/王五", "Place/北京", 0.6),
                    ("Person/王五", "Person/张三", 0.5), ("Event/文化大革命", "Place/北京", 0.4)]:
        related(x, y, w, 1, 2)
    ranks = {"Person/张三": (0.3, 0), "Organization/腾讯": (0.2, 0), "Person/李四": (0.1, 0),
             "Person/王五": (0.15, 1), "Place/北京": (0.12, 1), "Event/文化大革命": (0.05, 1), "Paper/PLE": (0.08, 0)}
    for k, (pr, comm) in ranks.items():
        t.append((E[k], KG.pagerank, Literal(pr, datatype=XSD.double)))
        t.append((E[k], KG.community, Literal(comm, datatype=XSD.integer)))
    return t


def build_api_store(store: Path) -> Path:
    pairs = notes_and_extractions()
    with write_store(store) as w:
        for note, ex in pairs:
            w.replace_note(note.path, build_note_graph(note, ex))
        ents = merge_entities(e for _, ex in pairs for e in ex.entities)
        w.replace_graph(str(ENTITIES_GRAPH), entity_triples(ents.values()))
        w.replace_graph(str(LINKS_GRAPH), link_triples(pairs))
        w.commit()
    return store


@pytest.fixture(scope="session")
def api_store(tmp_path_factory) -> Path:
    return build_api_store(tmp_path_factory.mktemp("api-store") / ".kg")


def test_the_hand_made_graph_has_what_the_api_tests_need(api_store):
    s = EmbeddedStore(api_store)
    rows = s.select("SELECT ?src ?name WHERE { ?c kg:source ?src ; kg:entity ?e . ?e kg:name ?name }", {"name": "PLE"})
    assert len(rows) == 2
    assert s.select("SELECT (COUNT(*) AS ?n) WHERE { ?r a kg:Relatedness }")[0]["n"] == 6  # one per pair
