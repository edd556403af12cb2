"""recorder/audio.py on real streams (files PyAV writes): the plan for each codec and
choice, and G.711 converted to AAC."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from cctvctl.recorder.audio import AacConverter, plan_audio

RATE = 8000


def _write(path: Path, codec: str, rate: int, fmt: str) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        size = 1024 if codec != "pcm_alaw" else 160
        tone = np.sin(2 * np.pi * 440 * np.arange(rate) / rate) * 0.3
        for start in range(0, rate - size + 1, size):
            block = tone[start : start + size]
            data = (block * 32767).astype(np.int16) if fmt == "s16" else block.astype(np.float32)
            frame = av.AudioFrame.from_ndarray(data.reshape(1, -1), format=fmt, layout="mono")
            frame.sample_rate = rate
            frame.pts = start
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


@contextmanager
def _audio(path: Path) -> Iterator[Any]:
    with av.open(str(path)) as container:
        yield container, container.streams.audio[0]


@pytest.mark.parametrize(
    ("name", "codec", "fmt", "choice", "handling", "detail"),
    [
        ("a.m4a", "aac", "fltp", "keep", "kept", "AAC 16000 Hz mono: kept as sent"),
        ("a.m4a", "aac", "fltp", "drop", "dropped", "AAC 16000 Hz mono: dropped (audio = drop)"),
        (
            "g.wav",
            "pcm_alaw",
            "s16",
            "keep",
            "converted",
            "G.711 A-law 8000 Hz mono: kept, converted to AAC 8000 Hz mono",
        ),
        (
            "o.mkv",
            "libopus",
            "s16",
            "keep",
            "unsupported",
            "opus 48000 Hz mono: dropped, cannot be stored (accepted: AAC, G.711)",
        ),
    ],
)
def test_plan(
    tmp_path: Path, name: str, codec: str, fmt: str, choice: str, handling: str, detail: str
) -> None:
    rate = {"aac": 16000, "pcm_alaw": 8000, "libopus": 48000}[codec]
    path = _write(tmp_path / name, codec, rate, fmt)
    with _audio(path) as (_, stream):
        plan = plan_audio(stream, choice)
    assert (plan.handling, plan.detail) == (handling, detail)
    assert plan.stored is (handling in ("kept", "converted"))


def test_no_audio_track() -> None:
    plan = plan_audio(None, "keep")
    assert (plan.codec, plan.handling, plan.detail) == (None, "none", "no audio track")


def test_g711_becomes_aac(tmp_path: Path) -> None:
    path = _write(tmp_path / "g.wav", "pcm_alaw", RATE, "s16")
    with _audio(path) as (container, stream):
        converter = AacConverter(stream)
        made: list[Any] = []
        for packet in container.demux(stream):
            if not packet.size:
                continue
            made += converter.convert(packet)
    assert converter.errors == 0
    # A second of sound in 1024-sample AAC frames (the encoder holds the last ones back).
    assert 5 <= len(made) <= 8
    pts = [p.pts for p in made]
    assert pts == sorted(pts) and len(set(pts)) == len(pts)
    # Raw AAC needs its AudioSpecificConfig: the one any encoder of these settings gives.
    reference: Any = av.CodecContext.create("aac", "w")
    reference.sample_rate, reference.layout, reference.format = RATE, "mono", "fltp"
    reference.open()
    decoder: Any = av.CodecContext.create("aac", "r")
    decoder.extradata = reference.extradata
    samples = sum(f.samples for p in made for f in decoder.decode(p))
    assert samples >= 4 * 1024
