"""What one line of a note holds: links (``[text](url)``), bare URLs, images, 《》 titles, and its prose
with everything else (list markers, heading marks, code, math, markup) blanked, offsets kept."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kg.model import Image, Title

__all__ = ["TOC_RE", "URL_LINE_RE", "LineFindings", "blanked", "mask_line"]

_URL = r"https?://[^\s<>()\[\]{}（）【】《》「」，。、；：！？“”‘’\"'|]+"
_URL_RE = re.compile(_URL)
#: a line that is a URL only (the first line of a reference in a list)
URL_LINE_RE = re.compile(r"^\s*<?(" + _URL + r")>?\s*$")
_IMAGE_RE = re.compile(r"!\[([^\]\n]*)\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"\n]*\")?\s*\)")
_LINK_RE = re.compile(r"(?<!!)\[([^\]\n]+)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"\n]*\")?\s*\)")
_TITLE_RE = re.compile(r"《([^《》\n]{1,300})》")
_CODE_SPAN_RE = re.compile(r"(`+)(?:(?!\1).)+?\1")
_MATH_RE = re.compile(r"\$\$.+?\$\$|\$[^$\n]+\$")
_MARKUP_RE = re.compile(r"\*\*|__|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w)|<[a-zA-Z/][^<>\n]{0,200}>|\{:[^}\n]*\}")
_LINE_PREFIX_RE = re.compile(r"^[ \t]*(?:>[ \t]?)*(?:[*+-][ \t]+|\d{1,9}[.)][ \t]+)?(?:\[[ xX]\][ \t]+)?")
_HEADING_PREFIX_RE = re.compile(r"^[ \t]*#{1,6}[ \t]*|[ \t]+#+[ \t]*$")
#: a table-of-contents marker line (Kramdown's ``{:toc}`` and the like), no prose
TOC_RE = re.compile(r"^\s*(?:[*+-]\s*)?(?:toc|\{:toc\}|\[toc\]|\[\[_?toc_?\]\])\s*$", re.IGNORECASE)


@dataclass
class LineFindings:
    """What :func:`mask_line` found in a line: its text with everything but prose blanked (as long as the
    line), and the images, references (``(url, url start, kind, (label start, label end, label) or None)``,
    kind ``inline`` or ``bare``) and 《》 titles in it, in the order they stand, with offsets in the note."""

    masked: str
    images: list[Image] = field(default_factory=list)
    references: list[tuple[str, int, str, tuple[int, int, str] | None]] = field(default_factory=list)
    titles: list[Title] = field(default_factory=list)


def mask_line(text: str, start: int, end: int, heading: bool = False) -> LineFindings:
    """``text[start:end]`` (a line, or a heading's lines) with everything but prose blanked, and the links,
    images and titles found in it."""
    line_text = text[start:end]
    found = LineFindings("")
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
        found.images.append(Image(m.group(2), m.group(1), start + m.start(), start + m.end(), None, None))
        blank(m.start(), m.end())
        taken.append((m.start(), m.end()))
    for m in _LINK_RE.finditer(line_text):
        if any(a <= m.start() < b for a, b in taken):
            continue
        url = m.group(2)
        label = m.group(1)
        if url.startswith(("http://", "https://", "/", "./", "../")) or "." in url:
            found.references.append((url, start + m.start(2), "inline", (start + m.start(1), start + m.end(1),
                                                                      label)))
        # keep the link text as prose, blank the brackets and the URL
        blank(m.start(), m.start(1))
        blank(m.end(1), m.end())
        taken.append((m.start(), m.end()))
    for m in _URL_RE.finditer(line_text):
        if any(a <= m.start() < b for a, b in taken):
            continue
        url = m.group(0).rstrip(".,;:!?")
        found.references.append((url, start + m.start(), "bare", None))
        blank(m.start(), m.start() + len(url))
    partly = blanked(line_text, spans)
    masked = blanked(partly, [(m.start(), m.end()) for m in _MARKUP_RE.finditer(partly)])
    for m in _TITLE_RE.finditer(masked):
        # a title with words blanked in it (a URL, inline code) is not the title of a work; one with
        # markup blanked (《**x**》) is, as the note writes it
        written = line_text[m.start(1) : m.end(1)]
        if m.group(1).strip() and not any(a != b and a.isalnum() for a, b in zip(written, m.group(1))):
            found.titles.append(Title(written, start + m.start(1), start + m.end(1), None, None, None))
    found.masked = masked
    return found


def blanked(text: str, spans: list[tuple[int, int]]) -> str:
    r"""``text`` with the characters of ``spans`` (which may overlap) made spaces, line breaks kept.

    >>> blanked("ab\ncd ef", [(1, 4), (6, 7)])
    'a \n d  f'
    """
    out, pos = [], 0
    for a, b in sorted(spans):
        a = max(a, pos)
        if a < b:
            out += (text[pos:a], "\n".join(" " * len(part) for part in text[a:b].split("\n")))
            pos = b
    out.append(text[pos:])
    return "".join(out)
