"""The text index: every source's title and context in an SQLite FTS5 table, for the terms no entity answers.

``sources(covering: X)`` answers from entities first; where no entity is named X (Jeff Dean, 赫鲁晓夫, a
tool the extraction missed), it answers from the text: the sources whose title, or the prose just before
their link (their context, ``kg:context``), names X as a word.  SQLite's FTS5 (part of Python's
``sqlite3``) finds the candidates: the indexed text is :func:`kg.terms.fts_text` (Latin words, and every
Han character a token, so any Chinese word is a phrase of characters), the query one phrase.  Each
candidate is then checked with :func:`kg.terms.find_term`: Latin on word boundaries, acronyms in capitals,
Chinese on jieba's word boundaries, never inside a URL.  Title matches come first, then context matches,
each by BM25.

Where it is kept:

* an embedded store: ``text-index.sqlite`` in each generation folder, beside the graph.  A build starts
  from a copy of the live generation's index and replaces the rows of the notes it changed and removes
  those of the notes it removed (one transaction), so the index always matches its generation's graph
  and goes live with it;
* a store in a SPARQL server (``--store URL``): no file can travel with the graph, and other machines read
  the same server, so the API builds the index in memory from the server's graph (every source's title
  and context is in it) once per generation.  The same happens for an embedded generation without the
  file (written by hand, or by a kg before the index).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kg.errors import StoreError
from kg.model import Note
from kg.terms import find_term, fts_phrase, fts_text

__all__ = ["INDEX_FILE", "SourceRow", "TextHit", "TextIndex", "rows_from_note", "rows_from_store"]

INDEX_FILE = "text-index.sqlite"
_SCHEMA_VERSION = "1"
_CANDIDATES = 400  # FTS candidates checked per column and query, best BM25 first
_BATCH = 32  # candidate rows read at a time


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One source as the index keeps it."""

    iri: str
    note: str  # note path
    url: str
    title: str | None = None
    title_start: int | None = None
    context: str | None = None
    context_start: int | None = None
    section: str | None = None  # heading path


@dataclass(frozen=True, slots=True)
class TextHit:
    """A source whose title or context names a term: where, and the words as written there."""

    row: SourceRow
    where: str  # "title" or "context"
    text: str  # the matched words as the note writes them
    start: int | None  # offsets in the note, where known
    end: int | None
    sentence: str  # the title, or the sentence of the context the words stand in
    rank: float  # BM25 (lower is better)


def rows_from_note(note: Note) -> list[SourceRow]:
    """The index rows of one note: its sources with a title or a context (what its graph says of them)."""
    from kg.vocab import source_iri

    out = []
    paths: dict[int, str] = {}  # a section's heading path, made once for its sources
    for r in note.references:
        if not (r.title or r.context):
            continue
        section = None
        if r.section is not None:
            section = paths.get(r.section)
            if section is None:
                section = paths[r.section] = " / ".join(note.sections[r.section].path)
        out.append(SourceRow(str(source_iri(note.path, r.index)), note.path, r.url, r.title or None,
                             r.title_start if r.title else None, r.context or None,
                             r.context_start if r.context else None, section))
    return sorted(out, key=lambda r: r.iri)


def _row(iri, note, url, title, title_start, context, context_start, section) -> SourceRow:
    def num(x):
        return None if x is None else int(str(x))

    return SourceRow(str(iri), str(note), str(url), str(title) if title is not None else None, num(title_start),
                     str(context) if context is not None else None, num(context_start),
                     str(section) if section is not None else None)


_Q_ROWS = """
SELECT ?s ?path ?url ?title ?ts ?ctx ?cs ?hp WHERE { GRAPH ?g {
  ?s a kg:Source ; kg:note ?n ; kg:url ?url . ?n kg:path ?path .
  OPTIONAL { ?s kg:title ?title } OPTIONAL { ?s kg:titleStart ?ts }
  OPTIONAL { ?s kg:context ?ctx ; kg:contextStart ?cs }
  OPTIONAL { ?s kg:section ?sec . ?sec kg:headingPath ?hp }
} }"""


