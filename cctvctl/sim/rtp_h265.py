"""H.265 over RTP (RFC 7798): NAL units as single-NAL packets or fragmentation units.

The simulator sends what most cameras send: a NAL unit that fits one packet goes as it is
(its own two-byte header is the payload header), a larger one is cut into FUs (type 49).
Aggregation packets are not used; parameter sets go in the SDP (sprop-vps/sps/pps) and
in-band before every IDR, each in its own packet.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence

__all__ = ["NAL_PPS", "NAL_SPS", "NAL_VPS", "fmtp", "nal_type", "packetize"]

#: Largest RTP payload sent: under a 1500-byte Ethernet MTU with IP, UDP and RTP headers.
MAX_PAYLOAD = 1200
NAL_VPS, NAL_SPS, NAL_PPS = 32, 33, 34
_FU_TYPE = 49


def nal_type(nal: bytes) -> int:
    return (nal[0] >> 1) & 0x3F


def _fragments(nal: bytes, size: int) -> Iterable[bytes]:
    # Payload header: the NAL's own, type replaced by 49 (F bit and layer/TID kept).
    header = bytes(((nal[0] & 0x81) | (_FU_TYPE << 1), nal[1]))
    kind = nal_type(nal)
    body = memoryview(nal)[2:]
    chunk = size - 3  # payload header + FU header
    for start in range(0, len(body), chunk):
        first = start == 0
        last = start + chunk >= len(body)
        fu = (0x80 if first else 0) | (0x40 if last else 0) | kind
        yield header + bytes((fu,)) + bytes(body[start : start + chunk])


def packetize(nals: Iterable[bytes], size: int = MAX_PAYLOAD) -> tuple[bytes, ...]:
    """RTP payloads for one access unit's NAL units, in send order."""
    out: list[bytes] = []
    for nal in nals:
        if len(nal) < 3:
            continue
        if len(nal) <= size:
            out.append(bytes(nal))
        else:
            out.extend(_fragments(nal, size))
    return tuple(out)


def fmtp(vps: bytes, sps: bytes, pps: bytes) -> str:
    """The SDP ``a=fmtp`` parameters that carry the parameter sets out of band."""
    sets: Sequence[tuple[str, bytes]] = (("vps", vps), ("sps", sps), ("pps", pps))
    return ";".join(f"sprop-{name}={base64.b64encode(nal).decode('ascii')}" for name, nal in sets)
