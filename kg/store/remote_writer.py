"""Writing a build into a SPARQL 1.1 server (see :mod:`kg.store.remote` for what keeps it safe).

Note graphs are replaced with batched SPARQL Update requests (``DROP SILENT GRAPH`` + ``INSERT DATA``);
the first write removes the build fingerprint from the meta graph, and ``commit`` writes the meta graph
(with a fresh build id, the store's ``generation()``) last.  A lock graph keeps two builds from writing the
same server at once.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox
from rdflib.term import Node

from kg.errors import StoreError, StoreLockedError
from kg.store.base import PREFIXES, to_oxigraph, writing
from kg.store.remote import BUILD_NODE, DCT_IDENTIFIER, LOCK_GRAPH, RemoteStore, sparql_term
from kg.vocab import META_GRAPH, note_graph

__all__ = ["RemoteTarget", "RemoteWriter", "write_remote"]

_KG = PREFIXES["kg"]
_LOCK_NODE = LOCK_GRAPH + "#lock"


@dataclass(frozen=True)
class RemoteTarget:
    """What a remote build writes (``name`` is the build id that becomes the store's generation)."""

    name: str
    url: str


def _graph_block(graph: str, triples: Iterable[tuple[Node, Node, Node]]) -> tuple[str, int]:
    """``GRAPH <g> { ... }`` with the triples as N-Triples lines (escaped by pyoxigraph), and their count."""
    oxt = [ox.Triple(to_oxigraph(s), to_oxigraph(p), to_oxigraph(o)) for s, p, o in triples]
    if not oxt:
        return "", 0
    body = ox.serialize(oxt, format=ox.RdfFormat.N_TRIPLES).decode("utf-8")
    return f"GRAPH {ox.NamedNode(graph)} {{\n{body}}}", len(oxt)


class RemoteWriter:
    """Writes a build into a SPARQL server (a :class:`kg.store.base.GraphWriter`)."""

    #: triples per SPARQL Update request
    batch_triples = 20_000
    local = False  # a server: no folder, no pyoxigraph store to read directly
    live = None
    empty = False

    def __init__(self, store: RemoteStore, build_id: str):
        self.store = store
        self.target = RemoteTarget(build_id, store.location)
        self._ops: list[str] = []
        self._pending_triples = 0
        self._meta: list[tuple[Node, Node, Node]] | None = None
        self._dirty = False
        self._locked = False
        self._beat = 0.0
        self.committed = False

    # -- lock

    def acquire(self, stale_after: float = 600.0) -> None:
        """Take the build lock (a triple in :data:`LOCK_GRAPH`); a lock not refreshed for ``stale_after`` s is taken over."""
        now = time.time()
        me = sparql_term(self.target.name)
        lock = f"<{_LOCK_NODE}>"
        self.store.update(
            f"DELETE {{ GRAPH <{LOCK_GRAPH}> {{ {lock} ?p ?o }} }} WHERE {{ GRAPH <{LOCK_GRAPH}> {{ {lock} <{_KG}heartbeat> ?t ; ?p ?o }}"
            f" FILTER(?t < {sparql_term(now - stale_after)}) }} ;\n"
            f"INSERT {{ GRAPH <{LOCK_GRAPH}> {{ {lock} <{_KG}heldBy> {me} ; <{_KG}heartbeat> {sparql_term(now)} }} }}"
            f" WHERE {{ FILTER NOT EXISTS {{ GRAPH <{LOCK_GRAPH}> {{ {lock} <{_KG}heldBy> ?other }} }} }}",
            "build lock")
        holders = sorted(r["h"] for r in self.store.select(
            f"SELECT ?h WHERE {{ GRAPH <{LOCK_GRAPH}> {{ <{_LOCK_NODE}> <{_KG}heldBy> ?h }} }}"))
        if holders and holders[0] == self.target.name:
            self._locked = True
            self._beat = now
            return
        if self.target.name in holders:  # lost a race: leave the lock to the other build
            self.store.update(f"DELETE DATA {{ GRAPH <{LOCK_GRAPH}> {{ {lock} <{_KG}heldBy> {me} }} }}", "build lock")
        raise StoreLockedError(
            f"another kg build ({', '.join(h for h in holders if h != self.target.name) or 'unknown'}) is writing "
            f"this server; wait for it to finish (a lock not refreshed for {stale_after:g} s is taken over, or "
            f"remove it with the SPARQL update 'DROP GRAPH <{LOCK_GRAPH}>')", path=self.store.location)

    def _heartbeat(self) -> None:
        now = time.time()
        if self._locked and now - self._beat > 30:
            self._beat = now
            self.store.update(
                f"DELETE {{ GRAPH <{LOCK_GRAPH}> {{ <{_LOCK_NODE}> <{_KG}heartbeat> ?t }} }}"
                f" INSERT {{ GRAPH <{LOCK_GRAPH}> {{ <{_LOCK_NODE}> <{_KG}heartbeat> {sparql_term(now)} }} }}"
                f" WHERE {{ GRAPH <{LOCK_GRAPH}> {{ <{_LOCK_NODE}> <{_KG}heartbeat> ?t }} }}", "build lock")

    def release(self) -> None:
        if self._locked:
            self._locked = False
            try:
                self.store.update(f"DROP SILENT GRAPH <{LOCK_GRAPH}>", "build lock release")
            except StoreError:
                pass  # a stale lock is taken over by the next build
        self.store.close()

    # -- the StoreWriter API

    def note_hashes(self) -> dict[str, str]:
        self.flush()
        return self.store.note_hashes()

    def select(self, sparql: str, bindings: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        self.flush()
        self._heartbeat()
        return self.store.select(sparql, bindings)

    def _mark_dirty(self) -> None:
        """Before the first change: drop the build fingerprint, so that a build that dies half-way is redone in full."""
        if not self._dirty:
            self._dirty = True
            self._ops.insert(0, f"DELETE WHERE {{ GRAPH <{META_GRAPH}> {{ ?b <{_KG}fingerprint> ?f }} }}")

    def replace_graph(self, graph: str, triples: Iterable[tuple[Node, Node, Node]]) -> None:
        """Replace a named graph by ``triples`` (rdflib terms); the meta graph is held back until :meth:`commit`."""
        if graph == str(META_GRAPH):
            self._meta = list(triples)
            return
        self._mark_dirty()
        block, n = _graph_block(graph, triples)
        self._ops.append(f"DROP SILENT GRAPH {ox.NamedNode(graph)}")
        if block:
            self._ops.append(f"INSERT DATA {{ {block} }}")
        self._pending_triples += n + 1
        if self._pending_triples >= self.batch_triples:
            self.flush()

    def replace_note(self, path: str, triples: Iterable[tuple[Node, Node, Node]]) -> None:
        self.replace_graph(str(note_graph(path)), triples)

    def remove_note(self, path: str) -> None:
        self.remove_graph(str(note_graph(path)))

    def remove_graph(self, graph: str) -> None:
        self._mark_dirty()
        self._ops.append(f"DROP SILENT GRAPH {ox.NamedNode(graph)}")
        self._pending_triples += 1

    def flush(self) -> None:
        if self._ops:
            ops, self._ops, self._pending_triples = self._ops, [], 0
            self.store.update(" ;\n".join(ops), "graph update")
            self._heartbeat()

    def commit(self, optimize: bool = False) -> None:
        """Write what is pending, then the meta graph (with this build's id) last.

        ``optimize`` is accepted for :class:`kg.store.writer.StoreWriter` parity; compaction is the server's business.
        """
        from rdflib import Literal, URIRef

        self._mark_dirty()
        self.flush()
        meta = list(self._meta or [])
        meta.append((URIRef(BUILD_NODE), URIRef(DCT_IDENTIFIER), Literal(self.target.name)))
        block, _ = _graph_block(str(META_GRAPH), meta)
        self.store.update(f"DROP SILENT GRAPH <{META_GRAPH}> ;\nINSERT DATA {{ {block} }}", "meta graph update")
        self.committed = True

    def abort(self) -> None:
        """Drop what is not yet sent; what was sent stays (the missing fingerprint makes the next build redo it)."""
        self._ops, self._pending_triples, self._meta = [], 0, None


def _build_id() -> str:
    return time.strftime("build-%Y%m%dT%H%M%SZ-", time.gmtime()) + uuid.uuid4().hex[:8]


@contextmanager
def write_remote(url: str) -> Iterator[RemoteWriter]:
    """Write a build into the SPARQL server at ``url`` (see :func:`kg.store.write_store`)."""
    writer = RemoteWriter(RemoteStore(url), _build_id())
    try:
        writer.acquire()
    except BaseException:
        writer.store.close()
        raise
    with writing(writer):
        yield writer
