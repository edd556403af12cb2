"""CPU cost of recording one camera with SegmentWriter (remux to fragmented MP4).

Run: .venv/bin/python benchmarks/remux.py [--seconds S] [--repeat N] [--threads T]

Encodes a camera-like 640x360 15 fps H.264 stream of about 500 kbit/s once (MPEG-TS, so
packets are Annex B on a 1/90000 clock as from RTSP), demuxes it into memory, then feeds
the packets through SegmentWriter as fast as it will take them, writing real files.
Prints figures only:
  cpu s / stream-min   process CPU seconds per minute of footage (the headline figure)
  us / packet          the same per packet
  bare mux             the same for a loop that only calls PyAV mux_one on one file: what
                       libavformat costs by itself, so the difference is our Python
  streams / core       how many such cameras one fully busy core could record
  segment roll         CPU to close one file and open the next (once a minute in service)
  threads              T writers at once, one thread each, as the server runs them
"""

from __future__ import annotations

import argparse
import io
import math
import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from _common import MovingBlock, encode_mpegts

from cctvctl.recorder.segmenter import MUXER_OPTIONS, SegmentRecord, SegmentWriter

WIDTH, HEIGHT, FPS, GOP = 640, 360, 15, 30
BIT_RATE = 500_000
SCENE = MovingBlock(seed=7, noise=6, top=200, width=80, step=7, colour=(220, 40, 40))


def encode(seconds: int) -> bytes:
    """A street-like scene with a moving object and sensor noise, so bits are spent."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    background = np.stack(
        [(90 + 60 * y / HEIGHT), (140 + 0.1 * x), (200 - 40 * y / HEIGHT)], -1
    ).astype(np.int16)
    scene = SCENE.frames(background, seconds * FPS)
    return encode_mpegts(scene, size=(WIDTH, HEIGHT), fps=FPS, gop=GOP, bit_rate=BIT_RATE)


@dataclass
class Feed:
    """Pre-demuxed packets plus what SegmentWriter overwrites, so a pass can be replayed."""

    container: av.container.InputContainer
    stream: av.VideoStream
    packets: list[av.Packet[Any]]
    original: list[tuple[int | None, int | None, int | None, Fraction]]

    @classmethod
    def load(cls, data: bytes) -> Feed:
        container = av.open(io.BytesIO(data), "r")
        stream = container.streams.video[0]
        packets = [p for p in container.demux(stream) if p.size]
        original = [(p.pts, p.dts, p.duration, p.time_base) for p in packets]
        return cls(container, stream, packets, original)

    def reset(self) -> None:
        for p, (pts, dts, dur, tb) in zip(self.packets, self.original, strict=True):
            p.time_base = tb
            p.pts, p.dts, p.duration = pts, dts, dur
            p.stream = self.stream

    @property
    def media_seconds(self) -> float:
        first, last = self.original[0], self.original[-1]
        assert first[0] is not None and last[0] is not None
        return float((last[0] - first[0] + (last[2] or 0)) * last[3])

    @property
    def payload_bytes(self) -> int:
        return sum(p.size for p in self.packets)


def run_writer(
    feed: Feed, storage: Path, records: list[SegmentRecord], segment_seconds: float = 60
) -> None:
    writer = SegmentWriter(
        feed.stream,
        storage=storage,
        kecamatan_slug="bench",
        camera_id=f"cam-{threading.get_ident()}",
        on_segment=records.append,
        segment_seconds=segment_seconds,
        wall_start=datetime(2024, 5, 1, tzinfo=UTC),
        reanchor_seconds=None,  # a replay faster than real time, not a live camera
    )
    write = writer.write
    for p in feed.packets:
        write(p)
    writer.close()


def run_bare(feed: Feed, storage: Path) -> None:
    """The floor: libavformat remuxing into one fMP4 file with no bookkeeping at all."""
    with av.open(str(storage / "bare.mp4"), "w", format="mp4", options=dict(MUXER_OPTIONS)) as out:
        ostream = out.add_stream_from_template(feed.stream, opaque=True)
        mux = out.mux_one
        for p in feed.packets:
            p.stream = ostream
            mux(p)


def timed(fn: Any, *args: Any) -> tuple[float, float]:
    c0, w0 = time.process_time(), time.perf_counter()
    fn(*args)
    return time.process_time() - c0, time.perf_counter() - w0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=120, help="length of the test stream")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: tmp)")
    args = parser.parse_args()

    t0 = time.perf_counter()
    data = encode(args.seconds)
    encode_s = time.perf_counter() - t0
    feed = Feed.load(data)
    minutes = feed.media_seconds / 60
    kbps = feed.payload_bytes * 8 / feed.media_seconds / 1000
    print(
        f"stream: {WIDTH}x{HEIGHT} {FPS} fps GOP {GOP}, {feed.media_seconds:.1f} s, "
        f"{len(feed.packets)} packets, {kbps:.0f} kbit/s (encoded in {encode_s:.1f} s)"
    )

    root = Path(tempfile.mkdtemp(prefix="remux-bench-", dir=args.dir))
    try:
        cpu_w: list[float] = []
        cpu_b: list[float] = []
        for i in range(args.repeat):
            records: list[SegmentRecord] = []
            feed.reset()
            cpu, _ = timed(run_writer, feed, root / f"w{i}", records)
            cpu_w.append(cpu)
            assert sum(r.frames for r in records) == len(feed.packets)
            feed.reset()
            (root / f"b{i}").mkdir()
            cpu, _ = timed(run_bare, feed, root / f"b{i}")
            cpu_b.append(cpu)
        w, b = statistics.median(cpu_w), statistics.median(cpu_b)
        n = len(feed.packets)
        print(f"{'':22}{'cpu s / stream-min':>20}{'us / packet':>14}{'streams / core':>16}")
        for name, cpu in (("SegmentWriter", w), ("bare mux", b)):
            per_min = cpu / minutes
            print(f"{name:22}{per_min:>20.4f}{cpu / n * 1e6:>14.1f}{60 / per_min:>16.0f}")
        print(f"{'python overhead':22}{(w - b) / minutes:>20.4f}{(w - b) / n * 1e6:>14.1f}")

        # What one roll (close a file, open the next) costs: GOP-sized segments vs 60 s.
        short: list[float] = []
        for i in range(args.repeat):
            records = []
            feed.reset()
            cpu, _ = timed(run_writer, feed, root / f"s{i}", records, GOP / FPS)
            short.append(cpu)
        rolls = len(records) - math.ceil(feed.media_seconds / 60)
        per_roll = (statistics.median(short) - w) / rolls
        print(f"segment roll: {per_roll * 1e3:.2f} ms cpu each ({rolls} extra rolls measured)")

        # T cameras at once, one thread each, the way the server runs them.
        feeds = [Feed.load(data) for _ in range(args.threads)]
        threads = [
            threading.Thread(target=run_writer, args=(f, root / f"t{k}", []))
            for k, f in enumerate(feeds)
        ]

        def run_all() -> None:
            for t in threads:
                t.start()
            for t in threads:
                t.join()

        cpu, wall = timed(run_all)
        total_min = minutes * args.threads
        print(
            f"threads x{args.threads}: {cpu / total_min:.4f} cpu s / stream-min, "
            f"{total_min * 60 / wall:.0f}x real time in {wall:.2f} s wall"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
