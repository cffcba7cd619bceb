"""A SPARQL worker process seen from the server: :class:`WorkerProcess` starts ``python -m
kg.api.sparql_worker`` and holds the two pipes to it, :func:`poll_reply` waits for its answer (and tells a
query that has gone slow), :func:`answer` turns its reply into a result or the error it stands for, and
:func:`run_isolated` runs one query in a worker of its own (``kg sparql``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from kg.api.sparql_guard import (
    NotAcceptableError,
    OutOfMemoryError,
    ResultTooLargeError,
    SparqlResult,
)
from kg.errors import KGError, QueryError, QueryTimeoutError

__all__ = ["SLOW", "WorkerProcess", "answer", "poll_reply", "run_isolated"]

_ERRORS: dict[str, type[KGError]] = {c.__name__: c for c in (
    QueryError, QueryTimeoutError, NotAcceptableError, ResultTooLargeError)}


def _error_from(name: str, code: str, message: str) -> KGError:
    from kg import errors as kg_errors

    cls = _ERRORS.get(name) or getattr(kg_errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, KGError)):
        cls = KGError
    err = cls.__new__(cls)
    KGError.__init__(err, message)
    err.code = code  # type: ignore[misc]
    return err


class WorkerProcess:
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


def answer(reply: tuple) -> SparqlResult:
    """A worker's reply as the result, or raised as the error it stands for."""
    status = reply[0]
    if status == "ok":
        return SparqlResult(reply[1], reply[2], reply[3])
    if status == "error":
        if reply[1] == "OutOfMemoryError":
            raise OutOfMemoryError("the SPARQL query needed more memory than a query may use and was stopped; "
                                   "narrow it (fewer variables joined, a LIMIT)")
        raise _error_from(reply[1], reply[2], reply[3])
    raise RuntimeError(f"SPARQL worker failed: {reply[1]}: {reply[2]}")


#: what :func:`poll_reply` gives for a query that has passed the quick limit
SLOW = ("slow",)
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
    w = WorkerProcess(str(location), max_result_bytes, memory_mb, True)
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
    return answer(reply)


def poll_reply(w: WorkerProcess, timeout: float, cpu_limit: float | None) -> tuple | None:
    """The worker's reply within ``timeout`` seconds, or None; with ``cpu_limit``, :data:`SLOW` as soon as
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
            return SLOW

