"""`cctvctl reboot` as an admin runs it, against the real server and the simulator's ONVIF.

One module site: four cameras with ONVIF (two in Sangatta Utara, two in Bengalon). One
Bengalon camera's ONVIF URL is removed from the server's inventory after the simulator
has read it, so it streams normally but cannot be rebooted (``no_onvif``). The simulator
reboots in 2 s and counts every ONVIF request, which is how "touches nothing" is checked.
Each real reboot uses a camera of its own: the server's 10-minute guard would skip a
second one.
"""

from __future__ import annotations

import os
import pty
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cli_process import clean_env, last_error, node_env, run_cctvctl
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
from pydantic import TypeAdapter

from cctvctl.models import AuditEntry, RebootJob, RebootPlan

REASON = "stream hung since 03:00, reported by Pak Budi"
AUDIT = TypeAdapter(list[AuditEntry])


@dataclass
class Rig:
    site: Site
    sim: RunningSim
    server: ServerProcess
    first: str  # Sangatta Utara
    second: str  # Sangatta Utara
    no_onvif: str  # Bengalon
    fourth: str  # Bengalon

    def onvif_calls(self) -> dict[str, dict[str, int]]:
        resp = httpx.get(f"{self.sim.control_url}/cameras", timeout=5)
        resp.raise_for_status()
        return {c["id"]: c["onvif_calls"] for c in resp.json()}

    def cli(
        self, *args: str, role: str = "admin", answer: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Runs the CLI; with ``answer``, stdin is a terminal that types it."""
        env = node_env(self.server.url, self.site.tokens[role], columns=160)
        if answer is None:
            # Not a terminal: nobody can answer a prompt.
            return run_cctvctl(*args, env=env, stdin=subprocess.DEVNULL)
        typist, tty = pty.openpty()
        try:
            os.write(typist, answer.encode())
            return run_cctvctl(*args, env=env, stdin=tty)
        finally:
            os.close(typist)
            os.close(tty)


def _drop_onvif(config: Path, camera_id: str) -> None:
    text = config.read_text(encoding="utf-8")
    pattern = rf'(id = "{re.escape(camera_id)}"\n(?:.*\n)*?)\s*onvif = "[^"]*"\n'
    changed, n = re.subn(pattern, r"\1\n", text, count=1)
    assert n == 1
    config.write_text(changed, encoding="utf-8")


_PING = (
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">'
    '<s:Body><GetSystemDateAndTime xmlns="http://www.onvif.org/ver10/device/wsdl"/>'
    "</s:Body></s:Envelope>"
)


def _ping_onvif(config: Path) -> None:
    """One harmless call per device, so the counters are live before the first check."""
    for url in re.findall(r'onvif = "([^"]+)"', config.read_text(encoding="utf-8")):
        resp = httpx.post(
            url, content=_PING, headers={"Content-Type": "application/soap+xml"}, timeout=5
        )
        assert resp.status_code == 200, resp.text


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory, sim_cache: Path) -> Iterator[Rig]:
    site = write_site(tmp_path_factory.mktemp("cli-reboot"), SiteSpec(cameras=4, onvif=True))
    first, second, no_onvif, fourth = site.camera_ids
    assert (
        site.camera_kecamatan[first]
        == site.camera_kecamatan[second]
        != (site.camera_kecamatan[no_onvif])
    )
    sim = start_sim(site, sim_cache)  # reads the inventory before the edits below
    _ping_onvif(site.config)
    server = ServerProcess(site)
    try:
        text = site.config.read_text(encoding="utf-8")
        site.config.write_text(text.replace("[server]\n", "[server]\nreboot_wait = 15\n", 1))
        _drop_onvif(site.config, no_onvif)
        server.start()
        wait_for(
            lambda: all(
                server.get(f"/api/v1/cameras/{c}").json()["status"] == "online"
                for c in site.camera_ids
            ),
            30,
            what="every camera online",
        )
        yield Rig(site, sim, server, first, second, no_onvif, fourth)
    finally:
        try:
            server.stop()
        finally:
            sim.stop()


# --------------------------------------------------------------------------- refusals


def test_reason_is_required(rig: Rig) -> None:
    for extra in ([], ["--reason", "  "]):
        proc = rig.cli("reboot", rig.first, "--yes", *extra)
        assert proc.returncode == 2
        assert "--reason is required" in last_error(proc)
    no_target = rig.cli("reboot", "--reason", REASON)
    assert no_target.returncode == 2 and "name the targets" in last_error(no_target)


def test_dry_run_lists_targets_and_makes_no_onvif_call(rig: Rig) -> None:
    calls = rig.onvif_calls()
    assert all(c.get("GetSystemDateAndTime") for c in calls.values()), "counters not live"
    proc = rig.cli("reboot", rig.first, rig.no_onvif, "--dry-run", "--reason", REASON)
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line for line in proc.stdout.splitlines() if line.strip()}
    assert "1 to reboot, 1 skipped" in proc.stdout
    assert " reboot" in rows[rig.first]
    assert " skip " in rows[rig.no_onvif] and "no_onvif" in rows[rig.no_onvif]
    # The kecamatan's name, as every other command prints it, not its slug.
    site = rig.site
    assert f" {site.kecamatan[site.camera_kecamatan[rig.first]]} " in rows[rig.first]
    as_json = rig.cli(
        "reboot", "--kecamatan", "bengalon", "--dry-run", "--reason", REASON, "--json"
    )
    plan = RebootPlan.model_validate_json(as_json.stdout)
    assert [t.camera for t in plan.targets] == [rig.no_onvif, rig.fourth]
    assert {t.kecamatan for t in plan.targets} == {site.kecamatan["bengalon"]}
    assert plan.would_reboot == 1 and plan.skipped == 1
    assert onvif_commands(rig.onvif_calls()) == onvif_commands(calls)


def test_without_yes_on_a_pipe_it_lists_and_refuses(rig: Rig) -> None:
    calls = rig.onvif_calls()
    proc = rig.cli("reboot", rig.first, "--reason", REASON)
    assert proc.returncode == 2
    line = last_error(proc)
    assert "--yes" in line and "not a terminal" in line
    assert rig.first in proc.stdout  # the targets were shown before refusing
    assert onvif_commands(rig.onvif_calls()) == onvif_commands(calls)


def test_nothing_to_reboot_says_whether_nothing_matched_or_all_was_skipped(rig: Rig) -> None:
    calls = rig.onvif_calls()
    # Every Bengalon camera is online, so none has been offline for 15 minutes.
    none = rig.cli("reboot", "--kecamatan", "bengalon", "--offline-for", "15m", "--reason", REASON)
    assert none.returncode == 1, none.stderr
    assert "no camera matches" in last_error(none) and " 0 " not in last_error(none)
    skipped = rig.cli("reboot", rig.no_onvif, "--reason", REASON)
    assert skipped.returncode == 1, skipped.stderr
    assert "the one target would be skipped" in last_error(skipped)
    assert "no_onvif" in skipped.stdout  # the plan shown says why
    assert onvif_commands(rig.onvif_calls()) == onvif_commands(calls)


def test_operator_is_refused_with_exit_4(rig: Rig) -> None:
    calls = rig.onvif_calls()
    proc = rig.cli("reboot", rig.first, "--yes", "--reason", REASON, role="operator")
    assert proc.returncode == 4
    assert "admin" in last_error(proc)
    assert onvif_commands(rig.onvif_calls()) == onvif_commands(calls)


# --------------------------------------------------------------------------- real reboots


def test_on_a_terminal_it_asks_and_obeys_the_answer(rig: Rig) -> None:
    calls = rig.onvif_calls()
    no = rig.cli("reboot", rig.fourth, rig.no_onvif, "--reason", REASON, answer="n\n")
    assert no.returncode == 1
    assert "Reboot 1 camera?" in no.stderr and "nothing was rebooted" in last_error(no)
    assert onvif_commands(rig.onvif_calls()) == onvif_commands(calls)
    yes = rig.cli("reboot", rig.fourth, rig.no_onvif, "--reason", REASON, answer="y\n")
    assert yes.returncode == 3, yes.stderr + yes.stdout
    rows = {line.split()[0]: line for line in yes.stdout.splitlines() if line.strip()}
    assert "skip" in rows[rig.no_onvif]  # the plan, as confirmed
    assert "back_online" in rows[rig.fourth].split("  ", 1)[1]  # then the result table
    assert rig.onvif_calls()[rig.fourth].get("SystemReboot") == 1


def test_reboot_comes_back_online_and_is_audited(rig: Rig) -> None:
    proc = rig.cli("reboot", rig.first, "--yes", "--reason", REASON, "--json")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    job = RebootJob.model_validate_json(proc.stdout)
    assert job.done and [r.camera for r in job.results] == [rig.first]
    assert job.results[0].state.value == "back_online"
    assert rig.onvif_calls()[rig.first].get("SystemReboot") == 1

    audit = rig.cli("audit", "--json", "--action", "reboot.")
    assert audit.returncode == 0, audit.stderr
    rows = AUDIT.validate_json(audit.stdout)
    results = [r for r in rows if r.action == "reboot.result" and r.target == rig.first]
    assert results and results[-1].result == "ok" and results[-1].reason == REASON
    assert any(r.action == "reboot.bulk" and job.id in (r.detail or "") for r in rows)


def test_a_target_without_onvif_makes_it_partial(rig: Rig) -> None:
    proc = rig.cli("reboot", rig.second, rig.no_onvif, "--yes", "--reason", REASON)
    assert proc.returncode == 3, proc.stderr + proc.stdout
    rows = {line.split()[0]: line for line in proc.stdout.splitlines() if line.strip()}
    assert "back_online" in rows[rig.second]
    assert "skipped (no_onvif)" in rows[rig.no_onvif]
    assert "1 of 2 back online" in proc.stdout


def test_help_has_an_example() -> None:
    proc = run_cctvctl("reboot", "--help", env=clean_env(), timeout=30)
    assert proc.returncode == 0
    assert "Example: cctvctl reboot" in proc.stdout and "--json" in proc.stdout
