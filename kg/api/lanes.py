"""Where the server's work runs: every thread it starts, in bounded lanes, made and closed by one owner.

===========  ==========================================================================
``probe``    one thread for ``/healthz``; nothing slow ever runs on it
``store``    reading a generation's catalogue and other small store reads
``heavy``    dumps (written by Oxigraph without the interpreter lock): few threads, a short queue,
             then 503 with Retry-After
``views``    graph views (networkx work that would hold the lock for seconds): as many processes
``graphql``  threads that each run one GraphQL request on an event loop of their own, so
             resolvers never run on the server's loop and a time limit cancels the request
===========  ==========================================================================

SPARQL queries run in worker processes (:class:`kg.api.sparql_pool.SparqlPool`), which
:class:`Lanes` starts and stops with the threads.  A lane that is full raises
:class:`BusyError` at once rather than queueing without bound.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import BrokenExecutor, Future, ThreadPoolExecutor
from typing import Any, TypeVar

from kg.errors import KGError, QueryTimeoutError

__all__ = ["BusyError", "Lane", "LoopLane", "Lanes", "Deadline", "lower_priority"]

T = TypeVar("T")


class BusyError(KGError):
    """Every thread or worker of a kind of work is taken (HTTP 503 with ``Retry-After``)."""

    code = "busy"

    def __init__(self, message: str, *, retry_after: int = 2):
        super().__init__(message)
        self.retry_after = retry_after


class Lane:
    """``threads`` threads (or with ``processes``, worker processes) for one kind of blocking work; at most
    ``threads + queue`` jobs in it at once."""

    def __init__(self, name: str, threads: int, queue: int, *, processes: bool = False, background: bool = False):
        self.name = name
        self.threads = threads
        self.limit = threads + queue
        self.processes = processes
        self.background = background  # its threads (processes) yield the CPU to the server's other work
        self.executor = self._make()
        self._lock = threading.Lock()
        self._jobs = 0  # submitted and not finished (a job whose client went away still counts until it ends)

    def _make(self) -> Any:
        if self.processes:  # started clean (no fork of a server that runs threads), and only when first used
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            return ProcessPoolExecutor(max_workers=self.threads, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=lower_priority if self.background else None)
        return ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix=f"kg-{self.name}",
                                  initializer=lower_priority if self.background else None)

    @property
    def jobs(self) -> int:
        return self._jobs

    def _done(self, _: Future) -> None:
        with self._lock:
            self._jobs -= 1

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        with self._lock:
            if self._jobs >= self.limit:
                raise BusyError(f"the server is busy with {self.name} work ({self._jobs} requests running or "
                                "waiting); try again in a few seconds")
            self._jobs += 1
        try:
            fut = self.executor.submit(fn, *args)
        except RuntimeError:  # shut down: the server is stopping
            self._done(None)  # type: ignore[arg-type]
            raise BusyError("the server is stopping") from None
        fut.add_done_callback(self._done)
        try:
            return await asyncio.wrap_future(fut)
        except BrokenExecutor:  # a worker process died (killed, out of memory): start the pool again
            broken, self.executor = self.executor, self._make()
            broken.shutdown(wait=False, cancel_futures=True)
            raise BusyError(f"a {self.name} worker died while answering; try again") from None

    def close(self) -> None:
        if self.processes:
            # Waited for: Python 3.11's pool otherwise may still be closing its wake-up pipe when the
            # interpreter's exit hook writes to it (a traceback on Ctrl-C).  A view still running is
            # stopped first, since the server is stopping anyway.
            for proc in list((getattr(self.executor, "_processes", None) or {}).values()):
                proc.terminate()
            self.executor.shutdown(wait=True, cancel_futures=True)
        else:
            self.executor.shutdown(wait=False, cancel_futures=True)


def lower_priority() -> None:
    """Lower the scheduling priority of the calling thread (Linux: of that thread alone), so that on a busy
    machine the event loop and quick requests get the CPU first."""
    import os

    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (OSError, AttributeError):
        pass


class Deadline:
    """The time by which a request must be done; resolvers and loaders check it between steps."""

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self.at = time.monotonic() + seconds if seconds else None
        self.cancelled = False

    def expired(self) -> bool:
        return self.cancelled or (self.at is not None and time.monotonic() > self.at)

    def check(self) -> None:
        if self.expired():
            raise QueryTimeoutError(f"the query took longer than {self.seconds:g} s and was stopped; "
                                    "ask for less (a smaller 'first', fewer nested fields)")


class LoopLane:
    """``threads`` threads, each running an event loop of its own; one request at a time on each.

    :meth:`run` hands a coroutine to a free thread and waits at most ``timeout`` seconds for it; past that
    the coroutine is cancelled in its thread (at its next ``await``) and :class:`QueryTimeoutError` raised.
    A request waits at most ``wait`` seconds for a free thread, then :class:`BusyError`.
    """

    def __init__(self, name: str, threads: int, wait: float = 2.0):
        self.name = name
        self.size = threads
        self.wait = wait
        self._loops: list[asyncio.AbstractEventLoop] = []
        self._threads: list[threading.Thread] = []
        self._idle: asyncio.Queue[asyncio.AbstractEventLoop] | None = None
        self._home: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def start(self) -> None:
        """Start the threads (done by the first request if not before)."""
        for i in range(len(self._loops), self.size):
            loop = asyncio.new_event_loop()
            t = threading.Thread(target=self._serve, args=(loop,), name=f"kg-{self.name}-{i}", daemon=True)
            t.start()
            self._loops.append(loop)
            self._threads.append(t)

    @staticmethod
    def _serve(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            loop.close()

    def _queue(self) -> asyncio.Queue[asyncio.AbstractEventLoop]:
        self.start()
        home = asyncio.get_running_loop()
        if self._idle is None or self._home is not home:
            self._home = home
            self._idle = asyncio.Queue()
            for loop in self._loops:
                self._idle.put_nowait(loop)
        return self._idle

    async def run(self, make: Callable[[], Awaitable[T]], timeout: float | None,
                  deadline: Deadline | None = None) -> T:
        if self._closed:
            raise BusyError("the server is stopping")
        idle = self._queue()
        home = asyncio.get_running_loop()
        try:
            loop = await asyncio.wait_for(idle.get(), self.wait)
        except TimeoutError:
            raise BusyError(f"every {self.name} thread stayed busy for {self.wait:g} s; "
                            "try again in a few seconds") from None

        state = {"started": False, "back": False}
        lock = threading.Lock()

        def back() -> None:  # the thread is free again only when the request has really ended
            with lock:
                if state["back"]:
                    return
                state["back"] = True
            if not home.is_closed():
                home.call_soon_threadsafe(idle.put_nowait, loop)

        def never_started(_: Future) -> None:  # cancelled before its coroutine took its first step
            if not state["started"]:
                back()

        fut = asyncio.run_coroutine_threadsafe(_awaited(make, back, state), loop)
        fut.add_done_callback(never_started)
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(fut)), timeout)
        except TimeoutError:
            if deadline is not None:
                deadline.cancelled = True
            fut.cancel()  # cancels the task in its own loop
            raise QueryTimeoutError(f"the query took longer than {timeout:g} s and was stopped; "
                                    "ask for less (a smaller 'first', fewer nested fields)") from None
        except asyncio.CancelledError:  # the client went away
            if deadline is not None:
                deadline.cancelled = True
            fut.cancel()
            raise

    def close(self) -> None:
        self._closed = True
        for loop in self._loops:
            if not loop.is_closed():
                loop.call_soon_threadsafe(loop.stop)
        for t in self._threads:
            t.join(timeout=5)


async def _awaited(make: Callable[[], Awaitable[T]], finished: Callable[[], None], state: dict) -> T:
    state["started"] = True
    try:
        return await make()
    finally:
        finished()


class Lanes:
    """Every thread pool of one server (and its SPARQL worker processes), started and closed together."""

    def __init__(self, *, store_threads: int = 2, heavy_threads: int = 2, heavy_queue: int = 4,
                 graphql_threads: int = 4, graphql_wait: float = 2.0, sparql: Any = None):
        self.probe = Lane("probe", 1, 4)
        self.store = Lane("store", store_threads, 64)
        self.heavy = Lane("heavy", heavy_threads, heavy_queue, background=True)
        self.views = Lane("views", heavy_threads, heavy_queue, processes=True, background=True)
        self.graphql = LoopLane("graphql", graphql_threads, wait=graphql_wait)
        self.sparql = sparql

    async def start(self) -> None:
        self.graphql.start()
        for _ in range(self.views.threads):  # the view processes start now, not in the first view's time
            self.views.executor.submit(int)
        if self.sparql is not None:
            await self.sparql.start()

    async def close(self) -> None:
        if self.sparql is not None:
            await self.sparql.close()
        self.graphql.close()
        for lane in (self.probe, self.store, self.heavy, self.views):
            lane.close()
