"""A picture of the past: the keyframe at or before a moment, from a recorded segment.

A segment is demuxed (no decoding) up to the moment; only the last keyframe before it
is decoded, as the live thumbnail decodes only the newest one. Segments are a minute
long, so reading their packets costs little beside a decode; it avoids relying on
seeking in fragmented MP4, whose index a crash-cut or archived file may lack, and lets
the segment still being written be read up to its last whole fragment.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import av

from cctvctl.recorder.thumbnails import Thumbnail, ThumbnailError, fit_size, render

__all__ = ["past_thumbnail"]


def _keyframe_before(path: Path, offset: float) -> tuple[Any, float]:
    """The decoded keyframe at or before ``offset`` seconds into the file, and its offset."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            tb = stream.time_base
            if tb is None:
                raise ThumbnailError(f"{path.name} has no video time base")
            chosen: Any = None
            first: int | None = None
            try:
                for packet in container.demux(stream):
                    if packet.pts is None:
                        continue
                    if first is None:
                        first = packet.pts
                    at = float((packet.pts - first) * tb)
                    if at > offset and chosen is not None:
                        break
                    if packet.is_keyframe:
                        chosen = (packet, at)
            except av.FFmpegError:
                # The segment being written ends in a fragment not yet whole: the last
                # whole keyframe before it is the answer.
                if chosen is None:
                    raise
            if chosen is None:
                raise ThumbnailError(f"{path.name} holds no keyframe")
            packet, at = chosen
            frames = list(stream.codec_context.decode(packet))
            if not frames:
                frames = list(stream.codec_context.decode(None))
    except av.FFmpegError as exc:
        raise ThumbnailError(f"cannot read the recorded segment: {exc}") from None
    if not frames:
        raise ThumbnailError("the recorded keyframe decoded to no picture")
    return frames[-1], at


def past_thumbnail(
    path: Path,
    segment_start: datetime,
    at: datetime,
    width: int | None,
    height: int | None,
    fmt: str,
) -> Thumbnail:
    """The keyframe of the segment file ``path`` (which began at ``segment_start``) at or
    before ``at``, scaled and encoded as the live thumbnail is; its ``frame_time`` is when
    that keyframe was recorded.

    Raises ValueError for a bad size and :class:`ThumbnailError` for a file that cannot be
    read or decoded.
    """
    offset = max(0.0, (at - segment_start).total_seconds())
    frame, frame_offset = _keyframe_before(path, offset)
    w, h = fit_size(frame.width, frame.height, width, height)
    return render(frame, w, h, fmt, segment_start + timedelta(seconds=frame_offset))
