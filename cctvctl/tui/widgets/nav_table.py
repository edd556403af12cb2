"""The console's table: a DataTable that also moves with j/k, g/G and Home/End, and that
changes a row in place.

Textual's own Home/End scroll sideways in a row table; here they go to the first and last
row, as in k9s, htop and lazydocker. The keys come from the command table (Scope.TABLE), so
`?` lists them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.binding import BindingType
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

from cctvctl.tui.commands import Scope, bindings_for

__all__ = ["NavTable", "same_cell"]


def same_cell(a: Text | str, b: Text | str) -> bool:
    """Whether two cells look the same: rich's ``Text.__eq__`` ignores the base style."""
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return a.plain == b.plain and a.style == b.style and a.spans == b.spans


class NavTable(DataTable[Text | str]):
    BINDINGS: ClassVar[list[BindingType]] = list(bindings_for(Scope.TABLE))

    def put_row(self, key: str, cells: Sequence[Text | str]) -> bool:
        """Gives the row ``key`` these cells (one per column, in column order), repainting
        only that row, and only if a cell changed; returns whether one did.

        ``update_cell`` repaints the whole table for every cell; over a fleet of 18 nodes
        answering one by one that was the whole table on the wire for every answer. A cell
        wider than its auto-sized column goes through ``update_cell`` after all, so the
        column grows as it would have.
        """
        row_key = RowKey(key)
        data = self._data[row_key]
        changed = False
        for column, cell in zip(self.ordered_columns, cells, strict=True):
            if same_cell(data[column.key], cell):
                continue
            changed = True
            width = cell.cell_len if isinstance(cell, Text) else len(cell)
            if column.auto_width and width > column.content_width:
                self.update_cell(row_key, column.key, cell, update_width=True)
            else:
                data[column.key] = cell
        if changed:
            self._update_count += 1  # Textual's render caches are keyed by it
            self.refresh_row(self.get_row_index(row_key))
        return changed
