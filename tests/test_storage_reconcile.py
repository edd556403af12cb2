"""Start-up reconciliation of the index with real fragmented MP4 files under tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from media import fmp4_bytes, write_fmp4

from cctvctl.storage.database import Database, SegmentInfo
from cctvctl.storage.layout import segment_path
from cctvctl.storage.reconcile import quarantine, reconcile, reconcile_camera_since

T0 = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
KEC, CAM = "sangatta-utara", "sgu-camat-01"


@pytest.fixture
def index(tmp_path: Path) -> Iterator[Database]:
    ix = Database(tmp_path)
    yield ix
    ix.close()


def place(root: Path, start: datetime, data: bytes, camera: str = CAM) -> Path:
    path = segment_path(root, KEC, camera, start)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_unindexed_file_is_added_with_start_from_name_and_probed_end(
    index: Database, tmp_path: Path
) -> None:
    start = T0 + timedelta(seconds=5)
    path = write_fmp4(segment_path(tmp_path, KEC, CAM, start), seconds=3.0)
    report = reconcile(tmp_path, index)
    assert (report.files, report.added, report.repaired, report.quarantined) == (1, 1, 0, 0)
    [row] = index.segments(CAM, T0, T0 + timedelta(minutes=1))
    assert row.start == start
    assert row.end == start + timedelta(seconds=3)
    assert row.bytes == path.stat().st_size
    assert row.frames == 45
    assert row.kecamatan == KEC
    assert row.path == path


def test_row_without_file_is_dropped(index: Database, tmp_path: Path) -> None:
    kept = write_fmp4(segment_path(tmp_path, KEC, CAM, T0))
    index.add_segment(
        SegmentInfo(CAM, kept, T0, T0 + timedelta(seconds=2), kept.stat().st_size, 30)
    )
    ghost = segment_path(tmp_path, KEC, CAM, T0 + timedelta(minutes=1))
    index.add_segment(SegmentInfo(CAM, ghost, T0, T0 + timedelta(seconds=60), 5000, 900))
    report = reconcile(tmp_path, index)
    assert report.dropped == 1
    assert report.unchanged == 1
    assert index.all_paths() == {kept}
    assert index.total_bytes() == kept.stat().st_size


def test_truncated_file_is_cut_to_its_last_whole_fragment_and_kept(
    index: Database, tmp_path: Path
) -> None:
    whole = fmp4_bytes(3.0)
    path = place(tmp_path, T0, whole[: len(whole) - 700])  # torn inside the last fragment
    report = reconcile(tmp_path, index)
    assert (report.added, report.repaired, report.quarantined) == (1, 1, 0)
    assert path.stat().st_size < len(whole) - 700
    [row] = index.segments(CAM, T0, T0 + timedelta(minutes=1))
    assert row.end == T0 + timedelta(seconds=2)  # two of three one-second fragments survive
    assert row.frames == 30
    assert row.bytes == path.stat().st_size
    assert any("cut from" in line for line in report.problems)


def test_garbage_is_quarantined_not_deleted(index: Database, tmp_path: Path) -> None:
    junk = b"\x00\x01 not an mp4 at all " * 50
    path = place(tmp_path, T0, junk)
    header_only = fmp4_bytes(2.0)[:600]  # ftyp + moov but not one whole fragment
    path2 = place(tmp_path, T0 + timedelta(minutes=1), header_only)
    report = reconcile(tmp_path, index)
    assert report.quarantined == 2
    assert report.added == 0
    assert not path.exists() and not path2.exists()
    moved = tmp_path / ".quarantine" / path.relative_to(tmp_path)
    assert moved.read_bytes() == junk
    assert (tmp_path / ".quarantine" / path2.relative_to(tmp_path)).read_bytes() == header_only
    assert index.segment_count() == 0
    assert len(report.problems) == 2
    assert not path.parent.exists()  # the now-empty day folder went too


def test_empty_file_is_removed(index: Database, tmp_path: Path) -> None:
    path = place(tmp_path, T0, b"")
    report = reconcile(tmp_path, index)
    assert report.removed_empty == 1
    assert not path.exists()
    assert index.segment_count() == 0


def test_second_run_changes_nothing(index: Database, tmp_path: Path) -> None:
    write_fmp4(segment_path(tmp_path, KEC, CAM, T0))
    whole = fmp4_bytes(3.0)
    place(tmp_path, T0 + timedelta(minutes=1), whole[:-700])
    place(tmp_path, T0 + timedelta(minutes=2), b"junk" * 100)
    first = reconcile(tmp_path, index)
    assert first.changed
    rows = index.oldest(10)
    second = reconcile(tmp_path, index)
    assert not second.changed
    assert (second.files, second.unchanged) == (2, 2)
    assert index.oldest(10) == rows
    assert "0 added" in second.summary()


def test_indexed_files_of_the_right_size_are_trusted_without_opening(
    index: Database, tmp_path: Path
) -> None:
    # Unreadable content, but the index vouches for it: reconcile must not open it,
    # which is what keeps a restart over thousands of files fast.
    paths = [
        place(tmp_path, T0 + timedelta(minutes=i), b"x" * 10, camera=f"cam-{i % 7}")
        for i in range(300)
    ]
    for i, p in enumerate(paths):
        s = T0 + timedelta(minutes=i)
        index.add_segment(SegmentInfo(f"cam-{i % 7}", p, s, s + timedelta(seconds=60), 10))
    report = reconcile(tmp_path, index)
    assert (report.files, report.unchanged, report.quarantined) == (300, 300, 0)
    assert not report.changed


def test_indexed_file_whose_size_changed_is_re_probed(index: Database, tmp_path: Path) -> None:
    start = T0 + timedelta(seconds=0.4)  # the segmenter's finer start than the file name
    path = write_fmp4(segment_path(tmp_path, KEC, CAM, start), seconds=3.0)
    index.add_segment(
        SegmentInfo(CAM, path, start, start + timedelta(seconds=3), path.stat().st_size, 45)
    )
    path.write_bytes(fmp4_bytes(2.0))  # e.g. rewritten after the row was committed
    report = reconcile(tmp_path, index)
    assert report.reprobed == 1 and report.added == 0
    [row] = index.oldest(5)
    assert row.bytes == len(fmp4_bytes(2.0))
    assert row.start == start
    assert row.end == start + timedelta(seconds=2)
    assert row.frames == 30


def test_indexed_file_that_became_garbage_is_quarantined_and_its_row_dropped(
    index: Database, tmp_path: Path
) -> None:
    path = write_fmp4(segment_path(tmp_path, KEC, CAM, T0))
    index.add_segment(SegmentInfo(CAM, path, T0, T0 + timedelta(seconds=2), 1, 30))
    path.write_bytes(b"garbage" * 30)
    report = reconcile(tmp_path, index)
    assert report.quarantined == 1
    assert index.segment_count() == 0


def test_rebuilding_an_index_over_old_footage_backdates_created(tmp_path: Path) -> None:
    write_fmp4(segment_path(tmp_path, KEC, CAM, T0))
    with Database(tmp_path, clock=lambda: (T0 + timedelta(days=3)).timestamp()) as ix:
        assert ix.created() == T0 + timedelta(days=3)
        reconcile(tmp_path, ix)
        assert ix.created() == T0


def test_quarantine_never_overwrites(tmp_path: Path) -> None:
    a = place(tmp_path, T0, b"first")
    first = quarantine(tmp_path, a)
    b = place(tmp_path, T0, b"second")
    second = quarantine(tmp_path, b)
    assert first != second
    assert (first.read_bytes(), second.read_bytes()) == (b"first", b"second")
    assert second.name == "100000.1.mp4"


def test_reconciling_another_folder_than_the_index_root_is_refused(
    index: Database, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="root"):
        reconcile(tmp_path / "elsewhere", index)


def test_a_dead_writers_files_of_one_camera_are_indexed_from_a_time_on(
    index: Database, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    since = now - timedelta(seconds=12)
    indexed = write_fmp4(segment_path(tmp_path, KEC, CAM, now - timedelta(seconds=20)))
    finer = now - timedelta(seconds=19.6)
    index.add_segment(SegmentInfo(CAM, indexed, finer, finer + timedelta(seconds=2), 1, 30))
    named = write_fmp4(segment_path(tmp_path, KEC, CAM, now - timedelta(seconds=10)), 3.0)
    whole = fmp4_bytes(3.0)
    unnamed = place(tmp_path, now - timedelta(seconds=4), whole[: len(whole) - 700])
    older = write_fmp4(segment_path(tmp_path, KEC, CAM, now - timedelta(seconds=40)))
    other = write_fmp4(segment_path(tmp_path, KEC, "sgu-camat-02", now - timedelta(seconds=10)))

    report = reconcile_camera_since(index, KEC, CAM, since)

    assert (report.files, report.added, report.repaired) == (2, 2, 1)
    rows = {row.path: row for row in index.segments(CAM, now - timedelta(minutes=1), now)}
    assert set(rows) == {indexed, named, unnamed}
    assert rows[indexed].start == finer  # an indexed file is not indexed again
    assert rows[unnamed].end == now - timedelta(seconds=2)  # cut to its 2 whole fragments
    # Before ``since`` and other cameras are not this writer's leftovers.
    assert older not in index.all_paths() and other not in index.all_paths()
