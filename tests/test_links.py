"""The link pass (kg.links): coverage, relatedness, paths, centrality, communities.

Real networkx, rdflib and Oxigraph stores, no mocks.  Extractions are made by
hand here (a name list found in the notes' prose blocks), so that these tests
check the link pass on known entities whatever the extraction pass finds; the
end-to-end test at the bottom goes through ``kg.pipeline.build`` with the real
extraction pass.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rdflib import Graph
from rdflib.compare import isomorphic

from kg import links
from kg.model import Entity, Extraction, Mention, Note
from kg.notes import parse_note, read_note
from kg.rdf import build_note_graph
from kg.store import open_store, write_store
from kg.vocab import KG, LINKS_GRAPH, entity_iri

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "samples" / "000_3c3c03ef14cd1a5a.txt"

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


def build_store(tmp: Path, notes_and_names) -> Path:
    """Write note graphs with hand extractions and the link graph into a store, as the pipeline does."""
    store = tmp / ".kg"
    with write_store(store) as w:
        for note, names in notes_and_names:
            w.replace_note(note.path, build_note_graph(note, hand_extract(note, names)))
        w.flush()
        data = links.load_link_input(w.select)
        result = links.compute_links(data)
        w.replace_graph(str(LINKS_GRAPH), links.link_triples(result))
        w.commit()
    return store


def answers(store: Path, entity: str) -> list[dict]:
    return open_store(store).select(
        """SELECT ?s ?title ?score ?direct ?why ?e WHERE {
             ?c a kg:Coverage ; kg:entity ?e ; kg:source ?s ; kg:score ?score ; kg:direct ?direct ;
                kg:justification ?why .
             OPTIONAL { ?s kg:title ?title }
           } ORDER BY DESC(?score) ?s""", {"e": entity})


@pytest.fixture(scope="module")
def sample_note() -> Note:
    return read_note(SAMPLE, SAMPLE.name)


@pytest.fixture(scope="module")
def sample_links(sample_note):
    data = _input_for([(sample_note, SAMPLE_NAMES)])
    return data, links.compute_links(data)


def _input_for(notes_and_names) -> links.LinkInput:
    """LinkInput through an in-memory rdflib graph's SPARQL (the same queries the store answers)."""
    from kg.store import PREFIXES

    g = Graph()
    for note, names in notes_and_names:
        g += build_note_graph(note, hand_extract(note, names))
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
