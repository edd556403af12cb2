"""Export jobs with progress bars; a finished one is downloaded to a path. (Being built.)"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.widgets import Footer, Static

from cctvctl.tui.commands import Scope, bindings_for
from cctvctl.tui.screens.base import CctvScreen
from cctvctl.tui.widgets.header import NodeHeader

__all__ = ["ExportsScreen"]


class ExportsScreen(CctvScreen):
    SCOPE = Scope.EXPORTS
    TITLE_TEXT = "exports"
    BINDINGS: ClassVar[list[BindingType]] = list(bindings_for(Scope.EXPORTS))

    def compose(self) -> ComposeResult:
        yield NodeHeader()
        yield Static("exports")
        yield Footer()
