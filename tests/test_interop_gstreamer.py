"""H.265 with G.711 sound, Basic auth, TCP and UDP, from GStreamer's RTSP server.

The issue's own trial: a camera with H.265 video and G.711 audio, served by a server this
project did not write (gst-rtsp-server from Debian, ``make sysdeps``; run by the system
Python, ``tests/gst_rtsp_server.py``). Its only auth is Basic, on 127.0.0.1: answered,
with a warning. One camera keeps its A-law sound over TCP (stored as AAC), one drops its
µ-law sound over UDP, and says so. Segments are checked with ffprobe (``hvc1``) and PyAV.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from harness import camera_toml, free_port, wait_for

from cctvctl.config import load_inventory
from cctvctl.recorder.manager import Recorder
from cctvctl.storage.database import Database
from cctvctl.storage.event_store import EventStore
from cctvctl.storage.events import EventBus

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


def _inventory(directory: Path, port: int) -> Path:
    config = directory / "gst.toml"
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
        + camera_toml(KEEP, "GStreamer H.265 + PCMA", f"rtsp://127.0.0.1:{port}/h265-pcma")
        + '    audio = "keep"\n\n'
        + camera_toml(DROP, "GStreamer H.265 + PCMU", f"rtsp://127.0.0.1:{port}/h265-pcmu")
        + '    transport = "udp"\n',
        encoding="utf-8",
    )
    (directory / "secrets.toml").write_text(
        f'[passwords]\n{KEEP} = "{PASSWORD}"\n{DROP} = "{PASSWORD}"\n', encoding="utf-8"
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
def test_h265_and_g711_from_gstreamer(
    tmp_path: Path, gst_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cctvctl.recorder")
    inventory = load_inventory(_inventory(tmp_path, gst_port))
    index = Database(inventory.storage)
    recorder = Recorder(inventory, index, EventBus(EventStore(index)))
    epoch = index.created()
    recorder.start()
    try:
        for camera in (KEEP, DROP):
            wait_for(
                lambda c=camera: len(index.segments(c, epoch, epoch.replace(year=2100))) >= 2,
                60,
                what=f"two closed segments of {camera}",
            )
        kept, dropped = recorder.camera(KEEP), recorder.camera(DROP)
        thumb = recorder.thumbnail(KEEP, 32, 18)
        assert thumb is not None and len(thumb.data) == 32 * 18 * 3
    finally:
        recorder.stop()

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
        rows = index.segments(camera, epoch, epoch.replace(year=2100))
        assert rows
        for row in rows:
            streams = _streams(row.path)
            assert streams["video"]["codec_name"] == "hevc"
            assert streams["video"]["codec_tag_string"] == "hvc1"
            assert ("audio" in streams) is with_sound, (camera, list(streams))
            frames = samples = 0
            with av.open(str(row.path)) as container:
                for frame in container.decode(*container.streams):
                    if isinstance(frame, av.VideoFrame):
                        frames += 1
                    else:
                        samples += frame.samples
            assert frames > 0
            if with_sound:
                assert streams["audio"]["codec_name"] == "aac"
                assert streams["audio"]["sample_rate"] == "8000"
                # The segment cut by the stop may hold a frame and no sound yet.
                assert samples > 0 or row.seconds < 1, (row.seconds, samples)
    index.close()
