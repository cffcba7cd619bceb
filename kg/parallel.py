"""Every process and thread kg starts besides its own: forked children that compute and hand back a value
(:func:`forked`), forked children that finish a write after the build (:func:`start_in_background`), pools
of worker processes (:class:`WorkerPools`; :func:`map_forked` for one map over workers forked for it), and the thread that frees a build's memory
(:func:`free_in_background`).

A child forked while a store writes can wait forever on a lock it copied (Oxigraph starts threads while it
writes).  A store writer says how to keep still for a fork once, with :func:`pause_for_forks`; every fork
made here happens inside that pause, so callers never order their forks around the store by hand.

The fork start method is used where the OS has it (a child starts from a copy-on-write image of this
process: nothing is pickled on the way in); elsewhere the work runs inline.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any

__all__ = ["WorkingSet", "WorkerPools", "can_fork", "can_fork_workers", "forked", "free_in_background", "halves",
           "map_forked", "pause_for_forks", "start_in_background"]

# ---------------------------------------------------------------- the pause around a fork

#: (process id, the pause) of the writers whose pause every fork is made in
_PAUSES: list[tuple[int, Callable[[], AbstractContextManager[Any]]]] = []


@contextmanager
def pause_for_forks(pause: Callable[[], AbstractContextManager[Any]] | None) -> Iterator[None]:
    """Within the block, every child this module forks is forked inside ``pause()``: a context in which no
    thread of a store writer is in the store's code (a build's :meth:`kg.store.StoreWriter.quiet`).  None:
    nothing to pause.  A forked child has no store threads: the pause is not taken there."""
    if pause is None:
        yield
        return
    entry = (os.getpid(), pause)
    _PAUSES.append(entry)
    try:
        yield
    finally:
        _PAUSES.remove(entry)


@contextmanager
def _paused() -> Iterator[None]:
    with ExitStack() as stack:
        for pid, pause in list(_PAUSES):
            if pid == os.getpid():
                stack.enter_context(pause())
        yield


def can_fork() -> bool:
    return hasattr(os, "fork")


def _fork() -> int:
    """``os.fork()`` inside the pause; -1 where it fails."""
    with _paused():
        try:
            return os.fork()
        except OSError:
            return -1


def _leave(body: Callable[[], None]) -> None:
    """In a forked child: run ``body``, then leave without running this process's exit handlers."""
    code = 1
    try:
        body()
        code = 0
    finally:
        os._exit(code)


# ---------------------------------------------------------------- children that hand back a value


def forked(fn: Callable[..., Any], *args: Any) -> Callable[..., Any]:
    """Start ``fn(*args)`` in a forked child (its inputs are the parent's memory, copy-on-write: nothing is
    pickled on the way in) and return the function that waits for its result: ``wait(timeout=None)``, which
    stops the child and raises :class:`TimeoutError` when it has not finished within ``timeout`` seconds.
    Inline where the OS cannot fork.  The result comes back through a temporary file, so the child never
    blocks on a reader; an exception raised in the child is raised by ``wait``."""
    if not can_fork():
        value = fn(*args)
        return lambda timeout=None: value
    fd, name = tempfile.mkstemp(prefix="kg-forked-", suffix=".pickle")
    pid = _fork()
    if pid < 0:
        os.close(fd)
        os.unlink(name)
        value = fn(*args)
        return lambda timeout=None: value
    if pid == 0:  # the child: compute, write

        def body() -> None:
            try:
                payload = (True, fn(*args))
            except BaseException as exc:  # noqa: BLE001  handed to the parent, raised there
                payload = (False, exc)
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(payload, fh, protocol=pickle.HIGHEST_PROTOCOL)

        _leave(body)
    os.close(fd)

    def wait(timeout: float | None = None) -> Any:
        try:
            if timeout is None:
                _, status = os.waitpid(pid, 0)
            else:
                deadline = time.monotonic() + timeout
                while True:
                    done, status = os.waitpid(pid, os.WNOHANG)
                    if done:
                        break
                    if time.monotonic() > deadline:
                        os.kill(pid, 9)
                        os.waitpid(pid, 0)
                        raise TimeoutError(f"a forked computation took more than {timeout:g} s")
                    time.sleep(0.01)
            with open(name, "rb") as fh:
                ok, value = pickle.load(fh) if os.waitstatus_to_exitcode(status) == 0 else (False, None)
        finally:
            os.unlink(name)
        if not ok:
            raise value if isinstance(value, BaseException) else RuntimeError("a forked computation process died")
        return value

    return wait


