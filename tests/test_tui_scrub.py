"""The camera screen looks into the past: `[` `]` `{` `}` step, `t` takes a typed time, `l`
is live again; a line above the picture says which moment it shows and whether its footage
was read from the node's disk or fetched back from the archive, or that none was recorded.

One module site: the real simulator and server (one camera recording live), and footage
of two hours ago put in the index first: a local segment, and three segments only the
archive holds (moto's S3 server on loopback, reached through a TCP relay that can go
quiet, so an archive fetch can be made as slow as a thin link makes it). The console runs
under the pilot and, for the real terminal, in tmux at 100x30 and 80x24.
"""

from __future__ import annotations

import re
import shlex
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from archive_sites import KEYS, add_footage, archive_config, hours_ago
from harness import REPO, Live, RunningSim, SiteSpec, serving, wait_for, write_site
from media import HEIGHT, WIDTH
from PIL import Image
from s3_harness import ACCESS_KEY, SECRET_KEY, S3Engine, archive_table
from tcp_relay import TcpRelay
from textual.pilot import Pilot
from textual.widgets import Input
from tmux_harness import Tmux
from tui_pilot import opened_by, screen_text, until

from cctvctl.archive.s3 import make_client
from cctvctl.archive.uploader import Uploader
from cctvctl.models import Recordings, Segment
from cctvctl.render import Mode
from cctvctl.storage.database import Database
from cctvctl.timeparse import WITA
from cctvctl.tui.app import CctvApp
from cctvctl.tui.commands import Scope, commands_for
from cctvctl.tui.screens.camera import CameraScreen, GoToModal, SnapshotModal
from cctvctl.tui.screens.export_form import default_window
from cctvctl.tui.scrub import LIVE_MARGIN, Moment, Shown, moment_text, step
from cctvctl.tui.widgets.thumb import Thumb
from cctvctl.tui.widgets.timeline import Timeline, moment_mark, timeline_text

SIZE = (80, 24)


def _wita(at: datetime) -> str:
    """As an operator types it: ``2026-12-06 13:05:07.500`` (WITA)."""
    return at.astimezone(WITA).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _clock(at: datetime) -> str:
    return at.astimezone(WITA).strftime("%H:%M:%S")


# --------------------------------------------------------------------------- pure parts


def test_steps_land_in_the_past_and_a_step_to_now_is_live() -> None:
    now = datetime(2026, 11, 28, 2, 30, tzinfo=UTC)
    minute = timedelta(minutes=1)
    assert step(None, -minute, now) == now - minute
    assert step(now - 20 * minute, 15 * minute, now) == now - 5 * minute
    assert step(now - minute, minute, now) is None  # reaches now: live again
    assert step(now - minute, minute - LIVE_MARGIN / 2, now) is None  # near enough
    assert step(None, minute, now) is None  # the future: stays live


def test_the_moment_line_says_where_the_picture_came_from() -> None:
    now = datetime(2026, 11, 28, 6, 30, tzinfo=UTC)  # 14:30 WITA
    at = now - timedelta(hours=2, minutes=13)  # 12:17 WITA
    frame = at - timedelta(seconds=1)
    archive = moment_text(Moment(at, Shown.ARCHIVE, frame), now).plain
    assert archive == " PAST  12:16:59 WITA · from the archive · 2 h 13 min ago · l live"
    local = moment_text(Moment(at, Shown.LOCAL, frame), now).plain
    assert "12:16:59 WITA · local footage" in local
    gap = moment_text(Moment(at, Shown.GAP), now).plain
    assert "no footage at 12:17 WITA" in gap and "12:17:00" not in gap
    assert "fetching…" not in moment_text(Moment(at), now).plain  # quick answers: no flash
    assert "12:17:00 WITA · fetching…" in moment_text(Moment(at, slow=True), now).plain
    # Another day carries its date; control characters from a server are escaped.
    old = moment_text(Moment(at - timedelta(days=3), Shown.FAILED, error="bad\x1b[2J"), now)
    assert "25 Nov 12:17:00 WITA" in old.plain and "\x1b" not in old.plain


