"""The link pass (kg.links): coverage, relatedness, paths, centrality, communities.

Real networkx, rdflib and Oxigraph stores, no mocks.  Extractions are made by
hand here (a name list found in the notes' prose blocks), so that these tests
check the link pass on known entities whatever the extraction pass finds; the
end-to-end test at the bottom goes through ``kg.pipeline.build`` with the real
extraction pass.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import pickle
import re
from pathlib import Path

import pytest
from rdflib import Graph, URIRef
from rdflib.compare import isomorphic

from kg import links
from kg.links import cache, scoring
from kg.links.cache import await_cache, pending_file, save_cache
from kg.model import Entity, Extraction, Mention, Note
from kg.notes import parse_note, read_note
from kg.parallel import forked
from kg.entity_graph import EntityGraph, entities_graph_triples
from kg.rdf import build_note_graph
from kg.store import open_store, write_store
from kg.vocab import ENTITIES_GRAPH, KG, LINKS_GRAPH, entity_iri

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "samples" / "000_3c3c03ef14cd1a5a.md"

PLE_LONG = ("Progressive Layered Extraction (PLE): A Novel Multi-Task Learning (MTL) Model for "
            "Personalized Recommendations")

# (type, name, aliases): what a good extraction finds in the sample note
SAMPLE_NAMES = [
    ("Paper", PLE_LONG, ("PLE",)),
    ("Paper", "Multi-Task Learning for Dense Prediction Tasks: A Survey", ()),
    ("Paper", "Multitask Learning", ()),
    ("Paper", "One Model to Learn Them All", ()),
    ("Paper", "深度多任务学习", ()),
    ("Organization", "DeepMind", ()),
    ("Organization", "西湖大学", ()),
    ("Person", "张岳", ()),
    ("Person", "张宇", ()),
    ("Person", "杨强", ()),
    ("Person", "北一辉", ()),
    ("Person", "池田成彬", ()),
    ("Person", "奥崎谦三", ()),
    ("Person", "三木武夫", ()),
    ("Person", "小西行长", ()),
    ("Person", "德川家康", ()),
    ("Person", "麦克阿瑟", ()),
    ("Organization", "三井", ()),
    ("Place", "日本", ()),
    ("Place", "东京", ()),
    ("Place", "大阪", ()),
    ("Event", "二二六兵变", ()),
]

_SENT_END = re.compile(r"[。！？!?]|\.(?=\s)")


def hand_extract(note: Note, names) -> Extraction:
    """Find each name (or alias) in the note's prose blocks: a stand-in for the extraction pass."""
    entities, mentions, taken = [], [], set()
    for type_, name, aliases in names:
        key = f"{type_}/{name}"
        found = False
        for form in sorted({name, *aliases}, key=len, reverse=True):
            for b in note.blocks:
                for m in re.finditer(re.escape(form), b.text):
                    start, end = b.start + m.start(), b.start + m.end()
                    if any(s < end and start < e for s, e in taken):
                        continue
                    if re.fullmatch(r"[A-Z]+", form) and (
                            re.match(r"\w", b.text[m.end():m.end() + 1]) or
                            (m.start() and re.match(r"\w", b.text[m.start() - 1]))):
                        continue
                    taken.add((start, end))
                    cuts = [0] + [x.end() for x in _SENT_END.finditer(b.text)] + [len(b.text)]
                    s0 = max(c for c in cuts if c <= m.start())
                    s1 = min(c for c in cuts if c >= m.end())
                    mentions.append(Mention(note.path, start, end, form, type_, key, b.section, b.snippet,
                                            b.reference, b.start + s0, b.start + s1, "hand"))
                    found = True
        if found:
            entities.append(Entity(key, type_, name, tuple(aliases)))
    mentions.sort(key=lambda m: (m.start, m.end))
    return Extraction(note.path, tuple(entities), tuple(mentions))


