"""Exit codes as the README documents them (issue 9, item 16), against a real server.

One site of 21 cameras with ONVIF URLs and no simulator: a dry run plans reboots without
calling a camera, so the cameras need not answer, and 21 is one more than the server
reboots at once without --force.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from cli_process import node_env, run_cctvctl
from harness import ServerProcess, Site, SiteSpec, write_site

from cctvctl.models import RebootPlan


@dataclass
class Rig:
    site: Site
    server: ServerProcess

    def cli(self, *args: str, role: str = "admin") -> subprocess.CompletedProcess[str]:
        env = node_env(self.server.url, self.site.tokens[role], columns=160)
        return run_cctvctl(*args, env=env, stdin=subprocess.DEVNULL)


def one_error(proc: subprocess.CompletedProcess[str]) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cctvctl: error: "), proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    spec = SiteSpec(cameras=21, kecamatan=("Bengalon",), onvif=True)
    site = write_site(tmp_path_factory.mktemp("cli-exit-codes"), spec)
    server = ServerProcess(site).start()
    try:
        yield Rig(site, server)
    finally:
        server.stop()


def test_exports_ls_of_an_unknown_camera_is_bad_input(rig: Rig) -> None:
    proc = rig.cli("exports", "ls", "--camera", "no-such-cam")
    assert proc.returncode == 2, proc.stdout
    assert "no-such-cam" in one_error(proc)
    assert proc.stdout == ""
    # A known camera without exports is an empty list, not an error.
    known = rig.cli("exports", "ls", "--camera", rig.site.camera_ids[0])
    assert known.returncode == 0, known.stderr
    assert f"no export jobs of camera {rig.site.camera_ids[0]}" in known.stdout
    # An empty filtered list names its filter, so it does not read as "nothing at all".
    done = rig.cli("exports", "ls", "--state", "done")
    assert done.returncode == 0, done.stderr
    assert "no export jobs in state done" in done.stdout


def test_a_dry_run_needs_no_reason_and_exits_0_over_the_bulk_limit(rig: Rig) -> None:
    proc = rig.cli("reboot", "--kecamatan", "bengalon", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "21 to reboot" in proc.stdout
    assert "a real run would be refused" in proc.stdout and "force" in proc.stdout
    as_json = rig.cli("reboot", "--kecamatan", "bengalon", "--dry-run", "--json")
    assert as_json.returncode == 0, as_json.stderr
    plan = RebootPlan.model_validate_json(as_json.stdout)
    assert plan.would_reboot == 21 and plan.refused is not None
    # A real run still wants a reason: it goes into the audit log.
    real = rig.cli("reboot", "--kecamatan", "bengalon", "--yes")
    assert real.returncode == 2 and "--reason is required" in one_error(real)


@pytest.mark.parametrize("hostile", ["", "..", ".", "a/b", "%2e", "%2e%2e", "../cameras", "x?y#z"])
def test_an_id_in_a_path_stays_one_segment(rig: Rig, hostile: str) -> None:
    """Whatever the id, the server is asked about that id: a 404 naming it, exit 2. An
    empty id is refused before asking (it would name the collection)."""
    for args in (("exports", "show", hostile), ("snapshot", hostile)):
        proc = rig.cli(*args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        line = one_error(proc)
        if hostile:
            assert hostile in line and "not found" in line.lower(), line
        else:
            assert "an empty id" in line, line
