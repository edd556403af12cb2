"""Export jobs against a real simulator and a real `cctvctl server` subprocess.

One site (2 cameras, 5 s segments, 1 s GOP, 10 fps) is shared by the module. While the
first camera records, the second is taken offline for a few seconds at start-up, so its
footage has a real gap by the time the tests ask for it. The restart test has its own
site with long segments, so the job it kills is reliably mid-run.
"""

from __future__ import annotations

import hashlib
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from harness import Live, ServerProcess, SiteSpec, live_site, wait_for

from cctvctl.storage.fmp4 import scan

PROBLEM = "application/problem+json"
GOP = 1.0
FRAME = 0.1
SPEC = SiteSpec(cameras=2, kecamatan=("Sangatta Utara",), segment_seconds=5, fps=10)


@dataclass
class Env:
    live: Live
    outage: tuple[float, float]  # when the second camera went offline and came back


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, sim_cache: Path) -> Iterator[Env]:
    with live_site(tmp_path_factory.mktemp("exports"), sim_cache, SPEC) as live:
        second = live.site.camera_ids[1]
        _segments_until(live, second, lambda rows: len(rows) >= 1, 30)
        time.sleep(2)
        down = time.time()
        live.sim.fault(second, "offline")
        time.sleep(4)
        up = time.time()
        live.sim.fault(second, "recover")
        yield Env(live, (down, up))


def _segments(live: Live, camera: str) -> list[dict[str, Any]]:
    resp = live.server.get(f"/api/v1/cameras/{camera}/recordings")
    assert resp.status_code == 200, resp.text
    rows: list[dict[str, Any]] = resp.json()["segments"]
    return rows


def _segments_until(
    live: Live, camera: str, ok: Callable[[list[dict[str, Any]]], bool], timeout: float
) -> list[dict[str, Any]]:
    return wait_for(
        lambda: rows if ok(rows := _segments(live, camera)) else None,
        timeout,
        what=f"closed segments of {camera}",
    )


def _closed_until(live: Live, camera: str, ts: float, timeout: float = 40) -> None:
    _segments_until(live, camera, lambda rows: bool(rows) and _ts(rows[-1]["end"]) >= ts, timeout)


def _export(server: ServerProcess, body: dict[str, Any], role: str = "operator") -> httpx.Response:
    with server.client(role) as api:
        return api.post("/api/v1/exports", json=body)


def _wait_done(server: ServerProcess, job_id: str, timeout: float = 30) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        job: dict[str, Any] = server.get(f"/api/v1/exports/{job_id}", "operator").json()
        assert job["state"] in ("queued", "running", "done"), job
        return job if job["state"] == "done" else None

    return wait_for(probe, timeout, what=f"export {job_id} to finish")


def _download(server: ServerProcess, job_id: str, dest: Path) -> Path:
    with server.client("operator") as api:
        resp = api.get(f"/api/v1/exports/{job_id}/file")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "video/mp4"
    dest.write_bytes(resp.content)
    return dest


