"""A small store written by hand (no extraction, no link pass): for tests, examples and the viewer demo.

Entities and mentions are found by plain string search in the sample note;
relatedness and coverage triples follow the ontology (``schemas/kg.ttl``) as the
link pass writes them, into :data:`kg.vocab.LINKS_GRAPH`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from rdflib import RDF, XSD, Literal, URIRef

from kg.model import Entity, Extraction, Mention, Note
from kg.notes import read_note
from kg.entity_graph import entities_graph_triples
from kg.rdf import build_note_graph
from kg.store import write_store
from kg.vocab import ENTITIES_GRAPH, KG, LINKS_GRAPH, coverage_iri, entity_iri, method_iri, relatedness_iri

__all__ = ["SAMPLE", "DEMO_ENTITIES", "demo_extraction", "write_demo_store"]

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "000_3c3c03ef14cd1a5a.md"

#: (type, name, aliases) found by string search in the sample note
DEMO_ENTITIES = (
    ("Person", "北一辉", ("北辉次郎",)),
    ("Person", "池田成彬", ()),
    ("Person", "奥崎谦三", ()),
    ("Person", "小西行长", ("小西",)),
    ("Person", "德川家康", ()),
    ("Person", "麦克阿瑟", ()),
    ("Person", "松岛松太郎", ()),
    ("Event", "二二六兵变", ()),
    ("Event", "明治维新", ()),
    ("Place", "日本", ()),
    ("Place", "东京", ()),
    ("Place", "大阪", ()),
    ("Organization", "三井", ()),
    ("Organization", "日本共产党", ()),
    ("Paper", "Multitask Learning", ()),
)

#: (from, to, weight, method) relatedness, by name
DEMO_LINKS = (
    ("北一辉", "二二六兵变", 3.0, "co-occurrence"),
    ("池田成彬", "北一辉", 2.0, "co-occurrence"),
    ("池田成彬", "三井", 2.0, "co-occurrence"),
    ("二二六兵变", "三井", 1.0, "co-occurrence"),
    ("北一辉", "日本", 1.0, "co-occurrence"),
    ("奥崎谦三", "东京", 1.0, "co-occurrence"),
    ("小西行长", "德川家康", 2.0, "co-occurrence"),
    ("松岛松太郎", "日本共产党", 1.0, "co-occurrence"),
    ("麦克阿瑟", "日本", 1.0, "co-occurrence"),
    ("明治维新", "东京", 1.0, "co-occurrence"),
    ("明治维新", "大阪", 1.0, "co-occurrence"),
    ("北一辉", "池田成彬", 0.5, "shared-neighbour"),
)

_SENT_END = re.compile(r"[。！？!?\n]")


def _sentence(text: str, start: int, end: int) -> tuple[int, int]:
    s = start
    while s > 0 and not _SENT_END.match(text[s - 1]):
        s -= 1
    e = end
    while e < len(text) and not _SENT_END.match(text[e]):
        e += 1
    return s, min(len(text), e + 1)


def _where(note: Note, pos: int) -> tuple[int | None, int | None, int | None]:
    section = next((s.index for s in reversed(note.sections) if s.start <= pos < s.end), None)
    snippet = next((s.index for s in reversed(note.snippets) if s.start <= pos < s.end), None)
    ref = next((r.index for r in note.references
                if r.title_start is not None and r.title_start <= pos < (r.title_end or 0)), None)
    return section, snippet, ref


def demo_extraction(note: Note, entities=DEMO_ENTITIES) -> Extraction:
    """Every occurrence of each name (and alias) in the note as a mention."""
    ents, mentions, taken = [], [], set()
    for type_, name, aliases in sorted(entities, key=lambda e: -len(e[1])):  # longest first: 日本共产党 before 日本
        key = f"{type_}/{name}"
        found = False
        for form in (name, *aliases):
            for m in re.finditer(re.escape(form), note.text):
                if any(m.start() < e and s < m.end() for s, e in taken):
                    continue
                taken.add((m.start(), m.end()))
                section, snippet, ref = _where(note, m.start())
                s0, s1 = _sentence(note.text, m.start(), m.end())
                mentions.append(Mention(note=note.path, start=m.start(), end=m.end(), text=form, type=type_,
                                        key=key, section=section, snippet=snippet, reference=ref,
                                        sentence_start=s0, sentence_end=s1, method="demo"))
                found = True
        if found:
            ents.append(Entity(key=key, type=type_, name=name, aliases=tuple(aliases)))
    return Extraction(note=note.path, entities=tuple(ents), mentions=tuple(mentions))


def link_triples(extraction: Extraction, links=DEMO_LINKS):
    """Relatedness, PageRank, community, degree and coverage triples as the link pass writes them."""
    known = {e.name: e for e in extraction.entities}
    ent = {name: entity_iri(e.key) for name, e in known.items()}
    degree: dict[str, int] = {n: 0 for n in known}
    ranked: dict[str, int] = {}  # links listed so far from each entity (its rank of the next)
    for a, b, w, method in links:
        if a not in ent or b not in ent:
            continue
        ranked[a] = rank = ranked.get(a, 0) + 1
        # one record per pair, its ends in IRI order, the rank on the side that lists the other
        x, y, side = (ent[a], ent[b], KG.rankFrom) if str(ent[a]) <= str(ent[b]) else (ent[b], ent[a], KG.rankTo)
        r = relatedness_iri(str(x), str(y), method)
        yield r, RDF.type, KG.Relatedness
        yield r, KG.fromEntity, x
        yield r, KG.toEntity, y
        yield r, KG.weight, Literal(w, datatype=XSD.double)
        yield r, side, Literal(rank, datatype=XSD.integer)
        yield r, KG.method, method_iri(method)
        degree[a] += 1
        degree[b] += 1
    total = sum(degree.values()) + len(degree)
    communities = {"北一辉": 0, "池田成彬": 0, "二二六兵变": 0, "三井": 0, "日本": 1, "麦克阿瑟": 1,
                   "松岛松太郎": 1, "日本共产党": 1, "奥崎谦三": 2, "东京": 2, "明治维新": 2, "大阪": 2}
    for name, iri in ent.items():
        yield iri, KG.pagerank, Literal((degree[name] + 1) / total, datatype=XSD.double)
        yield iri, KG.degree, Literal(degree[name], datatype=XSD.integer)
        yield iri, KG.community, Literal(communities.get(name, 3), datatype=XSD.integer)
    # coverage: a source covers what its title names
    note_path = extraction.note
    from kg.vocab import source_iri

    for m in extraction.mentions:
        if m.reference is not None:
            src, e = source_iri(note_path, m.reference), entity_iri(m.key)
            c = coverage_iri(str(src), str(e))
            yield c, RDF.type, KG.Coverage
            yield c, KG.source, src
            yield c, KG.entity, e
            yield c, KG.direct, Literal(True)
            yield c, KG.score, Literal(1.0, datatype=XSD.double)


def write_demo_store(store: str | os.PathLike[str], note_file: str | os.PathLike[str] = SAMPLE, *,
                     links: bool = True) -> Extraction:
    """Write the sample note with hand-made entities (and, with ``links``, link triples) into ``store``."""
    note = read_note(note_file, Path(note_file).name)
    ex = demo_extraction(note)
    with write_store(store) as writer:
        writer.replace_note(note.path, build_note_graph(note, ex))
        writer.replace_graph(str(ENTITIES_GRAPH), entities_graph_triples([ex]))
        if links:
            writer.replace_graph(str(LINKS_GRAPH), list(link_triples(ex)))
        writer.commit()
    return ex
