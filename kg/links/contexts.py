"""Entity contexts: how each note speaks of an entity (its name and aliases, the sentences of its mentions,
the heading paths of their sections) as a feature vector, made when first wanted, and how close a title is
to an entity (:class:`EntityContexts`)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from itertools import chain
from dataclasses import dataclass, field
from typing import Any

from kg.links.features import text_features, vector
from kg.links.records import EntityInfo, MentionInfo, SectionInfo
from kg.links.scoring import SCORING


@dataclass
class Context:
    """An entity as one note speaks of it."""

    entity: str
    note: str
    top_sections: set[str] = field(default_factory=set)
    heading: str = ""
    vector: dict[str, float] = field(default_factory=dict)


def top_section(iri: str | None, sections: Mapping[str, SectionInfo]) -> str | None:
    """The top-level section above the section ``iri`` (itself at the top)."""
    seen = 0
    while iri is not None and iri in sections and sections[iri].parent and seen < 50:
        iri = sections[iri].parent
        seen += 1
    return iri


class SourceTops:
    """The top-level section of each source, looked up as needed."""

    def __init__(self, src_by_iri: Mapping[str, Any], sections: Mapping[str, SectionInfo]):
        self.src_by_iri, self.sections = src_by_iri, sections
        self.known: dict[str, str | None] = {}

    def of(self, s: str) -> str | None:
        if s not in self.known:
            self.known[s] = top_section(self.src_by_iri[s].section, self.sections)
        return self.known[s]


def context_parts(mentions: Iterable[MentionInfo], sections: Mapping[str, SectionInfo],
                  needed: set[str] | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """What each (entity, note) context is made of: its sentences, heading paths, top sections and first
    heading (of every entity, or of the ``needed`` ones)."""
    parts: dict[tuple[str, str], dict[str, Any]] = {}
    of_section: dict[str, tuple[str | None, str | None]] = {}  # section -> (its heading path, its top section)
    for m in mentions:
        if needed is not None and m.entity not in needed:
            continue
        key = (m.entity, m.note)
        part = parts.get(key)
        if part is None:
            part = parts[key] = {"sentences": set(), "headings": set(), "tops": set(), "heading": ""}
        if m.sentence:
            part["sentences"].add(m.sentence)
        if m.section:
            facts = of_section.get(m.section)
            if facts is None:
                info = sections.get(m.section)
                facts = of_section[m.section] = (info.heading_path if info is not None else None,
                                                 top_section(m.section, sections))
            path, top = facts
            if path is not None:
                part["headings"].add(path)
                if not part["heading"]:
                    part["heading"] = path
            if top:
                part["tops"].add(top)
    return parts


class EntityContexts:
    """The contexts of entities, one per (entity, note) of ``parts`` (:func:`context_parts`), each vector made
    when first wanted: an incremental pass scores all the contexts of the entities it touched, but of the
    others (named in the titles it reads again) mostly just the one in a title's note.

    How close a title is to an entity (:meth:`sim`): its context in the title's note, else the mean of its
    contexts.  Looking at one context (or one mean) per title keeps this linear however many notes name the
    entity.
    """

    def __init__(self, parts: Mapping[tuple[str, str], Mapping[str, Any]], entities: Mapping[str, EntityInfo],
                 idf: Mapping[str, float], default_idf: float):
        self.parts, self.entities, self.idf, self.default_idf = parts, entities, idf, default_idf
        self.notes_of: dict[str, list[str]] = defaultdict(list)  # entity -> the notes it has a context in, sorted
        for (e, note) in sorted(parts):
            self.notes_of[e].append(note)
        self._made: dict[tuple[str, str], Context] = {}
        self._name_bags: dict[str, Counter] = {}
        self._bags: dict[str, Counter] = {}
        self._mean: dict[str, dict[str, float]] = {}

    def _features(self, text: str) -> Counter:
        bag = self._bags.get(text)
        if bag is None:
            bag = self._bags[text] = text_features(text)
        return bag

    def context(self, e: str, note: str) -> Context | None:
        """The entity's context in ``note``; None where it has none."""
        ctx = self._made.get((e, note))
        if ctx is None:
            part = self.parts.get((e, note))
            if part is None:
                return None
            name_bag = self._name_bags.get(e)
            if name_bag is None:
                ent = self.entities[e]
                name_bag = self._name_bags[e] = self._features(" ; ".join((ent.name,) + ent.aliases))
            bags = chain([(name_bag, SCORING.context_name)],  # (one at a time: a note may give 10⁵ sentences)
                         ((self._features(s), SCORING.context_sentence) for s in sorted(part["sentences"])),
                         ((self._features(h), SCORING.context_heading) for h in sorted(part["headings"])))
            ctx = self._made[e, note] = Context(e, note, part["tops"], part["heading"],
                                                vector(bags, self.idf, self.default_idf))
        return ctx

    def of(self, e: str) -> list[Context]:
        """All the entity's contexts, in note order."""
        return [self.context(e, note) for note in self.notes_of.get(e, ())]  # type: ignore[misc]

    def has(self, e: str, note: str) -> bool:
        """Whether ``note`` mentions the entity."""
        return (e, note) in self.parts

    def mean(self, e: str) -> dict[str, float]:
        vec = self._mean.get(e)
        if vec is None:
            acc: dict[str, float] = defaultdict(float)
            for c in self.of(e):
                for f, v in c.vector.items():
                    acc[f] += v
            top = sorted(acc.items(), key=lambda t: (-t[1], t[0]))[:SCORING.profile_features]
            norm = math.sqrt(sum(v * v for _, v in top))
            vec = self._mean[e] = {f: v / norm for f, v in top} if norm else {}
        return vec

    def sim(self, sv: Mapping[str, float], e: str, note: str) -> float:
        """The similarity of a title's vector ``sv`` (of a source in ``note``) to the entity."""
        ctx = self.context(e, note)
        vec = ctx.vector if ctx is not None else self.mean(e)
        return sum(v * vec.get(f, 0.0) for f, v in sv.items())
