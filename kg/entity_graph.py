"""The entities graph (:data:`kg.vocab.ENTITIES_GRAPH`): one copy of each entity's facts, kept by the build.

A note's graph says which entities the note names (``<note> kg:mentions <entity>``) and the aliases it
gives them (``<entity> kg:noteAlias "..."``); the entities graph holds, for every entity some note names,
its types, key, name and the aliases of all those notes (:func:`kg.rdf.entity_triples`).  So
``SELECT ?n WHERE { ?e a kg:Person ; kg:name ?n }`` answers each person once.

:class:`EntityGraph` keeps it as a build writes notes:

* a build that writes every note of the generation (the first, or one that rewrites them all) writes the
  graph from the extractions it has at hand, reading nothing back;
* a build that changes a few notes first notes the entities their graphs name (:meth:`EntityGraph.forget`,
  before they are replaced or removed), then recomputes those and the ones the new graphs name from what
  the notes' graphs say once written, and patches the graph: an entity no note names any more is gone, an
  alias no note gives any more too;
* otherwise (many changed notes, a SPARQL server) the graph is recomputed from every note graph.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pyoxigraph as ox

from kg.model import Entity, Extraction
from kg.rdf import entity_triples, merge_entities
from kg.store import to_oxigraph
from kg.vocab import ENTITIES_GRAPH, entity_iri, entity_key_of, note_graph

__all__ = ["EntityGraph", "entities_from_rows", "entities_graph_triples"]

# (entity, note graph, alias the note gives it): the entities the notes name, from their graphs
_Q_NAMED = """
SELECT ?e ?g ?a WHERE { GRAPH ?g { ?n a kg:Note ; kg:mentions ?e . OPTIONAL { ?e kg:noteAlias ?a } } }"""
_Q_NOTE_NAMES = "SELECT ?g ?e WHERE { GRAPH ?g { ?n a kg:Note ; kg:mentions ?e } }"


def entities_from_rows(rows: Iterable[tuple[str, str | None]]) -> dict[str, Entity]:
    """Entity records (by key) from (entity IRI, alias or None) rows: the type and name come from the key.

    >>> entities_from_rows([(str(entity_iri("Person/A")), "a"), (str(entity_iri("Person/A")), None)])
    {'Person/A': Entity(key='Person/A', type='Person', name='A', aliases=('a',))}
    """
    found = []
    for e, alias in rows:
        key = entity_key_of(e)
        type_, _, name = key.partition("/")
        found.append(Entity(key, type_, name, (alias,) if alias else ()))
    return merge_entities(found)


class EntityGraph:
    """The entities graph of the generation a build writes (see the module's docstring).

    ``fresh``: the generation holds no note graph but those this build writes (nothing to read back).
    """

    SMALL = 200  # changed notes up to which the graph is patched rather than recomputed

    def __init__(self, writer: Any, *, fresh: bool):
        self.writer = writer
        self.fresh = fresh
        self.by_note: dict[str, tuple[Entity, ...]] = {}
        self.old: set[str] | None = set()  # entity IRIs the replaced and removed notes named; None: recompute

    def forget(self, paths: Iterable[str]) -> None:
        """Before the graphs of the notes ``paths`` are replaced or removed: note the entities they name."""
        paths = sorted(set(paths))
        if self.fresh or self.old is None or not paths:
            return
        if not self.writer.local or len(paths) > self.SMALL:
            self.old = None
            return
        for path in paths:
            for r in self.writer.select(_Q_NOTE_NAMES, {"g": note_graph(path)}):
                self.old.add(str(r["e"]))

    def add(self, path: str, extraction: Extraction | None) -> None:
        """The entities the new graph of the note ``path`` names (none for ``None``)."""
        self.by_note[path] = extraction.entities if extraction is not None else ()

    def write(self) -> int:
        """Bring the entities graph up to date once every note graph is written; the number of entities
        recomputed."""
        w, graph = self.writer, str(ENTITIES_GRAPH)
        if self.fresh:
            ents = merge_entities(e for found in self.by_note.values() for e in found)
            w.replace_graph(graph, entity_triples(ents.values()))
            return len(ents)
        if self.old is None:
            rows = [(str(r["e"]), r.get("a")) for r in w.select(_Q_NAMED)]
            ents = entities_from_rows(rows)
            w.replace_graph(graph, entity_triples(ents.values()))
            return len(ents)
        wanted = self.old | {str(entity_iri(e.key)) for found in self.by_note.values() for e in found}
        rows = []
        for e in sorted(wanted):
            rows.extend((str(r["e"]), r.get("a")) for r in w.select(_Q_NAMED, {"e": ox.NamedNode(e)}))
        self._patch(wanted, entities_from_rows(rows))
        return len(wanted)

    def _patch(self, wanted: set[str], ents: Mapping[str, Entity]) -> None:
        store = self.writer.oxigraph
        gnode = ox.NamedNode(str(ENTITIES_GRAPH))
        for e in wanted:
            for q in list(store.quads_for_pattern(ox.NamedNode(e), None, None, gnode)):
                store.remove(q)
        quads = [ox.Quad(to_oxigraph(s), to_oxigraph(p), to_oxigraph(o), gnode)
                 for s, p, o in entity_triples(ents.values())]
        if quads:
            self.writer.load(quads)



def entities_graph_triples(extractions: Iterable[Extraction | None]) -> list[tuple]:
    """The entities graph of a generation whose notes' extractions are ``extractions`` (its triples, for
    ``writer.replace_graph(str(ENTITIES_GRAPH), ...)``): what a first build writes."""
    return entity_triples(merge_entities(e for ex in extractions if ex is not None for e in ex.entities).values())
