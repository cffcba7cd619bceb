"""The kg vocabulary (``schemas/kg.ttl``) as an rdflib ``DefinedNamespace``, and the IRI scheme.

Every IRI kg mints comes from :func:`note_iri`, :func:`entity_iri` and friends,
so that building the same notes twice gives the same IRIs.
"""

from __future__ import annotations

from functools import lru_cache

from urllib.parse import quote

from rdflib import Namespace, URIRef
from rdflib.namespace import DefinedNamespace

__all__ = [
    "KG",
    "KGID",
    "SCHEMA",
    "PROV",
    "OA",
    "OA_NS",
    "SENTENCE_MAX",
    "sentence_iri",
    "method_iri",
    "method_name",
    "char_span",
    "sentence_of",
    "storable_text",
    "LINKS_GRAPH",
    "META_GRAPH",
    "ENTITIES_GRAPH",
    "GRAPH_LAYOUT",
    "entity_key_of",
    "note_iri",
    "note_graph",
    "section_iri",
    "snippet_iri",
    "source_iri",
    "image_iri",
    "mention_iri",
    "date_iri",
    "entity_iri",
    "coverage_iri",
    "relatedness_iri",
    "type_iri",
]

KG_NS = "https://w3id.org/kg/ns#"
ID_NS = "https://w3id.org/kg/id/"


class KG(DefinedNamespace):
    """Classes and properties of the kg ontology."""

    _NS = Namespace(KG_NS)
    _fail = True

    # classes
    Note: URIRef
    Section: URIRef
    Snippet: URIRef
    Source: URIRef
    Image: URIRef
    Mention: URIRef
    DateMention: URIRef
    Entity: URIRef
    Person: URIRef
    Event: URIRef
    Paper: URIRef
    Place: URIRef
    Organization: URIRef
    Technology: URIRef
    Coverage: URIRef
    Relatedness: URIRef

    # notes and their parts
    content: URIRef
    path: URIRef
    sha256: URIRef
    title: URIRef
    category: URIRef
    date: URIRef
    length: URIRef
    note: URIRef
    section: URIRef
    snippet: URIRef
    parentSection: URIRef
    heading: URIRef
    headingPath: URIRef
    level: URIRef
    order: URIRef
    start: URIRef
    end: URIRef
    line: URIRef
    url: URIRef
    kind: URIRef
    altText: URIRef
    titleStart: URIRef
    context: URIRef
    contextStart: URIRef
    contextEnd: URIRef

    # mentions and entities
    text: URIRef
    sentence: URIRef
    method: URIRef
    confidence: URIRef
    occurrences: URIRef
    mentionOf: URIRef
    mentions: URIRef
    inSource: URIRef
    name: URIRef
    alias: URIRef
    noteAlias: URIRef
    key: URIRef
    value: URIRef
    dateOf: URIRef

    # links
    source: URIRef
    entity: URIRef
    score: URIRef
    direct: URIRef
    evidence: URIRef
    justification: URIRef
    via: URIRef
    fromEntity: URIRef
    toEntity: URIRef
    weight: URIRef
    rankFrom: URIRef
    rankTo: URIRef
    pagerank: URIRef
    community: URIRef
    degree: URIRef

    # build metadata
    layout: URIRef


KGID = Namespace(ID_NS)
SCHEMA = Namespace("https://schema.org/")
PROV = Namespace("http://www.w3.org/ns/prov#")
#: W3C Web Annotation: a mention is a text position and quote selector (oa:start, oa:end, oa:exact)
OA_NS = "http://www.w3.org/ns/oa#"
OA = Namespace(OA_NS)
#: the characters of a sentence a mention's evidence shows (:func:`sentence_of`)
SENTENCE_MAX = 400

#: named graph holding what the link pass computes
LINKS_GRAPH = URIRef(ID_NS + "graph/links")
#: named graph holding build metadata
META_GRAPH = URIRef(ID_NS + "graph/meta")
#: named graph holding one copy of each entity's facts (type, key, name, aliases), kept by the build
ENTITIES_GRAPH = URIRef(ID_NS + "graph/entities")

#: The layout of the graphs a build writes (recorded in the meta graph as ``kg:layout``): a store written in
#: another layout is rebuilt by ``kg build`` and refused by the readers (kg.store.check_layout).
#: 3: each entity's facts once, in ENTITIES_GRAPH; a note's graph holds its mentions and kg:noteAlias
#: 4: mentions as Web Annotation selectors (oa:exact, oa:start, oa:end), a sentence as a span of the note's
#: text (kg:content), links without their shortcut triples, methods as IRIs (kg.vocab.method_iri)
#: 6: one kg:Relatedness per pair of entities (ends in IRI order), with kg:rankFrom and kg:rankTo, no kg:rank
GRAPH_LAYOUT = "6"

_SAFE = "/-_.~"


@lru_cache(maxsize=1 << 16)
def _q(text: str) -> str:
    return quote(text, safe=_SAFE)


@lru_cache(maxsize=1 << 16)
def note_iri(path: str) -> URIRef:
    """IRI of a note, from its path relative to the folder it was read from.

    >>> note_iri("2015-1-4-misc.markdown")
    rdflib.term.URIRef('https://w3id.org/kg/id/note/2015-1-4-misc.markdown')
    """
    return URIRef(f"{ID_NS}note/{_q(path)}")


