"""Dumps of the served graph (``/dump.*``, the Graph Store Protocol), written once and served from a file.

A dump of the whole graph is large (hundreds of MB on a corpus of a few hundred notes).  It is written
on the heavy lane to a file in a private temporary folder, once per (generation, format, graph): requests
for the same dump while it is being written wait for that one, and later ones get the file, streamed, at
most ``streams`` at once (then 503 with Retry-After).  The server holds none of it in memory.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from kg.api.lanes import Lane

__all__ = ["DumpCache"]


class DumpCache:
    """Dump files of one store, at most ``keep`` of them (the oldest are deleted)."""

    def __init__(self, store: Any, lane: Lane, keep: int = 8, streams: int = 2):
        self.store = store
        self.lane = lane
        self.keep = keep
        self.streams = streams  # dumps sent at once: each keeps the server's loop busy while it is sent
        self.sending = 0
        self._dir: Path | None = None
        self._files: OrderedDict[tuple[str, str, str | None], Path] = OrderedDict()
        self._lock = threading.Lock()
        self._writing: dict[tuple[str, str | None], asyncio.Future] = {}

    def folder(self) -> Path:
        """The temporary folder the dump files are written in (made on first need)."""
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="kg-dumps-"))
        return self._dir

    def _write(self, fmt: str, graph: str | None) -> Path:
        generation = self.store.generation()
        key = (generation, fmt, graph)
        with self._lock:
            path = self._files.get(key)
            if path is not None and path.exists():
                self._files.move_to_end(key)
                return path
        folder = self.folder()
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=f".{fmt}.part")
        try:
            with os.fdopen(fd, "wb") as out:
                self.store.dump(fmt, graph, output=out)
            path = Path(tmp[: -len(".part")])
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        with self._lock:
            self._files[key] = path
            while len(self._files) > self.keep:
                _, old = self._files.popitem(last=False)
                old.unlink(missing_ok=True)  # a response still sending it keeps its open file
        return path

    async def get(self, fmt: str, graph: str | None) -> Path:
        """The file of the dump of the live generation in ``fmt`` (the whole graph, or ``graph``)."""
        live = self.store.open_name()  # as last refreshed: a cached file needs no thread
        if live is not None:
            with self._lock:
                path = self._files.get((live, fmt, graph))
            if path is not None and path.exists():
                return path
        key = (fmt, graph)
        pending = self._writing.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        fut = asyncio.ensure_future(self.lane.run(self._write, fmt, graph))
        self._writing[key] = fut
        fut.add_done_callback(lambda _: self._writing.pop(key, None))
        return await asyncio.shield(fut)

    def response(self, path: Path, media_type: str, headers: dict[str, str]) -> Any:
        """A response that sends the file 1 MiB at a time, counted among the streams (BusyError when full)."""
        from starlette.responses import FileResponse

        from kg.api.lanes import BusyError

        if self.sending >= self.streams:
            raise BusyError(f"{self.sending} dumps are being sent; try again in a few seconds", retry_after=10)
        cache = self

        class _Sending(FileResponse):
            chunk_size = 2**20

            async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
                try:
                    await super().__call__(scope, receive, send)
                finally:
                    cache.sending -= 1

        self.sending += 1
        try:
            return _Sending(path, media_type=media_type, headers=headers)
        except BaseException:
            self.sending -= 1
            raise

    def close(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
