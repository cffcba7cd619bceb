"""A note's link input straight from the note and its extraction (:func:`part_from_note`): what
:func:`kg.links.part_from_triples` reads from the note's triples (and :func:`kg.links.read_note_parts` from the
store), made without the triples, with the strings the records share (the note's path, entity, section and
snippet IRIs) made once, its sources and mentions as the records the pass reads.  A build's link part of a
big note then costs no more than its records."""

from __future__ import annotations

from typing import Any

from kg.links.records import MentionInfo, SourceInfo
from kg.model import ENTITY_TYPES, Extraction, Note
from kg.vocab import (
    entity_iri,
    mention_iri,
    note_iri,
    section_iri,
    sentence_iri,
    sentence_of,
    snippet_iri,
    source_iri,
    storable_text,
)

__all__ = ["part_from_note"]


def part_from_note(note: Note, extraction: Extraction | None = None) -> dict[str, list] | None:
    """The link input of ``note``'s graph (with the facts of ``extraction``'s entities), as
    :func:`kg.links.part_from_triples` gives it from :func:`kg.rdf.note_triples` and
    :func:`kg.rdf.entity_triples`; the same records, maybe in another order within a kind.

    Two mentions of one span and type (found by two components) are one IRI, so one record, each fact the
    first one's that has it, as in the graph.  None for a note whose other records would share an IRI (two
    records of one entity, two sections, snippets or sources of one index) or whose mentions are not in
    order: read its triples then.
    """
    ex = extraction
    mentions = ex.mentions if ex is not None else ()
    entities = ex.entities if ex is not None else ()
    if not (_unique(s.index for s in note.sections) and _unique(s.index for s in note.snippets)
            and _unique(r.index for r in note.references) and _unique(e.key for e in entities)):
        return None
    path, text = note.path, storable_text(note.text)
    n, spath = str(note_iri(path)), storable_text(path)
    part: dict[str, Any] = {"note": [n, spath]}
    sections = {s.index: str(section_iri(path, s.index)) for s in note.sections}
    snippets = {s.index: str(snippet_iri(path, s.index)) for s in note.snippets}
    sources = {r.index: str(source_iri(path, r.index)) for r in note.references}

    def iri(table: dict[int, str], index: int | None, make) -> str | None:
        if index is None:
            return None
        found = table.get(index)
        if found is None:  # a record names one the note does not have: its IRI all the same
            found = table[index] = str(make(path, index))
        return found

    part["sections"] = [(sections[s.index], spath, storable_text(s.heading), storable_text(" / ".join(s.path)),
                         s.level, iri(sections, s.parent, section_iri)) for s in note.sections]
    part["snippets"] = [(snippets[s.index], spath, iri(sections, s.section, section_iri)) for s in note.snippets]
    part["sources"] = [SourceInfo(sources[r.index], spath, r.url, storable_text(r.title) if r.title else None,
                                  iri(sections, r.section, section_iri), iri(snippets, r.snippet, snippet_iri),
                                  r.context_start if r.context else None, r.context_end if r.context else None)
                       for r in note.references]
    ents: dict[str, str] = {}
    rows = []
    for e in entities:
        node = ents[e.key] = str(entity_iri(e.key))
        if e.type in ENTITY_TYPES:
            rows.append((node, storable_text(e.key), e.type, storable_text(e.name)))
    part["entities"] = rows
    part["aliases"] = [(ents[e.key], a) for e in entities for a in sorted({storable_text(a) for a in e.aliases})]
    rows = []
    last: tuple = (None, None, "")  # a sentence's text, made once for its mentions in a row
    here: dict[str, int] = {}  # the rows of the mentions at one span (two components may find one mention)
    at = (-1, -1)
    for m in mentions:
        if (m.start, m.end) != at:
            if (m.start, m.end) < at:  # (an extraction gives its mentions in order)
                return None
            at = (m.start, m.end)
            here.clear()
        ent = ents.get(m.key) or ents.setdefault(m.key, str(entity_iri(m.key)))
        span = (m.sentence_start, m.sentence_end)
        if span != last[:2]:
            sentence = ""
            if note.text[span[0]:span[1]].strip():
                sentence = sentence_of(text, sentence_iri(path, *span)) or ""
            last = (*span, sentence)
        row = MentionInfo(str(mention_iri(path, m.start, m.end, m.type)), ent, spath, m.start, m.end,
                          storable_text(m.text), last[2], iri(sections, m.section, section_iri),
                          iri(snippets, m.snippet, snippet_iri), iri(sources, m.reference, source_iri))
        j = here.get(row[0])
        if j is None:
            here[row[0]] = len(rows)
            rows.append(row)
        else:  # one IRI: each fact as the first of them that has it (the graph holds both's)
            rows[j] = MentionInfo(*rows[j][:6], *(a if a else b for a, b in zip(rows[j][6:], row[6:])))
    part["mentions"] = rows
    return {k: v for k, v in part.items() if v}


def _unique(keys) -> bool:
    seen = set()
    for k in keys:
        if k in seen:
            return False
        seen.add(k)
    return True
