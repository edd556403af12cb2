"""Pieces several benchmarks share. Each script runs on its own (``python benchmarks/x.py``),
so this folder is on ``sys.path`` and ``from _common import ...`` finds it."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
import numpy.typing as npt
import psutil

__all__ = ["MovingBlock", "encode_mpegts", "pss_bytes"]


def encode_mpegts(
    frames: Iterable[npt.NDArray[np.uint8]],
    *,
    size: tuple[int, int],
    fps: int,
    gop: int,
    bit_rate: int,
) -> bytes:
    """Camera-like H.264 in MPEG-TS (Annex B on a 1/90000 clock, as from RTSP) of RGB
    frames of ``size`` (width, height): a fixed GOP and no B-frames, fast x264 settings."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        ctx = stream.codec_context
        ctx.gop_size = gop
        ctx.max_b_frames = 0
        ctx.bit_rate = bit_rate
        ctx.time_base = Fraction(1, fps)
        ctx.options = {"preset": "ultrafast", "tune": "zerolatency", "sc_threshold": "0"}
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(img, "rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return buf.getvalue()


@dataclass(frozen=True)
class MovingBlock:
    """A scene that costs bits: a background with sensor noise (+-``noise``, from ``seed``)
    and a block 60 px high from row ``top``, ``width`` px wide, moving ``step`` px a frame."""

    seed: int
    noise: int
    top: int
    width: int
    step: int
    colour: tuple[int, int, int]

    def frames(
        self, background: npt.NDArray[np.int16], count: int
    ) -> Iterator[npt.NDArray[np.uint8]]:
        height, full_width = background.shape[:2]
        rng = np.random.default_rng(self.seed)
        noise = self.noise
        for i in range(count):
            img = background + rng.integers(
                -noise, noise + 1, size=(height, full_width, 1), dtype=np.int16
            )
            x = (i * self.step) % (full_width - self.width)
            img[self.top : self.top + 60, x : x + self.width] = self.colour
            yield np.clip(img, 0, 255).astype(np.uint8)


def pss_bytes(procs: list[psutil.Process]) -> int:
    """Proportional set size summed over ``procs`` (a process gone meanwhile counts 0)."""
    total = 0
    for p in procs:
        try:
            total += p.memory_full_info().pss
        except psutil.Error:
            continue
    return total
