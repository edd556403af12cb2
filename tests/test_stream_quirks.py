"""Field cameras' stream quirks against the real recorder: the simulator's stream faults
(tsjump, fpslie, rate, nosps, drift, resize) and a real `cctvctl server` recording them.

One site, one camera per quirk, one server for the module: each camera's footage, events
and status are its own, so the quirks do not disturb each other. The quirks that touch the
bitstream or its timestamps (nosps, tsjump, resize, fpslie) run on an H.264 and an H.265 camera:
in-band VPS/SPS/PPS, hvcC and `hvc1` are H.265's own paths through the recorder.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from harness import RunningSim, ServerProcess, Site, SiteSpec, segment_spans, wait_for, write_site
from media import probe_streams

SEGMENT = 3
CODECS = ("h264", "h265")
TAGS = {"h264": ("h264", "avc1"), "h265": ("hevc", "hvc1")}  # ffprobe's codec_name, tag
H265 = 'sim = { codec = "h265" }'
PARAMETER_SETS = {"h264": [(7, 1)], "h265": [(32, 1), (33, 1), (34, 1)]}  # VPS, SPS, PPS


@dataclass
class Rig:
    site: Site
    sim: RunningSim
    server: ServerProcess
    jump: dict[str, str]  # codec -> camera
    liar: dict[str, str]  # codec -> camera
    slow: str
    nosps: dict[str, str]  # codec -> camera
    drift: str


def _fault(rig_or_site: Site, camera: str, body: dict[str, Any]) -> dict[str, Any]:
    url = f"http://127.0.0.1:{rig_or_site.control_port}/cameras/{camera}/fault"
    resp = httpx.post(url, json=body, timeout=120)
    assert resp.status_code == 200, resp.text
    result: dict[str, Any] = resp.json()
    return result


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory, sim_cache: Path) -> Iterator[Rig]:
    site = write_site(
        tmp_path_factory.mktemp("quirks"),
        SiteSpec(
            cameras=8,
            kecamatan=("Sangatta Utara",),
            segment_seconds=SEGMENT,
            camera_lines={5: (H265,), 6: (H265,), 7: (H265,)},
        ),
    )
    sim = RunningSim(site, sim_cache).start()
    jump, liar, slow, nosps, drift, jump265, nosps265, liar265 = site.camera_ids
    jumps = {"h264": jump, "h265": jump265}
    in_band = {"h264": nosps, "h265": nosps265}
    liars = {"h264": liar, "h265": liar265}
    # A camera that lies, or keeps its parameter sets in band, does so from the start.
    for camera in liars.values():
        _fault(site, camera, {"mode": "fpslie"})
    for camera in in_band.values():
        _fault(site, camera, {"mode": "nosps"})
    server = ServerProcess(site)
    try:
        server.start()
        yield Rig(site, sim, server, jumps, liars, slow, in_band, drift)
    finally:
        server.stop()
        sim.stop()


def _camera(rig: Rig, camera: str) -> dict[str, Any]:
    resp = rig.server.get(f"/api/v1/cameras/{camera}")
    assert resp.status_code == 200
    body: dict[str, Any] = resp.json()
    return body


def _events(rig: Rig, camera: str, kind: str, since: int = 0) -> list[dict[str, Any]]:
    """The camera's events of ``kind``, oldest first, leaving out the first ``since``."""
    db = rig.site.storage / "index.sqlite3"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT data FROM events WHERE camera = ? AND type = ? ORDER BY id", (camera, kind)
        )
        return [json.loads(data) for (data,) in rows][since:]


def _statuses(rig: Rig, camera: str) -> list[str]:
    return [e["status"] for e in _events(rig, camera, "camera.status")]


def _segments_after(rig: Rig, camera: str, t: float) -> list[tuple[float, float]]:
    return [s for s in segment_spans(rig.site.storage, camera) if s[1] > t]


