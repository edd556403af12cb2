"""The console's table: a DataTable that also moves with j/k, g/G and Home/End.

Textual's own Home/End scroll sideways in a row table; here they go to the first and last
row, as in k9s, htop and lazydocker. The keys come from the command table (Scope.TABLE), so
`?` lists them.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import BindingType
from textual.widgets import DataTable

from cctvctl.tui.commands import Scope, bindings_for

__all__ = ["NavTable"]


class NavTable(DataTable[Text | str]):
    BINDINGS: ClassVar[list[BindingType]] = list(bindings_for(Scope.TABLE))
