"""On-disk layout, the SQLite segment/event index, and the event bus, on real files."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cctvctl.storage import schema
from cctvctl.storage.database import Database, IndexedFile, SegmentInfo
from cctvctl.storage.event_store import EventStore
from cctvctl.storage.events import EventBus, EventGap
from cctvctl.storage.layout import (
    SegmentKey,
    iter_segment_files,
    parse_segment_path,
    prune_empty_dirs,
    segment_path,
)
from cctvctl.storage.schema import IndexVersionError

T0 = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)


def seg(
    root: Path,
    start: datetime,
    seconds: float = 60.0,
    *,
    camera: str = "sgu-cam-01",
    kecamatan: str = "sangatta-utara",
    size: int = 1000,
) -> SegmentInfo:
    return SegmentInfo(
        camera_id=camera,
        path=segment_path(root, kecamatan, camera, start),
        start=start,
        end=start + timedelta(seconds=seconds),
        bytes=size,
        frames=int(seconds * 15),
    )


@pytest.fixture
def index(tmp_path: Path) -> Iterator[Database]:
    ix = Database(tmp_path)
    yield ix
    ix.close()


# --------------------------------------------------------------------------- layout


def test_segment_path_is_utc_and_suffixes_collisions(tmp_path: Path) -> None:
    # 23:30:05 WITA (UTC+8) is 15:30:05 UTC, same day.
    local = datetime(2024, 5, 2, 23, 30, 5, tzinfo=ZoneInfo("Asia/Makassar"))
    p = segment_path(tmp_path, "bengalon", "bgl-pkm-01", local)
    assert p == tmp_path / "bengalon" / "bgl-pkm-01" / "2024-05-02" / "153005.mp4"
    p.parent.mkdir(parents=True)
    p.touch()
    p1 = segment_path(tmp_path, "bengalon", "bgl-pkm-01", local)
    assert p1.name == "153005-1.mp4"
    p1.touch()
    assert segment_path(tmp_path, "bengalon", "bgl-pkm-01", local).name == "153005-2.mp4"


def test_segment_path_refuses_naive_times_and_unsafe_components(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        segment_path(tmp_path, "k", "c", datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="safe"):
        segment_path(tmp_path, "..", "c", T0)
    with pytest.raises(ValueError, match="safe"):
        segment_path(tmp_path, "k", "a/b", T0)


def test_parse_segment_path_round_trips_and_rejects_strays(tmp_path: Path) -> None:
    p = segment_path(tmp_path, "bengalon", "bgl-pkm-01", T0 + timedelta(seconds=7))
    assert parse_segment_path(tmp_path, p) == SegmentKey(
        "bengalon", "bgl-pkm-01", T0 + timedelta(seconds=7), 0
    )
    assert parse_segment_path(tmp_path, p.with_name("100007-3.mp4")) == SegmentKey(
        "bengalon", "bgl-pkm-01", T0 + timedelta(seconds=7), 3
    )
    day = tmp_path / "k" / "c" / "2024-05-01"
    strays = [
        day / "100007.mp4.tmp",
        day / "notes.txt",
        day / "256000.mp4",  # hour 25
        tmp_path / "k" / "c" / "2024-02-30" / "100000.mp4",  # no such date
        tmp_path / "k" / "c" / "100000.mp4",  # too shallow
        tmp_path / "k" / "c" / "2024-05-01" / "x" / "100000.mp4",  # too deep
        tmp_path / ".quarantine" / "c" / "2024-05-01" / "100000.mp4",
        tmp_path.parent / "elsewhere" / "c" / "2024-05-01" / "100000.mp4",
        day / "100000-0.mp4",
    ]
    for stray in strays:
        assert parse_segment_path(tmp_path, stray) is None, stray


def test_iter_segment_files_finds_segments_only(tmp_path: Path) -> None:
    good = [
        segment_path(tmp_path, "k1", "c1", T0),
        segment_path(tmp_path, "k1", "c2", T0 + timedelta(days=1)),
        segment_path(tmp_path, "k2", "c3", T0),
    ]
    for p in good:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    (good[0].parent / "README").write_text("stray")
    (tmp_path / ".quarantine" / "k1" / "c1" / "2024-05-01").mkdir(parents=True)
    (tmp_path / ".quarantine" / "k1" / "c1" / "2024-05-01" / "100000.mp4").write_bytes(b"x")
    (tmp_path / "index.sqlite3").write_bytes(b"")
    (tmp_path / "k1" / "c1" / "2024-05-01" / "110000.mp4").mkdir()  # a folder, not a file
    found = dict(iter_segment_files(tmp_path))
    assert sorted(found) == sorted(good)
    assert found[good[1]].start == T0 + timedelta(days=1)
    assert list(iter_segment_files(tmp_path / "missing")) == []


def test_prune_empty_dirs_stops_at_non_empty_and_keeps_recent_days(tmp_path: Path) -> None:
    old = segment_path(tmp_path, "k", "c", T0)
    other = segment_path(tmp_path, "k", "d", T0)
    recent = segment_path(tmp_path, "k", "c", T0 + timedelta(days=5))
    for p in (old, other, recent):
        p.parent.mkdir(parents=True, exist_ok=True)
    keep_from = (T0 + timedelta(days=4)).date()
    assert prune_empty_dirs(tmp_path, recent, keep_from=keep_from) == 0
    assert recent.parent.is_dir()
    assert prune_empty_dirs(tmp_path, old, keep_from=keep_from) == 1  # day only; c has more
    assert not old.parent.exists()
    assert (tmp_path / "k" / "c").is_dir()
    recent.parent.rmdir()
    assert prune_empty_dirs(tmp_path, other) == 2  # day and camera; k still holds c
    assert (tmp_path / "k").is_dir()
    assert tmp_path.is_dir()


# --------------------------------------------------------------------------- index


def test_add_and_query_overlapping_window(index: Database, tmp_path: Path) -> None:
    for i in range(5):
        index.add_segment(seg(tmp_path, T0 + timedelta(minutes=i)))
    index.add_segment(seg(tmp_path, T0, camera="other-cam"))
    window = index.segments("sgu-cam-01", T0 + timedelta(seconds=90), T0 + timedelta(minutes=3))
    # 10:01 overlaps the window start, 10:02 is inside, 10:03 starts exactly at its end.
    assert [r.start for r in window] == [T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)]
    row = window[0]
    assert row.kecamatan == "sangatta-utara"
    assert row.path == tmp_path / "sangatta-utara" / "sgu-cam-01" / "2024-05-01" / "100100.mp4"
    assert row.end - row.start == timedelta(seconds=60)
    assert row.start.tzinfo is not None
    assert row.to_wire().bytes == 1000
    assert index.first_segment_start("sgu-cam-01") == T0
    assert index.last_segment_end("sgu-cam-01") == T0 + timedelta(minutes=5)
    assert index.first_segment_start("nobody") is None
    assert index.segment_count() == 6


def test_overlap_query_finds_a_long_segment_that_started_long_before(
    index: Database, tmp_path: Path
) -> None:
    index.add_segment(seg(tmp_path, T0, seconds=3600))
    index.add_segment(seg(tmp_path, T0 + timedelta(hours=1), seconds=60))
    rows = index.segments("sgu-cam-01", T0 + timedelta(minutes=59), T0 + timedelta(hours=2))
    assert [r.start for r in rows] == [T0, T0 + timedelta(hours=1)]


def test_re_adding_a_path_updates_the_row_and_totals(index: Database, tmp_path: Path) -> None:
    first = index.add_segment(seg(tmp_path, T0, size=1000))
    again = index.add_segment(seg(tmp_path, T0, seconds=30, size=400))
    assert first == again
    assert index.total_bytes() == 400
    assert index.segment_count() == 1
    row = index.get(first)
    assert row is not None and row.end == T0 + timedelta(seconds=30)


def test_usage_totals_follow_adds_and_deletes(index: Database, tmp_path: Path) -> None:
    ids = [index.add_segment(seg(tmp_path, T0 + timedelta(minutes=i), size=100)) for i in range(3)]
    index.add_segment(seg(tmp_path, T0, camera="bgl-cam", kecamatan="bengalon", size=7))
    assert index.bytes_by_kecamatan() == {"sangatta-utara": 300, "bengalon": 7}
    assert index.bytes_by_camera() == {"sgu-cam-01": 300, "bgl-cam": 7}
    assert index.total_bytes() == 307
    assert index.delete_segments([ids[0], ids[1], 999_999]) == 2
    assert index.delete_segment(ids[0]) is False
    assert index.bytes_by_kecamatan() == {"sangatta-utara": 100, "bengalon": 7}
    assert index.delete_segment(ids[2]) is True
    assert index.bytes_by_kecamatan() == {"bengalon": 7}
    assert index.delete_segments([]) == 0


def test_oldest_with_filters(index: Database, tmp_path: Path) -> None:
    for i in range(4):
        index.add_segment(seg(tmp_path, T0 + timedelta(minutes=i)))
        index.add_segment(
            seg(tmp_path, T0 + timedelta(minutes=i, seconds=30), camera="b", kecamatan="bengalon")
        )
    assert [r.camera for r in index.oldest(3)] == ["sgu-cam-01", "b", "sgu-cam-01"]
    assert {r.camera for r in index.oldest(10, kecamatan="bengalon")} == {"b"}
    assert len(index.oldest(10, camera="sgu-cam-01")) == 4
    ended = index.oldest(10, before=T0 + timedelta(minutes=2, seconds=1))
    assert [r.start for r in ended] == [T0, T0 + timedelta(seconds=30), T0 + timedelta(minutes=1)]
    assert {r.camera for r in index.oldest(10, exclude_cameras={"sgu-cam-01"})} == {"b"}


def test_bytes_written_since_counts_segments_that_ended(index: Database, tmp_path: Path) -> None:
    index.add_segment(seg(tmp_path, T0, size=10))
    index.add_segment(seg(tmp_path, T0 + timedelta(minutes=1), size=20))
    index.add_segment(seg(tmp_path, T0 + timedelta(minutes=2), size=40, camera="b", kecamatan="k"))
    since = T0 + timedelta(minutes=1, seconds=30)  # the first segment ended before this
    assert index.bytes_written_since(since) == 60
    assert index.bytes_written_since(since, kecamatan="k") == 40


def test_bytes_written_still_count_after_their_segments_are_deleted(
    index: Database, tmp_path: Path
) -> None:
    ids = [index.add_segment(seg(tmp_path, T0 + timedelta(minutes=i), size=100)) for i in range(5)]
    index.delete_segments(ids[:4])  # what the disk guard does on a small volume
    since = T0 - timedelta(minutes=1)
    assert index.total_bytes() == 100
    assert index.bytes_written_since(since) == 500
    # Re-indexing a path (reconcile repairing a segment) is the same file, not a new write.
    index.add_segment(seg(tmp_path, T0 + timedelta(minutes=4), size=90))
    assert index.bytes_written_since(since) == 500


def test_write_rate_divides_by_the_time_recorded_not_the_whole_window(
    index: Database, tmp_path: Path
) -> None:
    # Two cameras recording 2-second segments of 1000 bytes for 20 s: 1000 B/s in all.
    for cam in ("a", "b"):
        for i in range(10):
            index.add_segment(seg(tmp_path, T0 + timedelta(seconds=2 * i), 2.0, camera=cam))
    now = T0 + timedelta(seconds=20)
    window = timedelta(hours=1)
    assert index.write_rate(now, window) == pytest.approx(1000.0)
    assert index.write_rate(now, window, kecamatan="sangatta-utara") == pytest.approx(1000.0)
    assert index.write_rate(now, window, kecamatan="bengalon") == 0.0
    # Recording stopped: an hour later the rate has decayed to the average over the hour.
    assert index.write_rate(T0 + timedelta(minutes=59), window) == pytest.approx(20_000 / (59 * 60))
    assert index.write_rate(T0 + timedelta(hours=2), window) == 0.0


def test_prune_writes_forgets_old_writes_only(index: Database, tmp_path: Path) -> None:
    index.add_segment(seg(tmp_path, T0, size=10))
    index.add_segment(seg(tmp_path, T0 + timedelta(hours=3), size=20))
    assert index.prune_writes(T0 + timedelta(hours=2)) == 1
    assert index.bytes_written_since(T0 - timedelta(days=1)) == 20
    assert index.segment_count() == 2  # footage is not touched


def test_upgrading_an_index_seeds_the_write_log_from_the_last_day(tmp_path: Path) -> None:
    before = schema.MIGRATIONS[:2]
    now = datetime.now(UTC).replace(microsecond=0)
    with Database(tmp_path, migrations=before) as ix:
        # Rows as version 2 wrote them (today's add_segment writes columns it lacked).
        for n, (ago, size) in enumerate([(timedelta(days=3), 7), (timedelta(minutes=10), 11)]):
            start = (now - ago).timestamp()
            ix._conn().execute(
                'INSERT INTO segments (camera, kecamatan, start, "end", bytes, path) '
                "VALUES ('c', 'k', ?, ?, ?, ?)",
                (start, start + 60, size, f"k/c/x/{n}.mp4"),
            )
    with Database(tmp_path) as ix:
        assert ix.bytes_written_since(now - timedelta(days=7)) == 11


def test_paths_are_stored_relative_so_the_volume_can_move(tmp_path: Path) -> None:
    a = tmp_path / "a"
    with Database(a) as ix:
        ix.add_segment(seg(a, T0))
    b = tmp_path / "b"
    a.rename(b)
    with Database(b) as ix:
        assert ix.all_paths() == {b / "sangatta-utara" / "sgu-cam-01" / "2024-05-01" / "100000.mp4"}


def test_segment_outside_the_layout_needs_an_explicit_kecamatan(
    index: Database, tmp_path: Path
) -> None:
    odd = SegmentInfo("c", tmp_path.parent / "odd.mp4", T0, T0 + timedelta(seconds=1), 1)
    with pytest.raises(ValueError, match="kecamatan"):
        index.add_segment(odd)
    row_id = index.add_segment(odd, kecamatan="k")
    row = index.get(row_id)
    assert row is not None and row.path == tmp_path.parent / "odd.mp4"
    files = index.indexed_files()
    assert files[str(tmp_path.parent / "odd.mp4")] == IndexedFile(row_id, 1)
    index.add_segment(seg(tmp_path, T0))
    assert "sangatta-utara/sgu-cam-01/2024-05-01/100000.mp4" in index.indexed_files()


def test_naive_datetimes_are_refused(index: Database, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        index.segments("c", datetime(2024, 1, 1), datetime(2024, 1, 2))


def test_created_is_set_once_and_can_only_move_back(tmp_path: Path) -> None:
    with Database(tmp_path, clock=lambda: T0.timestamp()) as ix:
        assert ix.created() == T0
    with Database(tmp_path, clock=lambda: T0.timestamp() + 999) as ix:
        assert ix.created() == T0
        ix.backdate_created(T0 + timedelta(days=1))
        assert ix.created() == T0
        ix.backdate_created(T0 - timedelta(days=1))
        assert ix.created() == T0 - timedelta(days=1)


def test_wal_mode_and_schema_version(index: Database) -> None:
    with sqlite3.connect(index.db_path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA user_version").fetchone()[0] == len(schema.MIGRATIONS)
    assert index.schema_version() == len(schema.MIGRATIONS)


def test_concurrent_adds_and_reads_from_many_threads(index: Database, tmp_path: Path) -> None:
    cameras, per_camera = 8, 40
    errors: list[BaseException] = []
    start = threading.Barrier(cameras + 2)

    def ingest(n: int) -> None:
        try:
            start.wait()
            for i in range(per_camera):
                index.add_segment(
                    seg(tmp_path, T0 + timedelta(minutes=i), camera=f"cam-{n}", size=n + 1)
                )
                EventStore(index).add("camera.status", camera=f"cam-{n}", data={"i": i})
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        try:
            start.wait()
            for _ in range(100):
                index.bytes_by_kecamatan()
                index.segments("cam-0", T0, T0 + timedelta(hours=1))
                EventStore(index).read(limit=5)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ingest, args=(n,)) for n in range(cameras)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert index.segment_count() == cameras * per_camera
    assert index.total_bytes() == sum((n + 1) * per_camera for n in range(cameras))
    ids = [e.id for e in EventStore(index).read(since_id=0, limit=10_000)]
    assert len(ids) == cameras * per_camera == len(set(ids))
    # The finished threads' connections are closed when a new thread connects.
    t = threading.Thread(target=index.total_bytes)
    t.start()
    t.join()
    assert len(index._conns) <= 2


# --------------------------------------------------------------------------- migrations


def test_migration_from_an_older_version_keeps_data(tmp_path: Path) -> None:
    with Database(tmp_path) as ix:
        ix.add_segment(seg(tmp_path, T0))
    v1 = len(schema.MIGRATIONS)
    step = (
        "CREATE TABLE exports (id INTEGER PRIMARY KEY, camera TEXT NOT NULL)",
        "INSERT INTO exports (camera) SELECT DISTINCT camera FROM segments",
    )
    migrations = [*schema.MIGRATIONS, step]
    with Database(tmp_path, migrations=migrations) as ix:
        assert ix.schema_version() == v1 + 1
        assert ix.segment_count() == 1
        assert ix._query("SELECT camera FROM exports") == [("sgu-cam-01",)]
    # Opening again applies nothing twice.
    with Database(tmp_path, migrations=migrations) as ix:
        assert ix._query("SELECT COUNT(*) FROM exports") == [(1,)]


def test_a_failing_migration_leaves_the_old_version_intact(tmp_path: Path) -> None:
    Database(tmp_path).close()
    v1 = len(schema.MIGRATIONS)
    broken = [*schema.MIGRATIONS, ("CREATE TABLE future_feature (x)", "THIS IS NOT SQL")]
    with pytest.raises(sqlite3.OperationalError):
        Database(tmp_path, migrations=broken)
    with sqlite3.connect(tmp_path / "index.sqlite3") as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == v1
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master")}
    assert "future_feature" not in tables


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    Database(tmp_path).close()
    with sqlite3.connect(tmp_path / "index.sqlite3") as raw:
        raw.execute("PRAGMA user_version = 99")
    with pytest.raises(IndexVersionError, match="99"):
        Database(tmp_path)


# --------------------------------------------------------------------------- events


def test_events_round_trip_and_filter(index: Database) -> None:
    events = EventStore(index)
    a = events.add("camera.status", camera="c1", kecamatan="k", data={"status": "online"})
    b = events.add("storage.deleted", camera="c2", data={"at": T0})
    c = events.add("camera.status", camera="c2")
    assert a.data == {"status": "online"}
    assert b.data == {"at": str(T0)}  # non-JSON values are stringified, not lost
    assert [e.id for e in events.read(since_id=a.id)] == [b.id, c.id]
    assert [e.id for e in events.read(types=["camera.status"])] == [a.id, c.id]
    assert [e.id for e in events.read(camera="c2")] == [b.id, c.id]
    assert events.read(types=[]) == []
    assert [e.id for e in events.read(limit=2)] == [b.id, c.id]  # latest two, oldest first
    assert [e.id for e in events.read(since_id=0, limit=2)] == [a.id, b.id]  # first page
    assert events.read(since_id=c.id) == []


def test_event_ids_are_never_reused_after_pruning(tmp_path: Path) -> None:
    clock = [T0.timestamp()]
    with Database(tmp_path, clock=lambda: clock[0]) as ix:
        events = EventStore(ix)
        old = events.add("x")
        clock[0] += 3600
        assert events.prune(T0 + timedelta(minutes=1)) == 1
        assert events.read(since_id=0) == []
        new = events.add("x")
        assert new.id > old.id
        assert new.time == T0 + timedelta(hours=1)


async def test_bus_thread_publish_reaches_async_subscriber(index: Database) -> None:
    bus = EventBus(EventStore(index))
    sub = bus.subscribe()

    def ingest() -> None:
        for i in range(20):
            bus.publish("camera.status", camera=f"cam-{i % 3}", data={"i": i})

    threads = [threading.Thread(target=ingest) for _ in range(3)]
    for t in threads:
        t.start()
    got = [await asyncio.wait_for(sub.get(), 5) for _ in range(60)]
    for t in threads:
        t.join()
    ids = [e.id for e in got if not isinstance(e, EventGap)]
    assert len(ids) == 60
    assert ids == sorted(ids)  # delivered in id order across publishing threads
    assert [e.id for e in EventStore(index).read(since_id=0, limit=100)] == ids  # and persisted
    sub.close()
    assert bus.subscribers == 0


async def test_slow_subscriber_gets_a_gap_not_a_blocked_publisher(index: Database) -> None:
    bus = EventBus(EventStore(index))
    sub = bus.subscribe(maxsize=5)
    fast = bus.subscribe()
    published = [bus.publish("tick", data={"i": i}) for i in range(12)]
    first = await sub.get()
    assert isinstance(first, EventGap)
    assert first == EventGap(after_id=None, before_id=published[7].id, missed=7)
    rest = [await sub.get() for _ in range(5)]
    assert [e.id for e in rest if not isinstance(e, EventGap)] == [e.id for e in published[7:]]
    assert sub.get_nowait() is None
    assert len([await fast.get() for _ in range(12)]) == 12  # others are unaffected
    # The gap can be filled from the store.
    missed = bus.recent(since_id=0, limit=first.missed)
    assert [e.id for e in missed] == [e.id for e in published[:7]]


async def test_subscribe_with_replay_neither_misses_nor_repeats(index: Database) -> None:
    bus = EventBus(EventStore(index))
    before = [bus.publish("tick", data={"i": i}) for i in range(4)]
    sub = bus.subscribe(since_id=before[1].id)
    after = bus.publish("tick", data={"i": 4})
    got = [await sub.get() for _ in range(3)]
    assert [e.id for e in got if not isinstance(e, EventGap)] == [
        before[2].id,
        before[3].id,
        after.id,
    ]
    assert sub.get_nowait() is None


async def test_replay_larger_than_the_buffer_starts_with_a_gap(index: Database) -> None:
    bus = EventBus(EventStore(index))
    published = [bus.publish("tick") for _ in range(10)]
    sub = bus.subscribe(since_id=published[0].id, maxsize=4)
    gap = await sub.get()
    assert gap == EventGap(after_id=published[0].id, before_id=published[6].id, missed=5)
    tail = [await sub.get() for _ in range(4)]
    assert [e.id for e in tail if not isinstance(e, EventGap)] == [e.id for e in published[6:]]


async def test_closing_the_bus_ends_subscribers_after_draining(index: Database) -> None:
    bus = EventBus(EventStore(index))
    sub = bus.subscribe()

    async def consume() -> list[int]:
        return [e.id for e in [item async for item in sub] if not isinstance(e, EventGap)]

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)
    event = await asyncio.to_thread(bus.publish, "tick")
    await asyncio.sleep(0.05)
    bus.close()
    assert await asyncio.wait_for(task, 5) == [event.id]
    assert bus.publish("tick").id > event.id  # publishing with nobody listening is fine


def test_publish_after_the_subscribers_loop_closed_drops_it(index: Database) -> None:
    bus = EventBus(EventStore(index))
    loop = asyncio.new_event_loop()
    bus.subscribe(loop=loop)
    loop.close()
    bus.publish("tick")
    assert bus.subscribers == 0


def test_paths_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with Database("store") as ix:
        rel = Path("store/bengalon/bgl-01/2024-05-01/100000.mp4")
        row_id = ix.add_segment(SegmentInfo("bgl-01", rel, T0, T0 + timedelta(seconds=60), 5))
        row = ix.get(row_id)
        assert row is not None and row.kecamatan == "bengalon"
        assert row.path == tmp_path / rel
        assert list(ix.indexed_files()) == ["bengalon/bgl-01/2024-05-01/100000.mp4"]