def build_store(tmp: Path, notes_and_names, **params) -> Path:
    """Write note graphs with hand extractions and the link graph (link ``params``) into a store, as the
    pipeline does."""
    store = tmp / ".kg"
    with write_store(store) as w:
        exs = [hand_extract(note, names) for note, names in notes_and_names]
        for (note, _), ex in zip(notes_and_names, exs):
            w.replace_note(note.path, build_note_graph(note, ex))
        w.replace_graph(str(ENTITIES_GRAPH), entities_graph_triples(exs))
        w.flush()
        data = links.load_link_input(w.select)
        result = links.compute_links(data, **params)
        w.replace_graph(str(LINKS_GRAPH), links.link_triples(result))
        w.commit()
    return store


def answers(store: Path, entity: str) -> list[dict]:
    return open_store(store).select(
        """SELECT ?s ?title ?score ?direct ?why ?e WHERE {
             ?c a kg:Coverage ; kg:entity ?e ; kg:source ?s ; kg:score ?score ; kg:direct ?direct ;
                kg:justification ?why .
             OPTIONAL { ?s kg:title ?title }
           } ORDER BY DESC(?score) ?s""", {"e": URIRef(entity)})


@pytest.fixture(scope="module")
def sample_note() -> Note:
    return read_note(SAMPLE, SAMPLE.name)


@pytest.fixture(scope="module")
def sample_links(sample_note):
    data = _input_for([(sample_note, SAMPLE_NAMES)])
    return data, links.compute_links(data)


def _input_for(notes_and_names) -> links.LinkInput:
    """LinkInput through an in-memory rdflib dataset's SPARQL (the same queries the store answers)."""
    from kg.store import PREFIXES

    from rdflib import Dataset

    from kg.vocab import note_graph

    g = Dataset()
    exs = [hand_extract(note, names) for note, names in notes_and_names]
    for (note, _), ex in zip(notes_and_names, exs):
        part = g.graph(note_graph(note.path))
        for t in build_note_graph(note, ex):
            part.add(t)
    ents = g.graph(ENTITIES_GRAPH)
    for t in entities_graph_triples(exs):
        ents.add(t)
    prefix = "".join(f"PREFIX {k}: <{v}>\n" for k, v in PREFIXES.items())

    def select(sparql, bindings=None):
        rows = []
        for r in g.query(prefix + sparql, initBindings=bindings or {}):
            rows.append({str(k): (v.toPython() if v is not None else None) for k, v in r.asdict().items()})
        return [{k: (str(v) if not isinstance(v, (int, float, bool)) else v) for k, v in row.items()}
                for row in rows]

    return links.load_link_input(select)


# ---------------------------------------------------------------- the sample note

def test_sample_sources_covering_ple(sample_links):
    data, result = sample_links
    (ple,) = links.entities_named(data, "PLE")
    assert ple.name == PLE_LONG
    cov = links.coverage_of(result, ple.iri)
    titles = {s.iri: s.title for s in data.sources}
    ranked = [titles[c.source] for c in cov]
    assert ranked, "no source covers PLE"
    assert set(ranked[:2]) == {"多任务学习在推荐算法中的应用", "多任务学习方法在推荐中的演变"}, ranked
    japan = {s.iri for s in data.sources if s.section and s.section.endswith("#section-5")}
    assert japan, "the 日本+ section's sources"
    assert not japan & {c.source for c in cov}
    for c in cov:
        assert c.justification.startswith(("direct:", "inferred:"))
        assert not c.direct and c.score < 1.0
        assert "推荐" in c.justification or "recommendation" in c.justification or c is not cov[0]


# ---------------------------------------------------------------- small notes of our own

REC = """# 推荐系统

## 模型

PLE（Progressive Layered Extraction）是一个多任务推荐模型，常和 MMoE 一起比较。

## 历史

MMoE 由 Google 提出，用门控专家网络共享底层。

## 参考

https://example.org/ple
PLE 模型详解

https://example.org/simple
A SIMPLE guide to IMPLEMENTING ranking models

https://example.org/mtl-rec
多任务学习在推荐系统中的应用

https://example.org/x/PLE-notes
Some notes on ranking

# 日本

东京是日本的首都。

https://example.org/tokyo
东京旅行指南
"""
REC_NAMES = [("Paper", "Progressive Layered Extraction", ("PLE",)), ("Paper", "MMoE", ()),
             ("Organization", "Google", ()), ("Place", "东京", ()), ("Place", "日本", ())]

