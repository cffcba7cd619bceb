"""Links between entities and sources, computed with networkx and written back as RDF.

The link pass reads what the note graphs hold (entities, their mentions,
sources, sections, snippets) through the store's ``select`` into plain data
(:func:`load_link_input`), computes from it (:func:`compute_links`) and turns
the result into triples for the links named graph (:func:`link_triples`).
At query time :func:`project_graph` and :func:`find_path` explain how two
entities are connected.

**Coverage** ("which sources cover PLE?"), one :class:`Coverage` per
(source, entity):

* *direct, by the title*: the source's title names the entity — a mention of
  it stands in the title (``kg:inSource``), or the title contains its name or
  an alias as a whole word (:mod:`kg.terms`: the characters next to a Latin
  form are not letters or digits, so ``SIMPLE`` and ``IMPLEMENTING`` do not
  name ``PLE``; an all-capital acronym matches only in capitals; URLs are
  removed from the title first; a ``/`` is a boundary, so a title listing
  ``MMOE/ESMM/PLE`` names each of them).  When one form names several
  entities (an acronym with two meanings) the entity mentioned in the
  source's own note wins, then the one whose context is closest to the
  title; the justification says which.
* *direct, by the context*: a mention of the entity stands in the prose the
  source belongs to (``kg:contextStart``–``kg:contextEnd``: the paragraphs
  just before its URL line in its snippet, or the paragraph or list item a
  link stands in; see :mod:`kg.notes`), the way these notes are written (a
  paragraph, the URL, the title).  The mentions nearest the link are the
  evidence.
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
context coverage in ``[1, 1.5)``: ``1 + 0.3 × closeness`` of the nearest
mention to the link ``+ 0.1 × (mentions - 1) / 3`` (at most 0.1); title
coverage in ``[1.5, 2)``: ``1.5 + 0.25 × similarity`` of the title to the
entity's context, ``+ 0.15`` when an extracted mention in the title backs it
(``kg:evidence``), ``+ 0.08`` when the source's own note mentions the entity.
So a title hit ranks above a context hit, which ranks above every inferred
one, and within each kind the better-backed, more relevant source ranks
first.  A title that names an entity outright is never *inferred* to cover
another entity of the same name.

**Relatedness** between entities counts the snippets and source titles they
share (a section names both ends in no one sentence or snippet, so it does
not count): Adamic–Adar, a shared context ``c`` adding ``1 / log(1 + deg(c))``,
divided by ``sqrt((n(a) + 5) × (n(b) + 5))``, ``n`` the contexts each is named
in (a smoothed cosine).  The division
damps hubs: a country named in every note shares many snippets with everyone
but is related to each weakly.  Contexts naming more than ``hub_degree``
entities are hubs and add nothing (they would relate everything to
everything, and cost quadratic time).  The ``top_k`` best per entity are kept
with their rank and two evidence mentions that name both ends: in one
sentence where there is one, else in the smallest shared snippet or title.

**Centrality and communities** are computed on the graph of those top-k
links: weighted PageRank (networkx with SciPy, else a pure-Python power iteration) and Louvain
communities (``networkx``, fixed seed, numbered by size then by first IRI; safe from networkx 3.6's
infinite loop, see :func:`communities_of`).
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
    "part_from_triples",
    "Relink",
    "relink",
    "compute_links",
    "link_triples",
    "project_graph",
    "related_in",
    "communities_of",
    "find_path",
    "text_features",
    "names_in",
    "entities_named",
    "coverage_of",
    "DEFAULTS",
]

import math
import operator
import os
import pickle
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager as ContextManager, nullcontext
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import networkx as nx

from kg.model import ENTITY_TYPES
from kg.terms import is_acronym as _is_acronym, normalise_term, word_spans

# ---------------------------------------------------------------- plain data in


# The input records are read-only by convention, not frozen: a pass creates ~10⁵ of them, and a frozen
# dataclass's __init__ (object.__setattr__ per field) costs six times a plain one.  Hashable by value.
@dataclass(slots=True, unsafe_hash=True)
class EntityInfo:
    iri: str
    key: str
    type: str  # one of kg.model.ENTITY_TYPES
    name: str
    aliases: tuple[str, ...] = ()


@dataclass(slots=True, unsafe_hash=True)
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


@dataclass(slots=True, unsafe_hash=True)
class SourceInfo:
    iri: str
    note: str  # note path
    url: str
    title: str | None = None
    section: str | None = None
    snippet: str | None = None
    context_start: int | None = None  # the span of the prose the source belongs to (kg:contextStart, kg:contextEnd)
    context_end: int | None = None


@dataclass(slots=True, unsafe_hash=True)
class SectionInfo:
    iri: str
    note: str
    heading: str
    heading_path: str  # headings from the top, joined by " / "
    level: int = 1
    parent: str | None = None


@dataclass(slots=True, unsafe_hash=True)
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


class _Record:
    """Pickled as the class and its field values: a cache of thousands of notes holds ~10⁵ records, and the
    dataclass default (``__getstate__`` calling ``fields()`` per object) takes seconds to write and read.

    Read-only by convention and hashable by value, not frozen: reading the cache builds every record again,
    and a frozen dataclass's ``__init__`` (``object.__setattr__`` per field) took half of that time."""

    __slots__ = ()

    def __reduce__(self):
        return type(self), _ATTRS[type(self)](self)


@dataclass(slots=True, unsafe_hash=True)
class Coverage(_Record):
    source: str
    entity: str
    score: float
    direct: bool
    method: str
    justification: str
    evidence: tuple[str, ...] = ()  # mention IRIs
    via: tuple[str, ...] = ()  # entity IRIs
    matched: tuple[str, ...] = ()  # the forms or features that matched


@dataclass(slots=True, unsafe_hash=True)
class Related(_Record):
    from_entity: str
    to_entity: str
    weight: float
    rank: int
    method: str
    evidence: tuple[str, ...] = ()  # mention IRIs from the best shared context


@dataclass(slots=True, unsafe_hash=True)
class EntityStats(_Record):
    entity: str
    pagerank: float
    community: int
    degree: int


_ATTRS = {cls: operator.attrgetter(*cls.__dataclass_fields__) for cls in (Coverage, Related, EntityStats)}


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
    "top_k": 10,  # related entities kept per entity (the API computes more from the projection when asked)
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
  VALUES ?cls { %s }
  ?e a ?cls ; kg:key ?key ; kg:name ?name .
} }""" % " ".join("kg:" + t for t in ENTITY_TYPES)
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
    mentions = {}
    for r in select(_Q_MENTIONS):
        mentions[r["m"]] = MentionInfo(r["m"], r["e"], path(r["n"]), int(r["start"]), int(r["end"]), r["text"],
                                       r.get("sentence") or "", r.get("section"), r.get("snippet"), r.get("source"))
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
    >>> names_in("多目标学习在推荐系统的应用(MMOE/ESMM/PLE)", "PLE"), names_in("see github.com/x/PLE", "PLE")
    (True, False)
    """
    return _find_form(_URL_RE.sub(" ", unicodedata.normalize("NFKC", title)), form) is not None


def _find_form(title: str, form: str) -> int | None:
    """Where ``title`` (NFKC, URLs removed) names ``form`` as a word (kg.terms' rules; Chinese as a substring)."""
    form = normalise_term(form)
    if len(form) < 2:
        return None
    spans = word_spans(title, form, chinese_words=False)
    return spans[0][0] if spans else None


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
    result, _ = _compute_full(data, p)
    return result


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


#: how the link pass measures relatedness (kg:method of its kg:Relatedness records)
RELATED_METHOD = "adamic-adar/cosine:snippet+source"
#: contexts added to each entity's count before damping: two entities named together once are not more
#: related than two named together often (plain cosine would rank a one-off co-mention first)
_DAMPING_PRIOR = 5


def _damped(shared: float, n_a: int, n_b: int) -> float:
    """Relatedness from the Adamic–Adar sum of two entities' shared contexts and the contexts each is named in:
    a smoothed cosine, so that an entity named everywhere (a hub) is related to each one weakly.

    >>> round(_damped(5.0, 20, 3000), 3), round(_damped(0.9, 20, 2), 3), round(_damped(7.5, 20, 300), 3)
    (0.018, 0.068, 0.086)
    """
    return shared / math.sqrt((n_a + _DAMPING_PRIOR) * (n_b + _DAMPING_PRIOR))


