"""The cells of an export job and an audit entry, as both front ends show them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cctvctl.cli.export_cmd import show_rows
from cctvctl.client import fold_export_event
from cctvctl.models import AuditEntry, ExportJob, ExportState, ExportWait
from cctvctl.views import (
    Severity,
    audit_cells,
    audit_fields,
    audit_row,
    export_cells,
    export_state_text,
    waiting_text,
    window_text,
)

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)  # 16:00 WITA


def at(day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "end", "utc", "text"),
    [
        (at(28, 6, 0), at(28, 6, 15), False, "14:00-14:15"),  # today in WITA, whole minutes
        (at(28, 6, 0, 5), at(28, 6, 15), False, "14:00:05-14:15:00"),
        (at(28, 6, 0), at(28, 6, 15), True, "06:00-06:15"),
        (at(27, 6, 0), at(27, 6, 15), False, "27/11 14:00-14:15"),
        (at(27, 15, 50), at(27, 16, 10), False, "27/11 23:50-00:10+1d"),  # past midnight WITA
    ],
)
def test_a_window_reads_in_wita_or_utc(
    start: datetime, end: datetime, utc: bool, text: str
) -> None:
    assert window_text(start, end, NOW, utc=utc) == text


def job(**changes: object) -> ExportJob:
    base = ExportJob(
        id="3f2a9c0d11",
        camera="sgu-camat-01",
        start=at(28, 6, 0),
        end=at(28, 6, 15),
        requester="op-budi",
        state=ExportState.RUNNING,
        created=at(28, 6, 20),
        percent=42.0,
    )
    return base.model_copy(update=changes)


def test_export_cells_in_words_and_compact() -> None:
    done = job(state=ExportState.DONE, percent=99.0, size=212_391_114, case_id="LP/1")
    words = export_cells(done, NOW)
    assert (words.case, words.window, words.percent, words.size) == (
        "LP/1",
        "14:00-14:15",
        100.0,  # a done job is whole, whatever the last progress said
        "212.4 MB",
    )
    assert export_cells(done, NOW, compact=True).size == "212M"
    running = export_cells(job(), NOW)
    assert (running.case, running.size, running.percent) == ("-", "-", 42.0)


def test_export_cells_are_inert() -> None:
    cells = export_cells(job(case_id="LP\x1b[2J/1", camera="cam\x9b31m"), NOW)
    assert cells.case == "LP\\x1b[2J/1" and cells.camera == "cam\\x9b31m"


def entry(**changes: object) -> AuditEntry:
    base = AuditEntry(
        id=7,
        time=at(28, 6, 1),
        actor="admin-sari",
        role="admin",
        action="export.request",
        target="sgu-camat-01",
        result="refused",
    )
    return base.model_copy(update=changes)


def test_audit_cells_say_severity_and_why() -> None:
    refused = audit_cells(entry(reason="stuck", case_id="LP/9", detail="too \x1b long"))
    assert (refused.kind, refused.result, refused.severity) == ("export", "REFUSED", Severity.BAD)
    assert refused.why == "LP/9 · stuck" and refused.detail == "too \\x1b long"
    fine = audit_cells(entry(result="ok", target=None))
    assert (fine.result, fine.severity, fine.target, fine.why) == ("ok", Severity.OK, "-", "-")


def test_the_event_list_line_of_an_audit_entry() -> None:
    row = audit_row(entry(reason="stuck", case_id="LP/9"), "sangatta-utara", "->")
    assert row.key == "a7" and row.kecamatan == "sangatta-utara"
    assert row.detail == "export by admin-sari: stuck -> REFUSED [case LP/9]"


# --------------------------------------------------------------------------- a waiting export


def wait_at(holds: datetime) -> ExportWait:
    return ExportWait(
        holds=holds,
        open_since=at(28, 14, 44, 30),
        expected_close=at(28, 14, 45, 30),
        segment_seconds=60,
    )


@pytest.mark.parametrize(
    ("holds", "utc", "shown", "eta"),
    [
        (at(28, 14, 45), False, "22:45", "22:45:30 WITA"),
        (at(28, 14, 45, 12), False, "22:45:12", "22:45:30 WITA"),
        (at(28, 14, 45), True, "14:45", "14:45:30 UTC"),
    ],
)
def test_a_waiting_export_names_the_segment_its_bound_and_an_eta(
    holds: datetime, utc: bool, shown: str, eta: str
) -> None:
    text = waiting_text(wait_at(holds), utc=utc)
    assert f"segment that holds {shown} to close" in text
    assert "(≤ 60 s)" in text
    assert text.endswith(f"ETA {eta}")


def test_a_progress_event_carries_the_wait_to_a_followed_job() -> None:
    running = job(state=ExportState.RUNNING)
    wait = wait_at(at(28, 6, 15))
    data = {"kind": "export", "job": running.id, "state": "running", "percent": 0.0}
    waiting = fold_export_event(running, {**data, "waiting": wait.model_dump(mode="json")})
    assert waiting is not None and waiting.waiting == wait
    moving = fold_export_event(waiting, {**data, "percent": 12.0, "waiting": None})
    assert moving is not None and moving.waiting is None and moving.percent == 12.0
    assert fold_export_event(running, {**data, "waiting": {"holds": "soon"}}) is None


def test_a_download_row_names_its_job_by_the_first_8_characters() -> None:
    job = "96066b2464f30c52"
    row = audit_row(entry(action="export.download", target=job, result="ok"))
    assert row.target == job[:8]
    # A camera target stays whole.
    assert audit_row(entry(target="kbn-desa-telukpandan-01")).target == "kbn-desa-telukpandan-01"


def test_the_detail_of_an_audit_row_has_every_field_inert() -> None:
    fields = dict(
        audit_fields(entry(reason="stuck\x1b[2J", case_id="LP/9", detail="ONVIF said no"))
    )
    assert fields["reason"] == "stuck\\x1b[2J"
    assert (fields["case"], fields["detail"], fields["target"]) == (
        "LP/9",
        "ONVIF said no",
        "sgu-camat-01",
    )
    assert fields["time"].endswith("WITA")
    assert audit_fields(entry(), utc=True)[1][1].endswith("UTC")


def test_a_running_export_held_by_an_open_segment_reads_waiting() -> None:
    assert export_state_text(job(waiting=wait_at(at(28, 14, 45)))) == "waiting"
    assert export_state_text(job()) == "running"
    # A wait left on a job that has moved on is not shown.
    done = job(state=ExportState.DONE, waiting=wait_at(at(28, 14, 45)))
    assert export_state_text(done) == "done"


def test_exports_show_says_why_a_job_sits_at_0_percent() -> None:
    rows = dict(show_rows(job(percent=0.0, waiting=wait_at(at(28, 14, 45))), utc=False))
    assert rows["state"] == "waiting" and rows["progress"] == "0 %"
    assert "segment that holds 22:45 to close" in rows["waiting"]
    assert rows["waiting"].endswith("WITA")
    assert "waiting" not in dict(show_rows(job(), utc=False))