LIB = """# 图书馆

PLE（Public Library of Edinburgh）是爱丁堡的一座公共图书馆，藏书很多。

https://example.org/ple-lib
PLE 开放时间
"""
LIB_NAMES = [("Organization", "Public Library of Edinburgh", ("PLE",))]

OTHER = """# 杂记

https://example.org/c1
PLE 多任务推荐模型复现

https://example.org/c2
PLE 图书馆借书指南

https://example.org/c3
SIMPLE IMPLEMENTING EXAMPLE
"""


@pytest.fixture(scope="module")
def own_notes():
    return [(parse_note(REC, "rec.md"), REC_NAMES), (parse_note(LIB, "lib.md"), LIB_NAMES),
            (parse_note(OTHER, "other.md"), [])]


@pytest.fixture(scope="module")
def own_store(tmp_path_factory, own_notes) -> Path:
    return build_store(tmp_path_factory.mktemp("own"), own_notes)


def _url_of(store: Path) -> dict[str, str]:
    rows = open_store(store).select("SELECT ?s ?url WHERE { ?s a kg:Source ; kg:url ?url }")
    return {r["s"]: r["url"] for r in rows}


REC_PLE = str(entity_iri("Paper/Progressive Layered Extraction"))
LIB_PLE = str(entity_iri("Organization/Public Library of Edinburgh"))


def test_direct_ranks_above_inferred(own_store):
    urls = _url_of(own_store)
    rows = answers(own_store, REC_PLE)
    got = [(urls[r["s"]], r["direct"]) for r in rows]
    assert got[0] == ("https://example.org/ple", True), got
    assert ("https://example.org/c1", True) in got  # names PLE in another note, told apart by its context
    assert ("https://example.org/mtl-rec", False) in got  # inferred: 多任务 + 推荐, no name
    direct = [r["score"] for r in rows if r["direct"]]
    inferred = [r["score"] for r in rows if not r["direct"]]
    assert inferred and min(direct) > max(inferred)
    assert all(r["score"] >= 1.0 for r in rows if r["direct"]) and all(r["score"] < 1.0 for r in rows
                                                                        if not r["direct"])
    why = {urls[r["s"]]: r["why"] for r in rows}
    assert why["https://example.org/ple"].startswith("direct:")
    assert why["https://example.org/mtl-rec"].startswith("inferred:") and "recommendation" in why[
        "https://example.org/mtl-rec"]


def test_substrings_and_urls_do_not_name(own_store):
    urls = _url_of(own_store)
    for ent in (REC_PLE, LIB_PLE):
        direct = {urls[r["s"]] for r in answers(own_store, ent) if r["direct"]}
        assert not direct & {"https://example.org/simple", "https://example.org/x/PLE-notes",
                             "https://example.org/c3"}, direct


def test_one_acronym_two_entities(own_store):
    urls = _url_of(own_store)
    data = links.load_link_input(open_store(own_store).select)
    assert {e.iri for e in links.entities_named(data, "PLE")} == {REC_PLE, LIB_PLE}
    rec = {urls[r["s"]] for r in answers(own_store, REC_PLE)}
    lib = {urls[r["s"]]: r for r in answers(own_store, LIB_PLE)}
    assert "https://example.org/ple-lib" not in rec and "https://example.org/c2" not in rec
    assert "https://example.org/ple" not in lib and "https://example.org/c1" not in lib
    assert lib["https://example.org/ple-lib"]["direct"] and lib["https://example.org/c2"]["direct"]
    assert "closest" in lib["https://example.org/c2"]["why"]  # says how the two were told apart
    assert "https://example.org/tokyo" not in rec