def _assert_problem(resp: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = resp.json()
    for word in words:
        assert word in body["detail"], body["detail"]
    return body


def _frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [float(f.time) for f in container.decode(stream) if f.time is not None]


# --------------------------------------------------------------------------- the clip


def test_export_across_a_segment_boundary(env: Env, tmp_path: Path) -> None:
    live = env.live
    camera = live.site.camera_ids[0]
    first = _segments_until(live, camera, lambda rows: len(rows) >= 1, 30)
    # Start mid-GOP, a little into the first closed segment, so the window spans at
    # least one boundary and the clip must reach back to a keyframe.
    start = _ts(first[0]["start"]) + 1.45
    end = start + 15
    _closed_until(live, camera, end + 0.5)
    with live.server.events("types=job.progress") as stream:
        resp = _export(
            live.server,
            {
                "camera": camera,
                "start": _iso(start),
                "end": _iso(end),
                "case_id": "LP/123/XI/2026",
                "note": "pencurian motor",
            },
        )
        assert resp.status_code == 202, resp.text
        job = resp.json()
        assert resp.headers["location"] == f"/api/v1/exports/{job['id']}"
        assert job["state"] in ("queued", "running")
        done = _wait_done(live.server, job["id"])
        stream.wait_for(
            lambda e: (
                e.json()["data"].get("job") == job["id"] and e.json()["data"].get("state") == "done"
            ),
            10,
        )
    assert done["percent"] == 100 and done["bytes_done"] == done["bytes_total"] > 0
    assert done["eta_seconds"] == 0

    manifest = live.server.get(f"/api/v1/exports/{job['id']}/manifest", "operator").json()
    clip = _download(live.server, job["id"], tmp_path / manifest["file"])

    # Integrity: the manifest, the job, our own hash and sha256sum all agree.
    data = clip.read_bytes()
    assert hashlib.sha256(data).hexdigest() == manifest["sha256"] == done["sha256"]
    assert len(data) == manifest["size"] == done["size"]
    sha256sum = subprocess.run(
        ["sha256sum", str(clip)], capture_output=True, text=True, check=True
    ).stdout.split()[0]
    assert sha256sum == manifest["sha256"]

    # Who, where, which case.
    assert manifest["camera"] == camera
    assert manifest["kecamatan"] == "Sangatta Utara"
    assert manifest["site"] == "Kantor Camat Sangatta Utara"
    assert manifest["requester"] == "test-operator"
    assert manifest["case_id"] == "LP/123/XI/2026"
    assert manifest["note"] == "pencurian motor"
    assert manifest["server_version"]
    assert abs(_ts(manifest["requested_start"]) - start) < 0.01
    assert len(manifest["sources"]) >= 3  # 15 s over 5 s segments crosses boundaries
    assert manifest["gaps"] == []

    # Timing: starts at the keyframe at or before `start`, ends with the frame at `end`.
    first_frame, last_frame = _ts(manifest["first_frame"]), _ts(manifest["last_frame"])
    assert start - GOP - 0.05 <= first_frame <= start + 0.01
    assert end - 2 * FRAME <= last_frame < end

    # One progressive MP4 with the index in front: not fragmented.
    boxes = [b.type for b in scan(clip).boxes]
    assert "moof" not in boxes
    assert boxes.index("moov") < boxes.index("mdat")

    # It decodes, every frame, and its length matches the request within a GOP.
    times = _frame_times(clip)
    assert len(times) == manifest["frames"]
    assert times[0] == 0.0
    duration = times[-1] + FRAME
    assert abs(duration - (end - start)) <= GOP + FRAME
    assert abs(times[-1] - (last_frame - first_frame)) < 0.05


def test_an_export_ending_now_says_which_open_segment_it_waits_for(env: Env) -> None:
    live = env.live
    camera = live.site.camera_ids[0]
    _segments_until(live, camera, lambda rows: len(rows) >= 1, 30)
    end = time.time()
    body = {"camera": camera, "start": _iso(end - 3), "end": _iso(end), "case_id": "LP/9"}
    with live.server.events("types=job.progress") as stream:
        resp = _export(live.server, body)
        assert resp.status_code == 202, resp.text
        job_id = resp.json()["id"]

        def waiting() -> dict[str, Any] | None:
            job: dict[str, Any] = live.server.get(f"/api/v1/exports/{job_id}", "operator").json()
            return job if job.get("waiting") else None

        job = wait_for(waiting, 10, what="the job to say it waits for the open segment")
        wait = job["waiting"]
        assert job["state"] == "running" and job["percent"] == 0
        assert _ts(wait["holds"]) == pytest.approx(end, abs=0.001)
        assert wait["segment_seconds"] == SPEC.segment_seconds
        assert _ts(wait["open_since"]) <= end
        assert _ts(wait["expected_close"]) - _ts(wait["open_since"]) == pytest.approx(5)
        # The same reason travels in the job's progress event.
        stream.wait_for(
            lambda e: (
                e.json()["data"].get("job") == job_id and e.json()["data"].get("waiting") == wait
            ),
            10,
        )
        done = _wait_done(live.server, job_id)
    assert done["waiting"] is None
    assert _ts(done["last_frame"]) <= end


def test_gap_is_listed_in_manifest_and_job(env: Env) -> None:
    live = env.live
    camera = live.site.camera_ids[1]
    down, up = env.outage
    start, end = down - 3, up + 4
    _closed_until(live, camera, end + 0.5)
    resp = _export(live.server, {"camera": camera, "start": _iso(start), "end": _iso(end)})
    assert resp.status_code == 202, resp.text
    queued = resp.json()
    assert queued["gaps"], "the index already shows the outage at request time"
    done = _wait_done(live.server, queued["id"])
    manifest = live.server.get(f"/api/v1/exports/{done['id']}/manifest", "operator").json()

    assert len(manifest["gaps"]) == 1, manifest["gaps"]
    gap = manifest["gaps"][0]
    g0, g1 = _ts(gap["start"]), _ts(gap["end"])
    # Footage stops within a frame or two of the fault (the sim cuts the sockets)...
    assert down - 2 <= g0 <= down + 2
    # ...and resumes only after the camera is back (plus the recorder's reconnect).
    assert up - 1 <= g1 <= up + 6
    assert gap["seconds"] == pytest.approx(g1 - g0, abs=0.01)
    assert manifest["missing_seconds"] == pytest.approx(gap["seconds"], abs=0.01)
    assert done["gaps"] == manifest["gaps"]

    # The recordings API, which knows only segment boundaries, sees the same hole.
    rec = live.server.get(
        f"/api/v1/cameras/{camera}/recordings", params={"start": _iso(start), "end": _iso(end)}
    ).json()
    assert len(rec["gaps"]) == 1
    assert abs(_ts(rec["gaps"][0]["start"]) - g0) <= 1.5
    assert abs(_ts(rec["gaps"][0]["end"]) - g1) <= 1.5


IGNORED_RANGES = ("bytes=abc", "bytes=", "bytes=9-3", "bytes=1-2-3", "pages=1-2", "bytes 0-9")


def test_range_download_resumes_to_an_identical_file(env: Env, tmp_path: Path) -> None:
    live = env.live
    camera = live.site.camera_ids[0]
    first = _segments_until(live, camera, lambda rows: len(rows) >= 2, 30)
    start, end = _ts(first[0]["start"]), _ts(first[1]["end"])
    job = _export(live.server, {"camera": camera, "start": _iso(start), "end": _iso(end)}).json()
    done = _wait_done(live.server, job["id"])
    url = f"/api/v1/exports/{job['id']}/file"
    size = done["size"]
    half = size // 2

    with live.server.client("operator") as api:
        full = api.get(url)
        assert full.status_code == 200 and len(full.content) == size
        etag = full.headers["etag"]
        assert etag == f'"{done["sha256"]}"'
        assert full.headers["accept-ranges"] == "bytes"

        # A broken download: only the first half arrived.
        with api.stream("GET", url, headers={"Range": f"bytes=0-{half - 1}"}) as part:
            assert part.status_code == 206
            assert part.headers["content-range"] == f"bytes 0-{half - 1}/{size}"
            got = b"".join(part.iter_bytes())
        assert len(got) == half
        rest = api.get(url, headers={"Range": f"bytes={half}-", "If-Range": etag})
        assert rest.status_code == 206
        assert rest.headers["content-range"] == f"bytes {half}-{size - 1}/{size}"
        resumed = got + rest.content
        assert resumed == full.content
        assert hashlib.sha256(resumed).hexdigest() == done["sha256"]

        # Suffix range, a stale If-Range (whole file instead), and unsatisfiable ranges.
        tail = api.get(url, headers={"Range": "bytes=-100"})
        assert tail.status_code == 206 and tail.content == full.content[-100:]
        stale = api.get(url, headers={"Range": f"bytes={half}-", "If-Range": '"other"'})
        assert stale.status_code == 200 and stale.content == full.content
        for bad in (f"bytes={size}-", f"bytes={size + 10}-{size + 20}", "bytes=-0"):
            resp = api.get(url, headers={"Range": bad})
            _assert_problem(resp, 416)
            assert resp.headers["content-range"] == f"bytes */{size}"

        # A Range that cannot be parsed is ignored (RFC 9110 section 14.2): the whole file.
        for ignored in IGNORED_RANGES:
            resp = api.get(url, headers={"Range": ignored})
            assert resp.status_code == 200, (ignored, resp.text[:200])
            assert "content-range" not in resp.headers
            assert resp.headers["content-length"] == str(size)
            assert resp.content == full.content

    # Audited per download, not per range: a row for each request from byte 0 (the full
    # download, the first half, the stale If-Range answered in full, each ignored Range
    # answered in full), none for the resume or the suffix, since this token is already
    # on record for this clip.
    with live.server.client("admin") as api:
        rows = api.get(
            "/api/v1/audit", params={"action": "export.download", "actor": "test-operator"}
        ).json()
    mine = [r for r in rows if r["target"] == job["id"]]
    assert len(mine) == 3 + len(IGNORED_RANGES), mine
    assert all(r["role"] == "operator" and r["result"] == "ok" for r in mine)


def test_cancel_and_delete(env: Env) -> None:
    live = env.live
    camera = live.site.camera_ids[0]
    rows = _segments_until(live, camera, lambda r: len(r) >= 1, 30)
    start = _ts(rows[0]["start"])
    job = _export(live.server, {"camera": camera, "start": _iso(start), "end": _iso(start + 3)})
    job_id = job.json()["id"]
    _wait_done(live.server, job_id)
    with live.server.client("operator") as api:
        gone = api.delete(f"/api/v1/exports/{job_id}")
        assert gone.status_code == 200 and gone.json()["state"] == "deleted"
        kept = api.get(f"/api/v1/exports/{job_id}")
        assert kept.status_code == 200 and kept.json()["state"] == "deleted"
        _assert_problem(api.get(f"/api/v1/exports/{job_id}/file"), 410, "deleted")
        _assert_problem(api.get(f"/api/v1/exports/{job_id}/manifest"), 410)
        listed = {j["id"]: j["state"] for j in api.get("/api/v1/exports").json()}
        assert listed[job_id] == "deleted"
        _assert_problem(api.delete("/api/v1/exports/nope"), 404, "nope")
    job_dir = live.site.storage / ".exports" / job_id
    assert not job_dir.exists()


# --------------------------------------------------------------------------- refusals


def test_viewer_is_refused_operator_and_admin_allowed(env: Env) -> None:
    live = env.live
    camera = live.site.camera_ids[0]
    rows = _segments_until(live, camera, lambda r: len(r) >= 1, 30)
    body = {
        "camera": camera,
        "start": rows[0]["start"],
        "end": _iso(_ts(rows[0]["start"]) + 2),
        "case_id": "LP/9/XI/2026",
    }
    _assert_problem(_export(live.server, body, "viewer"), 403, "operator")
    with live.server.client("viewer") as api:
        _assert_problem(api.get("/api/v1/exports"), 403)
    assert _export(live.server, body, "operator").status_code == 202
    assert _export(live.server, body, "admin").status_code == 202


def test_bad_windows_are_422_with_a_clear_detail(env: Env) -> None:
    live = env.live
    camera = live.site.camera_ids[0]
    now = time.time()
    cases: list[tuple[dict[str, Any], int, tuple[str, ...]]] = [
        ({"start": _iso(now - 60), "end": _iso(now - 120)}, 422, ("must be after",)),
        ({"start": _iso(now - 121 * 60), "end": _iso(now - 1)}, 422, ("at most 120 minutes",)),
        ({"start": _iso(now - 7200), "end": _iso(now - 7000)}, 422, ("no footage",)),
        ({"start": _iso(now - 60), "end": _iso(now + 600)}, 422, ("future",)),
        ({"start": "2026-11-28T14:00:00", "end": _iso(now)}, 422, ("UTC offset",)),
        ({"start": "yesterday", "end": _iso(now)}, 422, ("start",)),
        ({"end": _iso(now)}, 422, ("'start' is required",)),
    ]
    for window, status, words in cases:
        resp = _export(live.server, {"camera": camera, **window})
        body = _assert_problem(resp, status, *words)
        assert body["errors"] and body["errors"][0]["in"] == "body"
    resp = _export(live.server, {"camera": "cam-404", "start": _iso(now - 9), "end": _iso(now)})
    _assert_problem(resp, 404, "cam-404")
    with live.server.client("operator") as api:
        resp = api.post(
            "/api/v1/exports", content=b"{not json", headers={"content-type": "application/json"}
        )
        body = _assert_problem(resp, 422, "the request body is not valid JSON; expected {camera")
        assert body["errors"][0]["in"] == "body"


def test_audit_rows_and_admin_only(env: Env) -> None:
    live = env.live
    camera = live.site.camera_ids[0]
    now = time.time()
    _export(live.server, {"camera": camera, "start": _iso(now - 60), "end": _iso(now - 120)})
    _export(
        live.server,
        {"camera": camera, "start": _iso(now - 9), "end": _iso(now - 1)},
        "viewer",
    )
    for role in ("viewer", "operator"):
        _assert_problem(live.server.get("/api/v1/audit", role), 403, "admin")
    resp = live.server.get("/api/v1/audit", "admin", params={"action": "export.request"})
    assert resp.status_code == 200
    rows = resp.json()
    assert rows and all(r["action"] == "export.request" for r in rows)
    assert [r["time"] for r in rows] == sorted(r["time"] for r in rows)
    refused = [r for r in rows if r["result"] == "refused"]
    assert any(r["actor"] == "test-viewer" and "operator" in r["detail"] for r in refused)
    assert any(r["actor"] == "test-operator" and "must be after" in r["detail"] for r in refused)
    # A viewer is refused before its body is read: who and when, nothing of what it sent.
    viewer_rows = [r for r in refused if r["actor"] == "test-viewer"]
    assert viewer_rows and all(r["target"] is None for r in viewer_rows)

    since = _iso(now)
    recent = live.server.get("/api/v1/audit", "admin", params={"since": since}).json()
    assert len(recent) == 2 and {r["actor"] for r in recent} == {"test-operator", "test-viewer"}
    by_actor = live.server.get("/api/v1/audit", "admin", params={"actor": "test-viewer"}).json()
    assert by_actor and {r["actor"] for r in by_actor} == {"test-viewer"}
    _assert_problem(live.server.get("/api/v1/audit", "admin", params={"since": "soon"}), 422)


# --------------------------------------------------------------------------- restart


def test_restart_during_an_export_finishes_the_job(
    live_factory: Callable[..., Live],
    tmp_path: Path,
) -> None:
    # Long segments: the window below lies in the segment still being written, so the
    # job is claimed and then waits for that segment to close; it is killed meanwhile.
    live = live_factory(SiteSpec(cameras=1, kecamatan=("Bengalon",), segment_seconds=60))
    site, server = live.site, live.server
    camera = site.camera_ids[0]

    wait_for(
        lambda: server.get(f"/api/v1/cameras/{camera}").json()["recording"],
        30,
        what="the camera to record",
    )
    time.sleep(4)
    now = time.time()
    resp = _export(server, {"camera": camera, "start": _iso(now - 3), "end": _iso(now - 0.5)})
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["id"]
    wait_for(
        lambda: server.get(f"/api/v1/exports/{job_id}", "operator").json()["state"] == "running",
        10,
        what="the job to be running",
    )
    time.sleep(1.5)  # past the window's last keyframe, so its fragment is on disk
    server.kill()
    server.start()

    done = _wait_done(server, job_id, timeout=30)
    assert done["attempts"] == 2
    manifest = server.get(f"/api/v1/exports/{job_id}/manifest", "operator").json()
    clip = _download(server, job_id, tmp_path / "clip.mp4")
    assert hashlib.sha256(clip.read_bytes()).hexdigest() == manifest["sha256"]
    assert len(_frame_times(clip)) == manifest["frames"] >= 15
    assert _ts(manifest["first_frame"]) <= now - 3 + 0.01
