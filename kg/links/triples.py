"""The links named graph in RDF (following ``schemas/kg.ttl``): as rdflib triples (:func:`link_triples`), and
as N-Quads text (:class:`LinkText`), which Oxigraph parses and writes without holding the GIL.

A record holds what answers questions, once: a coverage its source, entity, score, kind, method (an IRI),
justification, evidence (mention IRIs) and shared neighbours; a relatedness, one per pair of entities, its ends
(in IRI order), weight, method, evidence and each end's rank of the other (``kg:rankFrom``: ``kg:toEntity``'s
rank among ``kg:fromEntity``'s related; ``kg:rankTo`` the other way; absent when not in that top-k).  No shortcut triples derived from them (``kg:covers``, ``kg:coverage``, ``kg:relatedTo``,
``kg:relatedness``): ``?c kg:source ?s ; kg:entity ?e`` and ``?r kg:fromEntity ?a ; kg:toEntity ?b ; kg:rankFrom ?k``
(with its mirror ``?r kg:toEntity ?a ; kg:fromEntity ?b ; kg:rankTo ?k``) ask."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import pyoxigraph as ox
from rdflib import RDF, XSD, Literal, URIRef

from kg.links.records import Coverage, EntityStats, LinkResult, RelatedPair
from kg.store.nquads import string_literal
from kg.vocab import KG, KG_NS, coverage_iri, method_iri, relatedness_iri

_RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_XSD_NS = "http://www.w3.org/2001/XMLSchema#"


def link_triples(result: LinkResult) -> Iterable[tuple]:
    """The triples of the links named graph (rdflib terms), following ``schemas/kg.ttl``.

    >>> r = LinkResult(coverages=(Coverage("https://x/s", "https://x/e", 1.5, True, "m", "why", ("https://x/m",)),))
    >>> len(list(link_triples(r)))
    8
    """
    def dbl(x: float) -> Literal:
        return Literal(repr(float(x)), datatype=XSD.double)

    def integer(x: int) -> Literal:
        return Literal(int(x), datatype=XSD.integer)

    for c in result.coverages:
        node = coverage_iri(c.source, c.entity)
        src, ent = URIRef(c.source), URIRef(c.entity)
        yield node, RDF.type, KG.Coverage
        yield node, KG.source, src
        yield node, KG.entity, ent
        yield node, KG.score, dbl(c.score)
        yield node, KG.direct, Literal(c.direct, datatype=XSD.boolean)
        yield node, KG.method, method_iri(c.method)
        yield node, KG.justification, Literal(c.justification)
        for m in c.evidence:
            yield node, KG.evidence, URIRef(m)
        for v in c.via:
            yield node, KG.via, URIRef(v)
    for r in result.related:
        node = relatedness_iri(r.from_entity, r.to_entity, r.method)
        a, b = URIRef(r.from_entity), URIRef(r.to_entity)
        yield node, RDF.type, KG.Relatedness
        yield node, KG.fromEntity, a
        yield node, KG.toEntity, b
        yield node, KG.weight, dbl(r.weight)
        if r.rank_from is not None:
            yield node, KG.rankFrom, integer(r.rank_from)
        if r.rank_to is not None:
            yield node, KG.rankTo, integer(r.rank_to)
        yield node, KG.method, method_iri(r.method)
        for m in r.evidence:
            yield node, KG.evidence, URIRef(m)
    for s in result.stats:
        e = URIRef(s.entity)
        yield e, KG.pagerank, dbl(s.pagerank)
        yield e, KG.community, integer(s.community)
        yield e, KG.degree, integer(s.degree)


class LinkText:
    """The links graph (the triples of :func:`link_triples`) as N-Quads text, which Oxigraph parses and
    writes without holding the GIL; each IRI is checked (as a pyoxigraph term would be), and one that many records
    name is made once."""

    def __init__(self, graph: str):
        self.iris: dict[str, str] = {}
        self.g = f"{self.iri(graph)} .\n"
        self.k = {n: f"<{KG_NS}{n}>" for n in (
            "Coverage", "source", "entity", "score", "direct", "method", "justification",
            "evidence", "via", "Relatedness", "fromEntity", "toEntity", "weight",
            "rankFrom", "rankTo", "pagerank", "community", "degree")}
        self.k["type"] = f"<{_RDF_TYPE}>"
        self.double = f"^^<{_XSD_NS}double>"
        self.integer = f"^^<{_XSD_NS}integer>"
        self.true, self.false = (f'"{b}"^^<{_XSD_NS}boolean>' for b in ("true", "false"))

    def iri(self, x: str) -> str:
        """An IRI that many records name (an entity, a method, the graph), checked and made once."""
        n = self.iris.get(x)
        if n is None:
            n = self.iris[x] = self.own(x)
        return n

    @staticmethod
    def own(x: str) -> str:
        """An IRI of one record or a few (its node, its source, its evidence), checked, not kept."""
        ox.NamedNode(x)  # raises ValueError for what is not an IRI
        return f"<{x}>"

    string = staticmethod(string_literal)

    def coverage(self, c: Coverage) -> str:
        g, k = self.g, self.k
        node = self.own(str(coverage_iri(c.source, c.entity)))
        src, ent = self.own(c.source), self.iri(c.entity)
        return "".join((
            f"{node} {k['type']} {k['Coverage']} {g}",
            f"{node} {k['source']} {src} {g}{node} {k['entity']} {ent} {g}",
            f'{node} {k["score"]} "{float(c.score)!r}"{self.double} {g}',
            f"{node} {k['direct']} {self.true if c.direct else self.false} {g}",
            f"{node} {k['method']} {self.iri(str(method_iri(c.method)))} {g}",
            f"{node} {k['justification']} {self.string(c.justification)} {g}",
            *(f"{node} {k['evidence']} {self.own(m)} {g}" for m in c.evidence),
            *(f"{node} {k['via']} {self.iri(v)} {g}" for v in c.via)))

    def related(self, r: RelatedPair) -> str:
        g, k = self.g, self.k
        node = self.own(str(relatedness_iri(r.from_entity, r.to_entity, r.method)))
        a, b = self.iri(r.from_entity), self.iri(r.to_entity)
        return "".join((
            f"{node} {k['type']} {k['Relatedness']} {g}",
            f"{node} {k['fromEntity']} {a} {g}{node} {k['toEntity']} {b} {g}",
            f'{node} {k["weight"]} "{float(r.weight)!r}"{self.double} {g}',
            *((f'{node} {k["rankFrom"]} "{int(r.rank_from)}"{self.integer} {g}',) if r.rank_from is not None else ()),
            *((f'{node} {k["rankTo"]} "{int(r.rank_to)}"{self.integer} {g}',) if r.rank_to is not None else ()),
            f"{node} {k['method']} {self.iri(str(method_iri(r.method)))} {g}",
            *(f"{node} {k['evidence']} {self.own(m)} {g}" for m in r.evidence)))

    def stats(self, s: EntityStats) -> str:
        g, k = self.g, self.k
        e = self.iri(s.entity)
        return (f'{e} {k["pagerank"]} "{float(s.pagerank)!r}"{self.double} {g}'
                f'{e} {k["community"]} "{int(s.community)}"{self.integer} {g}'
                f'{e} {k["degree"]} "{int(s.degree)}"{self.integer} {g}')

    def record(self, x: Coverage | RelatedPair | EntityStats) -> str:
        return self.coverage(x) if type(x) is Coverage else self.related(x) if type(x) is RelatedPair else self.stats(x)

    def text(self, records: Iterable[Coverage | RelatedPair | EntityStats]) -> bytes:
        return "".join(map(self.record, records)).encode("utf-8")

    def batches(self, records: Sequence[Coverage | RelatedPair | EntityStats], size: int = 2_000) -> Iterator[bytes]:
        """The text of ``records`` in pieces of ``size`` records: the first are written while the next are
        made.  (Oxigraph's bulk load holds some 2 KB a quad while it writes a piece: 2,000 records take ~25 MB,
        5,000 took ~60 MB, in the same time.)"""
        for i in range(0, len(records), size):
            yield self.text(records[i:i + size])

    def quads(self, records: Sequence[Coverage | RelatedPair | EntityStats]) -> list[ox.Quad]:
        """pyoxigraph quads of link records (to remove them from a store)."""
        return list(ox.parse(self.text(records), format=ox.RdfFormat.N_QUADS)) if records else []


def link_quads(result: LinkResult, graph: str) -> list:
    """The quads of the links graph ``graph`` as pyoxigraph ``Quad`` objects (the triples of :func:`link_triples`)."""
    text = LinkText(graph).text((*result.coverages, *result.related, *result.stats))
    return list(ox.parse(text, format=ox.RdfFormat.N_QUADS))