def _check_tiling(spans: list[tuple[float, float]], wall: tuple[float, float]) -> float:
    """Sum of the holes between segments; every duration sane; the spans on the wall."""
    for start, end in spans:
        assert 0 < end - start <= SEGMENT + 2, (start, end)
        assert wall[0] - 5 <= start and end <= wall[1] + 2, (start, end, wall)
    return sum(max(0.0, b[0] - a[1]) for a, b in itertools.pairwise(spans))


def _parameter_sets(codec: str, record: bytes) -> list[tuple[int, int]]:
    """(NAL type, count) of each array of an hvcC record, or [(7, SPS count)] of an avcC."""
    if codec == "h264":
        return [(7, record[5] & 0x1F)]
    arrays, at = [], 23
    for _ in range(record[22]):
        nal_type, count = record[at] & 0x3F, int.from_bytes(record[at + 1 : at + 3])
        at += 3
        for _ in range(count):
            at += 2 + int.from_bytes(record[at : at + 2])
        arrays.append((nal_type, count))
    return arrays


def _closed_segments(rig: Rig, camera: str, at_least: int) -> list[tuple[str, int, int, int]]:
    """(path, frames, width, height) of the camera's first ``at_least`` indexed segments."""
    db = rig.site.storage / "index.sqlite3"

    def indexed() -> list[tuple[str, int, int, int]] | None:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            rows = conn.execute(
                "SELECT path, frames, width, height FROM segments WHERE camera = ? ORDER BY start",
                (camera,),
            ).fetchall()
        return rows[:at_least] if len(rows) >= at_least else None

    return wait_for(indexed, 45, what=f"{at_least} segments of {camera}")


@pytest.mark.parametrize("codec", CODECS)
def test_nosps_camera_records_and_decodes(rig: Rig, codec: str) -> None:
    """Parameter sets in band only: the init is made from the first keyframe's, and every
    segment plays in PyAV and ffprobe at the camera's size."""
    camera = rig.nosps[codec]
    sdp = httpx.get(f"{rig.sim.control_url}/cameras/{camera}", timeout=5).json()
    assert sdp["stream"]["nosps"] is True
    for path, frames, width, height in _closed_segments(rig, camera, 2):
        (video,) = probe_streams(rig.site.storage / path)
        assert (video["codec_name"], video["codec_tag_string"]) == TAGS[codec]
        assert (video["width"], video["height"]) == (width, height) == (320, 180)
        with av.open(str(rig.site.storage / path)) as container:
            # The sample entry carries the sets (what `hvc1` promises a player): avcC's
            # SPS count, or hvcC's arrays (VPS, SPS, PPS) with one set each.
            record = container.streams.video[0].codec_context.extradata
            assert record is not None
            assert _parameter_sets(codec, record) == PARAMETER_SETS[codec]
            decoded = list(container.decode(video=0))
        assert len(decoded) == frames > 0
        assert {(f.width, f.height) for f in decoded} == {(320, 180)}
    assert _camera(rig, camera)["status"] == "online"


@pytest.mark.parametrize("codec", CODECS)
def test_fpslie_camera_is_online_not_degraded(rig: Rig, codec: str) -> None:
    liar = rig.liar[codec]

    def learned() -> dict[str, Any] | None:
        cam = _camera(rig, liar)
        return cam if cam["expected_fps"] == pytest.approx(12, abs=0.3) else None

    cam = wait_for(learned, 40, what="the liar's rate learned from its timestamps")
    assert cam["status"] == "online"
    assert cam["fps"] == pytest.approx(12, abs=1)
    time.sleep(3)
    assert "degraded" not in _statuses(rig, liar)


