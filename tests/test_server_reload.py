"""In-place reload of a running server (SIGHUP, ``POST /api/v1/server/reload``,
``cctvctl server reload``): real server subprocess, real simulator, the real index."""

from __future__ import annotations

import signal
import sqlite3
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest
from cli_process import clean_env, run_cctvctl
from harness import (
    Live,
    RunningSim,
    ServerProcess,
    Site,
    SiteSpec,
    segment_spans,
    wait_for,
    without_camera,
)

from cctvctl.config import hash_token
from cctvctl.storage.gaps import find_gaps

FOUR = SiteSpec(cameras=4, kecamatan=("Sangatta Utara", "Bengalon"), segment_seconds=2)
TWO = SiteSpec(cameras=2, kecamatan=("Sangatta Utara", "Bengalon"), segment_seconds=2)


def _spans(site: Site, camera: str) -> list[tuple[float, float]]:
    """The camera's segments in the server's index, read-only, oldest first."""
    return segment_spans(site.storage, camera)


def _paths(site: Site, camera: str) -> list[str]:
    db = site.storage / "index.sqlite3"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return [p for (p,) in conn.execute("SELECT path FROM segments WHERE camera = ?", (camera,))]


def _recorded_since(site: Site, camera: str, since: float) -> bool:
    return any(start >= since for start, _ in _spans(site, camera))


def _reload(server: ServerProcess, role: str = "admin") -> httpx.Response:
    with server.client(role) as api:
        return api.post("/api/v1/server/reload", timeout=30)


def _admin_env(server: ServerProcess, role: str = "admin") -> dict[str, str]:
    return clean_env() | {"CCTVCTL_URL": server.url, "CCTVCTL_TOKEN": server.site.tokens[role]}


def _reload_audit(server: ServerProcess) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = server.get(
        "/api/v1/audit", "admin", params={"action": "server.reload"}
    ).json()
    return rows


@pytest.mark.parametrize("processes", [1, 2], ids=["in-the-server", "in-ingest-workers"])
def test_reload_adds_removes_and_reconnects_only_the_cameras_that_changed(
    site_factory: Callable[..., Site],
    sim_factory: Callable[[Site], RunningSim],
    server_factory: Callable[..., ServerProcess],
    processes: int,
) -> None:
    site = site_factory(replace(FOUR, server_lines=(f"ingest_processes = {processes}",)))
    sim_factory(site)  # serves all four cameras; the server starts without one of them
    kept, changed, removed, added = site.camera_ids
    full = site.config.read_text()
    site.config.write_text(without_camera(full, added))
    server = server_factory(site)
    wait_for(
        lambda: all(_spans(site, c) for c in (kept, changed, removed)), 30, what="first segments"
    )
    secrets = site.dir / "secrets.toml"
    original_secrets = secrets.read_text()
    # A password the simulator refuses: only a real reconnect can find that out.
    secrets.write_text(original_secrets.replace(site.passwords[changed], "pw-not-the-camera"))
    site.config.write_text(without_camera(full, removed))

    first = time.time()
    answer = _reload(server)
    returned = time.time()
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["cameras_added"] == [added]
    assert body["cameras_removed"] == [removed]
    assert body["cameras_reconnected"] == [changed]
    assert body["cameras_updated"] == [] and body["needs_restart"] == []
    assert body["cameras"] == 3
    # The camera list is made once per tick for every caller; a reload starts a new one at
    # once, so the answer's change is in the very next list.
    listed_now = [c["id"] for c in server.get("/api/v1/cameras").json()]
    assert added in listed_now and removed not in listed_now

    # Added: recording (no restart).
    wait_for(lambda: _spans(site, added), 30, what=f"{added} to record")
    listed = [c["id"] for c in server.get("/api/v1/cameras").json()]
    assert listed.count(added) == 1 and removed not in listed

    # Removed: stopped, and its footage stays in the index and on disk.
    removed_paths = _paths(site, removed)
    assert removed_paths and all((site.storage / p).is_file() for p in removed_paths)
    assert all(start < returned for start, _ in _spans(site, removed))

    # Changed: the old connection is gone (nothing recorded after the reload) and the new
    # one uses the new password, which the camera refuses.
    detail = wait_for(
        lambda: server.get(f"/api/v1/cameras/{changed}").json()["last_error"],
        30,
        what=f"{changed} to fail with the new password",
    )
    assert "401" in detail or "auth" in detail.lower(), detail
    assert all(start < returned for start, _ in _spans(site, changed))
    # The new password is a secret the log must not show, like the ones at start-up.
    assert "pw-not-the-camera" not in server.log_text()

    # The right password again: the same camera reconnects and records.
    secrets.write_text(original_secrets)
    second = time.time()
    again = _reload(server)
    second_returned = time.time()
    assert again.status_code == 200, again.text
    assert again.json()["cameras_reconnected"] == [changed]
    wait_for(lambda: _recorded_since(site, changed, second), 30, what=f"{changed} to record again")

    # Untouched: a restarted ingest would close its open segment early, so every segment
    # around both reloads has the full length (wherever the rotation fell), and none is missing.
    wait_for(lambda: _recorded_since(site, kept, second + 4), 30, what=f"{kept} to roll on")
    spans = _spans(site, kept)
    length = float(FOUR.segment_seconds)
    around = [(s, e) for s, e in spans if e >= first - length and s <= second_returned + length]
    assert len(around) >= 4, spans
    assert all(abs((e - s) - length) < 0.05 for s, e in around), around
    gaps = find_gaps(spans, spans[0][0], spans[-1][1])
    assert gaps.missing_seconds == 0, gaps

    audit = _reload_audit(server)
    assert [(r["actor"], r["result"]) for r in audit] == [("test-admin", "ok")] * 2
    assert f"cameras added: {added}" in audit[0]["detail"]


