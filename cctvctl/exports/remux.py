"""The stream copy: closed fMP4 segments of one camera -> one progressive MP4.

An export turns the fMP4 segments of one camera over a window into ONE progressive MP4
(``+faststart``: the index sits in front, which the players police use need), without
decoding a frame. :func:`remux_clip` is that media work and nothing else; the job queue
(:mod:`cctvctl.exports.queue`) decides what to copy and when.

Decisions, in one place:

* Timeline. Clip time 0 is the first frame (the keyframe at or before the requested
  start) and every frame keeps its real offset from it, so a gap in the footage is a gap
  in the timestamps (players hold the last frame). Closing gaps would make "12 s into
  the clip" mean nothing in wall-clock terms, which is exactly what an investigator
  needs to read off; the manifest lists the gaps as wall-clock intervals besides.
* Gaps are measured from the frames actually copied (a hole of at least
  :data:`GAP_TOLERANCE` between one frame's end and the next frame), not only from the
  index, so a pause inside one segment is listed too. While a job is queued it shows the
  gaps the index predicts.
* The end: frames whose presentation time is before ``end`` are kept, so the last frame
  is the one showing at ``end``; later packets are dropped.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

from cctvctl.recorder.codec_tags import tag_for_players
from cctvctl.storage.database import SegmentRow, to_ts
from cctvctl.storage.gaps import DEFAULT_TOLERANCE

__all__ = ["GAP_TOLERANCE", "ClipResult", "ExportCancelled", "Source", "remux_clip"]

log = logging.getLogger(__name__)

GAP_TOLERANCE: Final = DEFAULT_TOLERANCE
_CHECK_EVERY: Final = 64  # packets between progress/cancel checks: time.monotonic() is not free


class ExportCancelled(Exception):
    """The job was cancelled (or the server is stopping) while it ran."""


@dataclass(frozen=True, slots=True)
class Source:
    """One closed segment: its file, wall-clock start (POSIX seconds) and size.

    ``until``: packets from this file decoded at or after it, or less than half a frame
    before it, are not copied. A part clip of a fleet export ends where the next node's
    part begins (its first keyframe), so two nodes' frames never interleave; the half
    frame is because at a handback both nodes recorded the frame at the seam, each
    stamping it from its own clock, and the earlier node's copy may be stamped a hair
    before the later node's: one frame, not the same instant twice.
    """

    path: Path
    start: float
    bytes: int
    until: float = math.inf

    @classmethod
    def of(cls, row: SegmentRow) -> Source:
        return cls(row.path, to_ts(row.start), row.bytes)


@dataclass(frozen=True, slots=True)
class ClipResult:
    first_frame: float  # wall time of the first frame's presentation
    last_frame: float  # wall time of the last frame's presentation
    frames: int
    gaps: list[tuple[float, float]]
    codec: str
    sources: list[Path] = field(default_factory=list)


def remux_clip(
    sources: Sequence[Source],
    start: float,
    end: float,
    out_path: Path,
    *,
    on_progress: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    gap_tolerance: float = GAP_TOLERANCE,
) -> ClipResult:
    """Copy the packets of ``sources`` between ``start`` and ``end`` into one MP4.

    ``on_progress`` gets the source bytes consumed so far; ``should_stop`` is polled and
    raises :class:`ExportCancelled` when it answers True. Raises ValueError when no frame
    falls in the window.
    """
    import av  # heavy; only the export worker and the benchmark need it

    out = av.open(str(out_path), "w", format="mp4", options={"movflags": "+faststart"})
    try:
        result = _copy(av, sources, start, end, out, on_progress, should_stop, gap_tolerance)
    except BaseException:
        with contextlib.suppress(Exception):
            out.close()
        raise
    # Closing writes the moov and, for +faststart, rewrites the file with it in front.
    out.close()
    return result


class _SoundCopy:
    """The segments' kept audio (AAC), copied beside the video on the clip's timeline.

    The track exists when the first segment copied has one (a muxer cannot add a track
    once writing began); segments without sound leave silence. Packets before the clip's
    first frame wait until it is known (the held GOP), then keep their wall-clock offset
    from it; packets at or after the window's end are left out.
    """

    def __init__(self, out: Any) -> None:
        self._out = out
        self._ost: Any = None
        self._tb: Fraction | None = None
        self._origin_wall: float | None = None
        self._held: list[tuple[Any, float]] = []
        self._last = -1
        self.packets = 0

    def add_track(self, inp: Any) -> None:
        if inp.streams.audio:
            self._ost = self._out.add_stream_from_template(inp.streams.audio[0], opaque=True)
            self._tb = Fraction(inp.streams.audio[0].time_base)

    def source(self, inp: Any) -> tuple[Any, ...]:
        """The input's audio stream to demux with the video, if the clip has a track."""
        if self._ost is None or not inp.streams.audio:
            return ()
        stream = inp.streams.audio[0]
        same = stream.codec_context.name == self._ost.codec_context.name
        return (stream,) if same and Fraction(stream.time_base) == self._tb else ()

    def begin(self, first_wall: float) -> None:
        """The clip's first frame (clip time 0) is out; it shows at ``first_wall``."""
        self._origin_wall = first_wall
        held, self._held = self._held, []
        for pkt, wall in held:
            self._mux(pkt, wall)

    def packet(self, pkt: Any, seg_start: float, end: float) -> None:
        if pkt.pts is None or not pkt.size or self._tb is None:
            return
        wall = seg_start + float(pkt.pts * self._tb)
        if wall >= end:
            return
        if self._origin_wall is None:
            self._held.append((pkt, wall))
            return
        self._mux(pkt, wall)

    def _mux(self, pkt: Any, wall: float) -> None:
        assert self._origin_wall is not None and self._tb is not None
        pts = round((wall - self._origin_wall) / self._tb)
        if pts < 0 or pts <= self._last:
            return  # before the clip's first frame, or overlapping the previous packet
        pkt.pts = pkt.dts = pts
        pkt.time_base = self._tb
        pkt.stream = self._ost
        self._out.mux_one(pkt)
        self._last = pts
        self.packets += 1


