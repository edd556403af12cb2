"""What every console screen shares: the node header, the footer, data refresh, back."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual import events
from textual.screen import Screen
from textual.widgets import Input

from cctvctl.tui.commands import Command, Scope, command_named, commands_for, unavailable_reason
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

    def _refusal(self, command: Command) -> str | None:
        return unavailable_reason(command, self.cctv.role, self.cctv.readonly)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # None greys the key in the footer, as `?` does; pressing it still says why (on_key).
        for command in commands_for(self.SCOPE):
            if command.scope is self.SCOPE and _action_name(command) == action:
                return None if self._refusal(command) is not None else True
        return True

    def on_key(self, event: events.Key) -> None:
        """A greyed key runs nothing (check_action), so say here why it is not available."""
        if isinstance(self.focused, Input):
            return  # typed text, not a command
        for command in commands_for(self.SCOPE):
            if command.scope is self.SCOPE and event.key in command.key.split(","):
                if self._refusal(command) is not None:
                    event.stop()
                    self.allowed(command.name)
                return

    def allowed(self, name: str) -> bool:
        """Whether this screen's command ``name`` may run; if not, say why in a toast."""
        reason = self._refusal(command_named(name, self.SCOPE))
        if reason is not None:
            self.notify(f"{name}: {reason}", title="not available", severity="warning")
        return reason is None

    def action_back(self) -> None:
        self.app.pop_screen()


def _action_name(command: Command) -> str:
    """``screen.page(1)`` -> ``page``: the name Textual asks :meth:`check_action` about."""
    return command.action.removeprefix("screen.").partition("(")[0]
