"""An export's segments grouped into runs of one picture size (exports/by_size.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cctvctl.exports.by_size import runs_of_one_size
from cctvctl.exports.files import sized_clip_name
from cctvctl.storage.database import SegmentRow

T0 = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)


def _row(n: int, width: int | None, height: int | None) -> SegmentRow:
    start = T0 + timedelta(seconds=60 * n)
    return SegmentRow(
        n,
        "cam",
        "k",
        start,
        start + timedelta(seconds=60),
        1000,
        600,
        Path(f"{n}.mp4"),
        width=width,
        height=height,
    )


def test_runs_split_where_the_size_changes() -> None:
    rows = [_row(0, 640, 360), _row(1, 640, 360), _row(2, 1280, 720), _row(3, 640, 360)]
    runs = runs_of_one_size(rows)
    assert [[r.id for r in run] for run in runs] == [[0, 1], [2], [3]]


def test_unknown_sizes_stay_with_their_run() -> None:
    # Rows indexed before sizes were kept (or probed) do not split a run, whichever side.
    rows = [_row(0, None, None), _row(1, 640, 360), _row(2, None, None), _row(3, 320, 180)]
    assert [[r.id for r in run] for run in runs_of_one_size(rows)] == [[0, 1, 2], [3]]
    assert len(runs_of_one_size([_row(0, None, None), _row(1, None, None)])) == 1


def test_clip_names_say_their_place_and_size() -> None:
    name = "cam_20261206T020000Z_20261206T021000Z.mp4"
    assert sized_clip_name(name, 1, 1280, 720) == (
        "cam_20261206T020000Z_20261206T021000Z_2_1280x720.mp4"
    )
    assert sized_clip_name(name, 2, None, None).endswith("_3.mp4")
