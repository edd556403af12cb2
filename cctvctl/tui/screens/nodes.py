"""Nodes: one row per recording node, its heartbeat, version, cameras, CPU and disks.

Rows come from :func:`cctvctl.tui.fleet_view.node_rows`: the fleet store's node list (when
the console watches a fleet) and each node's own health answer; the nodes out of reach
first, then those without a heartbeat. Enter makes the node
under the cursor the current one, as ``]`` does.
"""

from __future__ import annotations

from typing import ClassVar, Final

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.widgets import DataTable, Footer

from cctvctl.tui.commands import Scope, bindings_for
from cctvctl.tui.fleet_view import NodeRow, Reach, node_rows
from cctvctl.tui.format import BAD, WARN, flagged, plain_cells
from cctvctl.tui.screens.filtered import ColumnSpec, FilteredTableScreen, Priority
from cctvctl.tui.widgets.filter_box import FilterBox
from cctvctl.tui.widgets.header import NodeHeader
from cctvctl.tui.widgets.nav_table import NavTable

__all__ = ["NodesScreen", "node_cells"]

COLUMNS: Final = (
    ColumnSpec("Node", Priority.IDENTITY),
    ColumnSpec("State", Priority.STATUS),
    ColumnSpec("Beat"),
    ColumnSpec("Cams"),
    ColumnSpec("CPU"),
    ColumnSpec("Free"),
    ColumnSpec("Days"),
    ColumnSpec("Version"),
)
LOW_DISK_PERCENT: Final = 10.0
SHORT_DAYS: Final = 7.0


def _state(row: NodeRow) -> Text:
    if row.reach is Reach.UNREACHABLE:
        return flagged("unreachable" if row.watched else "not watched", BAD)
    if row.reach is Reach.WAITING:
        return Text("connecting", "italic")
    if row.alive is False:
        # It answers us, but the store has no heartbeat within a lease: its cameras may
        # be claimed by others.
        return flagged("no heartbeat", WARN)
    return Text("alive" if row.alive else "online")


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.0f}h"


def _unknown(row: NodeRow, value: str | Text) -> str | Text:
    # A node we cannot reach: what it last said is not what it is now.
    return "?" if row.reach is Reach.UNREACHABLE else value


def node_cells(row: NodeRow) -> tuple[Text, ...]:
    free = row.disk_free_percent
    days = row.days_to_full
    return plain_cells(
        (
            row.name,
            _state(row),
            _age(row.heartbeat_age),
            "-" if row.cameras is None else str(row.cameras),
            _unknown(row, "-" if row.cpu_percent is None else f"{row.cpu_percent:.0f}%"),
            _unknown(
                row,
                "-"
                if free is None
                else flagged(f"{free:.0f}%")
                if free < LOW_DISK_PERCENT
                else f"{free:.0f}%",
            ),
            _unknown(
                row,
                "-"
                if days is None
                else flagged(f"{days:.0f}", WARN)
                if days < SHORT_DAYS
                else f"{days:.0f}",
            ),
            row.version or "-",
        )
    )


class NodesScreen(FilteredTableScreen):
    SCOPE = Scope.NODES
    TITLE_TEXT = "nodes"
    AUTO_FOCUS = "DataTable"
    BINDINGS: ClassVar[list[BindingType]] = list(bindings_for(Scope.NODES))

    def compose(self) -> ComposeResult:
        yield NodeHeader()
        yield FilterBox(placeholder="filter nodes", id="filter")
        yield NavTable(cursor_type="row", zebra_stripes=True)
        yield Footer()

    def rows(self) -> list[NodeRow]:
        needle = self.filter_input.needle
        rows = node_rows(self.cctv.watched_nodes(), self.cctv.fleet, self.cctv.fleet_read)
        # Worst first, as on the overview; otherwise the store's order (sorted() is stable).
        rows = sorted(rows, key=lambda r: (r.reach is not Reach.UNREACHABLE, r.alive is not False))
        return [r for r in rows if needle in r.name.lower()]

    def redraw(self) -> None:
        self.fill(COLUMNS, ((r.name, node_cells(r)) for r in self.rows()))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_drill()

    def action_drill(self) -> None:
        name = self.selected_key()
        if name is None:
            return
        if not self.cctv.make_current(name):
            self.notify(
                f"{name}: not watched (the fleet store gives it no http(s) URL)",
                title="nodes",
                severity="warning",
            )
