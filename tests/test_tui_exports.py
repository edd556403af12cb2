"""Exports and Events screens driven by the pilot at 80x24 against the real sim and server."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from harness import (
    Live,
    ServerProcess,
    SiteSpec,
    stream_cutting_proxy,
    wait_for,
)
from test_tui import SIZE
from textual.widgets import DataTable
from tui_pilot import opened_by, screen_text, until

from cctvctl.client import CctvClient, Forbidden
from cctvctl.models import ExportJob, ExportState
from cctvctl.tui.app import CctvApp
from cctvctl.tui.screens.events import AUDIT_DENIED, EventsScreen
from cctvctl.tui.screens.exports import (
    FAST,
    LIST_LIMIT,
    SLOW,
    VIEWER_TEXT,
    ExportsScreen,
    PathPrompt,
    default_path,
)

CASE = "LP/7/TUI/2026"


def app_for(live: Live, role: str, *, ascii: bool = False) -> CctvApp:
    return CctvApp(
        live.server.url, live.site.tokens[role], f"{role}-node", refresh=0.5, ascii=ascii
    )


def client_for(live: Live, role: str) -> CctvClient:
    return CctvClient(live.server.url, live.site.tokens[role])


def recorded_window(live: Live, camera: str, seconds: float) -> tuple[datetime, datetime]:
    """A window of ``seconds`` whose footage is already in closed segments."""
    with client_for(live, "viewer") as api:
        first = wait_for(lambda: api.recordings(camera).segments or None, 30, what="a segment")
        start = first[0].start + timedelta(seconds=0.5)
        end = start + timedelta(seconds=seconds)
        wait_for(
            lambda: api.recordings(camera).segments[-1].end >= end + timedelta(seconds=0.5),
            40,
            what="footage to the end of the window",
        )
    return start, end


def table_rows(app: CctvApp) -> list[str]:
    table = app.screen.query_one(DataTable)
    return [" ".join(map(str, table.get_row_at(i))) for i in range(table.row_count)]


def toasts(app: CctvApp) -> list[str]:
    """Notification texts (toasts are drawn on their own layer, not in the screen's strips)."""
    return [n.message for n in app._notifications]


def job_row_text(app: CctvApp, job_id: str) -> str:
    table = app.screen.query_one(DataTable)
    if job_id not in table.rows:
        return ""
    return " ".join(map(str, table.get_row(job_id)))


# --------------------------------------------------------------------------- exports


async def test_operator_downloads_a_finished_export(
    live: Live, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    camera = live.site.camera_ids[0]
    start, end = recorded_window(live, camera, 4)
    with client_for(live, "operator") as api:
        job = api.create_export(camera, start, end, case_id=CASE)
    monkeypatch.chdir(tmp_path)  # the prompt's default path is relative to here

    app = app_for(live, "operator")
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened_by(pilot, "x", ExportsScreen)
        await until(pilot, lambda: "done" in job_row_text(app, job.id), timeout=40)
        await until(pilot, lambda: "100%" in job_row_text(app, job.id))
        # What the operator sees at 80 columns: the job, its case, the full bar.
        text = screen_text(app)
        assert job.id[:8] in text and "LP/7/TUI" in text
        assert "█████ 100%" in text

        table = screen.table
        await pilot.press("slash", *"zz")
        await until(pilot, lambda: table.row_count == 0)
        await pilot.press("escape")
        await until(pilot, lambda: job.id in table.rows)
        await pilot.press("slash", *"lp/7")  # "/" types itself once the filter has focus
        await until(pilot, lambda: screen.filter_input.value == "lp/7")
        assert job.id in table.rows
        await pilot.press("escape")
        table.move_cursor(row=table.get_row_index(job.id))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, PathPrompt))
        assert "./LP_7_TUI_2026.mp4" in screen_text(app)
        await pilot.press("enter")  # accept the default
        await until(pilot, lambda: isinstance(app.screen, ExportsScreen))
        clip = tmp_path / "LP_7_TUI_2026.mp4"
        await until(pilot, lambda: clip.exists() and not screen.downloads, timeout=30)
        await until(pilot, lambda: "SHA-256 verified" in screen_text(app))

    with client_for(live, "operator") as api:
        done = api.export(job.id)
    assert done.state is ExportState.DONE and done.size is not None and done.sha256
    data = clip.read_bytes()
    assert len(data) == done.size
    assert hashlib.sha256(data).hexdigest() == done.sha256
    manifest = json.loads((tmp_path / "LP_7_TUI_2026.mp4.manifest.json").read_text())
    assert manifest["sha256"] == done.sha256 and manifest["case_id"] == CASE
    assert not (tmp_path / "LP_7_TUI_2026.mp4.part").exists()


