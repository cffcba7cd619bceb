"""Notes and what was extracted from them → RDF (rdflib), with provenance.

One :class:`rdflib.Graph` per note: the note, its sections, snippets,
sources, images, the mentions found in it (each a character span with its
sentence) and the entities they refer to.  IRIs come from :mod:`kg.vocab`,
so the same notes always give the same graph.
"""

from __future__ import annotations

from rdflib import RDF, XSD, Graph, Literal, URIRef

from kg.model import Extraction, Note
from kg.vocab import (
    KG,
    date_iri,
    entity_iri,
    image_iri,
    mention_iri,
    note_iri,
    section_iri,
    snippet_iri,
    source_iri,
    type_iri,
)

__all__ = ["build_note_graph", "note_triples", "bind_prefixes"]

_SENTENCE_MAX = 400


def bind_prefixes(graph: Graph) -> Graph:
    graph.bind("kg", str(KG._NS))
    graph.bind("kgid", "https://w3id.org/kg/id/")
    graph.bind("schema", "https://schema.org/")
    graph.bind("prov", "http://www.w3.org/ns/prov#")
    return graph


def _int(n: int) -> Literal:
    return Literal(n, datatype=XSD.integer)


def _str(text: str) -> Literal:
    # lone surrogates cannot be stored or serialised; keep the rest of the text
    return Literal(text.encode("utf-8", "replace").decode("utf-8") if _has_surrogate(text) else text)


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def build_note_graph(note: Note, extraction: Extraction | None = None) -> Graph:
    """The RDF graph of one note (the triples of :func:`note_triples` in an rdflib Graph).

    >>> from kg.notes import parse_note
    >>> g = build_note_graph(parse_note("# Title\\n\\nhttps://example.org/a\\n\\nA title\\n", "n.md"))
    >>> len(list(g.subjects(RDF.type, KG.Source)))
    1
    """
    g = bind_prefixes(Graph())
    for t in note_triples(note, extraction):
        g.add(t)
    return g


def note_triples(note: Note, extraction: Extraction | None = None) -> list[tuple[URIRef, URIRef, URIRef | Literal]]:
    """The triples of one note's graph, as a list (no indexing: what a store load wants)."""
    out: list[tuple[URIRef, URIRef, URIRef | Literal]] = []
    add = out.append
    path = note.path
    n = note_iri(path)
    add((n, RDF.type, KG.Note))
    add((n, KG.path, _str(path)))
    add((n, KG.sha256, Literal(note.sha256)))
    add((n, KG.length, _int(len(note.text))))
    if note.title:
        add((n, KG.title, _str(note.title)))
    if note.category:
        add((n, KG.category, _str(note.category)))
    if note.date:
        add((n, KG.date, Literal(note.date, datatype=XSD.date)))

    def span(node: URIRef, start: int, end: int) -> None:
        add((node, KG.start, _int(start)))
        add((node, KG.end, _int(end)))

    def place(node: URIRef, section: int | None, snippet: int | None) -> None:
        add((node, KG.note, n))
        if section is not None:
            add((node, KG.section, section_iri(path, section)))
        if snippet is not None:
            add((node, KG.snippet, snippet_iri(path, snippet)))

    for s in note.sections:
        node = section_iri(path, s.index)
        add((node, RDF.type, KG.Section))
        add((node, KG.note, n))
        add((node, KG.heading, _str(s.heading)))
        add((node, KG.headingPath, _str(" / ".join(s.path))))
        add((node, KG.level, _int(s.level)))
        add((node, KG.order, _int(s.index)))
        if s.parent is not None:
            add((node, KG.parentSection, section_iri(path, s.parent)))
        span(node, s.start, s.end)

    for sn in note.snippets:
        node = snippet_iri(path, sn.index)
        add((node, RDF.type, KG.Snippet))
        place(node, sn.section, None)
        add((node, KG.order, _int(sn.index)))
        span(node, sn.start, sn.end)

    for r in note.references:
        node = source_iri(path, r.index)
        add((node, RDF.type, KG.Source))
        place(node, r.section, r.snippet)
        add((node, KG.url, Literal(r.url, datatype=XSD.anyURI)))
        add((node, KG.kind, Literal(r.kind)))
        add((node, KG.order, _int(r.index)))
        add((node, KG.line, _int(r.line)))
        span(node, r.start, r.end)
        if r.title:
            add((node, KG.title, _str(r.title)))

    for i, im in enumerate(note.images):
        node = image_iri(path, i)
        add((node, RDF.type, KG.Image))
        place(node, im.section, im.snippet)
        add((node, KG.url, Literal(im.url, datatype=XSD.anyURI)))
        if im.alt:
            add((node, KG.altText, _str(im.alt)))
        span(node, im.start, im.end)

    if extraction is not None:
        _add_extraction(add, note, extraction)
    return out


def _add_extraction(add, note: Note, ex: Extraction) -> None:
    path = note.path
    n = note_iri(path)
    for e in ex.entities:
        node = entity_iri(e.key)
        add((node, RDF.type, KG.Entity))
        add((node, RDF.type, type_iri(e.type)))
        add((node, KG.key, _str(e.key)))
        add((node, KG.name, _str(e.name)))
        for a in e.aliases:
            add((node, KG.alias, _str(a)))
    for m in ex.mentions:
        node = mention_iri(path, m.start, m.end, m.type)
        ent = entity_iri(m.key)
        add((node, RDF.type, KG.Mention))
        add((node, KG.note, n))
        add((node, KG.mentionOf, ent))
        add((node, KG.text, _str(m.text)))
        add((node, KG.start, _int(m.start)))
        add((node, KG.end, _int(m.end)))
        add((node, KG.method, Literal(m.method)))
        if m.confidence != 1.0:
            add((node, KG.confidence, Literal(float(m.confidence), datatype=XSD.double)))
        sentence = note.text[m.sentence_start:m.sentence_end].strip()
        if sentence:
            add((node, KG.sentence, _str(sentence[:_SENTENCE_MAX])))
        add((n, KG.mentions, ent))
        if m.section is not None:
            add((node, KG.section, section_iri(path, m.section)))
        if m.snippet is not None:
            add((node, KG.snippet, snippet_iri(path, m.snippet)))
            add((snippet_iri(path, m.snippet), KG.mentions, ent))
        if m.reference is not None:
            src = source_iri(path, m.reference)
            add((node, KG.inSource, src))
            add((src, KG.mentions, ent))
    for d in ex.dates:
        node = date_iri(path, d.start, d.end)
        add((node, RDF.type, KG.DateMention))
        add((node, KG.note, n))
        add((node, KG.text, _str(d.text)))
        add((node, KG.start, _int(d.start)))
        add((node, KG.end, _int(d.end)))
        if d.value:
            add((node, KG.value, Literal(d.value)))
        if d.section is not None:
            add((node, KG.section, section_iri(path, d.section)))
        if d.snippet is not None:
            sn = snippet_iri(path, d.snippet)
            add((node, KG.snippet, sn))
            add((node, KG.dateOf, sn))
            add((sn, KG.mentionsDate, node))
        for key in d.events:
            ev = entity_iri(key)
            add((node, KG.dateOf, ev))
            add((ev, KG.mentionsDate, node))
