"""SPARQL endpoint queries in a pool of worker processes, with a time limit.

Neither pyoxigraph nor rdflib can cancel a running query, so a query a user
sends to ``/sparql`` runs in a small pool of worker processes
(:mod:`kg.api.sparql_worker`), each with the store open read-only.  A query
that passes the time limit gets its worker killed and replaced; the server and
the other workers keep answering.  Slow queries get their own slots (see
:class:`SparqlPool`), so they cannot hold every worker while quick queries wait.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import OrderedDict, deque
from concurrent.futures import ThreadPoolExecutor

from kg.api.sparql_guard import (
    DEFAULT_FAST_LIMIT,
    DEFAULT_MAX_RESULT,
    DEFAULT_TIMEOUT,
    DEFAULT_WORKER_MEMORY_MB,
    OutOfMemoryError,
    SparqlResult,
)
from kg.api.sparql_process import SLOW, WorkerProcess, answer, poll_reply
from kg.errors import QueryError, QueryTimeoutError

__all__ = ["PoolBusyError", "SparqlPool"]


class PoolBusyError(QueryTimeoutError):
    code = "busy"


class SparqlPool:
    """Worker processes over the store at ``location``; each query at most ``timeout`` seconds.

    ``size`` workers stand ready for queries.  A query that uses ``fast_limit`` seconds of CPU (or holds its
    worker twice as long) becomes a slow
    one: it goes on (up to ``timeout``) on one of ``slow_slots`` slots, and a spare worker (started ahead)
    takes its place among the ready ones, so slow queries never hold up quick ones for more than that.  When every
    slow slot is taken, the query is stopped with :class:`PoolBusyError` (503, Retry-After).  A query that
    went slow before (same text) waits at most ``slow_wait`` seconds for a slot before it starts, and any
    query at most ``queue_wait`` seconds for a ready worker; queries answered quickly before get a ready
    worker before the others.
    Each worker may map ``memory_mb`` of memory, and runs with no network where the system allows it.
    """

    def __init__(self, location: str | os.PathLike[str], *, size: int = 2, timeout: float = DEFAULT_TIMEOUT,
                 max_result_bytes: int = DEFAULT_MAX_RESULT, memory_mb: int = DEFAULT_WORKER_MEMORY_MB,
                 fast_limit: float = DEFAULT_FAST_LIMIT, slow_slots: int = 1, slow_wait: float = 2.0,
                 queue_wait: float = 5.0, isolate_network: bool = True):
        self.location = str(location)
        self.size = size
        self.timeout = timeout
        self.max_result_bytes = max_result_bytes
        self.memory_mb = memory_mb
        self.fast_limit = min(fast_limit, timeout)
        self.slow_slots = slow_slots
        self.slow_wait = slow_wait
        self.queue_wait = queue_wait
        self.isolate = isolate_network
        self._idle: _Ready | None = None
        self._slots: asyncio.Semaphore | None = None
        self._all: set[WorkerProcess] = set()
        self._lock = threading.Lock()
        # a thread per query in flight (it waits on the worker's pipe) and one per worker being started
        self._threads = ThreadPoolExecutor(max_workers=2 * (size + 2 * slow_slots) + 4, thread_name_prefix="kg-sparql")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._known_slow: OrderedDict[str, None] = OrderedDict()
        self._known_fast: OrderedDict[str, None] = OrderedDict()  # answered quickly before: served first
        self._trying: dict[str, asyncio.Event] = {}  # queries of unknown cost on a ready worker now
        self._spares: list[WorkerProcess] = []  # started and waiting to replace a worker (one more than the slow slots)
        self.replaced = 0  # workers killed (time limit, memory, busy) and replaced (for tests and /healthz)
        self.isolated: bool | None = None  # whether the workers' network is cut off (known once one started)

    def _spawn(self) -> WorkerProcess:
        w = WorkerProcess(self.location, self.max_result_bytes, self.memory_mb, self.isolate)
        try:
            w.handshake()
        except (OSError, EOFError):
            w.kill()
            raise
        self.isolated = w.isolated if self.isolated is None else (self.isolated and w.isolated)
        with self._lock:
            self._all.add(w)
        return w

    def _add_ready(self) -> None:
        """Start a worker and make it ready (in a thread)."""
        self._add(lambda: self._idle.put_nowait)  # type: ignore[union-attr]

    def _add_spare(self) -> None:
        """Start a spare worker (in a thread)."""
        self._add(lambda: self._spares.append)

    def _add(self, where) -> None:
        """Start a worker and hand it, on the loop, to ``where()`` (the ready queue or the spares)."""
        if self._closed:
            return
        try:
            new = self._spawn()
        except (OSError, EOFError):
            return
        if self._closed:
            self._retire(new)
            return
        assert self._loop is not None
        self._loop.call_soon_threadsafe(where(), new)

    async def start(self) -> None:
        if self._idle is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._idle = _Ready()
        self._slots = asyncio.Semaphore(self.slow_slots)
        workers = await asyncio.gather(*(self._loop.run_in_executor(self._threads, self._spawn)
                                         for _ in range(self.size)))
        for w in workers:
            self._idle.put_nowait(w)
        for _ in range(self.slow_slots + 1):  # one more than the slots: a worker killed meanwhile is replaced too
            self._loop.run_in_executor(self._threads, self._add_spare)

    async def close(self) -> None:
        self._closed = True
        with self._lock:
            workers = list(self._all)
            self._all.clear()
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._threads, w.stop) for w in workers))
        self._threads.shutdown(wait=False, cancel_futures=True)

    def _retire(self, w: WorkerProcess, kill: bool = False) -> None:
        with self._lock:
            self._all.discard(w)
        w.kill() if kill else w.stop()

    def _replace(self, w: WorkerProcess) -> None:
        """Kill a worker whose query was stopped (or that died) and start another in its place."""
        self._retire(w, kill=True)
        self.replaced += 1
        self._add_ready()

    @staticmethod
    def _key(sparql: str) -> str:
        return " ".join(sparql.split())

    def _remember_slow(self, sparql: str) -> None:
        self._known_fast.pop(self._key(sparql), None)
        self._remember(self._known_slow, sparql)

    def _remember(self, known: OrderedDict[str, None], sparql: str) -> None:
        key = self._key(sparql)
        known[key] = None
        known.move_to_end(key)
        while len(known) > 512:
            known.popitem(last=False)

    async def run(self, sparql: str, result_fmt: str | None, rdf_fmt: str | None) -> SparqlResult:
        """Run one query in a worker; raise :class:`QueryTimeoutError` when it passes the limit and
        :class:`PoolBusyError` when it cannot be run now."""
        if self._idle is None:
            await self.start()
        assert self._idle is not None and self._slots is not None
        loop = asyncio.get_running_loop()
        slot = False
        key = self._key(sparql)
        trying = self._trying.get(key)
        if trying is not None:  # the same query is being tried: wait for how that goes before trying again
            try:
                await asyncio.wait_for(trying.wait(), self.queue_wait)
            except TimeoutError:
                raise PoolBusyError("the same query is running already and has not finished; try again later") \
                    from None
        if key in self._known_slow:  # went slow before: a slow slot first, then a worker
            try:
                await asyncio.wait_for(self._slots.acquire(), self.slow_wait)
            except TimeoutError:
                raise PoolBusyError("this query ran long before, and the slow SPARQL slots stayed taken for "
                                    f"{self.slow_wait:g} s; try again later, or narrow the query") from None
            slot = True
        try:
            if slot and self._spares:  # a spare worker takes it: the ready ones stay for quick queries
                w = self._spares.pop()
                loop.run_in_executor(self._threads, self._add_spare)
            else:
                w = await self._idle.get(first=self._key(sparql) in self._known_fast, timeout=self.queue_wait)
                if w is None:
                    raise PoolBusyError(f"every SPARQL worker stayed busy for {self.queue_wait:g} s; try again "
                                        "later")
                if not slot and self._key(sparql) in self._known_slow:  # found slow while this one waited
                    self._idle.put_nowait(w)
                    raise PoolBusyError("this query ran long before, and the slow SPARQL slots are taken; "
                                        "try again later, or narrow the query")
                if slot:  # it leaves the ready workers at once: another takes its place
                    loop.run_in_executor(self._threads, self._add_ready)
            w.slow = slot
            if slot:
                w.yield_cpu()
            elif key not in self._known_fast and key not in self._trying:
                self._trying[key] = trying = asyncio.Event()
            reply, slot = await self._ask(w, (sparql, result_fmt, rdf_fmt), slot)
        finally:
            if slot:
                self._slots.release()
            mine = self._trying.get(key)
            if mine is not None and mine is trying and not mine.is_set():
                del self._trying[key]
                mine.set()
        return answer(reply)

    async def _ask(self, w: WorkerProcess, msg: tuple, slot: bool) -> tuple[tuple, bool]:
        """Send a query to ``w`` and wait for its reply: fast first, then on a slow slot (taken if need be).
        Its time runs from when the worker has it."""
        assert self._idle is not None and self._slots is not None
        loop = asyncio.get_running_loop()
        t0 = time.monotonic()
        ok = False
        try:
            try:
                await loop.run_in_executor(self._threads, w.send_conn.send, msg)
                cpu = None if slot else self.fast_limit
                reply = await loop.run_in_executor(self._threads, poll_reply, w, self.timeout, cpu)
                if reply is SLOW:  # past the quick limit: on a slow slot, if one is free
                    self._remember_slow(msg[0])
                    if self._slots.locked():
                        raise PoolBusyError("the query ran past the quick limit and every slow SPARQL slot is "
                                            "taken; try again later, or narrow the query (a LIMIT)")
                    await self._slots.acquire()
                    slot = True
                    w.slow = True
                    w.yield_cpu()
                    if self._spares:  # a spare takes its place among the ready workers
                        self._idle.put_nowait(self._spares.pop())
                        loop.run_in_executor(self._threads, self._add_spare)
                    else:
                        loop.run_in_executor(self._threads, self._add_ready)
                    reply = await loop.run_in_executor(self._threads, poll_reply, w,
                                                       max(0.05, self.timeout - (time.monotonic() - t0)), None)
                if reply is None:
                    raise QueryTimeoutError(
                        f"the SPARQL query ran longer than {self.timeout:g} s and was stopped; "
                        "narrow it (more specific patterns, a LIMIT)")
            except (EOFError, OSError):
                self._remember_slow(msg[0])  # it kills workers: next time on a slow slot, with a spare
                if await loop.run_in_executor(self._threads, w.died_of_memory):
                    raise OutOfMemoryError(
                        f"the SPARQL query needed more than the {self.memory_mb:,} MiB of memory a query may use "
                        "and was stopped; narrow it (fewer variables joined, a LIMIT, no ORDER BY on everything)") \
                        from None
                raise QueryError("the SPARQL worker died while answering; the query may be too large") from None
            ok = True
            if not slot:
                self._remember(self._known_fast, msg[0])
            return reply, slot
        finally:
            if not ok and w.slow:  # another took its place among the ready workers when it went slow
                self.replaced += 1
                loop.run_in_executor(self._threads, self._retire, w, True)
            elif not ok and self._spares:  # a spare takes its place at once; another spare is started
                self._idle.put_nowait(self._spares.pop())
                self.replaced += 1
                loop.run_in_executor(self._threads, self._retire, w, True)
                loop.run_in_executor(self._threads, self._add_spare)
            elif not ok:
                loop.run_in_executor(self._threads, self._replace, w)
            elif w.slow:  # a slow query's worker was replaced among the ready ones already
                loop.run_in_executor(self._threads, self._retire, w)
            else:
                self._idle.put_nowait(w)


class _Ready:
    """The ready workers, and the queries waiting for one: those answered quickly before go first."""

    def __init__(self) -> None:
        self.workers: deque[WorkerProcess] = deque()
        self.waiting: tuple[deque[asyncio.Future], deque[asyncio.Future]] = (deque(), deque())

    def qsize(self) -> int:
        return len(self.workers)

    def put_nowait(self, w: WorkerProcess) -> None:
        for queue in self.waiting:
            while queue:
                fut = queue.popleft()
                if not fut.done():
                    fut.set_result(w)
                    return
        self.workers.append(w)

    async def get(self, *, first: bool, timeout: float) -> WorkerProcess | None:
        if self.workers and not any(f for q in self.waiting for f in q if not f.done()):
            return self.workers.popleft()
        fut = asyncio.get_running_loop().create_future()
        self.waiting[0 if first else 1].append(fut)
        try:
            await asyncio.wait({fut}, timeout=timeout)
        finally:
            if not fut.done():
                fut.cancel()
            elif fut.cancelled() is False and asyncio.current_task().cancelling():  # type: ignore[union-attr]
                self.put_nowait(fut.result())  # handed a worker as the caller was cancelled: pass it on
        return fut.result() if fut.done() and not fut.cancelled() else None
