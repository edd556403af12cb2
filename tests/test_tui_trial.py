"""What the field trial of the console found (issue 11), checked as the operator saw it.

- Under ``NO_COLOR`` every problem cell carries the ``!`` marker and an attribute that is
  not a colour (bold on a block of its own background), on every screen, at 80x24.
- Stale data never looks live: dimmed figures, an age that keeps counting, the URL and the
  last error in the header; with a real server stopped mid-run, and against a dead URL.
- Cameras the recorder is still opening read "connecting", not 0/N in red.
- ``?`` on the overview explains its columns.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from harness import ServerProcess, Site, free_port
from rich.style import Style
from textual.pilot import Pilot
from textual.widgets import DataTable
from tui_fixture import NOW, FixedSite

from cctvctl.models import CameraStatus, Event, ExportJob, ExportState
from cctvctl.tui import clock
from cctvctl.tui.app import CctvApp
from cctvctl.tui.format import MARK
from cctvctl.tui.screens.camera import CameraScreen
from cctvctl.tui.screens.events import EventsScreen
from cctvctl.tui.screens.exports import ExportsScreen
from cctvctl.tui.screens.grid import GridScreen
from cctvctl.tui.screens.help import COLUMN_NOTES, HelpScreen
from cctvctl.tui.screens.overview import COLUMNS, OverviewScreen
from cctvctl.tui.widgets.thumb import Thumb
from cctvctl.tui.widgets.tile import Tile
from cctvctl.tui.widgets.timeline import Timeline

SIZE = (80, 24)
Cell = tuple[str, Style]


class Clock:
    """The console's clock, pinned, and moved on by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def pinned(monkeypatch: pytest.MonkeyPatch) -> Clock:
    now = Clock(NOW)
    monkeypatch.setattr(clock, "now", now)
    return now


async def until(pilot: Pilot[Any], check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting for the screen"
        await pilot.pause(0.05)
    await pilot.pause(0.2)  # the last repaint


def painted(app: CctvApp) -> list[list[Cell]]:
    """Each terminal line as runs of (text, style), after Textual's NO_COLOR filter."""
    return [
        [(seg.text, seg.style or Style()) for seg in strip]
        for strip in app.screen._compositor.render_strips()
    ]


def line_text(line: list[Cell]) -> str:
    return "".join(text for text, _ in line)


def screen_text(app: CctvApp) -> str:
    return "\n".join(line_text(line) for line in painted(app))


def marked_runs(line: list[Cell]) -> list[Cell]:
    """The runs of a line that start a problem cell (the marker)."""
    return [(text, style) for text, style in line if text.lstrip().startswith(MARK)]


def assert_stands_out(line: list[Cell], what: str) -> None:
    """A marked cell is bold and on a background of its own: visible without colour."""
    runs = marked_runs(line)
    assert runs, f"{what}: no {MARK} marker in {line_text(line)!r}"
    # The line's own background: the one most of its unmarked cells sit on.
    widths: Counter[Any] = Counter()
    for text, style in line:
        if MARK not in text:
            widths[style.bgcolor] += len(text)
    row_bg = widths.most_common(1)[0][0]
    for text, style in runs:
        assert style.bold, f"{what}: {text!r} is not bold"
        assert style.reverse or style.bgcolor != row_bg, f"{what}: {text!r} has no block"


def line_with(app: CctvApp, needle: str) -> list[Cell]:
    found = [line for line in painted(app) if needle in line_text(line)]
    assert found, f"{needle!r} is not on the screen:\n{screen_text(app)}"
    return found[0]


# ------------------------------------------------------------------ 1. NO_COLOR


class FailedExportSite(FixedSite):
    """The fixed site with one more export job, a failed one."""

    def _exports(self, request: httpx.Request) -> httpx.Response:
        answer = super()._exports(request)
        jobs = [ExportJob.model_validate(j) for j in answer.json()]
        failed = jobs[0].model_copy(
            update={"id": "ex-0bad0bad", "state": ExportState.FAILED, "error": "disk full"}
        )
        body = "[" + ",".join(j.model_dump_json() for j in [failed, *jobs]) + "]"
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})


