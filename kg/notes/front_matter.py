"""A note's front matter (Jekyll's ``---`` block: checked as YAML, kept as the file writes it) and its
date (the front matter's ``date``, else a ``YYYY-M-D-`` file name)."""

from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path

from kg.model import ReadProblem

__all__ = ["note_date", "read_front_matter", "yaml_problem"]

_FILE_DATE_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})-")


def yaml_problem(block: list[str]) -> tuple[int, str] | None:
    """``(file line, what is wrong)`` when the front matter lines (those after the opening ``---``) are not
    valid YAML, else None.  Values are kept as the file writes them (Jekyll's strings): YAML only checks.

    >>> yaml_problem(["title: ok", "tags: [a, b]"]) is None
    True
    >>> yaml_problem(["layout: post", "title: [unclosed"])
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


def read_front_matter(text: str, path: str, problems: list[ReadProblem]) -> tuple[dict[str, str], int]:
    """Parse the Jekyll front matter at the start of ``text``; return it and the number of lines it takes.
    What is wrong with it is added to ``problems``, as warnings (the note is read all the same)."""
    lines = text.split("\n", 200)
    if not lines or lines[0].strip() != "---":
        return {}, 0
    for i in range(1, min(len(lines), 200)):
        if lines[i].strip() in ("---", "..."):
            break
    else:
        problems.append(ReadProblem(
            path, 1,
            "front matter opened with '---' is never closed; add a '---' line after it "
            "(read as text meanwhile)", warning=True))
        return {}, 0
    broken = yaml_problem(lines[1:i])
    if broken is not None:  # Jekyll would refuse it: take none of it rather than a half-read title
        line, what = broken
        problems.append(ReadProblem(
            path, line, f"front matter is not valid YAML ({what}); fix it (the note is read without "
            "its front matter meanwhile: the title comes from its first heading)", warning=True))
        return {}, i + 1
    meta: dict[str, str] = {}
    for n, line in enumerate(lines[1:i], start=2):
        if not line.strip() or line.lstrip().startswith("#") or line.startswith((" ", "\t", "-")):
            continue
        key, sep, value = line.partition(":")
        if not sep or not key.strip() or " " in key.strip():
            problems.append(ReadProblem(
                path, n, f"front matter line is not 'key: value' ({line.strip()[:60]!r}); fix or remove it",
                warning=True))
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        meta[key.strip().lower()] = value
    return meta, i + 1


def note_date(value: str | None, path: str) -> str | None:
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
