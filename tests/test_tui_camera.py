"""The camera screen and its actions (export, reboot, snapshot) against the real sim+server.

One module site with ONVIF on every camera (4 cameras, 2 kecamatan), so the reboot
modal can really reboot one. The simulator's reboot is stretched to 6 s, longer than the
site's ``offline_after`` (3 s), so a rebooted camera is seen going offline and coming
back. Every app runs at 80x24 unless a test says otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import Live, RunningSim, SiteSpec, serving, wait_for, write_site
from textual.pilot import Pilot
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input
from tui_pilot import opened_by, screen_text, until

from cctvctl.client import CctvClient
from cctvctl.models import Gap, Recordings, Segment
from cctvctl.render import Mode
from cctvctl.tui.app import CctvApp
from cctvctl.tui.screens.camera import CameraScreen, SnapshotModal
from cctvctl.tui.screens.export_form import ExportForm, default_window, parse_wita, validate
from cctvctl.tui.screens.exports import ExportsScreen
from cctvctl.tui.screens.reboot_modal import RebootModal
from cctvctl.tui.widgets.thumb import Thumb
from cctvctl.tui.widgets.timeline import Cell, Timeline, buckets, tick_labels

SIZE = (80, 24)
CASE = "POLRES-KUTIM/2026/117"
EVENT_LINE = re.compile(r"\d\d:\d\d:\d\d (camera\.status|job\.progress) ")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, sim_cache: Path) -> Iterator[Live]:
    site = write_site(tmp_path_factory.mktemp("tui-camera"), SiteSpec(cameras=4, onvif=True))
    text = site.config.read_text(encoding="utf-8")
    # Longer than offline_after, so the status badge really flips during a reboot.
    site.config.write_text(text.replace("reboot_seconds = 2", "reboot_seconds = 6", 1))
    sim = RunningSim(site, sim_cache).start()
    with serving(site, sim) as live:
        server = live.server
        wait_for(
            lambda: all(c["status"] == "online" for c in server.get("/api/v1/cameras").json()),
            30,
            what="every camera online",
        )
        yield live


def make_app(live: Live, role: str, **kwargs: Any) -> CctvApp:
    return CctvApp(live.server.url, live.site.tokens[role], "test-node", refresh=0.5, **kwargs)


async def open_camera(pilot: Pilot[Any], app: CctvApp, camera_id: str) -> CameraScreen:
    # Known role first, so the refusals below are the console's and not the server's.
    await until(pilot, lambda: app.role is not None and bool(app.node.cameras))
    app.open_camera(camera_id)
    await until(pilot, lambda: isinstance(app.screen, CameraScreen))
    screen = app.screen
    assert isinstance(screen, CameraScreen)
    await until(pilot, lambda: bool(screen.query(Timeline)))  # composed
    return screen


def toasts(app: CctvApp) -> list[str]:
    # Toasts are drawn on their own layer, outside the screen's strips.
    return [f"{n.title}: {n.message}" for n in app._notifications]


def toasted(app: CctvApp, word: str) -> bool:
    return any(word in t for t in toasts(app))


def status_row(app: CctvApp) -> str:
    return next((line for line in screen_text(app).splitlines() if "status " in line), "")


# --------------------------------------------------------------------------- timeline (pure)


def test_timeline_cells_and_ticks() -> None:
    end = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)  # 12:00 WITA
    start = end - timedelta(hours=24)
    rec = Recordings(
        camera="c",
        start=start,
        end=end,
        segments=[Segment(start=end - timedelta(hours=6), end=end - timedelta(hours=3), bytes=1)],
        gaps=[Gap(start=end - timedelta(hours=3), end=end - timedelta(hours=2), seconds=3600)],
        # 3 h listed, and the open segment: the last 30 min.
        recorded_seconds=3.5 * 3600,
        missing_seconds=3600,
    )
    cells = buckets(rec, 24)  # one cell per hour
    assert cells[:18] == [Cell.UNKNOWN] * 18  # before the recorder knew the camera
    assert cells[18:21] == [Cell.RECORDED] * 3
    assert cells[21] is Cell.GAP
    assert cells[22] is Cell.UNKNOWN
    assert cells[23] is Cell.RECORDED  # the open segment, not listed but counted
    blip = Gap(start=end - timedelta(hours=4), end=end - timedelta(hours=4, seconds=-5), seconds=5)
    assert buckets(rec.model_copy(update={"gaps": [*rec.gaps, blip]}), 24) == cells
    closed = rec.model_copy(update={"recorded_seconds": 3 * 3600})
    assert buckets(closed, 24)[23] is Cell.UNKNOWN
    ticks = tick_labels(start, end, 48)
    assert ticks.endswith("now")
    # 12:00 WITA yesterday is the window start: 18 is 6 h in, 00 12 h in, 06 18 h in.
    assert ticks.index("18") == 12 and ticks.index("00") == 24 and ticks.index("06") == 36


def test_time_parsing_is_wita() -> None:
    now = datetime(2026, 11, 28, 6, 30, tzinfo=UTC)  # 14:30 WITA
    assert parse_wita("14:00", now) == datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
    assert parse_wita("2026-11-27 23:15:05", now) == datetime(2026, 11, 27, 15, 15, 5, tzinfo=UTC)
    assert parse_wita("-1h30m", now) == now - timedelta(minutes=90)
    assert parse_wita("now", now) == now
    # The CLI's spellings too: one parser for both front ends.
    assert parse_wita("yesterday 14:00", now) == datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
    for bad in ("25:00", "yesterday-ish", "2026-13-01 10:00", ""):
        with pytest.raises(ValueError, match=r"accepted|valid"):
            parse_wita(bad, now)
    assert getattr(validate("-5m", "-10m", CASE, "", now), "field", None) == "end"
    assert getattr(validate("-10m", "-5m", "  ", "", now), "field", None) == "case"
    ok = validate("14:00", "14:05", f" {CASE} ", "", now)
    assert getattr(ok, "case_id", None) == CASE and getattr(ok, "note", "x") is None


def test_export_form_defaults_to_the_last_five_minutes_of_footage() -> None:
    now = datetime(2026, 11, 28, 6, 30, tzinfo=UTC)  # 14:30 WITA

    def footage(*spans: tuple[int, int]) -> Recordings:
        segs = [
            Segment(start=now + timedelta(seconds=a), end=now + timedelta(seconds=b), bytes=1)
            for a, b in spans
        ]
        return Recordings(
            camera="c", start=now - timedelta(days=1), end=now, segments=segs, gaps=[],
            recorded_seconds=0, missing_seconds=0,
        )  # fmt: skip

    # Nothing known: the five minutes up to now.
    assert default_window(None, now) == ("2026-11-28 14:25", "2026-11-28 14:30")
    # An hour of footage that stopped 20 minutes ago: its last five minutes, not "now".
    assert default_window(footage((-4800, -1200)), now) == ("2026-11-28 14:05", "2026-11-28 14:10")
    # Two minutes of footage, ending 7 s ago: all of it, to the second.
    assert default_window(footage((-127, -67), (-67, -7)), now) == (
        "2026-11-28 14:27:53",
        "2026-11-28 14:29:53",
    )


# --------------------------------------------------------------------------- camera screen


async def test_camera_screen_shows_timeline_and_recent_events(site: Live) -> None:
    camera = site.site.camera_ids[1]
    # Events about this camera: an export's job.progress (queued, running, done).
    with site.server.client("operator") as api:

        def export() -> httpx.Response | None:
            now = datetime.now(UTC)
            body = {
                "camera": camera,
                "start": (now - timedelta(seconds=8)).isoformat(),
                "end": (now - timedelta(seconds=2)).isoformat(),
                "case_id": "TIMELINE/1",
            }
            resp = api.post("/api/v1/exports", json=body)
            return resp if resp.status_code == 202 else None

        wait_for(export, 15, interval=1, what="an export with footage")  # a fresh site

    await check_camera_screen(site, camera, SIZE, 5)
    await check_camera_screen(site, camera, (160, 48), 8)


async def check_camera_screen(site: Live, camera: str, size: tuple[int, int], lines: int) -> None:
    app = make_app(site, "viewer")
    async with app.run_test(size=size) as pilot:
        screen = await open_camera(pilot, app, camera)
        timeline = screen.query_one(Timeline)
        await until(pilot, lambda: timeline.recordings is not None)
        await until(pilot, lambda: len(EVENT_LINE.findall(screen_text(app))) >= 3)
        # Room for this many event lines under the heading.
        assert screen.query_one("#events").size.height == lines + 1
        text = screen_text(app)
        rows = text.splitlines()
        bar = next(r for r in rows if r.strip().startswith("···"))
        # The site is minutes old: most of the day unknown, the latest cells recorded.
        assert bar.strip().endswith("█"), bar
        # WITA hour ticks under the bar: which hours fit depends on the time of day (a tick
        # too close to "now" is left out), but a day always shows at least three of them.
        ticks = next(r for r in rows if r.rstrip().endswith("now"))
        assert len(re.findall(r"(?<!\S)(00|06|12|18)(?!\S)", ticks)) >= 3, text
        assert re.search(r"missing: \d+ (s|min)( \d+ s)? in 24h", text), text
        assert "recent events (WITA)" in text
        assert camera in text and "kecamatan" in text  # the stats table is still there
        assert len(rows) == size[1]
        thumb = screen.query_one(Thumb)
        await until(pilot, lambda: thumb.grid is not None)


async def test_ascii_timeline(site: Live) -> None:
    app = make_app(site, "viewer", ascii=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_camera(pilot, app, site.site.camera_ids[0])
        assert screen.query_one(Timeline).mode is Mode.ASCII
        await until(pilot, lambda: screen.query_one(Timeline).recordings is not None)
        text = screen_text(app)
        assert "█" not in text and "·" not in text
        assert any(line.rstrip().endswith("#") for line in text.splitlines()), text


# --------------------------------------------------------------------------- export


async def test_export_form_validates_then_creates_the_job(site: Live) -> None:
    camera = site.site.camera_ids[0]
    since = datetime.now(UTC) - timedelta(hours=1)
    with CctvClient(site.server.url, site.site.tokens["operator"]) as api:
        before = {j.id for j in api.exports(camera=camera)}
        wait_for(
            lambda: api.recordings(camera, since, datetime.now(UTC)).segments, 30, what="footage"
        )
    app = make_app(site, "operator")
    async with app.run_test(size=SIZE) as pilot:
        await open_camera(pilot, app, camera)
        form = await opened_by(pilot, "e", ExportForm)
        # Defaults: the last five minutes of footage that exists (the module's site has
        # recorded for less than five minutes, so from its first segment), WITA.
        start, end = parse_wita(form.value("start")), parse_wita(form.value("end"))
        with CctvClient(site.server.url, site.site.tokens["operator"]) as api:
            segments = api.recordings(camera, since, datetime.now(UTC)).segments
        assert min(s.start for s in segments) - timedelta(seconds=1) <= start < end
        assert end <= max(s.end for s in segments)
        assert end - start <= timedelta(minutes=5)

        # No case id: refused in the form, nothing sent.
        await pilot.press("enter")
        await until(pilot, lambda: "case id: required" in form.error_text)
        assert "case id: required" in screen_text(app)

        # End before start.
        await pilot.press(*CASE)
        form.query_one("#start", Input).value = "-1m"
        form.query_one("#end", Input).value = "-2m"
        await pilot.press("enter")
        await until(pilot, lambda: form.error_text.startswith("end: "))
        assert "must be after start" in form.error_text
        assert form.query_one("#case", Input).value == CASE

        # A window before the site existed: the server's 422, shown in the form, kept open.
        form.query_one("#start", Input).value = "-3h"
        form.query_one("#end", Input).value = "-2h"
        form.query_one("#case", Input).focus()
        await pilot.press("enter")
        await until(pilot, lambda: form.error_text.startswith("refused: "), 10)
        assert "no footage" in form.error_text
        # A WITA form answers in WITA, and says where footage starts, not which route to ask.
        assert "WITA" in form.error_text and "footage for this camera starts at" in form.error_text
        assert not re.search(r"\d{2}:\d{2}:\d{2}Z", form.error_text), form.error_text
        assert "/api/" not in form.error_text
        assert app.screen is form and form.query_one("#case", Input).value == CASE
        with CctvClient(site.server.url, site.site.tokens["operator"]) as api:
            assert {j.id for j in api.exports(camera=camera)} == before

        form.query_one("#start", Input).value = "-10s"
        form.query_one("#end", Input).value = "-3s"
        form.query_one("#note", Input).value = "dari TUI"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ExportsScreen), 10)
        with CctvClient(site.server.url, site.site.tokens["operator"]) as api:
            new = [j for j in api.exports(camera=camera) if j.id not in before]
        assert len(new) == 1
        job = new[0]
        assert job.case_id == CASE and job.note == "dari TUI" and job.requester == "test-operator"
        assert job.end - job.start == timedelta(seconds=7)
        assert any(job.id in t for t in toasts(app)), toasts(app)
        # The Exports screen lists it (by job id or case id) and sees it through to the end.
        await until(pilot, lambda: job.id[:8] in screen_text(app) or CASE in screen_text(app))

        def row() -> str:
            return next((ln for ln in screen_text(app).splitlines() if job.id[:8] in ln), "")

        await until(pilot, lambda: "done" in row() and "100%" in row(), 30)


# --------------------------------------------------------------------------- reboot


async def test_reboot_modal_reboots_and_the_badge_follows(site: Live) -> None:
    camera = site.site.camera_ids[2]
    app = make_app(site, "admin")
    async with app.run_test(size=SIZE) as pilot:
        await open_camera(pilot, app, camera)
        await until(pilot, lambda: " OK " in status_row(app))
        modal = await opened_by(pilot, "b", RebootModal)
        text = screen_text(app)
        info = modal.camera
        for shown in (camera, info.name, info.kecamatan, "last seen", " OK "):
            assert shown in text, shown
        await pilot.press("enter")  # no reason
        await until(pilot, lambda: "reason: required" in modal.error_text)
        await pilot.press(*"stream frozen, test")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, CameraScreen), 10)
        await until(pilot, lambda: " !OFF " in status_row(app), 30)
        await until(pilot, lambda: " OK " in status_row(app), 60)
        # The job's end, from its job.progress events.
        await until(pilot, lambda: any("back_online" in t for t in toasts(app)), 30)

        # Again at once: the server's 409 in the modal, with the force box offered; Esc.
        again = await opened_by(pilot, "b", RebootModal)
        assert not again.query_one("#force", Checkbox).display
        await pilot.press(*"again", "enter")
        await until(pilot, lambda: again.error_text.startswith("refused: "), 10)
        assert "force" in again.error_text
        assert again.query_one("#force", Checkbox).display
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, CameraScreen))
    with httpx.Client(
        base_url=site.server.url,
        headers={"Authorization": f"Bearer {site.site.tokens['admin']}"},
    ) as api:
        jobs = api.get("/api/v1/reboots", params={"camera": camera}).json()
    assert len(jobs) == 1 and jobs[0]["reason"] == "stream frozen, test"


# --------------------------------------------------------------------------- refusals


async def test_viewer_and_readonly_are_refused_without_a_modal(site: Live) -> None:
    await check_refused(site, "viewer", False, ("needs the operator role", "needs the admin role"))
    await check_refused(site, "admin", True, ("read-only console", "read-only console"))


async def check_refused(site: Live, role: str, readonly: bool, words: tuple[str, str]) -> None:
    app = make_app(site, role, readonly=readonly)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_camera(pilot, app, site.site.camera_ids[0])
        for key, word in zip(("e", "b"), words, strict=True):
            await pilot.press(key)
            await until(pilot, partial(toasted, app, word), 5)
            assert app.screen is screen
            assert not any(isinstance(s, ModalScreen) for s in app.screen_stack)


# --------------------------------------------------------------------------- snapshot


async def test_snapshot_saves_a_jpeg(site: Live, tmp_path: Path) -> None:
    camera = site.site.camera_ids[3]
    app = make_app(site, "viewer")
    async with app.run_test(size=SIZE) as pilot:
        await open_camera(pilot, app, camera)
        modal = await opened_by(pilot, "s", SnapshotModal)
        path = modal.query_one("#path", Input)
        assert re.fullmatch(rf"\./{camera}-\d{{8}}-\d{{6}}\.jpg", path.value)

        path.value = str(tmp_path / "missing" / "x.jpg")
        await pilot.press("enter")
        await until(pilot, lambda: "no directory" in modal.error_text)

        target = tmp_path / "snap.jpg"
        path.value = str(target)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, CameraScreen), 10)
        data = target.read_bytes()
        assert data[:2] == b"\xff\xd8" and len(data) > 1000
        await until(pilot, lambda: any("snap.jpg" in t and "K)" in t for t in toasts(app)), 5)
