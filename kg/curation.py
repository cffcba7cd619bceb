"""Hand corrections to extraction: reading ``kg-curation.toml`` files.

This module owns the curation file format.  A file looks like::

    # kg-curation.toml, beside the notes or in the repo
    not_entities = ["东西", "深度"]

    [aliases]            # alias = "canonical name"
    PLE = "Progressive Layered Extraction"

    [merges]             # name = "name it is merged into"
    "小西" = "小西行长"

    [types]              # name = "Person" | "Event" | "Paper" | "Place" | "Organization" | "Technology"
    "三井" = "Organization"

Several files are merged in the order given; a later file wins on conflicts.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path

from kg.errors import CurationError
from kg.model import ENTITY_TYPES, Curation

__all__ = ["CURATION_FILE", "load_curation", "merge_curations"]

#: file name looked for in each input folder
CURATION_FILE = "kg-curation.toml"

_KNOWN_KEYS = {"aliases", "merges", "types", "not_entities"}


def _string_table(data: dict, name: str, path: Path) -> dict[str, str]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise CurationError(f"[{name}] must be a table of name = \"name\" pairs", path=str(path))
    for key, value in table.items():
        if not isinstance(value, str) or not value.strip() or not key.strip():
            raise CurationError(
                f"[{name}] entry {key!r} must map a non-empty name to a non-empty string, got {value!r}",
                path=str(path),
            )
    return {key.strip(): value.strip() for key, value in table.items()}


def _read_one(path: Path) -> Curation:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CurationError(f"not valid TOML ({exc}); fix the syntax", path=str(path)) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise CurationError(f"cannot read the curation file ({exc})", path=str(path)) from exc
    unknown = sorted(set(data) - _KNOWN_KEYS)
    if unknown:
        raise CurationError(
            f"unknown key(s) {', '.join(unknown)}; allowed are [aliases], [merges], [types] and not_entities",
            path=str(path),
        )
    aliases = _string_table(data, "aliases", path)
    merges = _string_table(data, "merges", path)
    types = _string_table(data, "types", path)
    for name, type_ in types.items():
        if type_ not in ENTITY_TYPES:
            raise CurationError(
                f"[types] {name!r} = {type_!r}: the type must be one of {', '.join(ENTITY_TYPES)}",
                path=str(path),
            )
    not_entities = data.get("not_entities", [])
    if not isinstance(not_entities, list) or not all(isinstance(x, str) and x.strip() for x in not_entities):
        raise CurationError("not_entities must be a list of non-empty strings", path=str(path))
    return Curation(
        aliases=tuple(sorted(aliases.items())),
        merges=tuple(sorted(merges.items())),
        not_entities=tuple(sorted({x.strip() for x in not_entities})),
        types=tuple(sorted(types.items())),
    )


def merge_curations(curations: Iterable[Curation]) -> Curation:
    """Combine curations; later ones win where they disagree."""
    aliases: dict[str, str] = {}
    merges: dict[str, str] = {}
    types: dict[str, str] = {}
    not_entities: set[str] = set()
    for cur in curations:
        aliases.update(cur.aliases)
        merges.update(cur.merges)
        types.update(cur.types)
        not_entities.update(cur.not_entities)
    return Curation(
        aliases=tuple(sorted(aliases.items())),
        merges=tuple(sorted(merges.items())),
        not_entities=tuple(sorted(not_entities)),
        types=tuple(sorted(types.items())),
    )


def load_curation(paths: Iterable[str | Path]) -> Curation:
    """Read curation files (or folders holding ``kg-curation.toml``) and merge them.

    A folder without a curation file is skipped; a named file that does not
    exist raises :class:`~kg.errors.CurationError`.
    """
    found: list[Curation] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            path = path / CURATION_FILE
            if not path.is_file():
                continue
        elif not path.is_file():
            raise CurationError("curation file not found; check the path", path=str(path))
        found.append(_read_one(path))
    return merge_curations(found)