class FailingSite(FixedSite):
    """The fixed site, until the test pulls its plug: then every request is refused."""

    down = False

    async def _answer(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        return await super()._answer(request)


def fixed_app(site: FixedSite | None = None, **options: Any) -> CctvApp:
    site = site or FixedSite()
    return CctvApp(
        "http://fixed.invalid", "token", "rec-sangatta-1", refresh=3600,
        transport=site.transport(), **options,
    )  # fmt: skip


async def test_no_color_marks_every_problem_on_every_screen(
    monkeypatch: pytest.MonkeyPatch, pinned: Clock
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    site = FailedExportSite()
    app = fixed_app(site)
    async with app.run_test(size=SIZE) as pilot:
        assert app.no_color
        await until(pilot, lambda: bool(app.node.kecamatan) and len(app.node.events) == 4)

        # Overview: a row with a camera down marks its count cells; a healthy row, none.
        for k in site.kecamatan:
            line = line_with(app, k.name)
            enabled = k.cameras_total - k.disabled
            troubled = k.offline or k.degraded or k.online < enabled
            if troubled:
                assert_stands_out(line, k.name)
                assert len(marked_runs(line)) == 1 + bool(k.offline) + bool(k.degraded)
            else:
                assert not marked_runs(line), f"{k.name} is healthy but marked"

        # Grid: the offline and the degraded tile's badge; the others carry none.
        app.open_kecamatan("sangatta-utara")
        await until(pilot, lambda: isinstance(app.screen, GridScreen))
        # Worst first: the two problem cameras are on the first page at 80x24.
        await until(pilot, lambda: len(app.screen.query(Tile)) == 4)
        bad = {
            c.id
            for c in site.cameras
            if c.kecamatan_slug == "sangatta-utara"
            and c.status in (CameraStatus.OFFLINE, CameraStatus.DEGRADED)
        }
        badges = [
            (text.strip(), style)
            for line in painted(app)
            for text, style in line
            if text.strip() in ("OK", f"{MARK}OFF", f"{MARK}DEG")
        ]
        problems = [(t, s) for t, s in badges if t.startswith(MARK)]
        assert len(problems) == len(bad) == 2
        assert all(s.bold for _, s in problems)
        assert sum(t == "OK" for t, _ in badges) == 2

        # Camera: an offline camera's badge, recording NO, and the missing footage.
        app.open_camera("sgu-desa-01")
        await until(pilot, lambda: isinstance(app.screen, CameraScreen))
        await until(pilot, lambda: "missing:" in str(app.screen.query_one(Timeline).render()))
        assert_stands_out(line_with(app, "status"), "camera status")
        assert_stands_out(line_with(app, "recording"), "recording")
        assert_stands_out(line_with(app, "missing:"), "timeline caption")

        # Exports: the failed job's state; done and running ones are not problems.
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ExportsScreen))
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 3)
        # The cursor row has a background of its own; look at the row as it sits unselected.
        await pilot.press("down")
        await pilot.pause(0.2)
        assert_stands_out(line_with(app, "ex-0bad0"), "failed export")
        assert not marked_runs(line_with(app, "ex-7f3a9")), "a done export is marked"

        # Events: the offline and degraded changes; an accepted export is not a problem.
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, EventsScreen))
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count >= 4)
        assert_stands_out(line_with(app, "offline: connection"), "offline event")
        assert_stands_out(line_with(app, "→ degraded"), "degraded event")
        assert not marked_runs(line_with(app, "export by")), "an accepted export is marked"
        assert f"{MARK}cam DOWN" in screen_text(app)  # the marker costs no letters


# ------------------------------------------------------------------ 2. stale data


def _light(style: Style) -> int:
    triplet = style.color.get_truecolor() if style.color is not None else None
    return sum(triplet) if triplet is not None else -1


def dimmed(app: CctvApp, name: str) -> bool:
    """Whether every figure of the overview row ``name`` is drawn fainter than the row's
    ordinary text (Textual paints "dim" as a blend towards the background)."""
    line = line_with(app, name)
    ordinary = max(_light(style) for text, style in line if not text.strip())
    figures = [style for text, style in line if text.strip() and MARK not in text]
    return bool(figures) and all(_light(style) < ordinary for style in figures)


