"""A minimal HTTP/1.1 server on asyncio for the simulator's ONVIF and fault-control endpoints.

The simulator opens one listener per camera for ONVIF (ONVIF clients assume the device service
sits at a fixed path on the device's own port), so a full ASGI stack per port would cost far
more than this does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 4 * 1024 * 1024

REASONS = {
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    422: "Unprocessable Content",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-cased names
    body: bytes


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Awaitable[Response | None]]
"""Returns a response, or None to close the connection without answering."""


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None
    if len(head) > MAX_HEADER_BYTES:
        return None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        return None
    method, target, _version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    if length < 0 or length > MAX_BODY_BYTES:
        return None
    body = await reader.readexactly(length) if length else b""
    path, _, query = target.partition("?")
    return Request(method.upper(), path, query, headers, body)


def _encode(resp: Response, keep_alive: bool) -> bytes:
    reason = REASONS.get(resp.status, "Status")
    head = [f"HTTP/1.1 {resp.status} {reason}", f"Content-Length: {len(resp.body)}"]
    if resp.body or resp.status not in (204,):
        head.append(f"Content-Type: {resp.content_type}")
    head.extend(f"{k}: {v}" for k, v in resp.headers.items())
    head.append("Connection: keep-alive" if keep_alive else "Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + resp.body


async def serve_connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handler: Handler
) -> None:
    try:
        while True:
            try:
                req = await _read_request(reader)
            except (asyncio.IncompleteReadError, ConnectionError, ValueError):
                return
            if req is None:
                return
            try:
                resp = await handler(req)
            except Exception as exc:  # a bug in a handler must not take the listener down
                resp = Response(500, f"internal error: {exc}".encode())
            if resp is None:
                return
            keep_alive = req.headers.get("connection", "").lower() != "close"
            writer.write(_encode(resp, keep_alive))
            await writer.drain()
            if not keep_alive:
                return
    except ConnectionError:
        return
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def start_http_server(host: str, port: int, handler: Handler) -> asyncio.Server:
    """Listen on ``host:port`` and answer every request with ``handler``."""

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve_connection(reader, writer, handler)

    return await asyncio.start_server(on_connect, host, port, reuse_address=True)
