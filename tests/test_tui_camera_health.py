"""What the console says about a camera's health, drawn from fixed data at 80x24 under
NO_COLOR: FLAP in the grid and on the camera screen, the offline cause in words, one
"missing" figure per screen, no "never ago", a placeholder that follows the status, and
the overview's Miss as the worst camera rather than a sum that reads like a duration.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from textual.pilot import Pilot
from tui_fixture import FLAPPING, NOW, FixedSite
from tui_pilot import screen_text, shown, until

from cctvctl.models import CameraStatus
from cctvctl.tui.app import CctvApp
from cctvctl.tui.screens.camera import CameraScreen
from cctvctl.tui.screens.grid import GridScreen
from cctvctl.tui.screens.reboot_modal import target_text
from cctvctl.tui.widgets.thumb import Thumb
from cctvctl.tui.widgets.tile import placeholder

SIZE = (80, 24)
OFFLINE = "sgu-desa-01"  # offline for 47 min in the fixture, connection refused


pytestmark = pytest.mark.usefixtures("pinned_clock")


@pytest.fixture(autouse=True)
def no_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")


def app_for(site: FixedSite) -> CctvApp:
    return CctvApp(
        "http://fixed.invalid", "token", "rec-sangatta-1", refresh=0.2,
        transport=site.transport(),
    )  # fmt: skip


async def open_camera(pilot: Pilot[Any], app: CctvApp, camera: str) -> CameraScreen:
    await until(pilot, lambda: bool(app.node.cameras))
    app.open_camera(camera)
    screen = await shown(pilot, CameraScreen)
    await until(pilot, lambda: "missing:" in screen_text(app))
    return screen


async def test_grid_marks_the_flapping_camera_and_says_why_one_is_offline() -> None:
    app = app_for(FixedSite())
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: bool(app.node.cameras))
        app.open_kecamatan("sangatta-utara")
        await until(pilot, lambda: isinstance(app.screen, GridScreen))
        await until(pilot, lambda: "FLAP" in screen_text(app))
        lines = screen_text(app).splitlines()
        flaps = [line for line in lines if "FLAP" in line]
        # One tile flaps, with its count of changes in 10 min; no other tile is marked.
        assert len(flaps) == 1 and "FLAP 8" in flaps[0], flaps
        await until(pilot, lambda: "connection refused" in screen_text(app))


async def test_camera_screen_of_a_flapping_camera() -> None:
    app = app_for(FixedSite())
    async with app.run_test(size=SIZE) as pilot:
        await open_camera(pilot, app, FLAPPING)
        text = screen_text(app)
        assert "FLAP 8" in text
        assert "8 in 10m" in text
        # One figure for missing footage: the timeline's caption, next to its bar.
        assert text.count("missing:") == 1 and "missing 24h" not in text, text


@pytest.mark.parametrize("size", [SIZE, (160, 48)], ids=["80x24", "160x48"])
async def test_camera_screen_of_an_offline_camera_names_the_cause(size: tuple[int, int]) -> None:
    app = app_for(FixedSite())
    async with app.run_test(size=size) as pilot:
        await open_camera(pilot, app, OFFLINE)
        text = screen_text(app)
        lines = text.splitlines()
        [cause] = [line for line in lines if "cause " in line]
        assert "connection refus" in cause  # cut to the stats column at 80x24 ...
        assert "offline 47m · connection refused" in text  # ... whole where the picture was
        assert any("last error" in line for line in lines)
        if size[0] >= 160:
            assert "ConnectionRefusedError" in text  # libav's words, for the detail view
        assert "FLAP" not in text
        assert "never ago" not in text


async def test_placeholder_follows_a_camera_that_comes_back() -> None:
    site = FixedSite()
    app = app_for(site)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_camera(pilot, app, OFFLINE)
        thumb = screen.query_one(Thumb)
        await until(pilot, lambda: thumb.placeholder.startswith("offline 47m"))
        index = next(i for i, c in enumerate(site.cameras) if c.id == OFFLINE)
        # Back a moment ago, no frame yet: the server has none to give.
        site.cameras[index] = site.cameras[index].model_copy(
            update={
                "status": CameraStatus.ONLINE,
                "status_since": NOW,
                "last_packet": NOW,
                "cause": None,
                "last_error": None,
            }
        )
        await until(pilot, lambda: "OK" in screen_text(app) and "offline" not in thumb.placeholder)
        assert thumb.placeholder == "waiting for a picture"


def test_placeholder_and_reboot_target_never_read_never_ago() -> None:
    cam = (
        FixedSite()
        .cameras[0]
        .model_copy(
            update={"status": CameraStatus.OFFLINE, "status_since": None, "last_packet": None}
        )
    )
    assert "never" not in placeholder(cam)
    shown = target_text(cam).plain
    assert "never ago" not in shown and "never seen" in shown
    seen = cam.model_copy(update={"last_packet": NOW - timedelta(minutes=3)})
    assert "last seen 3m ago" in target_text(seen).plain


async def test_overview_miss_is_the_worst_camera_not_a_sum() -> None:
    site = FixedSite()
    app = app_for(site)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "Sangatta Utara" in screen_text(app))
        [row] = [line for line in screen_text(app).splitlines() if "Sangatta Utara" in line]
        # sgu-desa-01 is 47 min short; the kecamatan's other cameras 2 min each.
        mine = [c for c in site.cameras if c.kecamatan_slug == "sangatta-utara"]
        total = sum(c.missing_seconds_24h for c in mine) / 60
        assert total > 47 + 1  # the sum would read differently
        assert " 47m " in row, row
        assert f" {total:.0f}m " not in row, row


async def test_a_flapping_camera_is_on_the_grids_first_page_even_when_online() -> None:
    site = FixedSite()
    index = next(i for i, c in enumerate(site.cameras) if c.id == FLAPPING)
    site.cameras[index] = site.cameras[index].model_copy(update={"status": CameraStatus.ONLINE})
    app = app_for(site)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: bool(app.node.cameras))
        app.open_kecamatan("sangatta-utara")
        screen = await shown(pilot, GridScreen)
        order = [c.id for c in screen.cameras()]
        online = [c.id for c in site.cameras if c.status is CameraStatus.ONLINE]
        healthy = [cid for cid in order if cid in online and cid != FLAPPING]
        # After the offline camera, before every healthy one: 2x2 tiles at 80x24.
        assert order.index(FLAPPING) < min(order.index(cid) for cid in healthy), order
        assert order.index(FLAPPING) < 4
        await until(pilot, lambda: "FLAP 8" in screen_text(app))
