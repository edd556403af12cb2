"""One row of a list in full: every field, none cut, for the row a narrow table clipped."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from cctvctl.tui.format import plain

__all__ = ["DetailModal"]


class DetailModal(ModalScreen[None]):
    """``label: value`` lines, long values wrapped rather than cut; Esc, Enter or q close.

    The fields come from :mod:`cctvctl.views` already made inert for a terminal, and are
    shown as plain text, never as markup.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "close"),
        Binding("enter", "close", "close", show=False),
        Binding("q", "close", "close", show=False),
    ]
    DEFAULT_CSS = """
    DetailModal { align: center middle; background: $background 50%; }
    DetailModal > VerticalScroll {
        width: 90%; max-width: 100; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    DetailModal #hint { color: $text-muted; }
    """

    def __init__(self, title: str, fields: Sequence[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.fields = list(fields)

    def compose(self) -> ComposeResult:
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True, style="bold")
        grid.add_column(overflow="fold")
        for label, value in self.fields:
            grid.add_row(plain(label), plain(value))
        with VerticalScroll():
            yield Static(plain(self.title_text, "bold"), id="title")
            yield Static(grid, id="fields")
            yield Static("esc/enter: close", id="hint")

    def action_close(self) -> None:
        self.dismiss(None)
