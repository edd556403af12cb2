"""Small real fragmented MP4 files for storage tests, encoded with PyAV; and what ffprobe
and PyAV make of a recorded file.

Encoding is the slow part, so each distinct clip is encoded once per test session and
its bytes copied wherever a test wants a file.
"""

from __future__ import annotations

import functools
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import av
import numpy as np

WIDTH, HEIGHT, FPS, GOP = 320, 180, 15, 15
MUXER_OPTIONS = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}


@functools.cache
def fmp4_bytes(seconds: float = 2.0, fps: int = FPS) -> bytes:
    """A fragmented MP4 of ``seconds`` of moving gradient: one fragment per second."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4", options=dict(MUXER_OPTIONS)) as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.codec_context.gop_size = GOP
        stream.codec_context.max_b_frames = 0
        stream.codec_context.options = {"preset": "ultrafast", "tune": "zerolatency"}
        ramp = np.arange(WIDTH, dtype=np.uint16)
        for i in range(round(seconds * fps)):
            row = ((ramp + 8 * i) % 256).astype(np.uint8)
            rgb = np.empty((HEIGHT, WIDTH, 3), np.uint8)
            rgb[...] = row[None, :, None]
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buf.getvalue()


def write_fmp4(path: Path, seconds: float = 2.0, fps: int = FPS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(fmp4_bytes(seconds, fps))
    return path


def probe_streams(path: Path) -> list[dict[str, Any]]:
    """ffprobe's view of every stream in the file (codec, tag, size, sample rate, ...)."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    streams: list[dict[str, Any]] = json.loads(out)["streams"]
    return streams


def streams_by_type(path: Path) -> dict[str, dict[str, Any]]:
    """:func:`probe_streams` by codec type ("video", "audio"): one of each in our files."""
    return {s["codec_type"]: s for s in probe_streams(path)}


def decoded(path: Path) -> tuple[int, int]:
    """(video frames, audio samples) PyAV decodes from the file."""
    frames = samples = 0
    with av.open(str(path)) as container:
        for frame in container.decode(*container.streams):
            if isinstance(frame, av.VideoFrame):
                frames += 1
            else:
                samples += frame.samples
    return frames, samples
