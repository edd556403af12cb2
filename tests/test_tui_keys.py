"""Keys as a NOC operator sends them: bunched over a laggy link, k9s-style moves, role limits.

The real app over the fixed site (tests/tui_fixture.py) at 80x24, the console's clock pinned.
A *burst* is every key of a read posted to the app at once, as Textual's driver does when
one read from the terminal holds several keys, instead of the pilot's one key per idle loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from textual import events
from textual.keys import _character_to_key
from textual.pilot import Pilot
from textual.widgets import Input
from tui_fixture import NOW, FixedSite

from cctvctl.tui import clock
from cctvctl.tui.app import CctvApp
from cctvctl.tui.screens.camera import CameraScreen
from cctvctl.tui.screens.export_form import ExportForm

SIZE = (80, 24)


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: NOW)


def fixed_app(site: FixedSite | None = None, **options: Any) -> CctvApp:
    site = site or FixedSite()
    return CctvApp(
        "http://fixed.invalid", "token", "rec-sangatta-1", refresh=3600,
        transport=site.transport(), **options,
    )  # fmt: skip


async def until(pilot: Pilot[Any], check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting for the screen"
        await pilot.pause(0.05)


def screen_text(app: CctvApp) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


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
    await pilot.press("e")
    await until(pilot, lambda: isinstance(app.screen, ExportForm))
    form = app.screen
    assert isinstance(form, ExportForm)
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
