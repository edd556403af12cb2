"""`cctvctl audit` against a real server whose audit log holds refused export requests.

Refusals are audited too, so the rows are made without waiting for footage: an operator
asks for a window long before the server started (no footage: 422) under a case number,
and a viewer asks for an export at all (403, recorded without anything of its body).
Reboot rows are checked end to end in ``test_cli_reboot.py``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from cli_process import last_error, node_env, run_cctvctl
from harness import Live, SiteSpec, live_site
from pydantic import TypeAdapter

from cctvctl.models import AuditEntry

AUDIT = TypeAdapter(list[AuditEntry])
CASE = "LP/77/XI/2026"
WITA = timedelta(hours=8)


def run_cli(live: Live, *args: str, role: str = "admin") -> subprocess.CompletedProcess[str]:
    return run_cctvctl(*args, env=node_env(live.server.url, live.site.tokens[role], columns=200))


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, sim_cache: Path) -> Iterator[Live]:
    spec = SiteSpec(cameras=1, kecamatan=("Bengalon",))
    with live_site(tmp_path_factory.mktemp("cli-audit"), sim_cache, spec) as running:
        camera = running.site.camera_ids[0]
        body = {
            "camera": camera,
            "start": "2020-01-01T00:00:00Z",
            "end": "2020-01-01T00:05:00Z",
            "case_id": CASE,
        }
        with running.server.client("operator") as api:
            assert api.post("/api/v1/exports", json=body).status_code == 422
        with running.server.client("viewer") as api:
            assert api.post("/api/v1/exports", json=body).status_code == 403
        yield running


def _rows(live: Live, *args: str) -> list[AuditEntry]:
    proc = run_cli(live, "audit", "--json", *args)
    assert proc.returncode == 0, proc.stderr
    return AUDIT.validate_json(proc.stdout)


def test_json_holds_the_refused_requests(live: Live) -> None:
    rows = _rows(live)
    mine = [r for r in rows if r.action == "export.request"]
    assert [(r.actor, r.role, r.result) for r in mine] == [
        ("test-operator", "operator", "refused"),
        ("test-viewer", "viewer", "refused"),
    ]
    operator, viewer = mine
    assert (operator.case_id, operator.target) == (CASE, live.site.camera_ids[0])
    # A viewer is refused before its body is read: the row says who, not what it sent.
    assert (viewer.case_id, viewer.target) == (None, None)


def test_table_in_wita_and_in_utc(live: Live) -> None:
    entry = _rows(live, "--actor", "test-operator")[0]
    proc = run_cli(live, "audit")
    assert proc.returncode == 0, proc.stderr
    wita = (entry.time.astimezone(UTC) + WITA).strftime("%Y-%m-%d %H:%M:%S")
    row = next(line for line in proc.stdout.splitlines() if "test-operator" in line)
    assert row.startswith(wita)
    for word in ("operator", "export.request", live.site.camera_ids[0], CASE, "refused"):
        assert word in row
    header = next(line for line in proc.stdout.splitlines() if "ACTOR" in line)
    assert header.startswith("TIME (WITA)") and "REASON/CASE" in header
    utc = run_cli(live, "audit", "--utc")
    assert "TIME (UTC)" in utc.stdout
    assert entry.time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") in utc.stdout
    wide = run_cli(live, "audit", "--wide")
    assert "DETAIL" in wide.stdout and "footage" in wide.stdout  # why the 422 was given


def test_filters(live: Live) -> None:
    assert {r.actor for r in _rows(live, "--actor", "test-viewer")} == {"test-viewer"}
    assert {r.action for r in _rows(live, "--action", "export.*")} == {"export.request"}
    assert _rows(live, "--action", "reboot.") == []
    human = run_cli(live, "audit", "--action", "reboot.")
    assert human.returncode == 0 and "no audit rows" in human.stdout
    newest = _rows(live)[-1].time
    later = (newest + timedelta(seconds=1)).astimezone(UTC).isoformat()
    assert _rows(live, "--since", later) == []
    limited = run_cli(live, "audit", "--json", "--limit", "1")
    assert len(AUDIT.validate_json(limited.stdout)) == 1
    assert "only the newest 1 rows" in limited.stderr


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_only_admin_reads_the_log(live: Live, role: str) -> None:
    proc = run_cli(live, "audit", role=role)
    assert proc.returncode == 4
    assert "forbidden" in last_error(proc)


def test_bad_window_exits_2(live: Live) -> None:
    proc = run_cli(live, "audit", "--since", "1h", "--until", "2h")
    assert proc.returncode == 2 and "--until" in last_error(proc)
    bad = run_cli(live, "audit", "--since", "last tuesday")
    assert bad.returncode == 2 and "--since" in last_error(bad)


def test_help_has_an_example(live: Live) -> None:
    proc = run_cli(live, "audit", "--help")
    assert proc.returncode == 0
    assert "Example: cctvctl audit" in proc.stdout and "--json" in proc.stdout