def note_graph(path: str) -> URIRef:
    """The named graph that holds everything built from one note."""
    return URIRef(f"{ID_NS}graph/note/{_q(path)}")


@lru_cache(maxsize=1 << 16)
def section_iri(path: str, index: int) -> URIRef:
    return URIRef(f"{note_iri(path)}#section-{index}")


@lru_cache(maxsize=1 << 16)
def snippet_iri(path: str, index: int) -> URIRef:
    return URIRef(f"{note_iri(path)}#snippet-{index}")


@lru_cache(maxsize=1 << 16)
def source_iri(path: str, index: int) -> URIRef:
    return URIRef(f"{note_iri(path)}#source-{index}")


def image_iri(path: str, index: int) -> URIRef:
    return URIRef(f"{note_iri(path)}#image-{index}")


def mention_iri(path: str, start: int, end: int, type_: str) -> URIRef:
    return URIRef(f"{note_iri(path)}#mention-{start}-{end}-{type_}")


_METHOD_NS = ID_NS + "method/"


@lru_cache(maxsize=1 << 10)
def method_iri(name: str) -> URIRef:
    """The IRI of a method (an extraction component, a link pass's measure): one term the records share.

    >>> method_iri("adamic-adar/cosine:snippet+source")
    rdflib.term.URIRef('https://w3id.org/kg/id/method/adamic-adar%2Fcosine%3Asnippet%2Bsource')
    """
    return URIRef(_METHOD_NS + quote(name, safe="-_.~"))


def method_name(value: str | None) -> str | None:
    """A method's name from its IRI (:func:`method_iri`); any other value as it is.

    >>> method_name(str(method_iri("ner:en_core_web_sm")))
    'ner:en_core_web_sm'
    """
    if value is None or not str(value).startswith(_METHOD_NS):
        return value
    from urllib.parse import unquote

    return unquote(str(value)[len(_METHOD_NS):])


def sentence_iri(path: str, start: int, end: int) -> URIRef:
    """A span of a note's text as an IRI: the note's IRI with an RFC 5147 fragment (``#char=start,end``).

    >>> sentence_iri("n.md", 3, 10)
    rdflib.term.URIRef('https://w3id.org/kg/id/note/n.md#char=3,10')
    """
    return URIRef(f"{note_iri(path)}#char={start},{end}")


def char_span(iri: str) -> tuple[str, int, int] | None:
    """(note IRI, start, end) of an IRI made by :func:`sentence_iri`; None for another IRI.

    >>> char_span("https://w3id.org/kg/id/note/n.md#char=3,10")
    ('https://w3id.org/kg/id/note/n.md', 3, 10)
    """
    note, sep, frag = str(iri).partition("#char=")
    a, comma, b = frag.partition(",")
    if not sep or not comma or not a.isdigit() or not b.isdigit():
        return None
    return note, int(a), int(b)


def sentence_of(text: str | None, iri: str | None) -> str | None:
    """The sentence a mention's ``kg:sentence`` (an IRI of :func:`sentence_iri`) stands for, in the note's
    text (its ``kg:content``): stripped, at most :data:`SENTENCE_MAX` characters; None without either."""
    span = char_span(iri) if iri else None
    if span is None or text is None:
        return None
    return text[span[1]:span[2]].strip()[:SENTENCE_MAX] or None


def storable_text(text: str) -> str:
    """``text`` as a store holds it: a lone surrogate (which cannot be stored or serialised) becomes "?", the
    rest stays (every string literal of a note's graph is written so).

    >>> storable_text("a\\udc80b")
    'a?b'
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def date_iri(path: str, start: int, end: int) -> URIRef:
    return URIRef(f"{note_iri(path)}#date-{start}-{end}")


@lru_cache(maxsize=1 << 16)
def entity_iri(key: str) -> URIRef:
    """IRI of an entity from its key (``Type/name``).

    >>> entity_iri("Person/池田成彬")
    rdflib.term.URIRef('https://w3id.org/kg/id/entity/Person/%E6%B1%A0%E7%94%B0%E6%88%90%E5%BD%AC')
    """
    return URIRef(f"{ID_NS}entity/{_q(key)}")


def entity_key_of(iri: str) -> str:
    """The key of an entity from its IRI (the inverse of :func:`entity_iri`).

    >>> entity_key_of(entity_iri("Person/池田成彬"))
    'Person/池田成彬'
    """
    from urllib.parse import unquote

    return unquote(str(iri)[len(ID_NS) + len("entity/"):])


def coverage_iri(source: str, entity: str) -> URIRef:
    """IRI of the coverage of an entity by a source (both given as IRIs)."""
    import hashlib

    digest = hashlib.sha1(f"{source} {entity}".encode()).hexdigest()[:16]
    return URIRef(f"{ID_NS}coverage/{digest}")


def relatedness_iri(a: str, b: str, method: str) -> URIRef:
    import hashlib

    digest = hashlib.sha1(f"{a} {b} {method}".encode()).hexdigest()[:16]
    return URIRef(f"{ID_NS}related/{digest}")


def type_iri(type_: str) -> URIRef:
    """The class IRI for an entity type name (``"Person"`` → ``kg:Person``)."""
    return URIRef(KG_NS + type_)
