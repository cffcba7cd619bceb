"""Direct coverage: the sources whose title names an entity (a mention in the title, or its name or an alias
as a whole word, told apart where one form names several entities), and those whose context (the prose
the link belongs to) mentions it."""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping

from kg.links.contexts import EntityContexts
from kg.links.features import CJK_RE, URL_RE, find_form
from kg.links.records import ROUND, Coverage, EntityInfo, MentionInfo, SourceInfo
from kg.links.scoring import SCORING as S

#: the method of context coverage (a mention in the prose a source belongs to)
CONTEXT_METHOD = "mention-in-context"


def title_mention_coverage(mentions: Iterable[MentionInfo], sources: set[str], src_by_iri: Mapping[str, SourceInfo],
                           entities: Mapping[str, EntityInfo], contexts: EntityContexts,
                           src_vec: Mapping[str, dict[str, float]]) -> dict[tuple[str, str], Coverage]:
    """Coverage of the entities mentioned in the titles of ``sources`` (IRIs), the mentions as evidence."""
    direct: dict[tuple[str, str], Coverage] = {}
    for m in mentions:
        if m.source and m.source in sources:
            key = (m.source, m.entity)
            prev = direct.get(key)
            ev = tuple(sorted(set(prev.evidence) | {m.iri})) if prev else (m.iri,)
            direct[key] = direct_coverage(src_by_iri[m.source], entities[m.entity], m.text, ev, "mention-in-title",
                                          contexts, src_vec)
    return direct


def name_coverage(sources: Iterable[SourceInfo], forms: Mapping[str, Mapping[str, list[str]]],
                  direct: dict[tuple[str, str], Coverage], named: dict[str, frozenset[str]],
                  mentioned_in_note: Mapping[str, set[str]], entities: Mapping[str, EntityInfo],
                  contexts: EntityContexts, src_vec: Mapping[str, dict[str, float]]) -> list[Coverage]:
    """Add to ``direct`` the coverage of the entities whose name or alias the titles of ``sources`` name (and
    to ``named`` what each title names); returns the records added."""
    made = []
    alike: dict[frozenset[str], frozenset[str]] = {}  # one set for the titles that name the same entities
    for s in sources:
        if not s.title:
            continue
        title = URL_RE.sub(" ", unicodedata.normalize("NFKC", s.title))
        for form, ents in forms_in(title, forms):
            both = frozenset(named.get(s.iri, ())).union(ents)
            named[s.iri] = alike.setdefault(both, both)
            cands = [e for e in ents if (s.iri, e) not in direct]
            if len(cands) < len(ents) or not cands:
                continue  # a mention already settled this form here
            chosen, why = _disambiguate(s, cands, ents, mentioned_in_note, contexts, src_vec)
            for e in chosen:
                direct[s.iri, e] = direct_coverage(s, entities[e], form, (), "name-in-title", contexts, src_vec, why)
                made.append(direct[s.iri, e])
    return made


def add_context_coverage(direct: dict[tuple[str, str], Coverage], sources: Iterable[SourceInfo],
                         mentions: Iterable[MentionInfo], entities: Mapping[str, EntityInfo]) -> list[Coverage]:
    """Add to ``direct`` the context coverage of ``sources`` where no title hit holds the pair (it ranks below
    every title hit); returns the records added."""
    with_context: dict[str, list[SourceInfo]] = defaultdict(list)
    for s in sources:
        if s.context_start is not None and s.context_end is not None:
            with_context[s.note].append(s)
    made = []
    if with_context:
        for key, cov in context_coverage(with_context, mentions, entities).items():
            if key not in direct:
                direct[key] = cov
                made.append(cov)
    return made


def context_coverage(by_note: Mapping[str, list[SourceInfo]], mentions: Iterable[MentionInfo],
                     entities: Mapping[str, EntityInfo]) -> dict[tuple[str, str], Coverage]:
    """Coverage of the entities the context of each source in ``by_note`` names (``mentions`` sorted by note
    and offset): direct, with the mentions nearest the link as evidence, scored in ``[1, 1.5)``."""
    found: dict[tuple[str, str], list[MentionInfo]] = defaultdict(list)
    note: str | None = None
    spans: list[tuple[int, int, SourceInfo]] = []
    active: list[tuple[int, int, SourceInfo]] = []
    i = 0
    for m in mentions:
        if m.note != note:
            note, i, active = m.note, 0, []
            spans = sorted(((s.context_start, s.context_end, s) for s in by_note.get(note, ())),  # type: ignore[misc]
                           key=lambda t: (t[0], t[1], t[2].iri))
        if not spans:
            continue
        while i < len(spans) and spans[i][0] <= m.start:
            active.append(spans[i])
            i += 1
        if active:
            active = [t for t in active if t[1] > m.start]
        for _, ce, src in active:
            if m.end <= ce and m.source != src.iri and m.entity in entities:
                found[src.iri, m.entity].append(m)
    out: dict[tuple[str, str], Coverage] = {}
    srcs = {s.iri: s for lst in by_note.values() for s in lst}
    for (s, e), ms in found.items():
        src, ent = srcs[s], entities[e]
        ms = sorted(ms, key=lambda m: (-m.end, m.iri))
        near = ms[0]
        closeness = 1.0 - (src.context_end - near.end) / max(1, src.context_end - src.context_start)  # type: ignore[operator]
        score = S.context_base + S.context_closeness * closeness + S.context_mentions * min(
            1.0, (len(ms) - 1) / S.context_mentions_full)
        why = f"context: the prose the link belongs to names \"{near.text}\"" + (
            f" ({ent.name})" if near.text != ent.name else "")
        if near.sentence:
            why += f" — \"{_clip(near.sentence, 160)}\""
        out[s, e] = Coverage(s, e, round(min(score, S.context_cap), ROUND), True, CONTEXT_METHOD, why,
                             tuple(sorted(m.iri for m in ms[:S.context_evidence])), (), (near.text,))
    return out


