"""Reboots against the real server and the simulator's ONVIF service (nothing mocked).

One module site (4 cameras with ONVIF, 2 kecamatan) is bent on purpose before the server
starts, while the simulator keeps the inventory as first written:

- ``happy`` (first camera) is rebooted for real and must come back;
- ``wrong_pw`` has a different password in the server's secrets file than in the sim;
- ``no_onvif`` has its ONVIF URL removed from the server's inventory;
- ``dark`` (the other kecamatan) is taken offline with a sim fault for ``offline_for``.

The simulator counts every ONVIF request per camera; fault control reports the counters,
which is how "touches nothing" is checked.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import (
    RunningSim,
    ServerProcess,
    Site,
    SiteSpec,
    onvif_commands,
    start_sim,
    wait_for,
    write_site,
)

REASON = "stream hung since 03:00, reported by Pak Budi"
REBOOT_WAIT = 15  # the sim's reboot takes 2 s; the server gives up after this


@dataclass
class Rig:
    site: Site
    sim: RunningSim
    server: ServerProcess
    happy: str
    wrong_pw: str
    no_onvif: str
    dark: str

    def admin(self) -> httpx.Client:
        return self.server.client("admin")

    def sim_camera(self, camera_id: str) -> dict[str, Any]:
        resp = httpx.get(f"{self.sim.control_url}/cameras/{camera_id}", timeout=5)
        resp.raise_for_status()
        state: dict[str, Any] = resp.json()
        return state

    def onvif_calls(self) -> dict[str, dict[str, int]]:
        resp = httpx.get(f"{self.sim.control_url}/cameras", timeout=5)
        resp.raise_for_status()
        return {c["id"]: c["onvif_calls"] for c in resp.json()}

    def wait_job(self, job_id: str, timeout: float) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            job: dict[str, Any] = self.server.get(f"/api/v1/reboots/{job_id}", "admin").json()
            return job if job["done"] else None

        return wait_for(done, timeout, interval=0.3, what=f"reboot job {job_id} to finish")

    def audit(self, action: str = "reboot*") -> list[dict[str, Any]]:
        resp = self.server.get("/api/v1/audit", "admin", params={"action": action})
        assert resp.status_code == 200, resp.text
        rows: list[dict[str, Any]] = resp.json()
        return rows


def _set_server_key(config: Path, key: str, value: str) -> None:
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("[server]\n", f"[server]\n{key} = {value}\n", 1), "utf-8")


def _drop_onvif(config: Path, camera_id: str) -> None:
    text = config.read_text(encoding="utf-8")
    pattern = rf'(id = "{re.escape(camera_id)}"\n(?:.*\n)*?)\s*onvif = "[^"]*"\n'
    changed, n = re.subn(pattern, r"\1\n", text, count=1)
    assert n == 1, "the camera's onvif line was not found"
    config.write_text(changed, encoding="utf-8")


def _wrong_password(site: Site, camera_id: str) -> None:
    secrets = site.dir / "secrets.toml"
    right = site.passwords[camera_id]
    text = secrets.read_text(encoding="utf-8")
    assert right in text
    secrets.write_text(text.replace(right, right + "-typo"), encoding="utf-8")


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory, sim_cache: Path) -> Iterator[Rig]:
    site = write_site(tmp_path_factory.mktemp("reboots"), SiteSpec(cameras=4, onvif=True))
    happy, wrong_pw, no_onvif, dark = site.camera_ids  # sgu, sgu, ben, ben
    assert site.camera_kecamatan[no_onvif] == site.camera_kecamatan[dark]
    assert site.camera_kecamatan[wrong_pw] != site.camera_kecamatan[dark]
    sim = start_sim(site, sim_cache)  # reads the inventory now, before the edits below
    server = ServerProcess(site)
    try:
        _set_server_key(site.config, "reboot_wait", str(REBOOT_WAIT))
        _drop_onvif(site.config, no_onvif)
        _wrong_password(site, wrong_pw)
        server.start()
        rig = Rig(site, sim, server, happy, wrong_pw, no_onvif, dark)
        wait_for(
            lambda: all(
                server.get(f"/api/v1/cameras/{c}").json()["status"] == "online"
                for c in (happy, no_onvif, dark)
            ),
            30,
            what="the cameras with good credentials online",
        )
        yield rig
    finally:
        try:
            server.stop()
        finally:
            sim.stop()


def _problem(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = resp.json()
    assert body["detail"]
    return body


# --------------------------------------------------------------------------- single reboot


def test_reboot_goes_dark_and_comes_back(rig: Rig) -> None:
    before = rig.sim_camera(rig.happy)
    with rig.server.events("types=job.progress", role="viewer") as events, rig.admin() as api:
        resp = api.post(f"/api/v1/cameras/{rig.happy}/reboot", json={"reason": REASON})
        assert resp.status_code == 202, resp.text
        job = resp.json()
        assert resp.headers["location"] == f"/api/v1/reboots/{job['id']}"
        assert [r["camera"] for r in job["results"]] == [rig.happy]
        assert job["results"][0]["state"] == "queued"
        assert job["actor"] == "test-admin" and job["reason"] == REASON

        # The camera really went dark: the simulator counted one reboot.
        wait_for(
            lambda: rig.sim_camera(rig.happy)["reboots"] == before["reboots"] + 1,
            10,
            what="the simulated camera to reboot",
        )
        done = rig.wait_job(job["id"], REBOOT_WAIT + 10)
        seen: list[str] = []

        def ours(event: Any) -> bool:
            data = event.json()["data"]
            if data.get("job") == job["id"]:
                seen.append(data["state"])
            return bool(data.get("state") == "back_online")

        events.wait_for(ours, 5)
    result = done["results"][0]
    assert result["state"] == "back_online", result
    assert result["error"] is None
    assert result["finished"] is not None
    assert done["counts"] == {"back_online": 1}
    assert seen == ["rebooting", "waiting", "back_online"]
    after = rig.sim_camera(rig.happy)
    assert (
        after["onvif_calls"].get("SystemReboot", 0)
        == before["onvif_calls"].get("SystemReboot", 0) + 1
    )
    assert rig.server.get(f"/api/v1/cameras/{rig.happy}").json()["status"] == "online"

    rows = [r for r in rig.audit() if r["target"] == rig.happy]
    requested = [r for r in rows if r["action"] == "reboot" and r["result"] == "accepted"]
    outcome = [r for r in rows if r["action"] == "reboot.result"]
    assert requested and requested[-1]["actor"] == "test-admin"
    assert requested[-1]["role"] == "admin" and requested[-1]["reason"] == REASON
    assert job["id"] in requested[-1]["detail"]
    assert outcome and outcome[-1]["result"] == "ok" and job["id"] in outcome[-1]["detail"]

    listed = rig.server.get("/api/v1/reboots", "admin", params={"camera": rig.happy}).json()
    assert listed[0]["id"] == job["id"]


def test_recent_reboot_is_guarded_unless_forced(rig: Rig) -> None:
    # Depends on the reboot above (module order); make that explicit rather than silent.
    last = rig.server.get("/api/v1/reboots", "admin", params={"camera": rig.happy}).json()
    assert last, "test_reboot_goes_dark_and_comes_back must run first"
    calls = rig.onvif_calls()
    with rig.admin() as api:
        body = _problem(
            api.post(f"/api/v1/cameras/{rig.happy}/reboot", json={"reason": "again"}), 409
        )
        assert body["error"] == "recently_rebooted"
        assert "force" in body["detail"]

        # Bulk: skipped, and said so per camera; force lifts it (dry runs only here).
        plan = api.post(
            "/api/v1/reboots",
            json={"cameras": [rig.happy, rig.dark], "dry_run": True, "reason": "again"},
        )
        assert plan.status_code == 200, plan.text
        states = {t["camera"]: (t["state"], t["error"]) for t in plan.json()["targets"]}
        assert states == {rig.happy: ("skipped", "recently_rebooted"), rig.dark: ("planned", None)}
        forced = api.post(
            "/api/v1/reboots",
            json={"cameras": [rig.happy], "dry_run": True, "force": True, "reason": "again"},
        ).json()
        assert [(t["state"], t["error"]) for t in forced["targets"]] == [("planned", None)]

        # A real bulk run records the skip as a result and sends nothing to that camera.
        resp = api.post("/api/v1/reboots", json={"cameras": [rig.happy], "reason": "again"})
        assert resp.status_code == 202, resp.text
        job = rig.wait_job(resp.json()["id"], 5)
        assert [(r["state"], r["error"]) for r in job["results"]] == [
            ("skipped", "recently_rebooted")
        ]
    assert onvif_commands(rig.onvif_calls()) == onvif_commands(calls)
    # Two jobs minutes apart: a person tells them apart by the first 8 characters.
    jobs = [j["id"] for j in rig.server.get("/api/v1/reboots", "admin").json()]
    assert len(jobs) >= 2 and len({j[:8] for j in jobs}) == len(jobs)
    refused = [r for r in rig.audit("reboot") if r["result"] == "refused"]
    assert refused and refused[-1]["target"] == rig.happy
    assert refused[-1]["detail"].startswith("recently_rebooted")


# --------------------------------------------------------------------------- failures per device


def test_wrong_password_is_a_clear_per_device_error(rig: Rig) -> None:
    before = rig.sim_camera(rig.wrong_pw)
    with rig.admin() as api:
        resp = api.post(
            "/api/v1/reboots", json={"cameras": [rig.wrong_pw, rig.no_onvif], "reason": REASON}
        )
    assert resp.status_code == 202, resp.text
    job = rig.wait_job(resp.json()["id"], 15)
    results = {r["camera"]: r for r in job["results"]}
    bad = results[rig.wrong_pw]
    assert (bad["state"], bad["error"]) == ("failed", "not_authorized"), bad
    assert "password" in bad["detail"] or "credentials" in bad["detail"]
    # One failing device does not hide the other's own reason.
    assert (results[rig.no_onvif]["state"], results[rig.no_onvif]["error"]) == (
        "skipped",
        "no_onvif",
    )
    after = rig.sim_camera(rig.wrong_pw)
    assert after["reboots"] == before["reboots"], "a refused login must not reboot"
    assert after["onvif_calls"].get("SystemReboot", 0) == 1 + before["onvif_calls"].get(
        "SystemReboot", 0
    )
    for password in rig.site.passwords.values():
        assert password not in resp.text
        assert password not in str(job)
    outcome = [r for r in rig.audit("reboot.result") if r["target"] == rig.wrong_pw]
    assert outcome and outcome[-1]["result"] == "failed"
    assert outcome[-1]["detail"].split(": ", 2)[1] == "not_authorized"


def test_camera_without_onvif_url(rig: Rig) -> None:
    calls = rig.onvif_calls()
    with rig.admin() as api:
        body = _problem(
            api.post(f"/api/v1/cameras/{rig.no_onvif}/reboot", json={"reason": REASON}), 422
        )
    assert body["error"] == "no_onvif"
    assert "ONVIF URL" in body["detail"]
    assert onvif_commands(rig.onvif_calls()) == onvif_commands(calls)


# --------------------------------------------------------------------------- selection, dry run


def test_dry_run_makes_no_onvif_call(rig: Rig) -> None:
    calls = rig.onvif_calls()
    assert any(calls.values()), "the counters must be live for this test to mean anything"
    with rig.admin() as api:
        resp = api.post(
            "/api/v1/reboots",
            json={"cameras": rig.site.camera_ids, "dry_run": True, "reason": REASON},
        )
    assert resp.status_code == 200, resp.text
    plan = resp.json()
    assert plan["dry_run"] is True
    assert [t["camera"] for t in plan["targets"]] == rig.site.camera_ids
    states = {t["camera"]: t["state"] for t in plan["targets"]}
    assert states[rig.dark] == "planned" and states[rig.no_onvif] == "skipped"
    assert plan["would_reboot"] + plan["skipped"] == len(rig.site.camera_ids)
    time.sleep(0.5)  # anything sent would have been counted by now
    assert onvif_commands(rig.onvif_calls()) == onvif_commands(calls)
    dry = rig.audit("reboot.dry_run")
    assert dry and dry[-1]["actor"] == "test-admin" and dry[-1]["reason"] == REASON
    # The dry run leaves no job behind either.
    assert all(
        rig.dark not in [r["camera"] for r in j["results"]]
        for j in rig.server.get("/api/v1/reboots", "admin").json()
    )


def test_offline_for_selects_only_cameras_dark_long_enough(rig: Rig) -> None:
    kec = rig.site.camera_kecamatan[rig.dark]
    rig.sim.fault(rig.dark, "offline")
    try:
        wait_for(
            lambda: rig.server.get(f"/api/v1/cameras/{rig.dark}").json()["status"] == "offline",
            15,
            what="the dark camera reported offline",
        )
        with rig.admin() as api:

            def plan(offline_for: object) -> list[str]:
                body = {"kecamatan": kec, "offline_for": offline_for, "dry_run": True}
                resp = api.post("/api/v1/reboots", json={**body, "reason": REASON})
                assert resp.status_code == 200, resp.text
                return [t["camera"] for t in resp.json()["targets"]]

            assert plan("2s") == [rig.dark]
            assert plan(2) == [rig.dark]
            assert plan("1h") == []
            # offline_for alone: every kecamatan; the wrong-password camera never got in.
            resp = api.post(
                "/api/v1/reboots",
                json={"offline_for": "2s", "dry_run": True, "reason": REASON},
            )
            assert {t["camera"] for t in resp.json()["targets"]} == {rig.dark, rig.wrong_pw}
            body = _problem(
                api.post(
                    "/api/v1/reboots",
                    json={"kecamatan": kec, "offline_for": "soon", "reason": REASON},
                ),
                422,
            )
            assert "offline_for" in body["detail"]
    finally:
        rig.sim.fault(rig.dark, "recover")


def test_camera_that_stays_dark_did_not_return(rig: Rig) -> None:
    wait_for(
        lambda: rig.server.get(f"/api/v1/cameras/{rig.dark}").json()["status"] == "online",
        40,
        what="the dark camera back online before this test",
    )
    before = rig.sim_camera(rig.dark)["reboots"]
    with rig.admin() as api:
        resp = api.post(f"/api/v1/cameras/{rig.dark}/reboot", json={"reason": REASON})
    assert resp.status_code == 202, resp.text
    try:
        wait_for(
            lambda: rig.sim_camera(rig.dark)["reboots"] == before + 1,
            10,
            what="the simulated camera to reboot",
        )
        rig.sim.fault(rig.dark, "offline")  # and never come back up
        job = rig.wait_job(resp.json()["id"], REBOOT_WAIT + 10)
    finally:
        rig.sim.fault(rig.dark, "recover")
    result = job["results"][0]
    assert (result["state"], result["error"]) == ("did_not_return", "not_back"), result
    assert f"{REBOOT_WAIT} s" in result["detail"]
    outcome = [r for r in rig.audit("reboot.result") if r["target"] == rig.dark]
    assert outcome and outcome[-1]["result"] == "did_not_return"


# --------------------------------------------------------------------------- who may, what is valid


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_viewer_and_operator_are_refused(rig: Rig, role: str) -> None:
    calls = rig.onvif_calls()
    jobs = len(rig.server.get("/api/v1/reboots", "admin").json())
    with rig.server.client(role) as api:
        single = api.post(f"/api/v1/cameras/{rig.dark}/reboot", json={"reason": REASON})
        bulk = api.post("/api/v1/reboots", json={"cameras": [rig.dark], "reason": REASON})
        listing = api.get("/api/v1/reboots")
    for resp in (single, bulk, listing):
        assert "admin" in _problem(resp, 403)["detail"]
    assert onvif_commands(rig.onvif_calls()) == onvif_commands(calls)
    assert len(rig.server.get("/api/v1/reboots", "admin").json()) == jobs
    forbidden = [r for r in rig.audit() if r["result"] == "forbidden" and r["role"] == role]
    assert {r["action"] for r in forbidden} == {"reboot", "reboot.bulk"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": ""}, "reason"),
        ({"reason": "   "}, "reason"),
        ({}, "reason"),
        ({"reason": "x", "max_parallel": 17}, "max_parallel"),
        ({"reason": "x", "cameras": []}, "cameras"),
        ({"reason": "x"}, "cameras"),
        ({"reason": "x", "cameras": ["a"], "kecamatan": "b"}, "kecamatan"),
    ],
)
def test_bad_requests_are_422(rig: Rig, body: dict[str, Any], field: str) -> None:
    with rig.admin() as api:
        resp = api.post("/api/v1/reboots", json=body)
        problem = _problem(resp, 422)
        assert field in problem["detail"] or any(
            e["parameter"] == field for e in problem.get("errors", [])
        ), problem
        if "cameras" not in body and "max_parallel" not in body and body.get("reason") != "x":
            single = api.post(f"/api/v1/cameras/{rig.dark}/reboot", json=body)
            _problem(single, 422)


@pytest.mark.parametrize("field", ["offline_for", "max_parallel"])
def test_json_true_is_not_a_number(rig: Rig, field: str) -> None:
    # Lax parsing read offline_for: true as 1 s, which selects every camera dark that long.
    body = {"kecamatan": rig.site.camera_kecamatan[rig.dark], field: True, "dry_run": True}
    with rig.admin() as api:
        problem = _problem(api.post("/api/v1/reboots", json={**body, "reason": REASON}), 422)
    assert problem["detail"].startswith(f"body field '{field}': true or false is not accepted; ")
    assert problem["detail"].endswith(" (got true)"), problem


def test_unknown_job_and_camera_are_404(rig: Rig) -> None:
    with rig.admin() as api:
        _problem(api.get("/api/v1/reboots/rb-nope"), 404)
        _problem(api.post("/api/v1/cameras/no-such-cam/reboot", json={"reason": "x"}), 404)
        _problem(api.post("/api/v1/reboots", json={"kecamatan": "atlantis", "reason": "x"}), 404)
        unknown = api.post("/api/v1/reboots", json={"cameras": ["no-such-cam"], "reason": "x"})
        assert "no-such-cam" in _problem(unknown, 404)["detail"]


def _refused_rows(rig: Rig, action: str, target: str | None) -> list[dict[str, Any]]:
    return [
        r
        for r in rig.audit(action)
        if r["result"] == "refused" and r["target"] == target and r["action"] == action
    ]


def test_unknown_camera_and_kecamatan_are_audited(rig: Rig) -> None:
    with rig.admin() as api:
        single = api.post("/api/v1/cameras/cam-audit-404/reboot", json={"reason": REASON})
        bulk = api.post("/api/v1/reboots", json={"kecamatan": "atlantis-audit", "reason": "y"})
    assert "cam-audit-404" in _problem(single, 404)["detail"]
    assert "atlantis-audit" in _problem(bulk, 404)["detail"]
    (row,) = _refused_rows(rig, "reboot", "cam-audit-404")
    assert row["actor"] == "test-admin" and row["role"] == "admin"
    assert row["reason"] == REASON and "cam-audit-404" in row["detail"]
    (row,) = _refused_rows(rig, "reboot.bulk", "kecamatan=atlantis-audit")
    assert row["actor"] == "test-admin" and row["role"] == "admin"
    assert row["reason"] == "y" and "atlantis-audit" in row["detail"]


def test_invalid_bodies_are_422_and_audited(rig: Rig) -> None:
    single = f"/api/v1/cameras/{rig.no_onvif}/reboot"
    before = len(rig.audit())
    with rig.admin() as api:
        invalid = api.post(single, json={"reason": "x", "force": "sometimes", "extra": 1})
        empty = api.post(single, json={"reason": "   "})
        bad_bulk = api.post("/api/v1/reboots", json={"reason": "z", "max_parallel": 17})
        no_target = api.post("/api/v1/reboots", json={"reason": "z"})
    assert "force" in _problem(invalid, 422)["detail"]
    assert "reason" in _problem(empty, 422)["detail"]
    assert "max_parallel" in _problem(bad_bulk, 422)["detail"]
    assert "cameras" in _problem(no_target, 422)["detail"]
    rows = [r for r in rig.audit()[before:] if r["action"] != "reboot.result"]
    assert len(rows) == 4, rows
    assert all(r["result"] == "refused" for r in rows), rows
    assert all(r["actor"] == "test-admin" and r["role"] == "admin" for r in rows), rows
    assert [r["action"] for r in rows] == ["reboot", "reboot", "reboot.bulk", "reboot.bulk"]
    assert rows[0]["target"] == rig.no_onvif and "force" in rows[0]["detail"]
    assert "reason" in rows[1]["detail"]
    assert "max_parallel" in rows[2]["detail"]
    assert "cameras" in rows[3]["detail"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/v1/cameras/{camera}/reboot", "{reason, force?}"),
        ("/api/v1/reboots", "reason"),
    ],
)
def test_non_json_body_is_a_clear_422_and_audited(rig: Rig, path: str, expected: str) -> None:
    before = len(rig.audit())
    with rig.admin() as api:
        resp = api.post(
            path.format(camera=rig.no_onvif),
            content=b'{"reason": oops',
            headers={"content-type": "application/json"},
        )
    problem = _problem(resp, 422)
    assert problem["detail"].startswith("the request body is not valid JSON; expected {")
    assert expected in problem["detail"]
    assert problem["errors"] == [{"in": "body", "parameter": "", "detail": problem["detail"]}]
    rows = [r for r in rig.audit()[before:] if r["action"] != "reboot.result"]
    assert len(rows) == 1 and rows[0]["result"] == "refused", rows
    assert rows[0]["actor"] == "test-admin" and rows[0]["detail"] == problem["detail"]


def test_server_stop_marks_inflight_reboot_interrupted(rig: Rig) -> None:
    """Runs last on the rig: it restarts the server. Forced: ``happy`` was rebooted above."""
    before = rig.sim_camera(rig.happy)["reboots"]
    with rig.admin() as api:
        resp = api.post(
            f"/api/v1/cameras/{rig.happy}/reboot", json={"reason": REASON, "force": True}
        )
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["id"]
    try:
        wait_for(
            lambda: rig.sim_camera(rig.happy)["reboots"] == before + 1,
            10,
            what="the simulated camera to reboot",
        )
        rig.sim.fault(rig.happy, "offline")
        # Even force does not send a second reboot while the first is being watched.
        with rig.admin() as api:
            again = api.post(
                f"/api/v1/cameras/{rig.happy}/reboot", json={"reason": REASON, "force": True}
            )
        assert "in progress" in _problem(again, 409)["detail"]
        assert rig.server.stop() == 0
        rig.server.start()
    finally:
        rig.sim.fault(rig.happy, "recover")
    job = rig.server.get(f"/api/v1/reboots/{job_id}", "admin").json()
    assert job["done"] is True
    assert job["results"][0]["state"] == "interrupted", job
    outcome = [r for r in rig.audit("reboot.result") if r["target"] == rig.happy]
    assert outcome[-1]["result"] == "interrupted"


# --------------------------------------------------------------------------- bulk limit


def test_more_than_twenty_targets_need_force(
    tmp_path: Path, server_factory: Any, site_factory: Any
) -> None:
    # No simulator: the limit is decided before any device is contacted.
    site = site_factory(SiteSpec(cameras=21, kecamatan=("Sangatta Utara",), onvif=True))
    server = server_factory(site)
    ids = site.camera_ids
    with server.client("admin") as api:
        body = {"cameras": ids, "reason": REASON}
        plan = api.post("/api/v1/reboots", json={**body, "dry_run": True})
        assert plan.status_code == 200, plan.text
        assert plan.json()["would_reboot"] == 21 and plan.json()["limit"] == 20
        assert "force" in plan.json()["refused"]

        refused = _problem(api.post("/api/v1/reboots", json=body), 422)
        assert "more than 20" in refused["detail"]
        assert refused["targets"] == ids

        # The whole kecamatan is the same 21 cameras.
        _problem(
            api.post("/api/v1/reboots", json={"kecamatan": "sangatta-utara", "reason": "x"}), 422
        )

        # 20 are fine, and so are 21 with force (dry runs: nothing is there to reboot).
        ok = api.post("/api/v1/reboots", json={**body, "cameras": ids[:20], "dry_run": True})
        assert ok.json()["refused"] is None
        forced = api.post("/api/v1/reboots", json={**body, "dry_run": True, "force": True})
        assert forced.json()["refused"] is None and forced.json()["would_reboot"] == 21
        assert api.get("/api/v1/reboots").json() == []
        audit = api.get("/api/v1/audit", params={"action": "reboot.bulk"}).json()
    assert [r["result"] for r in audit] == ["refused", "refused"]
