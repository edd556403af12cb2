"""Screens with a ``/`` filter, and the ones among them that are one table.

The Overview, Grid, Exports and Events screens share the plumbing here: ``/`` opens the
:class:`~cctvctl.tui.widgets.filter_box.FilterBox`, typing re-draws, Esc closes the
filter before it leaves the screen, a resize re-draws. A table screen also keeps its
columns until they change and its cursor on the same row across a re-draw
(:meth:`FilteredTableScreen.fill`). Each screen says only what it shows (:meth:`redraw`).

Textual runs a message handler of every class in a screen's MRO, so a screen that needs
more on a filter change or a resize defines its own ``on_input_changed``/``on_resize``
without calling these: they run after it anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.text import Text
from textual.widgets import DataTable, Input

from cctvctl.tui.screens.base import CctvScreen
from cctvctl.tui.widgets.filter_box import FilterBox

__all__ = ["Column", "FilteredScreen", "FilteredTableScreen"]

#: A column: its label (also its key), and its width in cells (None: as wide as it needs).
Column = tuple[str, int | None]


class FilteredScreen(CctvScreen):
    """A screen whose content a ``/`` filter narrows; :meth:`redraw` shows it."""

    @property
    def filter_input(self) -> FilterBox:
        return self.query_one(FilterBox)

    def redraw(self) -> None:
        """Show the content again (filter, size or data changed)."""
        raise NotImplementedError

    def filter_closed(self) -> None:
        """Esc closed the filter: give the keys back to the content."""

    def on_input_changed(self, event: Input.Changed) -> None:
        self.redraw()

    def on_resize(self) -> None:
        self.redraw()

    def action_filter(self) -> None:
        self.filter_input.open()

    def action_back(self) -> None:
        if self.filter_input.close():
            self.filter_closed()
            return
        super().action_back()


class FilteredTableScreen(FilteredScreen):
    """A filtered screen that is one :class:`DataTable`, a row per keyed item."""

    def __init__(self) -> None:
        super().__init__()
        self._columns: tuple[Column, ...] = ()

    @property
    def table(self) -> DataTable[Text | str]:
        return self.query_one(DataTable)

    def filter_closed(self) -> None:
        self.table.focus()

    def selected_key(self) -> str | None:
        table = self.table
        if table.row_count == 0:
            return None
        key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return key.value

    def fill(
        self, columns: Sequence[Column], rows: Iterable[tuple[str, Sequence[Text | str]]]
    ) -> None:
        """Replaces the rows (key, cells); the columns only when they changed, and the
        cursor stays on the row it was on when that row is still shown."""
        table = self.table
        selected = self.selected_key()
        wanted = tuple(columns)
        if wanted != self._columns:
            table.clear(columns=True)
            for label, width in wanted:
                table.add_column(label, key=label, width=width)
            self._columns = wanted
        else:
            table.clear()
        for key, cells in rows:
            table.add_row(*cells, key=key)
        if selected is not None and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected), animate=False)