def test_path_hops_with_evidence(own_store):
    data = links.load_link_input(open_store(own_store).select)
    g = links.project_graph(data)
    google = str(entity_iri("Organization/Google"))
    hops = links.find_path(g, REC_PLE, google)
    assert hops is not None and len(hops) == 2
    assert [h.from_iri for h in hops] == [REC_PLE, str(entity_iri("Paper/MMoE"))] and hops[-1].to_iri == google
    for h in hops:
        assert h.kind in {"snippet", "section", "source"} and h.evidence and h.note == "rec.md"
        assert "#mention-" in h.mention and "#mention-" in h.from_mention
    assert "MMoE" in hops[0].evidence and "Google" in hops[1].evidence
    assert links.find_path(g, REC_PLE, google, max_hops=1) is None
    assert links.find_path(g, REC_PLE, LIB_PLE) is None  # only the whole-corpus hubs would join them


def test_related_pagerank_community_stored(own_store):
    store = open_store(own_store)
    ents = store.select("SELECT ?e WHERE { ?e a kg:Entity }")
    stats = store.select("SELECT ?e ?pr ?c ?d WHERE { ?e kg:pagerank ?pr ; kg:community ?c ; kg:degree ?d }")
    assert {r["e"] for r in stats} == {r["e"] for r in ents}
    assert all(r["pr"] > 0 for r in stats)
    rel = store.select("""SELECT ?a ?b ?w ?rank ?m WHERE { ?r a kg:Relatedness ; kg:weight ?w ; kg:method ?m .
                          { ?r kg:fromEntity ?a ; kg:toEntity ?b ; kg:rankFrom ?rank }
                          UNION { ?r kg:toEntity ?a ; kg:fromEntity ?b ; kg:rankTo ?rank } }""")
    pairs = {(r["a"], r["b"]) for r in rel}
    assert (REC_PLE, str(entity_iri("Paper/MMoE"))) in pairs
    # one record per pair, its ends in IRI order
    ends = store.select("SELECT ?a ?b WHERE { ?r a kg:Relatedness ; kg:fromEntity ?a ; kg:toEntity ?b }")
    assert all(str(r["a"]) < str(r["b"]) for r in ends) and len(ends) == len({(r["a"], r["b"]) for r in ends})
    # no shortcut triples derived from the records (kg.links.triples)
    for p in ("covers", "coverage", "relatedTo", "relatedness"):
        assert not store.select("SELECT ?p ?s WHERE { ?s ?p ?o } LIMIT 1", {"p": URIRef(str(KG) + p)})
    com = {r["e"]: r["c"] for r in stats}
    assert com[REC_PLE] == com[str(entity_iri("Paper/MMoE"))]


def test_deterministic(tmp_path, own_notes, own_store):
    again = build_store(tmp_path, list(reversed(own_notes)))

    def links_graph(store):
        g = Graph()
        g.parse(data=open_store(store).dump("nt", graph=str(LINKS_GRAPH)), format="nt")
        return g

    a, b = links_graph(own_store), links_graph(again)
    assert len(a) > 0 and isomorphic(a, b)


def test_sample_paths_and_japan_stays_apart(sample_links):
    data, result = sample_links
    g = links.project_graph(data)
    a, b = str(entity_iri("Person/北一辉")), str(entity_iri("Person/池田成彬"))
    hops = links.find_path(g, a, b)
    assert hops and len(hops) == 1 and "北一辉" in hops[0].evidence and "池田成彬" in hops[0].evidence
    (ple,) = links.entities_named(data, "PLE")
    japan = str(entity_iri("Place/日本"))
    assert all(r.to_entity != japan for r in result.related if r.from_entity == ple.iri)


# ---------------------------------------------------------------- end to end, with the extraction pass

