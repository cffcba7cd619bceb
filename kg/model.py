"""Plain data passed between the stages of kg.

Stages (``notes``, ``nlp``, ``rdf``, ``links``, ...) never import each other;
they exchange these frozen dataclasses, which hold only ``str``, ``int``,
``float``, ``bool``, ``None`` and tuples of them.  No spaCy, rdflib or
networkx object crosses a stage boundary.

All offsets are character offsets (Python ``str`` indexes) into ``Note.text``,
the decoded text of the whole file, front matter included.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "ENTITY_TYPES",
    "ENTITY_KINDS",
    "EntityKind",
    "SOURCE_COLOUR",
    "Section",
    "Snippet",
    "Reference",
    "Title",
    "Image",
    "Block",
    "Note",
    "ReadProblem",
    "Mention",
    "DateMention",
    "Entity",
    "Extraction",
    "Curation",
    "EXTRACTOR_VERSION",
]

@dataclass(frozen=True, slots=True)
class EntityKind:
    """One entity type: everything about it that other parts of kg (ontology, shapes, GraphQL, links,
    exports, viewer, extraction) read from here rather than spell out again."""

    name: str  # the class's local name in the kg namespace, and Mention.type / Entity.type
    enum: str  # the GraphQL enum member
    colour: str  # in the viewer and exports (Okabe–Ito, a colour-blind safe palette)
    schema_org: tuple[str, ...]  # schema.org classes it maps to (local names)
    equivalent: bool  # owl:equivalentClass to its one schema.org class; else rdfs:subClassOf / closeMatch
    comment: str


#: The entity types, one row each.  Adding a type is one row here plus its class in ``schemas/kg.ttl``
#: (tests/test_types.py checks the ontology, shapes, GraphQL enum and viewer against this table).
ENTITY_KINDS: tuple[EntityKind, ...] = (
    EntityKind("Person", "PERSON", "#D55E00", ("Person",), True, "A named human being."),
    EntityKind("Event", "EVENT", "#E69F00", ("Event",), True,
               "A named happening: a war, battle, campaign, incident, treaty, meeting or conference."),
    EntityKind("Paper", "PAPER", "#0072B2", ("CreativeWork",), False,
               "A titled publication or work (paper, book, article, film, dataset), or a model named after one."),
    EntityKind("Place", "PLACE", "#009E73", ("Place",), True,
               "A named location: a country, polity, region, city, natural feature or site."),
    EntityKind("Organization", "ORGANIZATION", "#CC79A7", ("Organization",), True,
               "A named group: a company, institution, government body, party, armed force or outlet."),
    EntityKind("Technology", "TECHNOLOGY", "#56B4E9", ("SoftwareApplication", "DefinedTerm"), False,
               "A named technology: software, a website, a programming language, a library, a product, a "
               "standard or an algorithm."),
)

#: The entity classes kg extracts, as used in ``Mention.type`` and ``Entity.type``.
ENTITY_TYPES: tuple[str, ...] = tuple(k.name for k in ENTITY_KINDS)

#: colour of nodes that are sources (not entities) in views
SOURCE_COLOUR = "#444444"  # dark grey: apart from every type colour under each kind of colour blindness

#: The version of what extraction (kg.extract) produces, bumped whenever its output changes, so that stores
#: rebuild; kept here so that a build compares it without importing the extraction code (~0.07 s).
EXTRACTOR_VERSION = "13"


@dataclass(frozen=True, slots=True)
class Section:
    """A heading and everything under it up to the next heading of the same or a higher level."""

    index: int  # order in the note, 0-based
    level: int  # 1 for '#', 2 for '##', ...
    heading: str
    path: tuple[str, ...]  # headings from the top level down to this one
    parent: int | None  # index of the enclosing section
    start: int  # start of the heading line
    end: int  # end of the section's text
    heading_start: int
    heading_end: int


@dataclass(frozen=True, slots=True)
class Snippet:
    """A stretch of a note between thematic breaks (``---``) or headings."""

    index: int
    section: int | None  # innermost section the snippet lies in
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Reference:
    """A reference to another document: a Source in the graph.

    ``kind`` is ``"listed"`` (a URL line followed by the title line),
    ``"inline"`` (``[text](url)``) or ``"bare"`` (a URL in running text).
    """

    index: int
    url: str
    title: str | None
    kind: str
    start: int  # span of the URL
    end: int
    title_start: int | None
    title_end: int | None
    section: int | None
    snippet: int | None
    line: int  # 1-based line of the URL
    # the prose the reference belongs to: the paragraphs just before a URL line in its snippet, or the
    # paragraph or list item a link stands in (None when there is none); ``context`` is that span of the
    # note with everything but prose (URLs, markup, code) blanked, as long as the span
    context_start: int | None = None
    context_end: int | None = None
    context: str = ""


@dataclass(frozen=True, slots=True)
class Title:
    """A title in 《》 (without the brackets)."""

    text: str
    start: int
    end: int
    section: int | None
    snippet: int | None
    reference: int | None  # set when the title stands in a reference's title line


@dataclass(frozen=True, slots=True)
class Image:
    url: str
    alt: str
    start: int
    end: int
    section: int | None
    snippet: int | None


@dataclass(frozen=True, slots=True)
class Block:
    """Prose that the extraction pass reads.

    ``text`` has exactly the length of ``Note.text[start:end]``; everything
    that is not prose (URLs, markup characters, inline code, images) is
    replaced by spaces, so an offset into ``text`` plus ``start`` is an offset
    into the note, and nothing inside a URL can be mistaken for a name.
    Code blocks, tables, front matter and ``{:toc}`` markers yield no block.
    """

    kind: str  # "paragraph", "heading", "list_item", "reference_title", "quote"
    text: str
    start: int
    end: int
    section: int | None
    snippet: int | None
    reference: int | None  # index of the Reference whose title this is
    line: int  # 1-based line of the block's start


@dataclass(frozen=True, slots=True)
class Note:
    path: str  # path relative to the folder it was read from (posix), the note's identity
    file: str  # absolute path on disk
    sha256: str  # of the file's bytes
    text: str
    title: str | None
    category: str | None
    date: str | None  # ISO date, from front matter or a YYYY-M-D- file name
    front_matter: tuple[tuple[str, str], ...]
    sections: tuple[Section, ...]
    snippets: tuple[Snippet, ...]
    references: tuple[Reference, ...]
    titles: tuple[Title, ...]
    images: tuple[Image, ...]
    blocks: tuple[Block, ...]
    problems: tuple["ReadProblem", ...] = ()  # recoverable oddities (the note is still built)


@dataclass(frozen=True, slots=True)
class ReadProblem:
    """A file that could not be read (or a part of one), with where and what to do."""

    path: str
    line: int | None
    message: str
    warning: bool = False  # the note was read and built all the same (broken front matter, say)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else f"{self.path}: {self.message}"


@dataclass(frozen=True, slots=True)
class Mention:
    """A span of a note that names an entity."""

    note: str  # Note.path
    start: int
    end: int
    text: str
    type: str  # one of ENTITY_TYPES
    key: str  # entity key: the same key in any note is the same entity
    section: int | None
    snippet: int | None
    reference: int | None  # set when the mention is in a reference's title
    sentence_start: int
    sentence_end: int
    method: str  # the component that found it, e.g. "title_brackets", "surname", "ner:en_core_web_sm"
    confidence: float = 1.0
    count: int = 1  # how many occurrences it stands for (a note naming one entity very often keeps one a sentence)


@dataclass(frozen=True, slots=True)
class DateMention:
    """A date in the text, normalised to ISO 8601 where it can be (``1969``, ``1969-01``, ``1969-01-02``)."""

    note: str
    start: int
    end: int
    text: str
    value: str | None
    section: int | None
    snippet: int | None
    events: tuple[str, ...] = ()  # keys of the events mentioned in the same sentence


@dataclass(frozen=True, slots=True)
class Entity:
    key: str  # e.g. "Person/池田成彬"; stable across builds and notes
    type: str
    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Extraction:
    """What the extraction pass found in one note."""

    note: str
    entities: tuple[Entity, ...]
    mentions: tuple[Mention, ...]
    dates: tuple[DateMention, ...] = ()
    #: why nothing was found: the note's extraction failed or passed a limit (kg.extract.NoteLimits)
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Curation:
    """Hand corrections kept beside the notes (``kg-curation.toml``) or in the repo.

    ``aliases`` maps an alias to the canonical name; ``merges`` maps a name to
    the name it is merged into; ``not_entities`` lists strings that are never
    entities; ``types`` forces a type for a name.
    """

    aliases: tuple[tuple[str, str], ...] = ()
    merges: tuple[tuple[str, str], ...] = ()
    not_entities: tuple[str, ...] = ()
    types: tuple[tuple[str, str], ...] = field(default=())
