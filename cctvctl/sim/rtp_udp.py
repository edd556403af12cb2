"""RTP over UDP (RTP/AVP unicast) for the simulator: a pair of sockets per track.

A client names its ports (``client_port=a-b``); the server answers from an even port and
the odd one above it (RTCP), since libavformat sends RTCP and NAT punches to the port
after the RTP one. Sends are non-blocking: a full socket buffer drops the packet, as the
network would.
"""

from __future__ import annotations

import contextlib
import socket

__all__ = ["UdpPair", "client_ports"]

_TRIES = 64


def client_ports(spec: str) -> tuple[int, int] | None:
    """``client_port=a-b`` of a ``Transport`` header entry for RTP/AVP(/UDP), or None."""
    params = [p.strip() for p in spec.split(";")]
    if params[0].upper() not in ("RTP/AVP", "RTP/AVP/UDP"):
        return None
    for p in params[1:]:
        name, _, value = p.partition("=")
        if name.lower() == "client_port":
            low, _, high = value.partition("-")
            if low.isdigit() and 0 < int(low) < 65536:
                rtcp = int(high) if high.isdigit() else int(low) + 1
                return int(low), rtcp
    return None


class UdpPair:
    """The server's RTP and RTCP sockets for one track of one session."""

    def __init__(self, host: str, client_host: str, client_rtp: int) -> None:
        self.client = (client_host, client_rtp)
        self.rtp, self.rtcp = _bind_pair(host)
        self.port = self.rtp.getsockname()[1]

    def send(self, data: bytes) -> None:
        with contextlib.suppress(BlockingIOError, InterruptedError, ConnectionRefusedError):
            self.rtp.sendto(data, self.client)

    def close(self) -> None:
        self.rtp.close()
        self.rtcp.close()


def _bind_pair(host: str) -> tuple[socket.socket, socket.socket]:
    for _ in range(_TRIES):
        rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtp.bind((host, 0))
        port = rtp.getsockname()[1]
        if port % 2 or port >= 65535:
            rtp.close()
            continue
        rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            rtcp.bind((host, port + 1))
        except OSError:
            rtp.close()
            rtcp.close()
            continue
        rtp.setblocking(False)
        rtcp.setblocking(False)
        return rtp, rtcp
    raise OSError("no pair of free UDP ports for RTP")