async def test_old_figures_are_dimmed_and_the_header_says_how_old(pinned: Clock) -> None:
    site = FailingSite()
    app = CctvApp(
        "http://fixed.invalid", "token", "rec-sangatta-1", refresh=2.0,
        transport=site.transport(),
    )  # fmt: skip
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: bool(app.node.kecamatan))
        assert not dimmed(app, "Telen")
        assert "ONLINE" in line_text(painted(app)[0])
        assert "old" not in line_text(painted(app)[0])

        # The server stops answering and 9 s pass: over two polls of 2 s.
        site.down = True
        pinned.at = NOW + timedelta(seconds=9)
        await until(pilot, lambda: dimmed(app, "Telen"))
        header = line_text(painted(app)[0])
        assert f"{MARK}data 9s old" in header
        assert "http://fixed.invalid" in header
        # Problems stay marked while dimmed: an offline camera is still one.
        assert marked_runs(line_with(app, "Bengalon"))

        pinned.at = NOW + timedelta(seconds=14)
        await until(pilot, lambda: "data 14s old" in line_text(painted(app)[0]))


async def test_stopped_server_turns_the_console_stale(
    site_factory: Callable[..., Site],
    sim_factory: Callable[[Site], Any],
    server_factory: Callable[..., ServerProcess],
) -> None:
    site = site_factory()
    sim_factory(site)
    server = server_factory(site)
    app = CctvApp(server.url, site.tokens["viewer"], "node-1", refresh=0.5)
    name = next(iter(site.kecamatan.values()))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(app.node.kecamatan) == len(site.kecamatan))
        await until(pilot, lambda: "ONLINE" in line_text(painted(app)[0]))
        assert not dimmed(app, name)

        server.stop()
        await until(pilot, lambda: "RETRYING" in line_text(painted(app)[0]))
        await until(pilot, lambda: dimmed(app, name))
        header = line_text(painted(app)[0])
        assert server.url in header
        assert "unreachable" in header
        first = app.node.updated
        # The age keeps counting though no answer comes.
        seen = header.partition("data ")[2].partition(" old")[0]
        await until(
            pilot,
            lambda: (
                (now := line_text(painted(app)[0]).partition("data ")[2].partition(" old")[0])
                != seen
                and now != ""
            ),
        )
        assert app.node.updated == first  # nothing new arrived: the clock moved, not data


async def test_dead_url_shows_the_url_and_the_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    app = CctvApp(url, "nope", "gone", refresh=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "RETRYING" in line_text(painted(app)[0]))
        await until(pilot, lambda: "unreachable" in line_text(painted(app)[0]))
        header = line_text(painted(app)[0])
        assert url in header
        assert f"{MARK}no data yet" in header
        assert isinstance(app.screen, OverviewScreen)


# ------------------------------------------------------------------ 14 f, 14 g


async def test_cameras_being_opened_read_connecting_not_offline(pinned: Clock) -> None:
    site = FixedSite()
    # The first seconds after a start: every camera of Telen "offline", never seen.
    for i, cam in enumerate(site.cameras):
        if cam.kecamatan_slug == "telen":
            site.cameras[i] = cam.model_copy(
                update={
                    "status": CameraStatus.OFFLINE,
                    "last_packet": None,
                    "status_since": NOW - timedelta(seconds=2),
                }
            )
    for i, k in enumerate(site.kecamatan):
        if k.slug == "telen":
            site.kecamatan[i] = k.model_copy(update={"online": 0, "offline": 2})
    app = fixed_app(site)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: bool(app.node.kecamatan))
        line = line_with(app, "Telen")
        assert "connecting" in line_text(line)
        assert not marked_runs(line), "a camera being opened is shown as a problem"
        # Once the recorder's grace has passed, offline is offline.
        pinned.at = NOW + timedelta(seconds=30)
        app.action_refresh_now()
        await until(pilot, lambda: "connecting" not in line_text(line_with(app, "Telen")))
        assert_stands_out(line_with(app, "Telen"), "Telen offline")


async def test_help_explains_the_overview_columns(pinned: Clock) -> None:
    app = fixed_app()
    async with app.run_test(size=(80, 40)) as pilot:  # tall enough to show them all
        await until(pilot, lambda: bool(app.node.kecamatan))
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = screen_text(app)
        explained = {column for column, _ in COLUMN_NOTES[OverviewScreen.SCOPE]}
        assert set(COLUMNS) - {"Kecamatan"} <= explained
        # One line each, whole, at 80 columns (the help box scrolls to them).
        for column, meaning in COLUMN_NOTES[OverviewScreen.SCOPE]:
            assert any(f" {column} " in ln and meaning in ln for ln in text.splitlines()), (
                f"{column} is not explained on one line:\n{text}"
            )


