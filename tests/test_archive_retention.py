"""Local copies and the archive's own retention, on real files, a real index and a real S3
endpoint (moto's server over HTTP on 127.0.0.1). As in test_retention.py, the volume's free
space is the one thing simulated, so the disk guard can be put under pressure."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from archive_sites import KEYS, add_footage, archive_config
from s3_harness import S3Engine

from cctvctl.archive.cache import CACHE_DIR, ArchiveCache
from cctvctl.archive.expiry import expire_archive, lifecycle_rule
from cctvctl.archive.s3 import make_client
from cctvctl.archive.uploader import Uploader
from cctvctl.storage.archive import ArchiveIndex
from cctvctl.storage.database import Database, SegmentRow
from cctvctl.storage.event_store import EventStore
from cctvctl.storage.events import ARCHIVE_UNARCHIVED_DELETED, STORAGE_DELETED
from cctvctl.storage.retention import ArchiveRules, DeleteReason, DiskUsage, Retention

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def index(tmp_path: Path) -> Iterator[Database]:
    db = Database(tmp_path / "storage")
    yield db
    db.close()


def _upload_all(s3: S3Engine, index: Database, bucket: str) -> int:
    config = archive_config(s3, bucket)
    return Uploader(index, config, make_client(config, KEYS)).run_once()


def _rows(index: Database, ids: list[int]) -> list[SegmentRow]:
    rows = [index.get(i) for i in ids]
    assert all(r is not None for r in rows)
    return [r for r in rows if r is not None]


def roomy(path: Path) -> DiskUsage:
    return DiskUsage(10**15, 0, 10**15)


class FakeVolume:
    """A small disk whose used space is the real segment files plus ``other`` bytes."""

    def __init__(self, root: Path, total: int, other: int) -> None:
        self.root, self.total, self.other = root, total, other

    def __call__(self, path: Path) -> DiskUsage:
        ours = sum(p.stat().st_size for p in self.root.rglob("*.mp4"))
        return DiskUsage(self.total, self.other + ours, self.total - self.other - ours)


def test_local_days_deletes_local_copies_only_after_the_archive_confirmed_them(
    s3: S3Engine, index: Database
) -> None:
    bucket = s3.make_bucket()
    old = [add_footage(index, NOW - timedelta(days=3, minutes=i)) for i in range(3)]
    recent = [add_footage(index, NOW - timedelta(hours=1, minutes=i)) for i in range(2)]
    assert _upload_all(s3, index, bucket) == 5
    waiting = add_footage(index, NOW - timedelta(days=3, minutes=10))  # not uploaded yet
    rules = ArchiveRules(local_days=2, archive_days=30)
    retention = Retention(index, retention_days=30, disk_usage=roomy, archive=rules)

    done = retention.run_once(NOW)
    assert sorted(d.segment.id for d in done) == sorted(old)
    assert {d.reason for d in done} == {DeleteReason.LOCAL_DAYS}
    for row in _rows(index, old):
        assert not row.path.exists() and row.location == "archived"  # still footage
    assert [r.location for r in _rows(index, recent)] == ["both", "both"]
    pending = index.get(waiting)
    assert pending is not None and pending.path.exists() and pending.location == "local"
    # The index still shows the old footage (recordings, gaps, exports read it).
    seen = index.segments("sgu-cam-01", NOW - timedelta(days=4), NOW)
    assert {r.id for r in seen} == {*old, *recent, waiting}

    # Once the store confirms it, the waiting segment's local copy goes too.
    assert _upload_all(s3, index, bucket) == 1
    assert [d.segment.id for d in retention.run_once(NOW)] == [waiting]
    assert index.segment_count() == 2  # local segments: the recent two
    assert len(s3.keys(bucket)) == 6


def test_the_disk_guard_takes_archived_copies_first_and_never_loses_footage_silently(
    s3: S3Engine, index: Database
) -> None:
    bucket = s3.make_bucket()
    # Archived footage from the last hours, and older footage the archive lacks (a link
    # that was down): the guard must take the newer, archived, footage first.
    archived = [add_footage(index, NOW - timedelta(hours=3, minutes=i)) for i in range(5)]
    assert _upload_all(s3, index, bucket) == 5
    unarchived = [add_footage(index, NOW - timedelta(days=1, minutes=i)) for i in range(5)]
    size = _rows(index, archived)[0].bytes
    rules = ArchiveRules(local_days=None, archive_days=30)
    volume = FakeVolume(index.root, total=200 * size, other=185 * size)  # 5 to free
    retention = Retention(index, retention_days=30, disk_usage=volume, archive=rules)

    done = retention.run_once(NOW)
    assert sorted(d.segment.id for d in done) == sorted(archived)
    assert not any(d.unarchived for d in done)
    assert all(r.path.exists() for r in _rows(index, unarchived))
    assert ArchiveIndex(index).lost() == (0, 0)
    events = EventStore(index)
    assert not events.read(types=[ARCHIVE_UNARCHIVED_DELETED])

    # More pressure and nothing archived left: footage goes (recording must go on), loudly.
    volume.other = 188 * size
    done = retention.run_once(NOW)
    lost = [d for d in done if d.unarchived]
    assert len(lost) == len(done) >= 1
    assert {d.reason for d in lost} == {DeleteReason.DISK_GUARD}
    assert ArchiveIndex(index).lost() == (len(lost), len(lost) * size)
    alarms = events.read(types=[ARCHIVE_UNARCHIVED_DELETED])
    assert len(alarms) == 1 and alarms[0].data["count"] == len(lost)
    assert alarms[0].data["reason"] == "disk_guard" and alarms[0].camera == "sgu-cam-01"
    deleted = events.read(types=[STORAGE_DELETED])
    assert deleted[-1].data["archived"] == 0  # the deletion event says so too


def test_archive_days_deletes_old_objects_and_the_lifecycle_rule_backs_it_up(
    s3: S3Engine, index: Database
) -> None:
    bucket = s3.make_bucket()
    old = add_footage(index, NOW - timedelta(days=5))
    kept = add_footage(index, NOW - timedelta(days=1))
    assert _upload_all(s3, index, bucket) == 2
    index.drop_local([old])  # its local copy went earlier (local_days)
    config = archive_config(s3, bucket, archive_days=3)
    client = make_client(config, KEYS)
    assert expire_archive(index, config, client, NOW) == 1
    kept_row = index.get(kept)
    assert kept_row is not None
    assert s3.keys(bucket) == [index.stored_path(kept_row.path)]
    assert index.get(old) is None  # nowhere any more: out of the index
    assert expire_archive(index, config, client, NOW) == 0

    client.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration=lifecycle_rule(config)
    )
    rules = s3.client().get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert rules[0]["Expiration"]["Days"] == 4  # a day after cctvctl's own expiry


def test_the_disk_guard_empties_the_fetch_cache_before_it_deletes_footage(
    s3: S3Engine, index: Database
) -> None:
    bucket = s3.make_bucket()
    config = archive_config(s3, bucket)
    ids = [add_footage(index, NOW - timedelta(hours=3, minutes=i)) for i in range(6)]
    assert _upload_all(s3, index, bucket) == 6
    # Three become archived-only footage, read back (as an export does) into the cache.
    gone = ids[:3]
    for row in _rows(index, gone):
        row.path.unlink()
    index.drop_local(gone)
    cache = ArchiveCache(index, bucket, make_client(config, KEYS))
    for row in _rows(index, gone):
        with cache.pinned([row]):
            pass
    cached = sorted((index.root / CACHE_DIR).rglob("*.mp4"))
    assert len(cached) == 3
    size = _rows(index, ids)[0].bytes
    # The FakeVolume counts the cache's files too: they are on the recording volume.
    volume = FakeVolume(index.root, total=200 * size, other=185 * size)
    retention = Retention(
        index,
        retention_days=30,
        disk_usage=volume,
        archive=ArchiveRules(local_days=None, archive_days=30),
        free_cache=cache.release,
    )
    short = retention.reserve_bytes(NOW, volume.total) - volume(index.root).free
    assert 0 < short <= 2 * size  # the cache alone can cover it

    # One copy is being read (pinned): the guard frees the others and deletes no footage.
    reading = _rows(index, gone)[0]
    with cache.pinned([reading]) as paths:
        assert retention.run_once(NOW) == []
        left = sorted((index.root / CACHE_DIR).rglob("*.mp4"))
        assert paths[reading.path] in left
        assert len(left) == 3 - -(-short // size)
        assert all(r.path.exists() for r in _rows(index, ids[3:]))
        assert volume(index.root).free >= retention.reserve_bytes(NOW, volume.total)

    # More pressure than the cache holds: what is left of it goes first, then the oldest
    # archived local copies, never footage the archive lacks (there is none to lose).
    volume.other = 188 * size
    done = retention.run_once(NOW)
    assert not list((index.root / CACHE_DIR).rglob("*.mp4"))
    assert done and all(d.segment.id in ids[3:] and not d.unarchived for d in done)
    assert [r.location for r in _rows(index, gone)] == ["archived"] * 3  # still footage