def halves(items: list[str], weight: Mapping[str, int]) -> tuple[list[str], list[str]]:
    """``items`` in two lists of about equal total weight (heaviest first, each to the lighter list), each in
    the items' order: the work of two processes.

    >>> halves(["a", "b", "c", "d"], {"a": 5, "b": 1, "c": 3, "d": 2})
    (['a', 'b'], ['c', 'd'])
    """
    sides: tuple[set[str], set[str]] = (set(), set())
    totals = [0, 0]
    for x in sorted(items, key=lambda x: (-weight[x], x)):
        i = 0 if totals[0] <= totals[1] else 1
        sides[i].add(x)
        totals[i] += weight[x]
    return [x for x in items if x in sides[0]], [x for x in items if x in sides[1]]


# ---------------------------------------------------------------- children that outlive the caller

try:
    _MAX_FD = os.sysconf("SC_OPEN_MAX")
except (AttributeError, ValueError, OSError):
    _MAX_FD = 65536

#: children left to finish in the background, reaped by later calls
_BACKGROUND: list[int] = []


def _reap_background() -> None:
    for pid in list(_BACKGROUND):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            _BACKGROUND.remove(pid)


def start_in_background(work: Callable[[], None], keep_fd: int) -> Callable[..., None] | None:
    """Run ``work()`` in a forked child that keeps, of this process's descriptors, only ``keep_fd`` (it may
    outlive the caller: the caller's descriptors, a store's lock above all, are not its own); returns once
    the child has closed the others, with ``finish(wait=True)``, which waits until the child is done, or with
    ``wait=False`` lets it finish in the background.  None where no child could be forked (the caller then
    does the work itself).  The caller's copy of ``keep_fd`` stays open."""
    _reap_background()
    if not can_fork():
        return None
    ready_r, ready_w = os.pipe()
    pid = _fork()
    if pid == 0:  # the child: close what it inherited, say so, work

        def body() -> None:
            low, high = sorted((keep_fd, ready_w))
            os.closerange(3, low)
            os.closerange(low + 1, high)
            os.closerange(high + 1, _MAX_FD)
            os.close(ready_w)  # tells the parent they are closed
            work()

        _leave(body)
    os.close(ready_w)
    if pid > 0:
        os.read(ready_r, 1)  # EOF once the child has closed what it inherited
    os.close(ready_r)
    if pid < 0:
        return None

    def finish(wait: bool = True) -> None:
        if wait:
            os.waitpid(pid, 0)
        else:
            _BACKGROUND.append(pid)

    return finish


# ---------------------------------------------------------------- worker processes


def can_fork_workers() -> bool:
    """Whether worker processes can be forked here (multiprocessing's fork start method)."""
    return "fork" in multiprocessing.get_all_start_methods()


#: the functions :func:`map_forked` runs, the latest last (its workers inherit them: they are never pickled)
_INHERITED: list[Callable[[int], Any]] = []


def _run_inherited(index: int) -> Any:
    return _INHERITED[-1](index)


