"""The recorder against an RTSP server this project did not write: aio-rtsp-toolkit's.

Its file server streams an MP4 over RTSP/TCP (interleaved RTP) and loops it. It differs
from our simulator where it matters to a client: no frame rate in the SDP, its own RTP
timestamps and packetisation, and the clip restarts every few seconds. The recorder
must still produce segments that decode and an index that matches them.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
from aio_rtsp_toolkit.server import RtspServer
from harness import camera_toml, free_port, wait_for

from cctvctl.config import load_inventory
from cctvctl.models import CameraStatus
from cctvctl.recorder.manager import Recorder
from cctvctl.storage.database import Database
from cctvctl.storage.event_store import EventStore
from cctvctl.storage.events import EventBus

FPS = 15
SECONDS = 4
CAMERA = "interop-01"


def _write_clip(path: Path) -> None:
    """A small H.264 MP4: a moving bar on a fixed colour, one keyframe per second."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        stream.codec_context.gop_size = FPS
        stream.codec_context.max_b_frames = 0
        stream.codec_context.options = {"preset": "ultrafast"}
        for i in range(SECONDS * FPS):
            rgb = np.empty((180, 320, 3), np.uint8)
            rgb[:] = (40, 120, 200)
            rgb[:, (i * 5) % 300 : (i * 5) % 300 + 20] = 255
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


class _Server:
    """aio-rtsp-toolkit's RtspServer on its own event loop in a thread."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._server = RtspServer(str(directory), host="127.0.0.1", port=self.port)
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._server.start(), self._loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._server.close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


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
    config = directory / "interop.toml"
    config.write_text(
        """
[server]
storage = "recordings"
segment_seconds = 2
offline_after = 5
secrets = "secrets.toml"

[[kecamatan]]
name = "Sangatta Utara"

  [[kecamatan.site]]
  name = "Kantor Camat Sangatta Utara"
  kind = "kantor_kecamatan"

"""
        + camera_toml(
            CAMERA,
            "aio-rtsp-toolkit file server",
            f"rtsp://127.0.0.1:{port}/clip.mp4?play_count=0",
            username="viewer",
        ),
        encoding="utf-8",
    )
    # The file server ignores credentials; the recorder sends them anyway.
    (directory / "secrets.toml").write_text(
        f'[passwords]\n{CAMERA} = "interop-secret"\n', encoding="utf-8"
    )
    return config


@pytest.mark.timeout(60)
def test_records_from_aio_rtsp_toolkit(tmp_path: Path, server: _Server) -> None:
    inventory = load_inventory(_inventory(tmp_path, server.port))
    index = Database(inventory.storage)
    recorder = Recorder(inventory, index, EventBus(EventStore(index)))
    epoch = index.created()
    recorder.start()
    try:
        # Long enough to cross the clip's loop point (4 s) at least once.
        wait_for(
            lambda: len(index.segments(CAMERA, epoch, epoch.replace(year=2100))) >= 3,
            30,
            what="three closed segments",
        )
        cam = recorder.camera(CAMERA)
        assert cam is not None
        assert cam.status is CameraStatus.ONLINE, cam
        assert cam.last_error is None
        # The SDP has no frame rate; the recorder reads it from the timestamps.
        assert cam.expected_fps == pytest.approx(FPS, rel=0.05)
        assert cam.fps == pytest.approx(FPS, rel=0.25)
        thumb = recorder.thumbnail(CAMERA, 32, 18)
        assert thumb is not None and len(thumb.data) == 32 * 18 * 3
    finally:
        began = time.monotonic()
        recorder.stop()
        assert time.monotonic() - began < 10

    rows = index.segments(CAMERA, epoch, epoch.replace(year=2100))
    index.close()
    assert {r.path for r in rows} == set(inventory.storage.rglob("*.mp4"))
    assert len(rows) >= 3
    for row in rows:
        assert row.bytes == row.path.stat().st_size
        decoded = 0
        with av.open(str(row.path)) as container:
            stream = container.streams.video[0]
            assert (stream.codec_context.width, stream.codec_context.height) == (320, 180)
            for packet in container.demux(stream):
                decoded += len(packet.decode())
        assert decoded > 0
        # Every frame the index counted is in the file and decodes (last ones on flush).
        assert row.frames is not None and decoded >= row.frames - 2
        assert row.seconds == pytest.approx(row.frames / FPS, abs=2 / FPS)