def test_pipeline_sample_ple(sample_store):
    """``kg build samples``: sources covering PLE, best first, per entity so named."""
    pytest.importorskip("kg.extract")
    store = open_store(sample_store)
    data = links.load_link_input(store.select)
    named = links.entities_named(data, "PLE")
    assert named, "the extraction pass found no PLE"
    japan = {s.iri for s in data.sources if any(x.iri == s.section and x.heading_path.startswith("日本")
                                                 for x in data.sections)}
    assert japan
    for ent in named:
        rows = answers(sample_store, ent.iri)
        assert rows, ent.name
        assert {r["title"] for r in rows[:2]} == {"多任务学习在推荐算法中的应用", "多任务学习方法在推荐中的演变"}, rows
        assert not japan & {r["s"] for r in rows}
        assert all(r["why"].startswith("direct:" if r["direct"] else "inferred:") for r in rows)
    stats = store.select("SELECT (COUNT(?e) AS ?n) WHERE { ?e a kg:Entity . FILTER NOT EXISTS { ?e kg:pagerank ?p } }")
    assert stats[0]["n"] == 0


def test_links_conform_to_shapes(own_store):
    pyshacl = pytest.importorskip("pyshacl")
    data = Graph().parse(data=open_store(own_store).dump("nt"), format="nt")
    shapes = Graph().parse(REPO / "schemas" / "shapes.ttl", format="turtle")
    ok, _, text = pyshacl.validate(data, shacl_graph=shapes, inference="none")
    assert ok, text


# ---------------------------------------------------------------- the store pass: fast reads, quads, incremental

def _relink_store(tmp: Path, notes_and_names, *, changed=(), removed=(), previous: Path | None = None,
                  max_fraction: float = 0.1) -> tuple[Path, links.RelinkInfo]:
    """Write note graphs (hand extractions) and run :func:`links.relink` as a build does; return the store."""
    store = tmp / ".kg"
    with write_store(store) as w:
        entities = EntityGraph(w, fresh=previous is None and not (store / "CURRENT").exists())
        entities.forget([*(note.path for note, _ in notes_and_names), *removed])
        for note, names in notes_and_names:
            ex = hand_extract(note, names)
            w.replace_note(note.path, build_note_graph(note, ex))
            entities.add(note.path, ex)
        for path in removed:
            w.remove_note(path)
        entities.write()
        w.flush()
        live = (store / (store / "CURRENT").read_text().strip()) if (store / "CURRENT").exists() else None
        _, info = links.relink(w.oxigraph, str(LINKS_GRAPH), changed=changed, removed=removed,
                               cache_in=live / links.CACHE_FILE if live else None,
                               cache_out=w.target / links.CACHE_FILE, max_fraction=max_fraction)
        w.commit()
    return store, info


def _links_graph(store: Path) -> Graph:
    return Graph().parse(data=open_store(store).dump("nt", graph=str(LINKS_GRAPH)), format="nt")


def test_a_pass_written_by_a_builds_loader_thread_equals_its_triples(tmp_path, own_notes):
    """A build hands the pass its writer's background loader: a full pass over a copy that holds a links graph
    empties it, writes the related links while coverage is computed, then the rest."""
    store, _ = _relink_store(tmp_path, own_notes)
    with write_store(store) as w:
        relink = links.Relink(w.oxigraph, str(LINKS_GRAPH))  # no cache: a full pass
        result, info = relink.run(load=w.load, wait=w.sync)
        relink.store = None  # as a build does: the generation's store closes at commit only if nothing holds it
        w.commit()
    assert info.mode == "full" and info.removed_quads > 0 and info.added_quads > 0, info
    expected = Graph()
    for t in links.link_triples(result):
        expected.add(t)
    assert len(expected) == info.added_quads and isomorphic(_links_graph(store), expected)


def test_store_reader_and_quads_match_the_sparql_path(tmp_path, own_notes, own_store):
    store, info = _relink_store(tmp_path, own_notes)
    assert info.mode == "full"
    fast = links.input_from_parts(links.read_note_parts(open_store(store).oxigraph))
    assert fast == links.load_link_input(open_store(own_store).select)
    assert isomorphic(_links_graph(store), _links_graph(own_store))


