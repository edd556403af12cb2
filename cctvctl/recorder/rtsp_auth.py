"""Which authentication a camera asks for, and whether Basic may be answered.

Basic sends the password readable (base64) on every request. Many cheap cameras only
speak Basic, so the recorder answers it, but only where the path is ours: a loopback or
private address (RFC 1918, IPv6 ULA). To a public address it is refused with a reason,
before libavformat (which answers any challenge it gets) could send the password.

The question is one credential-less ``DESCRIBE``: its 401 names the schemes offered.
libavformat prefers Digest when both are offered, so only a camera offering Basic alone
is a Basic camera.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from typing import Final
from urllib.parse import urlsplit, urlunsplit

from cctvctl.recorder.rtt import rtsp_target

__all__ = ["BASIC_REFUSED", "is_private_host", "offered_schemes"]

BASIC_REFUSED: Final = (
    "the camera asks for Basic auth (the password readable on the wire) and {host} is a "
    "public address; Basic is accepted only on loopback or private (RFC 1918, ULA) "
    "addresses: switch the camera to Digest or reach it over a private link"
)

_PRIVATE: Final = tuple(
    ipaddress.ip_network(n)
    for n in (
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "::1/128",
        "fc00::/7",
    )
)


def _private_ip(text: str) -> bool:
    ip = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in _PRIVATE)


def is_private_host(host: str) -> bool:
    """True if every address ``host`` names is loopback or private (RFC 1918, ULA).

    A name is resolved; one that does not resolve is not private (nothing to trust).
    """
    try:
        return _private_ip(host)
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    addresses = {str(info[4][0]) for info in infos}
    return bool(addresses) and all(_private_ip(a) for a in addresses)


def _describe_request(url: str) -> bytes:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    bare = urlunsplit((parts.scheme, host, parts.path or "/", parts.query, ""))
    return (
        f"DESCRIBE {bare} RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n"
        "User-Agent: cctvctl\r\n\r\n"
    ).encode()


def offered_schemes(url: str, timeout: float) -> set[str] | None:
    """The auth schemes (lower case) a credential-less DESCRIBE is challenged with.

    An empty set: the camera answered without asking for credentials. None: no answer
    that could be read (the caller lets the real connection find out what is wrong).
    """
    target = rtsp_target(url)
    if target is None or urlsplit(url).scheme != "rtsp":
        return None
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection(target, timeout=timeout) as sock:
            sock.sendall(_describe_request(url))
            received = b""
            while b"\r\n\r\n" not in received and len(received) < 16384:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                sock.settimeout(left)
                chunk = sock.recv(4096)
                if not chunk:
                    break
                received += chunk
    except OSError:
        return None
    head = received.partition(b"\r\n\r\n")[0].decode("latin-1")
    lines = head.split("\r\n")
    if not lines or not lines[0].startswith("RTSP/"):
        return None
    schemes: set[str] = set()
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "www-authenticate" and value.strip():
            schemes.add(value.strip().split(None, 1)[0].lower())
    return schemes
