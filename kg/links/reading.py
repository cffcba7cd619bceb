"""Reading the link input: from a store through SPARQL (:func:`load_link_input` through any ``select``;
:func:`read_note_parts`, note by note, from a pyoxigraph store), or from a note's triples
(:func:`part_from_triples`; a build makes the same part from the note itself, :mod:`kg.links.notepart`); and
putting note parts together into one :class:`LinkInput` (:class:`Assembly`, :func:`input_from_parts`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import pyoxigraph as ox

from kg.links.records import (
    EntityInfo,
    LinkInput,
    MentionInfo,
    SectionInfo,
    SnippetInfo,
    SourceInfo,
)
from kg.model import ENTITY_TYPES
from kg.parallel import WorkingSet
from kg.store import select_tuples
from kg.vocab import ENTITIES_GRAPH, KG_NS, OA_NS, sentence_of

# A note's graph names its entities (kg:mentions) and the aliases it gives them (kg:noteAlias); their
# facts stand once in the entities graph.  Patterns are matched inside one note graph (GRAPH ?g), so that
# a note's part holds what that note says.
_Q_ENTITIES = """
SELECT DISTINCT ?e ?key ?name ?cls WHERE { GRAPH ?g { ?n a kg:Note ; kg:mentions ?e . }
  GRAPH <%s> { VALUES ?cls { %s } ?e a ?cls ; kg:key ?key ; kg:name ?name . }
}""" % (ENTITIES_GRAPH, " ".join("kg:" + t for t in ENTITY_TYPES))
_Q_ALIASES = "SELECT DISTINCT ?e ?alias WHERE { GRAPH ?g { ?e kg:noteAlias ?alias } }"
_Q_NOTES = "SELECT ?n ?path WHERE { GRAPH ?g { ?n a kg:Note ; kg:path ?path } }"
_Q_TEXTS = "SELECT ?n ?content WHERE { GRAPH ?g { ?n a kg:Note ; kg:content ?content } }"
# a mention's sentence is a span of its note's text (kg.vocab.sentence_of)
_Q_MENTIONS = """
SELECT ?m ?e ?n ?start ?end ?text ?sentence ?section ?snippet ?source WHERE { GRAPH ?g {
  ?m a kg:Mention ; kg:mentionOf ?e ; kg:note ?n ; oa:start ?start ; oa:end ?end ; oa:exact ?text .
  OPTIONAL { ?m kg:sentence ?span BIND(STR(?span) AS ?sentence) }  # (a string: CSV quotes its comma)
  OPTIONAL { ?m kg:section ?section }
  OPTIONAL { ?m kg:snippet ?snippet }
  OPTIONAL { ?m kg:inSource ?source }
} }"""
_Q_SOURCES = """
SELECT ?s ?n ?url ?title ?section ?snippet ?cs ?ce WHERE { GRAPH ?g {
  ?s a kg:Source ; kg:note ?n ; kg:url ?url .
  OPTIONAL { ?s kg:title ?title }
  OPTIONAL { ?s kg:section ?section }
  OPTIONAL { ?s kg:snippet ?snippet }
  OPTIONAL { ?s kg:contextStart ?cs ; kg:contextEnd ?ce }
} }"""
_Q_SECTIONS = """
SELECT ?s ?n ?heading ?hpath ?level ?parent WHERE { GRAPH ?g {
  ?s a kg:Section ; kg:note ?n ; kg:heading ?heading ; kg:headingPath ?hpath ; kg:level ?level .
  OPTIONAL { ?s kg:parentSection ?parent }
} }"""
_Q_SNIPPETS = """
SELECT ?s ?n ?section WHERE { GRAPH ?g {
  ?s a kg:Snippet ; kg:note ?n .
  OPTIONAL { ?s kg:section ?section }
} }"""


def load_link_input(select: Callable[..., list[dict[str, Any]]]) -> LinkInput:
    """Read what the link pass needs through a store's ``select(sparql, bindings=None)``.

    Everything comes back sorted by IRI, so the same store gives the same input.
    """
    notes = {r["n"]: r["path"] for r in select(_Q_NOTES)}

    def path(n: str) -> str:
        return notes.get(n, n)

    aliases: dict[str, set[str]] = defaultdict(set)
    for r in select(_Q_ALIASES):
        aliases[r["e"]].add(r["alias"])
    ents: dict[str, EntityInfo] = {}
    for r in sorted(select(_Q_ENTITIES), key=lambda r: (r["e"], r["cls"])):
        if r["e"] in ents:
            continue
        ents[r["e"]] = EntityInfo(r["e"], r["key"], r["cls"].rsplit("#", 1)[-1], r["name"],
                                  tuple(sorted(aliases.get(r["e"], ()))))
    texts = {r["n"]: r["content"] for r in select(_Q_TEXTS)}
    mentions = {}
    for r in select(_Q_MENTIONS):
        mentions[r["m"]] = MentionInfo(r["m"], r["e"], path(r["n"]), int(r["start"]), int(r["end"]), r["text"],
                                       sentence_of(texts.get(r["n"]), r.get("sentence")) or "", r.get("section"),
                                       r.get("snippet"), r.get("source"))
    sources = {}
    for r in select(_Q_SOURCES):
        sources[r["s"]] = SourceInfo(r["s"], path(r["n"]), r["url"], r.get("title"), r.get("section"),
                                     r.get("snippet"), _opt_int(r.get("cs")), _opt_int(r.get("ce")))
    sections = {}
    for r in select(_Q_SECTIONS):
        sections[r["s"]] = SectionInfo(r["s"], path(r["n"]), r["heading"], r["hpath"], int(r["level"]),
                                       r.get("parent"))
    snippets = {}
    for r in select(_Q_SNIPPETS):
        snippets[r["s"]] = SnippetInfo(r["s"], path(r["n"]), r.get("section"))
    return LinkInput(
        entities=tuple(ents[k] for k in sorted(ents)),
        mentions=tuple(sorted(mentions.values(), key=lambda m: (m.note, m.start, m.end, m.iri))),
        sources=tuple(sources[k] for k in sorted(sources)),
        sections=tuple(sections[k] for k in sorted(sections)),
        snippets=tuple(snippets[k] for k in sorted(snippets)),
        notes=tuple(sorted(notes.items())),
    )


def _opt_int(x: Any) -> int | None:
    return None if x is None or x == "" else int(x)



def _rows(store: ox.Store, sparql: str, graph: str | None = None) -> Iterator[list[str]]:
    """The rows of one of the queries above with ``?g`` first (:func:`_by_graph`), on a pyoxigraph store
    (the union of its graphs; with ``graph``, ``?g`` bound to it), as lists of strings, "" for unbound."""
    return select_tuples(store, _by_graph(sparql), {"g": ox.NamedNode(graph)} if graph else None, text=True)


def _by_graph(sparql: str) -> str:
    """One of the queries above with ``?g`` (the note graph) first in its rows."""
    return sparql.replace("SELECT DISTINCT ", "SELECT DISTINCT ?g ").replace("SELECT ?", "SELECT ?g ?", 1)


def note_paths(store: ox.Store) -> set[str]:
    """The paths of the notes a pyoxigraph store holds."""
    return {path for _, _, path in _rows(store, _Q_NOTES)}


def read_note_parts(store, graphs: Iterable[str] | None = None) -> dict[str, dict[str, list]]:
    """The link input of each note graph of a pyoxigraph ``Store``, by note path (all note graphs, or ``graphs``).

    Each part holds plain tuples (the fields of :class:`EntityInfo`, :class:`MentionInfo`, ...) and
    ``note``: the note's IRI.  :func:`input_from_parts` puts parts together into a :class:`LinkInput`.
    """
    out: dict[str, dict[str, list]] = {}
    for g in (sorted(graphs) if graphs is not None else [None]):
        by_graph: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        paths: dict[str, str] = {}
        for gr, n, path in _rows(store, _Q_NOTES, g):
            paths[n] = path
            by_graph[gr]["note"] = [n, path]
        texts = {n: content for _, n, content in _rows(store, _Q_TEXTS, g)}
        for gr, e, key, name, cls in _rows(store, _Q_ENTITIES, g):
            by_graph[gr]["entities"].append((e, key, cls.rsplit("#", 1)[-1], name))
        for gr, e, alias in _rows(store, _Q_ALIASES, g):
            by_graph[gr]["aliases"].append((e, alias))
        for gr, m, e, n, start, end, text, sentence, section, snippet, source in _rows(store, _Q_MENTIONS, g):
            by_graph[gr]["mentions"].append((m, e, paths.get(n, n), int(start), int(end), text,
                                             sentence_of(texts.get(n), sentence) or "",
                                             section or None, snippet or None, source or None))
        for gr, s, n, url, title, section, snippet, cs, ce in _rows(store, _Q_SOURCES, g):
            by_graph[gr]["sources"].append((s, paths.get(n, n), url, title or None, section or None, snippet or None,
                                            _opt_int(cs), _opt_int(ce)))
        for gr, s, n, heading, hpath, level, parent in _rows(store, _Q_SECTIONS, g):
            by_graph[gr]["sections"].append((s, paths.get(n, n), heading, hpath, int(level), parent or None))
        for gr, s, n, section in _rows(store, _Q_SNIPPETS, g):
            by_graph[gr]["snippets"].append((s, paths.get(n, n), section or None))
        for gr, part in by_graph.items():
            if part.get("note"):
                out[part["note"][1]] = dict(part)
    return out


_CLASSES = frozenset(KG_NS + c for c in ENTITY_TYPES)
_RDF_TYPE_IRI = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_OA_START, _OA_END, _OA_EXACT = OA_NS + "start", OA_NS + "end", OA_NS + "exact"


def part_from_triples(triples: Iterable[tuple]) -> dict[str, list]:
    """The link input of one note graph from its triples (what :func:`read_note_parts` reads back from a
    store for that graph), for a build that has the triples at hand: no round trip through the store.

    Terms are compared as strings (rdflib terms and plain strings both work); the rows are those of the
    ``_Q_*`` queries above.
    """
    props: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for s_, p_, o_ in triples:
        props[str(s_)][str(p_)].append(o_)
    k = KG_NS
    typ, key_, name_, alias_, path_ = _RDF_TYPE_IRI, k + "key", k + "name", k + "alias", k + "path"
    note_, section_, snippet_ = k + "note", k + "section", k + "snippet"
    part: dict[str, list] = defaultdict(list)
    paths: dict[str, str] = {}
    contents: dict[str, str] = {}  # a note's text, made a str once (not once per mention: it is the whole note)
    for subj, ps in props.items():
        types = {str(t) for t in ps.get(typ, ())}
        if k + "Note" in types and ps.get(path_):
            paths[subj] = str(ps[path_][0])
            part["note"] = [subj, paths[subj]]
            if ps.get(k + "content"):
                contents[subj] = str(ps[k + "content"][0])
    for subj, ps in props.items():
        types = {str(t) for t in ps.get(typ, ())}
        if not types:
            continue
        first = {p_: vs[0] for p_, vs in ps.items()}
        opt = (lambda p_: str(first[p_]) if p_ in first else None)
        for cls in sorted(types & _CLASSES):
            if key_ in first and name_ in first:
                part["entities"].append((subj, str(first[key_]), cls.rsplit("#", 1)[-1], str(first[name_])))
        for a in sorted({str(a) for a in ps.get(alias_, ())}):
            part["aliases"].append((subj, a))
        if note_ not in first:
            continue
        note = str(first[note_])
        path = paths.get(note, note)
        if k + "Mention" in types:
            need = (k + "mentionOf", _OA_START, _OA_END, _OA_EXACT)
            if all(p_ in first for p_ in need):
                sentence = sentence_of(contents.get(note), opt(k + "sentence"))
                part["mentions"].append((subj, str(first[k + "mentionOf"]), path, int(first[_OA_START]),
                                         int(first[_OA_END]), str(first[_OA_EXACT]),
                                         sentence or "", opt(section_), opt(snippet_),
                                         opt(k + "inSource")))
        if k + "Source" in types and k + "url" in first:
            part["sources"].append((subj, path, str(first[k + "url"]), opt(k + "title") or None, opt(section_),
                                    opt(snippet_), _opt_int(opt(k + "contextStart")), _opt_int(opt(k + "contextEnd"))))
        if k + "Section" in types and all(p_ in first for p_ in (k + "heading", k + "headingPath", k + "level")):
            part["sections"].append((subj, path, str(first[k + "heading"]), str(first[k + "headingPath"]),
                                     int(first[k + "level"]), opt(k + "parentSection")))
        if k + "Snippet" in types:
            part["snippets"].append((subj, path, opt(section_)))
    return dict(part)


class Assembly(WorkingSet):
    """Note parts put together, note by note (an incremental pass assembles the unchanged notes while the
    changed ones are still being extracted, then adds those)."""

    def __init__(self, parts: Iterable[Mapping[str, list]] = ()):
        self.ents: dict[str, tuple] = {}
        self.aliases: dict[str, set[str]] = defaultdict(set)
        self.mentions: dict[str, MentionInfo] = {}
        self.sources: dict[str, SourceInfo] = {}
        self.sections: dict[str, SectionInfo] = {}
        self.snippets: dict[str, SnippetInfo] = {}
        self.notes: list[tuple] = []
        for part in parts:
            self.add(part)

    def add(self, part: Mapping[str, list]) -> None:
        self.notes.append(tuple(part["note"]))
        ents = self.ents
        for t in part.get("entities", ()):
            prev = ents.get(t[0])
            if prev is None or (t[2], t[1], t[3]) < (prev[2], prev[1], prev[3]):
                ents[t[0]] = t
        for e, a in part.get("aliases", ()):
            self.aliases[e].add(a)
        for kind, into, cls in (("mentions", self.mentions, MentionInfo), ("sources", self.sources, SourceInfo),
                                ("sections", self.sections, SectionInfo), ("snippets", self.snippets, SnippetInfo)):
            for t in part.get(kind, ()):
                into[t[0]] = t if type(t) is cls else cls(*t)  # (a part made from a note holds records)

    def input(self) -> LinkInput:
        return LinkInput(
            entities=tuple(EntityInfo(*self.ents[k], tuple(sorted(self.aliases.get(k, ())))) for k in sorted(self.ents)),
            mentions=tuple(sorted(self.mentions.values(), key=lambda m: (m.note, m.start, m.end, m.iri))),
            sources=tuple(self.sources[k] for k in sorted(self.sources)),
            sections=tuple(self.sections[k] for k in sorted(self.sections)),
            snippets=tuple(self.snippets[k] for k in sorted(self.snippets)),
            notes=tuple(sorted(self.notes)),
        )


def input_from_parts(parts: Mapping[str, Mapping[str, list]]) -> LinkInput:
    """One :class:`LinkInput` from note parts, sorted as :func:`load_link_input` sorts."""
    return Assembly(parts[path] for path in sorted(parts)).input()
