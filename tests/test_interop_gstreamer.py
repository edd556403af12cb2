"""H.265 with G.711 sound, Basic auth, TCP and UDP, from GStreamer's RTSP server.

The issue's own trial: a camera with H.265 video and G.711 audio, served by a server this
project did not write (gst-rtsp-server from Debian, ``make sysdeps``; run by the system
Python, ``tests/gst_rtsp_server.py``). Its only auth is Basic, on 127.0.0.1: answered,
with a warning. One camera keeps its A-law sound over TCP (stored as AAC), one drops its
µ-law sound over UDP, and says so. Segments are checked with ffprobe (``hvc1``) and PyAV.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import camera_toml, free_port, wait_for
from interop import recording, write_inventory
from media import decoded, streams_by_type

HERE = Path(__file__).resolve().parent
SYSTEM_PYTHON = "/usr/bin/python3"
PASSWORD = "gst-basic-secret"
KEEP, DROP = "gst-h265-pcma", "gst-h265-pcmu"


@pytest.fixture
def gst_port() -> Iterator[int]:
    if shutil.which("gst-inspect-1.0") is None:
        pytest.fail("GStreamer's RTSP server is missing: run `make sysdeps`")
    port = free_port()
    proc = subprocess.Popen(
        [SYSTEM_PYTHON, str(HERE / "gst_rtsp_server.py"), str(port), "admin", PASSWORD],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "ready", (line, proc.stderr.read() if proc.stderr else "")
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.timeout(90)
def test_h265_and_g711_from_gstreamer(
    tmp_path: Path, gst_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cctvctl.recorder")
    url = f"rtsp://127.0.0.1:{gst_port}"
    cameras = camera_toml(KEEP, "GStreamer H.265 + PCMA", f"{url}/h265-pcma", audio="keep")
    cameras += camera_toml(DROP, "GStreamer H.265 + PCMU", f"{url}/h265-pcmu", transport="udp")
    config = write_inventory(tmp_path, cameras, {KEEP: PASSWORD, DROP: PASSWORD})
    with recording(config) as rec:
        for camera in (KEEP, DROP):
            wait_for(
                lambda c=camera: len(rec.segments(c)) >= 2,
                60,
                what=f"two closed segments of {camera}",
            )
        kept, dropped = rec.recorder.camera(KEEP), rec.recorder.camera(DROP)
        thumb = rec.recorder.thumbnail(KEEP, 32, 18)
        assert thumb is not None and len(thumb.data) == 32 * 18 * 3

    assert kept is not None and kept.media is not None
    assert dropped is not None and dropped.media is not None
    assert (kept.media.video, kept.media.transport, kept.media.auth) == ("hevc", "tcp", "basic")
    assert (
        kept.media.audio_detail == "G.711 A-law 8000 Hz mono: kept, converted to AAC 8000 Hz mono"
    )
    assert (dropped.media.transport, dropped.media.audio_handling) == ("udp", "dropped")
    assert dropped.media.audio == "G.711 µ-law 8000 Hz mono"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"{KEEP}: the camera asks for Basic auth" in w for w in warnings), warnings
    assert not any(PASSWORD in r.getMessage() for r in caplog.records)

    for camera, with_sound in ((KEEP, True), (DROP, False)):
        rows = rec.segments(camera)
        assert rows
        for row in rows:
            streams = streams_by_type(row.path)
            assert streams["video"]["codec_name"] == "hevc"
            assert streams["video"]["codec_tag_string"] == "hvc1"
            assert ("audio" in streams) is with_sound, (camera, list(streams))
            frames, samples = decoded(row.path)
            assert frames > 0
            if with_sound:
                assert streams["audio"]["codec_name"] == "aac"
                assert streams["audio"]["sample_rate"] == "8000"
                # The segment cut by the stop may hold a frame and no sound yet.
                assert samples > 0 or row.seconds < 1, (row.seconds, samples)
    rec.index.close()
