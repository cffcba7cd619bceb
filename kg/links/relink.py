"""The link pass a build runs on an Oxigraph store, full or incremental (:class:`Relink`, :func:`relink`).

:class:`Relink` reads the link input note by note (one query per kind of record, rows grouped by named
graph) and keeps it, with the state of the coverage pass and the result, in the link cache beside the store
generation (:mod:`kg.links.cache`).  When few notes changed (at most ``max_fraction`` of them) and the
cache belongs to the generation the build started from, only the changed notes are read and the pass is
incremental (:mod:`kg.links.incremental` says what it recomputes and how close it comes to a full pass).
The links graph is then patched: the quads of links that changed are removed and the new ones added.
Anything else (no cache, another generation, other parameters or scoring, many changes) runs the full pass.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from kg.links.cache import cache_key, load_cache, parts_file, save_cache
from kg.links.compute import compute_full
from kg.links.incremental import compute_incremental
from kg.links.reading import Assembly, input_from_parts, note_paths, read_note_parts
from kg.links.records import DEFAULTS, Coverage, LinkResult, RelatedPair
from kg.links.triples import LinkText
from kg.parallel import WorkingSet, free_in_background
from kg.vocab import note_graph


#: the most mentions and sources whose link cache a forked child writes (in the background); a bigger one
#: is written by the build itself, which then holds the pickler's table of the parts (some 150 bytes a
#: record) instead of a child's copy of the whole cache (about as much memory as the build's link pass)
BACKGROUND_RECORDS = 400_000


def _key(x) -> tuple:
    """What identifies a link record (the same key with other values is a changed record)."""
    if type(x) is Coverage:
        return "c", x.source, x.entity
    if type(x) is RelatedPair:
        return "r", x.from_entity, x.to_entity, x.method
    return "s", x.entity


def _records(r: LinkResult) -> tuple:
    """Every link record of a result."""
    return (*r.coverages, *r.related, *r.stats)


def _settle(dropped: list, made: list) -> tuple[list, list]:
    """(removed, added) link records of a pass, from what it dropped and what it made (an incremental pass:
    see :func:`kg.links.incremental.compute_incremental`; a full one: the last result's and its own): a record
    made again the same is neither."""
    a = {_key(x): x for x in dropped}
    b = {_key(x): x for x in made}
    removed = [v for k, v in a.items() if (w := b.get(k)) is None or w != v]
    added = [v for k, v in b.items() if (w := a.get(k)) is None or w != v]
    return removed, added


@dataclass
class RelinkInfo:
    mode: str  # "full" or "incremental"
    reason: str
    seconds: dict[str, float] = field(default_factory=dict)
    removed_quads: int = 0
    added_quads: int = 0


class Relink(WorkingSet):
    """A link pass over a pyoxigraph ``store``'s note graphs, written into its named graph ``graph``, in two
    steps: creating it does what needs only the last pass (reading its cache, putting the unchanged notes
    together), so that it can run while the changed notes are still being extracted; :meth:`run`, once the
    changed notes' graphs are in the store, computes, writes and keeps the new cache.

    ``changed`` and ``removed`` are the note paths the build adds/changes and removes; ``cache_in`` the
    cache the store's links graph was written with (see the module's docstring), ``cache_out`` where to keep
    the new one.  Incremental when the cache fits and at most ``max_fraction`` of the notes changed.
    """

    def __init__(self, store, graph: str, *, changed: Iterable[str] = (), removed: Iterable[str] = (),
                 cache_in: Path | None = None, cache_out: Path | None = None, max_fraction: float = 0.1,
                 **params: Any):
        t0 = time.perf_counter()
        self.store, self.graph, self.cache_out = store, graph, cache_out
        self.p = p = {**DEFAULTS, **params}
        self.changed, self.removed = changed, removed = set(changed), set(removed)
        cache, reason = load_cache(Path(cache_in), p) if cache_in is not None else (None, "no cache")
        if cache is not None and not store.contains_named_graph(ox.NamedNode(graph)):
            cache, reason = None, "no links graph to patch"
        # the notes once the build has written: what the store holds now, less the removed, with the changed
        self.paths = paths = (note_paths(store) - removed) | changed
        incremental = False
        if cache is not None:
            unchanged = paths - changed
            if not unchanged <= set(cache["parts"]):
                cache, reason = None, "the cache does not hold every unchanged note"
            elif len(changed | removed) > max_fraction * max(len(paths | removed), 1):
                reason = f"{len(changed | removed)} of {len(paths | removed)} notes changed"
                if len(changed | removed) >= len(paths | removed):
                    cache = None
            else:
                incremental = True
        self.cache = cache
        self.incremental = incremental
        self.info = RelinkInfo("incremental" if incremental else "full",
                               f"{len(changed)} changed, {len(removed)} removed of {len(paths)} notes"
                               if incremental else reason)
        self.parts: dict[str, Any] = {}
        self.assembly: Assembly | None = None
        if incremental:
            self.parts = {k: v for k, v in cache["parts"].items() if k in paths and k not in changed}
            self.assembly = Assembly(self.parts[k] for k in sorted(self.parts))
        self.info.seconds["prepare"] = time.perf_counter() - t0

    def run(self, fresh_parts: Mapping[str, Mapping[str, list]] | None = None, *,
            load: Callable[[bytes], None] | None = None,
            wait: Callable[[], None] | None = None) -> tuple[LinkResult, RelinkInfo]:
        """Compute and write; ``fresh_parts`` (note path -> its part, :func:`kg.links.part_from_note`) spares
        reading the graphs just written back from the store when it holds every changed note.

        ``load(quads)`` adds quads to the store, maybe in the background, and ``wait()`` returns once they
        and whatever the caller added before are written (a build's :class:`kg.store.StoreWriter`): the
        pass then computes while the notes' quads are being written, and makes the links' quads while the
        first of them are.  Without them the pass writes with ``store.bulk_load`` itself.  (Children are
        forked inside the pause the build gave :func:`kg.parallel.pause_for_forks`.)  A pass over more than
        :data:`BACKGROUND_RECORDS` mentions and sources writes its cache itself and empties the notes' parts
        (``fresh_parts`` too) once they are in their file.
        """
        t0 = time.perf_counter()
        store, p, cache, info = self.store, self.p, self.cache, self.info
        if load is None:
            def load(text: bytes) -> None:
                store.bulk_load(text, format=ox.RdfFormat.N_QUADS)

            wait = None
        wait = wait or (lambda: None)
        changed, removed, paths = self.changed, self.removed, self.paths
        fresh_parts = fresh_parts or {}
        if fresh_parts and not (changed & paths) <= set(fresh_parts):
            fresh_parts = {}
        if self.incremental:
            parts = self.parts
            if not fresh_parts:
                wait()
            fresh = ({x: fresh_parts[x] for x in sorted(changed & paths)} if fresh_parts else
                     read_note_parts(store, [str(note_graph(x)) for x in sorted(changed & paths)]))
            parts.update(fresh)
        else:
            fresh = {}
            if fresh_parts and paths <= set(fresh_parts):  # a first build: every note is at hand
                parts = {x: fresh_parts[x] for x in paths}
            elif fresh_parts and cache is not None and paths - changed <= set(cache["parts"]):
                parts = {x: (fresh_parts[x] if x in changed else cache["parts"][x]) for x in paths}
            else:
                wait()
                parts = read_note_parts(store)
        t_read = time.perf_counter()
        # the cache is two files, the notes' parts and the computed state, tied by a token: written by forked
        # children once the links are written, or by this process for a very big pass
        token = os.urandom(16).hex()
        cache_out = Path(self.cache_out) if self.cache_out is not None else None
        waits: list[Callable[..., None]] = []
        # a forked writer would copy every page of a very big cache (see save_cache): this process writes that
        # one, its parts before the pass (the pickler's table then takes the room the pass takes next)
        big = sum(len(part.get("mentions", ())) + len(part.get("sources", ())) for part in parts.values()) \
            >= BACKGROUND_RECORDS
        try:
            if big:
                waits.append(save_cache(parts_file(cache_out) if cache_out else None, {"token": token, "parts": parts},
                                        background=False))
            if self.incremental:
                for path in sorted(fresh):
                    self.assembly.add(fresh[path])
                old_parts = [cache["parts"][x] for x in changed | removed if x in cache["parts"]]
                touched = {t[1] for part in (*old_parts, *fresh.values()) for t in part.get("mentions", ())}
                touched |= {t[0] for part in (*old_parts, *fresh.values()) for t in part.get("entities", ())}
                stale = {t[0] for part in old_parts for t in part.get("sources", ())}
                result, state, changes = compute_incremental(self.assembly.input(), cache, fresh, touched, p, stale,
                                                             old_parts=old_parts)
            gnode = ox.NamedNode(self.graph)
            maker = LinkText(self.graph)
            old_result = cache["result"] if cache is not None else None
            old_quads: list = []
            early = False  # the pass's related links written while it computes the rest

            def write(records) -> None:
                for batch in maker.batches(records):
                    info.added_quads += batch.count(b"\n")
                    load(batch)

            if not self.incremental:
                if old_result is None:  # the graph is written anew: emptied first, then filled as it is made
                    # (Oxigraph removes quads one by one far faster than it drops a graph)
                    old_quads = list(store.quads_for_pattern(None, None, None, gnode))
                    if old_quads:
                        wait()
                    for q in old_quads:
                        store.remove(q)
                    early = True
                if cache is not None:  # a full pass needs only the last result (to patch the graph), not its state
                    cache.pop("state", None)
                result, state = compute_full(input_from_parts(parts), p, emit_related=write if early else None)
                changes = None
            t_compute = time.perf_counter()
            if old_result is not None:  # patch: remove the quads of links that changed, add the new ones
                gone, new = (_settle(*changes) if changes is not None  # (a full pass makes every record anew)
                             else _settle(_records(old_result), _records(result)))
                old_quads = maker.quads(gone)
                if old_quads:
                    wait()
                for q in old_quads:
                    store.remove(q)
                write(new)
            else:
                write((*result.coverages, *([] if early else result.related), *result.stats))
            wait()  # written before the state's cache is written
            info.removed_quads = len(old_quads)
            t_write = time.perf_counter()
            if big:  # (the parts are in their file: their memory goes to the state's pickler)
                for part in parts.values():
                    part.clear()
            else:
                waits.append(save_cache(parts_file(cache_out) if cache_out else None, {"token": token, "parts": parts}))
            waits.append(save_cache(cache_out, {**cache_key(p), "token": token, "state": state, "result": result},
                                    background=not big))
        except BaseException:
            for finish in waits:
                finish(wait=True)
            raise
        # the cache is finished in the background: the next build waits for it if it must
        for finish in waits:
            finish(wait=False)
        t_end = time.perf_counter()
        info.seconds.update({"read": t_read - t0, "compute": t_compute - t_read, "write": t_write - t_compute,
                             "cache": t_end - t_write})
        # what the pass made stays with it until :meth:`release` (dropping it costs as much as a tenth of the pass)
        self.spent = [parts, fresh, state, result, maker, old_quads]
        return result, info

    def release(self) -> None:
        """Let go of the pass's data (the last cache, the notes' parts, what :meth:`run` made): millions of
        small objects, whose freeing takes half a second on thousands of notes, so a thread does it."""
        spent = [self.__dict__.pop(k) for k in ("cache", "parts", "assembly", "spent") if k in self.__dict__]
        free_in_background(spent)


def relink(store, graph: str, *, changed: Iterable[str] = (), removed: Iterable[str] = (),
           cache_in: Path | None = None, cache_out: Path | None = None, max_fraction: float = 0.1,
           **params: Any) -> tuple[LinkResult, RelinkInfo]:
    """Compute the links of a pyoxigraph ``store``'s note graphs and write them into its named graph ``graph``
    (:class:`Relink` in one go)."""
    return Relink(store, graph, changed=changed, removed=removed, cache_in=cache_in, cache_out=cache_out,
                  max_fraction=max_fraction, **params).run()

