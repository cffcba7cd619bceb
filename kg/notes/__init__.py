"""Markdown files → :class:`kg.model.Note`: the entry (:func:`read_notes`, :func:`read_note`,
:func:`parse_note`, and decoding a file's bytes as text).

Reading files (encodings, front matter, size limits), the block structure
(markdown-it-py), and the pieces later passes use: sections with their heading
paths, snippets between ``---``, references (a URL line then its title line,
``[text](url)``, bare URLs), 《》 titles, images, and the prose blocks in which
entities are looked for.  Everything keeps its character offsets in the note.
The pieces: :mod:`kg.notes.files` (the walk over the folders, a file's bytes),
:mod:`kg.notes.front_matter` (front matter, the note's date), :mod:`kg.notes.blocks`
(the block structure), :mod:`kg.notes.inline` (what a line holds: links, URLs,
images, 《》 titles, its prose), :mod:`kg.notes.contexts` (a reference's context).

A file that cannot be read becomes a :class:`kg.model.ReadProblem` naming the
file and line; it never stops the other files from being read.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from kg.errors import NoteError
from kg.model import Note, ReadProblem
from kg.notes.blocks import NoteParser
from kg.notes.contexts import CONTEXT_MAX_CHARS
from kg.notes.files import (
    MAX_NOTE_BYTES,
    NOTE_SUFFIXES,
    NoteScan,
    find_note_files,
    note_hash,
    printable_path,
    read_note_bytes,
    scan_notes,
)

__all__ = [
    "CONTEXT_MAX_CHARS",
    "MAX_NOTE_BYTES",
    "NOTE_SUFFIXES",
    "NoteScan",
    "find_note_files",
    "note_hash",
    "parse_note",
    "printable_path",
    "read_note",
    "read_note_bytes",
    "read_notes",
    "scan_notes",
]


def read_notes(
    paths: Iterable[str | os.PathLike[str]],
) -> tuple[list[Note], list[ReadProblem]]:
    """Read every note under ``paths``; return the notes and the problems met.

    >>> notes, problems = read_notes(["samples"])  # doctest: +SKIP
    """
    notes: list[Note] = []
    scan = scan_notes(paths)
    problems: list[ReadProblem] = list(scan.problems)
    for file, rel in scan.files:
        try:
            note = read_note(file, rel)
        except NoteError as err:
            problems.append(ReadProblem(rel, err.line, err.message))
            continue
        notes.append(note)
        problems.extend(note.problems)
    return notes, problems


def read_note(file: str | os.PathLike[str], path: str | None = None) -> Note:
    """Read one file as a note; raise :class:`NoteError` when it cannot be."""
    file = Path(file)
    path = path or file.name
    return parse_note(read_note_bytes(file, path), path, file=str(file.resolve()))


def _decode(data: bytes, path: str) -> str:
    if not data.strip():
        raise NoteError("the file is empty; add text or remove it", path=path)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise NoteError("the file is encoded as UTF-16; re-save it as UTF-8", path=path, line=1)
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise NoteError("the file holds NUL bytes, so it is binary, not a note; move it out of the notes folder",
                        path=path, line=line)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise NoteError(
            f"not valid UTF-8 (byte 0x{data[err.start]:02x} at offset {err.start}); re-save the file as UTF-8",
            path=path,
            line=line,
        ) from None


def parse_note(data: bytes | str, path: str, file: str | None = None) -> Note:
    """Parse the bytes (or text) of one note."""
    if isinstance(data, str):
        raw = data.encode("utf-8", "surrogatepass")
        text = data
        if not text.strip():
            raise NoteError("the file is empty; add text or remove it", path=path)
        if "\x00" in text:
            raise NoteError("the text holds NUL characters, so it is binary, not a note", path=path,
                            line=text[: text.index("\x00")].count("\n") + 1)
    else:
        raw = data
        text = _decode(data, path)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return NoteParser(text, path, file or path, note_hash(raw)).parse()
