"""What every console screen shares: the node header, the footer, data refresh, back."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual.screen import Screen

from cctvctl.tui.commands import Scope, command_named, unavailable_reason
from cctvctl.tui.widgets.header import NodeHeader

if TYPE_CHECKING:
    from cctvctl.tui.data import NodeData
    from cctvctl.tui.host import ConsoleHost

__all__ = ["CctvScreen"]


class CctvScreen(Screen[None]):
    SCOPE: ClassVar[Scope] = Scope.GLOBAL
    TITLE_TEXT: str = ""

    @property
    def cctv(self) -> ConsoleHost:
        return cast("ConsoleHost", self.app)

    @property
    def node(self) -> NodeData:
        return self.cctv.node

    def on_screen_resume(self) -> None:
        # Data may have moved on while another screen was on top.
        self.refresh_data()

    def refresh_data(self) -> None:
        """Show the latest :attr:`node`; called by the app after every stats tick."""
        self.refresh_header()

    def refresh_header(self) -> None:
        """Only the top line: the app calls it every second while the data is not live,
        so the age keeps counting without re-drawing the screen's content."""
        for header in self.query(NodeHeader):
            header.show_node(
                self.node, self.TITLE_TEXT, self.cctv.readonly, self.cctv.other_nodes()
            )

    def allowed(self, name: str) -> bool:
        """Whether this screen's command ``name`` may run; if not, say why in a toast."""
        reason = unavailable_reason(
            command_named(name, self.SCOPE), self.cctv.role, self.cctv.readonly
        )
        if reason is not None:
            self.notify(f"{name}: {reason}", title="not available", severity="warning")
        return reason is None

    def action_back(self) -> None:
        self.app.pop_screen()