async def test_unfinished_export_is_not_downloaded_and_can_be_cancelled(
    live_factory: Callable[..., Live],
) -> None:
    # Minute-long segments: a window ending now waits (running, 0 %) for the open one, and
    # the row says so ("waiting"; the status line says for which segment).
    live = live_factory(SiteSpec(cameras=1, kecamatan=("Bengalon",), segment_seconds=60))
    site, server = live.site, live.server
    camera = site.camera_ids[0]
    with CctvClient(server.url, site.tokens["operator"]) as api:
        wait_for(lambda: api.camera(camera).recording, 30, what="the camera to record")
        await asyncio.sleep(2)
        now = datetime.now(UTC)
        job = api.create_export(camera, now - timedelta(seconds=2), now)
    app = CctvApp(server.url, site.tokens["operator"], "slow", refresh=0.5, ascii=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened_by(pilot, "x", ExportsScreen)
        await until(pilot, lambda: job.id in screen.table.rows)
        row = job_row_text(app, job.id)
        assert "waiting" in row and ".....   0%" in row  # an ASCII bar
        assert "waiting for the segment that holds" in screen_text(app)
        assert "░" not in screen_text(app)
        screen.table.move_cursor(row=screen.table.get_row_index(job.id))
        await pilot.press("enter")
        await until(
            pilot, lambda: any("not finished yet (state: running" in t for t in toasts(app))
        )
        assert isinstance(app.screen, ExportsScreen)  # no prompt for an unfinished job

        await pilot.press("c")
        await until(pilot, lambda: "cancelled" in job_row_text(app, job.id), timeout=15)
        assert any("cancelled" in t for t in toasts(app))
    with CctvClient(server.url, site.tokens["operator"]) as api:
        assert api.export(job.id).state is ExportState.CANCELLED


LIST = f"GET /api/v1/exports?limit={LIST_LIMIT}"
RUNNING = ("running", "waiting")  # the State cell of a running job


async def _follow_one_job(server: ServerProcess, url: str) -> tuple[int, float, float]:
    """Makes a job the server holds > 4 s (its window ends 4.5 s ahead), opens Exports on
    ``url`` at once and waits until it shows the job done; returns the list polls from
    the screen's first list to then, the seconds the job ran on screen, and the seconds
    the screen was open."""
    site = server.site
    camera = site.camera_ids[0]
    with CctvClient(server.url, site.tokens["operator"]) as api:
        wait_for(lambda: api.recordings(camera).segments, 40, what="a first segment")
    app = CctvApp(url, site.tokens["operator"], "follow", refresh=0.5, ascii=True)
    async with app.run_test(size=SIZE) as pilot:
        now = datetime.now(UTC)
        with CctvClient(server.url, site.tokens["operator"]) as api:
            job = api.create_export(
                camera, now - timedelta(seconds=6), now + timedelta(seconds=4.5)
            )
        before = server.requests(LIST)
        opened = time.monotonic()
        await pilot.press("x")
        # Its window ends ahead, so it shows as waiting for the open segment first.
        await until(pilot, lambda: any(w in job_row_text(app, job.id) for w in RUNNING))
        began = time.monotonic()
        await until(pilot, lambda: "done" in job_row_text(app, job.id), timeout=40)
        took = time.monotonic() - began
        return server.requests(LIST) - before, took, time.monotonic() - opened


@pytest.fixture
def logged_server(
    live_factory: Callable[..., Live],
) -> ServerProcess:
    spec = SiteSpec(cameras=1, kecamatan=("Kaliorang",), segment_seconds=6)
    return live_factory(spec, args=("--access-log",)).server


async def test_exports_follow_a_job_over_the_event_stream(logged_server: ServerProcess) -> None:
    polls, took, open_for = await _follow_one_job(logged_server, logged_server.url)
    assert took >= 2.5  # a poll a second while it ran would have been 3 or more
    # The first list, the slow polls (every 5 s since the screen opened, which on a loaded
    # machine is well before the job shows as running) and one when the job ended: events,
    # not polls, moved the bar.
    assert polls <= 2 + int(open_for / SLOW), (polls, took, open_for)


async def test_exports_poll_fast_when_the_event_stream_is_cut(
    logged_server: ServerProcess,
) -> None:
    with stream_cutting_proxy(logged_server.port) as (url, cut):
        polls, took, _ = await _follow_one_job(logged_server, url)
    assert cut[0] >= 1 and took >= 2.5
    assert polls >= int(took / FAST) - 1, (polls, took)


async def test_viewer_sees_the_role_message(live: Live) -> None:
    app = app_for(live, "viewer")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ExportsScreen))
        await until(pilot, lambda: VIEWER_TEXT in screen_text(app))
        screen = app.screen
        assert isinstance(screen, ExportsScreen) and screen.denied
        assert not screen.table.display
        await pilot.press("enter", "c")  # both refused with a toast, nothing breaks
        await until(pilot, lambda: any("needs the operator role" in t for t in toasts(app)))
        assert isinstance(app.screen, ExportsScreen)

        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, EventsScreen))
        await until(pilot, lambda: AUDIT_DENIED in screen_text(app))