# ------------------------------------------------------------------ 9. camera screen bytes


async def test_camera_timeline_repaints_only_when_it_changes(pinned: Clock) -> None:
    site = FixedSite()
    app = fixed_app(site)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: bool(app.node.kecamatan) and len(app.node.events) == 4)
        app.open_camera("sgu-camat-01")
        await until(pilot, lambda: isinstance(app.screen, CameraScreen))
        screen = app.screen
        assert isinstance(screen, CameraScreen)
        timeline = screen.query_one(Timeline)
        await until(pilot, lambda: timeline.paints == 1)
        fetched = timeline.recordings

        # Stats ticks and the same 24 h again: not one more paint of the bar.
        for _ in range(3):
            app.action_refresh_now()
            assert screen._timeline is not None
            screen._timeline.poke()
            await until(pilot, lambda before=fetched: timeline.recordings is not before)
            fetched = timeline.recordings
        assert timeline.paints == 1

        # The camera goes offline: its status event fetches the bar at once, with the gap.
        for i, cam in enumerate(site.cameras):
            if cam.id == "sgu-camat-01":
                site.cameras[i] = cam.model_copy(
                    update={
                        "status": CameraStatus.OFFLINE,
                        "status_since": NOW - timedelta(hours=2),
                    }
                )
        app.take_event(
            Event(
                id=99,
                time=NOW,
                type="camera.status",
                camera="sgu-camat-01",
                kecamatan="sangatta-utara",
                data={"status": "offline", "previous": "online", "reason": "test"},
            )
        )
        await until(pilot, lambda: timeline.paints == 2)
        assert timeline.recordings is not None
        assert timeline.recordings.missing_seconds > 2 * 3600


async def test_camera_picture_spends_from_the_grid_budget(pinned: Clock) -> None:
    app = fixed_app(budget_kbps=0.1)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: bool(app.node.cameras))
        app.open_camera("sgu-camat-01")
        await until(pilot, lambda: isinstance(app.screen, CameraScreen))
        screen = app.screen
        assert isinstance(screen, CameraScreen)
        # The grid's budget (--max-kbps), not a picture sent whatever it costs.
        assert screen.budget.rate == 100.0
        await until(pilot, lambda: screen.query_one(Thumb).grid is not None)
        # The first picture went out (free, as the grid's) and was counted against it.
        assert screen.budget.spent > 200


class CountingSite(FixedSite):
    """The fixed site, counting the thumbnails asked of each camera."""

    def __init__(self) -> None:
        super().__init__()
        self.thumbnails: Counter[str] = Counter()

    def _thumbnail(self, camera: Any, request: httpx.Request) -> httpx.Response:
        self.thumbnails[camera.id] += 1
        return super()._thumbnail(camera, request)


async def test_a_grid_under_the_camera_screen_stops_fetching_pictures(pinned: Clock) -> None:
    # Textual repaints the screen on top wherever the one under it changed: a grid left
    # fetching pictures under the camera screen re-sent its timeline and events each second.
    site = CountingSite()
    app = fixed_app(site)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: bool(app.node.kecamatan))
        app.open_kecamatan("sangatta-utara")
        await until(pilot, lambda: isinstance(app.screen, GridScreen))
        await until(pilot, lambda: site.thumbnails["sgu-camat-01"] >= 2)
        app.open_camera("sgu-pkm-01")
        await until(pilot, lambda: isinstance(app.screen, CameraScreen))
        await until(pilot, lambda: site.thumbnails["sgu-pkm-01"] >= 1)
        await pilot.pause(0.5)  # a grid tick already in flight may land
        before = site.thumbnails["sgu-camat-01"]
        shown = site.thumbnails["sgu-pkm-01"]
        # Three of the camera screen's picture polls: the grid under it asks nothing.
        await until(pilot, lambda: site.thumbnails["sgu-pkm-01"] >= shown + 3)
        assert site.thumbnails["sgu-camat-01"] == before
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, GridScreen))
        await until(pilot, lambda: site.thumbnails["sgu-camat-01"] > before)
