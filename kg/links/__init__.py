"""Links between entities and sources, computed with networkx and written back as RDF.

The link pass reads what the note graphs hold (entities, their mentions,
sources, sections, snippets) through the store's ``select`` into plain data
(:func:`load_link_input`), computes from it (:func:`compute_links`) and turns
the result into triples for the links named graph (:func:`link_triples`).
At query time :func:`project_graph` and :func:`find_path` explain how two
entities are connected.

The package, one concern a module: ``records`` (the data in and out, :data:`DEFAULTS`), ``scoring`` (every
scoring constant, part of the cache's key), ``reading`` (the link input from a store or from triples),
``notepart`` (a note's link input from the note and its extraction), ``features`` (text features),
``relatedness`` (relatedness, PageRank, communities), ``contexts``, ``direct``, ``inferred`` and
``coverage`` (coverage), ``compute`` (the full pass), ``incremental`` (the incremental pass), ``relink``
(the pass a build runs on its store), ``cache`` (the link cache's files and locks), ``triples`` (RDF out),
``paths`` (query-time projection and path search).  Processes and threads are :mod:`kg.parallel`'s.

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
The store holds one record per pair (:class:`RelatedPair`): the weight and
evidence once, and the rank on each side that keeps the other.

**Centrality and communities** are computed on the graph of those top-k
links: weighted PageRank (networkx's SciPy iteration) and Louvain
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

from kg.links.cache import CACHE_FILE, cached_link_input, wait_for_cache
from kg.links.compute import compute_links
from kg.links.coverage import coverage_of, entities_named
from kg.links.direct import CONTEXT_METHOD
from kg.links.features import names_in, text_features
from kg.links.paths import find_path, project_graph, related_in
from kg.links.notepart import part_from_note
from kg.links.reading import input_from_parts, load_link_input, part_from_triples, read_note_parts
from kg.links.records import (
    DEFAULTS,
    Coverage,
    EntityInfo,
    EntityStats,
    Hop,
    LinkInput,
    LinkResult,
    MentionInfo,
    Related,
    RelatedPair,
    SectionInfo,
    SnippetInfo,
    SourceInfo,
    related_pairs,
)
from kg.links.relatedness import RELATED_METHOD, communities_of
from kg.links.relink import Relink, RelinkInfo, relink
from kg.links.triples import link_quads, link_triples

__all__ = [
    "EntityInfo",
    "MentionInfo",
    "SourceInfo",
    "SectionInfo",
    "SnippetInfo",
    "LinkInput",
    "Coverage",
    "Related",
    "RelatedPair",
    "related_pairs",
    "EntityStats",
    "LinkResult",
    "Hop",
    "DEFAULTS",
    "RELATED_METHOD",
    "CONTEXT_METHOD",
    "load_link_input",
    "read_note_parts",
    "part_from_triples",
    "part_from_note",
    "input_from_parts",
    "compute_links",
    "Relink",
    "RelinkInfo",
    "relink",
    "CACHE_FILE",
    "cached_link_input",
    "wait_for_cache",
    "link_triples",
    "link_quads",
    "project_graph",
    "related_in",
    "communities_of",
    "find_path",
    "text_features",
    "names_in",
    "entities_named",
    "coverage_of",
]
