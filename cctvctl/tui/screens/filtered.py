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
from typing import Final

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable, Input

from cctvctl.columns import ColumnSpec, Priority, fit_columns
from cctvctl.render import Mode
from cctvctl.tui.format import plain
from cctvctl.tui.screens.base import CctvScreen
from cctvctl.tui.widgets.filter_box import FilterBox
from cctvctl.tui.widgets.line import Line
from cctvctl.tui.widgets.nav_table import NavTable

__all__ = ["ColumnSpec", "FilteredScreen", "FilteredTableScreen", "Priority"]

SCROLLBAR: Final = 2  # a table's vertical scroll bar, there as soon as rows overflow
MORE_ID: Final = "more"


class FilteredScreen(CctvScreen):
    """A screen whose content a ``/`` filter narrows; :meth:`redraw` shows it."""

    #: Whether every stats tick re-draws the content; a screen that folds the tick's
    #: events in itself (Exports) re-draws only when they changed something.
    redraw_on_tick: bool = True

    @property
    def filter_input(self) -> FilterBox:
        return self.query_one(FilterBox)

    def redraw(self) -> None:
        """Show the content again (filter, size or data changed)."""
        raise NotImplementedError

    def refresh_data(self) -> None:
        super().refresh_data()
        if self.redraw_on_tick:
            self.redraw()

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
    """A filtered screen that is one :class:`DataTable`, a row per keyed item.

    Its columns fit the terminal by :func:`cctvctl.columns.fit_columns`: identity and
    status columns whole, the others shrunk or hidden, and a "→ more" line under the
    table naming what was hidden.
    """

    def __init__(self) -> None:
        super().__init__()
        self._columns: tuple[tuple[str, int | None], ...] = ()
        self.hidden_columns: list[str] = []

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
        self, columns: Sequence[ColumnSpec], rows: Iterable[tuple[str, Sequence[Text | str]]]
    ) -> None:
        """Replaces the rows (key, cells); the columns only when they changed, the rows
        only when they are other rows or in another order (else only changed cells are
        repainted), and the cursor stays on the row it was on when that row is still shown."""
        table = self.table
        selected = self.selected_key()
        keyed = [(key, [_text(c) for c in cells]) for key, cells in rows]
        natural = [
            max([cell_len(spec.label), *(cells[i].cell_len for _, cells in keyed)])
            for i, spec in enumerate(columns)
        ]
        room = (self.size.width or self.app.size.width) - SCROLLBAR
        fit = fit_columns(columns, natural, room, gap=2 * table.cell_padding)
        shown = [(i, w) for i, w in enumerate(fit.widths) if w is not None]
        # A column at its natural width sizes itself: figures that grow by a digit then
        # do not rebuild the columns (and repaint the whole table) on every poll.
        wanted = tuple((columns[i].label, None if w == natural[i] else w) for i, w in shown)
        ellipsis = "~" if self.cctv.mode is Mode.ASCII else "…"
        clipped = [(key, [_clip(cells[i], w, ellipsis) for i, w in shown]) for key, cells in keyed]
        keys = [key for key, _ in clipped]
        if (
            wanted == self._columns
            and isinstance(table, NavTable)
            and keys == [row.key.value for row in table.ordered_rows]
        ):
            # The same rows in the same order: only the cells that changed are repainted,
            # not the whole table (a fleet's nodes answer one by one, each a re-draw).
            for key, cells in clipped:
                table.put_row(key, cells)
        else:
            if wanted != self._columns:
                table.clear(columns=True)
                for label, width in wanted:
                    table.add_column(label, key=label, width=width)
                self._columns = wanted
            else:
                table.clear()
            for key, cells in clipped:
                table.add_row(*cells, key=key)
        if selected is not None and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected), animate=False)
        self.hidden_columns = fit.hidden(columns)
        self._show_more(ellipsis == "~")

    def _show_more(self, ascii_only: bool) -> None:
        hints = self.query(f"#{MORE_ID}")
        if not self.hidden_columns and not hints:
            return
        if hints:
            hint = hints.first(Line)
        else:
            hint = Line(id=MORE_ID)
            hint.styles.height = 1
            hint.styles.padding = (0, 1)
            hint.styles.text_wrap = "nowrap"
            hint.styles.text_overflow = "ellipsis"
            self.mount(hint, after=self.table)
        arrow = "->" if ascii_only else "→"
        names = ", ".join(self.hidden_columns)
        text = f"{arrow} more: {names} (wider terminal)"
        hint.show(Text(text, no_wrap=True, overflow="ellipsis"))
        hint.display = bool(self.hidden_columns)


def _text(cell: Text | str) -> Text:
    return cell if isinstance(cell, Text) else plain(cell)


def _clip(cell: Text, width: int, ellipsis: str) -> Text:
    if cell.cell_len <= width:
        return cell
    cut = cell.copy()
    cut.truncate(max(0, width - 1))
    cut.append(ellipsis)
    return cut
