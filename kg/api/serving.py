"""Running the app under uvicorn, with the limits uvicorn leaves to its user.

uvicorn waits for a request's headers as long as the client keeps the connection open, so a client that
opens many connections and sends its headers a byte at a time ("slowloris") keeps them all.  Here a
connection that has not sent a whole request head within ``header_timeout`` seconds of opening (or of
its last response) is closed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["HEADER_TIMEOUT", "header_timeout_protocol", "server_config", "run"]

HEADER_TIMEOUT = 10.0


class _HeaderTimeoutH11(H11Protocol):
    header_timeout = HEADER_TIMEOUT

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        self._header_timer: asyncio.TimerHandle | None = None
        self._request_cycle: Any = None
        super().connection_made(transport)
        self._arm()

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self.cycle is None or self.cycle.response_complete:
            self._arm()  # between requests: the next head must come in time
        super().data_received(data)
        if self.cycle is not None and self.cycle is not self._request_cycle:
            self._request_cycle = self.cycle  # a whole head arrived: a request is under way
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def header_timeout_protocol(seconds: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol, closing connections whose request head takes longer than ``seconds``."""
    return type("HeaderTimeoutH11", (_HeaderTimeoutH11,), {"header_timeout": seconds})


def server_config(app: Any, host: str = "127.0.0.1", port: int = 8000, *, header_timeout: float = HEADER_TIMEOUT,
                  log_level: str = "warning", **kwargs: Any) -> uvicorn.Config:
    """The uvicorn configuration kg serves with (``kg serve``, the tests, the benchmarks)."""
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on",
                          http=header_timeout_protocol(header_timeout), timeout_keep_alive=5, **kwargs)


#: how long a thread may hold the interpreter lock while another waits for it (Python's default: 5 ms).
#: GraphQL requests run in threads; shorter turns let the event loop answer /healthz and start other
#: requests between them, instead of waiting up to 5 ms at each step of each request.
SWITCH_INTERVAL = 0.0005


def run(app: Any, host: str = "127.0.0.1", port: int = 8000, *, sockets: list[Any] | None = None,
        **kwargs: Any) -> None:
    """Serve ``app`` until stopped; on ``sockets`` already listening when given (``kg serve`` binds its port
    first, to say plainly when it is taken)."""
    import sys

    sys.setswitchinterval(SWITCH_INTERVAL)
    uvicorn.Server(server_config(app, host, port, **kwargs)).run(sockets=sockets)
