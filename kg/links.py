"""Links between entities and sources, computed with networkx and written back as RDF.

The link pass reads what the note graphs hold (entities, their mentions,
sources, sections, snippets) through the store's ``select`` into plain data
(:func:`load_link_input`), computes from it (:func:`compute_links`) and turns
the result into triples for the links named graph (:func:`link_triples`).
At query time :func:`project_graph` and :func:`find_path` explain how two
entities are connected.

**Coverage** ("which sources cover PLE?"), one :class:`Coverage` per
(source, entity):

* *direct*: the source's title names the entity — a mention of it stands in
  the title (``kg:inSource``), or the title contains its name or an alias as a
  whole word.  Whole word means the characters next to a Latin form are not
  letters or digits (so ``SIMPLE`` and ``IMPLEMENTING`` do not name ``PLE``);
  an all-capital acronym matches only in capitals; URLs are removed from the
  title first.  When one form names several entities (an acronym with two
  meanings) the entity mentioned in the source's own note wins, then the one
  whose context is closest to the title; the justification says which.
* *inferred*: the title does not name the entity but is about the same
  things.  Each entity has a *context* per note it is mentioned in: its name
  and aliases, the sentences of its mentions and the heading paths of their
  sections.  Titles and contexts become bags of features: concepts from a
  general bilingual glossary (``kg/data/glossary_en_zh.tsv``, so that
  "Multi-Task Learning" and 多任务学习, "Recommendations" and 推荐 meet),
  other English words (lightly stemmed) and Chinese character bigrams.  The
  text similarity is the TF-IDF cosine of the two bags (IDF over all source
  titles).  It is multiplied by a graph proximity factor (1.0 when the source
  lies under the same top-level section as the context, 0.9 in the same note,
  0.8 elsewhere) and raised by up to 0.2 when the title names entities related
  to this one (those are the ``kg:via`` neighbours).  Below
  ``min_inferred`` it is dropped; the ``max_inferred`` best per entity are kept.

The **score scale**: inferred coverage scores lie in ``[min_inferred, 1)``;
direct coverage scores lie in ``[1, 2)``: ``1 + 0.5 × similarity`` of the
title to the entity's context, ``+ 0.3`` when an extracted mention in the
title backs it (``kg:evidence``), ``+ 0.15`` when the source's own note
mentions the entity.  So any direct coverage ranks above every inferred one,
and within each kind the better-backed, more relevant source ranks first.
A title that names an entity outright is never *inferred* to cover another
entity of the same name.

**Relatedness** between entities is Adamic–Adar on the bipartite graph of
entities and the contexts they are mentioned in (snippets, sections, source
titles): a shared context ``c`` adds ``w(c) / log(1 + deg(c))``, with ``w`` 1
for a snippet or source title and 0.5 for a section.  Contexts naming more than
``hub_degree`` entities are hubs and add nothing (they would relate everything
to everything, and cost quadratic time).  The ``top_k`` best per entity are
kept with their rank, and two evidence mentions from the best shared context.

**Centrality and communities** are computed on the graph of those top-k
links: weighted PageRank (networkx with SciPy, else a pure-Python power iteration) and Louvain
communities (``networkx``, fixed seed, numbered by size then by first IRI).
``degree`` is the number of distinct entities an entity shares a context with.

Everything is deterministic: inputs are sorted, ties broken by IRI, floats
rounded to 6 decimals.  The pass is linear in the notes: pair generation is
bounded per context by ``hub_degree`` and candidate sources per context by
``df_cap`` (features held by more sources only score candidates found
otherwise).

>>> from kg.links import text_features
>>> sorted(f for f in text_features("Multi-Task Learning for Recommendations") if f.startswith("t:"))
['t:learning', 't:multi task', 't:recommendation']
>>> sorted(f for f in text_features("多任务学习在推荐中的应用") if f.startswith("t:"))
['t:application', 't:learning', 't:multi task', 't:recommendation']
"""

from __future__ import annotations

__all__ = [
    "EntityInfo",
    "MentionInfo",
    "SourceInfo",
    "SectionInfo",
    "SnippetInfo",
    "LinkInput",
    "Coverage",
    "Related",
    "EntityStats",
    "LinkResult",
    "Hop",
    "load_link_input",
    "compute_links",
    "link_triples",
    "project_graph",
    "find_path",
    "text_features",
    "names_in",
    "entities_named",
    "coverage_of",
    "DEFAULTS",
]

import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import networkx as nx

# ---------------------------------------------------------------- plain data in


@dataclass(frozen=True, slots=True)
class EntityInfo:
    iri: str
    key: str
    type: str  # Person, Event, Paper, Place, Organization
    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MentionInfo:
    iri: str
    entity: str  # entity IRI
    note: str  # note path
    start: int
    end: int
    text: str
    sentence: str = ""
    section: str | None = None  # section IRI
    snippet: str | None = None  # snippet IRI
    source: str | None = None  # source IRI when the mention stands in a source's title


@dataclass(frozen=True, slots=True)
class SourceInfo:
    iri: str
    note: str  # note path
    url: str
    title: str | None = None
    section: str | None = None
    snippet: str | None = None


@dataclass(frozen=True, slots=True)
class SectionInfo:
    iri: str
    note: str
    heading: str
    heading_path: str  # headings from the top, joined by " / "
    level: int = 1
    parent: str | None = None


@dataclass(frozen=True, slots=True)
class SnippetInfo:
    iri: str
    note: str
    section: str | None = None


@dataclass(frozen=True)
class LinkInput:
    """What the link pass reads from the store: plain, sorted, hashable data."""

    entities: tuple[EntityInfo, ...] = ()
    mentions: tuple[MentionInfo, ...] = ()
    sources: tuple[SourceInfo, ...] = ()
    sections: tuple[SectionInfo, ...] = ()
    snippets: tuple[SnippetInfo, ...] = ()
    notes: tuple[tuple[str, str], ...] = ()  # (note IRI, path)


# ---------------------------------------------------------------- plain data out