def test_parts_from_a_notes_triples_are_what_the_store_gives_back(tmp_path):
    """A build hands the link pass each note's part, made from the note and its extraction
    (:func:`links.part_from_note`); it must read as the part of the note's triples and as the note graph read
    back would.  The triples come as a stream (what the writer reads), the same as the list."""
    from kg.extract import load_extractor
    from kg.notes import parse_note, read_notes
    from kg.rdf import entity_triples, iter_note_triples, note_triples

    from conftest import SAMPLES

    notes, problems = read_notes([SAMPLES])
    assert notes and not problems
    notes.append(parse_note("# 船\n\n1979年11月由上海江南造船厂建成。\n", "odd.md"))  # (see below)
    extractor = load_extractor()
    mine, merged = {}, 0
    with write_store(tmp_path / "store") as w:
        entities = EntityGraph(w, fresh=True)
        for note, ex in zip(notes, extractor.extract_many(notes)):
            triples = note_triples(note, ex)
            assert list(iter_note_triples(note, ex)) == triples
            mine[note.path] = links.part_from_note(note, ex)
            of_triples = links.part_from_triples([*triples, *entity_triples(ex.entities)])
            assert {k: sorted(v) for k, v in mine[note.path].items() if k != "note"} == \
                {k: sorted(v) for k, v in of_triples.items() if k != "note"}
            assert mine[note.path]["note"] == of_triples["note"]
            merged += len(ex.mentions) - len(mine[note.path].get("mentions", ()))
            w.replace_note(note.path, iter_note_triples(note, ex))
            entities.add(note.path, ex)
        entities.write()
        w.flush()
        theirs = links.read_note_parts(w.oxigraph)
    assert set(mine) == set(theirs) and all(theirs[p]["mentions"] for p in theirs)
    for path in theirs:
        for kind in set(theirs[path]) | set(mine[path]):
            a, b = theirs[path].get(kind, []), mine[path].get(kind, [])
            assert (a if kind == "note" else sorted(a)) == (b if kind == "note" else sorted(b)), (path, kind)
    assert links.input_from_parts(mine) == links.input_from_parts(theirs)
    assert merged > 0  # (the test holds a mention two components found)
    # a part made from a note holds the records the pass reads, not a second copy of each row
    read = links.input_from_parts(mine)
    held = {id(r) for part in mine.values() for kind in ("mentions", "sources") for r in part.get(kind, ())}
    assert read.mentions and read.sources and all(id(r) in held for r in (*read.mentions, *read.sources))


MORE = """# 随记

MMoE 的门控网络让每个任务选择专家。

https://example.org/mmoe-gate
门控专家网络入门
"""


def test_incremental_change_gives_the_full_answers_for_ple(tmp_path, own_notes):
    notes = own_notes + [(parse_note(MORE, "more.md"), [("Paper", "MMoE", ())])]
    _relink_store(tmp_path / "inc", notes)
    rec = REC.replace("常和 MMoE 一起比较", "常和 MMoE、Google 的模型一起比较")
    changed = [(parse_note(rec, "rec.md"), REC_NAMES)]
    inc, info = _relink_store(tmp_path / "inc", changed, changed=["rec.md"], max_fraction=0.5)
    assert info.mode == "incremental", info
    full, info = _relink_store(tmp_path / "full", [changed[0], *notes[1:]])
    assert info.mode == "full"
    for ent in (REC_PLE, LIB_PLE):
        a = [(r["s"], r["direct"]) for r in answers(inc, ent)]
        b = [(r["s"], r["direct"]) for r in answers(full, ent)]
        assert a == b and a, ent
    rel = "SELECT ?a ?b ?w WHERE { ?r a kg:Relatedness ; kg:fromEntity ?a ; kg:toEntity ?b ; kg:weight ?w }"
    assert sorted(map(str, open_store(inc).select(rel))) == sorted(map(str, open_store(full).select(rel)))