def _clip(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n - 1] + "…"


def direct_coverage(src: SourceInfo, ent: EntityInfo, form: str, evidence: tuple[str, ...], method: str,
                    contexts: EntityContexts, src_vec: Mapping[str, dict[str, float]], why: str = "") -> Coverage:
    """The title of ``src`` names ``ent`` as ``form``: scored in ``[1.5, 2)`` by how close the title is to the
    entity's context, whether a mention backs it (``evidence``) and whether the source's note mentions it."""
    sim = contexts.sim(src_vec.get(src.iri, {}), ent.iri, src.note)
    at_home = contexts.has(ent.iri, src.note)
    score = S.title_base + S.title_similarity * min(sim, 1.0) + (S.title_evidence if evidence else 0.0) + (
        S.title_at_home if at_home else 0.0)
    pieces = ['direct: the title "', src.title or "", '" names "', form, '"']
    if form != ent.name:
        pieces += [" (", ent.name, ")"]
    if evidence:
        pieces.append(" — the mention in the title is the evidence")
    if why:
        pieces += ["; ", why]
    return Coverage(src.iri, ent.iri, round(min(score, S.title_cap), ROUND), True, method, tuple(pieces), evidence, (),
                    _one(form))


_ONE: dict[str, tuple[str]] = {}  # form -> (form,), bounded


def _one(form: str) -> tuple[str]:
    """``(form,)``, one tuple for every record that matched ``form`` (a reference list's titles may name one
    entity 10⁵ times)."""
    found = _ONE.get(form)
    if found is None:
        if len(_ONE) >= 4096:
            _ONE.clear()
        found = _ONE[form] = (form,)
    return found


def form_index(entities: Mapping[str, EntityInfo]) -> dict[str, dict[str, list[str]]]:
    """Entity names and aliases by their first two (case-folded) characters: prefix -> form -> entities."""
    idx: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for e in sorted(entities):
        ent = entities[e]
        for form in sorted({ent.name, *ent.aliases}):
            form = unicodedata.normalize("NFKC", form).strip()
            if len(form) < 2 or form.isdigit() or (len(form) < 2 and CJK_RE.match(form)):
                continue
            if e not in idx[form[:2].casefold()][form]:
                idx[form[:2].casefold()][form].append(e)
    return idx


def forms_in(title: str, idx: Mapping[str, Mapping[str, list[str]]]) -> list[tuple[str, list[str]]]:
    """The forms of :func:`form_index` that ``title`` (NFKC, URLs removed) names, with their entities."""
    low = title.casefold()
    found: dict[str, list[str]] = {}
    for i in range(len(low) - 1):
        bucket = idx.get(low[i:i + 2])
        if not bucket:
            continue
        for form, ents in bucket.items():
            if form not in found and low.startswith(form.casefold(), i) and find_form(title, form) is not None:
                found[form] = ents
    # a form inside a longer found form of the same entities adds nothing
    return sorted(found.items())


def _disambiguate(src: SourceInfo, cands: list[str], all_ents: list[str], in_note: Mapping[str, set[str]],
                  contexts: EntityContexts, src_vec: Mapping[str, dict[str, float]]):
    if len(cands) == 1:
        return cands, ""
    here = [e for e in cands if e in in_note.get(src.note, ())]
    if len(here) == 1:
        return here, f"of the {len(all_ents)} entities named so, only this one is mentioned in {src.note}"
    pool = here or cands
    sv = src_vec.get(src.iri, {})
    sims = {e: contexts.sim(sv, e, src.note) for e in pool}
    top = max(sims.values())
    best = [e for e in pool if sims[e] == top]
    if len(best) == 1 and top > 0:
        return best, f"of the {len(all_ents)} entities named so, this one's context is closest to the title"
    return sorted(pool), f"ambiguous: {len(pool)} entities are named so and the context does not tell them apart"

