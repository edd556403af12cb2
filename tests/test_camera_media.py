"""Real cameras' codecs, sound, transports and auth: simulator -> recorder -> segments.

One site of thirteen cameras, each a different mix the market sells, served by the simulator
and recorded by a real ``cctvctl server``. Every segment is checked with ffprobe (codec,
sample entry ``hvc1``) and decoded with PyAV; the camera detail from the API must say what
each camera's audio is and what was done with it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from cli_process import last_error, node_env, run_cctvctl
from harness import Live, SiteSpec, live_site, wait_for
from media import decoded, probe_streams, streams_by_type
from tui_pilot import screen_text, until

from cctvctl.sim.scene import scene_colour
from cctvctl.storage.database import Database
from cctvctl.storage.event_store import EventStore
from cctvctl.storage.events import CAMERA_REANCHOR
from cctvctl.tui.app import CctvApp
from cctvctl.tui.screens.camera import CameraScreen

H265_AAC_KEEP = 0  # hevc + AAC, kept as sent
H264_PCMA_KEEP = 1  # G.711 A-law converted to AAC
H265_PCMU_DROP = 2  # audio dropped (the default), said so in the detail
UDP_ONLY = 3  # simulator speaks only UDP; recorder asks for UDP
UDP_AUTO = 4  # simulator speaks only UDP; recorder on auto (TCP, then UDP)
BASIC_LOOPBACK = 5  # Basic auth on 127.0.0.1: accepted, with a warning
NO_USER = 6  # no credentials at all
AUTO_ON_TCP = 7  # simulator speaks TCP; recorder on auto: TCP is tried first and kept
# The rest of the codec x sound matrix, every sound kept (the three above cover H.265 +
# AAC, H.264 + A-law and, dropped, H.265 + µ-law; H.264 alone is most of the others).
H264_AAC_KEEP = 8
H265_PCMA_KEEP = 9
H264_PCMU_KEEP = 10
H265_PCMU_KEEP = 11
H265_ALONE = 12
KEPT = {
    H265_AAC_KEEP: ("hevc", "aac"),
    H264_PCMA_KEEP: ("h264", "pcma"),
    H264_AAC_KEEP: ("h264", "aac"),
    H265_PCMA_KEEP: ("hevc", "pcma"),
    H264_PCMU_KEEP: ("h264", "pcmu"),
    H265_PCMU_KEEP: ("hevc", "pcmu"),
    H265_ALONE: ("hevc", "none"),
    NO_USER: ("h264", "none"),
}

SPEC = SiteSpec(
    cameras=13,
    kecamatan=("Sangatta Utara",),
    segment_seconds=2,
    camera_lines={
        H265_AAC_KEEP: ('audio = "keep"', 'sim = { codec = "h265", audio = "aac" }'),
        H264_PCMA_KEEP: ('audio = "keep"', 'sim = { audio = "pcma" }'),
        H265_PCMU_DROP: ('sim = { codec = "h265", audio = "pcmu" }',),
        UDP_ONLY: ('transport = "udp"', 'sim = { transport = "udp" }'),
        UDP_AUTO: ('transport = "auto"', 'sim = { transport = "udp", audio = "pcma" }'),
        BASIC_LOOPBACK: ('sim = { auth = "basic" }',),
        AUTO_ON_TCP: ('transport = "auto"',),
        H264_AAC_KEEP: ('audio = "keep"', 'sim = { audio = "aac" }'),
        H265_PCMA_KEEP: ('audio = "keep"', 'sim = { codec = "h265", audio = "pcma" }'),
        H264_PCMU_KEEP: ('audio = "keep"', 'sim = { audio = "pcmu" }'),
        H265_PCMU_KEEP: ('audio = "keep"', 'sim = { codec = "h265", audio = "pcmu" }'),
        H265_ALONE: ('audio = "keep"', 'sim = { codec = "h265" }'),
    },
    no_user=(NO_USER,),
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, sim_cache: Path) -> Iterator[Live]:
    with live_site(tmp_path_factory.mktemp("media"), sim_cache, SPEC) as running:
        yield running


def _camera(live: Live, n: int) -> dict[str, Any]:
    resp = live.server.get(f"/api/v1/cameras/{live.site.camera_ids[n]}")
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _segments(live: Live, n: int, at_least: int = 2) -> list[Path]:
    folder = live.site.storage

    def closed() -> list[Path] | None:
        files = sorted(folder.glob(f"*/{live.site.camera_ids[n]}/*/*.mp4"))
        # The newest file is still being written; the ones before it are closed.
        return files[:-1] if len(files) > at_least else None

    return wait_for(closed, 40, what=f"{at_least} closed segments of camera {n}")


def test_h265_with_aac_kept_is_hvc1_with_the_sound(site: Live) -> None:
    path = _segments(site, H265_AAC_KEEP)[-1]
    streams = streams_by_type(path)
    assert streams["video"]["codec_name"] == "hevc"
    assert streams["video"]["codec_tag_string"] == "hvc1"
    assert streams["audio"]["codec_name"] == "aac"
    assert streams["audio"]["sample_rate"] == "16000"
    frames, samples = decoded(path)
    # A 2 s segment at 10 fps, and about as much sound (16 kHz).
    assert frames >= 15
    assert samples >= 16000
    media = _camera(site, H265_AAC_KEEP)["media"]
    assert media["video"] == "hevc"
    assert media["audio_handling"] == "kept"
    assert media["audio_detail"] == "AAC 16000 Hz mono: kept as sent"


def test_g711_kept_is_converted_to_aac(site: Live) -> None:
    path = _segments(site, H264_PCMA_KEEP)[-1]
    streams = streams_by_type(path)
    assert streams["video"]["codec_name"] == "h264"
    assert streams["audio"]["codec_name"] == "aac"
    assert streams["audio"]["sample_rate"] == "8000"
    frames, samples = decoded(path)
    assert frames >= 15
    assert samples >= 8000
    # libav buffers while it probes a stream with sound, so the first packets are read
    # late: that settles the connection's anchor, and is no camera drift (no re-anchor).
    index = Database(site.site.storage)
    try:
        cam = site.site.camera_ids[H264_PCMA_KEEP]
        assert EventStore(index).read(types=[CAMERA_REANCHOR], camera=cam, limit=10) == []
    finally:
        index.close()
    media = _camera(site, H264_PCMA_KEEP)["media"]
    assert media["audio"] == "G.711 A-law 8000 Hz mono"
    assert media["audio_handling"] == "converted"


def test_dropped_audio_is_reported_not_stored(site: Live) -> None:
    path = _segments(site, H265_PCMU_DROP)[-1]
    streams = probe_streams(path)
    assert [s["codec_type"] for s in streams] == ["video"]
    assert streams[0]["codec_tag_string"] == "hvc1"
    assert decoded(path)[0] >= 15
    media = _camera(site, H265_PCMU_DROP)["media"]
    assert media["audio"] == "G.711 µ-law 8000 Hz mono"
    assert media["audio_handling"] == "dropped"
    assert media["audio_detail"] == "G.711 µ-law 8000 Hz mono: dropped (audio = drop)"
    assert "audio G.711 µ-law 8000 Hz mono: dropped" in site.server.log_text()


@pytest.mark.parametrize("n", sorted(KEPT), ids=lambda n: "+".join(KEPT[n]))
def test_every_codec_and_sound_records_and_decodes(site: Live, n: int) -> None:
    codec, sound = KEPT[n]
    path = _segments(site, n)[-1]
    streams = streams_by_type(path)
    assert streams["video"]["codec_name"] == codec
    assert streams["video"]["codec_tag_string"] == ("hvc1" if codec == "hevc" else "avc1")
    frames, samples = decoded(path)
    assert frames >= 15  # a 2 s segment at 10 fps
    if sound == "none":
        assert "audio" not in streams and samples == 0
        return
    # Stored as AAC whatever came: AAC as sent (16 kHz in the simulator), G.711 converted
    # at its own 8 kHz; about a segment's worth of it.
    rate = 16000 if sound == "aac" else 8000
    assert streams["audio"]["codec_name"] == "aac"
    assert streams["audio"]["sample_rate"] == str(rate)
    assert samples >= rate
    media = _camera(site, n)["media"]
    assert media["audio_handling"] == ("kept" if sound == "aac" else "converted"), media


def test_udp_cameras_record(site: Live) -> None:
    for n in (UDP_ONLY, UDP_AUTO):
        path = _segments(site, n)[-1]
        assert decoded(path)[0] >= 15, n
        media = _camera(site, n)["media"]
        assert media["transport"] == "udp", n
    # Audio on a UDP camera is dropped by default and said so.
    assert _camera(site, UDP_AUTO)["media"]["audio_handling"] == "dropped"
    # auto tries TCP first: a camera that speaks it stays on it.
    assert decoded(_segments(site, AUTO_ON_TCP)[-1])[0] >= 15
    assert _camera(site, AUTO_ON_TCP)["media"]["transport"] == "tcp"


def test_basic_auth_on_loopback_records_with_a_warning(site: Live) -> None:
    path = _segments(site, BASIC_LOOPBACK)[-1]
    assert decoded(path)[0] >= 15
    assert _camera(site, BASIC_LOOPBACK)["media"]["auth"] == "basic"
    camera = site.site.camera_ids[BASIC_LOOPBACK]
    log = site.server.log_text()
    assert f"{camera}: the camera asks for Basic auth" in log
    assert "127.0.0.1 is a private address" in log


def test_camera_without_credentials_records(site: Live) -> None:
    path = _segments(site, NO_USER)[-1]
    assert decoded(path)[0] >= 15
    media = _camera(site, NO_USER)["media"]
    assert media["auth"] == "none"
    assert media["audio_handling"] == "none"
    assert media["audio_detail"] == "no audio track"


def test_h265_thumbnail_decodes(site: Live) -> None:
    camera = site.site.camera_ids[H265_AAC_KEEP]
    size = {"format": "rgb", "width": 64, "height": 36}

    def thumbnail() -> httpx.Response | None:
        resp = site.server.get(f"/api/v1/cameras/{camera}/thumbnail", params=size)
        return resp if resp.status_code == 200 else None

    resp = wait_for(thumbnail, 30, what=f"a thumbnail of {camera}")
    pixels = np.frombuffer(resp.content, dtype=np.uint8).reshape(36, 64, 3)
    # The scene's background colour, which is the camera's own, survives H.265 and scaling.
    middle = np.median(pixels[12:24].reshape(-1, 3), axis=0)
    assert np.abs(middle - np.array(scene_colour(camera))).max() < 40


def _atoms(path: Path) -> list[str]:
    """Top-level MP4 box types in file order."""
    data = path.read_bytes()
    names, at = [], 0
    while at + 8 <= len(data):
        size = int.from_bytes(data[at : at + 4], "big")
        names.append(data[at + 4 : at + 8].decode("latin-1"))
        if size == 1:
            size = int.from_bytes(data[at + 8 : at + 16], "big")
        if size < 8:
            break
        at += size
    return names


def test_h265_export_plays_in_quicktime_players(site: Live, tmp_path: Path) -> None:
    camera = site.site.camera_ids[H265_AAC_KEEP]
    _segments(site, H265_AAC_KEEP, at_least=3)
    resp = site.server.get(f"/api/v1/cameras/{camera}/recordings")
    assert resp.status_code == 200, resp.text
    rows = resp.json()["segments"]
    start, end = rows[0]["start"], rows[2]["end"]
    with site.server.client("operator") as api:
        resp = api.post("/api/v1/exports", json={"camera": camera, "start": start, "end": end})
        assert resp.status_code == 202, resp.text
        job_id = resp.json()["id"]

        def done() -> bool:
            state = api.get(f"/api/v1/exports/{job_id}").json()["state"]
            assert state in ("queued", "running", "done"), state
            return state == "done"

        wait_for(done, 30, what=f"export {job_id}")
        clip = tmp_path / "clip.mp4"
        clip.write_bytes(api.get(f"/api/v1/exports/{job_id}/file").content)
    streams = streams_by_type(clip)
    assert streams["video"]["codec_name"] == "hevc"
    assert streams["video"]["codec_tag_string"] == "hvc1"
    assert streams["audio"]["codec_name"] == "aac"
    atoms = _atoms(clip)
    assert atoms.index("moov") < atoms.index("mdat")  # +faststart
    frames, samples = decoded(clip)
    # Three 2 s segments at 10 fps, and the sound over the same span (16 kHz).
    assert frames >= 50
    assert samples >= 4 * 16000


def test_cli_camera_detail_says_what_is_done_with_the_sound(site: Live) -> None:
    _segments(site, H265_PCMU_DROP, at_least=1)
    camera = site.site.camera_ids[H265_PCMU_DROP]
    env = node_env(site.server.url, site.site.tokens["viewer"], columns=120)
    proc = run_cctvctl("cameras", camera, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert f"camera: {camera} (Kamera {H265_PCMU_DROP + 1})" in lines
    assert "video: hevc over TCP digest auth" in lines
    assert "audio: G.711 µ-law 8000 Hz mono: dropped (audio = drop)" in lines
    as_json = run_cctvctl("cameras", camera, "--json", env=env)
    assert json.loads(as_json.stdout)["media"]["audio_handling"] == "dropped"
    missing = run_cctvctl("cameras", "no-such-cam", env=env)
    assert missing.returncode == 2
    assert "no-such-cam" in last_error(missing)


async def test_tui_camera_screen_says_what_is_done_with_the_sound(site: Live) -> None:
    _segments(site, H265_PCMU_DROP, at_least=1)
    camera = site.site.camera_ids[H265_PCMU_DROP]
    app = CctvApp(site.server.url, site.site.tokens["viewer"], "test-node", refresh=0.5)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.role is not None and bool(app.node.cameras))
        app.open_camera(camera)
        await until(pilot, lambda: isinstance(app.screen, CameraScreen))
        await until(pilot, lambda: "audio " in screen_text(app))
        text = screen_text(app)
    assert "video       hevc TCP digest" in text
    assert "audio       PCMU: dropped" in text
