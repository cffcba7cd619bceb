"""The embedded store: an Oxigraph store on disk, read-only here (the default store).

The store folder holds generations (``gen-000001``, ...) and a ``CURRENT`` file naming the live one
(:mod:`kg.store.generations`).  A build writes a new generation (:mod:`kg.store.writer`), starting from a
cheap hard-linked backup of the live one, and switches ``CURRENT`` only when everything is written: a
build that is killed leaves the previous generation live and complete, and readers (a running server)
see either the old graph or the new one, never a mix.

One named graph per note (``kg.vocab.note_graph``), so a note is replaced as a unit; the link pass writes
its own graph (``kg.vocab.LINKS_GRAPH``).  Queries see the union of all graphs as their default graph.

SPARQL parameters are bound (``bindings=``), never pasted into query text.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from kg.errors import NotFoundError, QueryError, StoreError, StoreNotFoundError
from kg.integrity import reading, verify_generation
from kg.store.base import (
    DEFAULT_STORE,
    PREFIXES,
    QUAD_FORMATS,
    RESULT_FORMATS,
    check_read_only_query,
    check_result_format,
    graph_format,
    rdf_format,
    read_note_hashes,
    select_rows,
    select_tuples,
    solution_rows,
    substitutions,
)
from kg.store.generations import check_current, current
from kg.vocab import META_GRAPH

__all__ = ["EmbeddedStore", "EmbeddedSnapshot"]


@dataclass(frozen=True)
class EmbeddedSnapshot:
    """One generation of an embedded store, open (a :class:`kg.store.base.StoreSnapshot`).

    Its reads raise what pyoxigraph raises: the queries are kg's own, not a user's.
    """

    oxigraph: ox.Store
    generation: str
    folder: Path | None

    def select(self, sparql: str, bindings: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return select_rows(self.oxigraph, sparql, bindings)

    def select_tuples(self, sparql: str) -> Iterator[tuple[Any, ...]]:
        return select_tuples(self.oxigraph, sparql)


class EmbeddedStore:
    """A read-only view of the live generation of an on-disk store.

    It notices a build that switched generations and reopens (``refresh``),
    so a long-running server answers from the newest complete graph.
    """

    def __init__(self, location: str | os.PathLike[str] = DEFAULT_STORE):
        self.root = Path(location)
        self.location = str(self.root)
        self._gen: Path | None = None
        self._store: ox.Store | None = None
        self._checked = 0.0
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> bool:
        """Reopen if a newer generation went live; return whether it did."""
        now = time.monotonic()
        if not force and now - self._checked < 0.2:
            return False
        self._checked = now
        gen = current(self.root)
        if gen is None:
            if not self.root.exists():
                raise StoreNotFoundError(
                    "no kg store here; build one first with 'kg build NOTES --store DIR'", path=self.location)
            check_current(self.root)
            raise StoreNotFoundError("the folder holds no built graph; run 'kg build NOTES --store DIR'",
                                     path=self.location)
        if gen == self._gen and self._store is not None:
            return False
        verify_generation(gen)
        try:
            with reading(gen):
                store = ox.Store.read_only(str(gen))
        except OSError as err:
            raise StoreError(f"cannot open the store ({err}); rebuild it with 'kg build'", path=str(gen)) from None
        except RuntimeError as err:  # RocksDB's other complaints
            raise StoreError(f"cannot open the store ({str(err)[:300]}); rebuild it with 'kg build --force'",
                             path=str(gen)) from None
        self._store, self._gen = store, gen
        return True

    def opened(self) -> tuple[ox.Store | None, Path | None]:
        """The pyoxigraph store and generation folder open now, taken together (no look for a newer one)."""
        return self._store, self._gen

    def open_name(self) -> str | None:
        """The name of the generation open now (the one last seen live), without looking for a newer one."""
        return self._gen.name if self._gen is not None else None

    def snapshot(self) -> EmbeddedSnapshot:
        """The live generation, fixed: its open store and its folder, taken together (``refresh`` swaps both)."""
        self.refresh()
        store, gen = self._store, self._gen
        return EmbeddedSnapshot(store, gen.name if gen else "", gen)

    def live_name(self) -> str | None:
        """The name of the live generation as ``CURRENT`` says now (one small read; nothing is opened)."""
        gen = current(self.root)
        return gen.name if gen is not None else None

    @property
    def oxigraph(self) -> ox.Store:
        self.refresh()
        assert self._store is not None
        return self._store

    def generation(self) -> str:
        self.refresh()
        return self._gen.name if self._gen else ""

    def _run(self, sparql: str, bindings: Mapping[str, Any] | None):
        subs = substitutions(bindings)  # (a value that cannot be bound raises before the query runs)
        try:
            with reading(self):
                return self.oxigraph.query(sparql, use_default_graph_as_union=True, prefixes=PREFIXES,
                                           substitutions=subs)
        except SyntaxError as err:
            raise QueryError(f"the SPARQL query does not parse: {err}") from None
        except (RuntimeError, ValueError, OSError) as err:
            raise QueryError(f"the SPARQL query failed: {err}") from None

    def select(self, sparql: str, bindings: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a SELECT; rows as dicts of plain Python values.

        Bound variables must appear in the SELECT projection (Oxigraph
        substitutes projected variables only).
        """
        result = self._run(sparql, bindings)
        with reading(self):
            return solution_rows(result)

    def ask(self, sparql: str, bindings: Mapping[str, Any] | None = None) -> bool:
        result = self._run(sparql, bindings)
        if not isinstance(result, ox.QueryBoolean):
            raise QueryError("ask() takes an ASK query")
        return bool(result)

    def query_bytes(self, sparql: str, fmt: str = "json", bindings: Mapping[str, Any] | None = None) -> tuple[bytes, str]:
        """Run any read-only query and serialise its result: ``(body, media type)``.

        ``fmt`` names a result format (json, xml, csv, tsv) for SELECT/ASK and an
        RDF format (ttl, nt, jsonld, xml) for CONSTRUCT/DESCRIBE.
        """
        check_read_only_query(sparql)
        result = self._run(sparql, bindings)
        if isinstance(result, ox.QueryTriples):
            rdf_fmt, media, _ = graph_format(fmt)
            with reading(self):
                return result.serialize(format=rdf_fmt), media
        check_result_format(fmt)
        res_fmt, media = RESULT_FORMATS[fmt]
        with reading(self):
            return result.serialize(format=res_fmt), media

    def dump(self, fmt: str = "ttl", graph: str | None = None, output: Any = None) -> bytes | None:
        """The whole graph (or one named graph) serialised; triple formats get the union of all graphs.

        With ``output`` (a binary file) it is written there, a piece at a time, and None returned.
        """
        rdf_fmt = rdf_format(fmt)
        store = self.oxigraph
        with reading(self):
            if graph is not None:
                node = ox.NamedNode(graph)
                if not store.contains_named_graph(node):
                    raise NotFoundError(f"no graph {graph} in the store")
                if fmt in QUAD_FORMATS:
                    quads = store.quads_for_pattern(None, None, None, node)
                    return ox.serialize(quads, output, format=rdf_fmt)
                return store.dump(output, format=rdf_fmt, from_graph=node)
            if fmt in QUAD_FORMATS:
                return store.dump(output, format=rdf_fmt)
            triples = store.query("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }", use_default_graph_as_union=True)
            return triples.serialize(output, format=rdf_fmt)

    def note_hashes(self) -> dict[str, str]:
        return read_note_hashes(self.select)

    def meta(self) -> dict[str, str]:
        """Build metadata (kg version, settings fingerprint, build time)."""
        with reading(self):
            quads = self.oxigraph.quads_for_pattern(None, None, None, ox.NamedNode(str(META_GRAPH)))
            return {q.predicate.value.rsplit("#", 1)[-1]: q.object.value for q in quads}

    def named_graphs(self) -> list[str]:
        with reading(self):
            return sorted(g.value for g in self.oxigraph.named_graphs())

    def __len__(self) -> int:
        with reading(self):
            return len(self.oxigraph)