def test_the_timeline_marks_the_moment_under_its_cell() -> None:
    end = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
    hour = timedelta(hours=1)
    rec = Recordings(
        camera="c",
        start=end - 24 * hour,
        end=end,
        segments=[
            Segment(start=end - 6 * hour, end=end - 5 * hour, bytes=1, location="archived"),
            Segment(start=end - 2 * hour, end=end, bytes=1, location="local"),
        ],
        gaps=[],
        recorded_seconds=3 * 3600,
        missing_seconds=0,
    )
    # 24 cells of an hour: 5 h 30 min ago is in the 19th cell, an archived one.
    assert moment_mark(rec.start, rec.end, end - 5.5 * hour, 24) == (18, "▲")
    assert moment_mark(rec.start, rec.end, end - 30 * hour, 24, ascii_only=True) == (0, "<")
    lines = timeline_text(rec, 24, Mode.ASCII, end - 5.5 * hour).plain.splitlines()
    assert lines[0][18] == "=" and lines[1][18] == "^"
    # Without a moment the tick row is as it always was.
    assert "^" not in timeline_text(rec, 24, Mode.ASCII).plain
    assert timeline_text(rec, 24, Mode.ASCII).plain.splitlines()[1].endswith("now")
    # A moment in the last cell: "now" steps left of the marker, still whole.
    last = timeline_text(rec, 24, Mode.ASCII, end - 0.5 * hour).plain.splitlines()[1]
    assert last.endswith("now^"), last


def test_an_export_from_the_past_defaults_to_the_minutes_around_it() -> None:
    now = datetime(2026, 11, 28, 6, 30, tzinfo=UTC)  # 14:30 WITA
    moment = now - timedelta(days=6, hours=2)  # a week ago, 12:30 WITA
    assert default_window(None, now, moment) == ("2026-11-22 12:27:30", "2026-11-22 12:32:30")
    # Close to now the window ends now.
    assert default_window(None, now, now - timedelta(minutes=1)) == (
        "2026-11-28 14:25",
        "2026-11-28 14:30",
    )


def test_help_lists_the_time_keys_and_not_the_node_keys_they_shadow() -> None:
    rows = commands_for(Scope.CAMERA, several_nodes=True)
    keys = {c.display_key: c.name for c in rows}
    assert keys["["] == "earlier" and keys["]"] == "later"
    assert keys["{"] == "earlier 15m" and keys["}"] == "later 15m"
    assert keys["t"] == "go to time" and keys["l"] == "live"
    assert not {"next node", "previous node"} & {c.name for c in rows}
    # Elsewhere the node keys are still there.
    assert "next node" in {c.name for c in commands_for(Scope.GRID, several_nodes=True)}


# --------------------------------------------------------------------------- the site


@dataclass
class Scrub:
    live: Live
    relay: TcpRelay
    camera: str
    local: datetime  # start of a 3 s segment on the node's disk
    archived: list[datetime]  # starts of 3 s segments only the archive holds


@pytest.fixture(scope="module")
def scrub(
    tmp_path_factory: pytest.TempPathFactory, sim_cache: Path, s3_engine: S3Engine
) -> Iterator[Scrub]:
    s3_engine.start()
    site = write_site(
        tmp_path_factory.mktemp("tui-scrub"), SiteSpec(cameras=1, kecamatan=("Sangatta Utara",))
    )
    cam = site.camera_ids[0]
    kec = site.camera_kecamatan[cam]
    bucket = s3_engine.make_bucket()
    base = hours_ago(2)
    archived = [base + timedelta(seconds=s) for s in (10, 20, 30)]
    index = Database(site.storage)
    try:
        add_footage(index, base, seconds=3, camera=cam, kecamatan=kec)
        gone = [add_footage(index, at, seconds=3, camera=cam, kecamatan=kec) for at in archived]
        client = make_client(archive_config(s3_engine, bucket), KEYS, max_attempts=1)
        assert Uploader(index, archive_config(s3_engine, bucket), client).run_once() == 4
        for segment in gone:
            row = index.get(segment)
            assert row is not None
            row.path.unlink()
        index.drop_local(gone)
    finally:
        index.close()
    relay = TcpRelay(("127.0.0.1", s3_engine.port))
    table = archive_table(s3_engine, bucket).replace(
        s3_engine.endpoint, f"http://127.0.0.1:{relay.port}"
    )
    site.config.write_text(site.config.read_text() + "\n" + table)
    secrets = site.dir / "secrets.toml"
    secrets.write_text(
        secrets.read_text()
        + f'\n[archive]\naccess_key = "{ACCESS_KEY}"\nsecret_key = "{SECRET_KEY}"\n'
    )
    sim = RunningSim(site, sim_cache).start()
    with relay, serving(site, sim) as live:
        wait_for(
            lambda: live.server.get(f"/api/v1/cameras/{cam}").json()["status"] == "online",
            30,
            what="the camera online",
        )

        def recorded_live() -> float:
            # What the camera recorded since it came online (the old footage is 2 h back).
            start = (datetime.now(UTC) - timedelta(minutes=30)).isoformat()
            rec = live.server.get(f"/api/v1/cameras/{cam}/recordings", params={"start": start})
            assert rec.status_code == 200, rec.text
            return float(rec.json()["recorded_seconds"])

        # Enough that "10 s ago" is footage, by the server's own account of it.
        wait_for(lambda: recorded_live() >= 15, 60, what="15 s recorded")
        yield Scrub(live, relay, cam, base, archived)


