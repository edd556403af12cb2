"""Wall time of exporting 30 minutes of footage, against ffmpeg's concat demuxer.

Run: .venv/bin/python benchmarks/export.py [--minutes 30] [--segment 60] [--repeat 3]

Synthesises the footage with the project's own SegmentWriter (so the files are exactly
what the recorder writes: fragmented MP4, a fragment per keyframe, 60 s segments) from a
camera-like 640x360 15 fps H.264 stream, indexes it, then times:

  export (remux)   cctvctl.exports.remux_clip over the whole window: demux every segment,
                   rebase timestamps, mux one MP4 with +faststart
  export (job)     the same plus what a job adds: SHA-256 of the clip and the manifest
  ffmpeg concat    ffmpeg -f concat -safe 0 -i list.txt -c copy -movflags +faststart
                   over the same segment files (skipped when ffmpeg is not installed)

and prints the median of --repeat runs of each, and the ratios. Target: remux <= 1.1x
ffmpeg. Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from cctvctl.exports import Source, remux_clip, sha256_file
from cctvctl.recorder.segmenter import SegmentRecord, SegmentWriter
from cctvctl.storage.database import Database

WIDTH, HEIGHT, FPS, GOP = 640, 360, 15, 30
BIT_RATE = 600_000
CHUNK_SECONDS = 60
START = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)


def encode_chunk(seconds: int) -> bytes:
    """An MPEG-TS H.264 chunk: gradient, noise and a moving block, so bits are spent."""
    rng = np.random.default_rng(11)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    base = np.stack([40 + 0.3 * xx, 80 + 0.5 * yy, 120 + 0 * xx], -1).astype(np.int16)
    buf = io.BytesIO()
    with av.open(buf, "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        ctx = stream.codec_context
        ctx.gop_size = GOP
        ctx.max_b_frames = 0
        ctx.bit_rate = BIT_RATE
        ctx.time_base = Fraction(1, FPS)
        ctx.options = {"preset": "ultrafast", "tune": "zerolatency", "sc_threshold": "0"}
        for i in range(seconds * FPS):
            img = base + rng.integers(-8, 9, size=(HEIGHT, WIDTH, 1), dtype=np.int16)
            x = (i * 5) % (WIDTH - 60)
            img[150:210, x : x + 60] = (230, 200, 30)
            frame = av.VideoFrame.from_ndarray(np.clip(img, 0, 255).astype(np.uint8), "rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return buf.getvalue()


def synthesise(storage: Path, minutes: int, segment_seconds: float) -> list[SegmentRecord]:
    """``minutes`` of footage through SegmentWriter, replaying one encoded chunk."""
    chunk = encode_chunk(CHUNK_SECONDS)
    records: list[SegmentRecord] = []
    first = av.open(io.BytesIO(chunk))
    stream = first.streams.video[0]
    writer = SegmentWriter(
        stream,
        storage=storage,
        kecamatan_slug="bench",
        camera_id="bench-cam-01",
        on_segment=records.append,
        segment_seconds=segment_seconds,
        wall_start=START,
        clock=lambda: START.timestamp(),
    )
    ticks = round(CHUNK_SECONDS / stream.time_base)
    offset = 0
    for n in range(max(1, round(minutes * 60 / CHUNK_SECONDS))):
        container = first if n == 0 else av.open(io.BytesIO(chunk))
        src = container.streams.video[0]
        base: int | None = None
        for pkt in container.demux(src):
            if pkt.dts is None or not pkt.size:
                continue
            if base is None:
                base = pkt.dts
            # One continuous timeline across replays, as a camera would send it.
            pkt.dts = pkt.dts - base + offset
            pkt.pts = (pkt.pts if pkt.pts is not None else pkt.dts) - base + offset
            pkt.stream = stream
            writer.write(pkt)
        offset += ticks
        if container is not first:
            container.close()
    writer.close()
    first.close()
    return records


def run_ffmpeg(files: list[Path], work: Path) -> float:
    listing = work / "list.txt"
    listing.write_text("".join(f"file '{p}'\n" for p in files), encoding="utf-8")
    out = work / "ffmpeg.mp4"
    t0 = time.perf_counter()
    subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "concat",
            "-safe",
            "0",
            "-i",
            str(listing),
            "-c",
            "copy",
            "-movflags",
            "+faststart",
            str(out),
        ],
        check=True,
    )
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--segment", type=float, default=60.0, help="segment seconds")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: tmp)")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="export-bench-", dir=args.dir))
    try:
        storage = root / "storage"
        t0 = time.perf_counter()
        records = synthesise(storage, args.minutes, args.segment)
        made = time.perf_counter() - t0
        index = Database(storage)
        for rec in records:
            index.add_segment(rec)
        start, end = START, START + timedelta(minutes=args.minutes)
        rows = index.segments("bench-cam-01", start, end)
        sources = [Source.of(r) for r in rows]
        total = sum(s.bytes for s in sources)
        frames = sum(r.frames or 0 for r in rows)
        print(
            f"footage: {args.minutes} min, {WIDTH}x{HEIGHT} {FPS} fps GOP {GOP / FPS:g} s, "
            f"{len(rows)} segments of {args.segment:g} s, {total / 1e6:.1f} MB, {frames} frames "
            f"(synthesised in {made:.1f} s)"
        )

        remux_t: list[float] = []
        job_t: list[float] = []
        ffmpeg_t: list[float] = []
        have_ffmpeg = shutil.which("ffmpeg") is not None
        size = 0
        for i in range(args.repeat):
            out = root / f"clip-{i}.mp4"
            t0 = time.perf_counter()
            result = remux_clip(sources, start.timestamp(), end.timestamp(), out)
            t1 = time.perf_counter()
            sha256_file(out)
            t2 = time.perf_counter()
            remux_t.append(t1 - t0)
            job_t.append(t2 - t0)
            size = out.stat().st_size
            out.unlink()
            if have_ffmpeg:
                ffmpeg_t.append(run_ffmpeg([s.path for s in sources], root))
        print(f"clip: {size / 1e6:.1f} MB, {result.frames} frames, gaps {len(result.gaps)}")
        remux, job = statistics.median(remux_t), statistics.median(job_t)
        print(f"{'':18}{'wall s (median)':>16}{'MB/s':>10}")
        print(f"{'export (remux)':18}{remux:>16.3f}{total / 1e6 / remux:>10.0f}")
        print(f"{'export (job)':18}{job:>16.3f}{total / 1e6 / job:>10.0f}")
        if have_ffmpeg:
            ff = statistics.median(ffmpeg_t)
            print(f"{'ffmpeg concat':18}{ff:>16.3f}{total / 1e6 / ff:>10.0f}")
            print(f"ratio remux / ffmpeg: {remux / ff:.2f}x (target <= 1.1x)")
            print(f"ratio job / ffmpeg:   {job / ff:.2f}x (job adds SHA-256 and manifest)")
        else:
            print("ffmpeg not installed: no comparison")
        index.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