@pytest.mark.parametrize("max_fraction, mode", [(0.9, "incremental"), (0.0, "full")])
def test_a_pass_from_the_last_cache_patches_the_links_graph_into_exactly_its_result(tmp_path, own_notes,
                                                                                     max_fraction, mode):
    """A pass with the last cache (incremental, or full when too many notes changed) writes only the records
    that differ from the last pass's; the graph must still be its whole result (a record it changed but did not
    report would linger or be missing)."""
    notes = own_notes + [(parse_note(MORE, "more.md"), [("Paper", "MMoE", ())])]
    _relink_store(tmp_path, notes)
    rec = REC.replace("常和 MMoE 一起比较", "常和 MMoE、Google 的模型一起比较")
    store = tmp_path / ".kg"
    with write_store(store) as w:
        note = parse_note(rec, "rec.md")
        entities = EntityGraph(w, fresh=False)
        entities.forget(["rec.md", "more.md"])
        ex = hand_extract(note, REC_NAMES)
        w.replace_note(note.path, build_note_graph(note, ex))
        entities.add(note.path, ex)
        w.remove_note("more.md")
        entities.write()
        w.flush()
        live = store / (store / "CURRENT").read_text().strip()
        result, info = links.relink(w.oxigraph, str(LINKS_GRAPH), changed=["rec.md"], removed=["more.md"],
                                    cache_in=live / links.CACHE_FILE, cache_out=w.target / links.CACHE_FILE,
                                    max_fraction=max_fraction)
        w.commit()
    assert info.mode == mode and info.removed_quads and info.added_quads, info
    expected = Graph()
    for t in links.link_triples(result):
        expected.add(t)
    assert isomorphic(_links_graph(store), expected)


def _assert_next_pass_is_incremental_and_answers_as_a_full_one(tmp_path: Path, store: Path, own_notes) -> None:
    """Change rec.md: the pass over ``store`` is incremental, and which sources cover PLE, directly or not, and
    with what score, is what a full pass over the same notes says."""
    rec = REC.replace("常和 MMoE 一起比较", "常和 MMoE、Google 的模型一起比较")
    changed = [(parse_note(rec, "rec.md"), REC_NAMES)]
    _, info = _relink_store(tmp_path, changed, changed=["rec.md"], max_fraction=0.9)
    assert info.mode == "incremental", info
    full, _ = _relink_store(tmp_path / "full", [changed[0], *own_notes[1:]])
    for ent in (REC_PLE, LIB_PLE):
        assert [(r["s"], r["direct"], r["score"]) for r in answers(store, ent)] == \
            [(r["s"], r["direct"], r["score"]) for r in answers(full, ent)] != [], ent


def test_a_pass_past_the_forked_writers_size_writes_its_cache_itself_and_the_next_pass_uses_it(
        tmp_path, own_notes, monkeypatch):
    """The link cache of a very big pass is written by the build itself, not a forked child (which would copy
    every page of it): written when the pass returns, and the next pass is incremental from it."""
    import importlib

    monkeypatch.setattr(importlib.import_module("kg.links.relink"), "BACKGROUND_RECORDS", 0)

    def no_child(*args, **kwargs):
        raise AssertionError("a forked child writes the cache")

    monkeypatch.setattr(cache, "start_in_background", no_child)
    store, info = _relink_store(tmp_path, own_notes)
    assert info.mode == "full"
    live = store / (store / "CURRENT").read_text().strip()
    for f in (live / links.CACHE_FILE, cache.parts_file(live / links.CACHE_FILE)):
        assert f.is_file() and not pending_file(f).exists()
    _assert_next_pass_is_incremental_and_answers_as_a_full_one(tmp_path, store, own_notes)


def test_the_state_cache_holds_its_records_in_pieces_and_the_next_pass_starts_from_them(
        tmp_path, own_notes, monkeypatch):
    """The state's file holds the coverage records in pickles of their own (a pickler's table grows with all it
    writes): read back, the cache has the records the pass made, and the next pass, incremental from it,
    answers as a full pass does."""
    monkeypatch.setattr(cache, "RECORDS_PER_PICKLE", 2)
    store, info = _relink_store(tmp_path, own_notes)
    live = store / (store / "CURRENT").read_text().strip()
    links.wait_for_cache(live / links.CACHE_FILE)
    with open(live / links.CACHE_FILE, "rb") as fh:
        pieces = []
        while fh.peek(1):
            pieces.append(pickle.load(fh))
    records = [c for piece in pieces[1:] for c in piece]
    assert len(pieces) > 2 and all(len(piece) <= 2 for piece in pieces[1:])
    assert pieces[0]["result"].coverages == () and pieces[0]["state"]["coverage"].direct == {}
    loaded, why = cache.load_cache(live / links.CACHE_FILE, links.DEFAULTS)
    assert why == "" and list(loaded["result"].coverages) == records
    assert sum(loaded["result"].counts()[k] for k in ("coverage_direct", "coverage_inferred")) == len(records)
    assert loaded["state"]["coverage"].direct == {(c.source, c.entity): c for c in records if c.direct} != {}
    _assert_next_pass_is_incremental_and_answers_as_a_full_one(tmp_path, store, own_notes)