def _copy(
    av: Any,
    sources: Sequence[Source],
    start: float,
    end: float,
    out: Any,
    on_progress: Callable[[int], None] | None,
    should_stop: Callable[[], bool] | None,
    gap_tolerance: float,
) -> ClipResult:
    ost: Any = None
    tb0: Fraction | None = None
    origin: int | None = None  # global tick of the clip's first packet (its dts)
    last_out_dts = -1
    pending: list[tuple[Any, int, int, float, float]] = []  # held GOP before `start`
    started = False
    frames = 0
    first_wall: float | None = None
    last_wall = start
    covered_to = start  # wall time up to which the window is covered by copied frames
    gaps: list[tuple[float, float]] = []
    used: list[Path] = []
    done_bytes = 0
    codec = ""
    counter = 0
    sound = _SoundCopy(out)

    def emit(pkt: Any, g_dts: int, g_pts: int, wall: float, wall_end: float) -> None:
        nonlocal origin, last_out_dts, frames, first_wall, last_wall, covered_to
        if origin is None:
            origin = g_dts
            first_wall = wall
        out_dts = g_dts - origin
        if out_dts <= last_out_dts:
            # Segments are stamped to tile the timeline, but rounding can make two
            # neighbours overlap by a tick; the muxer needs strictly increasing DTS.
            out_dts = last_out_dts + 1
        out_pts = max(g_pts - origin, out_dts)
        pkt.dts = out_dts
        pkt.pts = out_pts
        pkt.time_base = tb0
        pkt.stream = ost
        out.mux_one(pkt)
        if frames == 0:
            sound.begin(wall)
        last_out_dts = out_dts
        frames += 1
        last_wall = max(last_wall, wall)
        if wall - covered_to >= gap_tolerance and wall > start:
            gaps.append((max(covered_to, start), min(wall, end)))
        covered_to = max(covered_to, wall_end)

    for src in sources:
        if should_stop is not None and should_stop():
            raise ExportCancelled
        try:
            inp = av.open(str(src.path))
        except (OSError, av.FFmpegError) as exc:
            # A segment deleted by retention or damaged on disk: the clip holds what
            # is left, and the hole shows up as a gap.
            log.warning("export: skipping unreadable segment %s: %s", src.path, exc)
            done_bytes += src.bytes
            continue
        try:
            if not inp.streams.video:
                done_bytes += src.bytes
                continue
            ist = inp.streams.video[0]
            tb = ist.time_base
            if ost is None:
                ost = out.add_stream_from_template(ist, opaque=True)
                tag_for_players(ost)
                tb0 = tb
                sound.add_track(inp)
                codec = ist.codec_context.name
            audio_in = sound.source(inp)
            assert tb0 is not None
            same_tb = tb == tb0
            seg_base = round(Fraction(src.start) / tb0)
            step_tb = float(tb)
            dts0: int | None = None
            last_dur = 0
            stop_segment = False
            used.append(src.path)
            for pkt in inp.demux(ist, *audio_in):
                if audio_in and pkt.stream_index != ist.index:
                    sound.packet(pkt, src.start, end)
                    continue
                dts = pkt.dts
                if dts is None or not pkt.size:
                    continue
                pts = pkt.pts if pkt.pts is not None else dts
                if dts0 is None:
                    dts0 = dts
                rel_dts = dts - dts0
                rel_pts = pts - dts0
                wall_dts = src.start + rel_dts * step_tb
                wall = src.start + rel_pts * step_tb
                if wall_dts >= end:
                    # DTS never decreases, so no later packet can show before `end`.
                    stop_segment = True
                    break
                dur = pkt.duration or last_dur
                if wall_dts >= src.until - dur * step_tb / 2:
                    break  # the next source takes over from here (its frame, this instant)
                counter += 1
                if counter % _CHECK_EVERY == 0:
                    if should_stop is not None and should_stop():
                        raise ExportCancelled
                    if on_progress is not None and pkt.pos is not None and pkt.pos >= 0:
                        on_progress(done_bytes + int(pkt.pos))
                if wall >= end:
                    continue
                last_dur = dur
                wall_end = wall + dur * step_tb
                if same_tb:
                    g_dts, g_pts = seg_base + rel_dts, seg_base + rel_pts
                else:
                    g_dts = seg_base + round(rel_dts * tb / tb0)
                    g_pts = seg_base + round(rel_pts * tb / tb0)
                if not started:
                    if pkt.is_keyframe and wall <= start:
                        pending = [(pkt, g_dts, g_pts, wall, wall_end)]
                        continue
                    if wall < start:
                        if pending:
                            pending.append((pkt, g_dts, g_pts, wall, wall_end))
                        continue
                    if not pending and not pkt.is_keyframe:
                        continue  # nothing decodes before a keyframe
                    started = True
                    for held in pending:
                        emit(*held)
                    pending = []
                emit(pkt, g_dts, g_pts, wall, wall_end)
            done_bytes += src.bytes
            if on_progress is not None:
                on_progress(done_bytes)
            if stop_segment:
                break
        finally:
            inp.close()

    if not started and pending:
        # The window ends before any frame at or after `start`: the held GOP is the clip.
        for held in pending:
            emit(*held)
    if origin is None or first_wall is None:
        raise ValueError("no frame of the recorded footage falls inside the window")
    if end - covered_to >= gap_tolerance:
        gaps.append((max(covered_to, start), end))
    return ClipResult(
        first_frame=first_wall,
        last_frame=last_wall,
        frames=frames,
        gaps=gaps,
        codec=codec,
        sources=used,
    )
