"""Every console screen at 80x24 and 160x48, drawn from fixed data (tests/tui_fixture.py).

The SVGs under ``__snapshots__`` were looked at by a person when accepted; a change in
how a screen draws fails here until it is looked at again and accepted with
``pytest tests/test_tui_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from tui_fixture import FixedSite, fixed_app
from tui_pilot import opened_by, shown, until

from cctvctl.models import CameraStatus, Role
from cctvctl.tui.app import CctvApp
from cctvctl.tui.screens.camera import CameraScreen
from cctvctl.tui.screens.events import EventsScreen
from cctvctl.tui.screens.exports import ExportsScreen
from cctvctl.tui.screens.grid import GridScreen
from cctvctl.tui.widgets.thumb import Thumb
from cctvctl.tui.widgets.tile import Tile
from cctvctl.tui.widgets.timeline import Timeline

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]
Compare = Callable[..., bool]


pytestmark = pytest.mark.usefixtures("pinned_clock")


async def settle(pilot: Pilot[Any], check: Callable[[], bool]) -> None:
    await until(pilot, check)
    await pilot.pause(0.2)  # let the last repaint land


def loaded(app: CctvApp) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run(pilot: Pilot[Any]) -> None:
        await settle(pilot, lambda: bool(app.node.kecamatan) and len(app.node.events) == 4)

    return run


def grid_of(app: CctvApp, slug: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run(pilot: Pilot[Any]) -> None:
        await loaded(app)(pilot)
        app.open_kecamatan(slug)
        await settle(pilot, lambda: isinstance(app.screen, GridScreen))
        live = {
            c.id
            for c in app.node.cameras
            if c.kecamatan_slug == slug and c.status in (CameraStatus.ONLINE, CameraStatus.DEGRADED)
        }

        def pictures() -> bool:
            tiles = list(app.screen.query(Tile))
            drawn = {t.camera.id for t in tiles if t.thumb.grid is not None}
            return bool(tiles) and drawn >= live & {t.camera.id for t in tiles}

        await settle(pilot, pictures)

    return run


@pytest.mark.parametrize("size", SIZES)
def test_overview(snap_compare: Compare, size: tuple[int, int]) -> None:
    app = fixed_app()
    assert snap_compare(app, terminal_size=size, run_before=loaded(app))


@pytest.mark.parametrize("size", SIZES)
def test_grid(snap_compare: Compare, size: tuple[int, int]) -> None:
    app = fixed_app()
    assert snap_compare(app, terminal_size=size, run_before=grid_of(app, "sangatta-utara"))


@pytest.mark.parametrize("size", SIZES)
def test_grid_ascii_for_thin_links(snap_compare: Compare, size: tuple[int, int]) -> None:
    app = fixed_app(ascii=True)
    assert snap_compare(app, terminal_size=size, run_before=grid_of(app, "sangatta-utara"))


def camera_of(app: CctvApp, camera: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run(pilot: Pilot[Any]) -> None:
        await loaded(app)(pilot)
        app.open_camera(camera)
        screen = await shown(pilot, CameraScreen)
        await pilot.pause(0.2)  # let it mount its widgets
        await settle(
            pilot,
            lambda: (
                screen.query_one(Thumb).grid is not None
                and "missing:" in str(screen.query_one(Timeline).render())
            ),
        )

    return run


def screen_of(app: CctvApp, key: str, kind: type) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run(pilot: Pilot[Any]) -> None:
        await loaded(app)(pilot)
        await opened_by(pilot, key, kind)
        await pilot.pause(0.7)  # its first poll, and the repaint after it

    return run


@pytest.mark.parametrize("size", SIZES)
def test_camera(snap_compare: Compare, size: tuple[int, int]) -> None:
    app = fixed_app()
    assert snap_compare(app, terminal_size=size, run_before=camera_of(app, "sgu-pkm-01"))


@pytest.mark.parametrize("size", SIZES)
def test_exports(snap_compare: Compare, size: tuple[int, int]) -> None:
    app = fixed_app()
    assert snap_compare(app, terminal_size=size, run_before=screen_of(app, "x", ExportsScreen))


@pytest.mark.parametrize("size", SIZES)
def test_events_and_audit(snap_compare: Compare, size: tuple[int, int]) -> None:
    app = fixed_app()
    assert snap_compare(app, terminal_size=size, run_before=screen_of(app, "a", EventsScreen))


@pytest.mark.parametrize("size", SIZES)
def test_viewer_sees_why_camera_actions_are_unavailable(
    snap_compare: Compare, size: tuple[int, int]
) -> None:
    app = fixed_app(FixedSite(Role.VIEWER))
    assert snap_compare(
        app,
        terminal_size=size,
        press=["question_mark"],
        run_before=camera_of(app, "sgu-camat-01"),
    )


@pytest.mark.parametrize("size", SIZES)
def test_command_line(snap_compare: Compare, size: tuple[int, int]) -> None:
    app = fixed_app()
    assert snap_compare(
        app, terminal_size=size, press=["colon", *"kec sang"], run_before=loaded(app)
    )
