"""The index's writers in one process take turns instead of racing in SQLite's busy handler.

A thousand ingest threads closing their segments together, each slowed by the GIL inside
its transaction, left some of them waiting past SQLite's busy timeout: "database is
locked", a segment never indexed. A writer now waits its turn however long the one before
it holds the lock. Real SQLite, real threads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cctvctl.storage import database
from cctvctl.storage.database import Database


@dataclass(frozen=True)
class _Segment:
    camera_id: str
    path: Path
    start: datetime
    end: datetime
    bytes: int = 1000
    frames: int | None = 10


def test_a_writer_waits_out_a_long_transaction_past_the_busy_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "BUSY_TIMEOUT_SECONDS", 0.2)  # read when a thread connects
    index = Database(tmp_path / "storage")
    start = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    held, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def slow_writer() -> None:
        try:
            with index._write() as conn:
                conn.execute("UPDATE meta SET value = value WHERE key = 'max_seconds'")
                held.set()
                release.wait(10)  # five busy timeouts and more
        except BaseException as exc:  # reported below
            errors.append(exc)

    def segment_writer(n: int) -> None:
        try:
            begin = start + timedelta(minutes=n)
            path = tmp_path / "storage" / "kec" / f"cam-{n}" / "0800.mp4"
            seg = _Segment(f"cam-{n}", path, begin, begin + timedelta(minutes=1))
            index.add_segment(seg, kecamatan="kec")
        except BaseException as exc:  # reported below
            errors.append(exc)

    try:
        holder = threading.Thread(target=slow_writer)
        holder.start()
        assert held.wait(10)
        writers = [threading.Thread(target=segment_writer, args=(n,)) for n in range(8)]
        for t in writers:
            t.start()
        # Well past the busy timeout, every writer is still waiting, none has failed.
        for t in writers:
            t.join(1.0 / len(writers))
        assert all(t.is_alive() for t in writers) and not errors, errors
        release.set()
        holder.join(10)
        for t in writers:
            t.join(10)
        assert not errors, errors
        rows = index.spans([f"cam-{n}" for n in range(8)], start, start + timedelta(hours=1))
        assert sorted(rows) == sorted(f"cam-{n}" for n in range(8))
    finally:
        release.set()
        index.close()
