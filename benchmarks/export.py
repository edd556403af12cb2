"""Wall time of exporting 30 minutes of footage, against ffmpeg's concat demuxer, warm and cold.

Run: .venv/bin/python benchmarks/export.py [--minutes 30] [--segment 60] [--repeat 3] [--dir D]

Synthesises the footage with the project's own SegmentWriter (so the files are exactly
what the recorder writes: fragmented MP4, a fragment per keyframe, 60 s segments) from a
camera-like 640x360 15 fps H.264 stream, indexes it, then times:

  export (remux)        cctvctl.exports.remux_clip over the whole window: demux every
                        segment, rebase timestamps, mux one MP4 with +faststart
  export (job)          the same plus what a job adds: SHA-256 of the clip
  ffmpeg concat         ffmpeg -f concat -safe 0 -i list.txt -c copy -movflags +faststart
                        over the same segment files, as a process (skipped without ffmpeg)
  ffmpeg start          `ffmpeg -version`: exec and loading ffmpeg's libraries, no media;
                        "ffmpeg minus start" is the concat time less this estimate
  libav concat (PyAV)   the same concat copy in this process through PyAV's libavformat
                        (concat demuxer -> mp4 muxer with +faststart): ffmpeg's own work
                        without a process start

each --repeat times with the segment files in the page cache (warm) and evicted from it
(cold: fsync, then posix_fadvise DONTNEED per file, and fincore to check what stayed
resident), and prints the medians and the ratios. Target: remux <= 1.1x ffmpeg. Figures
only; nothing is asserted. Caveats are printed with the figures.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np
from _common import MovingBlock, encode_mpegts

from cctvctl.exports import Source, remux_clip, sha256_file
from cctvctl.recorder.segmenter import SegmentRecord, SegmentWriter
from cctvctl.storage.database import Database

WIDTH, HEIGHT, FPS, GOP = 640, 360, 15, 30
BIT_RATE = 600_000
CHUNK_SECONDS = 60
START = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
SCENE = MovingBlock(seed=11, noise=8, top=150, width=60, step=5, colour=(230, 200, 30))


def encode_chunk(seconds: int) -> bytes:
    """An MPEG-TS H.264 chunk: gradient, noise and a moving block, so bits are spent."""
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    base = np.stack([40 + 0.3 * xx, 80 + 0.5 * yy, 120 + 0 * xx], -1).astype(np.int16)
    scene = SCENE.frames(base, seconds * FPS)
    return encode_mpegts(scene, size=(WIDTH, HEIGHT), fps=FPS, gop=GOP, bit_rate=BIT_RATE)


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
        reanchor_seconds=None,  # a replay faster than real time, not a live camera
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


# --------------------------------------------------------------------------- the page cache


def evict(paths: list[Path]) -> None:
    """Drop these files' pages from the page cache (only theirs: the machine is shared)."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)  # dirty pages would stay
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def warm(paths: list[Path]) -> None:
    for path in paths:
        with path.open("rb") as fh:
            while fh.read(1 << 20):
                pass


