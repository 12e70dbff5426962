"""The HTTP/1.1 protocol ``grantledger serve`` runs: uvicorn's httptools one, bounded.

httptools is the fast parser (h11 took 0.1–0.2 ms more server CPU a request: bench/protocols.py),
but uvicorn's protocol on it has no limit on a request's header size and no header timeout: ten
unfinished 20 MB headers held 250 MB, and a client trickling its headers in held a connection for
ever.  This class adds:

- **a header size cap**: the bytes of a request line and headers are counted as they arrive,
  before the parser sees them; the parser is fed at most ``http_max_header_bytes`` of them, and
  if the headers have not ended there the answer is 431 and a close, so a connection never holds
  more than that of an unfinished request (a pipelined request's bytes that came in the same
  read as the end of the one before are not counted: at most 256 KB more);
- **a header deadline**: from a connection's first moment, or a kept-alive connection's first
  new byte, the request line and headers must be complete within ``http_header_timeout``
  seconds, however slowly they come (a deadline, not an idle timer, or one byte every few
  seconds would hold the connection for ever); else 408 and close;
- **a read deadline**: a request body that stalls (no byte for ``http_read_timeout`` seconds
  while we are waiting to read it) gets the connection closed.

Between requests uvicorn's own keep-alive timeout closes an idle connection, and beyond
``limit_concurrency`` uvicorn answers 503.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from api.settings import get_settings


def _close_with(status: bytes, text: bytes) -> bytes:
    return (
        b"HTTP/1.1 %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (status, len(text), text)
    )


TIMED_OUT = _close_with(b"408 Request Timeout", b"the request headers did not arrive in time\n")
TOO_LARGE = _close_with(
    b"431 Request Header Fields Too Large", b"the request line and headers are too large\n"
)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        settings = get_settings()
        self._max_header_bytes = settings.http_max_header_bytes
        self._header_timeout = settings.http_header_timeout
        self._read_timeout = settings.http_read_timeout
        # Between a request's end (or the connection's start) and its successor's headers' end.
        self._reading_headers = True
        self._header_bytes = 0  # of the request line and headers now being read
        self._heads = 0  # header blocks parsed on this connection
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting_for: str | None = None  # "headers" or "body"

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch()

    def data_received(self, data: bytes) -> None:
        if self._reading_headers:
            room = self._max_header_bytes - self._header_bytes
            if len(data) > room:
                # Feed only what may still be headers: if they do not end in it, they are too
                # large, and the parser never holds more than the cap of them.
                heads = self._heads
                super().data_received(data[:room])
                if self.transport.is_closing():
                    return  # the parser refused it (400)
                if self._heads == heads:
                    self._refuse_oversized()
                    return
                data = data[room:]
            else:
                self._header_bytes += len(data)
        super().data_received(data)
        self._watch()

    def on_headers_complete(self) -> None:
        self._heads += 1
        self._reading_headers = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # Bytes of the next request that came in the same read are not counted: a read is at
        # most 256 KB, so the bound holds within that.
        self._reading_headers = True
        self._header_bytes = 0

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        super().connection_lost(exc)

    def _refuse_oversized(self) -> None:
        self.logger.warning("Request headers larger than %d bytes refused.", self._max_header_bytes)
        self._cancel()
        self.transport.write(TOO_LARGE)
        self.transport.close()

    def _watch(self) -> None:
        """Arm, keep or drop the deadline for what the connection now waits for."""
        if self.transport.is_closing():
            self._cancel()
        elif not self._reading_headers:
            self._arm("body", self._read_timeout)  # an idle timer: every byte resets it
        elif self.timeout_keep_alive_task is None and (
            self.cycle is None or self.cycle.response_complete
        ):
            if self._waiting_for != "headers":  # a deadline: never pushed back by new bytes
                self._arm("headers", self._header_timeout)
        else:
            self._cancel()  # idle between requests (keep-alive's), or the app is answering

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
        if self._waiting_for == "body" and (
            self.flow.read_paused or self.cycle.waiting_for_100_continue
        ):
            # We stopped reading (the app has not taken what came), or the client waits for our
            # 100 Continue (sent when the app first reads): not the client's delay.
            self._arm("body", self._read_timeout)
            return
        if self._waiting_for == "headers":
            self.transport.write(TIMED_OUT)
        self._waiting_for = None
        self.transport.close()