def test_halved_rate_is_degraded_within_30_s(rig: Rig) -> None:
    wait_for(lambda: _camera(rig, rig.slow)["status"] == "online", 40, what="online")
    # A full window (10 s of media time) at its own rate: what it used to be is learned.
    time.sleep(11)
    assert _camera(rig, rig.slow)["expected_fps"] == pytest.approx(10, abs=0.3)
    halved = time.monotonic()
    _fault(rig.site, rig.slow, {"mode": "rate", "fps": 5})
    cam = wait_for(
        lambda: (c := _camera(rig, rig.slow))["status"] == "degraded" and c,
        30,
        what="degraded after the rate halved",
    )
    took = time.monotonic() - halved
    assert took < 30
    assert cam["fps"] < 8  # on its way down to 5: the window still holds faster frames
    assert "under 80%" in _events(rig, rig.slow, "camera.status")[-1]["reason"]


@pytest.mark.parametrize("by", [3600.0, -7200.0])
def test_tsjump_keeps_index_and_gaps_right(rig: Rig, by: float) -> None:
    # Both codecs' cameras jump together and are judged apart: one wait for the two.
    for camera in rig.jump.values():
        wait_for(partial(segment_spans, rig.site.storage, camera), 40, what="first segment")
    before = {c: len(_events(rig, c, "camera.reanchor")) for c in rig.jump.values()}
    began = time.time()
    for camera in rig.jump.values():
        _fault(rig.site, camera, {"mode": "tsjump", "by": by})
    for codec, camera in rig.jump.items():
        event = wait_for(
            partial(_events, rig, camera, "camera.reanchor", since=before[camera]),
            20,
            what=f"the {codec} camera's re-anchor event",
        )[0]
        assert event["cause"] == "timestamps jumped", codec
        assert event["jump_seconds"] == pytest.approx(by, abs=0.5), codec
        # The frames went on arriving in time: nothing to shift, no hole to make.
        assert abs(event["shift_seconds"]) < 1.0, (codec, event)
    time.sleep(3 * SEGMENT)
    for codec, camera in rig.jump.items():
        spans = _segments_after(rig, camera, began - SEGMENT)
        assert len(spans) >= 3, (codec, spans)
        holes = _check_tiling(spans, (began - 2 * SEGMENT, time.time()))
        assert holes < 1.0, (codec, spans)
        gaps = rig.server.get(f"/api/v1/cameras/{camera}/recordings").json()
        assert gaps["missing_seconds"] < 1.0, (codec, gaps)
        assert _camera(rig, camera)["status"] == "online", codec


def test_drift_is_reanchored_with_an_event(rig: Rig) -> None:
    camera = rig.drift
    wait_for(lambda: segment_spans(rig.site.storage, camera), 40, what="first segment")
    began = time.time()
    # 20 % fast: media time runs 2 s ahead of the wall in about 10 s.
    _fault(rig.site, camera, {"mode": "drift", "ppm": 200_000})
    event = wait_for(
        lambda: _events(rig, camera, "camera.reanchor"), 40, what="a re-anchor for drift"
    )[0]
    assert event["cause"] == "clock drifted"
    assert 2.0 <= event["jump_seconds"] < 4.0  # past the 2 s threshold, to the ms
    assert event["shift_seconds"] == pytest.approx(-event["jump_seconds"])
    _fault(rig.site, camera, {"mode": "drift", "ppm": 0})
    time.sleep(2 * SEGMENT)
    spans = _segments_after(rig, camera, began - SEGMENT)
    holes = _check_tiling(spans, (began - 2 * SEGMENT, time.time()))
    assert holes < 1.0, spans
    # Segments never overlap, and the last one ends by now.
    assert all(a[1] <= b[0] + 1e-6 for a, b in itertools.pairwise(spans))
    assert spans[-1][1] <= time.time() + 0.5


