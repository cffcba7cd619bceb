"""Inferred coverage: titles that do not name an entity but are about the same things as its contexts.

Titles are found through an inverted index of their features (:class:`TitleIndex`); each (title, context)
similarity is weighed by where the source lies and raised by the related entities the title names
(:class:`Inference`).  Many entities are scored on two cores (:func:`infer_all`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kg.links.contexts import Context, EntityContexts, SourceTops
from kg.links.direct import CONTEXT_METHOD
from kg.links.records import PARALLEL_ENTITIES, ROUND, Coverage, EntityInfo, Related, SourceInfo
from kg.links.scoring import SCORING as S
from kg.parallel import forked, halves


def build_index(src_vec: Mapping[str, Mapping[str, float]]) -> tuple[dict[str, list[str]], dict[str, int]]:
    """The inverted index of title vectors (feature -> the sources that have it, sorted) and how many sources
    each feature has."""
    grown: dict[str, list[str]] = defaultdict(list)
    for s in sorted(src_vec):
        for f in src_vec[s]:
            grown[f].append(s)
    index = dict(grown)
    return index, {f: len(ss) for f, ss in index.items()}


def patch_index(index: dict[str, list[str]], counts: dict[str, int], src_vec: Mapping[str, Mapping[str, float]],
                replaced: Mapping[str, Mapping[str, float]], revectored: Iterable[str]) -> None:
    """Bring the index of the last full pass up to date, in place: the ``replaced`` title vectors (source ->
    its old vector) no longer count, the ``revectored`` sources' new ones are added.  The index may still
    list sources whose vectors are gone or changed: :class:`TitleIndex` skips them."""
    for vec in replaced.values():
        for f in vec:
            counts[f] -= 1
    extra: dict[str, set[str]] = defaultdict(set)
    for s in revectored:
        for f in src_vec[s]:
            extra[f].add(s)
            counts[f] = counts.get(f, 0) + 1
    for f, ss in extra.items():
        index[f] = sorted(ss.union(index.get(f, ())))


class TitleIndex:
    """The titles holding a feature, with their weights, looked up for the features the scored contexts hold
    (an incremental pass scores a few entities: a few features).  A feature held by more than ``cap`` titles
    (``df_cap``) only scores the titles of the context's own note (:meth:`local`)."""

    def __init__(self, sources: Sequence[SourceInfo], src_vec: Mapping[str, Mapping[str, float]],
                 index: Mapping[str, list[str]], counts: Mapping[str, int], cap: int):
        self.sources, self.src_vec, self.index, self.counts, self.cap = sources, src_vec, index, counts, cap
        # a posting is two lists, the sources and their weights (pairs would cost 64 bytes a title more)
        self.postings: dict[str, Any] = {}  # feature -> ([source], [weight]), or None for a common feature
        self._by_note: dict[str, list[str]] = {}
        self._note_postings: dict[str, dict[str, tuple[list[str], list[float]]]] = {}
        self._common: set[str] = set()  # (the features held by more than cap titles, when first needed)

    def posting(self, f: str) -> Any:
        """The titles holding ``f`` and their weights (two lists); None for a common feature."""
        postings = self.postings
        post = postings.get(f, postings)  # (the dict itself: not looked up yet)
        if post is postings:
            n = self.counts.get(f, 0)
            src_vec = self.src_vec
            if n > self.cap:
                post = None
            else:
                post = ([], [])
                for s in self.index[f] if n > 0 else ():
                    if (w := src_vec.get(s, {}).get(f)) is not None:
                        post[0].append(s)
                        post[1].append(w)
            postings[f] = post
        return post

    def local(self, note: str) -> dict[str, tuple[list[str], list[float]]]:
        """The titles of ``note`` holding each common feature and their weights (two lists)."""
        found = self._note_postings.get(note)
        if found is None:
            by_note, src_vec = self._by_note, self.src_vec
            if not by_note:
                for src in self.sources:  # sorted by IRI
                    if src.iri in src_vec:
                        by_note.setdefault(src.note, []).append(src.iri)
                self._common.update(f for f, n in self.counts.items() if n > self.cap)
            found = self._note_postings[note] = defaultdict(lambda: ([], []))
            common = self._common
            for s in by_note.get(note, ()):
                for f, w in src_vec[s].items():
                    if f in common:
                        post = found[f]
                        post[0].append(s)
                        post[1].append(w)
        return found


def shared_features(a: Mapping[str, float], b: Mapping[str, float], n: int = S.shared_features) -> list[str]:
    """The ``n`` features two vectors share that weigh most in their similarity."""
    common = sorted((f for f in a if f in b), key=lambda f: (-a[f] * b[f], f))[:n]
    return [f[2:] for f in common]


