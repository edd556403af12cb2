"""Thumbnails of the past (`GET /cameras/{id}/thumbnail?at=`): the recorded keyframe at or
before a moment, read from a local segment, or from one only the archive holds (fetched
back through the archive's cache from a real S3 endpoint, moto's server on loopback).

The footage is the test clip of ``media.fmp4_bytes``: frame ``i`` is a grey ramp whose left
edge is ``8 * i % 256``, with a keyframe every second (15 frames), so which keyframe a
picture shows can be read from its pixels."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from archive_sites import KEYS, add_footage, archive_config, hours_ago
from cli_process import last_error, node_env, run_cctvctl
from harness import RunningSim, ServerProcess, Site, SiteSpec, wait_for
from media import FPS, GOP, HEIGHT, WIDTH, write_fmp4
from s3_harness import ACCESS_KEY, SECRET_KEY, S3Engine, archive_table

from cctvctl.archive.cache import CACHE_DIR
from cctvctl.archive.s3 import make_client
from cctvctl.archive.uploader import Uploader
from cctvctl.recorder.past_frames import past_thumbnail
from cctvctl.storage.database import Database

# H.264 at ultrafast blurs a flat grey a little.
TOLERANCE = 12


def _left_edge(rgb: bytes, width: int, height: int) -> int:
    """The grey level at the picture's left edge (middle row, first pixels)."""
    picture = np.frombuffer(rgb, np.uint8).reshape(height, width, 3)
    return int(picture[height // 2, :2, 0].mean())


def _keyframe_level(second: int) -> int:
    return 8 * second * GOP % 256


def _rfc3339(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def test_the_keyframe_at_or_before_the_moment_is_decoded(tmp_path: Path) -> None:
    path = write_fmp4(tmp_path / "seg.mp4", seconds=3)
    start = hours_ago(1)
    for offset, second in ((0.5, 0), (1.0, 1), (2.9, 2), (99.0, 2)):
        thumb = past_thumbnail(path, start, start + timedelta(seconds=offset), None, None, "rgb")
        assert (thumb.width, thumb.height) == (WIDTH, HEIGHT)
        assert thumb.frame_time == start + timedelta(seconds=second), offset
        level = _left_edge(thumb.data, thumb.width, thumb.height)
        assert abs(level - _keyframe_level(second)) <= TOLERANCE, (offset, level)
    small = past_thumbnail(path, start, start + timedelta(seconds=1.5), 64, None, "jpeg")
    assert (small.width, small.height) == (64, 36)
    assert small.data[:2] == b"\xff\xd8"


def test_a_segment_only_the_archive_holds_still_gives_its_thumbnail(
    s3: S3Engine,
    site_factory: Callable[..., Site],
    server_factory: Callable[..., ServerProcess],
) -> None:
    assert FPS == GOP  # a keyframe a second, which _keyframe_level counts on
    site = site_factory(SiteSpec(cameras=1, kecamatan=("Sangatta Utara",)))
    cam, kec = site.camera_ids[0], site.camera_kecamatan[site.camera_ids[0]]
    bucket = s3.make_bucket()
    config = archive_config(s3, bucket)
    base = hours_ago(2)
    local_start, archived_start = base, base + timedelta(seconds=10)

    # Two segments, both uploaded; the second's local copy goes (as local_days does).
    index = Database(site.storage)
    try:
        add_footage(index, local_start, seconds=3, camera=cam, kecamatan=kec)
        gone = add_footage(index, archived_start, seconds=3, camera=cam, kecamatan=kec)
        client = make_client(config, KEYS, connect_timeout=1, max_attempts=1)
        assert Uploader(index, config, client).run_once() == 2
        row = index.get(gone)
        assert row is not None
        row.path.unlink()
        index.drop_local([gone])
        row = index.get(gone)
        assert row is not None and row.location == "archived"
    finally:
        index.close()

    site.config.write_text(site.config.read_text() + "\n" + archive_table(s3, bucket))
    secrets = site.dir / "secrets.toml"
    secrets.write_text(
        secrets.read_text()
        + f'\n[archive]\naccess_key = "{ACCESS_KEY}"\nsecret_key = "{SECRET_KEY}"\n'
    )
    server = server_factory(site)

    def picture(at: datetime, source: str = "archive") -> tuple[int, str, int]:
        resp = server.get(
            f"/api/v1/cameras/{cam}/thumbnail",
            params={"at": _rfc3339(at), "width": WIDTH, "format": "rgb"},
        )
        assert resp.status_code == 200, resp.text
        assert int(resp.headers["X-Frame-Height"]) == HEIGHT
        # Where the footage was read, for a console that says so.
        assert resp.headers["X-Frame-Source"] == source
        level = _left_edge(resp.content, WIDTH, HEIGHT)
        return resp.status_code, resp.headers["X-Frame-Time"], level

    # Local footage, then archived footage: the keyframe before the moment, either way.
    _, frame_time, level = picture(local_start + timedelta(seconds=0.5), "local")
    assert frame_time == _rfc3339(local_start)
    assert abs(level - _keyframe_level(0)) <= TOLERANCE
    cached = site.storage / CACHE_DIR / kec / cam
    assert not cached.exists()  # local footage is read where it is

    _, frame_time, level = picture(archived_start + timedelta(seconds=1.5))
    assert frame_time == _rfc3339(archived_start + timedelta(seconds=1))
    assert abs(level - _keyframe_level(1)) <= TOLERANCE
    assert [p.suffix for p in cached.rglob("*") if p.is_file()] == [".mp4"]

    # The CLI asks the same: `snapshot --at` (a time as people type it, here UTC).
    proc = run_cctvctl(
        "snapshot",
        cam,
        "--at",
        _rfc3339(archived_start + timedelta(seconds=2.5)),
        "--json",
        env=node_env(server.url, site.tokens["viewer"], columns=80),
    )
    assert proc.returncode == 0, proc.stderr
    shot = json.loads(proc.stdout)
    assert datetime.fromisoformat(shot["frame_time"]) == archived_start + timedelta(seconds=2)
    proc = run_cctvctl(
        "snapshot", cam, "--at", "last tuesday-ish", env=node_env(server.url, "x", columns=80)
    )
    assert proc.returncode == 2
    assert last_error(proc).startswith("cctvctl: error: --at:")

    # A moment with no footage, and a time that is not one: one line each, no 500.
    resp = server.get(
        f"/api/v1/cameras/{cam}/thumbnail", params={"at": _rfc3339(base - timedelta(hours=1))}
    )
    assert resp.status_code == 404, resp.text
    assert "no recorded footage at" in resp.json()["detail"]
    resp = server.get(f"/api/v1/cameras/{cam}/thumbnail", params={"at": "yesterday"})
    assert resp.status_code == 422, resp.text
    assert "'at'" in resp.json()["detail"]

    # The store out of reach and nothing cached: a 503 that says so, and nothing lost.
    shutil.rmtree(site.storage / CACHE_DIR)
    s3.stop()
    try:
        resp = server.get(
            f"/api/v1/cameras/{cam}/thumbnail",
            params={"at": _rfc3339(archived_start + timedelta(seconds=2))},
        )
    finally:
        s3.start()
    assert resp.status_code == 503, resp.text
    assert "could not be fetched from the archive" in resp.json()["detail"]
    assert "Retry-After" in resp.headers
    _, frame_time, level = picture(archived_start + timedelta(seconds=2))
    assert frame_time == _rfc3339(archived_start + timedelta(seconds=2))
    assert abs(level - _keyframe_level(2)) <= TOLERANCE


def test_the_last_seconds_come_from_the_segment_still_being_written(
    site_factory: Callable[..., Site],
    sim_factory: Callable[[Site], RunningSim],
    server_factory: Callable[..., ServerProcess],
) -> None:
    # A minute per segment: the seconds just recorded are in no indexed segment yet.
    site = site_factory(SiteSpec(cameras=1, kecamatan=("Sangatta Utara",), segment_seconds=60))
    cam = site.camera_ids[0]
    sim_factory(site)
    server = server_factory(site)

    def recorded() -> float:
        resp = server.get(f"/api/v1/cameras/{cam}/recordings")
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["segments"] == []  # nothing closed yet: the footage is the open segment
        return float(body["recorded_seconds"])

    wait_for(lambda: recorded() >= 5, 40, what="5 s recorded")
    live = server.get(f"/api/v1/cameras/{cam}/thumbnail")
    assert live.status_code == 200 and live.headers["X-Frame-Source"] == "live"
    at = datetime.fromisoformat(live.headers["X-Frame-Time"]) - timedelta(seconds=2)
    resp = server.get(f"/api/v1/cameras/{cam}/thumbnail", params={"at": _rfc3339(at)})
    assert resp.status_code == 200, resp.text
    assert resp.headers["X-Frame-Source"] == "local"
    # The keyframe at or before it: the simulator sends one a second.
    frame_time = datetime.fromisoformat(resp.headers["X-Frame-Time"])
    assert at - timedelta(seconds=1.5) <= frame_time <= at, (frame_time, at)
    # A moment after the server's now is nothing recorded, not the open segment.
    ahead = datetime.fromisoformat(live.headers["X-Frame-Time"]) + timedelta(minutes=5)
    resp = server.get(f"/api/v1/cameras/{cam}/thumbnail", params={"at": _rfc3339(ahead)})
    assert resp.status_code == 404, resp.text
