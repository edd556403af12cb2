"""A TCP relay on loopback that can go quiet: a link that died without a word.

Everything sent through it is forwarded until :meth:`TcpRelay.freeze`; from then on the
bytes are held and nothing comes back, while both TCP connections stay open (the relay's
kernel still answers keepalive probes), so a client waiting for an answer waits for ever:
what a store behind a dead VPN or a hung router looks like to a node, and what no
shutdown of PostgreSQL can show (its connections end with a reset).

``rate`` makes it a thin link: each connection's upload (client to target) is paced to
that many bytes a second, so a request's body stays in flight long enough to be cut; and
:meth:`TcpRelay.in_flight` counts the connections whose client spoke last (a request
sent or being sent, no answer yet). When the target closes a connection, the relay closes
the client's side too: a store that goes down resets what was in flight.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType
from typing import Self

from harness import free_port

__all__ = ["TcpRelay"]


class TcpRelay:
    """Listens on 127.0.0.1:``port`` and forwards each connection to ``target``."""

    def __init__(self, target: tuple[str, int], *, rate: float = 0.0) -> None:
        self.target = target
        self.rate = rate
        self._asking: dict[socket.socket, bool] = {}
        self.port = free_port()
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._server.settimeout(0.2)
        threading.Thread(target=self._accept, name="relay-accept", daemon=True).start()

    def freeze(self) -> None:
        """Hold every byte from now on, in both directions, keeping the connections open."""
        self._flowing.clear()

    def thaw(self) -> None:
        """Let the held bytes go on, and every byte after them: the link came back."""
        self._flowing.set()

    def in_flight(self) -> int:
        """Connections whose client sent bytes the target has not answered yet."""
        with self._lock:
            return sum(self._asking.values())

    def close(self) -> None:
        self._closed.set()
        self._flowing.set()  # let the held pumps run into the closed sockets and end
        self._server.close()
        with self._lock:
            for sock in self._sockets:
                sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            for src, dst, up in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(
                    target=self._pump, args=(src, dst, client, up), daemon=True
                ).start()

    def _pump(self, src: socket.socket, dst: socket.socket, pair: socket.socket, up: bool) -> None:
        # Small reads when paced, so the pace is even and a cut finds the body half sent.
        size = 65536 if not (up and self.rate) else max(1024, min(65536, int(self.rate / 20)))
        try:
            while True:
                data = src.recv(size)
                if not data:
                    break
                self._flowing.wait()
                if self._closed.is_set():
                    break
                with self._lock:
                    self._asking[pair] = up
                if up and self.rate:
                    time.sleep(len(data) / self.rate)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._asking.pop(pair, None)
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