class Inference:
    """Scoring the inferred coverage of entities (read-only: it can run in a forked child).

    ``direct`` and ``named`` (source -> entities its title names) are the pass's direct coverage: a title
    that names an entity outright is never inferred to cover it, nor another entity of that name.
    """

    def __init__(self, entities: Mapping[str, EntityInfo], contexts: EntityContexts, titles: TitleIndex,
                 src_by_iri: Mapping[str, SourceInfo], src_vec: Mapping[str, Mapping[str, float]],
                 tops: SourceTops, direct: Mapping[tuple[str, str], Coverage], named: Mapping[str, frozenset[str]],
                 related: Mapping[str, list[Related]], todo: Iterable[str], p: Mapping[str, Any]):
        self.entities, self.contexts, self.titles = entities, contexts, titles
        self.src_by_iri, self.src_vec, self.tops, self.direct, self.named = src_by_iri, src_vec, tops, direct, named
        self.p = p
        # what each title names: one set for the titles that name the same entities (a reference list's
        # titles may name the same two 10⁵ times)
        self.src_entities: dict[str, frozenset[str]] = {}
        alike: dict[frozenset[str], frozenset[str]] = {}
        for (s, e), c in direct.items():
            if c.method != CONTEXT_METHOD:
                prev = self.src_entities.get(s)
                both = prev.union((e,)) if prev else frozenset((e,))
                self.src_entities[s] = alike.setdefault(both, both)
        self.rel_weight = {a: {r.to_entity: r.weight for r in related[a]} for a in todo if a in related}

    def score(self, ents: Iterable[str]) -> dict[str, list[Coverage]]:
        """The inferred coverages of ``ents``, best first, per entity."""
        entities, direct, named, src_by_iri, src_vec = self.entities, self.direct, self.named, self.src_by_iri, \
            self.src_vec
        src_entities, rel_weight, p = self.src_entities, self.rel_weight, self.p
        postings, posting, local_postings = self.titles.postings, self.titles.posting, self.titles.local
        top_of, src_top = self.tops.known, self.tops.of
        min_inferred = p["min_inferred"]
        prox_section, prox_note, prox_elsewhere = S.proximity_section, S.proximity_note, S.proximity_elsewhere
        via_bonus, via_kept, cap = S.via_bonus, S.via_kept, S.inferred_cap
        found: dict[str, list[Coverage]] = defaultdict(list)
        for e in ents:
            best: dict[str, tuple[float, float, Context, tuple[str, ...]]] = {}
            rw = rel_weight.get(e, {})
            max_rw = max(rw.values(), default=0.0)
            for ctx in self.contexts.of(e):
                vec = ctx.vector
                local = None
                acc: dict[str, float] = defaultdict(float)
                for f, v in vec.items():  # sparse dot products through the inverted index
                    post = postings.get(f, postings)
                    if post is postings:
                        post = posting(f)
                    if post is None:  # a common feature
                        if local is None:
                            local = local_postings(ctx.note)
                        post = local.get(f, ((), ()))
                    for s, w in zip(*post):
                        acc[s] += v * w
                for s, sim in acc.items():
                    if sim * prox_section + via_bonus < min_inferred or (s, e) in direct or e in named.get(s, ()):
                        continue  # too weak, or named outright (direct for this entity or for another of that name)
                    src = src_by_iri[s]
                    top = top_of.get(s, top_of)
                    if top is top_of:
                        top = src_top(s)
                    prox = prox_section if top and top in ctx.top_sections else \
                        prox_note if src.note == ctx.note else prox_elsewhere
                    named_here = src_entities.get(s)
                    via: tuple[str, ...] = ()
                    bonus = 0.0
                    if named_here and rw:
                        via = tuple(sorted((x for x in named_here if x in rw), key=lambda x: (-rw[x], x)))[:via_kept]
                        bonus = via_bonus * (rw[via[0]] / max_rw) if via and max_rw else 0.0
                    score = sim * prox + bonus
                    score = score if score < cap else cap
                    if s not in best or score > best[s][0]:
                        best[s] = (score, sim, ctx, via)
            ranked = sorted(((v[0], s) for s, v in best.items() if v[0] >= p["min_inferred"]),
                            key=lambda t: (-t[0], t[1]))[:p["max_inferred"]]
            for score, s in ranked:
                _, sim, ctx, via = best[s]
                shared = shared_features(src_vec[s], ctx.vector)
                where = f"{ctx.note}" + (f" § {ctx.heading}" if ctx.heading else "")
                place = ("under the same heading" if src_top(s) in ctx.top_sections else
                         "in the same note" if src_by_iri[s].note == ctx.note else f"in {src_by_iri[s].note}")
                why = (f"inferred: the title \"{src_by_iri[s].title}\" shares {', '.join(shared)} with how "
                       f"{entities[e].name} is spoken of in {where} (similarity {sim:.2f}); the source is {place}")
                if via:
                    why += "; the title names related " + ", ".join(entities[v].name for v in via)
                found[e].append(Coverage(s, e, round(score, ROUND), False, "tfidf-glossary+graph", why, (),
                                         via, tuple(shared)))
        return dict(found)


def infer_all(inference: Inference, todo: list[str]) -> dict[str, list[Coverage]]:
    """:meth:`Inference.score` of ``todo``.  The scoring is read-only: with many entities to score, two halves
    of about as many contexts each go to two cores (each making the vectors and postings it needs).  Not for a
    few entities: a forked child of a big process pays more in copied pages than it saves."""
    if len(todo) < PARALLEL_ENTITIES:
        return inference.score(todo)
    notes_of = inference.contexts.notes_of
    mine, theirs = halves(todo, {e: len(notes_of[e]) for e in todo})
    theirs_later = forked(inference.score, theirs)
    found = inference.score(mine)
    found.update(theirs_later())
    return found
