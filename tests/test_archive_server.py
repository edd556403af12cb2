"""A recording node with ``[archive]``: the real simulator, the real ``cctvctl server`` and
a real S3 endpoint (moto's server over HTTP on 127.0.0.1). Footage reaches the bucket
whole, its local copies go after ``local_days``, an export of footage that is only in the
archive is the export made while it was local, a cut link resumes without doubling
anything, and ``cctvctl health`` and ``/metrics`` say where the archive stands."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from cli_process import node_env, run_cctvctl
from harness import RunningSim, ServerProcess, Site, SiteSpec, wait_for
from s3_harness import ACCESS_KEY, SECRET_KEY, S3Engine, archive_table

LOCAL_DAYS = 0.0002  # about 17 s: local copies go within a retention pass after that


def _export(server: ServerProcess, start: str, end: str, camera: str) -> dict[str, Any]:
    with server.client("operator") as api:
        resp = api.post("/api/v1/exports", json={"camera": camera, "start": start, "end": end})
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["id"]

    def probe() -> dict[str, Any] | None:
        job: dict[str, Any] = server.get(f"/api/v1/exports/{job_id}", "operator").json()
        assert job["state"] in ("queued", "running", "done"), job
        return job if job["state"] == "done" else None

    job = wait_for(probe, 60, what=f"export {job_id}")
    with server.client("operator") as api:
        clip = api.get(f"/api/v1/exports/{job_id}/file").content
    assert hashlib.sha256(clip).hexdigest() == job["sha256"]
    return job


def _segments(server: ServerProcess, camera: str) -> list[dict[str, Any]]:
    resp = server.get(f"/api/v1/cameras/{camera}/recordings")
    assert resp.status_code == 200, resp.text
    segments: list[dict[str, Any]] = resp.json()["segments"]
    return segments


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_node_moves_its_footage_to_the_archive_and_reads_it_back(
    s3: S3Engine,
    site_factory: Callable[..., Site],
    sim_factory: Callable[[Site], RunningSim],
    server_factory: Callable[..., ServerProcess],
) -> None:
    site = site_factory(SiteSpec(cameras=1, kecamatan=("Sangatta Utara",), segment_seconds=2))
    bucket = s3.make_bucket(versioned=True)  # a second PUT of a key would be a second version
    site.config.write_text(
        site.config.read_text() + "\n" + archive_table(s3, bucket, local_days=LOCAL_DAYS)
    )
    secrets = site.dir / "secrets.toml"  # the keys as an operator keeps them
    secrets.write_text(
        secrets.read_text()
        + f'\n[archive]\naccess_key = "{ACCESS_KEY}"\nsecret_key = "{SECRET_KEY}"\n'
    )
    cam = site.camera_ids[0]
    sim_factory(site)
    server = server_factory(site)
    client = s3.client()

    # Closed segments reach the bucket under {kecamatan}/{camera}/{date}/{time}.mp4, whole.
    wait_for(lambda: len(s3.keys(bucket)) >= 3, 40, what="three segments in the bucket")
    for key in s3.keys(bucket)[:3]:
        assert key.startswith(f"sangatta-utara/{cam}/")
        local = (site.storage / key).read_bytes()
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert hashlib.sha256(body).digest() == hashlib.sha256(local).digest()

    # An export of two archived segments while they are still local ...
    both = wait_for(
        lambda: [s for s in _segments(server, cam) if s["location"] == "both"][:2] or None,
        20,
        what="archived segments with local copies",
    )
    assert len(both) == 2
    start = (_at(both[0]["start"]) + timedelta(seconds=0.3)).isoformat()
    end = (_at(both[1]["end"]) - timedelta(seconds=0.3)).isoformat()
    local_job = _export(server, start, end, cam)

    # ... local_days later their local copies are gone, the archive still holds them ...
    def archived_only() -> bool:
        seen = {s["start"]: s["location"] for s in _segments(server, cam)}
        return all(seen.get(s["start"]) == "archived" for s in both)

    wait_for(archived_only, 60, interval=1, what="local copies to go after local_days")
    keys = [f"sangatta-utara/{cam}/{_at(s['start']):%Y-%m-%d/%H%M%S}.mp4" for s in both]
    assert not any((site.storage / k).exists() for k in keys)

    # ... and the same export, now read from the archive, is the same clip.
    archived_job = _export(server, start, end, cam)
    assert archived_job["sha256"] == local_job["sha256"]
    assert archived_job["size"] == local_job["size"]

    # A cut link: uploads fail, recording goes on, health says so ...
    env = node_env(server.url, site.tokens["viewer"], columns=200)
    s3.stop()
    try:

        def unreachable() -> dict[str, Any] | None:
            archive: dict[str, Any] = server.get("/api/v1/health").json()["archive"]
            return archive if archive["state"] == "store unreachable" else None

        down = wait_for(unreachable, 30, what="health to report the store unreachable")
        assert down["failures"] >= 1 and down["last_error"]
        shown = run_cctvctl("health", env=env)
        assert shown.returncode == 0, shown.stderr
        assert "store unreachable" in shown.stdout and "BACKLOG" in shown.stdout
        wait_for(
            lambda: server.get("/api/v1/health").json()["archive"]["backlog_segments"] >= 2,
            20,
            what="a backlog to build up",
        )
    finally:
        s3.start()

    # ... and once it is back the backlog drains, each segment sent once.
    def drained() -> dict[str, Any] | None:
        archive: dict[str, Any] = server.get("/api/v1/health").json()["archive"]
        ok = archive["state"] != "store unreachable" and archive["backlog_segments"] <= 1
        return archive if ok else None

    wait_for(drained, 60, interval=0.5, what="the backlog to drain")
    server.stop()  # every open segment closed, indexed and (below) compared
    segments = _segments_after_stop(site, cam)
    archived = [path for path, when in segments if when is not None]
    keys = s3.keys(bucket)
    assert set(keys) == set(archived)  # every object is an archived segment, and back
    versions = client.list_object_versions(Bucket=bucket).get("Versions", [])
    assert len(versions) == len(keys)  # no object written twice
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []

    # health --json and /metrics carry the same figures per kecamatan.
    server.start()
    report = json.loads(run_cctvctl("health", "--json", env=env).stdout)
    node = report[0] if isinstance(report, list) else report
    kec = node["kecamatan"][0]["archive"]
    assert kec["archived_bytes"] > 0 and kec["archived_segments"] >= len(archived)
    assert node["archive"]["lost_segments"] == 0
    metrics = server.get("/metrics").text
    assert 'cctv_archive_stored_bytes{kecamatan="sangatta-utara"}' in metrics
    assert "cctv_archive_unarchived_deleted_bytes_total 0.0" in metrics


def _segments_after_stop(site: Site, camera: str) -> list[tuple[str, float | None]]:
    """(path, archived) of every segment row, read from the stopped node's index."""
    from cctvctl.storage.database import Database

    with Database(site.storage) as db:
        rows = db._query(
            "SELECT path, archived FROM segments WHERE camera = ? ORDER BY start", (camera,)
        )
    return [(str(p), a) for p, a in rows]