def _relatedness(data: LinkInput, entities: Mapping[str, EntityInfo], p: Mapping[str, Any],
                 only: set[str] | None = None, freq: Mapping[str, int] | None = None):
    """Top-k related entities per entity, their degrees, and how many contexts each entity is named in.

    ``freq`` (entity → contexts), when given, is used for the entities it holds rather than counted again
    (an incremental pass damps hubs as the last full pass counted them); with ``only``, the rows (and
    degrees) of those entities alone.
    """
    members: dict[str, dict[str, list[tuple[str, str]]]] = defaultdict(dict)  # ctx -> entity -> [(sentence, m)]
    wanted = None  # with ``only``: the contexts those entities are in (no other context adds to their rows)
    if only is not None:
        wanted = {ctx for m in data.mentions if m.entity in only for ctx, _, kind in _contexts_of(m)
                  if kind != "section"}
    counted: dict[str, set[str]] = defaultdict(set)  # entity -> its contexts (those freq does not hold)
    for m in data.mentions:
        if wanted is not None and m.snippet not in wanted and m.source not in wanted and freq is not None \
                and m.entity in freq:
            continue  # (most mentions, when only a few entities' rows are wanted)
        for ctx, _, kind in _contexts_of(m):
            if kind == "section":  # a section names both ends of a pair in no one sentence or snippet
                continue
            if freq is None or m.entity not in freq:
                counted[m.entity].add(ctx)
            if wanted is None or ctx in wanted:
                members[ctx].setdefault(m.entity, []).append((m.sentence, m.iri))
    n_ctx = dict(freq or {})
    n_ctx.update((e, len(c)) for e, c in counted.items())
    del counted
    scores: dict[tuple[str, str], float] = defaultdict(float)
    neighbours: dict[str, set[str]] = defaultdict(set)
    hub = p["hub_degree"]
    for ctx in sorted(members):
        ents = sorted(members[ctx])
        d = len(ents)
        if d < 2 or d > hub or (only is not None and only.isdisjoint(members[ctx])):
            continue
        add = 1.0 / math.log(1.0 + d)
        if only is None:
            pairs: Iterable[tuple[str, str]] = ((a, b) for i, a in enumerate(ents) for b in ents[i + 1:])
        else:  # only the pairs with one of those entities (each once)
            pairs = ((x, y) if x < y else (y, x) for x in ents if x in only
                     for y in ents if y != x and not (y in only and y < x))
        for a, b in pairs:
            scores[a, b] += add
            neighbours[a].add(b)
            neighbours[b].add(a)
    per: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for (a, b), sc in scores.items():
        w = _damped(sc, n_ctx.get(a, 0), n_ctx.get(b, 0))
        per[a].append((w, b))
        per[b].append((w, a))
    ctx_of: dict[str, list[str]] = defaultdict(list)
    for ctx in sorted(members):
        if len(members[ctx]) <= hub:
            for e in members[ctx]:
                ctx_of[e].append(ctx)

    def evidence(a: str, b: str) -> tuple[str, ...]:
        """Two mentions that name both ends: in one sentence where there is one, else in the smallest
        shared snippet or source title."""
        x, y = (a, b) if len(ctx_of[a]) <= len(ctx_of[b]) else (b, a)
        best: tuple | None = None
        for ctx in ctx_of[x]:
            mem = members[ctx]
            if y not in mem:
                continue
            said = {}
            for sentence, iri in mem[x]:
                if sentence:
                    said.setdefault(sentence, iri)
            both = next(((said[sentence], iri) for sentence, iri in mem[y] if sentence in said), None)
            key = (both is None, len(mem), ctx)
            if best is None or key < best[0]:
                best = (key, both or (mem[x][0][1], mem[y][0][1]))
        return tuple(sorted(set(best[1]))) if best is not None else ()

    related: dict[str, list[Related]] = {}
    k = p["top_k"]
    for a in sorted(per):
        if only is not None and a not in only:
            continue
        top = sorted(per[a], key=lambda t: (-t[0], t[1]))[:k]
        related[a] = [Related(a, b, round(w, _ROUND), rank, RELATED_METHOD, evidence(a, b))
                      for rank, (w, b) in enumerate(top, 1)]
    degree = {e: len(neighbours.get(e, ())) for e in (entities if only is None else only)}
    return related, degree, n_ctx


def _centrality(entities: Mapping[str, EntityInfo], related: Mapping[str, list[Related]],
                degree: Mapping[str, int], p: Mapping[str, Any],
                old_community: Mapping[str, int] | None = None) -> tuple[EntityStats, ...]:
    """PageRank and Louvain communities on the graph of top-k links.

    With ``old_community`` (an incremental pass) Louvain is not run again: known entities keep their
    community, a new one joins the community of its strongest related neighbour (else a new one).
    """
    g = nx.Graph()
    g.add_nodes_from(sorted(entities))
    edges: dict[tuple[str, str], list] = {}  # first seen (a, b) -> [a, b, weight]; the graph keeps that order
    for a in sorted(related):
        for r in related[a]:
            b = r.to_entity
            e = edges.get((a, b)) or edges.get((b, a))
            if e is None:
                edges[a, b] = [a, b, r.weight]
            elif r.weight > e[2]:
                e[2] = r.weight
    g.add_weighted_edges_from(edges.values())
    try:
        pr = _pagerank_scipy(list(g), list(edges.values())) if edges else _pagerank(g)
    except ImportError:
        pr = _pagerank(g)
    if old_community is None:
        communities = communities_of(g, p["seed"]) if g.number_of_edges() else [{n} for n in g]
        ordered = sorted((sorted(c) for c in communities), key=lambda c: (-len(c), c[0]))
        community = {n: i for i, c in enumerate(ordered) for n in c}
    else:
        community = {e: old_community[e] for e in entities if e in old_community}
        fresh = max(old_community.values(), default=-1) + 1
        for e in sorted(entities):
            if e in community:
                continue
            near = sorted(((d["weight"], v) for v, d in g[e].items() if v in community), key=lambda t: (-t[0], t[1]))
            if near:
                community[e] = community[near[0][1]]
            else:
                community[e] = fresh
                fresh += 1
    return tuple(EntityStats(e, round(pr[e], _ROUND + 3), community[e], degree.get(e, 0)) for e in sorted(entities))


#: seconds Louvain may take before it is taken to be looping, and the seeds tried in turn
_LOUVAIN_SECONDS = 30.0
_LOUVAIN_TRIES = 3


def communities_of(g: nx.Graph, seed: int, seconds: float | None = None) -> list[set[str]]:
    """Louvain communities of ``g`` (networkx), made safe from its infinite loop.

    networkx 3.6's Louvain can move nodes back and forth forever when round-off makes equal gains look
    unequal (networkx issue #8739, fixed after 3.6.1).  It runs here on integer weights (the weights are
    rounded to 6 decimals, so scaled by 10⁶ they are exact integers and the partition is the same), in a
    child process; one that has not finished within a limit far beyond its usual time (seconds on
    10⁵ links) is stopped and the next seed tried; if none finishes, each connected component is a
    community.  Given the seed, Louvain either finishes or loops forever, so the answer stays deterministic
    unless the machine is over ten times slower than usual.  ``seconds`` sets the limit (default: 30 s and
    1 s per 2000 links).
    """
    gi = nx.Graph()
    gi.add_nodes_from(g)
    gi.add_weighted_edges_from((a, b, max(1, round(d["weight"] * 10 ** _ROUND))) for a, b, d in g.edges(data=True))
    limit = seconds if seconds is not None else _LOUVAIN_SECONDS + gi.number_of_edges() / 2000
    for k in range(_LOUVAIN_TRIES):
        wait = _forked(nx.community.louvain_communities, gi, "weight", 1, 1e-07, None, seed + k)
        try:
            return wait(timeout=limit)
        except TimeoutError:
            continue
    return [set(c) for c in nx.connected_components(g)]


