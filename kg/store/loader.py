"""The loader: bulk loads into a generation being written, in a thread of its own.

It is the only thread kg starts inside a store; :meth:`Loader.paused` is the pause a caller needs around
a fork (a child forked while Oxigraph's threads hold a lock can wait on it forever).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from kg.errors import StoreError

__all__ = ["Loader"]


class Loader:
    """Bulk loads into a store, one after another in a thread of their own.

    Oxigraph lets go of the GIL while it writes, and writing costs about as much as everything else a build
    does (some 8 µs a quad, in one thread whatever the API), so the build goes on while its quads are
    written.  A failure is kept and raised by the next :meth:`wait`.  At most :data:`QUEUE` loads wait their
    turn (:meth:`submit` then waits, unless the thread is paused): a build that makes quads faster than they
    are written does not hold them all.
    """

    QUEUE = 2

    def __init__(self, store: ox.Store, where: Path):
        import threading

        self._store = store
        self._where = where
        self._queue: Any = None
        self._thread: Any = None
        self._error: BaseException | None = None
        self._state = threading.Condition()
        self._busy = False  # in Oxigraph's code
        self._paused = 0

    def submit(self, quads: list[ox.Quad] | bytes) -> None:
        if self._thread is None:
            import queue
            import threading

            self._queue = queue.Queue()
            self._thread = threading.Thread(target=self._work, name="kg-store-loader", daemon=True)
            self._thread.start()
        with self._state:  # (not while paused: the pause's owner may be the one submitting)
            while self._queue.qsize() >= self.QUEUE and not self._paused:
                self._state.wait()
        self._queue.put(quads)

    def _work(self) -> None:
        while True:
            quads = self._queue.get()
            with self._state:
                while self._paused:
                    self._state.wait()
                self._busy = True
            try:
                if quads is None:
                    return
                if self._error is None:
                    if isinstance(quads, bytes):
                        self._store.bulk_load(quads, format=ox.RdfFormat.N_QUADS)
                    else:
                        self._store.bulk_extend(quads)
            except BaseException as err:  # noqa: BLE001  raised in the build's thread by wait()
                self._error = err
            finally:
                del quads
                with self._state:
                    self._busy = False
                    self._state.notify_all()
                self._queue.task_done()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """A block in which the thread is not writing: it finishes the load it is in, and starts the next only
        after the block."""
        with self._state:
            self._paused += 1
            while self._busy:
                self._state.wait()
        try:
            yield
        finally:
            with self._state:
                self._paused -= 1
                self._state.notify_all()

    def wait(self) -> None:
        if self._queue is not None:
            self._queue.join()
        if self._error is not None:
            err, self._error = self._error, None
            raise StoreError(f"writing the graph failed ({err}); check the disk space and rebuild",
                             path=str(self._where)) from err

    def close(self, discard: bool = False) -> None:
        """Stop the thread once it has written what it has, or with ``discard`` once the load it is in ends
        (its errors are dropped: for commit, which waited first, and abort)."""
        if discard and self._thread is not None:
            self._error = self._error or StoreError("discarded")  # what is still queued is skipped
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        self._store = None  # the writer closes the store by dropping it