def make_app(scrub: Scrub, **kwargs: Any) -> CctvApp:
    live = scrub.live
    return CctvApp(live.server.url, live.site.tokens["viewer"], "test-node", refresh=0.5, **kwargs)


async def open_camera(pilot: Pilot[Any], app: CctvApp, camera_id: str) -> CameraScreen:
    await until(pilot, lambda: app.role is not None and bool(app.node.cameras))
    app.open_camera(camera_id)
    await until(pilot, lambda: isinstance(app.screen, CameraScreen))
    screen = app.screen
    assert isinstance(screen, CameraScreen)
    await until(pilot, lambda: bool(screen.query(Thumb)))  # composed
    thumb = screen.query_one(Thumb)
    await until(pilot, lambda: thumb.grid is not None)  # the live picture first
    return screen


async def go_to(pilot: Pilot[Any], screen: CameraScreen, typed: str) -> None:
    modal = await opened_by(pilot, "t", GoToModal)
    modal.query_one("#when", Input).value = ""
    await pilot.press(*typed, "enter")
    await until(pilot, lambda: pilot.app.screen is screen)


def moment_line(app: CctvApp) -> str:
    return next((line for line in screen_text(app).splitlines() if " PAST " in line), "")


def shown(screen: CameraScreen, kind: Shown) -> bool:
    return screen.moment is not None and screen.moment.shown is kind


async def until_shown(pilot: Pilot[Any], screen: CameraScreen, kind: Shown) -> None:
    try:
        await until(pilot, lambda: shown(screen, kind))
    except AssertionError:
        raise AssertionError(f"wanted {kind}, the screen shows {screen.moment}") from None


# --------------------------------------------------------------------------- the pilot