def test_incremental_removal_drops_the_links_of_the_note(tmp_path, own_notes):
    _relink_store(tmp_path, own_notes)
    store, info = _relink_store(tmp_path, [], removed=["lib.md"], max_fraction=0.5)
    assert info.mode == "incremental", info
    assert answers(store, LIB_PLE) == []
    urls = set(_url_of(store).values())
    assert "https://example.org/ple-lib" not in urls
    left = open_store(store).select(
        "SELECT ?s WHERE { GRAPH ?g { ?c kg:source ?s } FILTER NOT EXISTS { ?s kg:url ?u } }")
    assert left == []  # no coverage of a source that is gone
    stats = open_store(store).select("SELECT ?e WHERE { ?e kg:pagerank ?p }")
    assert LIB_PLE not in {r["e"] for r in stats}
    assert [r["direct"] for r in answers(store, REC_PLE)][:1] == [True]


def test_forked_computation_returns_its_value_and_raises_its_error():
    """The full pass computes parts in forked children; their results and errors come back to the parent."""
    data = {"a": [1, 2, 3]}
    assert forked(lambda d: sum(d["a"]), data)() == 6
    with pytest.raises(ZeroDivisionError):
        forked(lambda: 1 / 0)()


def test_the_link_cache_is_keyed_by_the_scoring_table(monkeypatch):
    """A cache made with other scoring constants is not used: changing one needs no version bumped by hand."""
    made = cache.cache_key(links.DEFAULTS)
    assert cache.fits(made, links.DEFAULTS)
    assert not cache.fits(made, {**links.DEFAULTS, "top_k": 11})
    monkeypatch.setattr(scoring, "SCORING", dataclasses.replace(scoring.SCORING, title_evidence=0.2))
    assert not cache.fits(made, links.DEFAULTS)


def test_a_cache_finished_in_the_background_is_awaited_by_its_reader(tmp_path):
    """A build returns while a child still writes the link cache; the next reader waits for the whole file,
    and the child does not keep the build's descriptors (the store's lock) open."""
    path = tmp_path / links.CACHE_FILE
    big = {"parts": {str(i): [("x" * 50, i)] * 20 for i in range(20000)}}
    held = os.open(tmp_path / "held", os.O_CREAT | os.O_RDWR)
    fcntl.flock(held, fcntl.LOCK_EX)
    save_cache(path, big)(wait=False)
    os.close(held)  # the child closed its copy: the lock is free at once
    probe = os.open(tmp_path / "held", os.O_RDWR)
    fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError if the child had kept it
    os.close(probe)
    await_cache(path)
    assert not pending_file(path).exists()
    with open(path, "rb") as fh:
        assert pickle.load(fh) == big



def test_communities_are_found_where_networkx_louvain_would_loop_forever():
    """networkx 3.6's Louvain loops forever on this graph with seed 123 (networkx issue #8739): the link pass
    stops it and tries the next seed."""
    import networkx as nx

    g = nx.Graph([(0, 1), (0, 2), (0, 5), (0, 6), (1, 2), (1, 4), (2, 3), (2, 5), (2, 6), (3, 4)])
    nx.set_edge_attributes(g, 1.0, "weight")
    found = links.communities_of(g, 123, seconds=2.0)
    assert sorted(n for c in found for n in c) == list(range(7)) and 1 < len(found) < 7
    assert found == links.communities_of(g, 123, seconds=2.0)  # the same answer each time
