"""Writing an embedded store: a new generation, live only once it is committed.

:func:`write_embedded` takes the store's lock (one build at a time), starts a generation from a
hard-linked backup of the live one (or empty), and hands out a :class:`StoreWriter`; ``commit`` writes
the file checksums (kg.integrity) and switches ``CURRENT`` atomically.  Quads are added in bulk by the
loader thread (:mod:`kg.store.loader`), as N-Quads text where they allow (:mod:`kg.store.nquads`).
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from rdflib import URIRef
from rdflib.term import Node

from kg.errors import StoreDamagedError, StoreError, StoreLockedError
from kg.integrity import CHECKSUM_FILE, reading, set_aside, verify_generation, write_checksums
from kg.store.base import DEFAULT_STORE, read_note_hashes, select_rows, to_oxigraph, writing
from kg.store.embedded import EmbeddedStore
from kg.store.generations import (
    check_current,
    current,
    drop_old_generations,
    generation_number,
    generations,
)
from kg.store.loader import Loader
from kg.store.nquads import NotText, iri_text, triples_text
from kg.vocab import note_graph

__all__ = ["StoreWriter", "write_embedded"]


class StoreWriter:
    """A new generation being written; live only after :meth:`commit`."""

    BATCH = 50_000  # quads handed to the loader at a time (a load of Oxigraph takes some 1 kB a quad)
    CHUNK = 10_000  # triples of a graph encoded at a time
    local = True  # a generation in a folder here (kg.store.base.LocalGraphWriter)

    def __init__(self, root: Path, target: Path, store: ox.Store, lock_fd: int, live: Path | None = None,
                 empty: bool = False):
        self.root = root
        self.target = target
        self.live = live  # the generation that was live when this one started
        self.empty = empty  # started empty (not from a copy of the live one)
        self._store = store
        self._lock_fd = lock_fd
        self._pending: list[ox.Quad] = []
        self._pending_text: list[bytes] = []  # N-Quads, one string a graph
        self._pending_size = 0  # quads in both
        self._pending_graphs: set[str] = set()
        self._loading_graphs: set[str] = set()  # handed to the loader, maybe not written yet
        self._loader = Loader(store, target)
        self._term_cache: dict[Node, Any] = {}
        self._text_cache: dict[Node, str] = {}
        self.committed = False

    @property
    def oxigraph(self) -> ox.Store:
        """The generation's pyoxigraph store, with everything added so far written to it."""
        self.sync()
        return self._store

    def note_hashes(self) -> dict[str, str]:
        return read_note_hashes(self.select)

    def select(self, sparql: str, bindings: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        self.sync()
        return select_rows(self._store, sparql, bindings)

    def replace_graph(self, graph: str, triples: Iterable[tuple[Node, Node, Node]]) -> None:
        """Replace a named graph by ``triples`` (rdflib terms; any iterable, read once, :data:`CHUNK` at a time).

        Additions are buffered and written in bulk; removals happen at once.  A graph is encoded and handed
        to the loader in pieces (loads add up), so that a big note never has all its quads as text at once.
        """
        self._settle_graph(graph)
        node = ox.NamedNode(graph)
        if self._store.contains_named_graph(node):
            self._store.remove_graph(node)
        try:
            end = iri_text(graph, self._text_cache) + " .\n"
        except NotText:
            end = None
        it = iter(triples)
        while chunk := list(islice(it, self.CHUNK)):
            # as N-Quads text where every term allows (Oxigraph then parses and writes without the GIL), else
            # as pyoxigraph terms
            try:
                text = triples_text(chunk, end, self._text_cache) if end is not None else None
            except NotText:
                text = None
            if text is not None:
                self._pending_text.append(text)
                self._pending_size += len(chunk)
            else:
                self._add_as_terms(node, chunk)
            del text, chunk
            if len(self._text_cache) > 50_000:
                self._text_cache.clear()
            self._pending_graphs.add(graph)
            if self._pending_size >= self.BATCH:
                self.flush()
        self._pending_graphs.add(graph)

    def _add_as_terms(self, node: ox.NamedNode, triples: list[tuple[Node, Node, Node]]) -> None:
        cache = self._term_cache
        quads = self._pending
        for s, p, o in triples:
            # IRIs repeat a lot (predicates, classes, the note): convert each once
            ts = cache.get(s) if type(s) is URIRef else None
            if ts is None:
                ts = to_oxigraph(s)
                if type(s) is URIRef:
                    cache[s] = ts
            tp = cache.get(p)
            if tp is None:
                tp = cache[p] = to_oxigraph(p)
            to = cache.get(o) if type(o) is URIRef else None
            if to is None:
                to = to_oxigraph(o)
                if type(o) is URIRef and len(cache) < 200_000:
                    cache[o] = to
            quads.append(ox.Quad(ts, tp, to, node))
        if len(cache) > 200_000:
            cache.clear()
        self._pending_size += len(triples)

    def replace_note(self, path: str, triples: Iterable[tuple[Node, Node, Node]]) -> None:
        self.replace_graph(str(note_graph(path)), triples)

    def copy_graph_from_live(self, graph: str) -> None:
        """Copy a named graph as the live generation holds it (a generation started empty keeps a note that
        failed to read this time with its last good graph)."""
        if self.live is None:
            return
        node = ox.NamedNode(graph)
        before = len(self._pending)
        self._pending.extend(ox.Store.read_only(str(self.live)).quads_for_pattern(None, None, None, node))
        self._pending_size += len(self._pending) - before
        self._pending_graphs.add(graph)

    def remove_note(self, path: str) -> None:
        self.remove_graph(str(note_graph(path)))

    def remove_graph(self, graph: str) -> None:
        self._settle_graph(graph)
        node = ox.NamedNode(graph)
        if self._store.contains_named_graph(node):
            self._store.remove_graph(node)

    def _settle_graph(self, graph: str) -> None:
        # a graph's quads are written before the graph is removed or replaced
        if graph in self._pending_graphs or graph in self._loading_graphs:
            self.sync()

    def load(self, quads: list[ox.Quad] | bytes) -> None:
        """Add quads in bulk, in the background (see :meth:`flush`): pyoxigraph ``Quad`` objects, or N-Quads
        text (UTF-8), which is written without holding the GIL."""
        self.flush()
        self._loader.submit(quads)

    def flush(self) -> None:
        """Hand what was added so far to the loader thread, which writes it while the build goes on;
        :meth:`sync` waits until it is written."""
        if self._pending:
            self._loader.submit(self._pending)
            self._pending = []
        if self._pending_text:
            self._loader.submit(b"".join(self._pending_text))
            self._pending_text = []
        self._pending_size = 0
        self._loading_graphs |= self._pending_graphs
        self._pending_graphs.clear()

    def quiet(self) -> Any:
        """A context in which no thread of this writer is in Oxigraph's code, for forking a child: Oxigraph
        starts threads while it writes, and a child forked meanwhile can wait forever on a lock it copied."""
        return self._loader.paused()

    def sync(self) -> None:
        """Write everything added so far; raises :class:`StoreError` if writing failed."""
        self.flush()
        self._loader.wait()
        self._loading_graphs.clear()

    def commit(self, optimize: bool = False) -> None:
        """Make this generation the live one (atomic), and drop old generations.

        ``optimize`` compacts the store first: worth it after large builds.
        """
        self.sync()
        self._loader.close()
        self._store.flush()
        if optimize:
            self._store.optimize()
        # the store closes when its last reference goes: only then are its files final and can be listed
        closed = sys.getrefcount(self._store) <= 2  # this attribute and getrefcount's argument
        del self._store
        self._store = None  # type: ignore[assignment]
        if closed:
            write_checksums(self.target, previous=None if self.empty else self.live)
        tmp = self.root / "CURRENT.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(self.target.name + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.root / "CURRENT")
        dir_fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self.committed = True
        drop_old_generations(self.root)

    def abort(self) -> None:
        self._pending, self._pending_text = [], []
        self._loader.close(discard=True)  # the generation is thrown away: what is queued need not be written
        if self._store is not None:
            del self._store
            self._store = None  # type: ignore[assignment]
        shutil.rmtree(self.target, ignore_errors=True)

    def release(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1


@contextmanager
def write_embedded(location: str | os.PathLike[str] = DEFAULT_STORE, *, empty: bool = False,
                   live_view: EmbeddedStore | None = None, set_aside_damaged: bool = False) -> Iterator[StoreWriter]:
    """Open a new generation of the store at ``location`` for writing.

    The block's changes go live when it calls ``commit()``; if it raises or
    never commits, the new generation is thrown away and the live one stays.
    Only one build at a time: a second raises :class:`StoreLockedError`.
    The new generation starts as a copy of the live one, or ``empty`` (for a
    build that rewrites everything: replacing every graph of a copy costs far
    more than writing into an empty store).
    ``live_view``, a read-only view of the same store the caller has open, is copied from when it shows the
    generation that is live once the lock is held (opening the generation again costs a tenth of a second
    while extraction workers start).
    A damaged live generation (kg.integrity) raises :class:`StoreDamagedError`, or with ``set_aside_damaged``
    is renamed ``damaged-gen-...`` and the new generation starts empty.
    """
    root = Path(location)
    if root.exists() and not root.is_dir():
        raise StoreError("the store location is a file, not a folder; choose another --store", path=str(root))
    if root.is_dir() and any(root.iterdir()) and not (root / "CURRENT").exists() and not generations(root) \
            and not (root / ".lock").exists():
        raise StoreError("the folder is not empty and is not a kg store; choose another --store", path=str(root))
    root.mkdir(parents=True, exist_ok=True)
    lock_fd = os.open(root / ".lock", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock_fd)
        raise StoreLockedError("another kg build is writing this store; wait for it to finish",
                               path=str(root)) from None
    try:
        live = _live_for_writing(root, set_aside_damaged)
        # generations that never went live were left by a killed build
        for g in generations(root):
            if live is None or generation_number(g) > generation_number(live):
                shutil.rmtree(g, ignore_errors=True)
        gens = generations(root)
        n = generation_number(gens[-1]) + 1 if gens else 1
        target = root / f"gen-{n:06d}"
        try:
            if live is not None and not empty:
                with reading(live):
                    view_store, view_gen = live_view.opened() if live_view is not None else (None, None)
                    if view_store is not None and view_gen.resolve() == live.resolve():
                        view_store.backup(str(target))
                    else:
                        ox.Store.read_only(str(live)).backup(str(target))
            store = ox.Store(str(target))
        except OSError as err:
            shutil.rmtree(target, ignore_errors=True)
            raise StoreError(f"cannot create a new generation ({err})", path=str(target)) from None
        except RuntimeError as err:
            shutil.rmtree(target, ignore_errors=True)
            raise StoreError(f"cannot create a new generation ({str(err)[:300]})", path=str(target)) from None
        writer = StoreWriter(root, target, store, lock_fd, live=live, empty=empty and live is not None)
        del store  # the writer holds the only reference: the store closes when it lets go (commit)
    except BaseException:
        os.close(lock_fd)
        raise
    with writing(writer, writer.target.exists):
        yield writer


def _live_for_writing(root: Path, set_aside_damaged: bool) -> Path | None:
    """The live generation a build starts from, checked whole; a damaged one is set aside (or refused)."""
    try:
        check_current(root)
        live = current(root)
        if live is not None:
            verify_generation(live)
            if not (live / CHECKSUM_FILE).exists():  # built by an older kg: ask RocksDB
                with reading(live):
                    ox.Store.read_only(str(live))
        return live
    except StoreDamagedError:
        if not set_aside_damaged:
            raise
        live = current(root)
        if live is not None:
            where = set_aside(live)
            logging.getLogger("kg.store").warning("set the damaged generation aside as %s", where.name)
        if (root / "CURRENT").exists():
            os.replace(root / "CURRENT", root / f"damaged-CURRENT-{time.strftime('%Y%m%d-%H%M%S')}")
        return None
