"""Recording comes back as soon as a camera does, and its error is history once it has.

One site for the module, served by the real simulator and recorded by the real server:
[0] goes offline and recovers, [1] flaps, [2] goes offline and recovers for the error
history, [3] has a wrong RTSP path (the camera answers with 404), so it must be backed off,
not hammered. The simulator's GOP is 0.5 s: a camera starts a new client at its next
keyframe, and that wait is the camera's, not the recorder's, so a short GOP leaves the
bounds to measure the recorder. Precise figures: benchmarks/recovery.py.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from harness import Live, SiteSpec, SseEvent, serving, start_sim, wait_for, write_site

from cctvctl.models import CameraStatus
from cctvctl.recorder.liveness import Presence, options_request, probe
from cctvctl.recorder.stats import CameraStats

SPEC = SiteSpec(cameras=4, segment_seconds=3, offline_after=3, fps=10, gop_seconds=0.5)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, sim_cache: Path) -> Iterator[Live]:
    site = write_site(tmp_path_factory.mktemp("recovery"), SPEC)
    sim = start_sim(site, sim_cache)
    # The simulator has read the inventory; the server is given a path the camera lacks.
    broken = site.camera_ids[3]
    text = site.config.read_text(encoding="utf-8")
    site.config.write_text(text.replace(f'/{broken}"', f'/{broken}-no-such-path"'), "utf-8")
    with serving(site, sim) as live:
        yield live


def _camera(live: Live, cam: str) -> dict[str, Any]:
    resp = live.server.get(f"/api/v1/cameras/{cam}")
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _segments(live: Live, cam: str, since: float) -> list[tuple[float, float]]:
    start = datetime.fromtimestamp(since, UTC).isoformat()
    resp = live.server.get(f"/api/v1/cameras/{cam}/recordings", params={"start": start})
    assert resp.status_code == 200, resp.text
    return [
        (
            datetime.fromisoformat(s["start"]).timestamp(),
            datetime.fromisoformat(s["end"]).timestamp(),
        )
        for s in resp.json()["segments"]
    ]


def _wait_status(live: Live, cam: str, status: str, timeout: float = 30) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        body = _camera(live, cam)
        return body if body["status"] == status else None

    result: dict[str, Any] = wait_for(reached, timeout, interval=0.1, what=f"{cam} {status}")
    return result


def _go_offline(live: Live, cam: str) -> None:
    _wait_status(live, cam, "online")
    wait_for(lambda: _segments(live, cam, time.time() - 60), 30, what=f"footage of {cam}")
    live.sim.fault(cam, "offline")
    _wait_status(live, cam, "offline")


@pytest.mark.timeout(90)
def test_recording_resumes_within_3_s_of_recover(site: Live) -> None:
    cam = site.site.camera_ids[0]
    _go_offline(site, cam)
    # Long enough for the old exponential back-off (1, 2, 4, 8, 16 s) to be in its 16 s wait.
    time.sleep(13)
    recovered = time.time()
    site.sim.fault(cam, "recover")
    after = wait_for(
        lambda: [s for s in _segments(site, cam, recovered - 10) if s[1] > recovered],
        30,
        interval=0.2,
        what="a segment after recover",
    )
    first = min(start for start, _ in after)
    # Segments are dated by the wall time of their first packet on disk.
    assert first >= recovered - 0.05, (first, recovered)
    assert first - recovered <= 3.0, f"footage resumed {first - recovered:.2f} s after recover"


def _up_phases(t0: float, period: float, end: float) -> list[tuple[float, float]]:
    return [(t0 + k * period, t0 + (k + 1) * period) for k in range(0, int((end - t0) / period), 2)]


@pytest.mark.timeout(120)
def test_a_flapping_camera_keeps_most_of_its_up_time(site: Live) -> None:
    cam = site.site.camera_ids[1]
    period = 5.0
    _wait_status(site, cam, "online")
    site.sim.fault(cam, "flap", period)
    t0 = time.time()
    time.sleep(6 * period)
    site.sim.fault(cam, "recover")
    # Up phases 10-15 s and 20-25 s: each begins with the camera coming back after a dark
    # phase. (The flap command itself drops the session at 0 s, which is the drop fault.)
    phases = _up_phases(t0, period, t0 + 6 * period)[1:]
    assert len(phases) == 2

    def settled() -> list[tuple[float, float]] | None:
        spans = _segments(site, cam, t0 - 10)
        return spans if any(e >= phases[-1][1] - 1.0 for _, e in spans) else None

    spans = wait_for(settled, 20, interval=0.3, what="the last up phase indexed")
    up = sum(hi - lo for lo, hi in phases)
    recorded = sum(max(0.0, min(e, hi) - max(s, lo)) for lo, hi in phases for s, e in spans)
    assert recorded >= 0.7 * up, f"{recorded:.1f} s of {up:.0f} s up-time recorded: {spans}"


@pytest.mark.timeout(90)
def test_last_error_clears_when_back_online_and_stays_in_the_events(site: Live) -> None:
    cam = site.site.camera_ids[2]
    _go_offline(site, cam)
    down = wait_for(
        lambda: (body := _camera(site, cam))["last_error"] and body,
        15,
        interval=0.1,
        what="an error for the offline camera",
    )
    error = down["last_error"]
    site.sim.fault(cam, "recover")
    up = _wait_status(site, cam, "online")
    assert up["last_error"] is None, up
    assert down["last_error_at"] is not None and up["last_error_at"] is None, (down, up)

    # Replay the stored status events of this camera up to its return.
    seen: list[dict[str, Any]] = []

    def back_online(event: SseEvent) -> bool:
        body = event.json()
        if body["camera"] != cam:
            return False
        seen.append(body["data"])
        return bool(body["data"]["status"] == "online" and body["data"]["previous"] == "offline")

    with site.server.events("since=0&types=camera.status") as stream:
        back = stream.wait_for(back_online, 15).json()["data"]
    # The recovery names the failure it ends, and when it happened.
    assert back["error"], back
    assert datetime.fromisoformat(back["error_at"]) <= datetime.now(UTC)
    # The outage's own event carries the error the API showed while the camera was down.
    offline = [d for d in seen if d["status"] == "offline"]
    assert offline and all(d["error"] for d in offline), seen
    assert error in {d["error"] for d in offline} | {back["error"]}, (error, seen)


@pytest.mark.timeout(60)
def test_a_camera_that_answers_but_fails_is_backed_off_not_hammered(site: Live) -> None:
    cam = site.site.camera_ids[3]
    began = _camera(site, cam)["reconnects_1h"]
    time.sleep(12)
    body = _camera(site, cam)
    assert body["status"] == "offline" and "404" in (body["last_error"] or ""), body
    # Back-off (1, 2, 4, 8 s, jittered down by up to a fifth) allows at most five attempts
    # in 12 s; retrying whenever the camera answers a probe (every 0.5 or 2 s) makes more.
    assert body["reconnects_1h"] - began <= 5, body


def test_status_changes_carry_the_error_that_is_cleared_on_recovery() -> None:
    now = [1000.0]
    stats = CameraStats("cam", offline_after=3, clock=lambda: now[0])
    stats.failed("OSError: Connection refused")
    now[0] += 4
    down = stats.evaluate()
    assert down is not None and down.status is CameraStatus.OFFLINE
    assert down.error == "OSError: Connection refused" and down.error_at == 1000.0
    assert stats.snapshot().last_error == "OSError: Connection refused"
    # Connected but nothing delivered yet: not back, the error stands.
    stats.connected(10.0)
    assert stats.evaluate() is None
    assert stats.snapshot().last_error is not None
    stats.packet(1000, now[0])
    up = stats.evaluate()
    assert up is not None and up.status is CameraStatus.ONLINE
    assert up.error == "OSError: Connection refused" and up.error_at == 1000.0
    snap = stats.snapshot()
    assert snap.last_error is None and snap.last_error_at is None


# ------------------------------------------------------------------------- the probe


def test_probe_tells_an_answering_camera_from_a_dark_one(site: Live) -> None:
    cams = site.site.camera_ids
    port = site.site.rtsp_port
    assert probe(f"rtsp://127.0.0.1:{port}/{cams[3]}", 2.0) is Presence.ANSWERS
    # A wrong path is still an answer (404): the device is there.
    assert probe(f"rtsp://127.0.0.1:{port}/{cams[3]}-no-such-path", 2.0) is Presence.ANSWERS
    with socket.socket() as idle:
        idle.bind(("127.0.0.1", 0))
        closed_port = idle.getsockname()[1]
    assert probe(f"rtsp://127.0.0.1:{closed_port}/x", 2.0) is Presence.GONE


def test_probe_tells_a_dark_camera_from_a_stalled_one_on_a_shared_port(site: Live) -> None:
    cam = site.site.camera_ids[0]
    url = f"rtsp://127.0.0.1:{site.site.rtsp_port}/{cam}"
    site.sim.fault(cam, "offline")
    try:
        # The port is shared with cameras that are up, so TCP alone would say "there".
        with socket.create_connection(("127.0.0.1", site.site.rtsp_port), timeout=2):
            pass
        assert probe(url, 2.0) is Presence.GONE
        # A hung RTSP service takes the connection and never answers: it is backed off.
        site.sim.fault(cam, "stall")
        assert probe(url, 1.0) is Presence.SILENT
    finally:
        site.sim.fault(cam, "recover")
    assert probe(url, 2.0) is Presence.ANSWERS


def test_probe_request_carries_no_credentials() -> None:
    request = options_request("rtsp://admin:s3cret@10.0.0.5:554/Streaming/101").decode()
    assert request.startswith("OPTIONS rtsp://10.0.0.5:554/Streaming/101 RTSP/1.0\r\n")
    assert "s3cret" not in request and "admin" not in request
    assert request.endswith("\r\n\r\n")
