"""A note's block structure (markdown-it-py's tokens walked): sections with their heading paths, snippets
between ``---`` and headings, reference lists (a URL line, then its title line), and the prose blocks in
which entities are looked for, each placed in its section and snippet."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator

from markdown_it import MarkdownIt
from markdown_it.rules_block import table as _table

from kg.errors import NoteError
from kg.model import Block, Image, Note, ReadProblem, Reference, Section, Snippet, Title
from kg.notes.chunks import CHUNK_LINES, chunk_starts
from kg.notes.contexts import with_contexts
from kg.notes.front_matter import note_date, read_front_matter
from kg.notes.inline import TOC_RE, URL_LINE_RE, mask_line

__all__ = ["NoteParser"]

def _table_outline(state, start_line: int, end_line: int, silent: bool) -> bool:
    """markdown-it's table rule, keeping only the table's open and close tokens (with the lines it spans):
    kg reads no table cell, and a table of a million rows would be fourteen million tokens held at once."""
    if silent:
        return _table(state, start_line, end_line, silent)
    push = state.push

    def push_outline(ttype: str, tag: str, nesting: int):
        token = push(ttype, tag, nesting)  # (keeps the nesting level right)
        if ttype not in ("table_open", "table_close"):
            state.tokens.pop()
        return token

    state.push = push_outline
    try:
        return _table(state, start_line, end_line, silent)
    finally:
        del state.push


#: markdown-it reads nothing more of a note past where lists nest beyond its limit (maxNesting), so it is given
#: the lines with at most this many columns of indentation (a list nests no deeper than some 16 levels; kg reads
#: the lines themselves from the note, by number, so their length need not be kept)
MAX_INDENT = 32
_DEEP_INDENT_RE = re.compile(r"^[ \t]{9,}", re.MULTILINE)
#: likewise quotes: at most this many ``>`` open a line
MAX_QUOTES = 16
_DEEP_QUOTE_RE = re.compile(r"^(?:[ \t]*>){%d,}" % (MAX_QUOTES + 1), re.MULTILINE)


def _pieces(body: str, size: int) -> Iterator[tuple[int, str]]:
    """``(first line, text)`` of the pieces markdown-it reads: the whole body unless it has more than ``size``
    lines (:func:`kg.notes.chunks.chunk_starts`)."""
    if body.count("\n") <= size:
        yield 0, body
        return
    lines = body.split("\n")
    starts = chunk_starts(lines, size) + [len(lines)]
    for a, b in zip(starts, starts[1:]):
        yield a, "\n".join(lines[a:b]) + ("\n" if b < len(lines) else "")


def _cap_indent(m: re.Match) -> str:
    indent = m.group(0)
    return " " * MAX_INDENT if len(indent.expandtabs(4)) > MAX_INDENT else indent


_md = MarkdownIt("commonmark", {"maxNesting": 40}).enable("table").disable("inline")  # (kg reads lines itself)
_md.block.ruler.at("table", _table_outline, {"alt": ["paragraph", "reference"]})


class NoteParser:
    """One note's parse: the state shared while walking markdown-it's tokens (``parse()`` gives the
    :class:`kg.model.Note`)."""

    def __init__(self, text: str, path: str, file: str, sha256: str, chunk_lines: int = CHUNK_LINES):
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
        self.heading_stack: list[int] = []  # the open sections, while the tokens are walked
        self.pending_url: int | None = None  # index of a URL-only reference waiting for its title
        self.chunk_lines = chunk_lines
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

    # -- the walk
    def parse(self) -> Note:
        meta, fm_lines = read_front_matter(self.text, self.path, self.problems)
        body_start = self.line_start(fm_lines)
        # blank the front matter so markdown-it's line numbers are the file's
        body = "\n" * fm_lines + self.text[body_start:]
        body = _DEEP_QUOTE_RE.sub(">" * MAX_QUOTES, _DEEP_INDENT_RE.sub(_cap_indent, body))
        for first_line, piece in _pieces(body, self.chunk_lines):
            try:
                tokens = _md.parse(piece)
            except Exception as err:  # markdown-it on pathological input; keep the note, report it
                raise NoteError(f"the Markdown could not be parsed ({type(err).__name__}: {err})",
                                path=self.path) from None
            if first_line:
                for tok in tokens:
                    if tok.map:
                        tok.map = [tok.map[0] + first_line, tok.map[1] + first_line]
            self.walk(tokens)
            del tokens
        self.close_block()
        self.finish_sections()
        snippets = self.make_snippets(body_start)
        snippets_t = tuple(snippets)
        blocks = tuple(self._place(b, snippets_t) for b in self.blocks)
        date = note_date(meta.get("date"), self.path)
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
            references=with_contexts(self.text, [self._place(r, snippets_t) for r in self.references], blocks),
            titles=tuple(self._place(t, snippets_t) for t in self.titles),
            images=tuple(self._place(i, snippets_t) for i in self.images),
            blocks=blocks,
            problems=tuple(self.problems),
        )

    def walk(self, tokens) -> None:
        """Read the tokens of the note, or of the next piece of it (see kg.notes.chunks)."""
        heading_stack = self.heading_stack
        in_list = 0
        in_quote = 0
        pending_url = self.pending_url
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
        self.pending_url = pending_url

    def paragraph(self, a: int, b: int, kind: str, pending_url: int | None) -> int | None:
        """Read lines [a, b) of one paragraph; return a URL-only reference still waiting for a title."""
        for line in range(a, b):
            start, end = self.line_start(line), self.line_end(line)
            raw = self.text[start:end]
            if not raw.strip() or TOC_RE.match(raw):
                continue
            m = URL_LINE_RE.match(raw)
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
                title = self.text[t_start:t_end].strip()
                self.references[pending_url] = Reference(
                    ref.index, ref.url, title, ref.kind, ref.start, ref.end,
                    t_start, t_end, ref.section, ref.snippet, ref.line)
                # (one string for both where they are equal: a reference list of 10⁵ titles holds it once)
                self.add_block("reference_title", start, end, title if masked == title else masked, pending_url)
                pending_url = None
                continue
            pending_url = None
            if masked.strip():
                self.add_block(kind, start, end, masked, None)
        return pending_url

    def mask(self, start: int, end: int, heading: bool = False) -> str:
        """The line's text with everything but prose blanked, recording links, images and titles."""
        found = mask_line(self.text, start, end, heading)
        self.images.extend(found.images)
        for url, url_start, kind, title in found.references:
            self.add_reference(url, url_start, kind, title)
        self.titles.extend(found.titles)
        return found.masked

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
