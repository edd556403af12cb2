"""The audit log and the export job table, on a real SQLite index (no server)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from harness import write_site
from still_clock import StillClock

from cctvctl.config import load_inventory
from cctvctl.exports import Exporter
from cctvctl.models import ExportState, Role
from cctvctl.storage.audit import AuditLog
from cctvctl.storage.database import Database
from cctvctl.storage.exports import ExportStore

T0 = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)


def test_migration_2_tables(index: Database) -> None:
    assert index.schema_version() >= 2
    cols = {
        table: [r[1] for r in index._query(f"PRAGMA table_info({table})")]
        for table in ("audit", "reboots", "export_jobs")
    }
    assert cols["audit"] == [
        "id", "time", "actor", "role", "action", "target", "reason", "case_id", "result", "detail",
        "uuid",  # migration 4: the row's id in the fleet store
    ]  # fmt: skip
    assert cols["reboots"] == [
        "id", "camera", "requested", "actor", "reason", "state", "detail", "finished", "batch",
    ]  # fmt: skip
    assert {"id", "camera", "start", "end", "state", "attempts", "sha256"} <= set(
        cols["export_jobs"]
    )


def test_record_and_filter(index: Database) -> None:
    clock = StillClock(T0)
    log = AuditLog(index, clock=clock)
    a = log.record(
        "noc-ani", Role.OPERATOR, "export.request", "cam-1", case_id="LP/1", result="accepted"
    )
    assert a.role == "operator" and a.time == T0 and a.case_id == "LP/1"
    clock.now += 60
    log.record("noc-budi", "admin", "reboot", "cam-2", reason="hung", result="failed", detail="x")
    clock.now += 60
    log.record("noc-ani", "operator", "export.download", "job1")

    assert [e.action for e in log.entries()] == ["export.request", "reboot", "export.download"]
    assert [e.actor for e in log.entries(actor="noc-budi")] == ["noc-budi"]
    assert [e.action for e in log.entries(action="export.")] == [
        "export.request",
        "export.download",
    ]
    assert [e.action for e in log.entries(action="export*")] == [
        "export.request",
        "export.download",
    ]
    assert log.entries(action="export") == []
    since = log.entries(since=T0 + timedelta(seconds=60))
    assert [e.action for e in since] == ["reboot", "export.download"]
    window = log.entries(since=T0, until=T0 + timedelta(seconds=60))
    assert [e.action for e in window] == ["export.request"]
    # limit keeps the newest, still oldest first.
    assert [e.action for e in log.entries(limit=2)] == ["reboot", "export.download"]
    assert log.has("export.download", "job1", "noc-ani")
    assert not log.has("export.download", "job1", "noc-budi")


def test_record_from_many_threads(index: Database) -> None:
    log = AuditLog(index)

    def work(n: int) -> None:
        for i in range(25):
            log.record(f"t{n}", "operator", "export.request", f"cam-{i}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = log.entries(limit=1000)
    assert len(rows) == 200
    assert len({r.id for r in rows}) == 200


def _job(store: ExportStore, job_id: str) -> None:
    store.create(
        job_id,
        camera="cam-1",
        start=T0,
        end=T0 + timedelta(minutes=1),
        requester="noc-ani",
        role="operator",
        case_id=None,
        note=None,
        gaps=[(T0.timestamp() + 10, T0.timestamp() + 12.5)],
    )


def test_queue_claims_once_and_requeues_after_a_crash(index: Database) -> None:
    clock = StillClock(T0)
    store = ExportStore(index, clock=clock)
    _job(store, "a")
    clock.now += 1
    _job(store, "b")
    job = store.get("a")
    assert job is not None and job.state is ExportState.QUEUED
    assert job.gaps[0].seconds == 2.5

    first = store.claim_next()
    second = store.claim_next()
    assert first is not None and second is not None
    assert (first[0].id, second[0].id) == ("a", "b")  # oldest first
    assert first[0].state is ExportState.RUNNING and first[0].attempts == 1
    assert store.claim_next() is None

    # A cancel and a finishing worker race: only the first one wins.
    assert store.set_state_if("a", [ExportState.RUNNING], state=ExportState.CANCELLED)
    assert not store.set_state_if("a", [ExportState.RUNNING], state=ExportState.DONE)
    assert store.get("a").state is ExportState.CANCELLED  # type: ignore[union-attr]

    # The process dies with "b" running: the next start puts it back in the queue.
    assert store.requeue_running() == ["b"]
    again = store.claim_next()
    assert again is not None and again[0].id == "b" and again[0].attempts == 2


def test_expired_exports_lose_their_files(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site")
    inventory = load_inventory(site.config)
    index = Database(inventory.storage)
    clock = StillClock(T0)
    try:
        exporter = Exporter(index=index, inventory=inventory, clock=clock)
        _job(exporter.store, "old")
        _job(exporter.store, "new")
        keep = inventory.server.export_keep_days * 86400
        for job_id, finished in (("old", clock.now), ("new", clock.now + 3600)):
            exporter.store.update(
                job_id, state=ExportState.DONE, finished=finished, expires=finished + keep
            )
            exporter.job_dir(job_id).mkdir(parents=True)
            (exporter.job_dir(job_id) / "clip.mp4").write_bytes(b"x")
        clock.now += keep + 1
        assert exporter.expire() == 1
        assert exporter.store.get("old").state is ExportState.EXPIRED  # type: ignore[union-attr]
        assert not exporter.job_dir("old").exists()
        assert exporter.store.get("new").state is ExportState.DONE  # type: ignore[union-attr]
        assert exporter.job_dir("new").exists()
    finally:
        index.close()
