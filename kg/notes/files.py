"""Finding and reading note files: the walk over the notes folders (what is a note, what is skipped and
why, what could not be read), and a note file's bytes (regular files only, none too large), with the hash
that names its content."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kg.errors import NoteError
from kg.model import ReadProblem

__all__ = [
    "MAX_NOTE_BYTES",
    "NOTE_SUFFIXES",
    "NoteScan",
    "find_note_files",
    "note_hash",
    "printable_path",
    "read_note_bytes",
    "scan_notes",
]

NOTE_SUFFIXES = (".md", ".markdown", ".txt")
#: notes larger than this are refused with a clear error (a note is not a data dump)
MAX_NOTE_BYTES = 16 * 1024 * 1024


@dataclass
class NoteScan:
    """What a walk over the notes folders found.

    ``files`` are ``(file, note_path)`` pairs of regular files to read; ``problems`` are errors (a folder
    that cannot be read, a file name that is not UTF-8), ``skipped`` are things deliberately left out, with
    why (links that leave the notes folder, FIFOs, devices); ``unreadable`` are note-path prefixes of folders
    that could not be read: notes under them keep their last good graphs.
    """

    files: list[tuple[Path, str]] = field(default_factory=list)
    problems: list[ReadProblem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


def printable_path(path: str) -> str:
    """A path as it can be shown: bytes that are not UTF-8 as ``\\xNN``, control characters escaped."""
    text = path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False


def scan_notes(paths: Iterable[str | os.PathLike[str]], *, follow_symlinks: bool = False) -> NoteScan:
    """Find every note under ``paths`` (see :func:`find_note_files`), and what could not be or was not taken.

    Only regular files are notes.  A symbolic link is followed when it stays inside the folder given (or
    with ``follow_symlinks``); one that leaves it, and FIFOs, devices and sockets, are skipped with a
    message.  A folder that cannot be read is a problem, and the notes under it are left as they were.
    """
    roots = [Path(p) for p in paths]
    prefix_roots = sum(1 for r in roots if r.is_dir()) > 1
    scan = NoteScan()
    seen: set[str] = set()
    for root in roots:
        found: list[tuple[Path, str]] = []
        if root.is_dir():
            top = root.resolve()
            base = f"{top.name}/" if prefix_roots else ""

            def rel_of(p: Path) -> str:
                r = p.relative_to(root).as_posix()
                return base + r if r != "." else base.rstrip("/")

            def folder_error(err: OSError) -> None:
                where = Path(err.filename) if err.filename else root
                rel = rel_of(where) if _inside(where, root) else str(where)
                scan.problems.append(ReadProblem(printable_path(rel or "."), None, (
                    f"cannot read the folder ({err.strerror or err}); the notes in it keep their last good "
                    "graphs: fix its permissions or shorten its path")))
                scan.unreadable.append(rel)

            visited: set[tuple[int, int]] = set()
            for dirpath, dirnames, filenames in os.walk(root, onerror=folder_error, followlinks=follow_symlinks):
                here = Path(dirpath)
                keep = []
                for d in sorted(dirnames):
                    if d.startswith(".") or d == "_site":
                        continue
                    sub = here / d
                    try:
                        is_link = stat.S_ISLNK(os.lstat(sub).st_mode)
                    except OSError:  # past the path limit, say: the walk reports it when it goes in
                        is_link = False
                    if is_link:
                        target = sub.resolve()
                        if not follow_symlinks:
                            scan.skipped.append(f"{printable_path(rel_of(sub))}: a link to a folder, not followed "
                                                "(--follow-symlinks reads it)")
                            continue
                        try:
                            st = target.stat()
                        except OSError:
                            continue
                        if (st.st_dev, st.st_ino) in visited:
                            continue  # a loop, or a folder read already
                    keep.append(d)
                dirnames[:] = keep
                try:
                    st = here.stat()
                    visited.add((st.st_dev, st.st_ino))
                except OSError:
                    pass
                for name in filenames:
                    if not name.lower().endswith(NOTE_SUFFIXES) or name.startswith("."):
                        continue
                    file = here / name
                    rel = rel_of(file)
                    try:
                        why = _not_a_note(file, top, follow_symlinks)
                    except OSError as err:  # a note that is there but cannot be looked at keeps its graph
                        scan.problems.append(ReadProblem(printable_path(rel), None, (
                            f"cannot read the file ({err.strerror or err}); it keeps its last good graph")))
                        scan.unreadable.append(rel)
                        continue
                    if why is not None:
                        scan.skipped.append(f"{printable_path(rel)}: {why}")
                        continue
                    try:
                        rel.encode("utf-8")
                    except UnicodeEncodeError:
                        scan.problems.append(ReadProblem(printable_path(rel), None, (
                            "the file name is not valid UTF-8, and a note is named by its path; rename it")))
                        continue
                    found.append((file, rel))
            found.sort(key=lambda fp: fp[1])
        elif root.exists() or root.is_symlink():
            try:
                why = _not_a_note(root, None, True)
            except OSError as err:
                why = f"cannot be looked at ({err.strerror or err})"
            if why is not None:
                scan.skipped.append(f"{printable_path(str(root))}: {why}")
                continue
            found = [(root, root.name)]
            try:
                root.name.encode("utf-8")
            except UnicodeEncodeError:
                scan.problems.append(ReadProblem(printable_path(str(root)), None,
                                                 "the file name is not valid UTF-8; rename it"))
                continue
        else:
            raise NoteError("no such file or folder; give a folder of Markdown notes or a note file", path=str(root))
        for file, rel in found:
            if rel not in seen:
                seen.add(rel)
                scan.files.append((file, rel))
    return scan


def _not_a_note(file: Path, top: Path | None, follow_symlinks: bool) -> str | None:
    """Why ``file`` is not read as a note (None if it is): a link out of the folder ``top``, or not a file.
    Raises OSError when it cannot be looked at."""
    if stat.S_ISLNK(os.lstat(file).st_mode):
        target = file.resolve()
        if not follow_symlinks and top is not None and not _inside(target, top):
            return "a link to a file outside the notes folder, not followed (--follow-symlinks reads it)"
        try:
            mode = os.stat(file).st_mode
        except FileNotFoundError:
            return "a link to nothing"
    else:
        mode = os.lstat(file).st_mode
    if not stat.S_ISREG(mode):
        return f"{_kind(mode)}, not a note file"
    return None


def find_note_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[tuple[Path, str]]:
    """Yield ``(file, note_path)`` for every note under ``paths``, sorted.

    A folder is walked recursively (hidden folders and ``_site`` skipped); a
    file is taken whatever its suffix.  ``note_path`` is the path relative to
    the folder given (the file's name for a file given directly).  When more
    than one folder is given, each note path starts with its folder's name.
    What is skipped, and why, is told by :func:`scan_notes`.
    """
    yield from scan_notes(paths).files


def read_note_bytes(file: str | os.PathLike[str], path: str | None = None) -> bytes:
    """The bytes of a note file: regular files only (a FIFO or device is refused, never waited on), and
    none too large to be a note (checked before reading)."""
    file = Path(file)
    path = path or file.name
    try:
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise NoteError(f"cannot read the file ({err.strerror or err}); check its permissions", path=path) from None
    with os.fdopen(fd, "rb") as fh:
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise NoteError(f"{_kind(st.st_mode)}, not a note file; move it out of the notes folder", path=path)
            if st.st_size > MAX_NOTE_BYTES:
                raise NoteError(
                    f"file is {st.st_size / 2**20:.1f} MiB, larger than the {MAX_NOTE_BYTES // 2**20} MiB a note may "
                    "be; split it into smaller notes",
                    path=path,
                )
            data = fh.read(MAX_NOTE_BYTES + 1)
        except OSError as err:
            raise NoteError(f"cannot read the file ({err.strerror or err}); check its permissions",
                            path=path) from None
    if len(data) > MAX_NOTE_BYTES:
        raise NoteError(f"file grew past the {MAX_NOTE_BYTES // 2**20} MiB a note may be while it was read", path=path)
    return data


def note_hash(data: bytes) -> str:
    """The hash that identifies a note's content (``Note.sha256``)."""
    return hashlib.sha256(data).hexdigest()
