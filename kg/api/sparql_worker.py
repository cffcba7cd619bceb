"""SPARQL endpoint queries in worker processes, with a time limit.

Neither pyoxigraph nor rdflib can cancel a running query, so a query a user
sends to ``/sparql`` runs in a small pool of worker processes, each with the
store open read-only.  A query that passes the time limit gets its worker
killed and replaced; the server and the other workers keep answering.

Workers are plain ``python -m kg.api.sparql_worker`` processes talking over
two pipes (no fork of the server, no re-import of its main module); they
import only pyoxigraph, ``kg.store`` and rdflib's SPARQL parser (the read-only
check).  Each runs with a cap on its address space (a query that needs more
fails with a clear 400 and its worker is replaced) and, where Linux allows, in
a network namespace of its own, so no query can reach another host.  Slow
queries get their own slots (see :class:`SparqlPool`), so they cannot hold
every worker while quick queries wait.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from collections import OrderedDict, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kg.errors import KGError, QueryError, QueryTimeoutError

__all__ = ["SparqlPool", "SparqlResult", "PoolBusyError", "ResultTooLargeError", "OutOfMemoryError", "execute",
           "isolate_network", "cap_memory", "run_isolated"]

DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_RESULT = 64 * 2**20
#: the address space a SPARQL worker may map (the interpreter and Oxigraph take ~300 MiB of it idle)
DEFAULT_WORKER_MEMORY_MB = 1024
#: the CPU seconds a query may use on one of the ready workers before it counts as slow
DEFAULT_FAST_LIMIT = 0.5


class PoolBusyError(QueryTimeoutError):
    code = "busy"


class ResultTooLargeError(QueryError):
    code = "result_too_large"


@dataclass(frozen=True)
class SparqlResult:
    body: bytes
    media_type: str
    kind: str  # "solutions", "boolean" or "graph"


# ---------------------------------------------------------------- in the worker


def execute(store: Any, sparql: str, result_fmt: str | None, rdf_fmt: str | None,
            max_bytes: int = DEFAULT_MAX_RESULT) -> SparqlResult:
    """Run a read-only query on an EmbeddedStore; serialise in the format chosen for its kind.

    ``result_fmt`` (json, xml, csv, tsv) serves SELECT/ASK and ``rdf_fmt`` (ttl,
    nt, jsonld, xml) CONSTRUCT/DESCRIBE; ``None`` means the client accepts no
    format for that kind (HTTP 406).
    """
    import pyoxigraph as ox

    from kg.store import PREFIXES, RDF_FORMATS, RESULT_FORMATS, check_read_only_query

    check_read_only_query(sparql)
    try:
        result = store.oxigraph.query(sparql, use_default_graph_as_union=True, prefixes=PREFIXES)
    except SyntaxError as err:
        raise QueryError(f"the SPARQL query does not parse: {err}") from None
    except (RuntimeError, ValueError, OSError) as err:
        raise QueryError(f"the SPARQL query failed: {err}") from None
    if isinstance(result, ox.QueryTriples):
        if rdf_fmt is None:
            raise NotAcceptableError("a CONSTRUCT/DESCRIBE answers in RDF: accept text/turtle, "
                                     "application/n-triples or application/ld+json")
        fmt, media, _ = RDF_FORMATS[rdf_fmt]
        kind = "graph"
    else:
        if result_fmt is None:
            raise NotAcceptableError("a SELECT/ASK answers in SPARQL results: accept application/sparql-results+json, "
                                     "application/sparql-results+xml, text/csv or text/tab-separated-values")
        fmt, media = RESULT_FORMATS[result_fmt]
        kind = "boolean" if isinstance(result, ox.QueryBoolean) else "solutions"
    try:
        body = _serialize_capped(result, fmt, max_bytes)
    except (RuntimeError, ValueError, OSError) as err:
        raise QueryError(f"the SPARQL query failed: {err}") from None
    return SparqlResult(body, media, kind)


class _Capped:
    def __init__(self, limit: int):
        self.parts: list[bytes] = []
        self.size = 0
        self.limit = limit

    def write(self, b: bytes) -> int:
        self.size += len(b)
        if self.size > self.limit:
            raise ResultTooLargeError(f"the result is larger than {self.limit // 2**20} MiB; add a LIMIT or "
                                      "download a dump (/dump.nt) instead")
        self.parts.append(bytes(b))
        return len(b)

    def flush(self) -> None:
        pass


def _serialize_capped(result: Any, fmt: Any, limit: int) -> bytes:
    out = _Capped(limit)
    try:
        result.serialize(out, format=fmt)
    except ResultTooLargeError:
        raise
    except Exception as err:
        # pyoxigraph wraps errors raised by the writer
        if isinstance(err.__cause__, ResultTooLargeError) or out.size > out.limit:
            raise ResultTooLargeError(f"the result is larger than {limit // 2**20} MiB; add a LIMIT or "
                                      "download a dump (/dump.nt) instead") from None
        raise
    return b"".join(out.parts)


class NotAcceptableError(QueryError):
    code = "not_acceptable"


def _worker_main(location: str, conn_in: Any, conn_out: Any, max_bytes: int) -> None:
    from kg.store import EmbeddedStore

    store = None
    while True:
        try:
            msg = conn_in.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        sparql, result_fmt, rdf_fmt = msg
        try:
            if store is None:
                store = EmbeddedStore(location)
            r = execute(store, sparql, result_fmt, rdf_fmt, max_bytes)
            reply: tuple = ("ok", r.body, r.media_type, r.kind)
        except KGError as err:
            reply = ("error", type(err).__name__, err.code, str(err))
        except MemoryError:
            reply = ("error", "OutOfMemoryError", OutOfMemoryError.code, "")
        except Exception as err:  # noqa: BLE001 - reported as internal, masked by the HTTP layer
            reply = ("internal", type(err).__name__, repr(err))
        try:
            conn_out.send(reply)
        except (OSError, ValueError):
            return


# ---------------------------------------------------------------- the worker's confinement

_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000


def isolate_network() -> bool:
    """Move this process into a network namespace of its own, with no interface up: nothing it runs (an
    Oxigraph SERVICE call included) can reach another host, or this one.  True if it could (Linux, as root
    or with unprivileged user namespaces); False elsewhere, where the SERVICE check alone stands."""
    import ctypes
    import ctypes.util

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    except OSError:
        return False
    if libc.unshare(_CLONE_NEWNET) == 0:
        return True
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) != 0:
        return False
    try:  # the same user inside, so the store's files read as before
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
        Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
    except OSError:
        pass
    return True


def cap_memory(megabytes: int) -> None:
    """Limit this process's address space: a query that needs more fails here rather than in the machine."""
    import resource

    if megabytes > 0:
        limit = megabytes * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main(argv: list[str] | None = None) -> None:
    """``python -m kg.api.sparql_worker IN_FD OUT_FD STORE MAX_BYTES MEMORY_MB ISOLATE``: serve queries over
    two pipes; the first message it sends says whether its network is isolated."""
    from multiprocessing.connection import Connection

    args = argv if argv is not None else sys.argv[1:]
    in_fd, out_fd, location, max_bytes = int(args[0]), int(args[1]), args[2], int(args[3])
    memory_mb = int(args[4]) if len(args) > 4 else 0
    isolate = len(args) <= 5 or args[5] == "1"
    sys.stdout = sys.stderr  # nothing may write to the result pipe but the protocol
    isolated = isolate_network() if isolate else False
    import pyoxigraph  # noqa: F401 - loaded before the cap, which counts what is mapped from now on
    from rdflib.plugins.sparql import parser  # noqa: F401 - the read-only check's parser

    cap_memory(memory_mb)
    conn_out = Connection(out_fd, readable=False)
    conn_out.send(("ready", isolated))
    _worker_main(location, Connection(in_fd, writable=False), conn_out, max_bytes)