def resident_share(paths: list[Path]) -> float | None:
    """Share of the files' bytes in the page cache (fincore), or None without fincore."""
    if shutil.which("fincore") is None:
        return None
    out = subprocess.run(
        ["fincore", "--bytes", "--noheadings", "--raw", "--output", "RES,SIZE", *map(str, paths)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    res = size = 0
    for line in out.splitlines():
        r, s = line.split()
        res, size = res + int(r), size + int(s)
    return res / size if size else None


# --------------------------------------------------------------------------- the contenders


def run_remux(sources: list[Source], start: datetime, end: datetime, out: Path) -> float:
    t0 = time.perf_counter()
    remux_clip(sources, start.timestamp(), end.timestamp(), out)
    return time.perf_counter() - t0


def run_job(sources: list[Source], start: datetime, end: datetime, out: Path) -> float:
    t0 = time.perf_counter()
    remux_clip(sources, start.timestamp(), end.timestamp(), out)
    sha256_file(out)
    return time.perf_counter() - t0


def run_ffmpeg(listing: Path, out: Path) -> float:
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


def run_ffmpeg_start() -> float:
    t0 = time.perf_counter()
    subprocess.run(["ffmpeg", "-hide_banner", "-version"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def run_libav_concat(listing: Path, out: Path) -> float:
    """ffmpeg's concat copy, in this process: concat demuxer into the mp4 muxer."""
    t0 = time.perf_counter()
    with (
        av.open(str(listing), format="concat", options={"safe": "0"}) as src,
        av.open(str(out), "w", format="mp4", options={"movflags": "+faststart"}) as dst,
    ):
        ist = src.streams.video[0]
        ost = dst.add_stream_from_template(ist, opaque=True)
        for pkt in src.demux(ist):
            if pkt.dts is None or not pkt.size:
                continue
            pkt.stream = ost
            dst.mux_one(pkt)
    return time.perf_counter() - t0


# --------------------------------------------------------------------------- main


def ffmpeg_version() -> str:
    out = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout
    # "ffmpeg version 5.1.6-0+deb12u1 Copyright ..." -> "ffmpeg version 5.1.6-0+deb12u1"
    return " ".join(out.split()[:3]) if out else "ffmpeg"


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
        index.close()
        sources = [Source.of(r) for r in rows]
        files = [s.path for s in sources]
        total = sum(s.bytes for s in sources)
        frames = sum(r.frames or 0 for r in rows)
        listing = root / "list.txt"
        listing.write_text("".join(f"file '{p}'\n" for p in files), encoding="utf-8")
        fs = subprocess.run(
            ["df", "--output=fstype", str(root)], capture_output=True, text=True
        ).stdout.split()
        print(
            f"footage: {args.minutes} min, {WIDTH}x{HEIGHT} {FPS} fps GOP {GOP / FPS:g} s, "
            f"{len(rows)} segments of {args.segment:g} s, {total / 1e6:.1f} MB, {frames} frames "
            f"(synthesised in {made:.1f} s) under {root} ({fs[-1] if fs else '?'})"
        )

        have_ffmpeg = shutil.which("ffmpeg") is not None
        contenders: dict[str, Callable[[Path], float]] = {
            "export (remux)": lambda out: run_remux(sources, start, end, out),
            "export (job)": lambda out: run_job(sources, start, end, out),
            "libav concat (PyAV)": lambda out: run_libav_concat(listing, out),
        }
        if have_ffmpeg:
            contenders["ffmpeg concat"] = lambda out: run_ffmpeg(listing, out)
        times: dict[tuple[str, str], list[float]] = {}
        resident: list[float] = []
        sizes: dict[str, int] = {}
        for _ in range(args.repeat):
            for cache in ("warm", "cold"):
                for name, run in contenders.items():
                    out = root / "clip.mp4"
                    if cache == "warm":
                        warm(files)
                    else:
                        evict(files)
                        share = resident_share(files)
                        if share is not None:
                            resident.append(share)
                    times.setdefault((name, cache), []).append(run(out))
                    sizes[name] = out.stat().st_size
                    out.unlink()
        starts = [run_ffmpeg_start() for _ in range(max(5, args.repeat))] if have_ffmpeg else []

        med = {key: statistics.median(v) for key, v in times.items()}
        print("clip sizes: " + ", ".join(f"{n} {b / 1e6:.1f} MB" for n, b in sizes.items()))
        print(
            f"{'':28}{'warm s':>9}{'MB/s':>7}{'cold s':>9}{'MB/s':>7}   (medians of {args.repeat})"
        )
        for name in contenders:
            w, c = med[(name, "warm")], med[(name, "cold")]
            print(f"{name:28}{w:>9.3f}{total / 1e6 / w:>7.0f}{c:>9.3f}{total / 1e6 / c:>7.0f}")
        if have_ffmpeg:
            start_cost = statistics.median(starts)
            print(
                f"{'ffmpeg start (-version)':28}{start_cost:>9.3f}"
                f"{'':16}   (median of {len(starts)})"
            )
            for cache in ("warm", "cold"):
                net = med[("ffmpeg concat", cache)] - start_cost
                remux = med[("export (remux)", cache)]
                libav = med[("libav concat (PyAV)", cache)]
                print(
                    f"{cache}: remux / ffmpeg process {remux / med[('ffmpeg concat', cache)]:.2f}x,"
                    f" / ffmpeg minus start {remux / net:.2f}x (start {start_cost:.3f} s of"
                    f" {med[('ffmpeg concat', cache)]:.3f} s), / libav in-process"
                    f" {remux / libav:.2f}x; job / ffmpeg process"
                    f" {med[('export (job)', cache)] / med[('ffmpeg concat', cache)]:.2f}x"
                    " (target: remux <= 1.1x)"
                )
        else:
            remux, libav = med[("export (remux)", "warm")], med[("libav concat (PyAV)", "warm")]
            print(f"ffmpeg not installed; warm: remux / libav in-process {remux / libav:.2f}x")
        if resident:
            cold = (
                f"at most {100 * max(resident):.1f} % of the footage was resident before a"
                " cold run (fincore)"
            )
        else:
            cold = "fincore is missing, so how cold the cold runs were is not checked"
        print(
            f"""
caveats:
- warm: every segment file read just before the run, so all of it is in the page cache.
  cold: each file fsynced and evicted (posix_fadvise DONTNEED) just before the run:
  {cold}.
  Only the footage is evicted, not the programs or libraries, and the clip is written
  into the page cache (no fsync) on every side. On a virtual machine the host may still
  cache the disk, so cold reads can be faster than from a real disk.
- {ffmpeg_version() if have_ffmpeg else "ffmpeg is not installed"}; PyAV {av.__version__}
  brings its own libavformat {".".join(map(str, av.library_versions["libavformat"]))}:
  the same work, different builds.
- "ffmpeg minus start" subtracts `ffmpeg -version`'s wall time, an estimate of exec and
  library loading; the libav row is ffmpeg's concat copy without any process start.
- export (job) adds only the clip's SHA-256 here; the index rows, manifest and audit
  entry of a real job are not timed.
- the footage replays one encoded 60 s chunk, so every minute holds the same bytes."""
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
