"""Nodes: one row per recording node, its heartbeat, version, cameras (and those it took
over from another node), lease age, CPU and disks.

Rows come from :func:`cctvctl.tui.fleet_view.node_rows`: the fleet store's node list (when
the console watches a fleet) and each node's own health answer; the nodes out of reach
first, then those without a heartbeat; a node that stopped cleanly is no fault and says
"stopped". Enter makes the node
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
    ColumnSpec("Taken"),
    ColumnSpec("Lease"),
    ColumnSpec("CPU"),
    ColumnSpec("Free"),
    ColumnSpec("Days"),
    ColumnSpec("Version"),
)
LOW_DISK_PERCENT: Final = 10.0
SHORT_DAYS: Final = 7.0


def _state(row: NodeRow) -> Text:
    if row.stopped:
        # It left the fleet cleanly and its cameras went to their failover nodes: that it
        # no longer answers is expected, not a fault.
        return Text("stopped", "italic")
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
    # A node we cannot reach: what it last said is not what it is now. A stopped one has
    # no figures to give.
    if row.reach is not Reach.UNREACHABLE:
        return value
    return "-" if row.stopped else "?"


def _taken(row: NodeRow) -> str | Text:
    if row.taken_over is None:
        return "-"
    # Standing in for another node is failover at work: worth a look, not an alarm.
    return flagged(str(row.taken_over), WARN) if row.taken_over else "0"


def _lease(row: NodeRow) -> str | Text:
    age = row.lease_age
    if age is None or row.stopped:
        return "-"
    # A live node renews every third of the lease: two thirds gone means it missed one.
    late = row.lease_seconds is not None and age >= row.lease_seconds * 2 / 3
    return flagged(_age(age), WARN) if late else _age(age)


def node_cells(row: NodeRow) -> tuple[Text, ...]:
    free = row.disk_free_percent
    days = row.days_to_full
    return plain_cells(
        (
            row.name,
            _state(row),
            _age(row.heartbeat_age),
            "-" if row.cameras is None else str(row.cameras),
            _taken(row),
            _lease(row),
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
        # A stopped node is no fault: it keeps its place.
        rows = sorted(
            rows,
            key=lambda r: (
                r.stopped or r.reach is not Reach.UNREACHABLE,
                r.stopped or r.alive is not False,
            ),
        )
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
