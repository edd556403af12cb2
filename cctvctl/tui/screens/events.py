"""Camera events, reboots, exports and disk-guard deletions, newest first. (Being built.)"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.widgets import Footer, Static

from cctvctl.tui.commands import Scope, bindings_for
from cctvctl.tui.screens.base import CctvScreen
from cctvctl.tui.widgets.header import NodeHeader

__all__ = ["EventsScreen"]


class EventsScreen(CctvScreen):
    SCOPE = Scope.EVENTS
    TITLE_TEXT = "events"
    BINDINGS: ClassVar[list[BindingType]] = list(bindings_for(Scope.EVENTS))

    def compose(self) -> ComposeResult:
        yield NodeHeader()
        yield Static("events")
        yield Footer()
