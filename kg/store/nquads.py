"""N-Quads text: the one writer of it, with its one escape table.

A build hands its quads to Oxigraph as N-Quads text where every term allows, because Oxigraph parses and
writes text without holding the GIL.  Each IRI is checked as a pyoxigraph term would be (an IRI N-Quads
could not carry raises :class:`NotText`, and the caller writes pyoxigraph terms instead) and is written
once per cache.

>>> string_literal('say "hi"\\n')
'"say \\\\"hi\\\\"\\\\n"'
>>> from rdflib import Literal, URIRef
>>> triples_text([(URIRef("http://x/a"), URIRef("http://x/p"), Literal("v", lang="en"))], "<http://x/g> .\\n", {})
b'<http://x/a> <http://x/p> "v"@en <http://x/g> .\\n'
"""

from __future__ import annotations

from typing import Any

import pyoxigraph as ox
from rdflib import Literal, URIRef

from kg.store.base import XSD_STRING

__all__ = ["ESCAPE", "NotText", "string_literal", "iri_text", "term_text", "triples_text"]


class NotText(Exception):
    """A term that N-Quads text would not carry as pyoxigraph would (the graph goes as terms instead)."""


#: how a string literal's characters are written: control characters as \\uXXXX, the rest as N-Quads says
ESCAPE = str.maketrans({**{c: f"\\u{c:04X}" for c in (*range(0x20), 0x7F)},
                        **{"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}})


def string_literal(text: str) -> str:
    """A plain string literal (quoted and escaped)."""
    return '"' + text.translate(ESCAPE) + '"'


def iri_text(iri: str, cache: dict) -> str:
    """``<iri>``, checked once per ``cache`` (raises :class:`NotText` for what is not an IRI)."""
    text = cache.get(iri)
    if text is None:
        try:
            ox.NamedNode(iri)  # the same check as for a term: an IRI N-Quads could not carry raises here
        except ValueError:
            raise NotText(iri) from None
        text = cache[iri] = f"<{iri}>"  # (not "<" + iri: rdflib's URIRef + str makes a URIRef)
    return text


def term_text(term: Any, cache: dict) -> str:
    """An rdflib IRI or literal as N-Quads text; anything else (blank nodes, plain values) raises
    :class:`NotText`."""
    kind = type(term)
    if kind is URIRef:
        return iri_text(term, cache)
    if kind is Literal:
        lexical = f'"{str.translate(term, ESCAPE)}"'
        if term.language:
            return lexical + "@" + term.language
        datatype = term.datatype
        if datatype is not None and datatype != XSD_STRING:
            return lexical + "^^" + iri_text(datatype, cache)
        return lexical
    raise NotText(term)


def triples_text(triples: list, graph: str, cache: dict) -> bytes:
    """``triples`` (rdflib IRIs and literals) as N-Quads lines in the graph ``graph`` (its end of line:
    ``"<iri> .\\n"``), UTF-8."""
    out = []
    iri = cache.get
    for s, p, o in triples:
        out.append(f"{iri(s) or term_text(s, cache)} {iri(p) or term_text(p, cache)} "
                   f"{(iri(o) if type(o) is URIRef else None) or term_text(o, cache)} {graph}")
    try:
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        raise NotText("text that is not Unicode") from None
