"""What one note may cost to extract: time and memory, checked as extraction goes.

A long note is read piece by piece (:data:`kg.extract.assembly.PIECE` characters), and its findings are
assembled block by block; between those steps the :class:`NoteWatch` of the note compares the time spent
and the memory the process grew by with the :class:`NoteLimits`, and raises
:class:`~kg.errors.ExtractionError` past them.  The step sizes keep each check within a second or so of
work, whatever the note looks like, so no signal or thread is needed.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from kg.errors import ExtractionError

__all__ = ["NoteLimits", "NoteWatch", "resident_mb"]


@dataclass(frozen=True)
class NoteLimits:
    """Per note: ``seconds`` of extraction and ``memory_mb`` the process may grow by (None: no limit)."""

    seconds: float | None = 600.0
    memory_mb: float | None = 2048.0


_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20 if hasattr(os, "sysconf") else 0.0


def resident_mb() -> float | None:
    """The process's resident memory now, in MiB (None where /proc is not there to say)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE_MB
    except (OSError, ValueError, IndexError):
        return None


class NoteWatch:
    """The limits of one note's extraction, from its start."""

    def __init__(self, path: str, limits: NoteLimits):
        self.path, self.limits = path, limits
        self.started = time.monotonic()
        self.base_mb = resident_mb() if limits.memory_mb is not None else None

    def check(self) -> None:
        """Raise ExtractionError when the note has taken longer or grown the process more than allowed."""
        limits = self.limits
        if limits.seconds is not None:
            spent = time.monotonic() - self.started
            if spent > limits.seconds:
                raise ExtractionError(
                    f"extraction stopped after {spent:.0f} s, past the limit of {limits.seconds:g} s a note; "
                    "the note keeps its text and sources but no entities: split it, or raise "
                    "--note-seconds", path=self.path)
        if self.base_mb is not None:
            now = resident_mb()
            if now is not None and now - self.base_mb > limits.memory_mb:  # type: ignore[operator]
                raise ExtractionError(
                    f"extraction stopped when it had grown the process by {now - self.base_mb:.0f} MB, past the "
                    f"limit of {limits.memory_mb:g} MB a note; the note keeps its text and sources but no "
                    "entities: split it, or raise --note-memory-mb", path=self.path)
