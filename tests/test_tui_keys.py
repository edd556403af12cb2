"""Keys as a NOC operator sends them: bunched over a laggy link, k9s-style moves, role limits.

The real app over the fixed site (tests/tui_fixture.py) at 80x24, the console's clock pinned.
A *burst* is every key of a read posted to the app at once, as Textual's driver does when
one read from the terminal holds several keys, instead of the pilot's one key per idle loop.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from textual import events
from textual.command import CommandPalette
from textual.keys import _character_to_key
from textual.pilot import Pilot
from textual.widgets import Button, Input
from textual.widgets._footer import FooterKey
from tui_fixture import NOW, FixedSite, fixed_app
from tui_pilot import opened_by, screen_text, until

from cctvctl.models import ExportJob, ExportState, ExportWait, Role
from cctvctl.tui.app import CctvApp
from cctvctl.tui.screens.camera import CameraScreen
from cctvctl.tui.screens.events import EventsScreen
from cctvctl.tui.screens.export_form import ExportForm
from cctvctl.tui.screens.exports import ExportsScreen
from cctvctl.tui.screens.filtered import FilteredTableScreen
from cctvctl.tui.screens.grid import GridScreen
from cctvctl.tui.screens.help import HelpScreen
from cctvctl.tui.screens.overview import HOLD_SECONDS, OverviewScreen
from cctvctl.tui.screens.reboot_modal import RebootModal

SIZE = (80, 24)


pytestmark = pytest.mark.usefixtures("pinned_clock")


async def burst(pilot: Pilot[Any], *keys: str) -> None:
    """Post ``keys`` (Textual key names, or text) to the app in one go, then let it settle."""
    for key in keys:
        if len(key) == 1:
            pilot.app.post_message(events.Key(_character_to_key(key), key))
        else:
            pilot.app.post_message(events.Key(key, "\t" if key == "tab" else None))
    await pilot.pause(0.2)


async def loaded(pilot: Pilot[Any], app: CctvApp) -> None:
    await until(pilot, lambda: app.role is not None and bool(app.node.kecamatan))


async def open_camera(pilot: Pilot[Any], app: CctvApp, camera_id: str) -> CameraScreen:
    await loaded(pilot, app)
    app.open_camera(camera_id)
    await until(pilot, lambda: isinstance(app.screen, CameraScreen))
    screen = app.screen
    assert isinstance(screen, CameraScreen)
    return screen


# --------------------------------------------------------------------------- bunched keys


async def open_export_form(pilot: Pilot[Any], app: CctvApp) -> ExportForm:
    await open_camera(pilot, app, "sgu-camat-01")
    form = await opened_by(pilot, "e", ExportForm)
    await until(pilot, lambda: form.focused is form.query_one("#case", Input))
    return form


async def test_text_after_a_tab_in_the_same_read_lands_in_the_next_field() -> None:
    app = fixed_app()
    async with app.run_test(size=SIZE) as pilot:
        form = await open_export_form(pilot, app)
        await burst(pilot, *"LP/1", "tab", *"dari TUI")
        assert form.value("case") == "LP/1"
        assert form.value("note") == "dari TUI"
        assert form.focused is form.query_one("#note", Input)

        # Back the other way in one read too. A field reached by Tab has its text selected,
        # so what follows replaces it, as it does when typed slowly.
        await burst(pilot, "shift+tab", *"LP/117")
        assert form.value("case") == "LP/117"
        assert form.value("note") == "dari TUI"


async def test_tab_and_text_bunched_three_times_never_go_astray() -> None:
    # The trial lost the text in 2 of 3 tries; every try must land.
    app = fixed_app()
    async with app.run_test(size=SIZE) as pilot:
        form = await open_export_form(pilot, app)
        for attempt in range(3):
            form.query_one("#case", Input).focus()
            form.query_one("#note", Input).value = ""
            await pilot.pause()
            await burst(pilot, "tab", *f"try {attempt}")
            assert form.value("note") == f"try {attempt}", attempt
        assert form.value("case") == ""


# --------------------------------------------------------------------------- roles


class RecordingSite(FixedSite):
    """The fixed site, noting every request the console sends."""

    def __init__(self, role: Role = Role.ADMIN) -> None:
        super().__init__(role)
        self.sent: list[tuple[str, str]] = []

    async def _answer(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, request.url.path))
        return await super()._answer(request)


def footer_keys(app: CctvApp) -> dict[str, bool]:
    """Each key the footer shows -> whether it is greyed out."""
    return {k.key: k.has_class("-disabled") for k in app.screen.query(FooterKey)}


def toasts(app: CctvApp) -> list[str]:
    return [f"{n.title}: {n.message}" for n in app._notifications]


def help_row(app: CctvApp, command: str) -> str:
    """What `?` says a command does, its wrapped lines joined."""
    rows = [line.split("│") for line in screen_text(app).splitlines() if line.count("│") >= 4]
    start = next(i for i, cells in enumerate(rows) if cells[2].strip() == command)
    words = [rows[start][3].strip()]
    for cells in rows[start + 1 :]:
        if cells[1].strip():  # the next command's key
            break
        words.append(cells[3].strip())
    return " ".join(w for w in words if w)


@pytest.mark.parametrize(
    ("role", "readonly", "greyed"),
    [
        (Role.VIEWER, False, {"e", "b"}),
        (Role.OPERATOR, False, {"b"}),
        (Role.ADMIN, True, {"e", "b"}),
        (Role.ADMIN, False, set()),
    ],
)
async def test_footer_greys_what_the_role_may_not_do(
    role: Role, readonly: bool, greyed: set[str]
) -> None:
    app = fixed_app(FixedSite(role), readonly=readonly)
    async with app.run_test(size=SIZE) as pilot:
        await open_camera(pilot, app, "sgu-camat-01")
        await until(pilot, lambda: {"e", "b", "question_mark"} <= set(footer_keys(app)))
        keys = footer_keys(app)
        assert {k for k, off in keys.items() if off} == greyed, keys


async def test_viewer_sees_the_reason_in_help_and_when_pressing_the_key() -> None:
    app = fixed_app(FixedSite(Role.VIEWER))
    async with app.run_test(size=SIZE) as pilot:
        camera = await open_camera(pilot, app, "sgu-camat-01")
        await pilot.press("e")
        await until(pilot, lambda: any("needs the operator role" in t for t in toasts(app)))
        assert app.screen is camera  # no form opened

        await opened_by(pilot, "question_mark", HelpScreen)
        assert help_row(app, "export").endswith("(needs the operator role)")
        assert help_row(app, "reboot").endswith("(needs the admin role)")
        assert "needs" not in help_row(app, "snapshot")


async def test_palette_says_why_a_greyed_command_does_not_run() -> None:
    app = fixed_app(FixedSite(Role.VIEWER))
    async with app.run_test(size=SIZE) as pilot:
        camera = await open_camera(pilot, app, "sgu-camat-01")
        await opened_by(pilot, "ctrl+p", CommandPalette)
        await pilot.press(*"reboot")
        await until(pilot, lambda: "Reboot the camera" in screen_text(app))
        await pilot.press("enter")
        await until(pilot, lambda: any("needs the admin role" in t for t in toasts(app)))
        await until(pilot, lambda: app.screen is camera)  # and no dialog


async def test_reboot_dialog_refuses_a_camera_without_onvif() -> None:
    site = RecordingSite(Role.ADMIN)
    app = fixed_app(site)
    async with app.run_test(size=SIZE) as pilot:
        await open_camera(pilot, app, "sgu-fu-01")  # the fixture's camera without ONVIF
        modal = await opened_by(pilot, "b", RebootModal)
        await until(pilot, lambda: "no ONVIF URL" in modal.error_text)
        assert modal.error_text.startswith("cannot reboot: ")
        assert "power-cycle it on site" in modal.error_text
        assert modal.query_one("#submit", Button).disabled

        await pilot.press(*"stream frozen", "enter")
        await pilot.pause(0.2)
        assert app.screen is modal and "no ONVIF URL" in modal.error_text
        assert [r for r in site.sent if r[0] == "POST"] == []


async def test_reboot_dialog_for_a_camera_with_onvif_has_no_refusal() -> None:
    app = fixed_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_camera(pilot, app, "sgu-camat-01")
        modal = await opened_by(pilot, "b", RebootModal)
        await pilot.pause(0.1)
        assert modal.error_text == ""
        assert not modal.query_one("#submit", Button).disabled


# --------------------------------------------------------------------------- moving around


def cursor_row(app: CctvApp) -> int:
    screen = app.screen
    assert isinstance(screen, FilteredTableScreen)
    return screen.table.cursor_row


async def check_row_keys(pilot: Pilot[Any], app: CctvApp) -> None:
    screen = app.screen
    assert isinstance(screen, FilteredTableScreen)
    last = screen.table.row_count - 1
    assert last >= 2, "needs a few rows"
    for keys, row in (
        (["j"], 1),
        (["j", "j"], 3 if last >= 3 else last),
        (["k"], 2 if last >= 3 else last - 1),
        (["G"], last),
        (["g"], 0),
        (["end"], last),
        (["home"], 0),
    ):
        await pilot.press(*keys)
        assert cursor_row(app) == row, (keys, screen.SCOPE)


async def test_j_k_g_G_home_end_move_the_cursor_in_every_table() -> None:
    app = fixed_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        await until(pilot, lambda: len(app.node.events) == 4)
        await check_row_keys(pilot, app)  # overview
        screen = await opened_by(pilot, "a", EventsScreen)
        await until(pilot, lambda: screen.table.row_count >= 4)
        await check_row_keys(pilot, app)


@pytest.mark.parametrize("key", ["escape", "backspace", "h"])
async def test_backspace_and_h_go_back_like_esc(key: str) -> None:
    app = fixed_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        await opened_by(pilot, "enter", GridScreen)
        await opened_by(pilot, key, OverviewScreen)


async def test_backspace_and_h_edit_an_open_filter_instead_of_leaving() -> None:
    app = fixed_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        grid = await opened_by(pilot, "enter", GridScreen)
        await pilot.press("slash", *"sgh", "backspace", "backspace")
        assert grid.filter_input.value == "s"
        assert app.screen is grid


async def test_help_says_how_to_avoid_the_esc_delay_in_tmux() -> None:
    app = fixed_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        await opened_by(pilot, "question_mark", HelpScreen)
        back = help_row(app, "back")
        assert "set -sg escape-time 10" in back
        assert "650 ms" in back and "tmux" in back
        # The table's keys, on one row.
        assert help_row(app, "rows") == "down, up, first, last (also home, end)"


def worsen(app: CctvApp, slug: str, offline: int) -> None:
    """``slug`` loses ``offline`` cameras: a new worst row, as a poll would bring it."""
    app.node.kecamatan = [
        k.model_copy(update={"offline": offline}) if k.slug == slug else k
        for k in app.node.kecamatan
    ]
    app.screen.refresh_data()


def selected(app: CctvApp) -> str | None:
    screen = app.screen
    assert isinstance(screen, OverviewScreen)
    return screen.selected_key()


async def test_overview_cursor_follows_the_worst_row_unless_the_operator_moved_it() -> None:
    app = fixed_app()
    now = [1000.0]
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        overview = app.screen
        assert isinstance(overview, OverviewScreen)
        overview.monotonic = lambda: now[0]
        assert selected(app) == "sangatta-utara"

        # Left alone, the cursor goes with the new worst row.
        worsen(app, "telen", 3)
        await pilot.pause()
        assert overview.visible_rows()[0].slug == "telen"
        assert selected(app) == "telen" and cursor_row(app) == 0

        # The operator picks a row: a change in order within 30 s leaves it there.
        await pilot.press("j", "j")
        chosen = selected(app)
        assert chosen not in (None, "telen")
        now[0] += HOLD_SECONDS - 1
        worsen(app, "kaliorang", 5)
        await pilot.pause()
        assert overview.visible_rows()[0].slug == "kaliorang"
        assert selected(app) == chosen

        # 30 s after the last move, the next change in order takes the cursor to the top.
        now[0] += 2
        await pilot.pause()
        assert selected(app) == chosen  # no change in order: nothing moves
        worsen(app, "muara-wahau", 7)
        await pilot.pause()
        assert selected(app) == "muara-wahau" and cursor_row(app) == 0


# --------------------------------------------------------------------------- a waiting export


class WaitingSite(FixedSite):
    """One export whose window ends now: the server says it waits for the open segment."""

    job = ExportJob(
        id="ex-5c0ffee1",
        camera="sgu-camat-01",
        start=NOW - timedelta(minutes=3),
        end=NOW,
        case_id="LP/200/XI/2026",
        requester="noc-operator",
        state=ExportState.RUNNING,
        created=NOW,
        started=NOW,
        waiting=ExportWait(
            holds=NOW,
            open_since=NOW - timedelta(seconds=20),
            expected_close=NOW + timedelta(seconds=40),
            segment_seconds=60,
        ),
    )

    def _exports(self, _request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            content=f"[{self.job.model_dump_json()}]",
            headers={"content-type": "application/json"},
        )


async def test_exports_say_why_a_job_ending_now_sits_at_zero() -> None:
    app = fixed_app(WaitingSite())
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        await opened_by(pilot, "x", ExportsScreen)
        await until(pilot, lambda: "ex-5c0ff" in screen_text(app))
        lines = screen_text(app).splitlines()
        row = next(line for line in lines if "ex-5c0ff" in line)
        assert "waiting" in row and "running" not in row
        # 10:30 WITA is the pinned clock; the segment should close 40 s later.
        status = "waiting for the segment that holds 10:30 to close (≤ 60 s), ETA 10:30:40 WITA"
        assert any(line.strip() == status for line in lines), lines[-3:]
