"""The "missing in 24 h" figure of many cameras is read from the index in a few queries.

A thousand cameras asked once each made `GET /api/v1/cameras` a thousand SQLite queries,
each giving the GIL up and queueing behind the ingest threads to get it back. The recorder
now refreshes every due camera together; the figures must stay what each camera's own
segments say. Real SQLite, a real Recorder over cameras nobody serves (they stay offline).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from harness import SiteSpec, wait_for, write_site

from cctvctl.config import load_inventory
from cctvctl.recorder import manager
from cctvctl.recorder.manager import Recorder
from cctvctl.storage.database import Database
from cctvctl.storage.event_store import EventStore
from cctvctl.storage.events import EventBus


@dataclass(frozen=True)
class _Segment:
    camera_id: str
    path: Path
    start: datetime
    end: datetime
    bytes: int = 1000
    frames: int | None = 10


def _minutes(index: Database, root: Path, cam: str, kec: str, start: float, end: float) -> None:
    """Index minute segments of ``cam`` covering [start, end) (epoch seconds)."""
    t = start
    while t < end:
        begin = datetime.fromtimestamp(t, UTC)
        stop = datetime.fromtimestamp(min(end, t + 60), UTC)
        path = root / kec / cam / f"{int(t)}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\0" * 1000)  # the files exist, as the rows say
        index.add_segment(_Segment(cam, path, begin, stop), kecamatan=kec)
        t += 60


def _counting(index: Database, name: str, calls: list[str]) -> None:
    real: Callable[..., Any] = getattr(index, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return real(*args, **kwargs)

    setattr(index, name, counted)


def test_every_camera_figure_comes_from_two_queries_and_follows_new_segments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(manager, "COVERAGE_TTL", 2.0)
    site = write_site(tmp_path / "site", SiteSpec(cameras=6))  # no simulator: all offline
    inventory = load_inventory(site.config)
    index = Database(inventory.storage)
    created = index.created().timestamp()
    now = created + 3600.0  # an hour after the index began, by the recorder's clock
    ids = site.camera_ids
    kec = {c: site.kecamatan[site.camera_kecamatan[c]] for c in ids}
    full, half = ids[0], ids[1]
    _minutes(index, inventory.storage, full, kec[full], created, now)
    _minutes(index, inventory.storage, half, kec[half], created, created + 1800)
    calls: list[str] = []
    _counting(index, "spans", calls)
    _counting(index, "spans_started", calls)
    _counting(index, "segments", calls)
    recorder = Recorder(inventory, index, EventBus(EventStore(index)), now=lambda: now)
    recorder.start()
    try:
        first = {c.id: c.missing_seconds_24h for c in recorder.cameras()}
        # One full read for all six (each camera's first), no query of its own per camera.
        assert calls == ["spans"], calls
        assert first[full] <= 1.0, first
        # The second half hour of `half` is missing (up to the offline grace of 3 s).
        assert 1795.0 <= first[half] <= 1800.0, first

        _minutes(index, inventory.storage, half, kec[half], created + 1800, created + 2400)
        calls.clear()

        def refreshed() -> dict[str, float] | None:
            figures = {c.id: c.missing_seconds_24h for c in recorder.cameras()}
            return figures if figures[half] < first[half] else None

        second = wait_for(refreshed, 10, interval=0.1, what="the new segments counted")
        # Only new segments, one query for every camera at once.
        assert set(calls) == {"spans_started"}, calls
        assert 1195.0 <= second[half] <= 1200.0, second
        assert second[full] == first[full]
        # One camera asked alone reads the same figure as the list.
        one = recorder.camera(half)
        assert one is not None and one.missing_seconds_24h == second[half]
    finally:
        recorder.stop()
        index.close()


def test_spans_reads_many_cameras_in_chunks_and_spans_started_only_what_is_new(
    tmp_path: Path,
) -> None:
    index = Database(tmp_path / "storage")
    base = datetime(2026, 1, 5, 8, 0, tzinfo=UTC).timestamp()
    cams = [f"cam-{n:04d}" for n in range(1203)]  # more than one IN (...) of 500
    for n, cam in enumerate(cams):
        _minutes(index, tmp_path / "storage", cam, "kec", base + n, base + n + 120)
    try:
        lo = datetime.fromtimestamp(base + 30, UTC)
        hi = datetime.fromtimestamp(base + 10_000, UTC)
        got = index.spans([*cams, "nobody"], lo, hi)
        assert sorted(got) == cams
        assert got["cam-1202"] == [(base + 1202, base + 1262), (base + 1262, base + 1322)]
        # cam-0000's first minute ended at base + 60, after lo: it overlaps and stays.
        assert got["cam-0000"][0] == (base, base + 60)
        new = index.spans_started(
            datetime.fromtimestamp(base + 1260, UTC), datetime.fromtimestamp(base + 9999, UTC)
        )
        # Second minutes start at base + n + 60: after base + 1260 only for n > 1200.
        assert new == {
            "cam-1201": [(base + 1261, base + 1321)],
            "cam-1202": [(base + 1262, base + 1322)],
        }
        assert index.spans([], lo, hi) == {}
    finally:
        index.close()
