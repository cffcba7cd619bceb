"""The export formats: one table, ``name → media type, extension, writer``, that ``kg export`` (its
``--format``, help text and error messages) and the server (``/export/{format}``, ``/dump.*``) read.

Two kinds of format:

* ``rdf``: the graph itself, written by the store (``store.dump(name, graph)``, :mod:`kg.store`);
* ``view``: the entity graph as something to look at (:mod:`kg.export`), written by a function
  ``writer(g, details, title, api) -> bytes`` named as ``"module:function"`` and loaded on first use (as
  rdflib's plugins are), so reading the table costs no import of networkx.

A format that is not ``listed`` is accepted but not offered (an alias, or one the server does not serve).
Adding a format: one line in :data:`FORMATS` (and, for a view, its writer), plus a test.

>>> export_format("dot").media_type
'text/vnd.graphviz'
>>> [f.name for f in listed("rdf")]
['ttl', 'nt', 'nq', 'trig', 'jsonld']
>>> export_format("png")
Traceback (most recent call last):
...
kg.errors.ExportError: unknown export format 'png'; use one of ttl, nt, nq, trig, jsonld, graphml, gexf, cytoscape, d3, dot, html
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from kg.errors import ExportError

__all__ = ["RDF", "VIEW", "VIEW_FORMATS", "ExportFormat", "FORMATS", "export_format", "listed", "names_text",
           "view_formats"]

RDF = "rdf"
VIEW = "view"


@dataclass(frozen=True)
class ExportFormat:
    name: str
    media_type: str
    extension: str
    kind: str  # RDF or VIEW
    writer_path: str | None = None  # a view's writer, "module:function"
    listed: bool = True

    def writer(self) -> Callable[..., bytes]:
        """A view's writer: ``writer(g, details, title, api) -> bytes``."""
        if self.writer_path is None:
            raise ExportError(f"{self.name} is written by the store (store.dump), not by a view writer")
        module, name = self.writer_path.split(":")
        return getattr(importlib.import_module(module), name)


#: every export format, in the order help texts and error messages list them
FORMATS: dict[str, ExportFormat] = {f.name: f for f in (
    ExportFormat("ttl", "text/turtle", "ttl", RDF),
    ExportFormat("nt", "application/n-triples", "nt", RDF),
    ExportFormat("nq", "application/n-quads", "nq", RDF),
    ExportFormat("trig", "application/trig", "trig", RDF),
    ExportFormat("jsonld", "application/ld+json", "jsonld", RDF),
    ExportFormat("turtle", "text/turtle", "ttl", RDF, listed=False),
    ExportFormat("xml", "application/rdf+xml", "rdf", RDF, listed=False),
    ExportFormat("graphml", "application/graphml+xml", "graphml", VIEW, "kg.export.writers:write_graphml"),
    ExportFormat("gexf", "application/gexf+xml", "gexf", VIEW, "kg.export.writers:write_gexf"),
    ExportFormat("cytoscape", "application/json", "cyjs", VIEW, "kg.export.writers:write_cytoscape"),
    ExportFormat("d3", "application/json", "json", VIEW, "kg.export.writers:write_d3"),
    ExportFormat("dot", "text/vnd.graphviz", "dot", VIEW, "kg.export.writers:write_dot"),
    ExportFormat("html", "text/html; charset=utf-8", "html", VIEW, "kg.export.html:write_html"),
)}


def listed(kind: str | None = None) -> list[ExportFormat]:
    """The formats offered (of one kind), in table order."""
    return [f for f in FORMATS.values() if f.listed and (kind is None or f.kind == kind)]


def names_text(kind: str | None = None, sep: str = ", ") -> str:
    """The names of the formats offered, joined: ``ttl, nt, ...``."""
    return sep.join(f.name for f in listed(kind))


def export_format(name: str, kind: str | None = None) -> ExportFormat:
    """The format called ``name`` (of ``kind``, if given); an :class:`ExportError` listing the formats
    offered when there is none."""
    found = FORMATS.get(name)
    if found is None or (kind is not None and found.kind != kind):
        raise ExportError(f"unknown export format {name!r}; use one of {names_text(kind)}")
    return found


def view_formats() -> dict[str, tuple[str, str]]:
    """The view formats as ``name → (media type, extension)``."""
    return {f.name: (f.media_type, f.extension) for f in listed(VIEW)}


#: the view formats as ``name → (media type, file extension)``
VIEW_FORMATS: dict[str, tuple[str, str]] = view_formats()
