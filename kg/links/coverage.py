"""Coverage: which sources cover which entity, direct (the title or the context names it) or inferred (the
title is about the same things), scored on the scale :mod:`kg.links` describes.

:func:`coverage_full` scores every source; :func:`coverage_incremental` patches the last full pass's
:class:`CoverageState` for a few changed notes.  The steps: title vectors and IDF (here), entity contexts
(:mod:`kg.links.contexts`), direct coverage (:mod:`kg.links.direct`), inferred coverage
(:mod:`kg.links.inferred`).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from operator import attrgetter
from typing import Any

from kg.links.contexts import EntityContexts, SourceTops, context_parts
from kg.links.direct import add_context_coverage, form_index, forms_in, name_coverage, title_mention_coverage
from kg.links.features import URL_RE, text_features, vector
from kg.links.inferred import Inference, TitleIndex, build_index, infer_all, patch_index
from kg.links.records import Coverage, EntityInfo, LinkInput, LinkResult, MentionInfo, Related, SectionInfo
from kg.parallel import WorkingSet
from kg.terms import is_acronym


@dataclass
class CoverageState(WorkingSet):
    """What an incremental pass reuses from the last full one: IDF (frozen), title vectors, named entities."""

    idf: dict[str, float]
    default_idf: float
    src_vec: dict[str, dict[str, float]]
    named: dict[str, frozenset[str]]  # source -> entities one of whose forms its title names
    direct: dict[tuple[str, str], Coverage]  # (source, entity) -> direct coverage
    inferred: dict[str, list[Coverage]]  # entity -> its inferred coverages
    index: dict[str, list[str]]  # feature -> the sources whose title vectors had it (sorted; may list stale ones)
    counts: dict[str, int]  # feature -> how many title vectors have it now

    def without_records(self) -> CoverageState:
        """This state less its coverage records, which the pass's result holds as well (what the link cache
        writes; :meth:`with_records` puts them back)."""
        return replace(self, direct={}, inferred={})

    def with_records(self, coverages: Iterable[Coverage]) -> CoverageState:
        """This state with the coverage records of the pass's result: the direct ones by (source, entity), the
        inferred ones by entity.

        >>> c = Coverage("s", "e", 1.0, True, "m", "why")
        >>> CoverageState({}, 1.0, {}, {}, {}, {}, {}, {}).with_records([c]).direct == {("s", "e"): c}
        True
        """
        direct: dict[tuple[str, str], Coverage] = {}
        inferred: dict[str, list[Coverage]] = defaultdict(list)
        for c in coverages:
            if c.direct:
                direct[c.source, c.entity] = c
            else:
                inferred[c.entity].append(c)
        return replace(self, direct=direct, inferred=dict(inferred))


def coverage_full(data: LinkInput, entities: Mapping[str, EntityInfo], sections: Mapping[str, SectionInfo],
                  related: Mapping[str, list[Related]], p: Mapping[str, Any]) -> tuple[tuple[Coverage, ...],
                                                                                       CoverageState]:
    """The coverage of every source and entity, sorted by entity, best first; and the state for the next
    incremental pass."""
    sources = list(data.sources)
    src_by_iri = {s.iri: s for s in sources}
    # --- source title features and IDF
    src_bags: dict[str, Counter] = {s.iri: text_features(s.title) for s in sources if s.title}
    df: Counter = Counter()
    for bag in src_bags.values():
        df.update(bag.keys())
    n_docs = len(src_bags)
    idf = {f: math.log((n_docs + 1) / (c + 1)) + 1.0 for f, c in df.items()}
    default_idf = math.log(n_docs + 1) + 1.0
    alike: dict[tuple, dict[str, float]] = {}  # one vector for equal titles (a note may list thousands alike)
    src_vec = {}
    for s, bag in src_bags.items():
        vec = vector([(bag, 1.0)], idf, default_idf)
        src_vec[s] = alike.setdefault(tuple(vec.items()), vec)
    del src_bags, alike  # (before the records are made: the bags of every title weigh as much as they do)
    tops = SourceTops(src_by_iri, sections)
    forms = form_index(entities)
    mentioned_in_note: dict[str, set[str]] = defaultdict(set)
    for m in data.mentions:
        mentioned_in_note[m.note].add(m.entity)
    contexts = EntityContexts(context_parts(data.mentions, sections), entities, idf, default_idf)
    # --- direct coverage: the titles, then the contexts
    direct = title_mention_coverage(data.mentions, set(src_by_iri), src_by_iri, entities, contexts, src_vec)
    named: dict[str, frozenset[str]] = {}
    name_coverage(sources, forms, direct, named, mentioned_in_note, entities, contexts, src_vec)
    add_context_coverage(direct, sources, data.mentions, entities)
    # --- inferred coverage
    index, counts = build_index(src_vec)
    titles = TitleIndex(sources, src_vec, index, counts, p["df_cap"])
    todo = sorted(contexts.notes_of)
    inference = Inference(entities, contexts, titles, src_by_iri, src_vec, tops, direct, named, related, todo, p)
    out: list[Coverage] = list(direct.values())
    found = infer_all(inference, todo)
    inferred: dict[str, list[Coverage]] = defaultdict(list)
    for e in todo:
        if e in found:
            inferred[e].extend(found[e])
    for covs in inferred.values():
        out.extend(covs)
    state = CoverageState(idf, default_idf, src_vec, named, direct, dict(inferred), index, counts)
    # by entity, best first: three stable sorts, which make no key tuple per record
    out.sort(key=attrgetter("source"))
    out.sort(key=attrgetter("score"), reverse=True)
    out.sort(key=attrgetter("entity"))
    return tuple(out), state


def coverage_incremental(data: LinkInput, entities: Mapping[str, EntityInfo], sections: Mapping[str, SectionInfo],
                         related: Mapping[str, list[Related]], p: Mapping[str, Any], state: CoverageState,
                         fresh_sources: set[str], touched: set[str], stale_sources: set[str] | None,
                         dropped: list, made_now: list) -> tuple[tuple[Coverage, ...], CoverageState]:
    """Coverage from the last full pass's ``state``: only sources in ``fresh_sources`` (the changed notes'),
    titles naming ``touched`` entities and the inferred coverage of ``touched`` entities are computed again;
    ``stale_sources`` are the sources the changed and removed notes had (the only titles that can be gone;
    None: any).  ``dropped`` and ``made_now`` receive the last pass's records that this one dropped or may
    have changed and the records it made: every other record is the last pass's, as it was.

    The last pass's tables are this pass's own: they are patched in place (copying them cost more than the
    rest of a small pass).  The records come in no particular order (they are compared by key).
    """
    sources = list(data.sources)
    src_by_iri = {s.iri: s for s in sources}
    # --- title vectors: IDF frozen at the last full pass; new titles get vectors under it
    idf, default_idf = state.idf, state.default_idf
    src_vec = state.src_vec
    if stale_sources is None:  # not told: every title is looked at
        titled = {s.iri for s in sources if s.title}
        revectored = {s for s in titled if s in fresh_sources or s not in src_vec}
        stale = [s for s in src_vec if s not in titled or s in revectored]
    else:  # only the changed notes' titles can be new, changed or gone
        revectored = {s for s in fresh_sources if s in src_by_iri and src_by_iri[s].title}
        stale = [s for s in stale_sources | revectored if s in src_vec]
    replaced = {s: src_vec.pop(s) for s in stale}
    for s in sorted(revectored):
        src_vec[s] = vector([(text_features(src_by_iri[s].title), 1.0)], idf, default_idf)
    tops = SourceTops(src_by_iri, sections)
    forms = form_index(entities)
    # --- the sources whose direct coverage is computed again, and the entities whose contexts are needed
    redo_set = {s for s in fresh_sources if s in src_by_iri}
    redo_set.update(s for s, ents in state.named.items() if s in src_by_iri and not touched.isdisjoint(ents))
    redo_set.update(s for (s, e) in state.direct if e in touched and s in src_by_iri)
    redo = [s for s in sources if s.iri in redo_set]
    needed = set(touched)
    for s in redo:
        if s.title:
            for _, ents in forms_in(URL_RE.sub(" ", unicodedata.normalize("NFKC", s.title)), forms):
                needed.update(ents)
    redo_notes = {src_by_iri[s].note for s in redo_set}
    mentioned_in_note: dict[str, set[str]] = defaultdict(set)  # (of the notes whose titles are read)
    title_mentions: list[MentionInfo] = []  # (the mentions in those titles)
    note_mentions: list[MentionInfo] = []  # (the mentions of those notes)
    for m in data.mentions:
        if m.note in redo_notes:
            note_mentions.append(m)
            mentioned_in_note[m.note].add(m.entity)
            if m.source in redo_set:
                needed.add(m.entity)
                title_mentions.append(m)
    contexts = EntityContexts(context_parts(data.mentions, sections, needed), entities, idf, default_idf)
    # --- direct coverage: the titles read again, what the others named and covered as it was, the contexts
    redo_iris = {s.iri for s in redo}
    direct = title_mention_coverage(title_mentions, redo_iris, src_by_iri, entities, contexts, src_vec)
    named = state.named
    for s in [s for s in named if s in redo_iris or s not in src_by_iri]:
        del named[s]
    kept = state.direct
    for k in [k for k in kept if k[0] in redo_iris or k[0] not in src_by_iri or k[1] not in entities]:
        dropped.append(kept.pop(k))
    made_now.extend(direct.values())
    kept.update(direct)
    direct = kept
    made_now.extend(name_coverage(redo, forms, direct, named, mentioned_in_note, entities, contexts, src_vec))
    made_now.extend(add_context_coverage(direct, redo, note_mentions, entities))
    # --- inferred coverage: the index gets the titles weighed again
    index, counts = state.index, state.counts
    patch_index(index, counts, src_vec, replaced, revectored)
    titles = TitleIndex(sources, src_vec, index, counts, p["df_cap"])
    todo = [e for e in sorted(contexts.notes_of) if e in touched]
    inference = Inference(entities, contexts, titles, src_by_iri, src_vec, tops, direct, named, related, todo, p)
    out: list[Coverage] = list(direct.values())
    inferred: dict[str, list[Coverage]] = defaultdict(list)
    for e, covs in state.inferred.items():  # untouched entities keep theirs, less what changed under it
        if e in touched or e not in entities:
            dropped.extend(covs)
            continue
        for c in covs:
            s = c.source
            if s in src_by_iri and s not in fresh_sources and (s, e) not in direct and e not in named.get(s, ()):
                inferred[e].append(c)
            else:
                dropped.append(c)
    found = infer_all(inference, todo)
    for e in todo:
        if e in found:
            inferred[e].extend(found[e])
            made_now.extend(found[e])
    for covs in inferred.values():
        out.extend(covs)
    return tuple(out), CoverageState(idf, default_idf, src_vec, named, direct, dict(inferred), index, counts)


def coverage_of(result: LinkResult, entity: str) -> list[Coverage]:
    """The sources covering ``entity`` (an IRI), best first: direct ones, then inferred ones."""
    return sorted((c for c in result.coverages if c.entity == entity), key=lambda c: (-c.score, c.source))


def entities_named(data: LinkInput, term: str) -> list[EntityInfo]:
    """The entities whose name or an alias is ``term``, or whose name spells it out as ``Long Name (TERM)``.

    >>> d = LinkInput((EntityInfo("e:1", "Paper/X", "Paper", "Progressive Layered Extraction (PLE): a model"),
    ...                EntityInfo("e:2", "Paper/SIMPLE", "Paper", "SIMPLE")))
    >>> [e.iri for e in entities_named(d, "PLE")]
    ['e:1']
    """
    t = unicodedata.normalize("NFKC", term).strip()
    out = []
    for e in data.entities:
        forms = {unicodedata.normalize("NFKC", f).strip() for f in (e.name, *e.aliases)}
        if t in forms or (not is_acronym(t) and t.casefold() in {f.casefold() for f in forms}):
            out.append(e)
        elif is_acronym(t) and re.search(r"\(\s*" + re.escape(t) + r"\s*\)", e.name):
            out.append(e)
    return out
