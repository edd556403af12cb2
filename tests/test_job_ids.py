"""Job ids are told apart by their first 8 characters; old ids stay readable."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_audit import _job
from test_reboot_jobs import _rebooted

from cctvctl.models import RebootState
from cctvctl.storage.database import Database
from cctvctl.storage.exports import ExportStore
from cctvctl.storage.job_ids import SHORT, new_job_id
from cctvctl.storage.reboot_log import RebootLog

T0 = datetime(2026, 12, 4, 14, 40, tzinfo=UTC)
# The form every reboot id had before: "rb-" and the time first, so "rb-6b12d" for all.
OLD_REBOOT = "rb-6b12d3f0-a1b2c3"


def test_a_taken_prefix_is_drawn_again() -> None:
    asked: list[str] = []

    def taken(head: str) -> bool:
        asked.append(head)
        return len(asked) <= 3  # the first three draws collide

    job = new_job_id("rb-", 10, taken)
    assert len(asked) == 4 and job[:SHORT] == asked[-1]
    assert job.startswith("rb-") and len(job) == 13
    assert set(job[3:]) <= set("0123456789abcdef")


def test_a_prefix_as_long_as_the_short_id_is_refused() -> None:
    with pytest.raises(ValueError, match="no random character"):
        new_job_id("reboot--", 10, lambda head: False)


def test_new_reboot_ids_avoid_old_ids_and_each_other(tmp_path: Path) -> None:
    with Database(tmp_path / "storage") as index:
        _reboot_ids(index)


def _reboot_ids(index: Database) -> None:
    log = RebootLog(index)
    _rebooted(log, "cam-01", T0, RebootState.BACK_ONLINE, batch=OLD_REBOOT)
    assert log.short_id_taken(OLD_REBOOT[:SHORT])
    assert not log.short_id_taken("rb-00000")
    made = []
    for n in range(300):
        job = new_job_id("rb-", 10, log.short_id_taken)
        _rebooted(log, f"cam-{n}", T0, RebootState.BACK_ONLINE, batch=job)
        made.append(job)
    heads = {OLD_REBOOT[:SHORT], *(j[:SHORT] for j in made)}
    assert len(heads) == len(made) + 1
    # The old id is read as it always was, whole.
    assert [r.batch for r in log.batch(OLD_REBOOT)] == [OLD_REBOOT]


def test_export_ids_are_distinct_in_their_first_8(tmp_path: Path) -> None:
    with Database(tmp_path / "storage") as index:
        _export_ids(index)


def _export_ids(index: Database) -> None:
    store = ExportStore(index)
    old = "0123456789abcdef"
    _job(store, old)
    assert store.short_id_taken(old[:SHORT]) and not store.short_id_taken("fedcba98")
    job = new_job_id("", 16, store.short_id_taken)
    assert job[:SHORT] != old[:SHORT] and len(job) == 16