def _pagerank_scipy(nodes: list[str], edges: list, alpha: float = 0.85, tol: float = 1e-6,
                    max_iter: int = 100) -> dict[str, float]:
    """networkx's SciPy PageRank (same matrix, same iteration, same floats) on an undirected edge list,
    without building the matrix edge by edge through the graph API (a second on 10⁵ links)."""
    import numpy as np
    import scipy as sp

    n = len(nodes)
    index = {v: i for i, v in enumerate(nodes)}
    row = np.fromiter((index[a] for a, _, _ in edges), dtype=np.int64, count=len(edges))
    col = np.fromiter((index[b] for _, b, _ in edges), dtype=np.int64, count=len(edges))
    w = np.fromiter((x for _, _, x in edges), dtype=float, count=len(edges))
    loops = row == col  # symmetrising counts a self-loop twice: networkx keeps it once
    r, c = np.concatenate([row, col[~loops]]), np.concatenate([col, row[~loops]])
    d = np.concatenate([w, w[~loops]])
    a = sp.sparse.coo_array((d, (r, c)), shape=(n, n), dtype=float).asformat("csr")
    s = a.sum(axis=1)
    s[s != 0] = 1.0 / s[s != 0]
    a = sp.sparse.dia_array((s.T, 0), shape=a.shape).tocsr() @ a
    x = np.repeat(1.0 / n, n)
    p = np.repeat(1.0 / n, n)
    dangling = np.where(s == 0)[0]
    for _ in range(max_iter):
        last = x
        x = alpha * (x @ a + sum(x[dangling]) * p) + (1 - alpha) * p
        if np.absolute(x - last).sum() < n * tol:
            return dict(zip(nodes, map(float, x)))
    raise nx.PowerIterationFailedConvergence(max_iter)


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
    ``context(e, note)`` gives an entity's context in a note (None where it has none), ``contexts_of(e)``
    all of them in note order.
    """

    def __init__(self, context: Callable[[str, str], _Context | None],
                 contexts_of: Callable[[str], list[_Context]], has: Callable[[str, str], bool]):
        self.context, self.contexts_of, self.has = context, contexts_of, has
        self._mean: dict[str, dict[str, float]] = {}

    def mean(self, e: str) -> dict[str, float]:
        vec = self._mean.get(e)
        if vec is None:
            acc: dict[str, float] = defaultdict(float)
            for c in self.contexts_of(e):
                for f, v in c.vector.items():
                    acc[f] += v
            top = sorted(acc.items(), key=lambda t: (-t[1], t[0]))[:300]
            norm = math.sqrt(sum(v * v for _, v in top))
            vec = self._mean[e] = {f: v / norm for f, v in top} if norm else {}
        return vec

    def sim(self, sv: Mapping[str, float], e: str, note: str) -> float:
        ctx = self.context(e, note)
        vec = ctx.vector if ctx is not None else self.mean(e)
        return sum(v * vec.get(f, 0.0) for f, v in sv.items())

    def at_home(self, e: str, note: str) -> bool:
        return self.has(e, note)


def _top_section(iri: str | None, sections: Mapping[str, SectionInfo]) -> str | None:
    seen = 0
    while iri is not None and iri in sections and sections[iri].parent and seen < 50:
        iri = sections[iri].parent
        seen += 1
    return iri


@dataclass
class _CoverageState:
    """What an incremental pass reuses from the last full one: IDF (frozen), title vectors, named entities."""

    idf: dict[str, float]
    default_idf: float
    src_vec: dict[str, dict[str, float]]
    named: dict[str, set[str]]  # source -> entities one of whose forms its title names
    direct: dict[tuple[str, str], Coverage]  # (source, entity) -> direct coverage
    inferred: dict[str, list[Coverage]]  # entity -> its inferred coverages
    index: dict[str, list[str]]  # feature -> the sources whose title vectors had it (sorted; may list stale ones)
    counts: dict[str, int]  # feature -> how many title vectors have it now


def _coverage(data: LinkInput, entities: Mapping[str, EntityInfo], sections: Mapping[str, SectionInfo],
              related: Mapping[str, list[Related]], p: Mapping[str, Any],
              state: _CoverageState | None = None, fresh_sources: set[str] | None = None,
              touched: set[str] | None = None, stale_sources: set[str] | None = None,
              changes: tuple[list[Coverage], list[Coverage]] | None = None,
              quiet: Callable[[], ContextManager[Any]] = nullcontext) -> tuple[tuple[Coverage, ...], _CoverageState]:
    """Coverage; with ``state`` (incremental) only sources in ``fresh_sources`` (the changed notes'), titles
    naming ``touched`` entities and the inferred coverage of ``touched`` entities are computed again;
    ``stale_sources`` are the sources the changed and removed notes had (the only titles that can be gone).
    ``changes``, two lists, receive the last pass's records that this one dropped or may have changed and
    the records it made: every other record is the last pass's, as it was."""
    dropped, made_now = changes if changes is not None else ([], [])
    sources = [s for s in data.sources]
    src_by_iri = {s.iri: s for s in sources}
    # --- source title features and IDF
    if state is None:
        src_bags: dict[str, Counter] = {s.iri: text_features(s.title) for s in sources if s.title}
        df: Counter = Counter()
        for bag in src_bags.values():
            df.update(bag.keys())
        n_docs = len(src_bags)
        idf = {f: math.log((n_docs + 1) / (c + 1)) + 1.0 for f, c in df.items()}
        default_idf = math.log(n_docs + 1) + 1.0
        src_vec = {s: _vector([(bag, 1.0)], idf, default_idf) for s, bag in src_bags.items()}
    else:  # IDF frozen at the last full pass; new titles get vectors under it.  The last pass's tables are
        # this pass's own: they are patched in place (copying them cost more than the rest of a small pass)
        idf, default_idf = state.idf, state.default_idf
        fresh_sources = fresh_sources or set()
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
            src_vec[s] = _vector([(text_features(src_by_iri[s].title), 1.0)], idf, default_idf)
    top_of: dict[str, str | None] = {}  # source -> its top section, as needed

    def src_top(s: str) -> str | None:
        if s not in top_of:
            top_of[s] = _top_section(src_by_iri[s].section, sections)
        return top_of[s]

    forms = _form_index(entities)
    # sources whose direct coverage is (re)computed, and entities whose contexts are needed
    mentioned_in_note: dict[str, set[str]] = defaultdict(set)  # (of the notes whose titles are read)
    title_mentions: list[MentionInfo] | None = None  # (the mentions in those titles, where not all are)
    note_mentions: list[MentionInfo] | None = None  # (the mentions of those notes, where not all are)
    if state is None:
        redo = [s for s in sources]
        needed: set[str] | None = None
        for m in data.mentions:
            mentioned_in_note[m.note].add(m.entity)
    else:
        touched = touched or set()
        redo_set = {s for s in fresh_sources if s in src_by_iri}
        redo_set.update(s for s, ents in state.named.items() if s in src_by_iri and not touched.isdisjoint(ents))
        redo_set.update(s for (s, e) in state.direct if e in touched and s in src_by_iri)
        redo = [s for s in sources if s.iri in redo_set]
        needed = set(touched)
        for s in redo:
            if s.title:
                for _, ents in _forms_in(_URL_RE.sub(" ", unicodedata.normalize("NFKC", s.title)), forms):
                    needed.update(ents)
        redo_notes = {src_by_iri[s].note for s in redo_set}
        title_mentions = []
        note_mentions = []
        for m in data.mentions:
            if m.note in redo_notes:
                note_mentions.append(m)
                mentioned_in_note[m.note].add(m.entity)
                if m.source in redo_set:
                    needed.add(m.entity)
                    title_mentions.append(m)

    # --- entity contexts, one per (entity, note)
    ctx_parts: dict[tuple[str, str], dict[str, Any]] = {}
    of_section: dict[str, tuple[str | None, str | None]] = {}  # section -> (its heading path, its top section)
    for m in data.mentions:
        if needed is not None and m.entity not in needed:
            continue
        key = (m.entity, m.note)
        part = ctx_parts.get(key)
        if part is None:
            part = ctx_parts[key] = {"sentences": set(), "headings": set(), "tops": set(), "heading": ""}
        if m.sentence:
            part["sentences"].add(m.sentence)
        if m.section:
            facts = of_section.get(m.section)
            if facts is None:
                info = sections.get(m.section)
                facts = of_section[m.section] = (info.heading_path if info is not None else None,
                                                 _top_section(m.section, sections))
            path, top = facts
            if path is not None:
                part["headings"].add(path)
                if not part["heading"]:
                    part["heading"] = path
            if top:
                part["tops"].add(top)
    memo: dict[str, Counter] = {}

    def feats(text: str) -> Counter:
        bag = memo.get(text)
        if bag is None:
            bag = memo[text] = text_features(text)
        return bag

    # a context's vector is made when first wanted: an incremental pass scores all the contexts of the entities
    # it touched, but of the others (named in the titles it reads again) mostly just the one in a title's note
    notes_of: dict[str, list[str]] = defaultdict(list)  # entity -> the notes it has a context in, sorted
    for (e, note) in sorted(ctx_parts):
        notes_of[e].append(note)
    made: dict[tuple[str, str], _Context] = {}
    name_bags: dict[str, Counter] = {}

    def context(e: str, note: str) -> _Context | None:
        ctx = made.get((e, note))
        if ctx is None:
            part = ctx_parts.get((e, note))
            if part is None:
                return None
            name_bag = name_bags.get(e)
            if name_bag is None:
                name_bag = name_bags[e] = feats(" ; ".join((entities[e].name,) + entities[e].aliases))
            bags = [(name_bag, 1.0)]
            bags += [(feats(s), 1.0) for s in sorted(part["sentences"])]
            bags += [(feats(h), 0.5) for h in sorted(part["headings"])]
            ctx = made[e, note] = _Context(e, note, part["tops"], part["heading"], _vector(bags, idf, default_idf))
        return ctx

    def contexts_of(e: str) -> list[_Context]:
        return [context(e, note) for note in notes_of.get(e, ())]  # type: ignore[misc]

    # --- direct coverage
    profiles = _Profiles(context, contexts_of, lambda e, note: (e, note) in ctx_parts)
    direct: dict[tuple[str, str], Coverage] = {}
    redo_iris = {s.iri for s in redo}
    for m in data.mentions if title_mentions is None else title_mentions:
        if m.source and m.source in redo_iris:
            key = (m.source, m.entity)
            prev = direct.get(key)
            ev = tuple(sorted(set(prev.evidence) | {m.iri})) if prev else (m.iri,)
            direct[key] = _direct(src_by_iri[m.source], entities[m.entity], m.text, ev, "mention-in-title",
                                  profiles, src_vec)
    named: dict[str, set[str]] = {}  # source -> entities one of whose forms its title names
    if state is not None:  # what the titles not read again named, and the direct coverage they gave (in place)
        named = state.named
        for s in [s for s in named if s in redo_iris or s not in src_by_iri]:
            del named[s]
        kept = state.direct
        for k in [k for k in kept if k[0] in redo_iris or k[0] not in src_by_iri or k[1] not in entities]:
            dropped.append(kept.pop(k))
        made_now.extend(direct.values())
        kept.update(direct)
        direct = kept
    for s in redo:
        if not s.title:
            continue
        title = _URL_RE.sub(" ", unicodedata.normalize("NFKC", s.title))
        for form, ents in _forms_in(title, forms):
            named.setdefault(s.iri, set()).update(ents)
            cands = [e for e in ents if (s.iri, e) not in direct]
            if len(cands) < len(ents) or not cands:
                continue  # a mention already settled this form here
            chosen, why = _disambiguate(s, cands, ents, mentioned_in_note, profiles, src_vec)
            for e in chosen:
                direct[s.iri, e] = _direct(s, entities[e], form, (), "name-in-title", profiles, src_vec, why)
                if state is not None:
                    made_now.append(direct[s.iri, e])
    # --- context coverage: the prose a source belongs to names the entity (below every title hit)
    with_context: dict[str, list[SourceInfo]] = defaultdict(list)
    for s in redo:
        if s.context_start is not None and s.context_end is not None:
            with_context[s.note].append(s)
    if with_context:
        pool = data.mentions if note_mentions is None else note_mentions
        for key, cov in _context_coverage(with_context, pool, entities).items():
            if key not in direct:
                direct[key] = cov
                if state is not None:
                    made_now.append(cov)

    # --- inferred coverage
    # inverted index: feature -> [(source, weight)], over all sources and per note, looked up for the features
    # that the contexts scored below hold (an incremental pass scores a few entities: a few features)
    # the index (feature -> sources, sorted) and each feature's source count are kept in the state: an
    # incremental pass adds the titles it weighed again, and skips what the index lists that is gone or changed
    if state is None:
        grown: dict[str, list[str]] = defaultdict(list)
        for s in sorted(src_vec):
            for f in src_vec[s]:
                grown[f].append(s)
        index = dict(grown)
        counts = {f: len(ss) for f, ss in index.items()}
    else:
        index, counts = state.index, state.counts
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
    # a feature held by more than df_cap titles only scores the titles of the context's own note
    cap, min_inferred = p["df_cap"], p["min_inferred"]
    postings: dict[str, Any] = {}

    def posting(f: str) -> Any:
        """The titles holding ``f`` with their weights; None for a common feature."""
        post = postings.get(f, postings)  # (the dict itself: not looked up yet)
        if post is postings:
            n = counts.get(f, 0)
            post = postings[f] = (None if n > cap else () if n <= 0 else
                                  [(s, w) for s in index[f] if (w := src_vec.get(s, {}).get(f)) is not None])
        return post
    by_note: dict[str, list[str]] = {}
    note_postings: dict[str, dict[str, list[tuple[str, float]]]] = {}
    common: set[str] = set()  # (filled with the features held by more than df_cap titles when first needed)

    def local_postings(note: str) -> dict[str, list[tuple[str, float]]]:
        found = note_postings.get(note)
        if found is None:
            if not by_note:
                for src in sources:  # sorted by IRI
                    if src.iri in src_vec:
                        by_note.setdefault(src.note, []).append(src.iri)
                common.update(f for f, n in counts.items() if n > cap)
            found = note_postings[note] = defaultdict(list)
            for s in by_note.get(note, ()):
                for f, w in src_vec[s].items():
                    if f in common:
                        found[f].append((s, w))
        return found

    src_entities: dict[str, set[str]] = defaultdict(set)  # what each title names
    for (s, e), c in direct.items():
        if c.method != CONTEXT_METHOD:
            src_entities[s].add(e)
    out: list[Coverage] = list(direct.values())
    inferred: dict[str, list[Coverage]] = defaultdict(list)
    if state is not None:  # untouched entities keep their inferred coverage, less what changed under it
        for e, covs in state.inferred.items():
            if e in touched or e not in entities:
                dropped.extend(covs)
                continue
            for c in covs:
                s = c.source
                if s in src_by_iri and s not in fresh_sources and (s, e) not in direct and e not in named.get(s, ()):
                    inferred[e].append(c)
                else:
                    dropped.append(c)
    def infer(ents: list[str]) -> dict[str, list[Coverage]]:
        found: dict[str, list[Coverage]] = defaultdict(list)
        for e in ents:
            best: dict[str, tuple[float, float, _Context, tuple[str, ...]]] = {}
            rw = rel_weight.get(e, {})
            max_rw = max(rw.values(), default=0.0)
            for ctx in contexts_of(e):
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
                        post = local.get(f, ())
                    for s, w in post:
                        acc[s] += v * w
                for s, sim in acc.items():
                    if sim * 1.0 + 0.2 < min_inferred or (s, e) in direct or e in named.get(s, ()):
                        continue  # too weak, or named outright (direct for this entity or for another of that name)
                    src = src_by_iri[s]
                    top = top_of.get(s, top_of)
                    if top is top_of:
                        top = src_top(s)
                    prox = 1.0 if top and top in ctx.top_sections else 0.9 if src.note == ctx.note else 0.8
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
                place = ("under the same heading" if src_top(s) in ctx.top_sections else
                         "in the same note" if src_by_iri[s].note == ctx.note else f"in {src_by_iri[s].note}")
                why = (f"inferred: the title \"{src_by_iri[s].title}\" shares {', '.join(shared)} with how "
                       f"{entities[e].name} is spoken of in {where} (similarity {sim:.2f}); the source is {place}")
                if via:
                    why += "; the title names related " + ", ".join(entities[v].name for v in via)
                found[e].append(Coverage(s, e, round(score, _ROUND), False, "tfidf-glossary+graph", why, (),
                                         via, tuple(shared)))
        return dict(found)

    todo = [e for e in sorted(notes_of) if state is None or e in touched]
    rel_weight = {a: {r.to_entity: r.weight for r in related[a]} for a in todo if a in related}
    # the scoring is read-only: with many entities to score, two halves of about as many contexts each go to
    # two cores (each making the vectors and postings it needs).  Not for a few entities: a forked child of a
    # big process pays more in copied pages than it saves.
    if len(todo) >= _PARALLEL_ENTITIES:
        mine, theirs = _halves(todo, {e: len(notes_of[e]) for e in todo})
        with quiet():
            theirs_later = _forked(infer, theirs)
        found = infer(mine)
        found.update(theirs_later())
    else:
        found = infer(todo)
    for e in todo:
        if e in found:
            inferred[e].extend(found[e])
            if state is not None:
                made_now.extend(found[e])
    for covs in inferred.values():
        out.extend(covs)
    new_state = _CoverageState(idf, default_idf, src_vec, named, direct, dict(inferred), index, counts)
    if state is not None:  # an incremental pass's records are compared by key: their order is not kept
        return tuple(out), new_state
    return tuple(sorted(out, key=lambda c: (c.entity, -c.score, c.source))), new_state


def _shared(a: Mapping[str, float], b: Mapping[str, float], n: int = 5) -> list[str]:
    common = sorted((f for f in a if f in b), key=lambda f: (-a[f] * b[f], f))[:n]
    return [f[2:] for f in common]


#: the method of context coverage (a mention in the prose a source belongs to)
CONTEXT_METHOD = "mention-in-context"


def _context_coverage(by_note: Mapping[str, list[SourceInfo]], mentions: Iterable[MentionInfo],
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
        score = 1.0 + 0.3 * closeness + 0.1 * min(1.0, (len(ms) - 1) / 3)
        why = f"context: the prose the link belongs to names \"{near.text}\"" + (
            f" ({ent.name})" if near.text != ent.name else "")
        if near.sentence:
            why += f" — \"{_clip(near.sentence, 160)}\""
        out[s, e] = Coverage(s, e, round(min(score, 1.499), _ROUND), True, CONTEXT_METHOD, why,
                             tuple(sorted(m.iri for m in ms[:3])), (), (near.text,))
    return out


def _clip(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n - 1] + "…"


def _direct(src: SourceInfo, ent: EntityInfo, form: str, evidence: tuple[str, ...], method: str,
            profiles: _Profiles, src_vec: Mapping[str, dict[str, float]], why: str = "") -> Coverage:
    sim = profiles.sim(src_vec.get(src.iri, {}), ent.iri, src.note)
    at_home = profiles.at_home(ent.iri, src.note)
    score = 1.5 + 0.25 * min(sim, 1.0) + (0.15 if evidence else 0.0) + (0.08 if at_home else 0.0)
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
      ``note`` and a ``cost``: 1 for snippets and sources, 1.5 for sections,
      plus ``0.8 ln(1 + n)`` for an entity named in ``n`` contexts and
      ``0.2 ln d`` for a context naming ``d`` entities, so that a path through
      a hub (a country every note names) costs more than one through specific
      links;
    * ``part``: snippet/source — section, section — parent section or note;
    * ``cooccurs``: entity — entity with the relatedness ``weight`` of the
      link pass (the Adamic–Adar sum over shared snippets and source titles,
      damped by the two context counts, see ``_damped``; hubs,
      contexts naming more than ``hub_degree`` entities, excluded).

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
    kinds: dict[str, str] = {}
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
                kinds[ctx] = kind
    n_ctx: Counter = Counter()  # contexts (snippets, source titles) each entity is named in
    for ctx, ents in members.items():
        if kinds[ctx] != "section":
            n_ctx.update(ents)
    for ctx, ents in members.items():
        spread = 0.2 * math.log(len(ents))
        for e in ents:
            g.edges[e, ctx]["cost"] += 0.8 * math.log(1.0 + n_ctx.get(e, 0)) + spread
    shared: dict[tuple[str, str], float] = defaultdict(float)
    for ctx in sorted(members):
        ents = sorted(members[ctx])
        if len(ents) < 2 or len(ents) > hub_degree or kinds[ctx] == "section":
            continue
        add = 1.0 / math.log(1.0 + len(ents))
        for i, a in enumerate(ents):
            for b in ents[i + 1:]:
                shared[a, b] += add
    for (a, b), sc in shared.items():
        g.add_edge(a, b, kind="cooccurs", weight=_damped(sc, n_ctx[a], n_ctx[b]))
    return g


def related_in(graph: nx.Graph, iri: str, first: int) -> list[Related]:
    """The ``first`` entities most related to ``iri`` in a :func:`project_graph` (as the link pass ranks them,
    with the counts of this projection), each with two evidence mentions from the smallest snippet or source
    title naming both; [] for an entity the graph does not hold.

    >>> d = LinkInput((EntityInfo("e:a", "P/A", "Person", "A"), EntityInfo("e:b", "P/B", "Person", "B")),
    ...     (MentionInfo("m:1", "e:a", "n.md", 0, 1, "A", "A met B.", snippet="s:1"),
    ...      MentionInfo("m:2", "e:b", "n.md", 6, 7, "B", "A met B.", snippet="s:1")))
    >>> [(r.to_entity, r.rank, r.evidence) for r in related_in(project_graph(d), "e:a", 5)]
    [('e:b', 1, ('m:1', 'm:2'))]
    """
    if iri not in graph:
        return []
    near = sorted(((d["weight"], v) for v, d in graph[iri].items() if d.get("kind") == "cooccurs"),
                  key=lambda t: (-t[0], t[1]))[:first]
    out = []
    for rank, (w, b) in enumerate(near, 1):
        best = None
        for ctx, d in graph[iri].items():
            if d.get("kind") != "mention" or graph.nodes[ctx].get("kind") == "section" or not graph.has_edge(b, ctx):
                continue
            size = sum(1 for _, _, k in graph.edges(ctx, data="kind") if k == "mention")
            key = (d.get("sentence") != graph.edges[b, ctx].get("sentence"), size, ctx)
            if best is None or key < best[0]:
                best = (key, (d["mention"], graph.edges[b, ctx]["mention"]))
        ev = tuple(sorted(set(best[1]))) if best else ()
        out.append(Related(iri, b, round(w, _ROUND), rank, RELATED_METHOD, ev))
    return out


def find_path(graph: nx.Graph, from_iri: str, to_iri: str, max_hops: int = 6,
              hub_degree: int = DEFAULTS["hub_degree"]) -> list[Hop] | None:
    """The cheapest meaningful path between two entities, as hops with their evidence; ``None`` if none.

    A meaningful path alternates entity → shared context → entity, where a
    context is a snippet or a source title that names both entities
    (``mention`` edges only).  Sections, notes, ``part`` edges and entity —
    entity shortcuts are left out, and so are hub contexts naming more than
    ``hub_degree`` entities: "both are in the same long note" explains
    nothing.  The cheapest path is taken (hop costs: see :func:`project_graph`;
    a hub entity or a crowded context costs more than a specific link).

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
        if kind in ("snippet", "source"):  # (a section names both ends in no one sentence or snippet)
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


# ---------------------------------------------------------------- the pass on an Oxigraph store, full or incremental
#
# :func:`relink` is what a build runs.  It reads the link input note by note (one query per kind of record,
# rows grouped by named graph) and keeps it, with the state of the coverage pass and the result, in a pickle
# beside the store generation (``links-cache.pickle``).  When few notes changed (at most ``max_fraction`` of
# them) and the cache belongs to the generation the build started from, only the changed notes are read and:
#
# * relatedness and degree are recomputed for the entities mentioned in the changed notes (before or after
#   the change), and for the neighbours of those whose context count the change moved: exactly what a full
#   pass gives, except that an entity named in ``_FROZEN_FROM`` contexts or more (a hub) keeps the count of
#   the last full pass (its damping moves by under 1 % a context);
# * PageRank is recomputed on the whole (small) entity graph: exact;
# * communities are kept (Louvain is not run): an entity keeps its community, a new one joins its strongest
#   related neighbour's: close to, not equal to, a full pass;
# * coverage: IDF stays as the last full pass computed it (new titles are weighed with it); direct coverage is
#   recomputed for the changed notes' sources and for every title naming an entity they mention; inferred
#   coverage is recomputed for the entities they mention; other entities keep theirs, less the sources that
#   went or changed (a new title is inferred to cover them at the next full pass).
#
# The links graph is then patched: the quads of links that changed are removed and the new ones added.
# Anything else (no cache, another generation, other parameters, many changes) runs the full pass.

CACHE_FILE = "links-cache.pickle"


def _parts_file(cache_file: Path) -> Path:
    """The cache's second file: every note's link input (see :class:`Relink`)."""
    cache_file = Path(cache_file)
    return cache_file.with_name(cache_file.stem + "-parts.pickle")
_CACHE_VERSION = 6
_RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_XSD_NS = "http://www.w3.org/2001/XMLSchema#"


def _csv_rows(store, sparql: str, graph: str | None = None):
    import csv
    import io

    import pyoxigraph as ox

    from kg.store import PREFIXES

    subs = {ox.Variable("g"): ox.NamedNode(graph)} if graph else None
    res = store.query(sparql, use_default_graph_as_union=True, prefixes=PREFIXES, substitutions=subs)
    rows = csv.reader(io.StringIO(res.serialize(format=ox.QueryResultsFormat.CSV).decode("utf-8"), newline=""))
    next(rows, None)
    return rows


def _q(sparql: str) -> str:
    return sparql.replace("SELECT DISTINCT ", "SELECT DISTINCT ?g ").replace("SELECT ?", "SELECT ?g ?", 1)


def read_note_parts(store, graphs: Iterable[str] | None = None) -> dict[str, dict[str, list]]:
    """The link input of each note graph of a pyoxigraph ``Store``, by note path (all note graphs, or ``graphs``).

    Each part holds plain tuples (the fields of :class:`EntityInfo`, :class:`MentionInfo`, ...) and
    ``note``: the note's IRI.  :func:`input_from_parts` puts parts together into a :class:`LinkInput`.
    """
    out: dict[str, dict[str, list]] = {}
    for g in (sorted(graphs) if graphs is not None else [None]):
        by_graph: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        paths: dict[str, str] = {}
        for gr, n, path in _csv_rows(store, _q(_Q_NOTES), g):
            paths[n] = path
            by_graph[gr]["note"] = [n, path]
        for gr, e, key, name, cls in _csv_rows(store, _q(_Q_ENTITIES), g):
            by_graph[gr]["entities"].append((e, key, cls.rsplit("#", 1)[-1], name))
        for gr, e, alias in _csv_rows(store, _q(_Q_ALIASES), g):
            by_graph[gr]["aliases"].append((e, alias))
        for gr, m, e, n, start, end, text, sentence, section, snippet, source in _csv_rows(store, _q(_Q_MENTIONS), g):
            by_graph[gr]["mentions"].append((m, e, paths.get(n, n), int(start), int(end), text, sentence,
                                             section or None, snippet or None, source or None))
        for gr, s, n, url, title, section, snippet, cs, ce in _csv_rows(store, _q(_Q_SOURCES), g):
            by_graph[gr]["sources"].append((s, paths.get(n, n), url, title or None, section or None, snippet or None,
                                            _opt_int(cs), _opt_int(ce)))
        for gr, s, n, heading, hpath, level, parent in _csv_rows(store, _q(_Q_SECTIONS), g):
            by_graph[gr]["sections"].append((s, paths.get(n, n), heading, hpath, int(level), parent or None))
        for gr, s, n, section in _csv_rows(store, _q(_Q_SNIPPETS), g):
            by_graph[gr]["snippets"].append((s, paths.get(n, n), section or None))
        for gr, part in by_graph.items():
            if part.get("note"):
                out[part["note"][1]] = dict(part)
    return out


_CLASSES = frozenset(_KG + c for c in ENTITY_TYPES)
_RDF_TYPE_IRI = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


def part_from_triples(triples: Iterable[tuple]) -> dict[str, list]:
    """The link input of one note graph from its triples (what :func:`read_note_parts` reads back from a
    store for that graph), for a build that has the triples at hand: no round trip through the store.

    Terms are compared as strings (rdflib terms and plain strings both work); the rows are those of the
    ``_Q_*`` queries above.
    """
    props: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for s_, p_, o_ in triples:
        props[str(s_)][str(p_)].append(o_)
    k = _KG
    typ, key_, name_, alias_, path_ = _RDF_TYPE_IRI, k + "key", k + "name", k + "alias", k + "path"
    note_, section_, snippet_ = k + "note", k + "section", k + "snippet"
    part: dict[str, list] = defaultdict(list)
    paths: dict[str, str] = {}
    for subj, ps in props.items():
        types = {str(t) for t in ps.get(typ, ())}
        if k + "Note" in types and ps.get(path_):
            paths[subj] = str(ps[path_][0])
            part["note"] = [subj, paths[subj]]
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
            need = (k + "mentionOf", k + "start", k + "end", k + "text")
            if all(p_ in first for p_ in need):
                part["mentions"].append((subj, str(first[k + "mentionOf"]), path, int(first[k + "start"]),
                                         int(first[k + "end"]), str(first[k + "text"]),
                                         opt(k + "sentence") or "", opt(section_), opt(snippet_),
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


class _Assembly:
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
                into[t[0]] = cls(*t)

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
    return _Assembly(parts[path] for path in sorted(parts)).input()


_ESCAPE = str.maketrans({**{c: f"\\u{c:04X}" for c in (*range(0x20), 0x7F)},
                         **{"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}})


class _LinkText:
    """The links graph (the triples of :func:`link_triples`) as N-Quads text, which Oxigraph parses and
    writes without holding the GIL; each IRI is checked (as a pyoxigraph term would be) and written once."""

    def __init__(self, graph: str):
        import pyoxigraph as ox

        from kg.vocab import coverage_iri, relatedness_iri

        self.ox = ox
        self.iris: dict[str, str] = {}
        self.g = f"{self.iri(graph)} .\n"
        self.k = {n: f"<{_KG}{n}>" for n in (
            "Coverage", "covers", "coverage", "source", "entity", "score", "direct", "method", "justification",
            "evidence", "via", "Relatedness", "relatedTo", "relatedness", "fromEntity", "toEntity", "weight",
            "rank", "pagerank", "community", "degree")}
        self.k["type"] = f"<{_RDF_TYPE}>"
        self.double = f"^^<{_XSD_NS}double>"
        self.integer = f"^^<{_XSD_NS}integer>"
        self.true, self.false = (f'"{b}"^^<{_XSD_NS}boolean>' for b in ("true", "false"))
        self.coverage_iri, self.relatedness_iri = coverage_iri, relatedness_iri

    def iri(self, x: str) -> str:
        n = self.iris.get(x)
        if n is None:
            self.ox.NamedNode(x)  # raises ValueError for what is not an IRI
            n = self.iris[x] = f"<{x}>"
        return n

    @staticmethod
    def string(x: str) -> str:
        return '"' + x.translate(_ESCAPE) + '"'

    def coverage(self, c: Coverage) -> str:
        g, k = self.g, self.k
        node = self.iri(str(self.coverage_iri(c.source, c.entity)))
        src, ent = self.iri(c.source), self.iri(c.entity)
        return "".join((
            f"{node} {k['type']} {k['Coverage']} {g}{src} {k['covers']} {ent} {g}{src} {k['coverage']} {node} {g}",
            f"{node} {k['source']} {src} {g}{node} {k['entity']} {ent} {g}",
            f'{node} {k["score"]} "{float(c.score)!r}"{self.double} {g}',
            f"{node} {k['direct']} {self.true if c.direct else self.false} {g}",
            f"{node} {k['method']} {self.string(c.method)} {g}",
            f"{node} {k['justification']} {self.string(c.justification)} {g}",
            *(f"{node} {k['evidence']} {self.iri(m)} {g}" for m in c.evidence),
            *(f"{node} {k['via']} {self.iri(v)} {g}" for v in c.via)))

    def related(self, r: Related) -> str:
        g, k = self.g, self.k
        node = self.iri(str(self.relatedness_iri(r.from_entity, r.to_entity, r.method)))
        a, b = self.iri(r.from_entity), self.iri(r.to_entity)
        return "".join((
            f"{node} {k['type']} {k['Relatedness']} {g}{a} {k['relatedTo']} {b} {g}{a} {k['relatedness']} {node} {g}",
            f"{node} {k['fromEntity']} {a} {g}{node} {k['toEntity']} {b} {g}",
            f'{node} {k["weight"]} "{float(r.weight)!r}"{self.double} {g}',
            f'{node} {k["rank"]} "{int(r.rank)}"{self.integer} {g}',
            f"{node} {k['method']} {self.string(r.method)} {g}",
            *(f"{node} {k['evidence']} {self.iri(m)} {g}" for m in r.evidence)))

    def stats(self, s: EntityStats) -> str:
        g, k = self.g, self.k
        e = self.iri(s.entity)
        return (f'{e} {k["pagerank"]} "{float(s.pagerank)!r}"{self.double} {g}'
                f'{e} {k["community"]} "{int(s.community)}"{self.integer} {g}'
                f'{e} {k["degree"]} "{int(s.degree)}"{self.integer} {g}')

    def record(self, x: Coverage | Related | EntityStats) -> str:
        return self.coverage(x) if type(x) is Coverage else self.related(x) if type(x) is Related else self.stats(x)

    def text(self, records: Iterable[Coverage | Related | EntityStats]) -> bytes:
        return "".join(map(self.record, records)).encode("utf-8")

    def batches(self, records: Sequence[Coverage | Related | EntityStats], size: int = 10_000) -> Iterator[bytes]:
        """The text of ``records`` in pieces of ``size`` records: the first are written while the next are
        made."""
        for i in range(0, len(records), size):
            yield self.text(records[i:i + size])


def link_quads(result: LinkResult, graph: str) -> list:
    """The quads of the links graph ``graph`` as pyoxigraph ``Quad`` objects (the triples of :func:`link_triples`)."""
    import pyoxigraph as ox

    text = _LinkText(graph).text((*result.coverages, *result.related, *result.stats))
    return list(ox.parse(text, format=ox.RdfFormat.N_QUADS))


def _key(x) -> tuple:
    """What identifies a link record (the same key with other values is a changed record)."""
    if type(x) is Coverage:
        return "c", x.source, x.entity
    if type(x) is Related:
        return "r", x.from_entity, x.to_entity, x.method
    return "s", x.entity


def _diff(old: LinkResult, new: LinkResult):
    """(removed, added) link records between two results, keyed so that a changed record is removed and added."""
    def records(r: LinkResult):
        return (*r.coverages, *r.related, *r.stats)

    # an incremental pass carries most records over as the same objects: identity settles them, and only
    # the others are compared by key and value
    old_records, new_records = records(old), records(new)
    old_ids, new_ids = set(map(id, old_records)), set(map(id, new_records))
    return _settle([x for x in old_records if id(x) not in new_ids], [x for x in new_records if id(x) not in old_ids])


def _settle(dropped: list, made: list) -> tuple[list, list]:
    """(removed, added) link records of an incremental pass, from what it dropped and what it made (see
    :func:`_compute_incremental`): a record made again the same is neither."""
    a = {_key(x): x for x in dropped}
    b = {_key(x): x for x in made}
    removed = [v for k, v in a.items() if (w := b.get(k)) is None or w != v]
    added = [v for k, v in b.items() if (w := a.get(k)) is None or w != v]
    return removed, added


def _quads_of(maker: _LinkText, records) -> list:
    """pyoxigraph quads of link records (to remove them from the store)."""
    return list(maker.ox.parse(maker.text(records), format=maker.ox.RdfFormat.N_QUADS)) if records else []


@dataclass
class RelinkInfo:
    mode: str  # "full" or "incremental"
    reason: str
    seconds: dict[str, float] = field(default_factory=dict)
    removed_quads: int = 0
    added_quads: int = 0


class Relink:
    """A link pass over a pyoxigraph ``store``'s note graphs, written into its named graph ``graph``, in two
    steps: creating it does what needs only the last pass (reading its cache, putting the unchanged notes
    together), so that it can run while the changed notes are still being extracted; :meth:`run`, once the
    changed notes' graphs are in the store, computes, writes and keeps the new cache.

    ``changed`` and ``removed`` are the note paths the build adds/changes and removes; ``cache_in`` the
    cache the store's links graph was written with (see the comment above), ``cache_out`` where to keep
    the new one.  Incremental when the cache fits and at most ``max_fraction`` of the notes changed.
    """

    def __init__(self, store, graph: str, *, changed: Iterable[str] = (), removed: Iterable[str] = (),
                 cache_in: Path | None = None, cache_out: Path | None = None, max_fraction: float = 0.1,
                 **params: Any):
        import time

        import pyoxigraph as ox

        t0 = time.perf_counter()
        self.store, self.graph, self.cache_out = store, graph, cache_out
        self.p = p = {**DEFAULTS, **params}
        self.changed, self.removed = changed, removed = set(changed), set(removed)
        cache = None
        reason = "no cache"
        if cache_in is not None:  # a past build may still be writing it
            wait_for_cache(Path(cache_in))
        if cache_in is not None and Path(cache_in).is_file():
            try:
                with open(cache_in, "rb") as fh:
                    cache = pickle.load(fh)
                if cache.get("version") != _CACHE_VERSION or cache.get("params") != sorted(p.items()):
                    cache, reason = None, "the cache was made by another version or with other parameters"
                else:
                    with open(_parts_file(cache_in), "rb") as fh:
                        kept = pickle.load(fh)
                    if kept.get("token") != cache.get("token"):
                        cache, reason = None, "the cache's two files do not belong together"
                    else:
                        cache["parts"] = kept["parts"]
            except Exception:  # noqa: BLE001  a broken cache only costs a full pass
                cache, reason = None, "the cache does not load"
        if cache is not None and not store.contains_named_graph(ox.NamedNode(graph)):
            cache, reason = None, "no links graph to patch"
        # the notes once the build has written: what the store holds now, less the removed, with the changed
        self.paths = paths = ({path for _, _, path in _csv_rows(store, _q(_Q_NOTES))} - removed) | changed
        incremental = False
        if cache is not None:
            unchanged = paths - changed
            if not unchanged <= set(cache["parts"]):
                cache, reason = None, "the cache does not hold every unchanged note"
            elif len(changed | removed) > max_fraction * max(len(paths | removed), 1):
                reason = f"{len(changed | removed)} of {len(paths | removed)} notes changed"
                if len(changed | removed) >= len(paths | removed):
                    cache = None
            else:
                incremental = True
        self.cache = cache
        self.incremental = incremental
        self.info = RelinkInfo("incremental" if incremental else "full",
                               f"{len(changed)} changed, {len(removed)} removed of {len(paths)} notes"
                               if incremental else reason)
        self.parts: dict[str, Any] = {}
        self.assembly: _Assembly | None = None
        if incremental:
            self.parts = {k: v for k, v in cache["parts"].items() if k in paths and k not in changed}
            self.assembly = _Assembly(self.parts[k] for k in sorted(self.parts))
        self.info.seconds["prepare"] = time.perf_counter() - t0

    def run(self, fresh_parts: Mapping[str, Mapping[str, list]] | None = None, *,
            load: Callable[[bytes], None] | None = None, wait: Callable[[], None] | None = None,
            quiet: Callable[[], ContextManager[Any]] = nullcontext) -> tuple[LinkResult, RelinkInfo]:
        """Compute and write; ``fresh_parts`` (note path -> :func:`part_from_triples`) spares reading the
        graphs just written back from the store when it holds every changed note.

        ``load(quads)`` adds quads to the store, maybe in the background, and ``wait()`` returns once they
        and whatever the caller added before are written (a build's :class:`kg.store.StoreWriter`): the
        pass then computes while the notes' quads are being written, and makes the links' quads while the
        first of them are; ``quiet()`` a context in which the loader is not writing (children are forked
        in it).  Without them the pass writes with ``store.bulk_load`` itself.
        """
        import time

        import pyoxigraph as ox

        from kg.vocab import note_graph

        t0 = time.perf_counter()
        store, p, cache, info = self.store, self.p, self.cache, self.info
        if load is None:
            def load(text: bytes) -> None:
                store.bulk_load(text, format=ox.RdfFormat.N_QUADS)

            wait = None
        wait = wait or (lambda: None)
        changed, removed, paths = self.changed, self.removed, self.paths
        fresh_parts = fresh_parts or {}
        if fresh_parts and not (changed & paths) <= set(fresh_parts):
            fresh_parts = {}
        if self.incremental:
            parts = self.parts
            if not fresh_parts:
                wait()
            fresh = ({x: fresh_parts[x] for x in sorted(changed & paths)} if fresh_parts else
                     read_note_parts(store, [str(note_graph(x)) for x in sorted(changed & paths)]))
            parts.update(fresh)
        else:
            fresh = {}
            if fresh_parts and paths <= set(fresh_parts):  # a first build: every note is at hand
                parts = {x: fresh_parts[x] for x in paths}
            elif fresh_parts and cache is not None and paths - changed <= set(cache["parts"]):
                parts = {x: (fresh_parts[x] if x in changed else cache["parts"][x]) for x in paths}
            else:
                wait()
                parts = read_note_parts(store)
        t_read = time.perf_counter()
        # the cache is two files written by forked children once the links are written: the notes' parts and
        # the computed state; a token ties them together
        token = os.urandom(16).hex()
        cache_out = Path(self.cache_out) if self.cache_out is not None else None
        waits: list[Callable[..., None]] = []
        try:
            if self.incremental:
                for path in sorted(fresh):
                    self.assembly.add(fresh[path])
                old_parts = [cache["parts"][x] for x in changed | removed if x in cache["parts"]]
                touched = {t[1] for part in (*old_parts, *fresh.values()) for t in part.get("mentions", ())}
                touched |= {t[0] for part in (*old_parts, *fresh.values()) for t in part.get("entities", ())}
                stale = {t[0] for part in old_parts for t in part.get("sources", ())}
                result, state, changes = _compute_incremental(self.assembly.input(), cache, fresh, touched, p, stale,
                                                              quiet=quiet, old_parts=old_parts)
            gnode = ox.NamedNode(self.graph)
            maker = _LinkText(self.graph)
            old_result = cache["result"] if cache is not None else None
            old_quads: list = []
            early = False  # the pass's related links written while it computes the rest

            def write(records) -> None:
                for batch in maker.batches(records):
                    info.added_quads += batch.count(b"\n")
                    load(batch)

            if not self.incremental:
                if old_result is None:  # the graph is written anew: emptied first, then filled as it is made
                    # (Oxigraph removes quads one by one far faster than it drops a graph)
                    old_quads = list(store.quads_for_pattern(None, None, None, gnode))
                    if old_quads:
                        wait()
                    for q in old_quads:
                        store.remove(q)
                    early = True
                result, state = _compute_full(input_from_parts(parts), p, emit_related=write if early else None,
                                              quiet=quiet)
                changes = None
            t_compute = time.perf_counter()
            if old_result is not None:  # patch: remove the quads of links that changed, add the new ones
                gone, new = _settle(*changes) if changes is not None else _diff(old_result, result)
                old_quads = _quads_of(maker, gone)
                if old_quads:
                    wait()
                for q in old_quads:
                    store.remove(q)
                write(new)
            else:
                write((*result.coverages, *([] if early else result.related), *result.stats))
            wait()  # written before the cache writers fork
            info.removed_quads = len(old_quads)
            t_write = time.perf_counter()
            waits.append(_save_cache(_parts_file(cache_out) if cache_out else None, {"token": token, "parts": parts}))
            waits.append(_save_cache(cache_out, {"version": _CACHE_VERSION, "params": sorted(p.items()),
                                                 "token": token, "state": state, "result": result}))
        except BaseException:
            for finish in waits:
                finish(wait=True)
            raise
        # the cache is finished in the background: the next build waits for it if it must
        for finish in waits:
            finish(wait=False)
        t_end = time.perf_counter()
        info.seconds.update({"read": t_read - t0, "compute": t_compute - t_read, "write": t_write - t_compute,
                             "cache": t_end - t_write})
        # what the pass made stays with it until :meth:`release` (dropping it costs as much as a tenth of the pass)
        self.spent = [parts, fresh, state, result, maker, old_quads]
        return result, info

    def release(self) -> None:
        """Let go of the pass's data (the last cache, the notes' parts, what :meth:`run` made): millions of
        small objects, whose freeing takes half a second on thousands of notes, so a thread does it."""
        spent = [self.__dict__.pop(k) for k in ("cache", "parts", "assembly", "spent") if k in self.__dict__]
        free_in_background(spent)


def free_in_background(objects: list) -> None:
    """Drop ``objects`` (a list that holds the last references to them) in a daemon thread: the caller goes on
    while their memory is freed, and a process that exits meanwhile does not wait for it.

    Freeing a big container is one C call that keeps the GIL until it is done (half a second for a pass's
    data), so containers are emptied piece by piece, and the caller's thread gets the GIL between pieces.
    Only the list's own containers (dicts, lists, sets, and this module's working objects) are emptied.
    """
    import threading

    threading.Thread(target=_free_piecewise, args=(objects,), name="kg-free", daemon=True).start()


def _free_piecewise(x: Any, depth: int = 0) -> None:
    if depth > 4:
        return
    if type(x) in _WORKING:
        x = x.__dict__
    if type(x) is dict or type(x) is defaultdict:
        while x:
            _free_piecewise(x.popitem()[1], depth + 1)
    elif type(x) is list:
        while x:
            _free_piecewise(x.pop(), depth + 1)
    elif type(x) is set:
        x.clear()


_WORKING = {Relink, _Assembly, _CoverageState}  # whose attributes the freeing thread empties


def relink(store, graph: str, *, changed: Iterable[str] = (), removed: Iterable[str] = (),
           cache_in: Path | None = None, cache_out: Path | None = None, max_fraction: float = 0.1,
           **params: Any) -> tuple[LinkResult, RelinkInfo]:
    """Compute the links of a pyoxigraph ``store``'s note graphs and write them into its named graph ``graph``
    (:class:`Relink` in one go)."""
    return Relink(store, graph, changed=changed, removed=removed, cache_in=cache_in, cache_out=cache_out,
                  max_fraction=max_fraction, **params).run()


def _save_cache(path: Path | None, cache: Mapping[str, Any]) -> Callable[..., None]:
    """Start writing the link cache to ``path``; returns ``finish(wait=True)``, which waits until it is
    written, or with ``wait=False`` lets it be finished in the background.

    Pickling the cache of thousands of notes takes a second, so where the OS can fork, a child process
    writes it (from a copy-on-write snapshot of this one) while this process writes the links graph and,
    once the build has succeeded, while the build returns.  The child holds a lock beside the file until it
    ends, however it ends; the next build's :func:`_await_cache` waits for it.  A cache that fails to be
    written is left out: the next build then makes a full pass.
    """
    if path is None:
        return lambda wait=True: None
    path = Path(path)
    tmp = path.with_suffix(".tmp")

    def write() -> None:
        try:
            with open(tmp, "wb") as fh:
                pickle.dump(cache, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)  # left only by a failure
            _pending_file(path).unlink(missing_ok=True)

    _reap_background()
    pid = -1
    lock_fd = _lock_pending(path) if hasattr(os, "fork") else -1
    if lock_fd >= 0:
        ready_r, ready_w = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            pid = -1
        if pid == 0:  # the child: write, and leave without running this process's exit handlers
            code = 1
            try:
                # it outlives the build: the build's descriptors (its store lock above all) are not its own
                low, high = sorted((lock_fd, ready_w))
                os.closerange(3, low)
                os.closerange(low + 1, high)
                os.closerange(high + 1, _MAX_FD)
                os.close(ready_w)  # tells the parent they are closed
                write()
                code = 0
            finally:
                os._exit(code)
        os.close(ready_w)
        if pid > 0:
            os.read(ready_r, 1)  # EOF once the child has closed what it inherited
        os.close(ready_r)
        os.close(lock_fd)  # with a child, its copy of the descriptor holds the lock until it ends
        if pid < 0:
            _pending_file(path).unlink(missing_ok=True)
    if pid < 0:
        write()
        return lambda wait=True: None

    def finish(wait: bool = True) -> None:
        if wait:
            os.waitpid(pid, 0)
        else:
            _BACKGROUND.append(pid)

    return finish


try:
    _MAX_FD = os.sysconf("SC_OPEN_MAX")
except (AttributeError, ValueError, OSError):
    _MAX_FD = 65536

#: cache writers left to finish after their build returned, reaped by later calls
_BACKGROUND: list[int] = []


def _reap_background() -> None:
    for pid in list(_BACKGROUND):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            _BACKGROUND.remove(pid)


def cached_link_input(generation: Path | str) -> LinkInput | None:
    """The link input of a store generation read from the link cache its build left in it (every note's
    parts), else None (no cache: a build without links, or one from before the cache).  The quick way to
    :func:`load_link_input`, which reads the graph through SPARQL: ~10 s on thousands of notes against ~1 s."""
    path = _parts_file(Path(generation) / CACHE_FILE)
    try:
        _await_cache(path, timeout=60.0)  # (a build that just went live may still be writing it)
        with open(path, "rb") as fh:
            parts = pickle.load(fh)["parts"]
        return input_from_parts(parts)
    except Exception:  # noqa: BLE001  missing, unreadable or of another version: the caller reads the graph
        return None


def wait_for_cache(cache_file: Path) -> None:
    """Wait until both files of the link cache ``cache_file`` are written, if a past build still writes them."""
    _await_cache(Path(cache_file))
    _await_cache(_parts_file(cache_file))


def _pending_file(path: Path) -> Path:
    return Path(path).with_suffix(".writing")


def _lock_pending(path: Path) -> int:
    """An exclusively locked descriptor on ``path``'s pending file, or -1 where that is not possible."""
    try:
        import fcntl

        fd = os.open(_pending_file(path), os.O_RDWR | os.O_CREAT, 0o644)
    except (ImportError, OSError):
        return -1
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:
        os.close(fd)
        return -1
    return fd


def _await_cache(path: Path, timeout: float = 600.0) -> None:
    """Wait until a cache file that a past build is still writing in the background is written (or failed)."""
    pending = _pending_file(path)
    if not pending.exists():
        return
    try:
        import fcntl
        import time

        fd = os.open(pending, os.O_RDONLY)
    except (ImportError, OSError):
        return
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.005)
    finally:
        os.close(fd)
    pending.unlink(missing_ok=True)


