"""The console's overview with an archive on the node: an "Unarchived" column per
kecamatan, flagged once footage lags behind (fixed data, the pilot, a pinned clock)."""

from __future__ import annotations

from datetime import timedelta

from tui_fixture import NOW, FixedSite, fixed_app
from tui_pilot import screen_text, until

from cctvctl.models import ArchiveFigures

SIZE = (160, 48)


def _archive(
    backlog: int, segments: int, behind: timedelta | None, failures: int = 0
) -> ArchiveFigures:
    return ArchiveFigures(
        backlog_bytes=backlog,
        backlog_segments=segments,
        oldest_unarchived=None if behind is None else NOW - behind,
        uploaded_bytes=10**9,
        failures=failures,
        archived_bytes=5 * 10**11,
        archived_segments=9000,
    )


async def test_overview_shows_each_kecamatans_upload_backlog(pinned_clock: None) -> None:
    site = FixedSite()
    figures = [
        _archive(0, 0, None),
        _archive(3 * 10**9, 40, timedelta(days=1, hours=2)),  # a day behind: BAD
        _archive(2 * 10**8, 3, timedelta(minutes=5)),
    ]
    site.kecamatan = [
        k.model_copy(update={"archive": figures[n % len(figures)]})
        for n, k in enumerate(site.kecamatan)
    ]
    names = [k.name for k in site.kecamatan]
    app = fixed_app(site)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "Unarchived" in (t := screen_text(app)) and names[1] in t)
        lines = screen_text(app).splitlines()

        def row(name: str) -> str:
            return next(line for line in lines if name in line)

        assert row(names[0]).rstrip().endswith(" ok")
        assert row(names[1]).rstrip().endswith(" !3.0G 1 d 02 h")  # a day behind: flagged
        assert row(names[2]).rstrip().endswith(" 200M 5 min")  # minutes behind: not flagged


async def test_without_an_archive_there_is_no_column(pinned_clock: None) -> None:
    app = fixed_app(FixedSite())
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "Bengalon" in screen_text(app))
        assert "Unarchived" not in screen_text(app)


def test_the_timeline_shows_what_is_only_in_the_archive() -> None:
    from datetime import UTC, datetime

    from cctvctl.models import Recordings, Segment
    from cctvctl.tui.widgets.timeline import Cell, buckets, timeline_text

    end = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
    hour = timedelta(hours=1)

    def seg(hours_ago: int, location: str) -> Segment:
        at = end - hours_ago * hour
        return Segment(start=at, end=at + hour, bytes=1, location=location)  # type: ignore[arg-type]

    rec = Recordings(
        camera="c",
        start=end - 24 * hour,
        end=end,
        # Days-old footage moved to the archive, the last hours on disk (and archived).
        segments=[seg(4, "archived"), seg(3, "archived"), seg(2, "both"), seg(1, "local")],
        gaps=[],
        recorded_seconds=4 * 3600,
        missing_seconds=0,
    )
    cells = buckets(rec, 24)
    assert cells[20:22] == [Cell.ARCHIVED, Cell.ARCHIVED]
    assert cells[22:24] == [Cell.RECORDED, Cell.RECORDED]
    text = timeline_text(rec, 80).plain
    assert "▓" in text.splitlines()[0] and "▓ archive only" in text
    # Without archived footage the legend is as it always was.
    local = rec.model_copy(update={"segments": [seg(1, "local")], "recorded_seconds": 3600})
    assert "archive only" not in timeline_text(local, 80).plain
