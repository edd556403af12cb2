"""SegmentWriter against a real H.264 stream encoded here with libx264."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction
from itertools import pairwise
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from cctvctl.recorder.segmenter import SegmentRecord, SegmentWriter, segment_dir
from cctvctl.storage.fmp4 import probe, repair, scan

FPS = 15
GOP = 15  # one keyframe per second
SECONDS = 5
FRAMES = FPS * SECONDS
WITA = timezone(timedelta(hours=8))


def encode_clip(path: Path, fmt: str, width: int = 320, height: int = 180) -> None:
    """Moving synthetic picture so that every frame carries real data."""
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        ctx = stream.codec_context
        ctx.gop_size = GOP
        ctx.max_b_frames = 0
        ctx.time_base = Fraction(1, FPS)
        # Fixed GOP like a camera's: no scene-cut keyframes, no B-frames.
        ctx.options = {"preset": "ultrafast", "tune": "zerolatency", "sc_threshold": "0"}
        yy, xx = np.mgrid[0:height, 0:width]
        for i in range(FRAMES):
            img = np.empty((height, width, 3), np.uint8)
            img[..., 0] = (xx + 4 * i) % 256
            img[..., 1] = (yy + 2 * i) % 256
            img[..., 2] = (xx ^ yy) % 256
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())


@pytest.fixture(scope="module", params=["mpegts", "matroska"])
def clip(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    # MPEG-TS carries Annex B with a 1/90000 clock, as RTSP does; Matroska carries avcC
    # with 1/1000, which makes the muxer pick a different timescale.
    fmt: str = request.param
    path = tmp_path_factory.mktemp("clip") / f"clip.{fmt}"
    encode_clip(path, fmt)
    return path


def packets(path: Path) -> Iterator[tuple[av.VideoStream, av.Packet[Any]]]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            yield stream, packet


def writer_for(
    stream: av.VideoStream,
    storage: Path,
    records: list[SegmentRecord],
    *,
    kecamatan_slug: str = "k",
    camera_id: str = "c",
    segment_seconds: float = 60,
    **kwargs: Any,
) -> SegmentWriter:
    """A writer that appends each closed segment to ``records``; a minute a segment.

    These tests replay a file as fast as it decodes against a clock that stands still, so
    media time runs away from it: the wall-clock re-anchor (tested with a moving clock in
    test_media_clock.py) is off unless a test asks for it.
    """
    kwargs.setdefault("reanchor_seconds", None)
    return SegmentWriter(
        stream,
        storage=storage,
        kecamatan_slug=kecamatan_slug,
        camera_id=camera_id,
        on_segment=records.append,
        segment_seconds=segment_seconds,
        **kwargs,
    )


def record_all(
    clip: Path,
    storage: Path,
    *,
    segment_seconds: float = 2.0,
    wall_start: datetime | None = None,
    skip: int = 0,
    edit: Any = None,
    clock: Any = None,
) -> tuple[list[SegmentRecord], SegmentWriter]:
    records: list[SegmentRecord] = []
    writer: SegmentWriter | None = None
    for i, (stream, packet) in enumerate(packets(clip)):
        if writer is None:
            kwargs: dict[str, Any] = {} if clock is None else {"clock": clock}
            writer = writer_for(
                stream,
                storage,
                records,
                kecamatan_slug="sangatta-utara",
                camera_id="cam-01",
                segment_seconds=segment_seconds,
                wall_start=wall_start or datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC),
                **kwargs,
            )
        if i < skip:
            continue
        if edit is not None:
            edit(i, packet)
        writer.write(packet)
    assert writer is not None
    writer.close()
    return records, writer


def decode_all(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as container:
        return list(container.decode(video=0))


def first_packet_is_key(path: Path) -> bool:
    with av.open(str(path)) as container:
        for packet in container.demux(video=0):
            return bool(packet.is_keyframe)
    return False


def test_rolls_at_first_keyframe_after_segment_seconds(clip: Path, tmp_path: Path) -> None:
    # 07:59:59 WITA is 23:59:59 UTC the day before: the layout must use the UTC date,
    # and the second segment must land in the next day's folder.
    wall = datetime(2024, 5, 2, 7, 59, 59, tzinfo=WITA)
    records, writer = record_all(clip, tmp_path, wall_start=wall)

    assert [r.frames for r in records] == [30, 30, 15]
    assert [r.keyframes for r in records] == [2, 2, 1]
    assert [r.path.relative_to(tmp_path).as_posix() for r in records] == [
        "sangatta-utara/cam-01/2024-05-01/235959.mp4",
        "sangatta-utara/cam-01/2024-05-02/000001.mp4",
        "sangatta-utara/cam-01/2024-05-02/000003.mp4",
    ]
    assert records[0].start == wall.astimezone(UTC)
    assert all(r.start.tzinfo is not None and r.start.utcoffset() == timedelta(0) for r in records)
    for a, b in pairwise(records):
        assert b.start == a.end  # contiguous: no gap, no overlap
    total = sum(r.duration for r in records)
    assert abs(total - SECONDS) < GOP / FPS
    # In fact exact up to the source's rounding (Matroska stores whole milliseconds).
    assert abs(total - SECONDS) < 2e-3

    stats = writer.stats
    assert stats.packets_written == FRAMES
    assert stats.segments_closed == 3
    assert stats.current_path is None
    assert stats.bytes_written == sum(p.size for _, p in packets(clip))

    for rec in records:
        assert rec.clean
        assert rec.bytes == rec.path.stat().st_size
        assert first_packet_is_key(rec.path)
        frames = decode_all(rec.path)
        assert len(frames) == rec.frames
        assert frames[0].key_frame
        info = probe(rec.path)
        assert info.complete and info.frames == rec.frames and info.keyframes == rec.keyframes
        assert info.start == 0.0  # rebased to zero in every file
        assert abs(info.duration - rec.duration) < 2e-3

        sc = scan(rec.path)
        kinds = [b.type for b in sc.boxes]
        assert kinds[:2] == ["ftyp", "moov"]
        pairs = kinds[2 : 2 + 2 * len(sc.fragments)]
        assert pairs == ["moof", "mdat"] * len(sc.fragments)
        assert set(kinds[2 + 2 * len(sc.fragments) :]) <= {"mfra"}
        assert sc.fragmented and not sc.truncated and sc.error is None
        assert len(sc.fragments) == rec.keyframes >= 1
        assert all(f.sync_samples == 1 for f in sc.fragments)
        assert sc.samples == rec.frames


def test_drops_packets_before_the_first_keyframe(clip: Path, tmp_path: Path) -> None:
    wall = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    # Join mid-GOP, as a new RTSP session usually does; the anchor is the first packet seen.
    records, writer = record_all(clip, tmp_path, wall_start=wall, skip=5)
    assert sum(r.frames for r in records) == FRAMES - GOP
    assert writer.stats.packets_dropped == 10 + 1  # + the empty packet demux ends with
    assert abs((records[0].start - wall).total_seconds() - 10 / FPS) < 1e-3
    assert first_packet_is_key(records[0].path)
    assert len(decode_all(records[0].path)) == records[0].frames


def test_same_second_never_overwrites(clip: Path, tmp_path: Path) -> None:
    wall = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    day = segment_dir(tmp_path, "sangatta-utara", "cam-01", wall)
    day.mkdir(parents=True)
    (day / "120000.mp4").write_bytes(b"someone else's file")
    first, _ = record_all(clip, tmp_path, wall_start=wall, segment_seconds=60)
    second, _ = record_all(clip, tmp_path, wall_start=wall, segment_seconds=60)
    assert (day / "120000.mp4").read_bytes() == b"someone else's file"
    assert first[0].path.name == "120000-1.mp4"
    assert second[0].path.name == "120000-2.mp4"
    for rec in first + second:
        assert len(decode_all(rec.path)) == FRAMES


def test_fragments_reach_disk_before_close(clip: Path, tmp_path: Path) -> None:
    records: list[SegmentRecord] = []
    writer: SegmentWriter | None = None
    for i, (stream, packet) in enumerate(packets(clip)):
        if writer is None:
            writer = writer_for(stream, tmp_path / "live", records)
        writer.write(packet)
        if i == 2 * GOP + 5:  # third GOP open, two complete
            break
    assert writer is not None and writer.current_path is not None
    # What a crash right now would leave behind: a copy of the file as it is on disk.
    crashed = tmp_path / "crashed.mp4"
    shutil.copyfile(writer.current_path, crashed)
    result = repair(crashed)
    assert result.fragments == 2 and result.samples == 2 * GOP
    assert len(decode_all(crashed)) == 2 * GOP
    writer.close()
    assert len(records) == 1 and records[0].frames == 2 * GOP + 6


@pytest.mark.parametrize("jump_seconds", [-3600.0, -20.0, 7200.0])
def test_timestamp_jump_rolls_and_reanchors(
    clip: Path, tmp_path: Path, jump_seconds: float
) -> None:
    wall = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    clock_now = wall + timedelta(seconds=100)
    jump_at = 2 * GOP + 8  # mid-GOP: P-frames still need the open GOP's keyframe

    def edit(i: int, packet: av.Packet[Any]) -> None:
        if i >= jump_at and packet.pts is not None:
            shift = round(jump_seconds / packet.time_base)
            packet.pts += shift
            packet.dts = packet.dts + shift if packet.dts is not None else None

    records, writer = record_all(
        clip,
        tmp_path,
        wall_start=wall,
        segment_seconds=60,
        edit=edit,
        clock=clock_now.timestamp,
    )
    assert writer.stats.discontinuities == 1
    # Nothing is lost: the packets up to the next keyframe finish the open file.
    assert [r.frames for r in records] == [3 * GOP, 2 * GOP]
    assert records[0].start == wall
    assert abs(records[0].duration - 3.0) < 1e-3
    # After the jump the media clock is not trusted; the wall clock read at the jump is.
    expected = clock_now + timedelta(seconds=(3 * GOP - jump_at) / FPS)
    assert abs((records[1].start - expected).total_seconds()) < 1e-3
    for rec in records:
        assert first_packet_is_key(rec.path)
        assert len(decode_all(rec.path)) == rec.frames


def test_untimed_first_keyframe_is_kept(clip: Path, tmp_path: Path) -> None:
    # libavformat's RTSP client delivers a session's first packet (the keyframe) with no
    # timestamps at all; dropping it would throw away the whole first GOP.
    wall = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)

    def edit(i: int, packet: av.Packet[Any]) -> None:
        if i == 0:
            assert packet.is_keyframe
            packet.pts = None
            packet.dts = None

    records, writer = record_all(clip, tmp_path, wall_start=wall, segment_seconds=60, edit=edit)
    assert writer.stats.packets_written == FRAMES
    assert writer.stats.packets_in == FRAMES + 1  # + the empty end-of-stream packet
    assert [r.frames for r in records] == [FRAMES]
    assert records[0].start == wall
    assert abs(records[0].duration - SECONDS) < 2e-3
    frames = decode_all(records[0].path)
    assert len(frames) == FRAMES and frames[0].key_frame


def test_stream_without_any_timestamps(tmp_path: Path) -> None:
    # A raw Annex B elementary stream has no timestamps, only the parser's idea of each
    # frame's duration: frames are numbered with it instead of being dropped.
    raw = tmp_path / "clip.h264"
    encode_clip(raw, "h264")
    assert all(p.pts is None for _, p in packets(raw))
    records, writer = record_all(raw, tmp_path / "store", segment_seconds=60)
    assert writer.stats.packets_written == FRAMES
    assert [r.frames for r in records] == [FRAMES]
    assert abs(records[0].duration - SECONDS) < 2e-3
    assert len(decode_all(records[0].path)) == FRAMES


def test_short_pause_is_kept_as_real_time(clip: Path, tmp_path: Path) -> None:
    # Frames lost upstream for 3 s (below max_gap_seconds): the footage really has a hole
    # there, so the file and the record both span it. No wall time given: the clock is read.
    t0 = datetime(2024, 5, 1, 3, 4, 5, tzinfo=UTC)

    def edit(i: int, packet: av.Packet[Any]) -> None:
        if i >= 20 and packet.pts is not None:
            shift = round(3 / packet.time_base)
            packet.pts += shift
            packet.dts = packet.pts

    records: list[SegmentRecord] = []
    writer: SegmentWriter | None = None
    for i, (stream, packet) in enumerate(packets(clip)):
        if writer is None:
            writer = writer_for(stream, tmp_path, records, clock=t0.timestamp)
        edit(i, packet)
        writer.write(packet)
    assert writer is not None
    writer.close()
    assert writer.stats.discontinuities == 0 and writer.stats.timestamp_fixups == 0
    assert len(records) == 1 and records[0].frames == FRAMES
    assert records[0].start == t0
    assert abs(records[0].duration - (SECONDS + 3)) < 2e-3
    assert abs(probe(records[0].path).duration - (SECONDS + 3)) < 2e-3


def test_small_backwards_step_is_fixed_in_place(clip: Path, tmp_path: Path) -> None:
    def edit(i: int, packet: av.Packet[Any]) -> None:
        if i == 20 and packet.pts is not None:  # duplicate the previous frame's time
            step = round(Fraction(1, FPS) / packet.time_base)
            packet.pts -= step
            packet.dts = packet.pts

    records, writer = record_all(clip, tmp_path, segment_seconds=60, edit=edit)
    assert writer.stats.timestamp_fixups == 1 and writer.stats.discontinuities == 0
    assert [r.frames for r in records] == [FRAMES]
    assert len(decode_all(records[0].path)) == FRAMES


def test_close_without_packets_and_reuse(clip: Path, tmp_path: Path) -> None:
    stream, _ = next(packets(clip))
    writer = SegmentWriter(stream, storage=tmp_path, kecamatan_slug="k", camera_id="c")
    assert writer.close() is None
    assert writer.close() is None
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError):
        writer.write(av.Packet(b"x"))


@pytest.mark.parametrize("camera_id", ["../etc", "a/b", "", ".hidden"])
def test_rejects_unsafe_path_components(clip: Path, tmp_path: Path, camera_id: str) -> None:
    stream, _ = next(packets(clip))
    with pytest.raises(ValueError):
        SegmentWriter(stream, storage=tmp_path, kecamatan_slug="k", camera_id=camera_id)