#: from this many entities on, a full pass computes on both cores (forked children; below, forking costs more)
_PARALLEL_ENTITIES = 1000


def _halves(items: list[str], weight: Mapping[str, int]) -> tuple[list[str], list[str]]:
    """``items`` in two lists of about equal total weight (heaviest first, each to the lighter list), each in
    the items' order.

    >>> _halves(["a", "b", "c", "d"], {"a": 5, "b": 1, "c": 3, "d": 2})
    (['a', 'b'], ['c', 'd'])
    """
    sides: tuple[set[str], set[str]] = (set(), set())
    totals = [0, 0]
    for x in sorted(items, key=lambda x: (-weight[x], x)):
        i = 0 if totals[0] <= totals[1] else 1
        sides[i].add(x)
        totals[i] += weight[x]
    return [x for x in items if x in sides[0]], [x for x in items if x in sides[1]]


def _forked(fn: Callable[..., Any], *args: Any) -> Callable[..., Any]:
    """Start ``fn(*args)`` in a forked child (its inputs are the parent's memory, copy-on-write: nothing is
    pickled on the way in) and return the function that waits for its result: ``wait(timeout=None)``, which
    stops the child and raises :class:`TimeoutError` when it has not finished within ``timeout`` seconds.
    Inline where the OS cannot fork.  The result comes back through a temporary file, so the child never
    blocks on a reader."""
    if not hasattr(os, "fork"):
        value = fn(*args)
        return lambda timeout=None: value
    import tempfile

    fd, name = tempfile.mkstemp(prefix="kg-links-", suffix=".pickle")
    try:
        pid = os.fork()
    except OSError:
        os.close(fd)
        os.unlink(name)
        value = fn(*args)
        return lambda timeout=None: value
    if pid == 0:  # the child: compute, write, leave without running the parent's exit handlers
        code = 1
        try:
            try:
                payload = (True, fn(*args))
            except BaseException as exc:  # noqa: BLE001  handed to the parent, raised there
                payload = (False, exc)
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(payload, fh, protocol=pickle.HIGHEST_PROTOCOL)
            code = 0
        finally:
            os._exit(code)
    os.close(fd)

    def wait(timeout: float | None = None) -> Any:
        try:
            if timeout is None:
                _, status = os.waitpid(pid, 0)
            else:
                import time

                deadline = time.monotonic() + timeout
                while True:
                    done, status = os.waitpid(pid, os.WNOHANG)
                    if done:
                        break
                    if time.monotonic() > deadline:
                        os.kill(pid, 9)
                        os.waitpid(pid, 0)
                        raise TimeoutError(f"the link computation took more than {timeout:g} s")
                    time.sleep(0.01)
            with open(name, "rb") as fh:
                ok, value = pickle.load(fh) if os.waitstatus_to_exitcode(status) == 0 else (False, None)
        finally:
            os.unlink(name)
        if not ok:
            raise value if isinstance(value, BaseException) else RuntimeError("a link computation process died")
        return value

    return wait


