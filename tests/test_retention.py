"""Retention by age, by kecamatan quota and by the disk guard, on real files under tmp_path.

The volume's free space is the one thing simulated: a fake ``disk_usage`` reports a small
disk whose used space is the real size of the segment files plus a fixed amount of
"other" data, so deleting a file really frees space in the simulation.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from media import fmp4_bytes

from cctvctl.config import Inventory, InventoryFile
from cctvctl.storage.database import Database, SegmentInfo, SegmentRow
from cctvctl.storage.event_store import EventStore
from cctvctl.storage.events import STORAGE_DELETED, EventBus
from cctvctl.storage.layout import segment_path
from cctvctl.storage.retention import (
    GB,
    DeleteReason,
    DiskUsage,
    Retention,
    disk_reserve,
    guard_seconds,
    quota_bytes,
)

NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
SIZE = len(fmp4_bytes(2.0))


def add(
    index: Database,
    start: datetime,
    camera: str = "sgu-01",
    kecamatan: str = "sangatta-utara",
) -> SegmentRow:
    path = segment_path(index.root, kecamatan, camera, start)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(fmp4_bytes(2.0))
    row_id = index.add_segment(
        SegmentInfo(camera, path, start, start + timedelta(seconds=60), SIZE, 30)
    )
    row = index.get(row_id)
    assert row is not None
    return row


class FakeVolume:
    def __init__(self, root: Path, total: int, other: int) -> None:
        self.root, self.total, self.other = root, total, other

    def __call__(self, path: Path) -> DiskUsage:
        assert path == self.root
        ours = sum(p.stat().st_size for p in self.root.rglob("*.mp4"))
        used = self.other + ours
        return DiskUsage(self.total, used, self.total - used)


def roomy(path: Path) -> DiskUsage:
    return DiskUsage(10**15, 0, 10**15)


def test_age_deletes_segments_that_ended_before_the_cutoff(index: Database) -> None:
    old = [add(index, NOW - timedelta(days=d)) for d in (40, 31)]
    young = [add(index, NOW - timedelta(days=d)) for d in (29, 1)]
    done = Retention(index, retention_days=30, disk_usage=roomy).run_once(NOW)
    assert [d.segment.id for d in done] == [r.id for r in old]
    assert {d.reason for d in done} == {DeleteReason.AGE}
    assert all(not r.path.exists() for r in old)
    assert all(r.path.exists() for r in young)
    assert [r.id for r in index.oldest(10)] == [r.id for r in young]
    assert not old[0].path.parent.exists()  # empty day folder removed


def test_per_camera_retention_overrides_the_global_one(index: Database) -> None:
    keep_long = add(index, NOW - timedelta(days=40), camera="evidence-cam")
    normal = add(index, NOW - timedelta(days=40))
    short = add(index, NOW - timedelta(days=2), camera="lobby-cam")
    retention = Retention(
        index,
        retention_days=30,
        camera_retention_days={"evidence-cam": 60, "lobby-cam": 1},
        disk_usage=roomy,
    )
    done = retention.run_once(NOW)
    assert {d.segment.id for d in done} == {normal.id, short.id}
    assert keep_long.path.exists()
    assert index.oldest(10) == [keep_long]


def test_quota_deletes_the_oldest_until_the_kecamatan_fits(index: Database) -> None:
    rows = [add(index, NOW - timedelta(hours=5 - i), camera=f"sgu-0{i % 2}") for i in range(5)]
    other = [add(index, NOW - timedelta(hours=9 - i), kecamatan="bengalon") for i in range(3)]
    quota = int(2.5 * SIZE)
    retention = Retention(
        index,
        retention_days=30,
        quotas={"sangatta-utara": quota, "bengalon": None},
        disk_usage=roomy,
    )
    done = retention.run_once(NOW)
    assert [d.segment.id for d in done] == [r.id for r in rows[:3]]  # oldest first
    assert {d.reason for d in done} == {DeleteReason.QUOTA}
    assert index.bytes_by_kecamatan() == {"sangatta-utara": 2 * SIZE, "bengalon": 3 * SIZE}
    assert rows[-1].path.exists()  # the newest stays
    assert all(r.path.exists() for r in other)
    assert retention.run_once(NOW) == []  # already within quota


def test_disk_guard_deletes_globally_oldest_until_free_is_over_five_percent(
    index: Database,
) -> None:
    # Ten old segments across kecamatan; a 200-segment volume with 5 segments' worth free.
    rows = [
        add(index, NOW - timedelta(days=1, minutes=10 - i), kecamatan=f"kec-{i % 3}")
        for i in range(10)
    ]
    volume = FakeVolume(index.root, total=200 * SIZE, other=185 * SIZE)
    retention = Retention(index, retention_days=30, disk_usage=volume)
    assert retention.reserve_bytes(NOW) == 10 * SIZE  # 5 % beats a quiet last hour
    done = retention.run_once(NOW)
    assert [d.segment.id for d in done] == [r.id for r in rows[:5]]
    assert {d.reason for d in done} == {DeleteReason.DISK_GUARD}
    assert volume(index.root).free >= retention.reserve_bytes(NOW)
    assert all(r.path.exists() for r in rows[5:])


def test_disk_guard_reserve_is_an_hour_of_writes_when_that_is_larger(
    index: Database,
) -> None:
    old = [add(index, NOW - timedelta(days=1, minutes=5 - i)) for i in range(4)]
    recent = [add(index, NOW - timedelta(minutes=50 - 5 * i), camera="sgu-02") for i in range(8)]
    volume = FakeVolume(index.root, total=100 * SIZE, other=82 * SIZE)  # 6 segments free
    retention = Retention(index, retention_days=30, disk_usage=volume)
    assert retention.reserve_bytes(NOW) == 8 * SIZE  # an hour of writes > 5 % (5 segments)
    done = retention.run_once(NOW)
    assert [d.segment.id for d in done] == [r.id for r in old[:2]]
    assert all(r.path.exists() for r in recent)


def test_disk_reserve_caps_an_hour_of_writes_to_a_quarter_of_a_small_volume() -> None:
    mb, tb = 1_000_000, 1_000_000_000_000
    # 150 MB volume, 3 MB/s: an hour (10.8 GB) is 72 volumes; a quarter of it is reserved.
    assert disk_reserve(150 * mb, 10_800 * mb, 3 * mb, 10.0) == 150 * mb // 4
    # ... unless the cameras write more than that before the guard can act again.
    assert disk_reserve(150 * mb, 10_800 * mb, 3 * mb, 30.0) == 90 * mb
    # A regency node: 8 TB, 180 GB an hour: 5 % is the larger.
    assert disk_reserve(8 * tb, 180_000 * mb, 50 * mb, 200.0) == 400_000 * mb
    # 1 TB: the hour (18 %) is under the cap and is kept whole.
    assert disk_reserve(tb, 180_000 * mb, 50 * mb, 200.0) == 180_000 * mb
    assert guard_seconds(60, 10) >= 60 + 10  # a segment and a pass at the very least


def test_disk_guard_on_a_small_volume_keeps_most_of_it_in_use(index: Database) -> None:
    # 30 one-minute segments in the last half hour on a 40-segment volume: an hour of
    # writes (60 segments at this rate) is more than the whole volume.
    rows = [add(index, NOW - timedelta(minutes=31 - i), camera=f"sgu-0{i % 3}") for i in range(30)]
    volume = FakeVolume(index.root, total=40 * SIZE, other=2 * SIZE)
    retention = Retention(index, retention_days=30, disk_usage=volume)
    reserve = retention.reserve_bytes(NOW)
    assert reserve == 10 * SIZE  # a quarter of the volume, not the 30 segments written
    done = retention.run_once(NOW)
    assert [d.segment.id for d in done] == [r.id for r in rows[:2]]  # just the shortfall
    usage = volume(index.root)
    assert usage.used >= 0.7 * usage.total
    assert usage.free >= reserve
    # The deleted segments were written all the same: the rate does not drop.
    assert retention.reserve_bytes(NOW) == reserve
    assert index.bytes_written_since(NOW - timedelta(hours=1)) == 30 * SIZE


def test_disk_guard_with_nothing_left_to_delete_stops(index: Database) -> None:
    rows = [add(index, NOW - timedelta(hours=3 - i)) for i in range(3)]
    # The segment being written is not indexed; the guard must leave it alone.
    open_segment = segment_path(index.root, "sangatta-utara", "sgu-01", NOW)
    open_segment.parent.mkdir(parents=True, exist_ok=True)
    open_segment.write_bytes(b"growing")
    volume = FakeVolume(index.root, total=100 * SIZE, other=100 * SIZE)  # full by others
    done = Retention(index, retention_days=30, disk_usage=volume).run_once(NOW)
    assert [d.segment.id for d in done] == [r.id for r in rows]
    assert index.segment_count() == 0
    assert open_segment.exists()


def test_a_file_already_gone_is_not_an_error(index: Database) -> None:
    row = add(index, NOW - timedelta(days=45))
    row.path.unlink()
    done = Retention(index, retention_days=30, disk_usage=roomy).run_once(NOW)
    assert [(d.segment.id, d.error) for d in done] == [(row.id, None)]
    assert index.segment_count() == 0


def test_deletions_are_announced_once_per_reason_and_camera(index: Database) -> None:
    for d in (50, 49, 48):
        add(index, NOW - timedelta(days=d), camera="cam-a")
    add(index, NOW - timedelta(days=47), camera="cam-b", kecamatan="bengalon")
    quota_rows = [add(index, NOW - timedelta(hours=4 - i), camera="cam-a") for i in range(4)]
    bus = EventBus(EventStore(index))
    retention = Retention(
        index,
        retention_days=30,
        quotas={"sangatta-utara": 2 * SIZE},
        events=bus,
        disk_usage=roomy,
    )
    retention.run_once(NOW)
    events = EventStore(index).read(types=[STORAGE_DELETED])
    summary = sorted(
        (e.data["reason"], e.camera, e.kecamatan, e.data["count"], e.data["bytes"]) for e in events
    )
    assert summary == [
        ("age", "cam-a", "sangatta-utara", 3, 3 * SIZE),
        ("age", "cam-b", "bengalon", 1, SIZE),
        ("quota", "cam-a", "sangatta-utara", 2, 2 * SIZE),
    ]
    quota_event = next(e for e in events if e.data["reason"] == "quota")
    assert quota_event.data["start"] == quota_rows[0].start.isoformat()
    assert quota_event.data["end"] == quota_rows[1].end.isoformat()


def test_old_events_are_pruned_with_the_footage(tmp_path: Path) -> None:
    clock = [(NOW - timedelta(days=40)).timestamp()]
    with Database(tmp_path, clock=lambda: clock[0]) as ix:
        events = EventStore(ix)
        stale = events.add("camera.status")
        clock[0] = NOW.timestamp()
        fresh = events.add("camera.status")
        Retention(ix, retention_days=30, disk_usage=roomy).run_once(NOW)
        assert [e.id for e in events.read(since_id=0)] == [fresh.id]
        assert stale.id < fresh.id


def test_from_inventory_reads_retention_days_and_quotas(index: Database) -> None:
    data = InventoryFile.model_validate(
        {
            "server": {"retention_days": 14},
            "kecamatan": [
                {"name": "Sangatta Utara", "quota_gb": 1.5},
                {"name": "Bengalon"},
            ],
        }
    )
    inventory = Inventory(path=Path("kutim.toml"), data=data, passwords={})
    retention = Retention.from_inventory(inventory, index, disk_usage=roomy)
    assert retention.retention_days == 14
    assert retention.quotas == {"sangatta-utara": int(1.5 * GB)}
    assert quota_bytes(None) is None


def test_deletions_are_announced_even_when_a_later_rule_fails(index: Database) -> None:
    old = add(index, NOW - timedelta(days=45))

    def broken(path: Path) -> DiskUsage:
        raise OSError("statvfs failed")

    with pytest.raises(OSError, match="statvfs"):
        Retention(index, retention_days=30, disk_usage=broken).run_once(NOW)
    assert not old.path.exists()
    [event] = EventStore(index).read(types=[STORAGE_DELETED])
    assert (event.data["reason"], event.data["count"]) == ("age", 1)
