"""A keyframe's in-band parameter sets, and the picture size they describe.

When someone switches a camera's resolution, a new SPS/PPS arrives in band with the next
IDR; the SDP the recorder read at connect is stale. An fMP4 file has one init (its ``avcC``
or ``hvcC`` box): frames of the new size in a file initialised for the old one freeze or
break players. So the segmenter compares each keyframe's parameter sets with the ones its
file was made with, and on a change closes the file and starts a new one initialised from
the new sets (:mod:`cctvctl.recorder.segmenter`).

Only the prefix of the access unit before its first picture data is scanned, where
encoders put parameter sets, so a keyframe costs a few dozen bytes of scanning.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["parameter_sets", "picture_size"]

_START: Final = b"\x00\x00\x01"

# (is a parameter set, is picture data) by NAL unit type, per codec.
_H264_SETS: Final = frozenset({7, 8})  # SPS, PPS
_HEVC_SETS: Final = frozenset({32, 33, 34})  # VPS, SPS, PPS


def _nal_type(codec: str, header: int) -> int:
    return (header >> 1) & 0x3F if codec == "hevc" else header & 0x1F


def _is_picture(codec: str, kind: int) -> bool:
    return kind < 32 if codec == "hevc" else 1 <= kind <= 5


def parameter_sets(data: bytes, codec: str) -> bytes | None:
    """The parameter-set NAL units at the head of an Annex B access unit, each behind a
    4-byte start code; None when it has none (or the codec is not H.264/H.265)."""
    if codec not in ("h264", "hevc"):
        return None
    sets = _H264_SETS if codec == "h264" else _HEVC_SETS
    found: list[bytes] = []
    pos = data.find(_START)
    while pos >= 0 and pos + 3 < len(data):
        begin = pos + 3
        kind = _nal_type(codec, data[begin])
        if _is_picture(codec, kind):
            break
        nxt = data.find(_START, begin)
        end = len(data) if nxt < 0 else nxt
        if kind in sets:
            # A 4-byte start code's leading zero belongs to no NAL unit.
            nal = data[begin:end].rstrip(b"\x00") if nxt >= 0 else data[begin:end]
            found.append(b"\x00\x00\x00\x01" + nal)
        pos = nxt
    return b"".join(found) or None


def picture_size(data: bytes, codec: str) -> tuple[int, int] | None:
    """Width and height of a keyframe that carries its parameter sets, by decoding it
    (done once per change of parameter sets, so its cost does not matter)."""
    import av

    try:
        ctx: Any = av.CodecContext.create(codec, "r")
        frames = ctx.decode(av.Packet(data))
        frames += ctx.decode(None)
    except Exception:  # a damaged keyframe: the caller keeps the size it had
        return None
    return (frames[0].width, frames[0].height) if frames else None