def _compute_full(data: LinkInput, p: Mapping[str, Any], emit_related: Callable[[tuple], None] | None = None,
                  quiet: Callable[[], ContextManager[Any]] = nullcontext):
    """The whole link pass; ``emit_related(records)`` is given the related links as soon as they are made
    (the pass's writer writes them while coverage is computed).  Children are forked inside ``quiet()``, a
    context in which no other thread of this process is in the store's code (a fork while the store's
    loader starts its threads can leave the child waiting forever on a lock it copied)."""
    entities = {e.iri: e for e in data.entities}
    for m in data.mentions:
        if m.entity not in entities:
            entities[m.entity] = EntityInfo(m.entity, m.entity, "Entity", m.text)
    sections = {s.iri: s for s in data.sections}
    related, degree, freq = _relatedness(data, entities, p)
    related_records = tuple(r for k in sorted(related) for r in related[k])
    if len(entities) >= _PARALLEL_ENTITIES:
        with quiet():
            stats_later = _forked(_centrality, entities, related, degree, p)
    else:
        stats_later = (lambda s=_centrality(entities, related, degree, p): s)
    if emit_related is not None:
        emit_related(related_records)
    coverages, cov_state = _coverage(data, entities, sections, related, p, quiet=quiet)
    stats = stats_later()
    result = LinkResult(coverages=coverages, related=related_records, stats=stats, params=tuple(sorted(p.items())))
    return result, {"coverage": cov_state, "related": related, "degree": degree, "freq": freq,
                    "community": {s.entity: s.community for s in stats}}


