"""The plain records the API reads from the graph (entities, notes, coverage, mentions, relatedness), and
the small conversions its modules share (name matching, cursors, VALUES blocks)."""

from __future__ import annotations

import base64
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox

from kg.errors import NotFoundError, QueryError
from kg.textindex import TextHit

__all__ = ["EntityRec", "NoteRec", "CoverageRec", "MentionRec", "RelatedRec", "KGNotFound", "how_of", "norm",
           "values", "encode_cursor", "decode_cursor", "as_float", "as_int", "as_str"]


class KGNotFound(NotFoundError):
    """A name no entity has (the message names the nearest ones)."""


def values(var: str, iris: Sequence[str]) -> str:
    """``VALUES ?var { <iri> ... }`` for IRIs the store minted (serialised by pyoxigraph, which validates them)."""
    return f"VALUES ?{var} {{ {' '.join(str(ox.NamedNode(i)) for i in iris)} }}"


def norm(text: str) -> str:
    """The form names are matched in: NFKC, case-folded, inner whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


@dataclass(slots=True)
class EntityRec:
    iri: str
    type: str  # Person, Event, ...
    name: str
    aliases: list[str] = field(default_factory=list)
    pagerank: float | None = None
    community: int | None = None
    degree: int | None = None
    mention_count: int = 0
    dates: list[str] = field(default_factory=list)

    @property
    def sort_key(self) -> tuple[str, str]:
        return (norm(self.name), self.iri)


@dataclass(slots=True)
class NoteRec:
    iri: str
    path: str
    title: str | None
    category: str | None
    date: str | None



@dataclass(slots=True)
class CoverageRec:
    iri: str
    entity: str | None  # None for a text match
    source: str
    score: float
    direct: bool
    justification: str | None
    method: str | None
    url: str
    title: str | None
    note: str
    section: str | None
    how: str = ""  # title, context, inferred, text match (see how_of)
    match: str = ""  # how the term asked for was read
    hit: TextHit | None = None  # a text match's words


#: the link pass's methods of direct coverage, by what named the entity
_CONTEXT_METHODS = frozenset({"mention-in-context"})


def how_of(method: str | None, direct: bool) -> str:
    """What a coverage record of the graph rests on: the title, the context before the link, or inference."""
    if method in _CONTEXT_METHODS:
        return "context"
    return "title" if direct else "inferred"


@dataclass(slots=True)
class MentionRec:
    iri: str
    entity: str | None
    text: str
    note: str
    start: int
    end: int
    section: str | None
    sentence: str | None
    method: str | None
    confidence: float
    occurrences: int = 1


@dataclass(slots=True)
class RelatedRec:
    iri: str
    from_: str
    to: str
    weight: float
    method: str | None
    rank: int | None
    evidence: tuple[str, ...] | None = None  # mention IRIs, for a row computed at query time (not in the graph)


def as_float(v: Any) -> float | None:
    return None if v is None else float(v)


def as_int(v: Any) -> int | None:
    return None if v is None else int(v)


def as_str(v: Any) -> str | None:
    return None if v is None else str(v)


def encode_cursor(key: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(f"{key[0]}\x1f{key[1]}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        a, b = base64.urlsafe_b64decode(cursor.encode("ascii")).decode().split("\x1f")
    except (ValueError, UnicodeError):
        raise QueryError("the cursor is not one this server gave out; use pageInfo.endCursor") from None
    return (a, b)
