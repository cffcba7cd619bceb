"""A SPARQL worker process: ``python -m kg.api.sparql_worker`` answers queries over two pipes, with the
store open read-only (:mod:`kg.api.sparql_process` starts one and talks to it, :mod:`kg.api.sparql_pool`
keeps several).

It imports only pyoxigraph, ``kg.store`` and rdflib's SPARQL parser (the read-only check), no more of the
server (no fork of the server, no re-import of its main module).  It runs with a cap on its address space
(a query that needs more fails with a clear 400 and the worker is replaced) and, where Linux allows, in a
network namespace of its own, so no query can reach another host.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from kg.api.sparql_guard import OutOfMemoryError, execute
from kg.errors import KGError

__all__ = ["cap_memory", "isolate_network", "main"]


def _serve(location: str, conn_in: Any, conn_out: Any, max_bytes: int) -> None:
    """Answer each query that comes in on ``conn_in`` on ``conn_out``, until the pipe closes or None comes."""
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
    _serve(location, Connection(in_fd, writable=False), conn_out, max_bytes)


if __name__ == "__main__":
    main()