async def test_scrubbing_shows_local_archived_footage_and_gaps(
    scrub: Scrub, tmp_path: Path
) -> None:
    app = make_app(scrub)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_camera(pilot, app, scrub.camera)
        thumb = screen.query_one(Thumb)
        timeline = screen.query_one(Timeline)
        assert moment_line(app) == ""  # live: no line, the picture has the rows

        # A typed time (WITA) in a segment only the archive holds: its keyframe at or
        # before the moment, fetched back through the server's archive cache.
        archived = scrub.archived[0]
        await go_to(pilot, screen, _wita(archived + timedelta(seconds=1.5)))
        await until_shown(pilot, screen, Shown.ARCHIVE)
        assert screen.moment is not None
        assert screen.moment.frame_time == archived + timedelta(seconds=1)
        line = moment_line(app)
        assert f"PAST  {_clock(archived + timedelta(seconds=1))} WITA · from the archive" in line
        assert re.search(r" · (1 h 59|2 h 00) min ago · l live", line), line
        assert thumb.grid is not None
        archived_picture = thumb.grid
        # A resized terminal draws the same moment again at its new size.
        small = archived_picture.cols
        await pilot.resize_terminal(100, 30)
        await until(pilot, lambda: thumb.grid is not None and thumb.grid.cols > small)
        assert screen.moment is not None and screen.moment.shown is Shown.ARCHIVE
        assert screen.moment.frame_time == archived + timedelta(seconds=1)
        await pilot.resize_terminal(*SIZE)
        await until(pilot, lambda: thumb.grid is not None and thumb.grid.cols == small)
        archived_picture = thumb.grid
        # `s` saves the picture shown: that moment's, at the camera's own size.
        saving = await opened_by(pilot, "s", SnapshotModal)
        assert saving.at == archived + timedelta(seconds=1.5)
        target = tmp_path / "past.jpg"
        saving.query_one("#path", Input).value = str(target)
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is screen and target.exists())
        with Image.open(target) as saved:
            assert saved.format == "JPEG" and saved.size == (WIDTH, HEIGHT)
        # The bar marks the moment, two hours back, under the tick row.
        rows = screen_text(app).splitlines()
        ticks = next(r for r in rows if r.rstrip().endswith("now") or "▲" in r)
        assert ticks.count("▲") == 1
        assert timeline.moment == archived + timedelta(seconds=1.5)

        # Local footage of the same hour: read where it lies, a different keyframe.
        await go_to(pilot, screen, _wita(scrub.local + timedelta(seconds=0.5)))
        await until_shown(pilot, screen, Shown.LOCAL)
        assert screen.moment is not None and screen.moment.frame_time == scrub.local
        assert f"PAST  {_clock(scrub.local)} WITA · local footage" in moment_line(app)
        assert thumb.grid is not None and thumb.grid != archived_picture

        # A minute earlier nothing was recorded: said, and no picture of another moment.
        await pilot.press("left_square_bracket")
        await until_shown(pilot, screen, Shown.GAP)
        earlier = scrub.local + timedelta(seconds=0.5) - timedelta(minutes=1)
        assert screen.moment is not None and screen.moment.target == earlier
        assert f"no footage at {earlier.astimezone(WITA):%H:%M} WITA" in moment_line(app)
        assert thumb.grid is None and thumb.placeholder.startswith("no footage at")

        # 15 min on, then back to live with `l`: the line goes, the live picture returns.
        await pilot.press("right_curly_bracket")
        await until(pilot, lambda: screen.moment is not None and screen.moment.shown is Shown.GAP)
        assert screen.moment is not None
        assert screen.moment.target == earlier + timedelta(minutes=15)
        await pilot.press("l")
        await until(pilot, lambda: thumb.grid is not None and moment_line(app) == "")
        assert screen.moment is None and timeline.moment is None

        # Ten seconds ago, typed as a relative time: what the camera recorded then, on
        # disk; a minute on from there is live again.
        typed = datetime.now(UTC)
        await go_to(pilot, screen, "10s")
        await until_shown(pilot, screen, Shown.LOCAL)
        moment = screen.moment
        assert moment is not None and moment.frame_time is not None
        assert typed - timedelta(seconds=10) <= moment.target <= datetime.now(UTC)
        # The keyframe at or before it: one a second in the simulator's stream.
        assert timedelta(0) <= moment.target - moment.frame_time <= timedelta(seconds=2)
        await pilot.press("right_square_bracket")
        await until(pilot, lambda: screen.moment is None and moment_line(app) == "")
        # From live a step goes a minute back from now.
        pressed = datetime.now(UTC)
        await pilot.press("left_square_bracket")
        await until(pilot, lambda: screen.moment is not None)
        assert screen.moment is not None
        back = pressed - screen.moment.target
        assert timedelta(seconds=59) <= back <= timedelta(seconds=62), back
        await pilot.press("l")
        await until(pilot, lambda: screen.moment is None and moment_line(app) == "")

        # A time the console cannot read is refused in the dialog, with what it accepts.
        modal = await opened_by(pilot, "t", GoToModal)
        modal.query_one("#when", Input).value = ""
        await pilot.press(*"last tuesday", "enter")
        await until(pilot, lambda: "accepted:" in modal.error_text)
        assert "'last tuesday'" in modal.error_text
        ahead = _wita(datetime.now(UTC) + timedelta(hours=1))
        modal.query_one("#when", Input).value = ahead
        await pilot.press("enter")
        await until(pilot, lambda: "is in the future" in modal.error_text)
        assert ahead in modal.error_text
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        assert screen.moment is None


