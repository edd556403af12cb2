"""Connection guards of a real `cctvctl server`: slow-loris clients are cut off, nobody else.

Half-open connections are raw sockets that send part of a request line or header and
then nothing; no token is needed to open them. The time-outs are kept small through the
``[server]`` settings, so nothing here waits the production defaults.
"""

from __future__ import annotations

import selectors
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime

from harness import Live, ServerProcess, Site, SiteSpec, wait_for

HEADER_TIMEOUT = 2.0
HALF_OPEN = 200
# How long past the time-out a closed socket may take to be seen, on a loaded CI box.
SLACK = 20.0
PARTIALS = (
    b"GET / HTTP/1.1\r\n",  # the request line, then nothing
    b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ",  # half a header
    b"GE",  # half a request line
    b"",  # connected, said nothing
)


@contextmanager
def half_open(port: int, count: int) -> Iterator[list[socket.socket]]:
    with ExitStack() as stack:
        socks = []
        for n in range(count):
            sock = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=10))
            payload = PARTIALS[n % len(PARTIALS)]
            if payload:
                sock.sendall(payload)
            socks.append(sock)
        yield socks


def read_until_closed(
    socks: list[socket.socket], timeout: float
) -> tuple[dict[socket.socket, bytes], dict[socket.socket, float]]:
    """What each socket received, and when (monotonic) the server closed it, if it did."""
    received = {s: b"" for s in socks}
    closed: dict[socket.socket, float] = {}
    with selectors.DefaultSelector() as sel:
        for sock in socks:
            sock.setblocking(False)
            sel.register(sock, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while len(closed) < len(socks) and (left := deadline - time.monotonic()) > 0:
            for key, _ in sel.select(left):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                if chunk:
                    received[sock] += chunk
                else:
                    closed[sock] = time.monotonic()
                    sel.unregister(sock)
    return received, closed


def last_packets(server: ServerProcess) -> dict[str, datetime]:
    cams = server.get("/api/v1/cameras").json()
    return {
        c["id"]: datetime.fromisoformat(c["last_packet"])
        for c in cams
        if c["status"] == "online" and c["last_packet"]
    }


def start(live_factory: Callable[..., Live], *lines: str) -> tuple[Site, ServerProcess]:
    live = live_factory(SiteSpec(cameras=2, segment_seconds=2, server_lines=lines))
    site, server = live.site, live.server
    wait_for(lambda: len(last_packets(server)) == len(site.camera_ids), 30, what="cameras online")
    return site, server


def test_half_open_connections_are_closed_while_recording_and_api_go_on(
    live_factory: Callable[..., Live],
) -> None:
    site, server = start(live_factory, f"header_timeout = {HEADER_TIMEOUT}")
    before = last_packets(server)
    with half_open(server.port, HALF_OPEN) as socks:
        opened = time.monotonic()
        # Meanwhile a console works as usual: health, an event stream, the camera list.
        assert server.get("/healthz", role=None).status_code == 200
        with server.events() as stream:
            assert stream.status == 200
        received, closed = read_until_closed(socks, HEADER_TIMEOUT + SLACK)

    assert len(closed) == HALF_OPEN, (
        f"{HALF_OPEN - len(closed)} of {HALF_OPEN} half-open connections still open "
        f"{HEADER_TIMEOUT + SLACK:.0f} s after they stalled"
    )
    # Closed by the deadline, not at once (socks were opened before `opened`).
    assert min(closed.values()) >= opened - 0.5 + HEADER_TIMEOUT - 1.0
    for reply in received.values():
        assert reply.startswith(b"HTTP/1.1 408 "), reply[:80]
        assert b"application/problem+json" in reply
        assert b"did not arrive within 2 s" in reply
    # Recording went on: every camera still online with packets newer than before.
    after = last_packets(server)
    assert set(after) == set(site.camera_ids)
    assert all(after[cam] > before[cam] for cam in site.camera_ids), (before, after)
    assert server.get("/healthz", role=None).status_code == 200


def test_a_kept_alive_connection_gets_the_same_deadline_and_idles_out(
    live_factory: Callable[..., Live],
) -> None:
    _, server = start(live_factory, f"header_timeout = {HEADER_TIMEOUT}", "keep_alive_timeout = 1")
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as slow,
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as idle,
    ):
        for sock in (slow, idle):
            sock.sendall(request)
            first = sock.recv(65536)
            assert first.startswith(b"HTTP/1.1 200 "), first[:80]
        # A second request on the same connection that never finishes its headers.
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        received, closed = read_until_closed([slow, idle], HEADER_TIMEOUT + SLACK)
    assert set(closed) == {slow, idle}
    # (the first reply's body may come after the recv above)
    assert b"HTTP/1.1 408 " in received[slow], received[slow][:200]
    assert b"HTTP/1.1" not in received[idle]  # an idle keep-alive connection just ends


def test_connections_beyond_the_cap_get_503_until_the_stalled_ones_time_out(
    live_factory: Callable[..., Live],
) -> None:
    _, server = start(live_factory, f"header_timeout = {HEADER_TIMEOUT}", "max_connections = 10")
    with half_open(server.port, 10) as socks:
        refused = server.get("/healthz", role=None)
        assert refused.status_code == 503
        read_until_closed(socks, HEADER_TIMEOUT + SLACK)
        assert server.get("/healthz", role=None).status_code == 200
