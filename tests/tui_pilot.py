"""Driving the real console under Textual's pilot: waiting for it, and reading its screen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from textual.app import App
from textual.pilot import Pilot
from textual.screen import Screen

__all__ = ["opened_by", "screen_text", "shown", "until"]

S = TypeVar("S", bound=Screen[Any])


async def until(pilot: Pilot[Any], check: Callable[[], bool], timeout: float = 20.0) -> None:
    """Lets the app run until ``check()`` holds; fails the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting for the screen"
        await pilot.pause(0.1)


def screen_text(app: App[Any]) -> str:
    """What the terminal shows right now, as plain text lines."""
    # Textual has no public "screen as text"; the compositor's strips are what it paints.
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def shown(pilot: Pilot[Any], kind: type[S]) -> S:
    """The app's screen, once that is a ``kind`` and mounted.

    A pushed screen is the app's screen before its compose has run; under load a test
    that queried its widgets at once found none (NoMatches '#reason' on RebootModal).
    """
    await until(pilot, lambda: isinstance(pilot.app.screen, kind) and pilot.app.screen.is_mounted)
    screen = pilot.app.screen
    assert isinstance(screen, kind)
    return screen


async def opened_by(pilot: Pilot[Any], key: str, kind: type[S]) -> S:
    """Presses ``key`` and returns the screen it opens, once that is a ``kind``."""
    await pilot.press(key)
    return await shown(pilot, kind)
