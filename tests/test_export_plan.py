"""Export request checks on a given "now": no server, no footage files.

The end-to-end refusals (problem+json, the audit row) are in test_exports.py and
test_hostile_api.py; these pin the clock-dependent rules, where the server's own time
would make the boundary untestable.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cctvctl.config import Inventory, InventoryFile
from cctvctl.exports.plan import FUTURE_SLACK, ExportRefused, plan_export
from cctvctl.models import ExportRequest
from cctvctl.storage.database import Database

NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
WRITING_SINCE = NOW - timedelta(minutes=30)  # the open segment of sgu-01 began then


def _inventory() -> Inventory:
    camera = {"id": "sgu-01", "name": "Depan", "rtsp": "rtsp://127.0.0.1:8554/a", "username": "a"}
    data = InventoryFile.model_validate(
        {
            "server": {"export_max_minutes": 10},
            "kecamatan": [
                {
                    "name": "Sangatta Utara",
                    "site": [{"name": "Kantor", "kind": "kantor_kecamatan", "camera": [camera]}],
                }
            ],
        }
    )
    return Inventory(path=Path("kutim.toml"), data=data, passwords={})


def _plan(index: Database, camera: str, start: datetime, end: datetime) -> object:
    return plan_export(
        ExportRequest(camera=camera, start=start, end=end),
        inventory=_inventory(),
        index=index,
        open_since=lambda cam: WRITING_SINCE if cam == "sgu-01" else None,
        now=NOW,
    )


def _refusal(index: Database, camera: str, start: datetime, end: datetime) -> ExportRefused:
    with pytest.raises(ExportRefused) as caught:
        _plan(index, camera, start, end)
    return caught.value


def test_the_open_segment_counts_as_footage_up_to_now(index: Database) -> None:
    assert _plan(index, "sgu-01", NOW - timedelta(minutes=5), NOW) == []
    # Before the open segment began, nothing was recorded: a predicted gap.
    gaps = _plan(
        index, "sgu-01", WRITING_SINCE - timedelta(minutes=2), WRITING_SINCE + timedelta(minutes=1)
    )
    assert gaps == [((WRITING_SINCE - timedelta(minutes=2)).timestamp(), WRITING_SINCE.timestamp())]


def test_the_end_may_pass_the_servers_now_by_the_slack_only(index: Database) -> None:
    start = NOW - timedelta(minutes=1)
    assert _plan(index, "sgu-01", start, NOW + FUTURE_SLACK) == []
    late = _refusal(index, "sgu-01", start, NOW + FUTURE_SLACK + timedelta(seconds=1))
    assert (late.status, late.parameter) == (422, "end")
    assert "is in the future; the server's time is 2026-12-04T02:00:00Z" in late.detail


def test_unknown_camera_reversed_or_long_windows_are_refused(index: Database) -> None:
    start = NOW - timedelta(minutes=20)
    unknown = _refusal(index, "sgu-99", start, NOW)
    assert (unknown.status, unknown.parameter) == (404, "camera")
    assert "no camera 'sgu-99'" in unknown.detail
    backwards = _refusal(index, "sgu-01", NOW, start)
    assert (backwards.status, backwards.parameter) == (422, "end")
    too_long = _refusal(index, "sgu-01", start, NOW)
    assert "the window is 20.0 minutes; accepted: at most 10 minutes" in too_long.detail
    assert _plan(index, "sgu-01", NOW - timedelta(minutes=10), NOW) == []


def test_a_window_without_footage_is_refused_on_start(index: Database) -> None:
    before = _refusal(index, "sgu-01", WRITING_SINCE - timedelta(minutes=9), WRITING_SINCE)
    assert (before.status, before.parameter) == (422, "start")
    assert "has no footage between" in before.detail
    # What to do (where footage is), not which route to call; UTC in the API's form.
    assert "footage for this camera starts at 2026-12-04T01:30:00Z" in before.detail
    assert "/api/" not in before.detail
    assert before.extra == {"footage_ends": None, "footage_resumes": "2026-12-04T01:30:00Z"}
