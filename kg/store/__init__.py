"""Where the graph lives: an embedded Oxigraph store in a folder (the default), or a SPARQL 1.1 server.

:func:`open_store` opens one for reading (a :class:`GraphStore`; :func:`check_layout` refuses one
written in another graph layout), :func:`write_store` writes a new generation (a :class:`GraphWriter`).  The package's rooms:

* :mod:`kg.store.base` — the protocols, formats, term conversion, the SELECT helper, the read-only guard
* :mod:`kg.store.embedded` — reading a folder store; :mod:`kg.store.generations` — its folder layout
* :mod:`kg.store.writer` — writing a folder store; :mod:`kg.store.loader` — its loader thread;
  :mod:`kg.store.nquads` — the N-Quads text it loads
* :mod:`kg.store.remote`, :mod:`kg.store.remote_writer` — a SPARQL server (loaded only for a URL)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from kg.errors import StoreLayoutError

from kg.store.base import (
    DEFAULT_STORE,
    PREFIXES,
    QUAD_FORMATS,
    RDF_FORMATS,
    RESULT_FORMATS,
    GraphStore,
    GraphWriter,
    LocalGraphWriter,
    StoreSnapshot,
    check_read_only_query,
    from_oxigraph,
    select_rows,
    select_tuples,
    to_oxigraph,
)
from kg.store.embedded import EmbeddedSnapshot, EmbeddedStore
from kg.store.writer import StoreWriter, write_embedded
from kg.vocab import GRAPH_LAYOUT

__all__ = [
    "DEFAULT_STORE",
    "PREFIXES",
    "QUAD_FORMATS",
    "RDF_FORMATS",
    "RESULT_FORMATS",
    "EmbeddedSnapshot",
    "EmbeddedStore",
    "GraphStore",
    "GraphWriter",
    "LocalGraphWriter",
    "StoreSnapshot",
    "StoreWriter",
    "check_layout",
    "check_read_only_query",
    "from_oxigraph",
    "is_server",
    "open_store",
    "select_rows",
    "select_tuples",
    "to_oxigraph",
    "write_store",
]


def is_server(location: str | os.PathLike[str]) -> bool:
    """Whether ``location`` names a SPARQL server (an http(s) URL) rather than a folder."""
    return str(location).startswith(("http://", "https://"))


def open_store(location: str | os.PathLike[str] = DEFAULT_STORE) -> GraphStore:
    """Open a built store for reading: a folder (embedded Oxigraph) or a SPARQL server URL (:mod:`kg.store.remote`).
    A store written in another graph layout is refused (:func:`check_layout`)."""
    loc = str(location)
    if is_server(loc):
        from kg.store.remote import RemoteStore  # (httpx is loaded only for a server)

        return check_layout(RemoteStore(loc))
    return check_layout(EmbeddedStore(loc))


def check_layout(store: GraphStore) -> GraphStore:
    """``store`` itself when a build of this kg wrote it (or none did yet); else :class:`StoreLayoutError`:
    read in this kg's layout (kg.vocab.GRAPH_LAYOUT), its graphs would be misread."""
    meta = store.meta()
    if meta.get("fingerprint") and meta.get("layout") != GRAPH_LAYOUT:
        raise StoreLayoutError(
            f"the store at {store.location} was written by kg {meta.get('version', '(an older version)')} in graph "
            f"layout {meta.get('layout', '2 or older')}; this kg reads layout {GRAPH_LAYOUT} and would misread it: "
            f"rebuild it with 'kg build NOTES --store {store.location}' (the build rewrites every note)")
    return store


@contextmanager
def write_store(location: str | os.PathLike[str] = DEFAULT_STORE, *, empty: bool = False,
                live_view: EmbeddedStore | None = None, set_aside_damaged: bool = False) -> Iterator[GraphWriter]:
    """Open a new generation of the store at ``location`` for writing (see :func:`kg.store.writer.write_embedded`).

    The block's changes go live when it calls ``commit()``; if it raises or never commits, they are thrown
    away (a folder store) or redone by the next build (a server).  An http(s) URL writes into a SPARQL 1.1
    server (:func:`kg.store.remote_writer.write_remote`); the other arguments are for a folder.
    """
    if is_server(location):
        from kg.store.remote_writer import write_remote

        with write_remote(str(location)) as remote_writer:
            yield remote_writer
        return
    with write_embedded(location, empty=empty, live_view=live_view, set_aside_damaged=set_aside_damaged) as writer:
        yield writer
