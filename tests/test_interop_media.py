"""H.265 with AAC sound from an RTSP server this project did not write (aio-rtsp-toolkit).

Its file server streams an MP4's HEVC and AAC tracks as RTP (RFC 7798 and RFC 3640, its
own packetiser and SDP). Two cameras point at the same clip: one keeps the sound, one
drops it (the default). Segments must be ``hvc1`` (ffprobe), decode with PyAV, hold AAC
exactly when it was kept, and the camera's detail must say what happened to the sound.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from harness import camera_toml, wait_for
from interop import AioRtspServer, recording, serving_clip, write_clip, write_inventory
from media import decoded, streams_by_type

KEEP, DROP = "interop-h265-keep", "interop-h265-drop"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[AioRtspServer]:
    with serving_clip(tmp_path, partial(write_clip, codec="libx265", sound=True)) as srv:
        yield srv


@pytest.mark.timeout(90)
def test_h265_and_aac_from_aio_rtsp_toolkit(tmp_path: Path, server: AioRtspServer) -> None:
    url = server.url()
    cameras = camera_toml(KEEP, "H.265 + AAC, kept", url, user=False, audio="keep")
    cameras += camera_toml(DROP, "H.265 + AAC, dropped", url, user=False)
    with recording(write_inventory(tmp_path, cameras)) as rec:
        for camera in (KEEP, DROP):
            wait_for(
                lambda c=camera: len(rec.segments(c)) >= 2,
                40,
                what=f"two closed segments of {camera}",
            )
        kept, dropped = rec.recorder.camera(KEEP), rec.recorder.camera(DROP)
        assert kept is not None and kept.media is not None
        assert dropped is not None and dropped.media is not None
        thumb = rec.recorder.thumbnail(KEEP, 32, 18)
        assert thumb is not None and len(thumb.data) == 32 * 18 * 3

    assert kept.media.video == "hevc"
    assert kept.media.audio_handling == "kept"
    assert dropped.media.audio_handling == "dropped"
    assert dropped.media.audio_detail == "AAC 16000 Hz mono: dropped (audio = drop)"
    for camera, with_sound in ((KEEP, True), (DROP, False)):
        rows = rec.segments(camera)
        assert rows
        for row in rows:
            streams = streams_by_type(row.path)
            assert streams["video"]["codec_name"] == "hevc"
            assert streams["video"]["codec_tag_string"] == "hvc1"
            assert ("audio" in streams) is with_sound, (camera, streams.keys())
            if with_sound:
                assert streams["audio"]["codec_name"] == "aac"
            frames, samples = decoded(row.path)
            assert frames > 0
            # The segment cut by the stop may hold a frame and no sound yet.
            if not with_sound:
                assert samples == 0
            elif row.seconds >= 1:
                assert samples > 0, (row.seconds, samples)
    rec.index.close()
