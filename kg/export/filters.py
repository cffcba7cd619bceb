"""What part of the entity graph a view shows: :class:`ViewFilter`, read from query parameters or CLI
options by :func:`parse_filter`.  (Applying it to a graph is :func:`kg.export.view.load_view_graph`'s.)"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kg.errors import ExportError
from kg.model import ENTITY_TYPES

__all__ = ["NODE_TYPES", "ViewFilter", "canonical_type", "parse_filter"]

#: node types a view can hold: the entity types and Source
NODE_TYPES = (*ENTITY_TYPES, "Source")


@dataclass(frozen=True)
class ViewFilter:
    """What part of the graph to show.

    ``types``: node types to keep (empty: every entity type; add ``"Source"`` for sources).
    ``communities``: community numbers to keep (empty: all).
    ``centre`` / ``radius``: keep only what lies within ``radius`` hops of an entity
    (its IRI, its key ``Type/name``, or a name or alias).
    ``min_weight``: drop edges lighter than this.
    ``max_nodes``: keep the ``max_nodes`` most central nodes (level of detail; the centre is always kept).
    ``drop_isolated``: drop nodes left without an edge.
    ``co_mention``: add co-mention edges: ``None`` only when the store has no relatedness edges.
    """

    types: tuple[str, ...] = ()
    communities: tuple[int, ...] = ()
    centre: str | None = None
    radius: int = 1
    min_weight: float = 0.0
    max_nodes: int | None = None
    drop_isolated: bool = False
    co_mention: bool | None = None

    def __post_init__(self) -> None:
        bad = [t for t in self.types if t not in NODE_TYPES]
        if bad:
            raise ExportError(f"unknown node type {bad[0]!r}; use one of {', '.join(NODE_TYPES)}")
        if self.radius < 0:
            raise ExportError("the radius must be 0 or more")
        if not math.isfinite(self.min_weight) or self.min_weight < 0:
            raise ExportError(f"min_weight must be a number of 0 or more (got {self.min_weight!r})")
        if self.max_nodes is not None and self.max_nodes < 1:
            raise ExportError("max_nodes must be 1 or more")

    @property
    def node_types(self) -> tuple[str, ...]:
        return self.types or ENTITY_TYPES


def parse_filter(params: Mapping[str, Any]) -> ViewFilter:
    """A :class:`ViewFilter` from query parameters or CLI options (strings, lists or numbers).

    >>> parse_filter({"type": "Person,Place", "min_weight": "2", "centre": "北一辉", "radius": "2"})
    ViewFilter(types=('Person', 'Place'), communities=(), centre='北一辉', radius=2, min_weight=2.0, max_nodes=None, drop_isolated=False, co_mention=None)
    """

    def items(*names: str) -> list[str]:
        out: list[str] = []
        for name in names:
            v = params.get(name)
            if v is None:
                continue
            for part in (v if isinstance(v, (list, tuple)) else [v]):
                out.extend(p.strip() for p in str(part).split(",") if p.strip())
        return out

    def one(*names: str) -> Any:
        for name in names:
            v = params.get(name)
            if isinstance(v, (list, tuple)):
                v = v[-1] if v else None
            if v not in (None, ""):
                return v
        return None

    def flag(name: str) -> bool | None:
        v = one(name)
        if v is None:
            return None
        if isinstance(v, bool):
            return v
        return str(v).lower() in ("1", "true", "yes", "on")

    try:
        communities = tuple(int(c) for c in items("community", "communities"))
        radius = int(one("radius") or 1)
        min_weight = float(one("min_weight", "min-weight") or 0.0)
        max_nodes = one("max_nodes", "max-nodes")
        max_nodes = int(max_nodes) if max_nodes is not None else None
    except ValueError as err:
        raise ExportError(f"a filter value is not a number ({err})") from None
    types = tuple(canonical_type(t) for t in items("type", "types"))
    return ViewFilter(types=types, communities=communities, centre=one("centre", "center"), radius=radius,
                      min_weight=min_weight, max_nodes=max_nodes, drop_isolated=bool(flag("drop_isolated")),
                      co_mention=flag("co_mention"))


def canonical_type(name: str) -> str:
    """A node type as spelt in NODE_TYPES, whatever its case."""
    for t in NODE_TYPES:
        if t.lower() == name.lower():
            return t
    raise ExportError(f"unknown node type {name!r}; use one of {', '.join(NODE_TYPES)}")


