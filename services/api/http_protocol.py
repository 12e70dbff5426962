"""The HTTP/1.1 protocol ``grantledger serve`` runs: uvicorn's h11 one, with deadlines.

uvicorn's default parser (httptools) has no limit on a request's header size and no header
timeout: ten unfinished 20 MB headers held 250 MB, and a client trickling its headers in held a
connection for ever.  h11 refuses an unfinished request line and headers larger than
``h11_max_incomplete_event_size`` (``GRANTLEDGER_HTTP_MAX_HEADER_BYTES``) with a 400; this class
adds what neither parser has:

- **a header deadline**: from a connection's first moment, or a kept-alive connection's first
  new byte, the request line and headers must be complete within ``http_header_timeout``
  seconds, however slowly they come (a deadline, not an idle timer, or one byte every few
  seconds would hold the connection for ever); else 408 and close;
- **a read deadline**: a request body that stalls (no byte for ``http_read_timeout`` seconds
  while we are waiting to read it) gets the connection closed.

Between requests uvicorn's own keep-alive timeout closes an idle connection.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from api.settings import get_settings

_LATE = b"the request headers did not arrive in time\n"
TIMED_OUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_LATE), _LATE)
)


class DeadlineH11Protocol(H11Protocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        settings = get_settings()
        self._header_timeout = settings.http_header_timeout
        self._read_timeout = settings.http_read_timeout
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting_for: str | None = None  # "headers" or "body"

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        super().connection_lost(exc)

    def _watch(self) -> None:
        """Arm, keep or drop the deadline for what the connection now waits for."""
        if self.transport.is_closing():
            self._cancel()
        elif self.conn.their_state is h11.IDLE and self.timeout_keep_alive_task is None:
            if self._waiting_for != "headers":  # a deadline: never pushed back by new bytes
                self._arm("headers", self._header_timeout)
        elif self.conn.their_state is h11.SEND_BODY:
            self._arm("body", self._read_timeout)  # an idle timer: every byte resets it
        else:
            self._cancel()  # idle between requests (keep-alive's), or the client is done

    def _arm(self, waiting_for: str, seconds: float) -> None:
        self._cancel()
        self._waiting_for = waiting_for
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _cancel(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None
        self._waiting_for = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._waiting_for == "body" and self.flow.read_paused:
            # We stopped reading (the app has not taken what came): not the client's delay.
            self._arm("body", self._read_timeout)
            return
        if self._waiting_for == "headers":
            self.transport.write(TIMED_OUT)
        self._waiting_for = None
        self.transport.close()