#: an entity named in at least this many contexts keeps, in an incremental pass, the context count of the last
#: full pass (its hub damping moves by under 1 % a context): its neighbours' rows are not all computed again
_FROZEN_FROM = 50


def _context_counts(part: Mapping[str, list]) -> Counter:
    """How many contexts (snippets, source titles) each entity is named in, in one note's part."""
    seen: dict[str, set[str]] = defaultdict(set)
    for t in part.get("mentions", ()):
        for ctx in (t[8], t[9]):  # snippet, source
            if ctx:
                seen[t[1]].add(ctx)
    return Counter({e: len(c) for e, c in seen.items()})


def _neighbours(data: LinkInput, ents: set[str], hub: int) -> set[str]:
    """The entities that share a snippet or source title (not a hub) with one of ``ents``."""
    if not ents:
        return set()
    wanted = {ctx for m in data.mentions if m.entity in ents for ctx in (m.snippet, m.source) if ctx}
    members: dict[str, set[str]] = defaultdict(set)
    for m in data.mentions:
        for ctx in (m.snippet, m.source):
            if ctx and ctx in wanted:
                members[ctx].add(m.entity)
    return {e for mem in members.values() if len(mem) <= hub for e in mem} - ents


def _compute_incremental(data: LinkInput, cache: Mapping[str, Any], fresh: Mapping[str, Any], touched: set[str],
                         p: Mapping[str, Any], stale_sources: set[str] | None = None,
                         quiet: Callable[[], ContextManager[Any]] = nullcontext,
                         old_parts: Sequence[Mapping[str, list]] = ()):
    old = cache["state"]
    entities = {e.iri: e for e in data.entities}
    for m in data.mentions:
        if m.entity not in entities:
            entities[m.entity] = EntityInfo(m.entity, m.entity, "Entity", m.text)
    touched = touched & set(entities)
    sections = {s.iri: s for s in data.sections}
    # hub damping: the context counts move by what the changed notes add and remove; where an entity's count
    # moved, its neighbours' rows are computed again too (a hub's count stays as the last full pass had it)
    delta: Counter = Counter()
    for part in old_parts:
        delta.subtract(_context_counts(part))
    for part in fresh.values():
        delta.update(_context_counts(part))
    freq = dict(old["freq"])
    moved = set()
    for e, d in delta.items():
        if d == 0 or freq.get(e, 0) >= _FROZEN_FROM:
            continue
        n = freq.get(e, 0) + d
        if n > 0:
            freq[e] = n
        else:
            freq.pop(e, None)
        moved.add(e)
    redo_rows = touched | (_neighbours(data, moved & set(entities), p["hub_degree"]) & set(entities))
    rel_new, deg_new, freq = _relatedness(data, entities, p, only=redo_rows, freq=freq)
    related = {a: rs for a, rs in old["related"].items() if a not in redo_rows and a in entities}
    related.update(rel_new)
    degree = {e: d for e, d in old["degree"].items() if e in entities and e not in redo_rows}
    degree.update(deg_new)
    # centrality (PageRank of the whole graph) in a child, beside coverage
    if len(entities) >= _PARALLEL_ENTITIES:
        with quiet():  # (see _compute_full)
            stats_later = _forked(_centrality, entities, related, degree, p, old["community"])
    else:
        stats_later = (lambda s=_centrality(entities, related, degree, p, old["community"]): s)
    fresh_sources = {t[0] for part in fresh.values() for t in part.get("sources", ())}
    # what this pass may have changed, as (the last pass's records, this pass's): the rest is carried over
    redone = (redo_rows | rel_new.keys() | (old["related"].keys() - entities.keys())) & old["related"].keys()
    dropped: list = [r for a in redone for r in old["related"][a]]
    made_now: list = [r for rs in rel_new.values() for r in rs]
    coverages, cov_state = _coverage(data, entities, sections, related, p, state=old["coverage"],
                                     fresh_sources=fresh_sources, touched=touched, stale_sources=stale_sources,
                                     changes=(dropped, made_now), quiet=quiet)
    stats = stats_later()
    last = {s.entity: s for s in cache["result"].stats}
    kept_stats = []
    for s in stats:  # PageRank moves everywhere a little: a value that rounds the same keeps its record
        o = last.pop(s.entity, None)
        if o is not None and o.pagerank == s.pagerank and o.community == s.community and o.degree == s.degree:
            kept_stats.append(o)
        else:
            kept_stats.append(s)
            made_now.append(s)
            if o is not None:
                dropped.append(o)
    dropped.extend(last.values())
    result = LinkResult(coverages=coverages, related=tuple(r for k in sorted(related) for r in related[k]),
                        stats=tuple(kept_stats), params=tuple(sorted(p.items())))
    return result, {"coverage": cov_state, "related": related, "degree": degree, "freq": freq,
                    "community": {s.entity: s.community for s in stats}}, (dropped, made_now)
