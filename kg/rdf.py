"""Notes and what was extracted from them → RDF (rdflib), with provenance.

One :class:`rdflib.Graph` per note: the note, its sections, snippets,
sources, images, its text (``kg:content``), the mentions found in it (each a W3C Web Annotation text
position and quote selector, ``oa:start``/``oa:end``/``oa:exact``, with its sentence as a span of the
text: an RFC 5147 ``#char=start,end`` IRI, :func:`kg.vocab.sentence_iri`), the entities it names
(``kg:mentions``) and the aliases it gives them (``kg:noteAlias``).
An entity's own facts (types, key, name, every alias) stand once, in the entities graph
(:data:`kg.vocab.ENTITIES_GRAPH`, :func:`entity_triples`), which the build keeps.  IRIs come from
:mod:`kg.vocab`, so the same notes always give the same graph.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import lru_cache
from types import SimpleNamespace

from rdflib import RDF, XSD, Graph, Literal, URIRef

from kg.model import Entity, Extraction, Note
from kg.vocab import (
    GRAPH_LAYOUT,
    KG,
    OA,
    date_iri,
    entity_iri,
    image_iri,
    mention_iri,
    method_iri,
    note_iri,
    section_iri,
    sentence_iri,
    snippet_iri,
    source_iri,
    storable_text,
    type_iri,
)

__all__ = ["build_note_graph", "note_triples", "iter_note_triples", "entity_triples", "merge_entities", "bind_prefixes",
           "forget_terms",
           "GRAPH_VERSION"]

#: The version of what a note's graph holds beyond extraction (bumped when it changes, so that stores rebuild)
GRAPH_VERSION = GRAPH_LAYOUT  # 2: a source's title offset and context; 3: entities once (kg.vocab.GRAPH_LAYOUT)


def bind_prefixes(graph: Graph) -> Graph:
    graph.bind("kg", str(KG._NS))
    graph.bind("kgid", "https://w3id.org/kg/id/")
    graph.bind("schema", "https://schema.org/")
    graph.bind("prov", "http://www.w3.org/ns/prov#")
    graph.bind("oa", str(OA))
    return graph


@lru_cache(maxsize=1 << 17)
def _int(n: int) -> Literal:
    return Literal(n, datatype=XSD.integer)


@lru_cache(maxsize=1 << 16)
def _str(text: str) -> Literal:
    return Literal(storable_text(text))


#: terms kept (integers, the most numerous) from which :func:`forget_terms` lets go of them
FORGET_FROM = 20_000


def forget_terms() -> None:
    """Let go of the terms kept while notes were turned into triples, once they are many (up to some 10⁵ of
    each kind: a big note's records); a few thousand stay for the next notes.  Called once a note's triples
    are made."""
    if _int.cache_info().currsize < FORGET_FROM:
        return
    for cached in (_int, _str, note_iri, section_iri, snippet_iri, source_iri, entity_iri):
        cached.cache_clear()


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


# the vocabulary terms as plain attributes: DefinedNamespace's attribute lookup costs more than the triple
_K = SimpleNamespace(**{name: getattr(KG, name) for name in (
    "DateMention",
    "Entity",
    "Image",
    "Mention",
    "Note",
    "Section",
    "Snippet",
    "Source",
    "alias",
    "altText",
    "category",
    "confidence",
    "content",
    "context",
    "contextEnd",
    "contextStart",
    "date",
    "dateOf",
    "end",
    "heading",
    "headingPath",
    "inSource",
    "key",
    "kind",
    "length",
    "level",
    "line",
    "mentionOf",
    "mentions",
    "method",
    "name",
    "note",
    "noteAlias",
    "occurrences",
    "order",
    "parentSection",
    "path",
    "section",
    "sentence",
    "sha256",
    "snippet",
    "start",
    "text",
    "title",
    "titleStart",
    "url",
    "value",
)})
_RDF_TYPE = RDF.type
_OA_START, _OA_END, _OA_EXACT = OA.start, OA.end, OA.exact


def note_triples(note: Note, extraction: Extraction | None = None) -> list[tuple[URIRef, URIRef, URIRef | Literal]]:
    """The triples of one note's graph, as a list (no indexing: what a store load wants)."""
    return list(iter_note_triples(note, extraction))


def iter_note_triples(note: Note, extraction: Extraction | None = None) -> Iterator[tuple]:
    """The triples of :func:`note_triples`, in the same order, made as they are read: a big note's graph is
    never all in memory at once."""
    out: list[tuple] = []
    for _ in _note_triples(out.append, note, extraction):  # (a pause after each record)
        yield from out
        out.clear()
    yield from out
    forget_terms()


def _note_triples(add, note: Note, extraction: Extraction | None) -> Iterator[None]:
    path = note.path
    n = note_iri(path)
    add((n, _RDF_TYPE, _K.Note))
    add((n, _K.path, _str(path)))
    add((n, _K.sha256, Literal(note.sha256)))
    add((n, _K.length, _int(len(note.text))))
    add((n, _K.content, _str(note.text)))  # what the spans of its mentions' sentences are read from
    if note.title:
        add((n, _K.title, _str(note.title)))
    if note.category:
        add((n, _K.category, _str(note.category)))
    if note.date:
        add((n, _K.date, Literal(note.date, datatype=XSD.date)))

    def span(node: URIRef, start: int, end: int) -> None:
        add((node, _K.start, _int(start)))
        add((node, _K.end, _int(end)))

    def place(node: URIRef, section: int | None, snippet: int | None) -> None:
        add((node, _K.note, n))
        if section is not None:
            add((node, _K.section, section_iri(path, section)))
        if snippet is not None:
            add((node, _K.snippet, snippet_iri(path, snippet)))

    for s in note.sections:
        node = section_iri(path, s.index)
        add((node, _RDF_TYPE, _K.Section))
        add((node, _K.note, n))
        add((node, _K.heading, _str(s.heading)))
        add((node, _K.headingPath, _str(" / ".join(s.path))))
        add((node, _K.level, _int(s.level)))
        add((node, _K.order, _int(s.index)))
        if s.parent is not None:
            add((node, _K.parentSection, section_iri(path, s.parent)))
        span(node, s.start, s.end)
        yield

    for sn in note.snippets:
        node = snippet_iri(path, sn.index)
        add((node, _RDF_TYPE, _K.Snippet))
        place(node, sn.section, None)
        add((node, _K.order, _int(sn.index)))
        span(node, sn.start, sn.end)
        yield

    for r in note.references:
        node = source_iri(path, r.index)
        add((node, _RDF_TYPE, _K.Source))
        place(node, r.section, r.snippet)
        add((node, _K.url, Literal(r.url, datatype=XSD.anyURI)))
        add((node, _K.kind, Literal(r.kind)))
        add((node, _K.order, _int(r.index)))
        add((node, _K.line, _int(r.line)))
        span(node, r.start, r.end)
        if r.title:
            add((node, _K.title, _str(r.title)))
            if r.title_start is not None:
                add((node, _K.titleStart, _int(r.title_start)))
        if r.context:
            add((node, _K.context, _str(r.context)))
            add((node, _K.contextStart, _int(r.context_start)))
            add((node, _K.contextEnd, _int(r.context_end)))
        yield

    for i, im in enumerate(note.images):
        node = image_iri(path, i)
        add((node, _RDF_TYPE, _K.Image))
        place(node, im.section, im.snippet)
        add((node, _K.url, Literal(im.url, datatype=XSD.anyURI)))
        if im.alt:
            add((node, _K.altText, _str(im.alt)))
        span(node, im.start, im.end)
        yield

    if extraction is not None:
        yield from _add_extraction(add, note, extraction)


def _add_extraction(add, note: Note, ex: Extraction) -> Iterator[None]:
    path = note.path
    n = note_iri(path)
    for e in ex.entities:  # the entity's own facts are the entities graph's (entity_triples)
        node = entity_iri(e.key)
        add((n, _K.mentions, node))
        for a in e.aliases:
            add((node, _K.noteAlias, _str(a)))
    for m in ex.mentions:
        node = mention_iri(path, m.start, m.end, m.type)
        ent = entity_iri(m.key)
        add((node, _RDF_TYPE, _K.Mention))
        add((node, _K.note, n))
        add((node, _K.mentionOf, ent))
        add((node, _OA_EXACT, _str(m.text)))  # a text quote and position selector (W3C Web Annotation)
        add((node, _OA_START, _int(m.start)))
        add((node, _OA_END, _int(m.end)))
        add((node, _K.method, method_iri(m.method)))
        if m.confidence != 1.0:
            add((node, _K.confidence, Literal(float(m.confidence), datatype=XSD.double)))
        if m.count != 1:
            add((node, _K.occurrences, _int(m.count)))
        if note.text[m.sentence_start:m.sentence_end].strip():  # the sentence as a span of the note's text
            add((node, _K.sentence, sentence_iri(path, m.sentence_start, m.sentence_end)))
        add((n, _K.mentions, ent))
        if m.section is not None:
            add((node, _K.section, section_iri(path, m.section)))
        if m.snippet is not None:
            add((node, _K.snippet, snippet_iri(path, m.snippet)))
            add((snippet_iri(path, m.snippet), _K.mentions, ent))
        if m.reference is not None:
            src = source_iri(path, m.reference)
            add((node, _K.inSource, src))
            add((src, _K.mentions, ent))
        yield
    for d in ex.dates:
        node = date_iri(path, d.start, d.end)
        add((node, _RDF_TYPE, _K.DateMention))
        add((node, _K.note, n))
        add((node, _K.text, _str(d.text)))
        add((node, _K.start, _int(d.start)))
        add((node, _K.end, _int(d.end)))
        if d.value:
            add((node, _K.value, Literal(d.value)))
        if d.section is not None:
            add((node, _K.section, section_iri(path, d.section)))
        if d.snippet is not None:
            sn = snippet_iri(path, d.snippet)
            add((node, _K.snippet, sn))
            add((node, _K.dateOf, sn))
        for key in d.events:
            add((node, _K.dateOf, entity_iri(key)))
        yield


def merge_entities(entities: Iterable[Entity]) -> dict[str, Entity]:
    """One record per entity key from the records of several notes: the aliases of them all.

    >>> merge_entities([Entity("Person/A", "Person", "A", ("a",)), Entity("Person/A", "Person", "A", ("b",))])
    {'Person/A': Entity(key='Person/A', type='Person', name='A', aliases=('a', 'b'))}
    """
    aliases: dict[str, set[str]] = {}
    first: dict[str, Entity] = {}
    for e in entities:
        first.setdefault(e.key, e)
        aliases.setdefault(e.key, set()).update(e.aliases)
    return {k: Entity(k, e.type, e.name, tuple(sorted(aliases[k] - {e.name}))) for k, e in sorted(first.items())}


def entity_triples(entities: Iterable[Entity]) -> list[tuple[URIRef, URIRef, URIRef | Literal]]:
    """The facts of entities as the entities graph holds them: types, key, name and aliases (one record
    per entity: merge the records of several notes with :func:`merge_entities` first)."""
    out: list[tuple[URIRef, URIRef, URIRef | Literal]] = []
    add = out.append
    for e in entities:
        node = entity_iri(e.key)
        add((node, _RDF_TYPE, _K.Entity))
        add((node, _RDF_TYPE, type_iri(e.type)))
        add((node, _K.key, _str(e.key)))
        add((node, _K.name, _str(e.name)))
        for a in e.aliases:
            add((node, _K.alias, _str(a)))
    return out
