"""A deadline for a request's line and headers, on uvicorn's HTTP/1.1 (h11) protocol.

uvicorn closes an idle keep-alive connection only after it has answered a request on it;
a connection that opens and never finishes its request line and headers (slow-loris) is
held for ever, each one a file descriptor and a slot of ``limit_concurrency`` that no
token was needed to take. An ASGI middleware cannot help: the application is only called
once the headers are complete. So the guard sits in the protocol: from the moment a
connection opens, or the first byte of a further request on a kept-alive one, the client
has ``header_timeout`` seconds to finish the headers, or it gets a 408 and is closed.
"""

from __future__ import annotations

import asyncio
import json
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["HeaderDeadlineProtocol", "header_deadline_protocol", "timeout_response"]

log = logging.getLogger(__name__)


def timeout_response(seconds: float) -> bytes:
    """The raw 408 sent before closing: h11 cannot send it, no request having arrived."""
    body = json.dumps(
        {
            "type": "about:blank",
            "title": "Request Timeout",
            "status": 408,
            "detail": f"the request line and headers did not arrive within {seconds:g} s",
        }
    ).encode()
    head = (
        "HTTP/1.1 408 Request Timeout\r\n"
        "content-type: application/problem+json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    ).encode()
    return head + body


class HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for every request's headers."""

    header_timeout: float = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._header_deadline: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._watch_headers()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def _watch_headers(self) -> None:
        # IDLE: h11 has not parsed a whole request head yet. Once a request is running
        # or answered, uvicorn's own keep-alive timer watches the connection instead.
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            if self._header_deadline is None:
                self._header_deadline = self.loop.call_later(
                    self.header_timeout, self._headers_late
                )
        else:
            self._cancel_deadline()

    def _cancel_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_late(self) -> None:
        self._header_deadline = None
        if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
            return
        log.debug("closing %s: no complete request head in %g s", self.client, self.header_timeout)
        self.transport.write(timeout_response(self.header_timeout))
        self.transport.close()


def header_deadline_protocol(header_timeout: float) -> type[HeaderDeadlineProtocol]:
    """The protocol class to give uvicorn (it instantiates it per connection)."""
    return type(
        "HeaderDeadlineProtocol",
        (HeaderDeadlineProtocol,),
        {"header_timeout": header_timeout},
    )
