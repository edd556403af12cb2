"""Inspect and repair fragmented MP4 segments left on disk.

A segment is ``ftyp``, ``moov`` (no samples), then one ``moof`` + ``mdat`` pair per GOP,
and, when it was closed cleanly, an ``mfra`` index. A crash can cut the file anywhere.
:func:`scan` walks the top-level boxes, reading only box headers and the small ``moov``
and ``moof`` payloads (never media data), and finds the longest prefix that is made of
whole boxes with every ``moof`` followed by its complete ``mdat``; :func:`repair` cuts the
file back to that prefix. :func:`probe` asks libavformat (via PyAV) what a file holds.

None of the three raise on a damaged file: damage is data here, reported in the result.
"""

from __future__ import annotations

import enum
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = [
    "Box",
    "Fragment",
    "FragmentScan",
    "ProbeResult",
    "RepairResult",
    "RepairStatus",
    "probe",
    "repair",
    "scan",
]

# A moov without samples is a few KiB and a moof is a few hundred bytes per GOP; limits
# far above that keep a garbage size field from making us allocate gigabytes.
_MAX_MOOV: Final = 64 << 20
_MAX_MOOF: Final = 16 << 20

# trun / tfhd flag bits (ISO/IEC 14496-12, 8.8.7 and 8.8.8).
_TFHD_BASE_DATA_OFFSET: Final = 0x000001
_TFHD_SAMPLE_DESC: Final = 0x000002
_TFHD_DEFAULT_DURATION: Final = 0x000008
_TFHD_DEFAULT_SIZE: Final = 0x000010
_TFHD_DEFAULT_FLAGS: Final = 0x000020
_TRUN_DATA_OFFSET: Final = 0x000001
_TRUN_FIRST_FLAGS: Final = 0x000004
_TRUN_DURATION: Final = 0x000100
_TRUN_SIZE: Final = 0x000200
_TRUN_FLAGS: Final = 0x000400
_TRUN_CTS: Final = 0x000800
_NON_SYNC: Final = 0x00010000


class _Corrupt(Exception):
    """A box's contents contradict themselves; the scan stops in front of it."""


@dataclass(frozen=True, slots=True)
class Box:
    """A top-level box. ``size`` is what its header declares."""

    type: str
    offset: int
    size: int
    complete: bool  # False for a box the file ends inside of

    @property
    def end(self) -> int:
        return self.offset + self.size


@dataclass(frozen=True, slots=True)
class Fragment:
    """A ``moof`` with its complete ``mdat``."""

    moof_offset: int
    mdat_offset: int
    end: int  # first byte after the mdat
    samples: int
    sync_samples: int | None  # None when the sample flags are not signalled
    duration: int | None  # in track timescale units; None when not signalled
    base_decode_time: int | None  # from tfdt, in track timescale units


@dataclass(frozen=True, slots=True)
class FragmentScan:
    path: Path
    file_size: int
    boxes: tuple[Box, ...]
    fragments: tuple[Fragment, ...]  # whole fragments only, in file order
    has_ftyp: bool
    has_moov: bool  # a complete moov
    fragmented: bool  # the moov announces fragments (has mvex)
    timescale: int | None  # of the first track
    valid_end: int  # length of the longest intact prefix
    error: str | None  # why the scan stopped before the end of the file; None if clean
    io_error: str | None = None  # the file could not be opened or read at all

    @property
    def last_fragment_end(self) -> int:
        """Offset just past the last whole fragment, 0 if there is none."""
        return self.fragments[-1].end if self.fragments else 0

    @property
    def truncated(self) -> bool:
        return self.valid_end < self.file_size

    @property
    def samples(self) -> int:
        return sum(f.samples for f in self.fragments)

    @property
    def usable(self) -> bool:
        """Whether the intact prefix is a playable file."""
        if not (self.has_ftyp and self.has_moov):
            return False
        if self.io_error is not None:
            return False
        if self.fragmented:
            return bool(self.fragments)
        # An ordinary MP4 cannot be cut back: its index (moov) describes every sample.
        return self.error is None and any(b.type == "mdat" for b in self.boxes)

    @property
    def unusable_reason(self) -> str | None:
        if self.usable:
            return None
        if self.io_error is not None:
            return self.io_error
        if not self.has_ftyp:
            return self.error or "no ftyp box: not an MP4 file"
        if not self.has_moov:
            return self.error or "no complete moov box"
        if self.fragmented:
            return "no whole fragment" + (f" ({self.error})" if self.error else "")
        return self.error or "no media data"