def test_default_path_is_a_safe_file_name() -> None:
    now = datetime.now(UTC)
    job = ExportJob(
        id="0123456789abcdef",
        camera="cam",
        start=now,
        end=now,
        requester="op",
        state=ExportState.DONE,
        created=now,
    )
    assert default_path(job) == "./0123456789abcdef.mp4"
    assert default_path(job.model_copy(update={"case_id": "../LP 1/2"})) == "./LP_1_2.mp4"


# --------------------------------------------------------------------------- events


async def test_events_show_a_fault_with_its_reason_and_the_audit_log(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Severity must read without colour: "cam DOWN", "REFUSED" are words, not just red.
    monkeypatch.setenv("NO_COLOR", "1")
    camera = live.site.camera_ids[-1]
    # A refused export is audited: the admin must see it among the events.
    with client_for(live, "viewer") as api, pytest.raises(Forbidden):
        now = datetime.now(UTC)
        api.create_export(camera, now - timedelta(minutes=1), now, case_id="REFUSED/1")

    app = app_for(live, "admin")
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened_by(pilot, "a", EventsScreen)
        await until(
            pilot, lambda: any("REFUSED" in r and "test-viewer" in r for r in table_rows(app))
        )

        live.sim.fault(camera, "offline")
        try:
            await until(
                pilot,
                lambda: any(
                    "cam DOWN" in r and camera in r and "no packet" in r for r in table_rows(app)
                ),
                timeout=30,
            )
        finally:
            live.sim.fault(camera, "recover")
        total = screen.table.row_count
        # The filter narrows to the outage; the full reason shows on the detail line.
        await pilot.press("slash", *"packet")
        await until(pilot, lambda: 0 < screen.table.row_count < total)
        assert all("no packet" in r for r in table_rows(app))
        text = screen_text(app)
        assert "admin-node" in text  # the filter line does not hide the header
        assert "→ offline: no packet for" in text
        assert camera in text
        await pilot.press("escape")
        await until(pilot, lambda: screen.table.row_count >= total)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, EventsScreen))

    with client_for(live, "viewer") as api:
        wait_for(
            lambda: (
                next((c for c in api.cameras() if c.id == camera), None)
                if next(c for c in api.cameras() if c.id == camera).status.value == "online"
                else None
            ),
            30,
            what=f"{camera} back online",
        )
