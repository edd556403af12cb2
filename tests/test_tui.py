"""The console driven by Textual's pilot against the real simulator and server.

One module-wide ``live`` site (2 kecamatan, 4 cameras); every test starts its own app at
80x24 with a viewer token, as an on-call technician over SSH would.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from harness import Live
from textual.app import App
from textual.binding import Binding
from textual.command import CommandPalette
from textual.widgets import DataTable
from tui_pilot import screen_text, until

from cctvctl.tui.app import CctvApp
from cctvctl.tui.budget import ByteBudget
from cctvctl.tui.commands import COMMANDS, Scope, commands_for
from cctvctl.tui.data import Poller
from cctvctl.tui.format import sparkline
from cctvctl.tui.screens.camera import CameraScreen
from cctvctl.tui.screens.grid import GridScreen, tile_layout
from cctvctl.tui.screens.help import HelpScreen
from cctvctl.tui.screens.overview import OverviewScreen, missing_text
from cctvctl.tui.widgets.tile import Tile, round_kbps

SIZE = (80, 24)


def make_app(live: Live) -> CctvApp:
    return CctvApp(
        live.server.url, live.site.tokens["viewer"], "test-node", refresh=0.5, ascii=False
    )


def overview_rows(app: CctvApp) -> list[str]:
    table = app.screen.query_one(DataTable)
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


async def test_overview_drill_down_and_back(live: Live) -> None:
    app = make_app(live)
    names = set(live.site.kecamatan.values())
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: set(overview_rows(app)) == names)
        assert isinstance(app.screen, OverviewScreen)
        # Every camera recording, so the header says we are connected.
        assert "ONLINE" in screen_text(app)

        first = overview_rows(app)[0]
        slug = next(s for s, n in live.site.kecamatan.items() if n == first)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, GridScreen))
        grid = app.screen
        await until(pilot, lambda: len(grid.query(Tile)) == len(live.site.cameras_in(slug)))
        tiles = list(grid.query(Tile))
        assert {t.camera.id for t in tiles} == set(live.site.cameras_in(slug))
        text = screen_text(app)
        for tile in tiles:
            assert tile.camera.id in text
            assert tile.camera.name[:10] in text
        assert any(badge in text for badge in ("OK", "DEG", "OFF"))
        # A live picture arrives in a tile.
        await until(pilot, lambda: any(t.thumb.grid is not None for t in grid.query(Tile)))

        focused = app.focused
        assert isinstance(focused, Tile)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, CameraScreen))
        assert focused.camera.id in screen_text(app)

        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, GridScreen))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, OverviewScreen))


async def test_filter_and_help(live: Live) -> None:
    app = make_app(live)
    names = sorted(live.site.kecamatan.values())
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(overview_rows(app)) == len(names))
        await pilot.press("slash", *names[0][:4].lower())
        await until(pilot, lambda: overview_rows(app) == [names[0]])
        await pilot.press("escape")
        await until(pilot, lambda: len(overview_rows(app)) == len(names))

        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = screen_text(app)
        # A long description wraps within its cell: read the cells' lines as one text.
        whats = " ".join(
            line.split("│")[3].strip() for line in text.splitlines() if line.count("│") >= 4
        )
        for command in commands_for(Scope.OVERVIEW):
            if command.scope is Scope.TABLE:  # the table's moves share one row
                assert command.key.split(",")[0] in text
                continue
            assert command.display_key in text
            assert command.description in whats
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, OverviewScreen))


async def test_no_color_ascii_grid(live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    # Textual reads NO_COLOR when the app is built; thumbnails must survive its filter.
    monkeypatch.setenv("NO_COLOR", "1")
    app = CctvApp(live.server.url, live.site.tokens["viewer"], "thin", ascii=True, refresh=0.5)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(overview_rows(app)) == len(live.site.kecamatan))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, GridScreen))
        await until(pilot, lambda: any(t.thumb.grid is not None for t in app.screen.query(Tile)))
        await pilot.pause(0.3)
        text = screen_text(app)
        assert "▀" not in text  # no half blocks: ASCII ramp only
        assert " OK " in text


async def test_palette_runs_commands_from_the_table(live: Live) -> None:
    app = make_app(live)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(overview_rows(app)) == len(live.site.kecamatan))
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"offline")
        await until(pilot, lambda: "Grid of every offline camera" in screen_text(app))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, GridScreen))
        # The simulator keeps every camera up, so the offline grid is empty.
        await until(pilot, lambda: "no cameras match" in screen_text(app))


async def test_unreachable_server_shows_in_header() -> None:
    app = CctvApp("http://127.0.0.1:9", "nope", "gone", refresh=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "RETRYING" in screen_text(app))
        assert app.node.error is not None
        assert isinstance(app.screen, OverviewScreen)


async def test_poller_ticks_never_overlap_and_errors_back_off() -> None:
    running, most, ticks = 0, 0, 0

    async def slow() -> None:
        nonlocal running, most, ticks
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.05)
        running -= 1
        ticks += 1
        if ticks >= 3:
            raise RuntimeError("server went away")

    errors: list[Exception] = []
    app: App[None] = App()
    async with app.run_test() as pilot:
        poller = Poller(app, slow, 0.01, on_error=errors.append)
        poller.start()
        for _ in range(5):
            poller.poke()  # pokes during a tick must not start a second one
        await until(pilot, lambda: poller.failures >= 2, timeout=5)
        poller.stop()
    assert most == 1
    assert isinstance(errors[0], RuntimeError)
    assert poller.next_delay() > poller.interval


def test_bindings_come_from_the_table() -> None:
    keys = {b.key for b in CctvApp.BINDINGS if isinstance(b, Binding)}
    assert keys == {c.key for c in COMMANDS if c.scope is Scope.GLOBAL}
    grid_keys = {b.key for b in GridScreen.BINDINGS if isinstance(b, Binding)}
    assert grid_keys == {c.key for c in COMMANDS if c.scope is Scope.GRID}


def test_80x24_fits_two_by_two_tiles() -> None:
    # Body of an 80x24 terminal: header, pager and footer take three lines.
    assert tile_layout(80, 21, 4) == (2, 2)
    assert tile_layout(80, 21, 40) == (2, 2)
    assert tile_layout(80, 21, 2) == (2, 1)
    assert tile_layout(80, 21, 1) == (1, 1)


# --------------------------------------------------------------------------- ':' and '/'


async def test_command_line_opens_screens_and_explains_mistakes(live: Live) -> None:
    app = make_app(live)
    slug, name = next(iter(live.site.kecamatan.items()))
    camera = live.site.camera_ids[0]
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: len(overview_rows(app)) == len(live.site.kecamatan))
        # A prefix of the name, typed the way an operator says it.
        await pilot.press("colon", *f"kec {name.split()[0].lower()}", "enter")
        await until(pilot, lambda: isinstance(app.screen, GridScreen))
        grid = app.screen
        await until(pilot, lambda: len(grid.query(Tile)) > 0)
        assert {t.camera.id for t in grid.query(Tile)} == set(live.site.cameras_in(slug))

        await pilot.press("colon", *f"cam {camera}", "enter")
        await until(pilot, lambda: isinstance(app.screen, CameraScreen))
        assert camera in screen_text(app)

        await pilot.press("colon", *"frobnicate", "enter")
        await until(pilot, lambda: "unknown command 'frobnicate'" in screen_text(app))
        assert "accepted: kec NAME, cam ID" in screen_text(app)
        assert isinstance(app.screen, CameraScreen)  # a mistake goes nowhere

        await pilot.press("colon", *"cam no-such-cam", "enter")
        await until(pilot, lambda: "no camera matches 'no-such-cam'" in screen_text(app))

        await pilot.press("colon", *"offline", "enter")
        await until(pilot, lambda: isinstance(app.screen, GridScreen))
        assert "offline cameras" in screen_text(app)

        await pilot.press("colon", *"home", "enter")
        await until(pilot, lambda: isinstance(app.screen, OverviewScreen))

        # What is typed shows on the prompt line (a focused Input's border once hid it),
        # and Esc drops a half-typed command without running it.
        await pilot.press("colon", *"kec")
        await until(pilot, lambda: ":kec" in screen_text(app).splitlines()[-1])
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert isinstance(app.screen, OverviewScreen)


async def test_grid_filter_narrows_tiles(live: Live) -> None:
    app = make_app(live)
    slug = next(iter(live.site.kecamatan))
    cameras = sorted(live.site.cameras_in(slug))
    assert len(cameras) >= 2, "the live site has two cameras per kecamatan"
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(overview_rows(app)) == len(live.site.kecamatan))
        app.open_kecamatan(slug)
        await until(pilot, lambda: isinstance(app.screen, GridScreen))
        grid = app.screen
        await until(pilot, lambda: len(grid.query(Tile)) == len(cameras))
        await pilot.press("slash", *cameras[-1])
        await until(pilot, lambda: [t.camera.id for t in grid.query(Tile)] == [cameras[-1]])
        assert cameras[-1] in screen_text(app).splitlines()[1]  # the filter, under the header
        assert "1 camera ·" in screen_text(app)
        await pilot.press("enter")  # keeps the filter, focus goes to the tile
        await until(pilot, lambda: isinstance(app.focused, Tile))
        await pilot.press("escape")  # the first Esc drops the filter: every tile is back
        await until(pilot, lambda: len(grid.query(Tile)) == len(cameras))
        assert isinstance(app.screen, GridScreen)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, OverviewScreen))


async def test_status_changes_arrive_by_events_between_polls(live: Live) -> None:
    # One stats poll at start, then none for a minute: only the event stream can tell.
    app = CctvApp(live.server.url, live.site.tokens["viewer"], "sse", refresh=60)
    camera = live.site.camera_ids[0]
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(overview_rows(app)) == len(live.site.kecamatan))
        app.open_camera(camera)
        await until(pilot, lambda: isinstance(app.screen, CameraScreen))
        await until(pilot, lambda: " OK " in screen_text(app))
        live.sim.fault(camera, "offline")
        try:
            await until(pilot, lambda: " !OFF " in screen_text(app), timeout=15)
            latest = app.node.events[-1]
            assert latest.camera == camera and latest.data["status"] == "offline"
        finally:
            live.sim.fault(camera, "recover")
        await until(pilot, lambda: " OK " in screen_text(app), timeout=30)


async def test_header_names_the_role_and_readonly(live: Live) -> None:
    app = CctvApp(live.server.url, live.site.tokens["operator"], "node-a", refresh=0.5)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "operator" in screen_text(app).splitlines()[0])
        assert app.role is not None and app.role.name == "OPERATOR"
    app = CctvApp(live.server.url, live.site.tokens["admin"], "node-a", readonly=True)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: " RO" in screen_text(app).splitlines()[0])
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))


def test_sparkline_scales_to_its_peak() -> None:
    line = sparkline([0.0, 50.0, 100.0], 5)
    assert len(line) == 5 and line.startswith("  ")  # short history pads on the left
    assert line[-1] == "█" and line[2] == "▁"
    assert sparkline([], 3) == "   "
    assert sparkline([0.0, 0.0], 2) == "▁▁"  # a dead link is a flat floor, not a crash
    ascii_line = sparkline([1.0, 9.0, 3.0] * 5, 12, ascii=True)
    assert len(ascii_line) == 12 and ascii_line.isascii() and "#" in ascii_line


async def test_ctrl_c_quits_like_q() -> None:
    app = CctvApp("http://127.0.0.1:9", None, "gone", refresh=5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+c")
        await pilot.pause(0.2)
        assert not app.is_running


async def test_filter_keeps_the_header_and_screens_are_not_stacked_twice(live: Live) -> None:
    app = make_app(live)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(overview_rows(app)) == len(live.site.kecamatan))
        await pilot.press("slash")
        await until(pilot, lambda: app.screen.query_one("#filter").display)
        assert "test-node" in screen_text(app).splitlines()[0]
        await pilot.press("escape")

        await pilot.press("a")
        await until(pilot, lambda: type(app.screen).__name__ == "EventsScreen")
        await pilot.press("x")
        await until(pilot, lambda: type(app.screen).__name__ == "ExportsScreen")
        await pilot.press("a")  # back down to the Events screen already open
        await until(pilot, lambda: type(app.screen).__name__ == "EventsScreen")
        names = [type(s).__name__ for s in app.screen_stack]
        assert names.count("EventsScreen") == 1 and "ExportsScreen" not in names


# --------------------------------------------------------------------------- thin links


def test_byte_budget_never_lets_the_rate_run_over() -> None:
    now = [0.0]
    budget = ByteBudget(1000.0, burst=1.0, clock=lambda: now[0])
    assert budget.allow(5000, first=True)  # the screen opening is free
    assert budget.allow(800)  # a full bucket pays for it
    assert not budget.allow(800)  # 200 left: wait
    now[0] = 0.6
    assert budget.allow(800)  # refilled to 800
    assert not budget.allow(10)
    assert not budget.allow(3000)  # dearer than the whole bucket: wait for a full one
    now[0] = 2.0
    assert budget.allow(3000)  # ...then it goes, and empties the bucket
    assert not budget.allow(1)
    assert budget.deferred == 4
    # Over a long run, what went out is within the rate (plus one bucket).
    spent_before = budget.spent
    for tick in range(1, 101):
        now[0] = 2.0 + tick * 0.1
        budget.allow(150)
    assert budget.spent - spent_before <= 1000.0 * 10 + 1000
    unlimited = ByteBudget(None)
    assert all(unlimited.allow(10**6) for _ in range(3))


def test_overview_says_seconds_for_outages_under_a_minute() -> None:
    assert [missing_text(m) for m in (0.0, 0.62, 1.0, 184.4)] == ["0m", "37s", "1m", "184m"]


def test_tile_text_stays_put_while_a_camera_streams() -> None:
    assert [round_kbps(k) for k in (452.4, 455.0, 1355.0, 7.4)] == [450.0, 460.0, 1400.0, 7]


async def test_thumb_resends_only_the_changed_cells() -> None:
    from cctvctl.client import Thumbnail
    from cctvctl.render import Depth, Mode
    from cctvctl.tui.widgets.thumb import Thumb

    def shot(image: np.ndarray) -> Thumbnail:
        h, w = image.shape[:2]
        return Thumbnail(image.tobytes(), w, h, datetime.now(UTC), 0.0, "rgb")

    class One(App[None]):
        def compose(self) -> Any:
            yield Thumb(mode=Mode.HALF_BLOCK, depth=Depth.XTERM256)

    app = One()
    async with app.run_test(size=(20, 5)) as pilot:
        thumb = app.query_one(Thumb)
        await pilot.pause()
        picture = np.zeros((10, 20, 3), dtype=np.uint8)
        thumb.show(shot(picture))
        first = thumb.repainted_cells
        assert first == thumb.size.width * thumb.size.height  # the first frame is all new
        moved = picture.copy()
        moved[0:2, 0:3] = (255, 255, 255)  # one clear change, three cells wide
        moved[4:6, 10] = (8, 8, 8)  # noise: within one palette step, not worth sending
        frame = thumb.prepare(shot(moved))
        assert frame is not None
        assert frame.rows == [(0, 3)]  # row 0, up to the end of its change
        thumb.apply(frame)
        assert thumb.repainted_cells == 3
