"""The folder of an embedded store: its generations (``gen-000001``, ...) and the ``CURRENT`` file naming
the live one.

A build writes a new generation and switches ``CURRENT`` only when everything is written; the generation
before the live one is kept (a reader may still have it open), older ones are dropped.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from kg.integrity import damage_error

__all__ = ["GEN_RE", "KEEP_GENERATIONS", "generations", "generation_number", "current", "check_current",
           "drop_old_generations"]

GEN_RE = re.compile(r"^gen-(\d{6,})$")
KEEP_GENERATIONS = 2  # the live one and the one before, which a reader may still have open


def generation_number(gen: Path) -> int:
    """The number in a generation folder's name (``gen-000012`` → 12)."""
    return int(GEN_RE.match(gen.name).group(1))


def generations(root: Path) -> list[Path]:
    """The generation folders under ``root``, oldest first."""
    gens = [p for p in root.iterdir() if p.is_dir() and GEN_RE.match(p.name)] if root.is_dir() else []
    return sorted(gens, key=generation_number)


def current(root: Path) -> Path | None:
    """The live generation as ``CURRENT`` names it; None when there is none (or it names none that is there)."""
    try:
        name = (root / "CURRENT").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not GEN_RE.match(name) or not (root / name).is_dir():
        return None
    return root / name


def check_current(root: Path) -> None:
    """Raise :class:`StoreDamagedError` when ``CURRENT`` is there but names no generation that is there."""
    path = root / "CURRENT"
    if not path.exists():
        return
    try:
        name = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as err:
        raise damage_error(f"CURRENT cannot be read ({err})", path, root) from None
    if not GEN_RE.match(name):
        raise damage_error(f"CURRENT should name the live generation but holds {name[:40]!r}", path, root)
    if not (root / name).is_dir():
        raise damage_error(f"CURRENT names {name}, which is not there", path, root)


def drop_old_generations(root: Path) -> None:
    """Remove the generations older than the live one and the one before it."""
    live = current(root)
    gens = generations(root)
    keep = {live} if live else set()
    older = [g for g in gens if live is None or generation_number(g) < generation_number(live)]
    keep.update(older[-(KEEP_GENERATIONS - 1):] if KEEP_GENERATIONS > 1 else [])
    for g in gens:
        if g not in keep:
            shutil.rmtree(g, ignore_errors=True)