@dataclass(frozen=True, slots=True)
class Coverage:
    source: str
    entity: str
    score: float
    direct: bool
    method: str
    justification: str
    evidence: tuple[str, ...] = ()  # mention IRIs
    via: tuple[str, ...] = ()  # entity IRIs
    matched: tuple[str, ...] = ()  # the forms or features that matched


@dataclass(frozen=True, slots=True)
class Related:
    from_entity: str
    to_entity: str
    weight: float
    rank: int
    method: str
    evidence: tuple[str, ...] = ()  # mention IRIs from the best shared context


@dataclass(frozen=True, slots=True)
class EntityStats:
    entity: str
    pagerank: float
    community: int
    degree: int


@dataclass(frozen=True)
class LinkResult:
    coverages: tuple[Coverage, ...] = ()
    related: tuple[Related, ...] = ()
    stats: tuple[EntityStats, ...] = ()
    params: tuple[tuple[str, Any], ...] = ()

    def counts(self) -> dict[str, int]:
        """How many links of each kind.

        >>> LinkResult().counts()
        {'coverage_direct': 0, 'coverage_inferred': 0, 'related': 0, 'entities': 0, 'communities': 0}
        """
        direct = sum(1 for c in self.coverages if c.direct)
        return {
            "coverage_direct": direct,
            "coverage_inferred": len(self.coverages) - direct,
            "related": len(self.related),
            "entities": len(self.stats),
            "communities": len({s.community for s in self.stats}),
        }


@dataclass(frozen=True, slots=True)
class Hop:
    """One step of a path: two entities named in the same snippet, section or source title."""

    from_iri: str
    to_iri: str
    from_name: str
    to_name: str
    kind: str  # "snippet", "section" or "source"
    via: str  # IRI of the shared snippet, section or source
    evidence: str  # the sentences (or title) that name both
    note: str  # note path
    from_mention: str  # mention IRI
    mention: str  # mention IRI of the entity reached
    source: str | None = None  # source IRI when kind == "source"


#: tunable parameters of :func:`compute_links`
DEFAULTS: dict[str, Any] = {
    "top_k": 6,  # related entities kept per entity
    "hub_degree": 80,  # contexts naming more entities than this are hubs
    "df_cap": 60,  # features in more source titles than this only score sources of the same note
    "min_inferred": 0.25,  # inferred coverage below this is dropped
    "max_inferred": 5,  # inferred coverages kept per entity
    "seed": 7,  # Louvain's seed
}

_KG = "https://w3id.org/kg/ns#"
_ROUND = 6

# ---------------------------------------------------------------- reading the store

