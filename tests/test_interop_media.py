"""H.265 with AAC sound from an RTSP server this project did not write (aio-rtsp-toolkit).

Its file server streams an MP4's HEVC and AAC tracks as RTP (RFC 7798 and RFC 3640, its
own packetiser and SDP). Two cameras point at the same clip: one keeps the sound, one
drops it (the default). Segments must be ``hvc1`` (ffprobe), decode with PyAV, hold AAC
exactly when it was kept, and the camera's detail must say what happened to the sound.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
from harness import camera_toml, wait_for
from test_interop_rtsp import _Server

from cctvctl.config import load_inventory
from cctvctl.recorder.manager import Recorder
from cctvctl.storage.database import Database
from cctvctl.storage.event_store import EventStore
from cctvctl.storage.events import EventBus

FPS = 15
SECONDS = 4
RATE = 16000
KEEP, DROP = "interop-h265-keep", "interop-h265-drop"


def _write_clip(path: Path) -> None:
    """A small HEVC + AAC MP4: a moving bar, one keyframe per second, a 440 Hz tone."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx265", rate=FPS)
        video.width, video.height, video.pix_fmt = 320, 180, "yuv420p"
        video.codec_context.gop_size = FPS
        video.codec_context.max_b_frames = 0
        video.codec_context.options = {
            "preset": "ultrafast",
            "x265-params": f"keyint={FPS}:bframes=0:log-level=error",
        }
        audio = out.add_stream("aac", rate=RATE, layout="mono")
        for i in range(SECONDS * FPS):
            rgb = np.empty((180, 320, 3), np.uint8)
            rgb[:] = (200, 120, 40)
            rgb[:, (i * 5) % 300 : (i * 5) % 300 + 20] = 255
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        t = np.arange(SECONDS * RATE) / RATE
        tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        for start in range(0, len(tone) - 1024 + 1, 1024):
            chunk = av.AudioFrame.from_ndarray(
                tone[start : start + 1024].reshape(1, -1), format="fltp", layout="mono"
            )
            chunk.sample_rate = RATE
            chunk.pts = start
            out.mux(audio.encode(chunk))
        out.mux(audio.encode(None))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[_Server]:
    media = tmp_path / "media"
    media.mkdir()
    _write_clip(media / "clip.mp4")
    srv = _Server(media)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _inventory(directory: Path, port: int) -> Path:
    url = f"rtsp://127.0.0.1:{port}/clip.mp4?play_count=0"
    config = directory / "interop.toml"
    config.write_text(
        """
[server]
storage = "recordings"
segment_seconds = 2
offline_after = 5

[[kecamatan]]
name = "Sangatta Utara"

  [[kecamatan.site]]
  name = "Kantor Camat Sangatta Utara"
  kind = "kantor_kecamatan"

"""
        + camera_toml(KEEP, "H.265 + AAC, kept", url, user=False, audio="keep")
        + camera_toml(DROP, "H.265 + AAC, dropped", url, user=False),
        encoding="utf-8",
    )
    return config


def _streams(path: Path) -> dict[str, dict[str, str]]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {s["codec_type"]: s for s in json.loads(out)["streams"]}


@pytest.mark.timeout(90)
def test_h265_and_aac_from_aio_rtsp_toolkit(tmp_path: Path, server: _Server) -> None:
    inventory = load_inventory(_inventory(tmp_path, server.port))
    index = Database(inventory.storage)
    recorder = Recorder(inventory, index, EventBus(EventStore(index)))
    epoch = index.created()
    recorder.start()
    try:
        for camera in (KEEP, DROP):
            wait_for(
                lambda c=camera: len(index.segments(c, epoch, epoch.replace(year=2100))) >= 2,
                40,
                what=f"two closed segments of {camera}",
            )
        kept, dropped = recorder.camera(KEEP), recorder.camera(DROP)
        assert kept is not None and kept.media is not None
        assert dropped is not None and dropped.media is not None
        thumb = recorder.thumbnail(KEEP, 32, 18)
        assert thumb is not None and len(thumb.data) == 32 * 18 * 3
    finally:
        recorder.stop()

    assert kept.media.video == "hevc"
    assert kept.media.audio_handling == "kept"
    assert dropped.media.audio_handling == "dropped"
    assert dropped.media.audio_detail == "AAC 16000 Hz mono: dropped (audio = drop)"
    for camera, with_sound in ((KEEP, True), (DROP, False)):
        rows = index.segments(camera, epoch, epoch.replace(year=2100))
        assert rows
        for row in rows:
            streams = _streams(row.path)
            assert streams["video"]["codec_name"] == "hevc"
            assert streams["video"]["codec_tag_string"] == "hvc1"
            assert ("audio" in streams) is with_sound, (camera, streams.keys())
            if with_sound:
                assert streams["audio"]["codec_name"] == "aac"
            frames = samples = 0
            with av.open(str(row.path)) as container:
                for frame in container.decode(*container.streams):
                    if isinstance(frame, av.VideoFrame):
                        frames += 1
                    else:
                        samples += frame.samples
            assert frames > 0
            # The segment cut by the stop may hold a frame and no sound yet.
            if not with_sound:
                assert samples == 0
            elif row.seconds >= 1:
                assert samples > 0, (row.seconds, samples)
    index.close()
