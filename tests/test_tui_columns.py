"""Narrow terminals: identifying and status columns whole, the rest hidden with a hint.

The console over fixed data (tests/tui_fixture.py) at a phone's 50x30 and at 80x24,
with camera ids long enough that cutting them would make two cameras look alike. The
assertions are properties of what the terminal shows (every id whole, the status columns
there, a "→ more" line naming what is hidden), not copies of a rendering.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from test_tui import screen_text
from test_tui_snapshots import fixed_app, loaded, settle
from textual.pilot import Pilot
from textual.widgets import DataTable
from tui_fixture import NOW, FixedSite

from cctvctl.columns import ColumnSpec, Priority, fit_columns
from cctvctl.models import AuditEntry, Event, ExportJob, ExportState
from cctvctl.tui.app import CctvApp
from cctvctl.tui.screens.detail import DetailModal
from cctvctl.tui.screens.events import EventsScreen
from cctvctl.tui.screens.exports import ExportsScreen
from cctvctl.tui.screens.overview import COLUMNS as OVERVIEW_COLUMNS

# The field trial's pair: cut to 10 cells, both read "kbn-desa-…".
LONG_IDS = ("kbn-desa-01", "kbn-desa-02")
CASE = "LP/1234/XII/2026/RESKRIM"
REASON = "no picture since 02:10 WITA; the kepala desa reports the mast was hit by a truck"
SIZES = [pytest.param((50, 30), id="50x30"), pytest.param((80, 24), id="80x24")]


pytestmark = pytest.mark.usefixtures("pinned_clock")


class LongIdSite(FixedSite):
    """The fixed site, plus exports, events and audit rows of two long-named cameras."""

    def __init__(self) -> None:
        super().__init__()
        for n, camera in enumerate(LONG_IDS, start=10):
            self.events.append(
                Event(
                    id=n,
                    time=NOW - timedelta(minutes=n),
                    type="camera.status",
                    camera=camera,
                    kecamatan="sangatta-utara",
                    data={"status": "offline", "previous": "online", "reason": "timed out"},
                )
            )

    def _exports(self, _request: httpx.Request) -> httpx.Response:
        jobs = [
            ExportJob(
                id=f"{n}1f0c2d9e4b7a6{n}",
                camera=camera,
                start=NOW - timedelta(hours=2),
                end=NOW - timedelta(hours=1, minutes=50),
                case_id=CASE,
                requester="noc-admin",
                state=ExportState.RUNNING,
                created=NOW - timedelta(minutes=n),
                percent=40.0 + n,
            )
            for n, camera in enumerate(LONG_IDS)
        ]
        return httpx.Response(200, json=[j.model_dump(mode="json") for j in jobs])

    def _audit(self, _request: httpx.Request) -> httpx.Response:
        entry = AuditEntry(
            id=7,
            time=NOW - timedelta(minutes=1),
            actor="noc-admin",
            role="admin",
            action="reboot",
            target=LONG_IDS[1],
            reason=REASON,
            case_id="LP/9\x1b[31m/XII",  # someone typed an escape into the case id
            result="refused",
            detail="recently rebooted: 4 min ago; pass force to reboot again",
        )
        return httpx.Response(200, json=[entry.model_dump(mode="json")])


async def open_screen(pilot: Pilot[Any], app: CctvApp, key: str, kind: type) -> None:
    await settle(pilot, lambda: bool(app.node.kecamatan) and len(app.node.events) == 6)
    await pilot.press(key)
    await settle(pilot, lambda: isinstance(app.screen, kind))
    await settle(pilot, lambda: app.screen.query_one(DataTable).row_count >= 2)


def hint_line(text: str) -> str:
    return next((line for line in text.splitlines() if "→ more:" in line), "")


def dialog_text(app: CctvApp) -> str:
    """The screen's words in one line: long values wrap inside the dialog's border."""
    return " ".join(screen_text(app).replace("│", " ").split())


def header_line(text: str, first: str) -> str:
    return next(line for line in text.splitlines() if line.strip().startswith(first))


# --------------------------------------------------------------------------- the rule


def test_identity_and_status_stay_whole_even_when_they_alone_overflow() -> None:
    specs = [
        ColumnSpec("Camera", Priority.IDENTITY),
        ColumnSpec("State", Priority.STATUS),
        ColumnSpec("Note", min_width=4),
    ]
    fit = fit_columns(specs, [30, 8, 20], room=20)
    assert fit.widths == (30, 8, None)
    assert fit.hidden(specs) == ["Note"]


def test_others_shrink_before_anything_hides_then_hide_extra_first_rightmost_first() -> None:
    specs = [
        ColumnSpec("Id", Priority.IDENTITY),
        ColumnSpec("Detail", min_width=6, flex=True),
        ColumnSpec("A", Priority.EXTRA),
        ColumnSpec("B", Priority.EXTRA),
    ]
    natural = [10, 40, 5, 5]
    # Everything fits once Detail shrinks: nothing hidden, Detail takes the rest.
    assert fit_columns(specs, natural, room=40, gap=2).widths == (10, 12, 5, 5)
    # Tighter: B (the rightmost of the first to go) hides, then A, before Detail.
    assert fit_columns(specs, natural, room=28, gap=2).widths == (10, 7, 5, None)
    assert fit_columns(specs, natural, room=20, gap=2).widths == (10, 6, None, None)
    assert fit_columns(specs, natural, room=200, gap=2).everything_shown


def test_overview_identity_and_status_columns_come_first() -> None:
    # The rule hides from the right among equals: the kept columns must lead.
    keeps = [c.keeps for c in OVERVIEW_COLUMNS]
    assert keeps == sorted(keeps, reverse=True)
    assert [c.label for c in OVERVIEW_COLUMNS if c.keeps] == ["Kecamatan", "On/All", "Deg", "Off"]


# --------------------------------------------------------------------------- screens


@pytest.mark.parametrize("size", SIZES)
async def test_overview_keeps_names_and_counts_and_names_what_it_hid(
    size: tuple[int, int],
) -> None:
    app = fixed_app()
    async with app.run_test(size=size) as pilot:
        await loaded(app)(pilot)
        await pilot.pause(0.2)
        text = screen_text(app)
        header = header_line(text, "Kecamatan")
        for label in ("On/All", "Deg", "Off"):
            assert label in header
        for k in app.node.kecamatan:
            assert k.name in text  # "Sangatta Utara" whole, not "Sangatta U…"
        hidden = [c.label for c in OVERVIEW_COLUMNS if c.label not in header]
        # 80 columns hold them all; 50 cannot, and says what it left out.
        assert bool(hidden) == (size[0] < 80)
        hint = hint_line(text)
        assert bool(hint) == bool(hidden)
        assert all(label in hint for label in hidden)
        assert all(len(line) <= size[0] for line in text.splitlines())


@pytest.mark.parametrize("size", SIZES)
async def test_exports_keep_job_camera_state_and_progress_whole(size: tuple[int, int]) -> None:
    app = fixed_app(LongIdSite())
    async with app.run_test(size=size) as pilot:
        await open_screen(pilot, app, "x", ExportsScreen)
        text = screen_text(app)
        header = header_line(text, "Job")
        for label in ("Camera", "State", "Progress"):
            assert label in header
        for n, camera in enumerate(LONG_IDS):
            row = next(line for line in text.splitlines() if camera in line)
            assert f"{n}1f0c2d9" in row  # the job id's first 8 characters
            assert "running" in row and f"{40 + n}%" in row
        screen = app.screen
        assert isinstance(screen, ExportsScreen)
        assert screen.hidden_columns, "long ids leave no room for every column"
        hint = hint_line(text)
        assert all(label in hint for label in screen.hidden_columns)
        # A case id is shown whole or hidden with the hint, never cut.
        assert (CASE in text) != ("Case" in screen.hidden_columns)


@pytest.mark.parametrize("size", SIZES)
async def test_events_keep_time_kind_and_target_whole(size: tuple[int, int]) -> None:
    app = fixed_app(LongIdSite())
    async with app.run_test(size=size) as pilot:
        await open_screen(pilot, app, "a", EventsScreen)
        screen = app.screen
        assert isinstance(screen, EventsScreen)
        await settle(pilot, lambda: "a7" in screen.table.rows)
        text = screen_text(app)
        header = header_line(text, "Time")
        assert "Kind" in header and "Target" in header
        for camera in LONG_IDS:
            assert any(camera in line and "cam DOWN" in line for line in text.splitlines())
        hint = hint_line(text)
        assert all(label in hint for label in screen.hidden_columns)
        assert bool(hint) == bool(screen.hidden_columns)


async def open_detail(pilot: Pilot[Any], app: CctvApp, row: str) -> str:
    """Enter on the events screen's row ``row``: the detail dialog's words."""
    await open_screen(pilot, app, "a", EventsScreen)
    screen = app.screen
    assert isinstance(screen, EventsScreen)
    await settle(pilot, lambda: row in screen.table.rows)
    screen.table.move_cursor(row=screen.table.get_row_index(row))
    await pilot.press("enter")
    await settle(pilot, lambda: isinstance(app.screen, DetailModal))
    return dialog_text(app)


async def test_enter_on_an_audit_row_shows_every_field_escaped() -> None:
    app = fixed_app(LongIdSite())
    async with app.run_test(size=(80, 24)) as pilot:
        text = await open_detail(pilot, app, "a7")
        for value in (REASON, LONG_IDS[1], "noc-admin", "refused", "pass force to reboot again"):
            assert value in text
        assert "LP/9\\x1b[31m/XII" in text  # the escape shown, not obeyed
        assert "10:29:00 WITA" in text
        await pilot.press("escape")
        await settle(pilot, lambda: isinstance(app.screen, EventsScreen))


async def test_enter_on_an_event_row_shows_its_data() -> None:
    app = fixed_app(LongIdSite())
    async with app.run_test(size=(50, 30)) as pilot:
        text = await open_detail(pilot, app, "e11")
        for value in (LONG_IDS[1], "camera.status", "timed out", "offline", "sangatta-utara"):
            assert value in text