# Each note's named graph repeats the entities it mentions; patterns are matched inside one graph
# (GRAPH ?g) so that the union of graphs does not multiply rows.
_Q_ENTITIES = """
SELECT DISTINCT ?e ?key ?name ?cls WHERE { GRAPH ?g {
  VALUES ?cls { kg:Person kg:Event kg:Paper kg:Place kg:Organization }
  ?e a ?cls ; kg:key ?key ; kg:name ?name .
} }"""
_Q_ALIASES = "SELECT DISTINCT ?e ?alias WHERE { GRAPH ?g { ?e kg:alias ?alias } }"
_Q_NOTES = "SELECT ?n ?path WHERE { GRAPH ?g { ?n a kg:Note ; kg:path ?path } }"
_Q_MENTIONS = """
SELECT ?m ?e ?n ?start ?end ?text ?sentence ?section ?snippet ?source WHERE { GRAPH ?g {
  ?m a kg:Mention ; kg:mentionOf ?e ; kg:note ?n ; kg:start ?start ; kg:end ?end ; kg:text ?text .
  OPTIONAL { ?m kg:sentence ?sentence }
  OPTIONAL { ?m kg:section ?section }
  OPTIONAL { ?m kg:snippet ?snippet }
  OPTIONAL { ?m kg:inSource ?source }
} }"""
_Q_SOURCES = """
SELECT ?s ?n ?url ?title ?section ?snippet WHERE { GRAPH ?g {
  ?s a kg:Source ; kg:note ?n ; kg:url ?url .
  OPTIONAL { ?s kg:title ?title }
  OPTIONAL { ?s kg:section ?section }
  OPTIONAL { ?s kg:snippet ?snippet }
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
    mentions = {}
    for r in select(_Q_MENTIONS):
        mentions[r["m"]] = MentionInfo(r["m"], r["e"], path(r["n"]), int(r["start"]), int(r["end"]), r["text"],
                                       r.get("sentence") or "", r.get("section"), r.get("snippet"), r.get("source"))
    sources = {}
    for r in select(_Q_SOURCES):
        sources[r["s"]] = SourceInfo(r["s"], path(r["n"]), r["url"], r.get("title"), r.get("section"),
                                     r.get("snippet"))
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


# ---------------------------------------------------------------- text features

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_URL_RE = re.compile(r"(?:https?|ftp)://\S+|www\.\S+", re.IGNORECASE)
_TOKEN_RE = re.compile(rf"[{_CJK}]+|[a-z0-9]+")
_CJK_RE = re.compile(rf"[{_CJK}]")
# function characters: they split the leftover Chinese text before it is cut into bigrams
_CJK_STOP = set("的了在是和与及或之把被对从为等这那你我他她它们吗呢啊吧个一也都而就还又很最更其中上下于以由")
_EN_STOP = frozenset(
    "a an the and or of for to in on at by with from into as is are was were be been being this that these those "
    "it its via vs not no how what why when where which who whom we you they our your their i my me he she his her "
    "do does did can could should would will shall may might must about over under than then so such also all any "
    "some more most very just new one two three using use used based towards toward".split())
_W_CONCEPT, _W_GENERIC, _W_WORD, _W_BIGRAM = 1.5, 0.3, 1.0, 0.6


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


@dataclass(frozen=True)
class _Glossary:
    en: dict[tuple[str, ...], tuple[str, ...]]  # stemmed word tuple -> concepts
    zh: dict[str, tuple[str, ...]]
    generic: frozenset[str]  # concepts that say what kind of text, not what about
    en_max: int
    zh_max: int
    zh_heads: frozenset[str] = frozenset()  # first two characters of every Chinese form


@lru_cache(maxsize=1)
def _glossary() -> _Glossary:
    en: dict[tuple[str, ...], set[str]] = defaultdict(set)
    zh: dict[str, set[str]] = defaultdict(set)
    generic: set[str] = set()
    file = Path(__file__).parent / "data" / "glossary_en_zh.tsv"
    for line in file.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#") or "\t" not in line:
            continue
        cols = line.split("\t")
        en_side, zh_side = cols[0], cols[1]
        forms = [f.strip() for f in en_side.split("|") if f.strip()]
        concept = " ".join(_stem(w) for w in re.findall(r"[a-z0-9]+", _norm(forms[0])))
        if len(cols) > 2 and cols[2].strip() == "generic":
            generic.add("t:" + concept)
        for f in forms:
            words = tuple(_stem(w) for w in re.findall(r"[a-z0-9]+", _norm(f)))
            if words:
                en[words].add(concept)
        for f in zh_side.split("|"):
            f = _norm(f.strip())
            if len(f) >= 2 and _CJK_RE.search(f):
                zh[f].add(concept)
    return _Glossary(
        {k: tuple(sorted(v)) for k, v in en.items()},
        {k: tuple(sorted(v)) for k, v in zh.items()},
        frozenset(generic),
        max((len(k) for k in en), default=1),
        max((len(k) for k in zh), default=2),
        frozenset(k[:2] for k in zh),
    )


def text_features(text: str) -> Counter:
    """The bag of features of a text: ``t:`` glossary concepts, ``w:`` English words, ``c:`` Chinese bigrams.

    URLs are removed first.  Concepts bridge the two languages:

    >>> a, b = text_features("Personalized Recommendations"), text_features("个性化推荐")
    >>> sorted(set(a) & set(b))
    ['t:personalized', 't:recommendation']
    >>> text_features("see https://example.org/ple-model")
    Counter({'w:see': 1})
    """
    g = _glossary()
    out: Counter = Counter()
    text = _URL_RE.sub(" ", _norm(text))
    words: list[str] = []

    def flush_words() -> None:
        if not words:
            return
        covered = [False] * len(words)
        i = 0
        while i < len(words):  # greedy longest match, left to right
            for n in range(min(g.en_max, len(words) - i), 0, -1):
                concepts = g.en.get(tuple(words[i:i + n]))
                if concepts:
                    _emit(concepts, g, out)
                    for j in range(i, i + n):
                        covered[j] = True
                    i += n
                    break
            else:
                i += 1
        for w, cov in zip(words, covered):
            if not cov and len(w) >= 2 and w not in _EN_STOP and not w.isdigit():
                out["w:" + w] += 1
        words.clear()

    for tok in _TOKEN_RE.findall(text):
        if _CJK_RE.match(tok):
            flush_words()
            _cjk_features(tok, g, out)
        else:
            words.append(_stem(tok))
    flush_words()
    return out


def _emit(concepts: Iterable[str], g: _Glossary, out: Counter) -> None:
    """Count concepts; a phrase made of known words ("recommender system") also counts theirs."""
    for c in concepts:
        out["t:" + c] += 1
        words = c.split()
        if len(words) > 1 and all((w,) in g.en for w in words):
            for w in words:
                for sub in g.en[(w,)]:
                    out["t:" + sub] += 1


def _cjk_features(run: str, g: _Glossary, out: Counter) -> None:
    covered = [False] * len(run)
    n = len(run)
    i = 0
    heads = g.zh_heads
    while i < n:  # greedy longest match, left to right
        if run[i:i + 2] not in heads:
            i += 1
            continue
        for length in range(min(g.zh_max, n - i), 1, -1):
            concepts = g.zh.get(run[i:i + length])
            if concepts:
                _emit(concepts, g, out)
                for j in range(i, i + length):
                    covered[j] = True
                i += length
                break
        else:
            i += 1
    piece: list[str] = []
    for ch, cov in zip(run + " ", covered + [True]):
        if cov or ch in _CJK_STOP:
            for a, b in zip(piece, piece[1:]):
                out["c:" + a + b] += 1
            piece = []
        else:
            piece.append(ch)


def _feature_weight(f: str) -> float:
    if f[0] == "t":
        return _W_GENERIC if f in _glossary().generic else _W_CONCEPT
    return _W_WORD if f[0] == "w" else _W_BIGRAM


def _vector(bags: Iterable[tuple[Counter, float]], idf: Mapping[str, float], default_idf: float) -> dict[str, float]:
    acc: dict[str, float] = defaultdict(float)
    for bag, w in bags:
        for f, tf in bag.items():
            acc[f] += w * (1.0 + math.log(tf))
    vec = {f: v * _feature_weight(f) * idf.get(f, default_idf) for f, v in acc.items()}
    norm = math.sqrt(sum(v * v for v in vec.values()))
    return {f: v / norm for f, v in vec.items()} if norm else {}


# ---------------------------------------------------------------- names in titles

_LATIN = re.compile(r"[0-9A-Za-z\u00c0-\u024f]")


def _is_acronym(form: str) -> bool:
    return 2 <= len(form) <= 8 and form.upper() == form and bool(re.fullmatch(r"[A-Z0-9&\-]+", form)) \
        and any(c.isalpha() for c in form)


def names_in(title: str, form: str) -> bool:
    """Whether ``title`` names ``form`` as a whole word (URLs removed; acronyms only in capitals).

    >>> names_in("PLE: progressive layered extraction", "PLE")
    True
    >>> names_in("A SIMPLE model", "PLE"), names_in("IMPLEMENTING it", "PLE"), names_in("see ple.com", "PLE")
    (False, False, False)
    >>> names_in("https://x.org/PLE-paper explained", "PLE")
    False
    >>> names_in("PLE模型详解", "PLE"), names_in("池田成彬传", "池田成彬")
    (True, True)
    """
    return _find_form(_URL_RE.sub(" ", unicodedata.normalize("NFKC", title)), form) is not None


def _find_form(title: str, form: str) -> int | None:
    form = unicodedata.normalize("NFKC", form).strip()
    if len(form) < 2:
        return None
    acronym = _is_acronym(form)
    hay, needle = (title, form) if acronym else (title.casefold(), form.casefold())
    start = hay.find(needle)
    while start >= 0:
        end = start + len(needle)
        before = hay[start - 1] if start else " "
        after = hay[end] if end < len(hay) else " "
        ok = not (_LATIN.match(needle[0]) and (_LATIN.match(before) or before in "./@_-" and _LATIN.match(
            hay[start - 2] if start >= 2 else " ")))
        ok = ok and not (_LATIN.match(needle[-1]) and (_LATIN.match(after) or (after in "._" and end + 1 < len(hay)
                                                                                and _LATIN.match(hay[end + 1]))))
        if ok:
            return start
        start = hay.find(needle, start + 1)
    return None


# ---------------------------------------------------------------- the pass


@dataclass
class _Context:
    """An entity as one note speaks of it."""

    entity: str
    note: str
    top_sections: set[str] = field(default_factory=set)
    heading: str = ""
    vector: dict[str, float] = field(default_factory=dict)


def compute_links(data: LinkInput, **params: Any) -> LinkResult:
    """Relatedness, coverage, centrality and communities from the link input (deterministic).

    Parameters (see :data:`DEFAULTS`): ``top_k``, ``hub_degree``, ``df_cap``,
    ``min_inferred``, ``max_inferred``, ``seed``.

    >>> e = [EntityInfo("e:ple", "Paper/PLE", "Paper", "PLE", ("Progressive Layered Extraction",)),
    ...      EntityInfo("e:mmoe", "Paper/MMoE", "Paper", "MMoE")]
    >>> m = [MentionInfo("m:1", "e:ple", "a.md", 10, 13, "PLE", "PLE and MMoE are multi-task models.", snippet="s:1"),
    ...      MentionInfo("m:2", "e:mmoe", "a.md", 18, 22, "MMoE", "PLE and MMoE are multi-task models.",
    ...                  snippet="s:1")]
    >>> s = [SourceInfo("src:1", "a.md", "https://x.org/1", "PLE explained"),
    ...      SourceInfo("src:2", "a.md", "https://x.org/2", "多任务模型"),
    ...      SourceInfo("src:3", "a.md", "https://x.org/3", "A SIMPLE recipe")]
    >>> r = compute_links(LinkInput(tuple(e), tuple(m), tuple(s)))
    >>> [(c.source, c.direct) for c in coverage_of(r, "e:ple")]
    [('src:1', True), ('src:2', False)]
    >>> [(x.from_entity, x.to_entity, x.rank) for x in r.related]
    [('e:mmoe', 'e:ple', 1), ('e:ple', 'e:mmoe', 1)]
    """
    p = {**DEFAULTS, **params}
    unknown = set(params) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown link parameters: {', '.join(sorted(unknown))}")
    entities = {e.iri: e for e in data.entities}
    # mentions of entities that are not declared still count (name from the mention)
    for m in data.mentions:
        if m.entity not in entities:
            entities[m.entity] = EntityInfo(m.entity, m.entity, "Entity", m.text)
    sections = {s.iri: s for s in data.sections}

    related, degree, best_ctx = _relatedness(data, entities, p)
    stats = _centrality(entities, related, degree, p)
    coverages = _coverage(data, entities, sections, related, p)
    return LinkResult(
        coverages=coverages,
        related=tuple(r for rs in (related[k] for k in sorted(related)) for r in rs),
        stats=stats,
        params=tuple(sorted(p.items())),
    )


def _contexts_of(m: MentionInfo) -> list[tuple[str, float, str]]:
    """The contexts a mention puts its entity in: (context IRI, weight, kind)."""
    out = []
    if m.snippet:
        out.append((m.snippet, 1.0, "snippet"))
    if m.section:
        out.append((m.section, 0.5, "section"))
    if m.source:
        out.append((m.source, 1.0, "source"))
    return out


def _relatedness(data: LinkInput, entities: Mapping[str, EntityInfo], p: Mapping[str, Any]):
    members: dict[str, dict[str, str]] = defaultdict(dict)  # context -> entity -> first mention IRI
    weight: dict[str, float] = {}
    for m in data.mentions:
        for ctx, w, _ in _contexts_of(m):
            members[ctx].setdefault(m.entity, m.iri)
            weight[ctx] = w
    scores: dict[tuple[str, str], float] = defaultdict(float)
    best: dict[tuple[str, str], tuple[float, str]] = {}
    neighbours: dict[str, set[str]] = defaultdict(set)
    hub = p["hub_degree"]
    for ctx in sorted(members):
        ents = sorted(members[ctx])
        d = len(ents)
        if d < 2 or d > hub:
            continue
        add = weight[ctx] / math.log(1.0 + d)
        for i, a in enumerate(ents):
            for b in ents[i + 1:]:
                scores[a, b] += add
                neighbours[a].add(b)
                neighbours[b].add(a)
                if (a, b) not in best or add > best[a, b][0]:
                    best[a, b] = (add, ctx)
    per: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for (a, b), s in scores.items():
        per[a].append((s, b))
        per[b].append((s, a))
    related: dict[str, list[Related]] = {}
    k = p["top_k"]
    for a in sorted(per):
        top = sorted(per[a], key=lambda t: (-t[0], t[1]))[:k]
        rows = []
        for rank, (s, b) in enumerate(top, 1):
            pair = (a, b) if a < b else (b, a)
            ctx = best[pair][1]
            ev = tuple(sorted({members[ctx][a], members[ctx][b]}))
            rows.append(Related(a, b, round(s, _ROUND), rank, "adamic-adar:snippet+section+source", ev))
        related[a] = rows
    degree = {e: len(neighbours.get(e, ())) for e in entities}
    return related, degree, best


def _centrality(entities: Mapping[str, EntityInfo], related: Mapping[str, list[Related]],
                degree: Mapping[str, int], p: Mapping[str, Any]) -> tuple[EntityStats, ...]:
    g = nx.Graph()
    g.add_nodes_from(sorted(entities))
    for a in sorted(related):
        for r in related[a]:
            w = r.weight
            if g.has_edge(a, r.to_entity):
                w = max(w, g[a][r.to_entity]["weight"])
            g.add_edge(a, r.to_entity, weight=w)
    try:
        import scipy  # noqa: F401  networkx's PageRank needs it

        pr = nx.pagerank(g, weight="weight") if g.number_of_edges() else _pagerank(g)
    except ImportError:
        pr = _pagerank(g)
    communities = nx.community.louvain_communities(g, weight="weight", seed=p["seed"]) if g.number_of_edges() \
        else [{n} for n in g]
    ordered = sorted((sorted(c) for c in communities), key=lambda c: (-len(c), c[0]))
    community = {n: i for i, c in enumerate(ordered) for n in c}
    return tuple(EntityStats(e, round(pr[e], _ROUND + 3), community[e], degree.get(e, 0)) for e in sorted(entities))


def _pagerank(g: nx.Graph, alpha: float = 0.85, tol: float = 1e-9, max_iter: int = 100) -> dict[str, float]:
    """Weighted PageRank by power iteration (pure Python, deterministic, no SciPy)."""
    nodes = list(g)
    n = len(nodes)
    if not n:
        return {}
    adj = {u: [(v, d["weight"]) for v, d in g[u].items()] for u in nodes}
    strength = {u: sum(w for _, w in adj[u]) for u in nodes}
    dangling_nodes = [u for u in nodes if not strength[u]]
    rank = dict.fromkeys(nodes, 1.0 / n)
    for _ in range(max_iter):
        dangling = alpha * sum(rank[u] for u in dangling_nodes) / n
        new = dict.fromkeys(nodes, (1.0 - alpha) / n + dangling)
        for u in nodes:
            su = strength[u]
            if su:
                share = alpha * rank[u] / su
                for v, w in adj[u]:
                    new[v] += share * w
        err = sum(abs(new[u] - rank[u]) for u in nodes)
        rank = new
        if err < n * tol:
            break
    return rank


class _Profiles:
    """How close a title is to an entity: its context in the title's note, else the mean of its contexts.

    Looking at one context (or one mean) per title keeps this linear however many notes name the entity.
    """

    def __init__(self, contexts: Mapping[str, list[_Context]]):
        self.contexts = contexts
        self.by_note = {(c.entity, c.note): c for cs in contexts.values() for c in cs}
        self._mean: dict[str, dict[str, float]] = {}

    def mean(self, e: str) -> dict[str, float]:
        vec = self._mean.get(e)
        if vec is None:
            acc: dict[str, float] = defaultdict(float)
            for c in self.contexts.get(e, ()):
                for f, v in c.vector.items():
                    acc[f] += v
            top = sorted(acc.items(), key=lambda t: (-t[1], t[0]))[:300]
            norm = math.sqrt(sum(v * v for _, v in top))
            vec = self._mean[e] = {f: v / norm for f, v in top} if norm else {}
        return vec

    def sim(self, sv: Mapping[str, float], e: str, note: str) -> float:
        ctx = self.by_note.get((e, note))
        vec = ctx.vector if ctx is not None else self.mean(e)
        return sum(v * vec.get(f, 0.0) for f, v in sv.items())

    def at_home(self, e: str, note: str) -> bool:
        return (e, note) in self.by_note


def _top_section(iri: str | None, sections: Mapping[str, SectionInfo]) -> str | None:
    seen = 0
    while iri is not None and iri in sections and sections[iri].parent and seen < 50:
        iri = sections[iri].parent
        seen += 1
    return iri


def _coverage(data: LinkInput, entities: Mapping[str, EntityInfo], sections: Mapping[str, SectionInfo],
              related: Mapping[str, list[Related]], p: Mapping[str, Any]) -> tuple[Coverage, ...]:
    sources = [s for s in data.sources]
    src_by_iri = {s.iri: s for s in sources}
    # --- source title features and IDF
    src_bags: dict[str, Counter] = {s.iri: text_features(s.title) for s in sources if s.title}
    df: Counter = Counter()
    for bag in src_bags.values():
        df.update(bag.keys())
    n_docs = len(src_bags)
    idf = {f: math.log((n_docs + 1) / (c + 1)) + 1.0 for f, c in df.items()}
    default_idf = math.log(n_docs + 1) + 1.0
    src_vec = {s: _vector([(bag, 1.0)], idf, default_idf) for s, bag in src_bags.items()}
    src_top = {s.iri: _top_section(s.section, sections) for s in sources}
    # inverted index: feature -> [(source, weight)], over all sources and per note
    postings: dict[str, list[tuple[str, float]]] = defaultdict(list)
    note_postings: dict[str, dict[str, list[tuple[str, float]]]] = defaultdict(lambda: defaultdict(list))
    for s in sorted(src_vec):
        note = src_by_iri[s].note
        for f, w in src_vec[s].items():
            postings[f].append((s, w))
            note_postings[note][f].append((s, w))

    # --- entity contexts, one per (entity, note)
    ctx_parts: dict[tuple[str, str], dict[str, Any]] = {}
    for m in data.mentions:
        key = (m.entity, m.note)
        part = ctx_parts.get(key)
        if part is None:
            part = ctx_parts[key] = {"sentences": set(), "headings": set(), "tops": set(), "heading": ""}
        if m.sentence:
            part["sentences"].add(m.sentence)
        if m.section and m.section in sections:
            part["headings"].add(sections[m.section].heading_path)
            if not part["heading"]:
                part["heading"] = sections[m.section].heading_path
        top = _top_section(m.section, sections) if m.section else None
        if top:
            part["tops"].add(top)
    memo: dict[str, Counter] = {}

    def feats(text: str) -> Counter:
        bag = memo.get(text)
        if bag is None:
            bag = memo[text] = text_features(text)
        return bag

    name_bags = {e: feats(" ; ".join((ent.name,) + ent.aliases)) for e, ent in entities.items()}
    contexts: dict[str, list[_Context]] = defaultdict(list)
    for (e, note) in sorted(ctx_parts):
        part = ctx_parts[e, note]
        bags = [(name_bags[e], 1.0)]
        bags += [(feats(s), 1.0) for s in sorted(part["sentences"])]
        bags += [(feats(h), 0.5) for h in sorted(part["headings"])]
        contexts[e].append(_Context(e, note, part["tops"], part["heading"], _vector(bags, idf, default_idf)))

    # --- direct coverage
    profiles = _Profiles(contexts)
    direct: dict[tuple[str, str], Coverage] = {}
    mentioned_in_note: dict[str, set[str]] = defaultdict(set)
    for m in data.mentions:
        mentioned_in_note[m.note].add(m.entity)
    for m in data.mentions:
        if m.source and m.source in src_by_iri:
            key = (m.source, m.entity)
            prev = direct.get(key)
            ev = tuple(sorted(set(prev.evidence) | {m.iri})) if prev else (m.iri,)
            direct[key] = _direct(src_by_iri[m.source], entities[m.entity], m.text, ev, "mention-in-title",
                                  profiles, src_vec)
    forms = _form_index(entities)
    named: dict[str, set[str]] = defaultdict(set)  # source -> entities one of whose forms its title names
    for s in sources:
        if not s.title:
            continue
        title = _URL_RE.sub(" ", unicodedata.normalize("NFKC", s.title))
        for form, ents in _forms_in(title, forms):
            named[s.iri].update(ents)
            cands = [e for e in ents if (s.iri, e) not in direct]
            if len(cands) < len(ents) or not cands:
                continue  # a mention already settled this form here
            chosen, why = _disambiguate(s, cands, ents, mentioned_in_note, profiles, src_vec)
            for e in chosen:
                direct[s.iri, e] = _direct(s, entities[e], form, (), "name-in-title", profiles, src_vec, why)

    # --- inferred coverage
    rel_weight: dict[str, dict[str, float]] = {a: {r.to_entity: r.weight for r in rs} for a, rs in related.items()}
    src_entities: dict[str, set[str]] = defaultdict(set)
    for (s, e) in direct:
        src_entities[s].add(e)
    cap, min_inferred = p["df_cap"], p["min_inferred"]
    out: list[Coverage] = list(direct.values())
    for e in sorted(contexts):
        best: dict[str, tuple[float, float, _Context, tuple[str, ...]]] = {}
        rw = rel_weight.get(e, {})
        max_rw = max(rw.values(), default=0.0)
        for ctx in contexts[e]:
            vec = ctx.vector
            local = note_postings.get(ctx.note, {})
            acc: dict[str, float] = defaultdict(float)
            for f, v in vec.items():  # sparse dot products through the inverted index
                post = postings.get(f)
                if not post:
                    continue
                for s, w in (post if len(post) <= cap else local.get(f, ())):
                    acc[s] += v * w
            for s, sim in acc.items():
                if sim * 1.0 + 0.2 < min_inferred or (s, e) in direct or e in named.get(s, ()):
                    continue  # too weak, or named outright (direct for this entity or for another of that name)
                src = src_by_iri[s]
                prox = 1.0 if src_top.get(s) and src_top[s] in ctx.top_sections else 0.9 if src.note == ctx.note \
                    else 0.8
                named_here = src_entities.get(s)
                via: tuple[str, ...] = ()
                bonus = 0.0
                if named_here and rw:
                    via = tuple(sorted((x for x in named_here if x in rw), key=lambda x: (-rw[x], x)))[:3]
                    bonus = 0.2 * (rw[via[0]] / max_rw) if via and max_rw else 0.0
                score = sim * prox + bonus
                score = score if score < 0.999 else 0.999
                if s not in best or score > best[s][0]:
                    best[s] = (score, sim, ctx, via)
        ranked = sorted(((v[0], s) for s, v in best.items() if v[0] >= p["min_inferred"]),
                        key=lambda t: (-t[0], t[1]))[:p["max_inferred"]]
        for score, s in ranked:
            _, sim, ctx, via = best[s]
            shared = _shared(src_vec[s], ctx.vector)
            where = f"{ctx.note}" + (f" § {ctx.heading}" if ctx.heading else "")
            place = ("under the same heading" if src_top.get(s) in ctx.top_sections else
                     "in the same note" if src_by_iri[s].note == ctx.note else f"in {src_by_iri[s].note}")
            why = (f"inferred: the title \"{src_by_iri[s].title}\" shares {', '.join(shared)} with how "
                   f"{entities[e].name} is spoken of in {where} (similarity {sim:.2f}); the source is {place}")
            if via:
                why += "; the title names related " + ", ".join(entities[v].name for v in via)
            out.append(Coverage(s, e, round(score, _ROUND), False, "tfidf-glossary+graph", why, (), via,
                                tuple(shared)))
    return tuple(sorted(out, key=lambda c: (c.entity, -c.score, c.source)))


def _shared(a: Mapping[str, float], b: Mapping[str, float], n: int = 5) -> list[str]:
    common = sorted((f for f in a if f in b), key=lambda f: (-a[f] * b[f], f))[:n]
    return [f[2:] for f in common]


def _direct(src: SourceInfo, ent: EntityInfo, form: str, evidence: tuple[str, ...], method: str,
            profiles: _Profiles, src_vec: Mapping[str, dict[str, float]], why: str = "") -> Coverage:
    sim = profiles.sim(src_vec.get(src.iri, {}), ent.iri, src.note)
    at_home = profiles.at_home(ent.iri, src.note)
    score = 1.0 + 0.5 * min(sim, 1.0) + (0.3 if evidence else 0.0) + (0.15 if at_home else 0.0)
    text = f"direct: the title \"{src.title}\" names \"{form}\"" + (
        f" ({ent.name})" if form != ent.name else "")
    if evidence:
        text += " — the mention in the title is the evidence"
    if why:
        text += "; " + why
    return Coverage(src.iri, ent.iri, round(min(score, 1.999), _ROUND), True, method, text, evidence, (), (form,))


def _form_index(entities: Mapping[str, EntityInfo]) -> dict[str, dict[str, list[str]]]:
    """Entity names and aliases by their first two (case-folded) characters: prefix -> form -> entities."""
    idx: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for e in sorted(entities):
        ent = entities[e]
        for form in sorted({ent.name, *ent.aliases}):
            form = unicodedata.normalize("NFKC", form).strip()
            if len(form) < 2 or form.isdigit() or (len(form) < 2 and _CJK_RE.match(form)):
                continue
            if e not in idx[form[:2].casefold()][form]:
                idx[form[:2].casefold()][form].append(e)
    return idx


def _forms_in(title: str, idx: Mapping[str, Mapping[str, list[str]]]) -> list[tuple[str, list[str]]]:
    low = title.casefold()
    found: dict[str, list[str]] = {}
    for i in range(len(low) - 1):
        bucket = idx.get(low[i:i + 2])
        if not bucket:
            continue
        for form, ents in bucket.items():
            if form not in found and low.startswith(form.casefold(), i) and _find_form(title, form) is not None:
                found[form] = ents
    # a form inside a longer found form of the same entities adds nothing
    return sorted(found.items())


def _disambiguate(src: SourceInfo, cands: list[str], all_ents: list[str], in_note: Mapping[str, set[str]],
                  profiles: _Profiles, src_vec: Mapping[str, dict[str, float]]):
    if len(cands) == 1:
        return cands, ""
    here = [e for e in cands if e in in_note.get(src.note, ())]
    if len(here) == 1:
        return here, f"of the {len(all_ents)} entities named so, only this one is mentioned in {src.note}"
    pool = here or cands
    sv = src_vec.get(src.iri, {})
    sims = {e: profiles.sim(sv, e, src.note) for e in pool}
    top = max(sims.values())
    best = [e for e in pool if sims[e] == top]
    if len(best) == 1 and top > 0:
        return best, f"of the {len(all_ents)} entities named so, this one's context is closest to the title"
    return sorted(pool), f"ambiguous: {len(pool)} entities are named so and the context does not tell them apart"


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
        if t in forms or (not _is_acronym(t) and t.casefold() in {f.casefold() for f in forms}):
            out.append(e)
        elif _is_acronym(t) and re.search(r"\(\s*" + re.escape(t) + r"\s*\)", e.name):
            out.append(e)
    return out


# ---------------------------------------------------------------- RDF


def link_triples(result: LinkResult) -> Iterable[tuple]:
    """The triples of the links named graph (rdflib terms), following ``schemas/kg.ttl``.

    >>> r = LinkResult(coverages=(Coverage("https://x/s", "https://x/e", 1.5, True, "m", "why", ("https://x/m",)),))
    >>> len(list(link_triples(r)))
    10
    """
    from rdflib import RDF, XSD, Literal, URIRef

    from kg.vocab import KG, coverage_iri, relatedness_iri

    def dbl(x: float) -> Literal:
        return Literal(repr(float(x)), datatype=XSD.double)

    def integer(x: int) -> Literal:
        return Literal(int(x), datatype=XSD.integer)

    for c in result.coverages:
        node = coverage_iri(c.source, c.entity)
        src, ent = URIRef(c.source), URIRef(c.entity)
        yield node, RDF.type, KG.Coverage
        yield src, KG.covers, ent
        yield src, KG.coverage, node
        yield node, KG.source, src
        yield node, KG.entity, ent
        yield node, KG.score, dbl(c.score)
        yield node, KG.direct, Literal(c.direct, datatype=XSD.boolean)
        yield node, KG.method, Literal(c.method)
        yield node, KG.justification, Literal(c.justification)
        for m in c.evidence:
            yield node, KG.evidence, URIRef(m)
        for v in c.via:
            yield node, KG.via, URIRef(v)
    for r in result.related:
        node = relatedness_iri(r.from_entity, r.to_entity, r.method)
        a, b = URIRef(r.from_entity), URIRef(r.to_entity)
        yield node, RDF.type, KG.Relatedness
        yield a, KG.relatedTo, b
        yield a, KG.relatedness, node
        yield node, KG.fromEntity, a
        yield node, KG.toEntity, b
        yield node, KG.weight, dbl(r.weight)
        yield node, KG.rank, integer(r.rank)
        yield node, KG.method, Literal(r.method)
        for m in r.evidence:
            yield node, KG.evidence, URIRef(m)
    for s in result.stats:
        e = URIRef(s.entity)
        yield e, KG.pagerank, dbl(s.pagerank)
        yield e, KG.community, integer(s.community)
        yield e, KG.degree, integer(s.degree)


# ---------------------------------------------------------------- paths


def project_graph(data: LinkInput, hub_degree: int = DEFAULTS["hub_degree"]) -> nx.Graph:
    """The networkx projection of the link input.

    Nodes carry ``kind`` (``entity``, ``note``, ``section``, ``snippet``,
    ``source``) and ``name``.  Edges carry ``kind``:

    * ``mention``: entity — snippet / section / source title it is named in,
      with the first such mention's ``mention`` IRI, ``text``, ``sentence``,
      ``note`` and a ``cost`` (1 for snippets and sources, 1.5 for sections);
    * ``part``: snippet/source — section, section — parent section or note;
    * ``cooccurs``: entity — entity with the Adamic–Adar ``weight`` of their
      shared contexts (hubs, contexts naming more than ``hub_degree``
      entities, excluded).

    >>> d = LinkInput((EntityInfo("e:a", "P/A", "Person", "A"),),
    ...               (MentionInfo("m:1", "e:a", "n.md", 0, 1, "A", "A.", snippet="s:1"),))
    >>> g = project_graph(d)
    >>> g.nodes["e:a"]["kind"], g.edges["e:a", "s:1"]["kind"]
    ('entity', 'mention')
    """
    g = nx.Graph()
    for n_iri, path in data.notes:
        g.add_node(n_iri, kind="note", name=path, note=path)
    note_iri = {path: n for n, path in data.notes}
    for e in data.entities:
        g.add_node(e.iri, kind="entity", name=e.name, type=e.type)
    for s in data.sections:
        g.add_node(s.iri, kind="section", name=s.heading_path, note=s.note)
    for s in data.snippets:
        g.add_node(s.iri, kind="snippet", name=s.iri.rsplit("#", 1)[-1], note=s.note)
    for s in data.sources:
        g.add_node(s.iri, kind="source", name=s.title or s.url, note=s.note, url=s.url)
    for s in data.sections:
        parent = s.parent or note_iri.get(s.note)
        if parent:
            g.add_edge(s.iri, parent, kind="part")
    for s in (*data.snippets, *data.sources):
        if s.section:
            g.add_edge(s.iri, s.section, kind="part")
        elif note_iri.get(s.note):
            g.add_edge(s.iri, note_iri[s.note], kind="part")
    members: dict[str, list[str]] = defaultdict(list)
    for m in data.mentions:
        if m.entity not in g:
            g.add_node(m.entity, kind="entity", name=m.text, type="Entity")
        for ctx, w, kind in _contexts_of(m):
            if ctx not in g:
                g.add_node(ctx, kind=kind, name=ctx.rsplit("#", 1)[-1], note=m.note)
            if not g.has_edge(m.entity, ctx):
                g.add_edge(m.entity, ctx, kind="mention", weight=w, cost=1.0 if w >= 1.0 else 1.5,
                           mention=m.iri, text=m.text, sentence=m.sentence, note=m.note)
                members[ctx].append(m.entity)
    for ctx in sorted(members):
        ents = sorted(members[ctx])
        if len(ents) < 2 or len(ents) > hub_degree:
            continue
        add = g.edges[ents[0], ctx]["weight"] / math.log(1.0 + len(ents))
        for i, a in enumerate(ents):
            for b in ents[i + 1:]:
                if g.has_edge(a, b):
                    g.edges[a, b]["weight"] += add
                else:
                    g.add_edge(a, b, kind="cooccurs", weight=add)
    return g


def find_path(graph: nx.Graph, from_iri: str, to_iri: str, max_hops: int = 6,
              hub_degree: int = DEFAULTS["hub_degree"]) -> list[Hop] | None:
    """The shortest meaningful path between two entities, as hops with their evidence; ``None`` if none.

    A meaningful path alternates entity → shared context → entity, where a
    context is a snippet, a section or a source title that names both
    entities (``mention`` edges only).  Notes, ``part`` edges and entity —
    entity shortcuts are left out, and so are hub contexts naming more than
    ``hub_degree`` entities: "both are in the same long note" explains
    nothing.  Among the shortest paths (by hop cost: 1 through a snippet or
    source title, 1.5 through a section) the first in IRI order is taken.

    >>> d = LinkInput(
    ...     (EntityInfo("e:a", "P/A", "Person", "A"), EntityInfo("e:b", "P/B", "Person", "B"),
    ...      EntityInfo("e:c", "P/C", "Person", "C")),
    ...     (MentionInfo("m:1", "e:a", "n.md", 0, 1, "A", "A met B.", snippet="s:1"),
    ...      MentionInfo("m:2", "e:b", "n.md", 6, 7, "B", "A met B.", snippet="s:1"),
    ...      MentionInfo("m:3", "e:b", "n.md", 20, 21, "B", "B wrote to C.", snippet="s:2"),
    ...      MentionInfo("m:4", "e:c", "n.md", 29, 30, "C", "B wrote to C.", snippet="s:2")))
    >>> [(h.from_name, h.to_name, h.kind, h.evidence) for h in find_path(project_graph(d), "e:a", "e:c")]
    [('A', 'B', 'snippet', 'A met B.'), ('B', 'C', 'snippet', 'B wrote to C.')]
    >>> find_path(project_graph(d), "e:a", "e:c", max_hops=1) is None
    True
    """
    if from_iri not in graph or to_iri not in graph:
        return None
    if from_iri == to_iri:
        return []

    def node_ok(n: str) -> bool:
        kind = graph.nodes[n].get("kind")
        if kind == "entity":
            return True
        if kind in ("snippet", "section", "source"):
            return sum(1 for _, _, k in graph.edges(n, data="kind") if k == "mention") <= hub_degree
        return False

    def edge_ok(u: str, v: str) -> bool:
        return graph.edges[u, v].get("kind") == "mention"

    view = nx.subgraph_view(graph, filter_node=node_ok, filter_edge=edge_ok)
    try:
        _, path = nx.bidirectional_dijkstra(view, from_iri, to_iri, weight="cost")
    except (nx.NetworkXNoPath, nx.NodeNotFound):
        return None
    if (len(path) - 1) // 2 > max_hops:
        return None
    hops = []
    for i in range(0, len(path) - 2, 2):
        a, ctx, b = path[i], path[i + 1], path[i + 2]
        ea, eb = graph.edges[a, ctx], graph.edges[ctx, b]
        kind = graph.nodes[ctx]["kind"]
        sentences = [s for s in dict.fromkeys((ea.get("sentence") or ea["text"], eb.get("sentence") or eb["text"]))]
        evidence = graph.nodes[ctx]["name"] if kind == "source" else " … ".join(sentences)
        hops.append(Hop(a, b, graph.nodes[a].get("name", a), graph.nodes[b].get("name", b), kind, ctx, evidence,
                        eb.get("note") or ea.get("note") or "", ea["mention"], eb["mention"],
                        ctx if kind == "source" else None))
    return hops