@pytest.mark.parametrize("codec", CODECS)
def test_resize_mid_recording_starts_a_segment_and_loses_no_frame(
    site_factory: Any, sim_factory: Any, server_factory: Any, codec: str
) -> None:
    lines: dict[int, tuple[str, ...]] = {0: (H265,)} if codec == "h265" else {}
    site: Site = site_factory(SiteSpec(cameras=1, segment_seconds=60, camera_lines=lines))
    sim: RunningSim = sim_factory(site)
    server: ServerProcess = server_factory(site)
    camera = site.camera_ids[0]
    wait_for(lambda: _camera_of(server, camera)["status"] == "online", 30, what="online")
    time.sleep(2.5)
    _fault(site, camera, {"mode": "resize", "size": "160x96"})
    time.sleep(3.5)
    # Silence the camera, let the recorder read what was sent, then close every segment.
    sim.fault(camera, "stall")
    time.sleep(2.5)
    sent = httpx.get(f"{sim.control_url}/cameras/{camera}", timeout=5).json()
    assert sent["stream"]["switches"] == 1
    # The stalled stream times out and its open segment is closed: every frame indexed.
    wait_for(lambda: len(segment_spans(site.storage, camera)) == 2, 20, what="two segments")
    _check_export_per_size(server, camera, segment_spans(site.storage, camera))
    server.stop()
    db = site.storage / "index.sqlite3"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            'SELECT start, "end", frames, width, height, path FROM segments ORDER BY start'
        ).fetchall()
    # Segments of 60 s: the resize alone made the boundary, at the new keyframe.
    assert [(w, h) for _, _, _, w, h, _ in rows] == [(320, 180), (160, 96)], rows
    assert rows[0][1] == pytest.approx(rows[1][0], abs=1e-3)  # no hole at the boundary
    # Every frame sent is in the files. (libavformat's parser hands out an access unit
    # when the next one begins; the stalled stream's time-out flushes the last one.)
    assert sum(r[2] for r in rows) == sent["frames_sent"]
    for _, _, frames, width, height, path in rows:
        with av.open(str(site.storage / path)) as container:
            decoded = list(container.decode(video=0))
        assert len(decoded) == frames
        assert {(f.width, f.height) for f in decoded} == {(width, height)}
        # Each file has its own init: the codec's tag, the new size in its sample entry.
        (video,) = probe_streams(site.storage / path)
        assert (video["codec_name"], video["codec_tag_string"]) == TAGS[codec]
        assert (video["width"], video["height"]) == (width, height)


def _camera_of(server: ServerProcess, camera: str) -> dict[str, Any]:
    body: dict[str, Any] = server.get(f"/api/v1/cameras/{camera}").json()
    return body


def _check_export_per_size(
    server: ServerProcess, camera: str, spans: list[tuple[float, float]]
) -> None:
    """An export across the size change: one clip per size, all in the manifest."""
    window = {
        "camera": camera,
        "start": datetime.fromtimestamp(spans[0][0] + 0.5, UTC).isoformat(),
        "end": datetime.fromtimestamp(spans[1][1] - 0.5, UTC).isoformat(),
    }
    with server.client("operator") as api:
        job = api.post("/api/v1/exports", json=window).json()
        done = wait_for(
            lambda: (j := api.get(f"/api/v1/exports/{job['id']}").json())["state"] == "done" and j,
            30,
            what="the export",
        )
        manifest = api.get(f"/api/v1/exports/{job['id']}/manifest").json()
        assert [(c["width"], c["height"]) for c in manifest["clips"]] == [(320, 180), (160, 96)]
        assert manifest["clips"][0]["file"] == manifest["file"]
        assert manifest["clips"][0]["sha256"] == done["sha256"] == manifest["sha256"]
        assert manifest["frames"] == sum(c["frames"] for c in manifest["clips"])
        for n, clip in enumerate(manifest["clips"]):
            resp = api.get(f"/api/v1/exports/{job['id']}/file", params={"clip": n})
            assert resp.status_code == 200
            assert hashlib.sha256(resp.content).hexdigest() == clip["sha256"]
            with av.open(io.BytesIO(resp.content)) as container:
                sizes = {(f.width, f.height) for f in container.decode(video=0)}
            assert sizes == {(clip["width"], clip["height"])}
        wrong = api.get(f"/api/v1/exports/{job['id']}/file", params={"clip": 2})
        assert wrong.status_code == 404
        assert "accepted: 0 to 1" in wrong.json()["detail"]