def map_forked(fn: Callable[[int], Any], count: int, processes: int, chunksize: int = 1) -> Iterator[Any]:
    """``fn(i)`` for each ``i`` in ``range(count)``, in ``processes`` worker processes forked for the call,
    answered in order; the workers stop when the iteration ends (or is left).

    The workers inherit this process's memory (copy-on-write): ``fn`` and what it reads (a loaded pipeline,
    the notes) are not pickled to them, only the indexes, in chunks of ``chunksize``; what ``fn`` returns
    comes back pickled (plain tuples pickle fastest).  Check :func:`can_fork_workers` first.
    """
    ctx = multiprocessing.get_context("fork")
    _INHERITED.append(fn)
    try:
        with _paused():
            pool = ctx.Pool(processes)
        with pool:
            yield from pool.imap(_run_inherited, range(count), chunksize=chunksize)
    finally:
        _INHERITED.remove(fn)


def _start_worker(initializer: Callable[..., None], *args: Any) -> None:
    gc.enable()  # a worker lives long and makes garbage, whatever its parent does (kg.pipeline.build holds it off)
    initializer(*args)


class WorkerPools:
    """Worker processes forked from this one (multiprocessing pools), each set up by ``initializer(*initargs)``;
    :meth:`grow` adds workers when there is more to do."""

    def __init__(self, initializer: Callable[..., None], initargs: tuple = (), processes: int = 1):
        self._ctx = multiprocessing.get_context("fork")
        self._init = (initializer, *initargs)
        self._pools: list[tuple[Any, int]] = []
        self.grow(processes)

    @staticmethod
    def available() -> bool:
        return can_fork_workers()

    def grow(self, processes: int) -> None:
        """Have ``processes`` workers in all."""
        more = processes - sum(n for _, n in self._pools)
        if more > 0:
            with _paused():
                self._pools.append((self._ctx.Pool(more, initializer=_start_worker, initargs=self._init), more))

    def map(self, fn: Callable[[Any], Any], tasks: Sequence[Any]) -> Iterator[Any]:
        """``fn(task)`` of each task, in the workers, answered in the tasks' order (each pool is given tasks
        in proportion to its size)."""
        slots = [i for i, (_, n) in enumerate(self._pools) for _ in range(n)]
        mine: list[list[Any]] = [[] for _ in self._pools]
        order = []
        for i, task in enumerate(tasks):
            pool_index = slots[i % len(slots)]
            mine[pool_index].append(task)
            order.append(pool_index)
        running = [pool.imap(fn, mine[j]) for j, (pool, _) in enumerate(self._pools)]
        for pool_index in order:  # each pool answers its tasks in order, so this is the tasks' order
            yield next(running[pool_index])

    def close(self) -> None:
        for pool, _ in self._pools:
            pool.terminate()
        for pool, _ in self._pools:
            pool.join()
        self._pools.clear()


# ---------------------------------------------------------------- freeing memory


class WorkingSet:
    """A working object of a pass (millions of small objects hang from it): :func:`free_in_background` empties
    its attributes piece by piece."""


def free_in_background(objects: list) -> None:
    """Drop ``objects`` (a list that holds the last references to them) in a daemon thread: the caller goes on
    while their memory is freed, and a process that exits meanwhile does not wait for it.

    Freeing a big container is one C call that keeps the GIL until it is done (half a second for a pass's
    data), so containers are emptied piece by piece, and the caller's thread gets the GIL between pieces.
    Only the list's own containers (dicts, lists, sets, and :class:`WorkingSet` objects) are emptied.
    """
    threading.Thread(target=_free_piecewise, args=(objects,), name="kg-free", daemon=True).start()


def _free_piecewise(x: Any, depth: int = 0) -> None:
    if depth > 4:
        return
    if isinstance(x, WorkingSet):
        x = x.__dict__
    if type(x) is dict or type(x) is defaultdict:
        while x:
            _free_piecewise(x.popitem()[1], depth + 1)
    elif type(x) is list:
        while x:
            _free_piecewise(x.pop(), depth + 1)
    elif type(x) is set:
        x.clear()