# ---------------------------------------------------------------- in the server

_ERRORS: dict[str, type[KGError]] = {c.__name__: c for c in (
    QueryError, QueryTimeoutError, NotAcceptableError, ResultTooLargeError)}


class OutOfMemoryError(QueryError):
    code = "out_of_memory"


def _error_from(name: str, code: str, message: str) -> KGError:
    from kg import errors as kg_errors

    cls = _ERRORS.get(name) or getattr(kg_errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, KGError)):
        cls = KGError
    err = cls.__new__(cls)
    KGError.__init__(err, message)
    err.code = code  # type: ignore[misc]
    return err


class _Worker:
    """One worker: a ``python -m kg.api.sparql_worker`` process and the two pipes to it."""

    def __init__(self, location: str, max_bytes: int, memory_mb: int, isolate: bool):
        from multiprocessing.connection import Connection

        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env["MALLOC_ARENA_MAX"] = "2"  # glibc reserves address space per thread arena: the cap counts it
        env["RUST_BACKTRACE"] = "0"  # a query past the cap: one line in the server's log, not a backtrace
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "kg.api.sparql_worker", str(to_child_r), str(from_child_w), location,
                 str(max_bytes), str(memory_mb), "1" if isolate else "0"],
                pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL, env=env, close_fds=True)
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self.send_conn = Connection(to_child_w, readable=False)
        self.recv_conn = Connection(from_child_r, writable=False)
        self.isolated = False
        self.slow = False  # running a query past the fast limit, on a slow slot

    def handshake(self, timeout: float = 60.0) -> None:
        if not self.recv_conn.poll(timeout):
            raise OSError("the SPARQL worker did not start")
        msg = self.recv_conn.recv()
        self.isolated = bool(msg[1])

    def yield_cpu(self) -> None:
        """Lower the process's scheduling priority (it runs a slow query): quick work comes first on a busy
        machine.  The worker is not made ready again afterwards (it is stopped), so it never needs raising."""
        try:
            os.setpriority(os.PRIO_PROCESS, self.proc.pid, 10)
        except (OSError, AttributeError):
            pass

    def died_of_memory(self) -> bool:
        """Whether the process ended as one does that passed its memory cap (an abort, or the kernel's kill)."""
        import signal

        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return False
        return code in (-signal.SIGABRT, -signal.SIGKILL, -signal.SIGSEGV, 134, 137)

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.wait(timeout=5)
        finally:
            self.send_conn.close()
            self.recv_conn.close()

    def stop(self) -> None:
        try:
            self.send_conn.send(None)
        except (OSError, ValueError):
            pass
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=2)
        self.send_conn.close()
        self.recv_conn.close()


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
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        # a thread per query in flight (it waits on the worker's pipe) and one per worker being started
        self._threads = ThreadPoolExecutor(max_workers=2 * (size + 2 * slow_slots) + 4, thread_name_prefix="kg-sparql")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._known_slow: OrderedDict[str, None] = OrderedDict()
        self._known_fast: OrderedDict[str, None] = OrderedDict()  # answered quickly before: served first
        self._trying: dict[str, asyncio.Event] = {}  # queries of unknown cost on a ready worker now
        self._spares: list[_Worker] = []  # started and waiting to replace a worker (one more than the slow slots)
        self.replaced = 0  # workers killed (time limit, memory, busy) and replaced (for tests and /healthz)
        self.isolated: bool | None = None  # whether the workers' network is cut off (known once one started)

    def _spawn(self) -> _Worker:
        w = _Worker(self.location, self.max_result_bytes, self.memory_mb, self.isolate)
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

    def _retire(self, w: _Worker, kill: bool = False) -> None:
        with self._lock:
            self._all.discard(w)
        w.kill() if kill else w.stop()

    def _replace(self, w: _Worker) -> None:
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
        return self._answer(reply)

    async def _ask(self, w: _Worker, msg: tuple, slot: bool) -> tuple[tuple, bool]:
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
                reply = await loop.run_in_executor(self._threads, _poll, w, self.timeout, cpu)
                if reply is _SLOW:  # past the quick limit: on a slow slot, if one is free
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
                    reply = await loop.run_in_executor(self._threads, _poll, w,
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

    @staticmethod
    def _answer(reply: tuple) -> SparqlResult:
        status = reply[0]
        if status == "ok":
            return SparqlResult(reply[1], reply[2], reply[3])
        if status == "error":
            if reply[1] == "OutOfMemoryError":
                raise OutOfMemoryError("the SPARQL query needed more memory than a query may use and was stopped; "
                                       "narrow it (fewer variables joined, a LIMIT)")
            raise _error_from(reply[1], reply[2], reply[3])
        raise RuntimeError(f"SPARQL worker failed: {reply[1]}: {reply[2]}")


class _Ready:
    """The ready workers, and the queries waiting for one: those answered quickly before go first."""

    def __init__(self) -> None:
        self.workers: deque[_Worker] = deque()
        self.waiting: tuple[deque[asyncio.Future], deque[asyncio.Future]] = (deque(), deque())

    def qsize(self) -> int:
        return len(self.workers)

    def put_nowait(self, w: _Worker) -> None:
        for queue in self.waiting:
            while queue:
                fut = queue.popleft()
                if not fut.done():
                    fut.set_result(w)
                    return
        self.workers.append(w)

    async def get(self, *, first: bool, timeout: float) -> _Worker | None:
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


_SLOW = ("slow",)
_WALL_FACTOR = 2.0  # a starved machine: a query holds a ready worker at most this many fast limits of time
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_seconds(pid: int) -> float | None:
    """CPU time a process has used (Linux /proc), or None where that cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return None


def run_isolated(location: str, sparql: str, result_fmt: str | None, rdf_fmt: str | None, *,
                 memory_mb: int = 0, max_result_bytes: int = 1 << 62) -> SparqlResult:
    """Run one query in a worker process of its own (``kg sparql``): no network where the system allows it,
    and ``memory_mb`` of address space at most (0: no cap).  The process ends with the query."""
    w = _Worker(str(location), max_result_bytes, memory_mb, True)
    try:
        w.handshake()
        w.send_conn.send((sparql, result_fmt, rdf_fmt))
        try:
            reply = w.recv_conn.recv()
        except (EOFError, OSError):
            if w.died_of_memory():
                raise OutOfMemoryError(f"the SPARQL query needed more than {memory_mb:,} MiB of memory and was "
                                       "stopped; narrow it (fewer variables joined, a LIMIT)") from None
            raise QueryError("the SPARQL worker died while answering; the query may be too large") from None
    finally:
        w.stop()
    return SparqlPool._answer(reply)


def _poll(w: _Worker, timeout: float, cpu_limit: float | None) -> tuple | None:
    """The worker's reply within ``timeout`` seconds, or None; with ``cpu_limit``, :data:`_SLOW` as soon as
    the query has used that much CPU time (waiting for a busy machine's CPU does not make a query slow), or
    has held the worker :data:`_WALL_FACTOR` times as long."""
    if cpu_limit is None:
        return w.recv_conn.recv() if w.recv_conn.poll(timeout) else None
    t0 = time.monotonic()
    cpu0 = _cpu_seconds(w.proc.pid)
    while True:
        left = timeout - (time.monotonic() - t0)
        if left <= 0:
            return None
        if w.recv_conn.poll(min(0.05, left)):
            return w.recv_conn.recv()
        cpu = _cpu_seconds(w.proc.pid)
        wall = time.monotonic() - t0
        used = cpu - cpu0 if cpu is not None and cpu0 is not None else wall
        if used >= cpu_limit or wall >= _WALL_FACTOR * cpu_limit:
            return _SLOW


if __name__ == "__main__":
    main()