def rows_from_store(select: Callable[..., list[dict[str, Any]]], graph: str | None = None) -> list[SourceRow]:
    """The index rows of a store's graph (or of its named graph ``graph``), read through ``select``."""
    query = _Q_ROWS if graph is None else _Q_ROWS.replace("SELECT ?s", "SELECT ?g ?s")
    rows = select(query, {"g": graph} if graph is not None else None)
    out = {}
    for r in rows:
        if r["s"] not in out and (r.get("title") or r.get("ctx")):
            out[r["s"]] = _row(r["s"], r["path"], r["url"], r.get("title"), r.get("ts"), r.get("ctx"),
                               r.get("cs"), r.get("hp"))
    return [out[k] for k in sorted(out)]


_DDL = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS sources(id INTEGER PRIMARY KEY, iri TEXT UNIQUE NOT NULL, note TEXT NOT NULL,
  url TEXT NOT NULL, title TEXT, title_start INTEGER, context TEXT, context_start INTEGER, section TEXT);
CREATE INDEX IF NOT EXISTS sources_by_note ON sources(note);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(title, context, tokenize='unicode61 remove_diacritics 2');
"""


class TextIndex:
    """An open text index (a file, or in memory); one connection, used under a lock from any thread."""

    def __init__(self, conn: sqlite3.Connection, where: str):
        self._conn = conn
        self._lock = threading.Lock()
        self.where = where

    # ---------------------------------------------------------------- opening

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> TextIndex:
        """A generation's index, read-only (the file never changes once its generation is live)."""
        try:
            conn = sqlite3.connect(f"file:{Path(path)}?mode=ro&immutable=1", uri=True, check_same_thread=False)
            version = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except sqlite3.Error as err:
            raise StoreError(f"the text index cannot be read ({err}); rebuild with 'kg build --force'",
                             path=str(path)) from None
        if not version or version[0] != _SCHEMA_VERSION:
            conn.close()
            raise StoreError("the text index is of another version; rebuild with 'kg build --force'",
                             path=str(path))
        return cls(conn, str(path))

    @classmethod
    def in_memory(cls, rows: Iterable[SourceRow]) -> TextIndex:
        """An index of ``rows`` in memory (a store in a SPARQL server, or a generation without the file)."""
        conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        index = cls(conn, ":memory:")
        index._create()
        conn.execute("BEGIN")
        index._add(rows)
        conn.execute("COMMIT")
        return index

    @classmethod
    def for_build(cls, path: str | os.PathLike[str], start_from: str | os.PathLike[str] | None = None) -> TextIndex:
        """The index a build writes at ``path``: a copy of ``start_from`` (the live generation's), or empty."""
        path = Path(path)
        for leftover in (path, path.with_name(path.name + "-journal")):
            leftover.unlink(missing_ok=True)
        try:
            if start_from is not None:
                shutil.copyfile(start_from, path)
            conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode = MEMORY")  # the file goes live only once the build commits
            conn.execute("PRAGMA synchronous = OFF")
            index = cls(conn, str(path))
            index._create()
            conn.execute("BEGIN")
        except (OSError, sqlite3.Error) as err:
            raise StoreError(f"cannot write the text index ({err}); check the disk", path=str(path)) from None
        return index

    def _create(self) -> None:
        self._conn.executescript(_DDL)
        self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (_SCHEMA_VERSION,))

    # ---------------------------------------------------------------- writing

    def _add(self, rows: Iterable[SourceRow]) -> None:
        c = self._conn
        for r in rows:
            cur = c.execute("INSERT OR REPLACE INTO sources(iri, note, url, title, title_start, context, "
                            "context_start, section) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            (r.iri, r.note, r.url, r.title, r.title_start, r.context, r.context_start, r.section))
            c.execute("INSERT INTO fts(rowid, title, context) VALUES (?, ?, ?)",
                      (cur.lastrowid, fts_text(r.title or ""), fts_text(r.context or "")))

    def remove_note(self, path: str) -> None:
        with self._lock:
            c = self._conn
            ids = [i for (i,) in c.execute("SELECT id FROM sources WHERE note = ?", (path,))]
            c.executemany("DELETE FROM fts WHERE rowid = ?", [(i,) for i in ids])
            c.execute("DELETE FROM sources WHERE note = ?", (path,))

    def replace_note(self, path: str, rows: Sequence[SourceRow]) -> None:
        """Put ``rows`` (one note's sources) in place of what the index held for the note ``path``."""
        self.remove_note(path)
        with self._lock:
            self._add(r for r in rows if r.note == path)

    def notes(self) -> set[str]:
        with self._lock:
            return {n for (n,) in self._conn.execute("SELECT DISTINCT note FROM sources")}

    def rows_of(self, path: str) -> list[SourceRow]:
        with self._lock:
            return [SourceRow(*r) for r in self._conn.execute(
                "SELECT iri, note, url, title, title_start, context, context_start, section FROM sources "
                "WHERE note = ? ORDER BY iri", (path,))]

    def __len__(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM sources").fetchone()[0]

    def commit(self) -> None:
        """Finish a build's writes (then :meth:`close`)."""
        try:
            with self._lock:
                self._conn.execute("COMMIT")
                self._conn.execute("INSERT INTO fts(fts) VALUES ('optimize')")
        except sqlite3.Error as err:
            raise StoreError(f"cannot write the text index ({err}); check the disk", path=self.where) from None

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # ---------------------------------------------------------------- searching

    def search(self, term: str, limit: int = 20, skip: Iterable[str] = (),
               context_limit: int | None = None) -> list[TextHit]:
        """Sources whose title (first) or context names ``term`` as a word: at most ``limit`` title matches and
        ``context_limit`` (default ``limit``) context matches, best first (BM25), each source once (a title
        match wins), none of those in ``skip`` (source IRIs)."""
        phrase = fts_phrase(term)
        if phrase is None:
            return []
        hits: list[TextHit] = []
        seen: set[str] = set(skip)
        for column, limit in (("title", limit), ("context", limit if context_limit is None else context_limit)):
            if limit <= 0:
                continue
            found = 0
            with self._lock:  # the candidates, best first (BM25, titles weighing more)
                ranked = self._conn.execute(
                    "SELECT rowid, bm25(fts, 4.0, 1.0) AS r FROM fts WHERE fts MATCH ? ORDER BY r, rowid LIMIT ?",
                    (f"{{{column}}} : {phrase}", _CANDIDATES)).fetchall()
            for i in range(0, len(ranked), _BATCH):  # their rows, a batch at a time, until enough are checked
                batch = ranked[i:i + _BATCH]
                with self._lock:
                    rows = {r[0]: SourceRow(*r[1:]) for r in self._conn.execute(
                        "SELECT id, iri, note, url, title, title_start, context, context_start, section FROM sources "
                        f"WHERE id IN ({','.join('?' * len(batch))})", [rowid for rowid, _ in batch])}
                for rowid, rank in batch:
                    row = rows.get(rowid)
                    if row is None or row.iri in seen:
                        continue
                    hit = _check(row, column, term, rank)
                    if hit is not None:
                        hits.append(hit)
                        seen.add(row.iri)
                        found += 1
                        if found >= limit:
                            break
                if found >= limit:
                    break
        return hits


def _check(row: SourceRow, column: str, term: str, rank: float) -> TextHit | None:
    """The hit of ``term`` in one column of a candidate row, if the term stands there as a word."""
    text = (row.title if column == "title" else row.context) or ""
    spans = find_term(text, term)
    if not spans:
        return None
    a, b = spans[0]
    base = row.title_start if column == "title" else row.context_start
    if column == "title":
        sentence = text.strip()
    else:
        sentence = _sentence(text, a, b)
    return TextHit(row, column, text[a:b], base + a if base is not None else None,
                   base + b if base is not None else None, sentence, rank)


_STOPS = "。！？!?；;\n"


def _sentence(text: str, a: int, b: int, limit: int = 300) -> str:
    """The sentence of ``text`` around ``[a, b)`` (cut at sentence ends, at most ``limit`` characters)."""
    lo = max((text.rfind(c, 0, a) for c in _STOPS), default=-1) + 1
    his = [i for i in (text.find(c, b) for c in _STOPS) if i >= 0]
    hi = min(his) + 1 if his else len(text)
    lo, hi = max(lo, a - limit // 2), min(hi, b + limit // 2)
    return " ".join(text[lo:hi].split())
