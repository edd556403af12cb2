"""Camera time and identity end to end: the simulator's ONVIF devices, a real server
reading them on its schedule, the API, the CLI, an export's manifest and time sync.

One site for the module: three ONVIF cameras whose simulated devices say who they are
(``sim_device`` in the inventory); the first one's clock is 90 s ahead, the third's 2 s
behind (inside the 5 s tolerance). The server reads clocks every 3 s here
(``clock_check_minutes = 0.05``) so a clock changed by the ``clock`` fault is seen at once.
Tests run in file order: the time sync that rights the first camera's clock comes last.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_process import node_env, run_cctvctl
from harness import Live, SiteSpec, serving, start_sim, wait_for, write_site

SPEC = SiteSpec(
    cameras=3,
    kecamatan=("Sangatta Utara",),
    onvif=True,
    segment_seconds=3,
    server_lines=("clock_check_minutes = 0.05",),
)
HIKVISION = {
    "manufacturer": "Hikvision",
    "model": "DS-2CD2143G2-I",
    "firmware": "V5.7.3 build 220112",
    "hardware_id": "88",
}
DAHUA = {"manufacturer": "Dahua", "model": "IPC-HFW2431S-S-S2", "firmware": "V2.800.0000000.9.R"}


def _inline(table: dict[str, Any]) -> str:
    return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in table.items()) + " }"


def _with_devices(config: Path, devices: dict[str, dict[str, Any]]) -> None:
    """Give each named camera a ``sim_device`` table after its id line."""
    text = config.read_text(encoding="utf-8")
    for camera, table in devices.items():
        line = f'    id = "{camera}"\n'
        assert line in text
        text = text.replace(line, f"{line}    sim_device = {_inline(table)}\n")
    config.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, sim_cache: Path) -> Iterator[Live]:
    directory = tmp_path_factory.mktemp("camera-time")
    # write_site picks free ports; the same spec written again here would pick others, so
    # the site is written once, given its devices, and served as written.
    site = write_site(directory, SPEC)
    a, b, c = site.camera_ids
    _with_devices(
        site.config,
        {
            a: {**HIKVISION, "serial": "DS-A-0001", "clock_offset": 90},
            b: {**DAHUA, "serial": "DH-B-0002"},
            c: {**HIKVISION, "serial": "DS-C-0003", "clock_offset": -2},
        },
    )
    with serving(site, start_sim(site, sim_cache)) as running:
        yield running


def _camera(live: Live, camera: str) -> dict[str, Any]:
    answer: dict[str, Any] = live.server.get(f"/api/v1/cameras/{camera}").json()
    return answer


def _cli(live: Live, *args: str, role: str = "viewer") -> Any:
    env = node_env(live.server.url, live.site.tokens[role], columns=200)
    return run_cctvctl(*args, env=env)


def _clock_fault(live: Live, camera: str, by: float) -> None:
    answer = httpx.post(
        f"{live.sim.control_url}/cameras/{camera}/fault", json={"mode": "clock", "by": by}
    )
    assert answer.status_code == 200, answer.text


def _sim_state(live: Live, camera: str) -> dict[str, Any]:
    state: dict[str, Any] = httpx.get(f"{live.sim.control_url}/cameras/{camera}").json()
    return state


def test_a_drifted_camera_is_degraded_clock_off(live: Live) -> None:
    a, b, c = live.site.camera_ids
    # Replayed from the start: the camera may have turned degraded before this test began.
    with live.server.events("types=camera.status&last=200") as stream:
        event = stream.wait_for(
            lambda e: e.json()["camera"] == a and e.json()["data"]["status"] == "degraded",
            30,
        )
    reason = event.json()["data"]["reason"]
    found = re.fullmatch(r"clock off by (\d+) s \(ahead\)", reason)
    assert found is not None, reason
    # ONVIF gives whole seconds: 90 s, give or take one.
    assert 89 <= int(found.group(1)) <= 91
    cam = _camera(live, a)
    assert cam["status"] == "degraded"
    assert 88.5 <= cam["clock"]["offset_seconds"] <= 91.5
    assert cam["clock"]["off"] is True
    assert cam["clock"]["mode"] == "Manual"
    # Two seconds behind is inside the tolerance: online, the offset still shown.
    within = _camera(live, c)
    assert -3.5 <= within["clock"]["offset_seconds"] <= -0.5
    assert within["clock"]["off"] is False
    wait_for(lambda: _camera(live, c)["status"] == "online", 20, what=f"{c} online")
    wait_for(lambda: _camera(live, b)["status"] == "online", 20, what=f"{b} online")


def test_camera_detail_carries_the_devices_identity(live: Live) -> None:
    a, b, _c = live.site.camera_ids
    device = wait_for(lambda: _camera(live, b)["device"], 20, what="device information")
    assert {k: device[k] for k in DAHUA} == DAHUA
    assert device["serial"] == "DH-B-0002"
    assert device["hardware_id"] == "sim-hw-1"  # blank in sim_device: the simulator's own
    assert _camera(live, a)["device"]["serial"] == "DS-A-0001"


def test_cameras_time_lists_the_offsets(live: Live) -> None:
    a, b, c = live.site.camera_ids
    proc = _cli(live, "cameras", "--time", "--no-color")
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line for line in proc.stdout.splitlines() if line.strip()}
    assert re.search(r"\+(89|90|91) s\s+Manual\s+UTC0", rows[a]), rows[a]
    assert "over tolerance: degraded" in rows[a]
    assert re.search(r"[-−][1-3] s", rows[c]), rows[c]
    assert "over tolerance" not in rows[c]
    assert re.search(r"[+-][01] s", rows[b]), rows[b]


def test_cameras_wide_and_firmware(live: Live) -> None:
    a, b, c = live.site.camera_ids
    wide = _cli(live, "cameras", "--wide", "--no-color")
    assert wide.returncode == 0, wide.stderr
    rows = {line.split()[0]: line for line in wide.stdout.splitlines() if line.strip()}
    assert "MANUFACTURER" in rows["CAMERA"] and "HARDWARE ID" in rows["CAMERA"]
    for camera, serial, device in ((a, "DS-A-0001", HIKVISION), (b, "DH-B-0002", DAHUA)):
        assert serial in rows[camera]
        assert device["model"] in rows[camera]
        assert device["manufacturer"] in rows[camera]
    grouped = _cli(live, "cameras", "--firmware", "--json")
    assert grouped.returncode == 0, grouped.stderr
    assert json.loads(grouped.stdout) == [
        {
            "manufacturer": "Hikvision",
            "model": HIKVISION["model"],
            "firmware": HIKVISION["firmware"],
            "cameras": [a, c],
        },
        {
            "manufacturer": "Dahua",
            "model": DAHUA["model"],
            "firmware": DAHUA["firmware"],
            "cameras": [b],
        },
    ]
    table = _cli(live, "cameras", "--firmware", "--no-color")
    assert table.returncode == 0, table.stderr
    assert re.search(
        rf"Hikvision\s+{HIKVISION['model']}\s+V5\.7\.3 build 220112\s+2\s+{a} {c}", table.stdout
    ), table.stdout
    both = _cli(live, "cameras", "--time", "--wide")
    assert both.returncode == 2
    assert "separate views" in both.stderr


def test_export_manifest_records_the_clock_offset(live: Live) -> None:
    a = live.site.camera_ids[0]
    end = time.time() - 1
    body = {
        "camera": a,
        "start": datetime.fromtimestamp(end - 2, UTC).isoformat(),
        "end": datetime.fromtimestamp(end, UTC).isoformat(),
    }
    with live.server.client("operator") as api:
        created = api.post("/api/v1/exports", json=body)
    assert created.status_code == 202, created.text
    job_id = created.json()["id"]

    def done() -> bool:
        job = live.server.get(f"/api/v1/exports/{job_id}", "operator").json()
        assert job["state"] in ("queued", "running", "done"), job
        return bool(job["state"] == "done")

    wait_for(done, 40, what=f"export {job_id}")
    manifest = live.server.get(f"/api/v1/exports/{job_id}/manifest", "operator").json()
    clock = manifest["camera_clock"]
    assert 88.5 <= clock["offset_seconds"] <= 91.5
    assert clock["off"] is True
    checked = datetime.fromisoformat(clock["checked_at"].replace("Z", "+00:00"))
    assert abs(time.time() - checked.timestamp()) < 60


def test_a_clock_fault_is_seen_and_its_end_too(live: Live) -> None:
    b = live.site.camera_ids[1]
    _clock_fault(live, b, -30)
    wait_for(lambda: _camera(live, b)["status"] == "degraded", 20, what=f"{b} degraded")
    cam = _camera(live, b)
    assert -31.5 <= cam["clock"]["offset_seconds"] <= -28.5
    _clock_fault(live, b, 0)
    wait_for(lambda: _camera(live, b)["status"] == "online", 20, what=f"{b} online again")
    assert _camera(live, b)["clock"]["off"] is False


def test_an_unreadable_clock_keeps_its_last_reading(live: Live) -> None:
    c = live.site.camera_ids[2]
    before = _camera(live, c)["clock"]
    httpx.post(f"{live.sim.control_url}/cameras/{c}/fault", json={"mode": "offline"})
    try:
        wait_for(lambda: _camera(live, c)["clock"]["error"], 20, what=f"{c}'s clock unread")
        clock = _camera(live, c)["clock"]
        assert "unreachable" in clock["error"]
        # The last good reading stays beside the error (one more may have come in first).
        assert abs(clock["offset_seconds"] - before["offset_seconds"]) <= 1.5
        assert clock["checked_at"] is not None
    finally:
        httpx.post(f"{live.sim.control_url}/cameras/{c}/fault", json={"mode": "recover"})
    wait_for(lambda: _camera(live, c)["clock"]["error"] is None, 30, what=f"{c}'s clock read")


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_camera_screen_shows_clock_and_device(live: Live, size: tuple[int, int]) -> None:
    from test_tui_camera import open_camera
    from tui_pilot import screen_text, until

    from cctvctl.tui.app import CctvApp

    a = live.site.camera_ids[0]
    app = CctvApp(live.server.url, live.site.tokens["viewer"], "test-node", refresh=0.5)
    async with app.run_test(size=size) as pilot:
        await open_camera(pilot, app, a)
        await until(pilot, lambda: "clock" in screen_text(app))
        text = screen_text(app)
    # Flagged with the console's problem marker: the clock is over the tolerance.
    assert re.search(r"clock\s+!\+(89|90|91) s Manual", text), text
    assert re.search(r"device\s+Hikvision DS-2CD", text), text  # cut to fit at 80x24
    assert re.search(r"serial\s+DS-A-0001", text), text
    if size[0] >= 160:
        # Wide enough for manufacturer, model and firmware (the build number may be cut).
        assert "Hikvision DS-2CD2143G2-I V5.7.3 build" in text, text


def test_time_sync_refusals(live: Live) -> None:
    a = live.site.camera_ids[0]
    with live.server.client("admin") as api:
        no_ntp = api.post("/api/v1/time/sync", json={"cameras": [a]})
        unknown = api.post("/api/v1/time/sync", json={"cameras": ["nope"], "ntp": "10.0.0.1"})
        nothing = api.post("/api/v1/time/sync", json={"ntp": "10.0.0.1"})
        bad_host = api.post("/api/v1/time/sync", json={"cameras": [a], "ntp": "a b"})
    assert no_ntp.status_code == 409
    assert no_ntp.headers["content-type"].startswith("application/problem+json")
    assert no_ntp.json()["type"] == "urn:cctvctl:problem:no-ntp-server"
    assert "ntp_server" in no_ntp.json()["detail"]
    assert unknown.status_code == 404 and "'nope'" in unknown.json()["detail"]
    assert nothing.status_code == 422 and "cameras or a kecamatan" in nothing.json()["detail"]
    assert bad_host.status_code == 422
    with live.server.client("operator") as api:
        forbidden = api.post("/api/v1/time/sync", json={"cameras": [a], "ntp": "10.0.0.1"})
    assert forbidden.status_code == 403
    audit = live.server.get("/api/v1/audit?action=time.sync", "admin").json()
    results = {(e["actor"], e["result"]) for e in audit}
    assert ("test-operator", "forbidden") in results
    assert ("test-admin", "refused") in results
    cli = _cli(live, "time", "sync", a, role="admin")
    assert cli.returncode == 2, cli.stderr
    assert "no NTP server" in cli.stderr
    # Nothing was pushed by any of these.
    assert _sim_state(live, a)["clock_offset"] == 90


def test_time_sync_dry_run_touches_nothing(live: Live) -> None:
    a = live.site.camera_ids[0]
    proc = _cli(
        live,
        "time",
        "sync",
        a,
        "--ntp",
        "ntp.kutaitimurkab.go.id",
        "--dry-run",
        "--json",
        role="admin",
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["dry_run"] is True and report["tz"] == "WITA-8"
    [result] = report["results"]
    assert result["result"] == "planned"
    assert 88.5 <= result["offset_before"] <= 91.5
    assert _sim_state(live, a)["clock_offset"] == 90
    assert _sim_state(live, a)["onvif_calls"].get("SetNTP", 0) == 0
    by_kecamatan = _cli(
        live,
        "time",
        "sync",
        "--kecamatan",
        "Sangatta Utara",
        "--dry-run",
        "--json",
        "--ntp",
        "10.0.0.1",
        role="admin",
    )
    assert by_kecamatan.returncode == 0, by_kecamatan.stderr
    planned = json.loads(by_kecamatan.stdout)["results"]
    assert [(r["camera_id"], r["result"]) for r in planned] == [
        (camera, "planned") for camera in live.site.camera_ids
    ]


def test_time_sync_corrects_the_drifted_camera_and_audits_it(live: Live) -> None:
    a = live.site.camera_ids[0]
    proc = _cli(
        live, "time", "sync", a, "--ntp", "ntp.kutaitimurkab.go.id", "--no-color", role="admin"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "pushed NTP ntp.kutaitimurkab.go.id, zone WITA-8" in proc.stdout
    row = next(line for line in proc.stdout.splitlines() if line.startswith(a))
    assert re.search(r"\bok\s+\+(89|90|91) s\s+[+-][01] s", row), row
    state = _sim_state(live, a)
    assert state["clock_offset"] == 0
    assert (state["clock_type"], state["clock_tz"]) == ("NTP", "WITA-8")
    wait_for(lambda: _camera(live, a)["status"] == "online", 20, what=f"{a} online after sync")
    assert abs(_camera(live, a)["clock"]["offset_seconds"]) <= 1.5
    audit = live.server.get("/api/v1/audit?action=time.sync", "admin").json()
    # The refusals of test_time_sync_refusals are rows too; this is the one that pushed.
    [entry] = [e for e in audit if e["target"] == a and e["result"] != "refused"]
    assert entry["actor"] == "test-admin" and entry["result"] == "ok"
    assert "ntp.kutaitimurkab.go.id" in entry["detail"] and "WITA-8" in entry["detail"]
