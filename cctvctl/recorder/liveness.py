"""Is a camera there at all? A cheap probe for an ingest thread that lost its camera.

Back-off protects a camera whose RTSP service is broken (wrong password, wrong path, a
stream that stalls) from being hammered, but it also delays recording by up to the cap
once a camera that was simply gone comes back. So after a failure the ingest thread
asks the device how it is (:func:`probe`):

- it answers: the failure is the stream's, and the back-off applies;
- it takes the connection but stays silent: a hung RTSP service, backed off as well, so
  probes do not pile up connections on a device that cannot serve them;
- it is gone (refused, unreachable, or it closes the connection unanswered, as a dark
  encoder channel does): the thread probes it every so often and reconnects the moment
  it is back.

For ``rtsp://`` the probe is an ``OPTIONS`` request without credentials: one TCP
handshake and one short exchange, answered by every RTSP server (a 401 or 404 is an
answer too). A bare TCP connect is not enough there: an encoder or NVR serves several
cameras on one port and keeps accepting connections while one of its cameras is dark,
and the simulator does the same. Other schemes (``rtsps://``) get a TCP connect, as in
:mod:`cctvctl.recorder.rtt`.
"""

from __future__ import annotations

import enum
import socket
import time
from typing import Final
from urllib.parse import urlsplit, urlunsplit

from cctvctl.models import OfflineCause
from cctvctl.recorder.rtt import rtsp_target

__all__ = ["Presence", "options_request", "probe", "probe_cause"]

# An answer starts with the protocol name; nothing more of it is read.
_ANSWER: Final = b"RTSP/"


class Presence(enum.Enum):
    ANSWERS = "answers"
    SILENT = "silent"  # took the connection, no answer in time
    GONE = "gone"  # refused, unreachable, or closed without an answer


def options_request(url: str) -> bytes:
    """An RTSP ``OPTIONS`` request for ``url``, with any user-info removed."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    bare = urlunsplit((parts.scheme, host, parts.path or "/", parts.query, ""))
    return f"OPTIONS {bare} RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: cctvctl\r\n\r\n".encode()


def probe(url: str, timeout: float) -> Presence:
    """How the device behind ``url`` responds within ``timeout`` seconds.

    A URL whose address cannot be read counts as answering: then the caller cannot tell,
    and its back-off decides.
    """
    return probe_cause(url, timeout)[0]


def probe_cause(url: str, timeout: float) -> tuple[Presence, OfflineCause | None]:
    """:func:`probe`, with the cause when the device is gone: refused, or no answer."""
    target = rtsp_target(url)
    if target is None:
        return Presence.ANSWERS, None
    gone = Presence.GONE, OfflineCause.NO_ANSWER
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection(target, timeout=timeout)
    except ConnectionRefusedError:
        return Presence.GONE, OfflineCause.REFUSED
    except OSError:  # unreachable, no handshake in time
        return gone
    with sock:
        if urlsplit(url).scheme != "rtsp":
            return Presence.ANSWERS, None
        received = b""
        try:
            sock.sendall(options_request(url))
            while len(received) < len(_ANSWER):
                left = deadline - time.monotonic()
                if left <= 0:
                    return Presence.SILENT, None
                sock.settimeout(left)
                chunk = sock.recv(64)
                if not chunk:
                    return gone  # closed unanswered: what a dark camera does
                received += chunk
        except TimeoutError:
            return Presence.SILENT, None
        except OSError:  # reset
            return gone
    return (Presence.ANSWERS if received.startswith(_ANSWER) else Presence.SILENT), None
