"""Box scanning, crash repair and probing of fragmented MP4 segments."""

from __future__ import annotations

import os
import random
import shutil
import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from cctvctl.recorder.segmenter import SegmentRecord, SegmentWriter
from cctvctl.storage.fmp4 import FragmentScan, RepairStatus, probe, repair, scan

FPS = 15
GOP = 15
SECONDS = 4


def encode_clip(path: Path) -> None:
    with av.open(str(path), "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        ctx = stream.codec_context
        ctx.gop_size = GOP
        ctx.max_b_frames = 0
        ctx.time_base = Fraction(1, FPS)
        ctx.options = {"preset": "ultrafast", "tune": "zerolatency", "sc_threshold": "0"}
        yy, xx = np.mgrid[0:180, 0:320]
        for i in range(FPS * SECONDS):
            img = np.empty((180, 320, 3), np.uint8)
            img[..., 0] = (xx * 3 + 5 * i) % 256
            img[..., 1] = (yy + i) % 256
            img[..., 2] = (xx + yy + 7 * i) % 256
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())


@pytest.fixture(scope="module")
def segment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cleanly closed 4-fragment segment written by SegmentWriter."""
    base = tmp_path_factory.mktemp("fmp4")
    clip = base / "clip.ts"
    encode_clip(clip)
    records: list[SegmentRecord] = []
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        with SegmentWriter(
            stream,
            storage=base / "store",
            kecamatan_slug="k",
            camera_id="c",
            on_segment=records.append,
            segment_seconds=60,
            reanchor_seconds=None,  # a replay faster than real time, not a live camera
        ) as writer:
            for packet in container.demux(stream):
                writer.write(packet)
    assert len(records) == 1
    return records[0].path


@pytest.fixture
def work(segment: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "seg.mp4"
    shutil.copyfile(segment, copy)
    return copy


def decoded_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_scan_of_a_clean_segment(segment: Path) -> None:
    sc = scan(segment)
    assert [b.type for b in sc.boxes] == ["ftyp", "moov"] + ["moof", "mdat"] * SECONDS + ["mfra"]
    assert sc.has_ftyp and sc.has_moov and sc.fragmented and sc.usable
    assert sc.error is None and not sc.truncated
    assert sc.valid_end == sc.file_size == segment.stat().st_size
    assert sc.timescale == 90000
    assert [f.samples for f in sc.fragments] == [GOP] * SECONDS
    assert [f.sync_samples for f in sc.fragments] == [1] * SECONDS
    assert [f.duration for f in sc.fragments] == [90000] * SECONDS
    assert [f.base_decode_time for f in sc.fragments] == [90000 * i for i in range(SECONDS)]
    assert sc.last_fragment_end == sc.boxes[-1].offset  # mfra follows the last fragment
    assert repair(segment).status is RepairStatus.OK
    assert segment.stat().st_size == sc.file_size


def _cut_points(sc: FragmentScan) -> dict[str, tuple[int, int]]:
    """name -> (offset to cut at, whole fragments that survive)."""
    f = sc.fragments
    moov = next(b for b in sc.boxes if b.type == "moov")
    return {
        "inside-mfra": (sc.file_size - 3, 4),
        "mid-mdat-last": (f[3].end - 1000, 3),
        "mid-mdat-first": (f[0].mdat_offset + 100, 0),
        "mid-moof-header": (f[2].moof_offset + 4, 2),
        "mid-moof-body": (f[2].moof_offset + 40, 2),
        "mdat-header-only": (f[1].mdat_offset + 8, 1),
        "fragment-boundary": (f[1].end, 2),
        "inside-moov": (moov.offset + moov.size // 2, 0),
        "inside-ftyp": (10, 0),
    }


@pytest.mark.parametrize(
    "where",
    [
        "inside-mfra",
        "mid-mdat-last",
        "mid-mdat-first",
        "mid-moof-header",
        "mid-moof-body",
        "mdat-header-only",
        "fragment-boundary",
        "inside-moov",
        "inside-ftyp",
    ],
)
def test_repair_keeps_exactly_the_whole_fragments(segment: Path, work: Path, where: str) -> None:
    clean = scan(segment)
    cut, whole = _cut_points(clean)[where]
    os.truncate(work, cut)

    result = repair(work)

    assert result.original_size == cut
    assert result.fragments == whole
    if whole == 0:
        assert result.status is RepairStatus.UNUSABLE
        assert result.reason
        assert work.stat().st_size == cut  # deleting is the caller's call
        return
    expected_end = clean.fragments[whole - 1].end
    assert result.size == expected_end == work.stat().st_size
    assert result.status is (RepairStatus.OK if cut == expected_end else RepairStatus.REPAIRED)
    assert result.samples == whole * GOP
    after = scan(work)
    assert after.error is None and not after.truncated and len(after.fragments) == whole
    info = probe(work)
    assert info.ok and info.complete
    assert info.frames == whole * GOP and info.keyframes == whole
    assert abs(info.duration - whole * GOP / FPS) < 1e-6
    assert decoded_frames(work) == whole * GOP
    assert repair(work).status is RepairStatus.OK  # idempotent


def test_inside_moov_is_reported_unusable(segment: Path, work: Path) -> None:
    moov = next(b for b in scan(segment).boxes if b.type == "moov")
    os.truncate(work, moov.offset + 20)
    sc = scan(work)
    assert not sc.has_moov and not sc.usable
    assert sc.unusable_reason is not None and "moov" in sc.unusable_reason
    assert repair(work).status is RepairStatus.UNUSABLE


def test_corrupt_moof_stops_the_scan_in_front_of_it(segment: Path, work: Path) -> None:
    clean = scan(segment)
    third = clean.fragments[2].moof_offset
    data = bytearray(work.read_bytes())
    # Make the third fragment's trun claim far more samples than the box can hold.
    trun = data.index(b"trun", third)
    struct.pack_into(">I", data, trun + 8, 100_000)
    work.write_bytes(bytes(data))

    sc = scan(work)
    assert sc.error is not None and "moof" in sc.error
    assert len(sc.fragments) == 2 and sc.valid_end == third
    result = repair(work)
    assert result.status is RepairStatus.REPAIRED and result.size == third
    assert decoded_frames(work) == 2 * GOP


def test_moof_pointing_outside_its_mdat_is_not_a_whole_fragment(segment: Path, work: Path) -> None:
    clean = scan(segment)
    last = clean.fragments[-1]
    data = bytearray(work.read_bytes())
    # Shrink the last mdat's declared size: the moof's sample sizes no longer fit in it.
    struct.pack_into(">I", data, last.mdat_offset, 64)
    work.write_bytes(bytes(data[: last.mdat_offset + 64]))
    sc = scan(work)
    assert len(sc.fragments) == 3 and sc.valid_end == clean.fragments[2].end
    assert sc.error is not None and "outside its mdat" in sc.error


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x00\x00\x00",
        # Seeded, so every run (and every pytest-xdist worker) collects the same test.
        random.Random(4096).randbytes(4096),
        b"\x00\x00\x00\x08ftyp" + b"\xff" * 64,  # ftyp then nonsense
        b"\x00\x00\x00\x01ftyp" + struct.pack(">Q", 1 << 40),  # absurd 64-bit size
        b"\x00\x00\x00\x00moov",  # size 0 = "to end of file", but not ftyp first
    ],
)
def test_garbage_never_raises(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "junk.mp4"
    path.write_bytes(content)
    sc = scan(path)
    assert not sc.usable and sc.unusable_reason
    assert repair(path).status is RepairStatus.UNUSABLE
    assert path.read_bytes() == content  # untouched
    info = probe(path)
    assert not info.ok and info.error and info.frames == 0


def test_random_damage_never_raises(segment: Path, tmp_path: Path) -> None:
    # Flip bytes in the index boxes (where the parser looks) of an otherwise good file.
    clean = scan(segment)
    targets = [b for b in clean.boxes if b.type in {"moov", "moof"}]
    original = segment.read_bytes()
    rng = np.random.default_rng(1234)
    path = tmp_path / "damaged.mp4"
    outcomes = set()
    for _ in range(300):
        box = targets[int(rng.integers(len(targets)))]
        data = bytearray(original)
        for pos in rng.integers(box.offset, box.end, size=int(rng.integers(1, 4))):
            data[int(pos)] = int(rng.integers(256))
        path.write_bytes(bytes(data))
        sc = scan(path)
        assert sc.valid_end <= len(data)
        assert len(sc.fragments) <= len(clean.fragments)
        outcomes.add(repair(path).status)
    assert RepairStatus.UNUSABLE in outcomes or RepairStatus.REPAIRED in outcomes


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.mp4"
    assert scan(missing).io_error is not None
    assert repair(missing).status is RepairStatus.FAILED
    assert not probe(missing).ok


def test_scan_reads_ordinary_mp4_without_damaging_it(segment: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain.mp4"
    with av.open(str(segment)) as src, av.open(str(plain), "w", format="mp4") as dst:
        out = dst.add_stream_from_template(src.streams.video[0], opaque=True)
        for packet in src.demux(video=0):
            if packet.size:
                packet.stream = out
                dst.mux(packet)
    sc = scan(plain)
    assert not sc.fragmented and sc.usable and sc.fragments == ()
    size = plain.stat().st_size
    assert repair(plain).status is RepairStatus.OK and plain.stat().st_size == size
    assert probe(plain).frames == GOP * SECONDS
