"""Counts over a built graph: by class and by note."""

from __future__ import annotations

from dataclasses import dataclass

from kg.store import GraphStore

__all__ = ["GraphStats", "compute_stats", "list_entities"]

_BY_CLASS = """
SELECT ?class (COUNT(DISTINCT ?s) AS ?n) WHERE {
  ?s a ?class .
  FILTER(STRSTARTS(STR(?class), "https://w3id.org/kg/ns#"))
} GROUP BY ?class ORDER BY ?class
"""

_BY_NOTE = """
SELECT ?path (COALESCE(?ns, 0) AS ?sections) (COALESCE(?nr, 0) AS ?sources)
       (COALESCE(?nm, 0) AS ?mentions) (COALESCE(?ne, 0) AS ?entities)
WHERE {
  ?note a kg:Note ; kg:path ?path .
  OPTIONAL { SELECT ?note (COUNT(?x) AS ?ns) WHERE { ?x a kg:Section ; kg:note ?note } GROUP BY ?note }
  OPTIONAL { SELECT ?note (COUNT(?y) AS ?nr) WHERE { ?y a kg:Source ; kg:note ?note } GROUP BY ?note }
  OPTIONAL { SELECT ?note (COUNT(?z) AS ?nm) (COUNT(DISTINCT ?e) AS ?ne)
             WHERE { ?z a kg:Mention ; kg:note ?note ; kg:mentionOf ?e } GROUP BY ?note }
} ORDER BY ?path
"""


@dataclass
class GraphStats:
    by_class: dict[str, int]
    by_note: list[dict[str, int | str]]
    triples: int
    generation: str

    def as_dict(self) -> dict:
        return {"triples": self.triples, "generation": self.generation, "by_class": self.by_class,
                "by_note": self.by_note}


def compute_stats(store: GraphStore, per_note: bool = True) -> GraphStats:
    by_class = {str(r["class"]).rsplit("#", 1)[-1]: int(r["n"]) for r in store.select(_BY_CLASS)}
    by_note = store.select(_BY_NOTE) if per_note else []
    triples = store.select("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")[0]["n"]
    return GraphStats(by_class, by_note, int(triples), store.generation())


# Each entity's facts stand once (in the entities graph): the natural pattern answers each entity once.
_ENTITIES = """
SELECT ?type ?name (GROUP_CONCAT(DISTINCT ?alias; SEPARATOR="\\u001f") AS ?aliases)
       (GROUP_CONCAT(DISTINCT ?path; SEPARATOR="\\u001f") AS ?notes)
WHERE {
  ?e a kg:Entity ; a ?class ; kg:name ?name .
  FILTER(?class != kg:Entity && STRSTARTS(STR(?class), "https://w3id.org/kg/ns#"))
  BIND(STRAFTER(STR(?class), "#") AS ?type)
  OPTIONAL { ?e kg:alias ?alias }
  OPTIONAL { ?m kg:mentionOf ?e ; kg:note ?n . ?n kg:path ?path }
} GROUP BY ?e ?type ?name ORDER BY ?type ?name
"""


def list_entities(store: GraphStore) -> list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
    """Every entity as ``(type, name, aliases, note paths)``."""
    out = []
    for r in store.select(_ENTITIES):
        aliases = tuple(a for a in (r["aliases"] or "").split("\u001f") if a)
        notes = tuple(n for n in (r["notes"] or "").split("\u001f") if n)
        out.append((r["type"], r["name"], aliases, notes))
    return out
