"""The link cache: two files beside a store generation (``links-cache.pickle``: the last pass's state and
result; ``links-cache-parts.pickle``: every note's link input), written by a forked child after the build,
with a locked ``.writing`` file beside each while it is written; and its key (:func:`cache_key`), without
which a cache is not used.

A file is a pickle, or for the state a pickle followed by the pass's coverage records in pickles of
:data:`RECORDS_PER_PICKLE`: a pickler keeps a table of every object it has written (and the field tuple of
each record) until it ends, some 300 bytes a record, which for a reference list of 10⁵ links would be the
build's peak."""

from __future__ import annotations

import fcntl
import os
import pickle
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from kg.links.reading import input_from_parts
from kg.links.records import LinkInput
from kg.links.scoring import scoring_key
from kg.parallel import can_fork, start_in_background

CACHE_FILE = "links-cache.pickle"
#: the layout of the cached state; a change in kg.links.scoring needs no new version (see cache_key)
CACHE_VERSION = 11  # 9: a coverage's justification in pieces; 10: the input records named tuples; 11: records apart
#: coverage records per pickle of the state's file (see the module's docstring)
RECORDS_PER_PICKLE = 50_000


def cache_key(params: Mapping[str, Any]) -> dict[str, Any]:
    """What a cache must have been made with to be used: this layout, these parameters, this scoring."""
    return {"version": CACHE_VERSION, "params": sorted(params.items()), "scoring": scoring_key()}


def fits(cache: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
    """Whether a loaded cache was made with ``params`` and this code's :func:`cache_key`."""
    return all(cache.get(k) == v for k, v in cache_key(params).items())


def parts_file(cache_file: Path) -> Path:
    """The cache's second file: every note's link input (see :class:`kg.links.Relink`)."""
    cache_file = Path(cache_file)
    return cache_file.with_name(cache_file.stem + "-parts.pickle")


def pending_file(path: Path) -> Path:
    """The file locked while ``path`` is being written."""
    return Path(path).with_suffix(".writing")


def save_cache(path: Path | None, cache: Mapping[str, Any], background: bool = True) -> Callable[..., None]:
    """Start writing the link cache to ``path``; returns ``finish(wait=True)``, which waits until it is
    written, or with ``wait=False`` lets it be finished in the background.

    Pickling the cache of thousands of notes takes a second, so where the OS can fork (and ``background``),
    a child process writes it (from a copy-on-write snapshot of this one) while this process writes the
    links graph and, once the build has succeeded, while the build returns.  The child holds a lock beside
    the file until it ends, however it ends; the next build's :func:`await_cache` waits for it.  A cache
    that fails to be written is left out: the next build then makes a full pass.  (The pickler touches the
    reference count of every object it writes, so the child copies the pages of the whole cache: for a
    pass of very many records, ``background=False`` writes it here instead.)
    """
    if path is None:
        return lambda wait=True: None
    path = Path(path)
    tmp = path.with_suffix(".tmp")

    def write() -> None:
        try:
            with open(tmp, "wb") as fh:
                for piece in _pieces(cache):
                    pickle.dump(piece, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)  # left only by a failure
            pending_file(path).unlink(missing_ok=True)

    lock_fd = _lock_pending(path) if background and can_fork() else -1
    finish = None
    if lock_fd >= 0:
        finish = start_in_background(write, keep_fd=lock_fd)
        os.close(lock_fd)  # with a child, its copy of the descriptor holds the lock until it ends
        if finish is None:
            pending_file(path).unlink(missing_ok=True)
    if finish is None:
        write()
        return lambda wait=True: None
    return finish


def _pieces(cache: Mapping[str, Any]) -> Iterator[Any]:
    """What a cache file holds, pickle after pickle: a state's cache without its coverage records (its result
    and its coverage state hold the same ones), then the records in pieces; any other cache whole."""
    if "result" not in cache:
        yield cache
        return
    records = cache["result"].coverages
    state = cache["state"]
    yield {**cache, "result": replace(cache["result"], coverages=()), "records": len(records),
           "state": {**state, "coverage": state["coverage"].without_records()}}
    for i in range(0, len(records), RECORDS_PER_PICKLE):
        yield records[i:i + RECORDS_PER_PICKLE]


def _read(fh) -> Any:
    """A cache written as :func:`_pieces` says."""
    cache = pickle.load(fh)
    if isinstance(cache, dict) and "records" in cache:
        records: list = []
        while len(records) < cache["records"]:
            records.extend(pickle.load(fh))
        cache["result"] = replace(cache.pop("result"), coverages=tuple(records))
        cache["state"]["coverage"] = cache["state"]["coverage"].with_records(records)
        del cache["records"]
    return cache


def _lock_pending(path: Path) -> int:
    """An exclusively locked descriptor on ``path``'s pending file, or -1 where that is not possible."""
    try:
        fd = os.open(pending_file(path), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return -1
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:
        os.close(fd)
        return -1
    return fd


def await_cache(path: Path, timeout: float = 600.0) -> None:
    """Wait until a cache file that a past build is still writing in the background is written (or failed)."""
    pending = pending_file(path)
    if not pending.exists():
        return
    try:
        fd = os.open(pending, os.O_RDONLY)
    except OSError:
        return
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.005)
    finally:
        os.close(fd)
    pending.unlink(missing_ok=True)


def wait_for_cache(cache_file: Path) -> None:
    """Wait until both files of the link cache ``cache_file`` are written, if a past build still writes them."""
    await_cache(Path(cache_file))
    await_cache(parts_file(cache_file))


def load_cache(cache_file: Path, params: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The cache ``cache_file`` (with its notes' parts under ``"parts"``) if it fits ``params``, else None;
    and why not."""
    wait_for_cache(Path(cache_file))  # a past build may still be writing it
    if not Path(cache_file).is_file():
        return None, "no cache"
    try:
        with open(cache_file, "rb") as fh:
            cache = _read(fh)
        if not fits(cache, params):
            return None, "the cache was made by another version or with other parameters"
        with open(parts_file(cache_file), "rb") as fh:
            kept = pickle.load(fh)
        if kept.get("token") != cache.get("token"):
            return None, "the cache's two files do not belong together"
        cache["parts"] = kept["parts"]
        return cache, ""
    except Exception:  # noqa: BLE001  a broken cache only costs a full pass
        return None, "the cache does not load"


def cached_link_input(generation: Path | str) -> LinkInput | None:
    """The link input of a store generation read from the link cache its build left in it (every note's
    parts), else None (no cache: a build without links, or one from before the cache).  The quick way to
    :func:`kg.links.load_link_input`, which reads the graph through SPARQL: ~10 s on thousands of notes
    against ~1 s."""
    path = parts_file(Path(generation) / CACHE_FILE)
    try:
        await_cache(path, timeout=60.0)  # (a build that just went live may still be writing it)
        with open(path, "rb") as fh:
            parts = pickle.load(fh)["parts"]
        return input_from_parts(parts)
    except Exception:  # noqa: BLE001  missing, unreadable or of another version: the caller reads the graph
        return None