class RepairStatus(enum.StrEnum):
    OK = "ok"  # intact, left untouched
    REPAIRED = "repaired"  # cut back to its last whole fragment
    UNUSABLE = "unusable"  # nothing playable: the caller should delete it
    FAILED = "failed"  # could not be read or truncated: leave it alone


@dataclass(frozen=True, slots=True)
class RepairResult:
    path: Path
    status: RepairStatus
    original_size: int
    size: int  # after repair (equal to original_size unless REPAIRED)
    fragments: int
    samples: int
    reason: str | None  # what was wrong, for logs; None when OK


@dataclass(frozen=True, slots=True)
class ProbeResult:
    path: Path
    ok: bool  # at least one packet could be read
    complete: bool  # demuxing reached the end of the file without an error
    error: str | None
    codec: str | None
    width: int
    height: int
    start: float | None  # media time of the first frame, seconds
    end: float | None  # media time just past the last frame, seconds
    frames: int
    keyframes: int

    @property
    def duration(self) -> float:
        if self.start is None or self.end is None:
            return 0.0
        return self.end - self.start


# ---------------------------------------------------------------------------- parsing


def _children(buf: bytes | memoryview, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """Yield (type, payload_start, box_end) for boxes tiling buf[start:end] exactly."""
    pos = start
    while pos < end:
        if end - pos < 8:
            raise _Corrupt("child box header cut short")
        size, typ = struct.unpack_from(">I4s", buf, pos)
        hdr = 8
        if size == 1:
            if end - pos < 16:
                raise _Corrupt("child box header cut short")
            (size,) = struct.unpack_from(">Q", buf, pos + 8)
            hdr = 16
        elif size == 0:
            size = end - pos
        if size < hdr or pos + size > end:
            raise _Corrupt(f"child box {typ!r} overruns its parent")
        yield typ, pos + hdr, pos + size
        pos += size


@dataclass(slots=True)
class _TrackDefaults:
    timescale: int | None = None
    duration: int | None = None
    size: int | None = None
    flags: int | None = None


def _parse_moov(buf: bytes) -> tuple[bool, int | None, dict[int, _TrackDefaults]]:
    """Return (has mvex, first track's timescale, per-track defaults)."""
    tracks: dict[int, _TrackDefaults] = {}
    first_timescale: int | None = None
    fragmented = False
    for typ, p, e in _children(buf, 0, len(buf)):
        if typ == b"trak":
            track_id: int | None = None
            timescale: int | None = None
            for t2, p2, e2 in _children(buf, p, e):
                if t2 == b"tkhd" and e2 - p2 >= 24:
                    version = buf[p2]
                    (track_id,) = struct.unpack_from(">I", buf, p2 + (20 if version == 1 else 12))
                elif t2 == b"mdia":
                    for t3, p3, e3 in _children(buf, p2, e2):
                        if t3 == b"mdhd" and e3 - p3 >= 24:
                            version = buf[p3]
                            off = p3 + (20 if version == 1 else 12)
                            if e3 - off >= 4:
                                (timescale,) = struct.unpack_from(">I", buf, off)
            if first_timescale is None:
                first_timescale = timescale
            if track_id is not None:
                tracks.setdefault(track_id, _TrackDefaults()).timescale = timescale
        elif typ == b"mvex":
            fragmented = True
            for t2, p2, e2 in _children(buf, p, e):
                if t2 == b"trex" and e2 - p2 >= 24:
                    tid, _desc, dur, size, flags = struct.unpack_from(">5I", buf, p2 + 4)
                    d = tracks.setdefault(tid, _TrackDefaults())
                    d.duration, d.size, d.flags = dur, size, flags
    return fragmented, first_timescale, tracks


@dataclass(slots=True)
class _MoofInfo:
    samples: int = 0
    sync: int | None = 0
    duration: int | None = None
    base_decode_time: int | None = None
    data_lo: int | None = None  # absolute file range the runs' sample data must occupy
    data_hi: int | None = None


def _count_sync(
    count: int, table_flags: tuple[int, ...] | None, first: int | None, default: int | None
) -> int | None:
    """Number of sync samples in a run, None when the flags are not signalled."""
    if count == 0:
        return 0
    if table_flags is not None:
        flags = list(table_flags)
        if first is not None:
            flags[0] = first
        return sum(1 for f in flags if not f & _NON_SYNC)
    if default is None and (first is None or count > 1):
        return None
    n = 0
    if first is not None:
        n += not first & _NON_SYNC
        count -= 1
    if default is not None and not default & _NON_SYNC:
        n += count
    return n


def _parse_tfhd(
    buf: bytes, p: int, e: int, tracks: dict[int, _TrackDefaults]
) -> tuple[int | None, _TrackDefaults]:
    """Return (explicit base data offset, the track's effective defaults)."""
    if e - p < 8:
        raise _Corrupt("tfhd too short")
    vf, track_id = struct.unpack_from(">II", buf, p)
    flags = vf & 0xFFFFFF
    track = tracks.get(track_id, _TrackDefaults())
    defaults = _TrackDefaults(track.timescale, track.duration, track.size, track.flags)
    widths = (
        (_TFHD_BASE_DATA_OFFSET, 8),
        (_TFHD_SAMPLE_DESC, 4),
        (_TFHD_DEFAULT_DURATION, 4),
        (_TFHD_DEFAULT_SIZE, 4),
        (_TFHD_DEFAULT_FLAGS, 4),
    )
    if e - p - 8 < sum(w for bit, w in widths if flags & bit):
        raise _Corrupt("tfhd shorter than its flags say")
    pos = p + 8
    base: int | None = None
    if flags & _TFHD_BASE_DATA_OFFSET:
        (base,) = struct.unpack_from(">Q", buf, pos)
        pos += 8
    if flags & _TFHD_SAMPLE_DESC:
        pos += 4
    if flags & _TFHD_DEFAULT_DURATION:
        (defaults.duration,) = struct.unpack_from(">I", buf, pos)
        pos += 4
    if flags & _TFHD_DEFAULT_SIZE:
        (defaults.size,) = struct.unpack_from(">I", buf, pos)
        pos += 4
    if flags & _TFHD_DEFAULT_FLAGS:
        (defaults.flags,) = struct.unpack_from(">I", buf, pos)
    return base, defaults


def _parse_traf(
    buf: bytes,
    p: int,
    e: int,
    moof_offset: int,
    tracks: dict[int, _TrackDefaults],
    info: _MoofInfo,
    first_traf: bool,
) -> None:
    defaults: _TrackDefaults | None = None
    base = moof_offset
    duration: int | None = 0
    next_data: int | None = None
    for typ, cp, ce in _children(buf, p, e):
        if typ == b"tfhd":
            explicit_base, defaults = _parse_tfhd(buf, cp, ce, tracks)
            if explicit_base is not None:
                base = explicit_base
        elif typ == b"tfdt" and first_traf:
            wide = ce > cp and buf[cp] == 1
            if ce - cp < (12 if wide else 8):
                raise _Corrupt("tfdt too short")
            (info.base_decode_time,) = struct.unpack_from(">Q" if wide else ">I", buf, cp + 4)
        elif typ == b"trun":
            if defaults is None:
                raise _Corrupt("trun before tfhd")
            if ce - cp < 8:
                raise _Corrupt("trun too short")
            vf, count = struct.unpack_from(">II", buf, cp)
            flags = vf & 0xFFFFFF
            pos = cp + 8
            data_offset: int | None = None
            first_flags: int | None = None
            head = 4 * (bool(flags & _TRUN_DATA_OFFSET) + bool(flags & _TRUN_FIRST_FLAGS))
            fields = [f for f in (_TRUN_DURATION, _TRUN_SIZE, _TRUN_FLAGS, _TRUN_CTS) if flags & f]
            width = len(fields)
            if ce - pos < head + 4 * width * count:
                raise _Corrupt("trun lists more samples than it holds")
            if flags & _TRUN_DATA_OFFSET:
                (data_offset,) = struct.unpack_from(">i", buf, pos)
                pos += 4
            if flags & _TRUN_FIRST_FLAGS:
                (first_flags,) = struct.unpack_from(">I", buf, pos)
                pos += 4
            table = struct.unpack_from(f">{width * count}I", buf, pos) if width else ()

            def column(
                bit: int, table: tuple[int, ...] = table, fields: list[int] = fields
            ) -> tuple[int, ...]:
                return table[fields.index(bit) :: len(fields)]

            if duration is not None:
                if flags & _TRUN_DURATION:
                    duration += sum(column(_TRUN_DURATION))
                elif defaults.duration is not None:
                    duration += defaults.duration * count
                else:
                    duration = None

            run_bytes: int | None
            if flags & _TRUN_SIZE:
                run_bytes = sum(column(_TRUN_SIZE))
            elif defaults.size is not None:
                run_bytes = defaults.size * count
            else:
                run_bytes = None

            if first_traf and info.sync is not None:
                sync = _count_sync(
                    count,
                    column(_TRUN_FLAGS) if flags & _TRUN_FLAGS else None,
                    first_flags,
                    defaults.flags,
                )
                info.sync = None if sync is None else info.sync + sync

            start = base + data_offset if data_offset is not None else next_data
            if start is None:
                start = base
            if run_bytes is None:
                next_data = None
            else:
                next_data = start + run_bytes
                if count:
                    lo, hi = info.data_lo, info.data_hi
                    info.data_lo = start if lo is None else min(lo, start)
                    info.data_hi = next_data if hi is None else max(hi, next_data)
            if first_traf:
                info.samples += count
    if defaults is None:
        raise _Corrupt("traf without tfhd")
    if first_traf:
        info.duration = duration


def _parse_moof(body: bytes, moof_offset: int, tracks: dict[int, _TrackDefaults]) -> _MoofInfo:
    """Parse a moof payload; sample counts and times describe its first track."""
    info = _MoofInfo()
    trafs = 0
    for typ, p, e in _children(body, 0, len(body)):
        if typ == b"traf":
            # Data offsets are absolute file positions (base + offset), independent of
            # where the traf sits inside body.
            _parse_traf(body, p, e, moof_offset, tracks, info, first_traf=trafs == 0)
            trafs += 1
    if not trafs:
        raise _Corrupt("moof without traf")
    return info


def _printable(typ: bytes) -> bool:
    return all(0x20 <= c <= 0x7E for c in typ)


# ---------------------------------------------------------------------------- scan


def scan(path: Path | str) -> FragmentScan:
    """Walk a file's top-level boxes; see the module docstring."""
    path = Path(path)
    boxes: list[Box] = []
    fragments: list[Fragment] = []
    has_ftyp = has_moov = fragmented = False
    timescale: int | None = None
    tracks: dict[int, _TrackDefaults] = {}
    valid_end = 0
    error: str | None = None
    io_error: str | None = None
    file_size = 0
    try:
        with open(path, "rb") as f:
            file_size = os.fstat(f.fileno()).st_size
            offset = 0
            pending: tuple[int, _MoofInfo] | None = None  # a moof still waiting for its mdat
            while offset < file_size:
                f.seek(offset)
                hdr = f.read(16)
                if len(hdr) < 8:
                    error = f"box header at {offset} cut short"
                    break
                size, typ_b = struct.unpack_from(">I4s", hdr)
                hsize = 8
                if size == 1:
                    if len(hdr) < 16:
                        error = f"box header at {offset} cut short"
                        break
                    (size,) = struct.unpack_from(">Q", hdr, 8)
                    hsize = 16
                elif size == 0:
                    size = file_size - offset
                if not _printable(typ_b) or size < hsize:
                    error = f"garbage at offset {offset}"
                    break
                typ = typ_b.decode("ascii")
                end = offset + size
                if end > file_size:
                    boxes.append(Box(typ, offset, size, complete=False))
                    have = file_size - offset
                    error = f"{typ} at {offset} needs {size} bytes, only {have} remain"
                    break
                if not boxes and typ != "ftyp":
                    error = f"file starts with {typ!r}, not ftyp"
                    break

                if typ == "moov" or typ == "moof":
                    limit = _MAX_MOOV if typ == "moov" else _MAX_MOOF
                    if size > limit:
                        error = f"{typ} at {offset} implausibly large ({size} bytes)"
                        break
                    f.seek(offset + hsize)
                    body = f.read(size - hsize)
                    try:
                        if typ == "moov":
                            fragmented, timescale, tracks = _parse_moov(body)
                        else:
                            if pending is not None:
                                raise _Corrupt("previous moof has no mdat")
                            info = _parse_moof(body, offset, tracks)
                    except (_Corrupt, struct.error, IndexError, ValueError) as exc:
                        error = f"{typ} at {offset} is corrupt: {exc}"
                        break
                    if typ == "moov":
                        has_moov = True
                    else:
                        pending = (offset, info)
                elif typ == "mdat" and pending is not None:
                    moof_offset, info = pending
                    if info.data_lo is not None and info.data_hi is not None:
                        lo, hi = info.data_lo, info.data_hi
                        if lo < offset + hsize or hi > end:
                            error = (
                                f"moof at {moof_offset} points at bytes {lo}..{hi}"
                                f" outside its mdat {offset + hsize}..{end}"
                            )
                            break
                    fragments.append(
                        Fragment(
                            moof_offset=moof_offset,
                            mdat_offset=offset,
                            end=end,
                            samples=info.samples,
                            sync_samples=info.sync,
                            duration=info.duration,
                            base_decode_time=info.base_decode_time,
                        )
                    )
                    pending = None
                elif typ == "ftyp":
                    has_ftyp = True

                boxes.append(Box(typ, offset, size, complete=True))
                if pending is None:
                    valid_end = end
                offset = end
            else:
                if pending is not None:
                    error = f"moof at {pending[0]} has no mdat"
    except OSError as exc:
        io_error = f"cannot read: {exc.strerror or exc}"
    return FragmentScan(
        path=path,
        file_size=file_size,
        boxes=tuple(boxes),
        fragments=tuple(fragments),
        has_ftyp=has_ftyp,
        has_moov=has_moov,
        fragmented=fragmented,
        timescale=timescale,
        valid_end=valid_end,
        error=error,
        io_error=io_error,
    )


# ---------------------------------------------------------------------------- repair


def repair(path: Path | str) -> RepairResult:
    """Cut a crash-damaged segment back to its intact prefix.

    Files with nothing playable are left as they are and reported UNUSABLE; deleting
    them is the caller's decision (it may want to log or quarantine first).
    """
    path = Path(path)
    sc = scan(path)
    size = sc.file_size

    def result(status: RepairStatus, new_size: int, reason: str | None) -> RepairResult:
        return RepairResult(
            path=path,
            status=status,
            original_size=size,
            size=new_size,
            fragments=len(sc.fragments),
            samples=sc.samples,
            reason=reason,
        )

    if sc.io_error is not None:
        return result(RepairStatus.FAILED, size, sc.io_error)
    if not sc.usable:
        return result(RepairStatus.UNUSABLE, size, sc.unusable_reason)
    if not sc.truncated:
        return result(RepairStatus.OK, size, None)
    try:
        os.truncate(path, sc.valid_end)
    except OSError as exc:
        return result(RepairStatus.FAILED, size, f"cannot truncate: {exc.strerror or exc}")
    return result(RepairStatus.REPAIRED, sc.valid_end, sc.error)


# ---------------------------------------------------------------------------- probe


def probe(path: Path | str) -> ProbeResult:
    """Demux (never decode) the first video stream and measure it."""
    import av  # heavy; only the recorder's start-up reconciliation needs it

    path = Path(path)

    def failed(error: str) -> ProbeResult:
        return ProbeResult(
            path=path,
            ok=False,
            complete=False,
            error=error,
            codec=None,
            width=0,
            height=0,
            start=None,
            end=None,
            frames=0,
            keyframes=0,
        )

    try:
        container = av.open(str(path), "r")
    except (av.FFmpegError, OSError, ValueError) as exc:
        return failed(f"cannot open: {exc}")
    with container:
        if not container.streams.video:
            return failed("no video stream")
        stream = container.streams.video[0]
        tb = stream.time_base
        codec = stream.codec_context.name
        width, height = stream.codec_context.width, stream.codec_context.height
        if tb is None:
            return failed("video stream has no time base")
        frames = keyframes = 0
        first: int | None = None
        last_end: int | None = None
        step = 0
        prev: int | None = None
        error: str | None = None
        try:
            for packet in container.demux(stream):
                pts = packet.pts if packet.pts is not None else packet.dts
                if pts is None or packet.size == 0:
                    continue
                frames += 1
                if packet.is_keyframe:
                    keyframes += 1
                if first is None or pts < first:
                    first = pts
                if prev is not None and pts > prev:
                    step = pts - prev
                prev = pts
                # A missing duration is common for the last packet; assume it lasted as
                # long as the one before.
                stop = pts + (packet.duration or step)
                if last_end is None or stop > last_end:
                    last_end = stop
        except (av.FFmpegError, OSError, ValueError) as exc:
            error = f"demux stopped after {frames} frames: {exc}"
    if first is None or last_end is None:
        return failed(error or "no packets")
    return ProbeResult(
        path=path,
        ok=True,
        complete=error is None,
        error=error,
        codec=codec,
        width=width,
        height=height,
        start=float(first * tb),
        end=float(last_end * tb),
        frames=frames,
        keyframes=keyframes,
    )