async def test_a_slow_archive_fetch_says_so_and_the_next_key_wins(scrub: Scrub) -> None:
    app = make_app(scrub)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_camera(pilot, app, scrub.camera)
        # The store's link goes quiet: a segment not in the fetch cache waits for it.
        slow = scrub.archived[2] + timedelta(seconds=0.5)
        scrub.relay.freeze()
        try:
            await go_to(pilot, screen, _wita(slow))
            await until(pilot, lambda: "fetching…" in moment_line(app), 10)
            assert screen.moment is not None and screen.moment.target == slow

            # The next key does not wait for it: a minute earlier is a gap, said at once.
            await pilot.press("left_square_bracket")
            await until(pilot, lambda: shown(screen, Shown.GAP), 10)
            assert screen.moment is not None
            assert screen.moment.target == slow - timedelta(minutes=1)
            # And live is live, the fetch still hanging behind it.
            await pilot.press("l")
            await until(pilot, lambda: screen.moment is None and moment_line(app) == "", 10)
            assert not any(w.is_running for w in screen.workers if w.group == "past")
        finally:
            scrub.relay.thaw()
        # The fetch, cancelled, never paints over what the operator moved on to.
        await pilot.pause(1.0)
        assert screen.moment is None and moment_line(app) == ""


# --------------------------------------------------------------------------- a real terminal


def _console(scrub: Scrub, *, no_color: bool) -> str:
    live = scrub.live
    script = Path(sys.executable).parent / "cctvctl"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "cctvctl"]
    env = {
        "CCTVCTL_CONFIG": "/nonexistent/cctvctl-test-config.toml",
        "CCTVCTL_URL": live.server.url,
        "CCTVCTL_TOKEN": live.site.tokens["viewer"],
    }
    if no_color:
        env["NO_COLOR"] = "1"
    assigns = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    # No COLUMNS/LINES from the shell: they would win over the terminal's own size, and a
    # shell may have read them before tmux sized the pane.
    console = shlex.join([*base, "tui"])
    return f"cd {shlex.quote(str(REPO))} && env -u COLUMNS -u LINES {assigns} {console}; sleep 60"


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
@pytest.mark.parametrize(("size", "no_color"), [((100, 30), False), ((80, 24), True)])
def test_scrubbing_in_a_real_terminal(scrub: Scrub, size: tuple[int, int], no_color: bool) -> None:
    width, height = size
    tmux = Tmux(width, height)
    try:
        tmux.start(_console(scrub, no_color=no_color))
        wait_for(lambda: "Sangatta Utara" in tmux.screen(), 30, what="the overview")
        tmux.keys(":")
        wait_for(lambda: "kec NAME, cam ID" in tmux.screen(), 10, what="the command line")
        tmux.keys(f"cam {scrub.camera}", "Enter")
        wait_for(lambda: "recent events" in tmux.screen(), 15, what="the camera screen")

        def footer() -> str:
            return tmux.screen().splitlines()[height - 1]

        # The footer names the keys that move through time.
        wait_for(lambda: "[ earlier" in footer() and "] later" in footer(), 10, what="footer")

        archived = scrub.archived[1] + timedelta(seconds=2.5)
        tmux.keys("t")
        wait_for(lambda: "picture at (WITA)" in tmux.screen(), 10, what="the go-to dialog")
        tmux.keys(_wita(archived))
        wait_for(lambda: _wita(archived) in tmux.screen(), 10, what="the time typed")
        tmux.keys("Enter")
        frame = _clock(scrub.archived[1] + timedelta(seconds=2))
        want = f"{frame} WITA · from the archive"
        wait_for(lambda: want in tmux.screen(), 20, what="the archived picture")
        screen = tmux.screen()
        rows = screen.splitlines()
        assert len(rows) == height and all(len(r) <= width for r in rows)
        assert rows[1].startswith(" PAST  ") and want in rows[1], rows[1]
        assert sum(r.count("▲") for r in rows) == 1, screen
        assert "no picture" not in screen and "waiting for a picture" not in screen

        tmux.keys("[")
        gap = (archived - timedelta(minutes=1)).astimezone(WITA)
        wait_for(lambda: f"no footage at {gap:%H:%M} WITA" in tmux.screen(), 10, what="a gap")
        tmux.keys("l")
        wait_for(lambda: " PAST " not in tmux.screen(), 10, what="live again")
        assert "▲" not in tmux.screen()
    finally:
        tmux.kill_server()
