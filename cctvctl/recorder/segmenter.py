"""Remux demuxed video packets into fragmented MP4 segments.

One :class:`SegmentWriter` serves one camera connection. It never decodes: packets from
the input container are re-stamped and handed to the MP4 muxer, which writes a fragment
(``moof`` + ``mdat``) to disk every time a keyframe arrives, so a crash costs at most the
GOP that is still open. Files are written under their final name because start-up
recovery (``cctvctl.storage.fmp4.repair``) works on whatever partial file a crash left.

Timing model: a connection has one *corrected* timeline in input time-base ticks. It
equals the stream's DTS plus an offset that only changes when the stream's timestamps
misbehave (go backwards, or leap forward further than ``max_gap_seconds``); such a glitch
is spliced out so the muxer always sees strictly increasing DTS. Wall-clock time is an
affine map of the corrected timeline, anchored once per connection and again after a
large glitch, when the media clock can no longer be trusted to track real time, and again
whenever media time departs from the wall clock by more than ``reanchor_seconds``
(:mod:`cctvctl.recorder.media_clock`: drift, or a jump too small to splice). A packet
with no timestamp at all is placed one frame after its predecessor (or, for the very
first packet, one frame before its successor) rather than dropped.

Parameter sets: a keyframe whose in-band SPS/PPS differ from the ones the open file was
made with (a resolution switch) closes the file there, and the next file's init is made
from the new sets (:mod:`cctvctl.recorder.parameter_sets`); each record carries its size.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

import av
from av.container import OutputContainer
from av.packet import Packet
from av.stream import Stream

from cctvctl.recorder.codec_tags import tag_for_players
from cctvctl.recorder.media_clock import DEFAULT_THRESHOLD, DRIFTED, JUMPED, MediaClock, Reanchor
from cctvctl.recorder.parameter_sets import parameter_sets, picture_size
from cctvctl.storage.modes import DEFAULT_MODES, FileModes

__all__ = [
    "MUXER_OPTIONS",
    "SegmentRecord",
    "SegmentWriter",
    "WriterStats",
    "segment_dir",
]

#: Options for the MP4 muxer. ``frag_keyframe`` cuts a fragment at every keyframe and
#: ``empty_moov`` writes a sample-less ``moov`` up front, so the file is playable as soon
#: as its first fragment is on disk. ``default_base_moof`` makes each fragment's data
#: offsets relative to its own ``moof``, so a fragment can be understood without the
#: ones before it. ``flush_packets=1`` matters most: without it libavformat keeps up to
#: 256 KiB in its I/O buffer and a crash would lose several seconds rather than only the
#: open GOP. Because the muxer holds a fragment in memory until it is cut, this flush
#: issues a write only once per fragment, not once per packet.
MUXER_OPTIONS: Final[dict[str, str]] = {
    "movflags": "frag_keyframe+empty_moov+default_base_moof",
    "flush_packets": "1",
}

# Backwards steps shorter than this are treated as timestamp jitter (duplicate or
# slightly reordered DTS) and fixed in place; anything bigger means the source clock was
# reset and the wall-clock anchor must be re-established. Forward steps up to this long
# are taken as the frame interval (a 1 fps camera still counts); longer ones are pauses.
_JITTER_SECONDS: Final = 1.0

_SAFE_COMPONENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True, slots=True)
class SegmentRecord:
    """A finished segment, as handed to the ``on_segment`` callback."""

    camera_id: str
    path: Path
    start: datetime  # UTC, wall time of the first packet
    end: datetime  # UTC, wall time just past the last packet
    bytes: int  # file size on disk after closing
    frames: int
    keyframes: int  # equals the number of fragments in the file
    clean: bool  # False if the segment was abandoned after a write error
    width: int | None = None  # the picture size the segment's init describes
    height: int | None = None

    @property
    def duration(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True, slots=True)
class WriterStats:
    """Counters since the writer was created (a snapshot, safe to read from any thread)."""

    packets_in: int
    packets_written: int
    packets_dropped: int  # before the first keyframe, or without any timestamp
    bytes_written: int  # packet payload bytes handed to the muxer
    segments_closed: int
    discontinuities: int  # large timestamp jumps that forced a re-anchor and a roll
    timestamp_fixups: int  # small backwards steps repaired in place
    current_path: Path | None


def segment_dir(storage: Path, kecamatan_slug: str, camera_id: str, day: datetime) -> Path:
    """Directory holding one camera's segments for the UTC day of ``day``."""
    return storage / kecamatan_slug / camera_id / day.astimezone(UTC).strftime("%Y-%m-%d")


