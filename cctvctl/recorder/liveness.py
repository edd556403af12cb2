"""Is a camera there at all? A cheap probe for an ingest thread that lost its camera.

Back-off protects a camera whose RTSP service is broken (wrong password, wrong path, a
stream that stalls) from being hammered, but it also delays recording by up to the cap
once a camera that was simply gone comes back. So after a failure the ingest thread
asks the device whether it answers. If it does, the failure is the stream's and the
back-off applies; if it does not, the camera is down, and the thread probes it every
couple of seconds and reconnects the moment it answers.

For ``rtsp://`` the probe is an ``OPTIONS`` request without credentials: one TCP
handshake and one short exchange, answered by every RTSP server (a 401 or 404 is an
answer too). A bare TCP connect is not enough there: an encoder or NVR serves several
cameras on one port and keeps accepting connections while one of its cameras is dark,
and the simulator does the same. Other schemes (``rtsps://``) get a TCP connect, as in
:mod:`cctvctl.recorder.rtt`.
"""

from __future__ import annotations

import socket
import time
from typing import Final
from urllib.parse import urlsplit, urlunsplit

from cctvctl.recorder.rtt import rtsp_target

__all__ = ["camera_answers", "options_request"]

# An answer starts with the protocol name; nothing more of it is read.
_ANSWER: Final = b"RTSP/"


def options_request(url: str) -> bytes:
    """An RTSP ``OPTIONS`` request for ``url``, with any user-info removed."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    bare = urlunsplit((parts.scheme, host, parts.path or "/", parts.query, ""))
    return f"OPTIONS {bare} RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: cctvctl\r\n\r\n".encode()


def camera_answers(url: str, timeout: float) -> bool:
    """True if the device behind ``url`` answers within ``timeout`` seconds.

    A URL whose address cannot be read counts as answering: then the caller cannot tell,
    and its back-off decides.
    """
    target = rtsp_target(url)
    if target is None:
        return True
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection(target, timeout=timeout) as sock:
            if urlsplit(url).scheme != "rtsp":
                return True
            sock.sendall(options_request(url))
            received = b""
            while len(received) < len(_ANSWER):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                sock.settimeout(left)
                chunk = sock.recv(64)
                if not chunk:
                    return False  # closed without an answer: what a dark camera does
                received += chunk
            return received.startswith(_ANSWER)
    except OSError:  # refused, unreachable, reset, timed out
        return False
