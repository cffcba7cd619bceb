"""SPARQL endpoint queries in worker processes, with a time limit.

Neither pyoxigraph nor rdflib can cancel a running query, so a query a user
sends to ``/sparql`` runs in a small pool of worker processes, each with the
store open read-only.  A query that passes the time limit gets its worker
killed and replaced; the server and the other workers keep answering.

Workers are plain ``python -m kg.api.sparql_worker`` processes talking over
two pipes (no fork of the server, no re-import of its main module); they
import only pyoxigraph and ``kg.store``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kg.errors import KGError, QueryError, QueryTimeoutError

__all__ = ["SparqlPool", "SparqlResult", "PoolBusyError", "ResultTooLargeError", "execute"]

DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_RESULT = 64 * 2**20


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
        except Exception as err:  # noqa: BLE001 - reported as internal, masked by the HTTP layer
            reply = ("internal", type(err).__name__, repr(err))
        try:
            conn_out.send(reply)
        except (OSError, ValueError):
            return


def main(argv: list[str] | None = None) -> None:
    """``python -m kg.api.sparql_worker IN_FD OUT_FD STORE MAX_BYTES``: serve queries over two pipes."""
    from multiprocessing.connection import Connection

    args = argv if argv is not None else sys.argv[1:]
    in_fd, out_fd, location, max_bytes = int(args[0]), int(args[1]), args[2], int(args[3])
    sys.stdout = sys.stderr  # nothing may write to the result pipe but the protocol
    _worker_main(location, Connection(in_fd, writable=False), Connection(out_fd, readable=False), max_bytes)


# ---------------------------------------------------------------- in the server

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


class _Worker:
    """One worker: a ``python -m kg.api.sparql_worker`` process and the two pipes to it."""

    def __init__(self, location: str, max_bytes: int):
        from multiprocessing.connection import Connection

        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "kg.api.sparql_worker", str(to_child_r), str(from_child_w), location,
                 str(max_bytes)],
                pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL, env=env, close_fds=True)
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self.send_conn = Connection(to_child_w, readable=False)
        self.recv_conn = Connection(from_child_r, writable=False)

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
    """``size`` worker processes over the store at ``location``; each query at most ``timeout`` seconds."""

    def __init__(self, location: str | os.PathLike[str], *, size: int = 2, timeout: float = DEFAULT_TIMEOUT,
                 max_result_bytes: int = DEFAULT_MAX_RESULT):
        self.location = str(location)
        self.size = size
        self.timeout = timeout
        self.max_result_bytes = max_result_bytes
        self._idle: asyncio.Queue[_Worker] | None = None
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._threads = ThreadPoolExecutor(max_workers=size + 1, thread_name_prefix="kg-sparql")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self.replaced = 0  # workers killed on a timeout and replaced (for tests and /healthz)

    def _spawn(self) -> _Worker:
        w = _Worker(self.location, self.max_result_bytes)
        with self._lock:
            self._all.add(w)
        return w

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._idle = asyncio.Queue()
        workers = await asyncio.gather(*(self._loop.run_in_executor(self._threads, self._spawn)
                                         for _ in range(self.size)))
        for w in workers:
            self._idle.put_nowait(w)

    async def close(self) -> None:
        self._closed = True
        with self._lock:
            workers = list(self._all)
            self._all.clear()
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._threads, w.stop) for w in workers))
        self._threads.shutdown(wait=False, cancel_futures=True)

    def _roundtrip(self, w: _Worker, msg: tuple, timeout: float) -> tuple | None:
        w.send_conn.send(msg)
        if not w.recv_conn.poll(timeout):
            return None
        return w.recv_conn.recv()

    def _replace(self, w: _Worker) -> None:
        with self._lock:
            self._all.discard(w)
        w.kill()
        if self._closed:
            return
        new = self._spawn()
        self.replaced += 1
        assert self._loop is not None and self._idle is not None
        self._loop.call_soon_threadsafe(self._idle.put_nowait, new)

    async def run(self, sparql: str, result_fmt: str | None, rdf_fmt: str | None) -> SparqlResult:
        """Run one query in a worker; raise :class:`QueryTimeoutError` when it passes the limit."""
        if self._idle is None:
            await self.start()
        assert self._idle is not None
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + self.timeout
        try:
            w = await asyncio.wait_for(self._idle.get(), self.timeout)
        except TimeoutError:
            raise PoolBusyError(f"every SPARQL worker stayed busy for {self.timeout:g} s; try again later") from None
        ok = False
        try:
            remaining = max(0.05, deadline - time.monotonic())
            reply = await loop.run_in_executor(self._threads, self._roundtrip, w,
                                               (sparql, result_fmt, rdf_fmt), remaining)
            if reply is None:
                raise QueryTimeoutError(
                    f"the SPARQL query ran longer than {self.timeout:g} s and was stopped; "
                    "narrow it (more specific patterns, a LIMIT)")
            ok = True
        except (EOFError, OSError, BrokenPipeError):
            raise QueryError("the SPARQL worker died while answering; the query may be too large") from None
        finally:
            if ok:
                self._idle.put_nowait(w)
            else:
                loop.run_in_executor(self._threads, self._replace, w)
        status = reply[0]
        if status == "ok":
            return SparqlResult(reply[1], reply[2], reply[3])
        if status == "error":
            raise _error_from(reply[1], reply[2], reply[3])
        raise RuntimeError(f"SPARQL worker failed: {reply[1]}: {reply[2]}")


if __name__ == "__main__":
    main()