def _check_component(value: str, what: str) -> str:
    # Both values become directory names; refuse anything that could escape `storage`.
    if not _SAFE_COMPONENT.fullmatch(value):
        raise ValueError(f"{what} {value!r} is not a safe path component")
    return value


def _reserve(directory: Path, stem: str, modes: FileModes) -> Path:
    """Create an empty file named after ``stem`` that did not exist before.

    O_EXCL makes the check-and-create atomic, so two writers for the same camera
    (an old connection draining while a new one starts) can never share a file.
    """
    modes.make_dirs(directory)
    n = 0
    while True:
        name = f"{stem}.mp4" if n == 0 else f"{stem}-{n}.mp4"
        path = directory / name
        try:
            modes.create_empty(path)
        except FileExistsError:
            n += 1
            continue
        return path


class SegmentWriter:
    """Write one camera connection's video packets into rolling fMP4 segments.

    Not thread-safe: one writer belongs to one ingest thread. ``stats`` may be read from
    elsewhere. Packets passed to :meth:`write` are consumed: their timestamps and stream
    are rewritten for the output file, so do not reuse them afterwards (decode a packet
    for a thumbnail *before* writing it).
    """

    def __init__(
        self,
        stream: Stream,
        *,
        storage: Path | str,
        kecamatan_slug: str,
        camera_id: str,
        on_segment: Callable[[SegmentRecord], None] | None = None,
        segment_seconds: float = 60.0,
        wall_start: datetime | None = None,
        max_gap_seconds: float = 10.0,
        clock: Callable[[], float] = time.time,
        modes: FileModes = DEFAULT_MODES,
        audio: Any | None = None,
        reanchor_seconds: float | None = DEFAULT_THRESHOLD,
        on_reanchor: Callable[[Reanchor], None] | None = None,
    ) -> None:
        """Prepare a writer; no file is created until the first keyframe arrives.

        ``stream`` is the input stream the packets come from; its codec parameters are
        copied into every segment. ``wall_start`` is the wall time of the first packet
        passed to :meth:`write` (timezone-aware); when omitted, ``clock()`` is read at
        that first packet. ``clock`` returns POSIX seconds and is also used to re-anchor
        after a large timestamp jump. ``reanchor_seconds`` (None: never) is how far media
        time may depart from ``clock`` before it is re-anchored; ``on_reanchor`` hears of
        every re-anchor, jumps included.
        """
        tb = stream.time_base
        if tb is None or tb <= 0:
            raise ValueError("input stream has no usable time_base")
        if segment_seconds <= 0:
            raise ValueError("segment_seconds must be positive")
        if max_gap_seconds <= 0:
            raise ValueError("max_gap_seconds must be positive")
        if wall_start is not None and wall_start.tzinfo is None:
            raise ValueError("wall_start must be timezone-aware")

        self._src = stream
        self._src_index = stream.index
        self._storage = Path(storage)
        self._modes = modes
        self._slug = _check_component(kecamatan_slug, "kecamatan slug")
        self._camera_id = _check_component(camera_id, "camera id")
        self._on_segment = on_segment
        self._clock = clock
        self._tb = float(tb)
        self._seg_ticks = max(1, round(Fraction(segment_seconds) / tb))
        self._gap_ticks = max(1, round(Fraction(max_gap_seconds) / tb))
        self._jitter_ticks = max(1, round(Fraction(_JITTER_SECONDS) / tb))
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        # A first guess at one frame's length, replaced by the observed DTS step as soon
        # as two packets have been seen; used for splices and for packets with no duration.
        nominal = 1 / (rate * tb) if rate else Fraction(1, 25) / tb
        self._step = max(1, round(nominal))

        # Timeline state (ticks of the input time base).
        self._wall_start = wall_start.timestamp() if wall_start is not None else None
        self._last_dts: int | None = None  # raw DTS of the previous packet
        self._offset = 0  # corrected = raw + offset
        self._anchor_ticks = 0  # corrected tick that maps to _anchor_wall
        self._anchor_wall = 0.0  # POSIX seconds
        self._prev_end_wall: float | None = None
        self._force_roll = False
        self._pause_roll = False  # the forced roll follows a pause: the old file ends early
        self._media_clock = MediaClock(reanchor_seconds) if reanchor_seconds else None
        self._on_reanchor = on_reanchor
        self._tb_fraction = Fraction(tb)
        self._held: Packet[Any] | None = None  # first packet, waiting for a timestamp

        # Open segment state.
        self._out: OutputContainer | None = None
        self._ostream: Stream | None = None
        self._path: Path | None = None
        self._seg_base = 0  # corrected DTS of the segment's first packet
        self._raw_base = 0  # the same, expressed in raw DTS: seg_base - offset
        self._seg_start_wall = 0.0
        self._seg_last = 0  # corrected DTS of the last packet written
        self._seg_last_dur = 0
        self._seg_frames = 0
        self._seg_keys = 0
        self._seg_size: tuple[int, int] | None = None

        # Parameter sets (recorder/parameter_sets.py): the input's, as the SDP gave them;
        # the ones files are made with now; a change seen in band, for the next file.
        ctx: Any = stream.codec_context
        self._codec = ctx.name
        extradata = bytes(ctx.extradata) if ctx.extradata else b""
        self._template_params = extradata if extradata.startswith(b"\x00\x00") else None
        self._params = self._template_params
        self._size = (ctx.width, ctx.height) if ctx.width and ctx.height else None
        self._new_params: bytes | None = None
        self._new_size: tuple[int, int] | None = None
        self._param_changes = 0

        # Counters.
        self._packets_in = 0
        self._packets_written = 0
        self._dropped = 0
        self._bytes = 0
        self._segments = 0
        self._discontinuities = 0
        self._fixups = 0
        self._closed = False

        # Kept audio (recorder.audio.AudioOutput): a second track in every segment, timed
        # on the camera's clock against the segment's first video packet.
        self._audio = audio
        # Audio ticks per video tick, for the segment's start on the audio clock; worked
        # out once per segment (or splice), not per packet: Fraction arithmetic costs more
        # than the rest of an audio packet's way through Python.
        self._audio_ratio = Fraction(tb) / audio.time_base if audio is not None else None
        self._audio_base_raw: int | None = None  # the _raw_base _audio_base was made for
        self._audio_base = 0  # _raw_base in the audio output's time base
        self._aout: Stream | None = None
        self._audio_last = -1
        self.audio_written = 0
        self.audio_dropped = 0

    # ------------------------------------------------------------------ public API

    @property
    def stats(self) -> WriterStats:
        return WriterStats(
            packets_in=self._packets_in,
            packets_written=self._packets_written,
            packets_dropped=self._dropped,
            bytes_written=self._bytes,
            segments_closed=self._segments,
            discontinuities=self._discontinuities,
            timestamp_fixups=self._fixups,
            current_path=self._path,
        )

    @property
    def current_path(self) -> Path | None:
        """Path of the segment being written, if one is open."""
        return self._path

    def write(self, packet: Packet[Any], now: float | None = None) -> None:
        """Append one packet of the input stream; may close and open segments.

        ``now`` is ``clock()`` read at the packet's arrival, when the caller has read it
        already (ingest does, for its live figures): one clock read per frame less.
        """
        if self._closed:
            raise RuntimeError("SegmentWriter is closed")
        self._packets_in += 1
        if packet.stream_index != self._src_index:
            self._dropped += 1
            return
        dts = packet.dts
        pts = packet.pts
        if dts is None:
            if pts is None:
                dts = self._untimed(packet)
                if dts is None:
                    return
            else:
                dts = pts

        last = self._last_dts
        if last is None and self._held is not None:
            self._release_held(dts - (self._held.duration or self._step))
            last = self._last_dts
        if last is None:
            self._start_timeline(dts)
        else:
            step = dts - last
            if 0 < step <= self._jitter_ticks:
                self._step = step
            elif not 0 < step <= self._gap_ticks:
                self._splice(dts, step)
            # else: a real pause shorter than max_gap_seconds (frames lost upstream); keep
            # it, but do not mistake it for the frame interval.
        self._last_dts = dts
        corr = dts + self._offset
        media_clock = self._media_clock
        if media_clock is not None:
            if now is None:
                now = self._clock()
            wall = self._anchor_wall + (corr - self._anchor_ticks) * self._tb
            if media_clock.settling:
                back = media_clock.settle(wall, now)
                if back:
                    wall += self._settle(back)
            shift = media_clock.observe(wall, now)
            if shift is not None:
                self._reanchor(corr, shift, -shift, DRIFTED)

        key = packet.is_keyframe
        if key:
            self._check_params(packet)
        if key and (
            self._out is None
            or self._force_roll
            or self._new_params is not None
            or corr - self._seg_base >= self._seg_ticks
        ):
            self._roll(corr)
        out = self._out
        if out is None:
            # A file must start with a keyframe or nothing in it decodes.
            self._dropped += 1
            return

        base = self._raw_base
        out_dts = dts - base
        out_pts = out_dts if pts is None else pts - base
        # The muxer rejects pts < dts; it only happens after a splice or with bad input.
        packet.pts = out_pts if out_pts >= out_dts else out_dts
        packet.dts = out_dts
        dur = packet.duration
        if not dur:
            # Without a duration the muxer has to guess the last sample of a fragment.
            dur = self._step
            packet.duration = dur
        packet.stream = self._ostream
        try:
            out.mux_one(packet)
        except BaseException:
            self._abandon()
            raise
        self._packets_written += 1
        self._bytes += packet.size
        self._seg_frames += 1
        if key:
            self._seg_keys += 1
        self._seg_last = corr
        self._seg_last_dur = dur

    def write_audio(self, packet: Packet[Any]) -> None:
        """Append one audio packet to the open segment; dropped before the first segment,
        or when it would start before the segment or go backwards.

        The packet's ``pts`` and ``time_base`` are the audio output's, on the camera's
        clock: as demuxed for a copied track, as :class:`~cctvctl.recorder.audio.AacConverter`
        made them for a converted one. Called for every audio packet: keep it lean.
        """
        out, aout = self._out, self._aout
        pts = packet.pts
        if out is None or aout is None or pts is None or self._closed:
            self.audio_dropped += 1
            return
        raw = self._raw_base
        if raw != self._audio_base_raw:
            self._audio_base_raw = raw
            self._audio_base = round(raw * self._audio_ratio)  # type: ignore[operator]
        pts -= self._audio_base
        if pts < 0 or pts <= self._audio_last:
            self.audio_dropped += 1
            return
        packet.pts = packet.dts = pts
        packet.stream = aout
        try:
            out.mux_one(packet)
        except BaseException:
            self._abandon()
            raise
        self._audio_last = pts
        self.audio_written += 1

    def close(self) -> SegmentRecord | None:
        """Finish the open segment (if any) and stop; returns its record."""
        if self._closed:
            return None
        self._closed = True
        if self._held is not None:
            self._held = None
            self._dropped += 1
        if self._out is None:
            return None
        return self._finish(clean=True)

    def __enter__(self) -> SegmentWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ timeline

    def _check_params(self, packet: Packet[Any]) -> None:
        """Note a keyframe whose in-band parameter sets differ from the current file's."""
        data = bytes(packet)
        params = parameter_sets(data, self._codec)
        if params is None or params == self._params:
            return
        if self._params is None and self._out is not None:
            # The first in-band sets of a stream described only by avcC: nothing to
            # compare with, so they are taken as the ones the file was made with.
            self._params = params
            return
        self._new_params = params
        self._new_size = picture_size(data, self._codec) or self._size

    @property
    def parameter_changes(self) -> int:
        """Files started because the camera's parameter sets changed in band."""
        return self._param_changes

    def _untimed(self, packet: Packet[Any]) -> int | None:
        """Place a packet that has neither DTS nor PTS, or drop it (returns None)."""
        if not packet.size:
            # The empty packet PyAV's demux() yields at the end of a stream.
            self._dropped += 1
            return None
        # The demuxer often knows a packet's duration even when it cannot date it.
        if self._last_dts is not None:
            return self._last_dts + (packet.duration or self._step)
        held = self._held
        if held is not None:
            # Two untimed packets in a row: the stream carries no timing at all (a raw
            # elementary stream). Number the frames from zero.
            self._release_held(0)
            return held.duration or self._step
        if packet.is_keyframe:
            # libavformat's RTSP client hands out the session's first packet before RTCP
            # has given it a time; it is usually the keyframe the whole first GOP needs.
            # Keep it until the next packet tells us where it sat.
            self._held = packet
            return None
        self._dropped += 1
        return None

    def _release_held(self, dts: int) -> None:
        held, self._held = self._held, None
        assert held is not None
        held.dts = held.pts = dts
        self._packets_in -= 1  # already counted when it was held
        self.write(held)

    def _wall(self, corr: int) -> float:
        return self._anchor_wall + (corr - self._anchor_ticks) * self._tb

    def _start_timeline(self, dts: int) -> None:
        self._anchor_ticks = dts
        self._anchor_wall = self._wall_start if self._wall_start is not None else self._clock()

    def _settle(self, shift: float) -> float:
        """Date the connection's footage so far ``shift`` (< 0) seconds earlier: its first
        packet was read late, not captured late (MediaClock.settle decides). Returns the
        shift made: a file already closed keeps its dates, and the open one may not start
        before it ends (segments shorter than the settling seconds close during it)."""
        prev = self._prev_end_wall
        if prev is not None and self._out is not None:
            shift = min(0.0, max(shift, prev - self._seg_start_wall))
            if not shift:
                return 0.0
        self._anchor_wall += shift
        if self._out is not None:
            self._seg_start_wall += shift
        return shift

    def _splice(self, dts: int, step: int) -> None:
        """Move this packet to one frame after the previous one on the corrected timeline."""
        prev_corr = self._last_dts + self._offset  # type: ignore[operator]
        new_corr = prev_corr + self._step
        self._offset = new_corr - dts
        if self._out is not None:
            self._raw_base = self._seg_base - self._offset
        if step <= 0 and -step < self._jitter_ticks:
            self._fixups += 1
            return
        # A clock reset, a wrap the demuxer did not unwrap, or a long stall: the media
        # clock says nothing about how much real time passed, so ask the wall clock, but
        # never step back behind footage already written.
        wall = self._wall(new_corr)
        now = self._clock()
        if self._media_clock is not None:
            # Against the live edge: a packet read late in a batch is no pause.
            shift = self._media_clock.step(wall, now)
        else:
            shift = max(now - wall, 0.0)
        self._reanchor(new_corr, shift, self._jump_seconds(step), JUMPED)
        self._pause_roll = shift > 0

    def _jump_seconds(self, step: int) -> float:
        """How far the camera's timestamps stepped, less the frame they should have."""
        ticks = step - self._step
        if self._tb_fraction == Fraction(1, 90_000) and ticks > 2**31:
            # libavformat unwraps the 32-bit RTP clock forwards only: a step back reads as
            # a step forward by nearly 2^32 ticks (13 h 15 min at 90 kHz).
            ticks -= 2**32
        return ticks * self._tb

    def _reanchor(self, corr: int, shift: float, jump: float, cause: str) -> None:
        """Date the footage from ``corr`` on ``shift`` seconds later than media time says."""
        self._discontinuities += 1
        wall = self._wall(corr)
        self._anchor_ticks = corr
        self._anchor_wall = wall + shift
        # Packets up to the next keyframe still decode against the open GOP, so they stay
        # in the current file; the new anchor takes effect with the next segment.
        self._force_roll = True
        self._pause_roll = False
        if self._on_reanchor is not None:
            self._on_reanchor(Reanchor(self._clock(), jump, shift, cause))

    # ------------------------------------------------------------------ segments

    def _roll(self, corr: int) -> None:
        start = self._wall(corr)
        if self._out is not None:
            # On an ordinary roll the new keyframe's time is exactly where the previous
            # file ends, so consecutive records tile the timeline with no rounding
            # slivers; so do they after a jump or drift was re-anchored (no frame was
            # lost: the old file ends where the new one starts, never before its own
            # start). After a pause the old file ends on its own last frame, and the
            # pause is a gap.
            # A re-anchor back in time (a fast clock) shortens the old file, never to
            # nothing: the rest of the step back is taken from the next file's start.
            floor = self._seg_start_wall + self._step * self._tb
            end = None if self._pause_roll else max(start, floor)
            self._finish(clean=True, end=end)
        if self._prev_end_wall is not None and start < self._prev_end_wall:
            # Files of one camera must never overlap in time.
            start = self._prev_end_wall
        self._open(corr, start)

    def _open(self, corr: int, start: float) -> None:
        day = datetime.fromtimestamp(start, UTC)
        path = _reserve(
            segment_dir(self._storage, self._slug, self._camera_id, day),
            f"{day:%H%M%S}",
            self._modes,
        )
        try:
            out = av.open(str(path), "w", format="mp4", options=dict(MUXER_OPTIONS))
            # opaque=True reuses the input's decoder instead of looking up an encoder for
            # the codec, which a build may lack (e.g. no HEVC encoder) and which a remux
            # never needs.
            ostream = out.add_stream_from_template(self._src, opaque=True)
            if self._new_params is not None:
                if self._out_params_changed():
                    self._param_changes += 1
                self._params, self._new_params = self._new_params, None
                self._size = self._new_size
            if self._params is not None and self._params != self._template_params:
                # A new SPS/PPS in band (a resolution change): this file's init is made
                # from them, not from the SDP's.
                octx: Any = ostream.codec_context
                octx.extradata = self._params
                if self._size is not None:
                    octx.width, octx.height = self._size
            tag_for_players(ostream)
            aout = self._audio.add_to(out) if self._audio is not None else None
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        self._out = out
        self._ostream = ostream
        self._aout = aout
        self._audio_last = -1
        self._path = path
        self._seg_base = corr
        self._raw_base = corr - self._offset
        self._seg_start_wall = start
        self._seg_last = corr
        self._seg_last_dur = 0
        self._seg_frames = 0
        self._seg_keys = 0
        self._seg_size = self._size
        self._force_roll = False
        self._pause_roll = False

    def _out_params_changed(self) -> bool:
        # The very first file of a connection is no change, whatever its sets.
        return self._segments > 0 or self._out is not None

    def _detach(self) -> tuple[OutputContainer, Path]:
        out, path = self._out, self._path
        assert out is not None and path is not None
        self._out = None
        self._ostream = None
        self._aout = None
        self._path = None
        return out, path

    def _record(self, path: Path, clean: bool, end: float | None = None) -> SegmentRecord:
        if end is None:
            span = self._seg_last - self._seg_base + self._seg_last_dur
            end = self._seg_start_wall + span * self._tb
        self._prev_end_wall = end
        try:
            size = path.stat().st_size
        except OSError:
            size = 0
        self._segments += 1
        return SegmentRecord(
            camera_id=self._camera_id,
            path=path,
            start=datetime.fromtimestamp(self._seg_start_wall, UTC),
            end=datetime.fromtimestamp(end, UTC),
            bytes=size,
            frames=self._seg_frames,
            keyframes=self._seg_keys,
            clean=clean,
            width=None if self._seg_size is None else self._seg_size[0],
            height=None if self._seg_size is None else self._seg_size[1],
        )

    def _finish(self, *, clean: bool, end: float | None = None) -> SegmentRecord:
        out, path = self._detach()
        try:
            out.close()
        except BaseException:
            # The fragments already flushed are intact; report what is on disk and let
            # the caller decide (start-up repair trims any torn tail).
            rec = self._record(path, clean=False)
            self._emit(rec)
            raise
        rec = self._record(path, clean=clean, end=end)
        self._emit(rec)
        return rec

    def _abandon(self) -> None:
        """After a muxing error: close what can be closed and report the file as unclean."""
        if self._out is None:
            return
        out, path = self._detach()
        # The muxing error is the one worth raising; a second failure while writing the
        # trailer is expected (e.g. the disk is still full) and adds nothing.
        with contextlib.suppress(Exception):
            out.close()
        self._emit(self._record(path, clean=False))

    def _emit(self, rec: SegmentRecord) -> None:
        if self._on_segment is not None:
            self._on_segment(rec)
