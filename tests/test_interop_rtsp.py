"""The recorder against an RTSP server this project did not write: aio-rtsp-toolkit's.

Its file server streams an MP4 over RTSP/TCP (interleaved RTP) and loops it. It differs
from our simulator where it matters to a client: no frame rate in the SDP, its own RTP
timestamps and packetisation, and the clip restarts every few seconds. The recorder
must still produce segments that decode and an index that matches them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from harness import camera_toml, wait_for
from interop import FPS, AioRtspServer, recording, serving_clip, write_clip, write_inventory

from cctvctl.models import CameraStatus

CAMERA = "interop-01"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[AioRtspServer]:
    with serving_clip(tmp_path, write_clip) as srv:
        yield srv


@pytest.mark.timeout(60)
def test_records_from_aio_rtsp_toolkit(tmp_path: Path, server: AioRtspServer) -> None:
    camera = camera_toml(CAMERA, "aio-rtsp-toolkit file server", server.url(), username="viewer")
    # The file server ignores credentials; the recorder sends them anyway.
    config = write_inventory(tmp_path, camera, {CAMERA: "interop-secret"})
    with recording(config) as rec:
        # Long enough to cross the clip's loop point (4 s) at least once.
        wait_for(lambda: len(rec.segments(CAMERA)) >= 3, 30, what="three closed segments")
        cam = rec.recorder.camera(CAMERA)
        assert cam is not None
        assert cam.status is CameraStatus.ONLINE, cam
        assert cam.last_error is None
        # The SDP has no frame rate; the recorder reads it from the timestamps.
        assert cam.expected_fps == pytest.approx(FPS, rel=0.05)
        assert cam.fps == pytest.approx(FPS, rel=0.25)
        thumb = rec.recorder.thumbnail(CAMERA, 32, 18)
        assert thumb is not None and len(thumb.data) == 32 * 18 * 3
    assert rec.stop_seconds < 10

    rows = rec.segments(CAMERA)
    rec.index.close()
    assert {r.path for r in rows} == set((tmp_path / "recordings").rglob("*.mp4"))
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
