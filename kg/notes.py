"""Markdown files → :class:`kg.model.Note`.

Owns reading files (encodings, front matter, size limits), the block structure
(markdown-it-py), and the pieces later passes use: sections with their heading
paths, snippets between ``---``, references (a URL line then its title line,
``[text](url)``, bare URLs), 《》 titles, images, and the prose blocks in which
entities are looked for.  Everything keeps its character offsets in the note.

A file that cannot be read becomes a :class:`kg.model.ReadProblem` naming the
file and line; it never stops the other files from being read.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import re
import stat
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt

from kg.errors import NoteError
from kg.model import Block, Image, Note, ReadProblem, Reference, Section, Snippet, Title

__all__ = [
    "NOTE_SUFFIXES",
    "MAX_NOTE_BYTES",
    "find_note_files",
    "scan_notes",
    "NoteScan",
    "printable_path",
    "read_note",
    "read_note_bytes",
    "read_notes",
    "note_hash",
    "parse_note",
    "CONTEXT_MAX_CHARS",
]

NOTE_SUFFIXES = (".md", ".markdown", ".txt")
#: notes larger than this are refused with a clear error (a note is not a data dump)
MAX_NOTE_BYTES = 16 * 1024 * 1024

_URL = r"https?://[^\s<>()\[\]{}（）【】《》「」，。、；：！？“”‘’\"'|]+"
_URL_RE = re.compile(_URL)
_URL_LINE_RE = re.compile(r"^\s*<?(" + _URL + r")>?\s*$")
_IMAGE_RE = re.compile(r"!\[([^\]\n]*)\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"\n]*\")?\s*\)")
_LINK_RE = re.compile(r"(?<!!)\[([^\]\n]+)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"\n]*\")?\s*\)")
_TITLE_RE = re.compile(r"《([^《》\n]{1,300})》")
_CODE_SPAN_RE = re.compile(r"(`+)(?:(?!\1).)+?\1")
_MATH_RE = re.compile(r"\$\$.+?\$\$|\$[^$\n]+\$")
_MARKUP_RE = re.compile(r"\*\*|__|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w)|<[a-zA-Z/][^<>\n]{0,200}>|\{:[^}\n]*\}")
_LINE_PREFIX_RE = re.compile(r"^[ \t]*(?:>[ \t]?)*(?:[*+-][ \t]+|\d{1,9}[.)][ \t]+)?(?:\[[ xX]\][ \t]+)?")
_HEADING_PREFIX_RE = re.compile(r"^[ \t]*#{1,6}[ \t]*|[ \t]+#+[ \t]*$")
_FILE_DATE_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})-")
_TOC_RE = re.compile(r"^\s*(?:[*+-]\s*)?(?:toc|\{:toc\}|\[toc\]|\[\[_?toc_?\]\])\s*$", re.IGNORECASE)

_md = MarkdownIt("commonmark", {"maxNesting": 40}).enable("table")


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
    return _Parser(text, path, file or path, note_hash(raw)).parse()


def _yaml_problem(block: list[str]) -> tuple[int, str] | None:
    """``(file line, what is wrong)`` when the front matter lines (those after the opening ``---``) are not
    valid YAML, else None.  Values are kept as the file writes them (Jekyll's strings): YAML only checks.

    >>> _yaml_problem(["title: ok", "tags: [a, b]"]) is None
    True
    >>> _yaml_problem(["layout: post", "title: [unclosed"])
    (3, "while parsing a flow sequence; expected ',' or ']', but got '<stream end>'")
    """
    import yaml

    try:
        yaml.safe_load("\n".join(block))
    except yaml.YAMLError as err:
        # where the broken construct starts (an unclosed '[' or quote), else where parsing stopped
        mark = getattr(err, "context_mark", None) or getattr(err, "problem_mark", None)
        line = min(len(block), mark.line + 1) if mark is not None else 1
        what = "; ".join(str(x) for x in (getattr(err, "context", None), getattr(err, "problem", None)) if x)
        return line + 1, (what or str(err).splitlines()[0])[:120]
    return None


class _Parser:
    """One note's parse: the state shared while walking markdown-it's tokens."""

    def __init__(self, text: str, path: str, file: str, sha256: str):
        self.text = text
        self.path = path
        self.file = file
        self.sha256 = sha256
        self.line_starts = [0]
        for m in re.finditer("\n", text):
            self.line_starts.append(m.end())
        self.problems: list[ReadProblem] = []
        self.references: list[Reference] = []
        self.images: list[Image] = []
        self.titles: list[Title] = []
        self.blocks: list[Block] = []
        self.block_lines: list[str] = []  # the lines of the last block, while it grows
        self.sections: list[Section] = []
        self.boundaries: list[int] = []  # offsets where a snippet ends (hr, heading)

    # -- positions
    def line_start(self, line: int) -> int:
        """Offset of 0-based ``line`` (or the end of the text past the last line)."""
        return self.line_starts[line] if line < len(self.line_starts) else len(self.text)

    def line_end(self, line: int) -> int:
        """Offset of the end of 0-based ``line``, before its newline."""
        nxt = self.line_start(line + 1)
        return nxt - 1 if nxt > 0 and nxt <= len(self.text) and self.text[nxt - 1 : nxt] == "\n" else nxt

    def line_of(self, offset: int) -> int:
        """1-based line of an offset."""
        return bisect_right(self.line_starts, offset)

    # -- front matter
    def front_matter(self) -> tuple[dict[str, str], int]:
        """Parse Jekyll front matter; return it and the number of lines it takes."""
        lines = self.text.split("\n", 200)
        if not lines or lines[0].strip() != "---":
            return {}, 0
        for i in range(1, min(len(lines), 200)):
            if lines[i].strip() in ("---", "..."):
                break
        else:
            self.problems.append(ReadProblem(
                self.path, 1,
                "front matter opened with '---' is never closed; add a '---' line after it "
                "(read as text meanwhile)", warning=True))
            return {}, 0
        broken = _yaml_problem(lines[1:i])
        if broken is not None:  # Jekyll would refuse it: take none of it rather than a half-read title
            line, what = broken
            self.problems.append(ReadProblem(
                self.path, line, f"front matter is not valid YAML ({what}); fix it (the note is read without "
                "its front matter meanwhile: the title comes from its first heading)", warning=True))
            return {}, i + 1
        meta: dict[str, str] = {}
        for n, line in enumerate(lines[1:i], start=2):
            if not line.strip() or line.lstrip().startswith("#") or line.startswith((" ", "\t", "-")):
                continue
            key, sep, value = line.partition(":")
            if not sep or not key.strip() or " " in key.strip():
                self.problems.append(ReadProblem(
                    self.path, n, f"front matter line is not 'key: value' ({line.strip()[:60]!r}); fix or remove it",
                    warning=True))
                continue
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            meta[key.strip().lower()] = value
        return meta, i + 1

    # -- the walk
    def parse(self) -> Note:
        meta, fm_lines = self.front_matter()
        body_start = self.line_start(fm_lines)
        # blank the front matter so markdown-it's line numbers are the file's
        body = "\n" * fm_lines + self.text[body_start:]
        try:
            tokens = _md.parse(body)
        except Exception as err:  # markdown-it on pathological input; keep the note, report it
            raise NoteError(f"the Markdown could not be parsed ({type(err).__name__}: {err})", path=self.path) from None
        self.walk(tokens)
        self.close_block()
        self.finish_sections()
        snippets = self.make_snippets(body_start)
        snippets_t = tuple(snippets)
        blocks = tuple(self._place(b, snippets_t) for b in self.blocks)
        date = _note_date(meta.get("date"), self.path)
        return Note(
            path=self.path,
            file=self.file,
            sha256=self.sha256,
            text=self.text,
            title=meta.get("title") or (self.sections[0].heading if self.sections else None),
            category=meta.get("category") or meta.get("categories") or None,
            date=date,
            front_matter=tuple(sorted(meta.items())),
            sections=tuple(self.sections),
            snippets=snippets_t,
            references=_with_contexts(self.text, [self._place(r, snippets_t) for r in self.references], blocks),
            titles=tuple(self._place(t, snippets_t) for t in self.titles),
            images=tuple(self._place(i, snippets_t) for i in self.images),
            blocks=blocks,
            problems=tuple(self.problems),
        )

    def walk(self, tokens) -> None:
        heading_stack: list[int] = []
        in_list = 0
        in_quote = 0
        pending_url: int | None = None  # index of a URL-only reference waiting for its title
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            t = tok.type
            if t == "heading_open" and tok.map:
                level = int(tok.tag[1])
                inline = tokens[i + 1]
                a, b = tok.map
                start = self.line_start(a)
                h_start, h_end = start, self.line_end(b - 1)
                heading = inline.content.strip()
                if tok.markup in ("=", "-"):  # setext: the heading is the text above the underline
                    h_end = self.line_end(b - 2)
                while heading_stack and self.sections[heading_stack[-1]].level >= level:
                    heading_stack.pop()
                parent = heading_stack[-1] if heading_stack else None
                hpath = (self.sections[parent].path if parent is not None else ()) + (heading,)
                idx = len(self.sections)
                self.sections.append(Section(idx, level, heading, hpath, parent, start, len(self.text),
                                             h_start, h_end))
                heading_stack.append(idx)
                self.boundaries.append(start)
                masked = self.mask(h_start, h_end, heading=True)
                if masked.strip():
                    self.add_block("heading", h_start, h_end, masked, None)
                pending_url = None
                i += 3
                continue
            if t == "hr" and tok.map:
                self.boundaries.append(self.line_start(tok.map[0]))
                pending_url = None
            elif t in ("bullet_list_open", "ordered_list_open"):
                in_list += 1
            elif t in ("bullet_list_close", "ordered_list_close"):
                in_list -= 1
            elif t == "blockquote_open":
                in_quote += 1
            elif t == "blockquote_close":
                in_quote -= 1
            elif t == "paragraph_open" and tok.map:
                kind = "list_item" if in_list else "quote" if in_quote else "paragraph"
                pending_url = self.paragraph(tok.map[0], tok.map[1], kind, pending_url)
                i += 3
                continue
            elif t in ("fence", "code_block", "table_open", "html_block"):
                pending_url = None
                if t == "table_open":  # skip to the table's end
                    while i < len(tokens) and tokens[i].type != "table_close":
                        i += 1
            i += 1

    def paragraph(self, a: int, b: int, kind: str, pending_url: int | None) -> int | None:
        """Read lines [a, b) of one paragraph; return a URL-only reference still waiting for a title."""
        for line in range(a, b):
            start, end = self.line_start(line), self.line_end(line)
            raw = self.text[start:end]
            if not raw.strip() or _TOC_RE.match(raw):
                continue
            m = _URL_LINE_RE.match(raw)
            if m:
                self.add_reference(m.group(1), start + m.start(1), "listed", None)
                pending_url = len(self.references) - 1
                continue
            masked = self.mask(start, end)
            if pending_url is not None and masked.strip():
                ref = self.references[pending_url]
                lead = len(masked) - len(masked.lstrip())
                trail = len(masked.rstrip())
                t_start, t_end = start + lead, start + trail
                self.references[pending_url] = Reference(
                    ref.index, ref.url, self.text[t_start:t_end].strip(), ref.kind, ref.start, ref.end,
                    t_start, t_end, ref.section, ref.snippet, ref.line)
                self.add_block("reference_title", start, end, masked, pending_url)
                pending_url = None
                continue
            pending_url = None
            if masked.strip():
                self.add_block(kind, start, end, masked, None)
        return pending_url

    def mask(self, start: int, end: int, heading: bool = False) -> str:
        """The line's text with everything but prose blanked, recording links, images and titles."""
        line_text = self.text[start:end]
        spans: list[tuple[int, int]] = []  # what to blank (a list of a long line's characters costs ~90 bytes each)

        def blank(a: int, b: int) -> None:
            spans.append((a, b))

        if heading:
            for m in _HEADING_PREFIX_RE.finditer(line_text):
                blank(m.start(), m.end())
        else:
            m = _LINE_PREFIX_RE.match(line_text)
            if m:
                blank(m.start(), m.end())
        for m in _CODE_SPAN_RE.finditer(line_text):
            blank(m.start(), m.end())
        for m in _MATH_RE.finditer(line_text):
            blank(m.start(), m.end())
        taken: list[tuple[int, int]] = []
        for m in _IMAGE_RE.finditer(line_text):
            self.images.append(Image(m.group(2), m.group(1), start + m.start(), start + m.end(), None, None))
            blank(m.start(), m.end())
            taken.append((m.start(), m.end()))
        for m in _LINK_RE.finditer(line_text):
            if any(a <= m.start() < b for a, b in taken):
                continue
            url = m.group(2)
            label = m.group(1)
            if url.startswith(("http://", "https://", "/", "./", "../")) or "." in url:
                self.add_reference(url, start + m.start(2), "inline", (start + m.start(1), start + m.end(1), label))
            # keep the link text as prose, blank the brackets and the URL
            blank(m.start(), m.start(1))
            blank(m.end(1), m.end())
            taken.append((m.start(), m.end()))
        for m in _URL_RE.finditer(line_text):
            if any(a <= m.start() < b for a, b in taken):
                continue
            url = m.group(0).rstrip(".,;:!?")
            self.add_reference(url, start + m.start(), "bare", None)
            blank(m.start(), m.start() + len(url))
        partly = _blanked(line_text, spans)
        spans = [(m.start(), m.end()) for m in _MARKUP_RE.finditer(partly)]
        masked = _blanked(partly, spans)
        for m in _TITLE_RE.finditer(masked):
            # a title with words blanked in it (a URL, inline code) is not the title of a work; one with
            # markup blanked (《**x**》) is, as the note writes it
            written = line_text[m.start(1) : m.end(1)]
            if m.group(1).strip() and not any(a != b and a.isalnum() for a, b in zip(written, m.group(1))):
                self.titles.append(Title(written, start + m.start(1), start + m.end(1), None, None, None))
        return masked

    def add_reference(self, url: str, url_start: int, kind: str, title: tuple[int, int, str] | None) -> None:
        t_start, t_end, t_text = title if title else (None, None, None)
        self.references.append(Reference(
            len(self.references), url, t_text, kind, url_start, url_start + len(url), t_start, t_end,
            None, None, self.line_of(url_start)))

    def add_block(self, kind: str, start: int, end: int, masked: str, reference: int | None) -> None:
        if reference is not None:
            # the titles found in this line belong to the reference
            self.titles = [Title(t.text, t.start, t.end, t.section, t.snippet, reference)
                           if start <= t.start < end and t.reference is None else t for t in self.titles]
        prev = self.blocks[-1] if self.blocks else None
        if (prev is not None and reference is None and prev.reference is None and prev.kind == kind
                and kind != "heading" and prev.end + 1 == start and self.text[prev.end] == "\n"):
            # consecutive lines of one paragraph: one block, so sentences may span lines
            # (the lines are joined once, by close_block: joining at each line is quadratic in a long paragraph)
            self.block_lines.append(masked)
            self.blocks[-1] = Block(kind, "", prev.start, end, None, None, None, prev.line)
            return
        self.close_block()
        self.blocks.append(Block(kind, masked, start, end, None, None, reference, self.line_of(start)))
        self.block_lines = [masked]

    def close_block(self) -> None:
        """Give the last block the text of its lines."""
        if len(self.block_lines) > 1:
            last = self.blocks[-1]
            self.blocks[-1] = Block(last.kind, "\n".join(self.block_lines), last.start, last.end, None, None,
                                    last.reference, last.line)
        self.block_lines = []

    # -- sections and snippets
    def finish_sections(self) -> None:
        fixed: list[Section] = []
        for s in self.sections:
            end = len(self.text)
            for later in self.sections[s.index + 1:]:
                if later.level <= s.level:
                    end = later.start
                    break
            fixed.append(Section(s.index, s.level, s.heading, s.path, s.parent, s.start, end,
                                 s.heading_start, s.heading_end))
        self.sections = fixed

    def section_at(self, offset: int) -> int | None:
        found = None
        for s in self.sections:
            if s.start <= offset < s.end or (offset == s.end == len(self.text) and s.start <= offset):
                found = s.index  # later (deeper) sections win
            elif s.start > offset:
                break
        return found

    def make_snippets(self, body_start: int) -> list[Snippet]:
        cuts = sorted(set([body_start, *[b for b in self.boundaries if b >= body_start], len(self.text)]))
        snippets: list[Snippet] = []
        for a, b in zip(cuts, cuts[1:]):
            content = [x for x in self.blocks if a <= x.start < b] or [r for r in self.references if a <= r.start < b] \
                or [im for im in self.images if a <= im.start < b]
            if not content:
                continue
            snippets.append(Snippet(len(snippets), self.section_at(a if self.text[a:a + 1] != "-" else a), a, b))
        return snippets

    def _place(self, item, snippets: tuple[Snippet, ...]):
        """A copy of ``item`` with its section and snippet indexes filled in."""
        section = self.section_at(item.start)
        snippet = None
        for s in snippets:
            if s.start <= item.start < s.end:
                snippet = s.index
                break
        if isinstance(item, Reference):
            return Reference(item.index, item.url, item.title, item.kind, item.start, item.end,
                             item.title_start, item.title_end, section, snippet, item.line)
        if isinstance(item, Title):
            return Title(item.text, item.start, item.end, section, snippet, item.reference)
        if isinstance(item, Image):
            return Image(item.url, item.alt, item.start, item.end, section, snippet)
        return Block(item.kind, item.text, item.start, item.end, section, snippet, item.reference, item.line)


_PROSE = frozenset({"paragraph", "list_item", "quote"})
#: a reference's context is at most this long (the blocks nearest its URL are kept)
CONTEXT_MAX_CHARS = 1500


def _blanked(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with the characters of ``spans`` (which may overlap) made spaces, line breaks kept."""
    out, pos = [], 0
    for a, b in sorted(spans):
        a = max(a, pos)
        if a < b:
            out += (text[pos:a], "\n".join(" " * len(part) for part in text[a:b].split("\n")))
            pos = b
    out.append(text[pos:])
    return "".join(out)


def _with_contexts(text: str, refs: list[Reference], blocks: tuple[Block, ...]) -> tuple[Reference, ...]:
    """The references with the prose each belongs to (``context_start``, ``context_end``, ``context``).

    A URL line's context is the run of prose blocks just before it in the same snippet, back to a heading
    or another reference's title line (at most :data:`CONTEXT_MAX_CHARS`, the nearest blocks first); a link
    in running text (``[text](url)``, a bare URL) has the paragraph or list item it stands in.
    """
    starts = [b.start for b in blocks]
    out = []
    for r in refs:
        span = None
        i = bisect_right(starts, r.start) - 1  # the last block starting at or before the URL
        if r.kind != "listed":
            if i >= 0 and blocks[i].start <= r.start < blocks[i].end and blocks[i].kind in _PROSE:
                span = (blocks[i].start, blocks[i].end)
        else:
            first = last = None
            while i >= 0:
                b = blocks[i]
                if b.end > r.start:  # (a block the URL line stands in is no block before it)
                    i -= 1
                    continue
                if b.kind not in _PROSE or b.snippet != r.snippet or b.section != r.section:
                    break
                if last is not None and last.end - b.start > CONTEXT_MAX_CHARS:
                    break
                first, last = b, last or b
                i -= 1
            if first is not None and last is not None:
                span = (max(first.start, last.end - CONTEXT_MAX_CHARS), last.end)
        if span is not None:
            context = _context_text(text, blocks, *span)
            if context.strip():
                r = Reference(r.index, r.url, r.title, r.kind, r.start, r.end, r.title_start, r.title_end,
                              r.section, r.snippet, r.line, span[0], span[1], context)
        out.append(r)
    return tuple(out)


def _context_text(text: str, blocks: tuple[Block, ...], a: int, b: int) -> str:
    """``text[a:b]`` with everything but the prose of ``blocks`` blanked (newlines kept)."""
    chars = [c if c == "\n" else " " for c in text[a:b]]
    for blk in blocks:
        if blk.end <= a or blk.start >= b or blk.kind not in _PROSE:
            continue
        lo, hi = max(a, blk.start), min(b, blk.end)
        chars[lo - a:hi - a] = blk.text[lo - blk.start:hi - blk.start]
    return "".join(chars)


def _note_date(value: str | None, path: str) -> str | None:
    """ISO date of a note: front matter ``date`` first, then a ``YYYY-M-D-`` file name."""
    candidates = []
    if value:
        m = re.match(r"(\d{4})-(\d{1,2})-(\d{1,2})", value.strip())
        if m:
            candidates.append(m.groups())
    m = _FILE_DATE_RE.match(Path(path).name)
    if m:
        candidates.append(m.groups())
    for y, mo, d in candidates:
        try:
            return _dt.date(int(y), int(mo), int(d)).isoformat()
        except ValueError:
            continue
    return None