def test_sighup_applies_tokens_at_once_and_disables_a_camera(
    live_factory: Callable[..., Live],
) -> None:
    live = live_factory(SiteSpec(cameras=1, kecamatan=("Bengalon",)))
    site, server = live.site, live.server
    (camera,) = site.camera_ids
    wait_for(lambda: _spans(site, camera), 30, what="first segment")
    new_token = "test-new-viewer-token"
    text = site.config.read_text()
    operator_block = next(b for b in text.split("\n\n") if 'name = "test-operator"' in b)
    text = text.replace(
        operator_block,
        f'[[server.token]]\nname = "noc-new"\nrole = "viewer"\nhash = "{hash_token(new_token)}"',
    )
    text = text.replace('username = "admin"', 'username = "admin"\n    enabled = false')
    site.config.write_text(text)
    with server.client(role=None, token=new_token) as api:
        assert api.get("/api/v1/whoami").status_code == 401

    assert server.proc is not None
    with server.events("types=camera.status") as stream:
        server.proc.send_signal(signal.SIGHUP)
        event = stream.wait_for(lambda e: e.json()["data"]["status"] == "disabled", 30)
    signalled = time.time()
    assert event.json()["camera"] == camera
    assert event.json()["data"]["reason"] == "disabled by a reload"
    assert server.get(f"/api/v1/cameras/{camera}").json()["status"] == "disabled"
    assert all(start < signalled for start, _ in _spans(site, camera))

    with server.client(role=None, token=new_token) as api:
        assert api.get("/api/v1/whoami").json() == {"name": "noc-new", "role": "viewer"}
    removed = server.get("/api/v1/whoami", "operator")
    assert removed.status_code == 401
    assert removed.headers["content-type"].startswith("application/problem+json")
    assert server.running
    (row,) = _reload_audit(server)
    assert (row["actor"], row["role"], row["result"]) == ("SIGHUP", "local", "ok")
    assert "tokens added: noc-new" in row["detail"]
    assert "tokens removed: test-operator" in row["detail"]
    assert f"cameras reconnected: {camera}" in row["detail"]


def test_a_bad_file_is_refused_with_config_check_lines_and_everything_records_on(
    live_factory: Callable[..., Live],
) -> None:
    live = live_factory(TWO)
    site, server = live.site, live.server
    wait_for(lambda: all(_spans(site, c) for c in site.camera_ids), 30, what="first segments")
    good = site.config.read_text()
    site.config.write_text(
        good.replace("segment_seconds = 2", "segment_seconds = 1").replace(
            'rtsp = "rtsp://', 'rtsp = "http://', 1
        )
    )
    check = run_cctvctl("config", "check", str(site.config), env=clean_env())
    assert check.returncode == 2
    expected = check.stderr.splitlines()
    assert len(expected) == 2, expected

    refused = _reload(server)
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["type"] == "urn:cctvctl:problem:invalid-inventory"
    assert ["cctvctl: error: " + line for line in problem["errors"]] == expected

    cli = run_cctvctl("server", "reload", env=_admin_env(server))
    assert cli.returncode == 2, cli.stdout + cli.stderr
    assert cli.stderr.splitlines() == expected
    assert server.proc is not None
    server.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: len(_reload_audit(server)) == 3, 30, what="the SIGHUP's audit row")
    assert [r["result"] for r in _reload_audit(server)] == ["refused"] * 3
    assert "reload refused" in server.log_text()

    after = time.time()
    for camera in site.camera_ids:
        wait_for(
            lambda c=camera: _recorded_since(site, c, after), 30, what=f"{camera} to record on"
        )
    listed = [c["id"] for c in server.get("/api/v1/cameras").json()]
    assert listed == site.camera_ids

    # Only an admin reloads.
    operator = run_cctvctl("server", "reload", env=_admin_env(server, "operator"))
    assert operator.returncode == 4, operator.stderr

    # A valid file with a restart-only key changed: the rest applies, that key is named.
    site.config.write_text(
        good.replace("segment_seconds = 2", "segment_seconds = 5").replace(
            "offline_after = 3.0", "offline_after = 4.0"
        )
    )
    ok = run_cctvctl("server", "reload", env=_admin_env(server))
    assert ok.returncode == 0, ok.stderr
    assert f"reloaded {site.config}: 2 cameras" in ok.stdout
    assert "[server] settings applied: offline_after" in ok.stdout
    assert "segment_seconds" in ok.stderr and "restart" in ok.stderr
    as_json = run_cctvctl("server", "reload", "--json", env=_admin_env(server))
    assert as_json.returncode == 0, as_json.stderr
    assert '"needs_restart": [\n    "segment_seconds"\n  ]' in as_json.stdout
