"""Home: one row per kecamatan, worst first, so the broken ones are at the top.

When the order changes the cursor goes to the top, the new worst row, unless the operator
moved it in the last :data:`HOLD_SECONDS`: then it stays on the row they chose.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.widgets import DataTable, Footer

from cctvctl.models import KecamatanSummary
from cctvctl.render import Mode
from cctvctl.termsafe import for_terminal
from cctvctl.timeparse import format_duration
from cctvctl.tui import clock
from cctvctl.tui.commands import Scope, bindings_for
from cctvctl.tui.fleet_view import UNKNOWN, FleetKecamatan, merge_kecamatan
from cctvctl.tui.format import (
    BAD,
    WARN,
    connecting,
    flagged,
    kecamatan_rank,
    plain_cells,
    rtt_text,
    sparkline,
    stale_cells,
)
from cctvctl.tui.screens.filtered import ColumnSpec, FilteredTableScreen, Priority
from cctvctl.tui.widgets.filter_box import FilterBox
from cctvctl.tui.widgets.header import NodeHeader
from cctvctl.tui.widgets.nav_table import NavTable
from cctvctl.units import bytes_text, kbps_text

__all__ = ["OverviewScreen", "fleet_cells", "missing_text", "row_cells"]

# The name and the camera counts stay at any width; the figures after them give way.
COLUMNS = (
    ColumnSpec("Kecamatan", Priority.IDENTITY),
    ColumnSpec("On/All", Priority.STATUS),
    ColumnSpec("Deg", Priority.STATUS),
    ColumnSpec("Off", Priority.STATUS),
    ColumnSpec("kbps"),
    ColumnSpec("Disk/quota"),
    ColumnSpec("Days"),
    ColumnSpec("Miss"),
    ColumnSpec("RTT"),
)
# With [archive] on the node: the footage not archived yet (bytes, age of the oldest).
ARCHIVE_COLUMN = ColumnSpec("Unarchived")
ARCHIVE_WARN_SECONDS = 3600.0  # an hour behind: a thin link's night may clear it
ARCHIVE_BAD_SECONDS = 86400.0  # a day behind: local_days may run out before it clears
# With --fleet: which node(s) serve each kecamatan, after the camera counts, since a node
# that cannot be reached is the state of the row.
FLEET_COLUMNS = (*COLUMNS[:4], ColumnSpec("Nodes", Priority.STATUS), *COLUMNS[4:])
# Sparkline cells before the kbps figure: a trend at 80 columns, a history when wider.
NARROW_TREND = 4
WIDE_TREND = 12
HOLD_SECONDS = 30.0  # a cursor the operator moved stays put this long
# Keys that move the table's cursor (DataTable's own and Scope.TABLE's).
CURSOR_KEYS = frozenset({"up", "down", "pageup", "pagedown", "home", "end", "j", "k", "g", "G"})


def missing_text(minutes: float) -> str:
    """Whole minutes, or seconds under one: a 40 s outage must not read as "0m"."""
    if 0 < minutes < 1:
        return f"{minutes * 60:.0f}s"
    return f"{minutes:.0f}m"


def row_cells(
    k: KecamatanSummary, trend: str = "", *, connecting: int = 0, stale: bool = False
) -> tuple[Text, ...]:
    """One kecamatan's cells. ``connecting``: of its offline cameras, those the recorder is
    still opening (just started); they read as "connecting", not as a problem. ``stale``:
    the figures are from a poll too old to trust, and dimmed."""
    k = for_terminal(k)  # the name comes from the server's inventory
    enabled = k.cameras_total - k.disabled
    offline = max(0, k.offline - connecting)
    if connecting and not offline and not k.degraded:
        online = Text("connecting", "italic")
    elif k.online < enabled - connecting or k.degraded:
        online = flagged(f"{k.online}/{enabled}", BAD if offline else WARN)
    else:
        online = Text(f"{k.online}/{enabled}")
    quota = bytes_text(k.quota_bytes, compact=True) if k.quota_bytes else "-"
    days = "-" if k.days_to_full is None else f"{k.days_to_full:.0f}"
    cells = plain_cells(
        (
            k.name,
            online,
            flagged(str(k.degraded), WARN) if k.degraded else str(k.degraded),
            flagged(str(offline)) if offline else ("…" if connecting else str(offline)),
            Text.assemble(
                (trend, "cyan"), " " if trend else "", kbps_text(k.inbound_kbps, compact=True)
            ),
            f"{bytes_text(k.bytes_stored, compact=True)}/{quota}",
            days,
            # The worst camera's, not the sum: 12 cameras each 1.5 s short read "17s".
            missing_text(k.worst_missing_seconds_24h / 60),
            rtt_text(k.worst_rtt_ms),
        )
    )
    return stale_cells(cells) if stale else cells


def archive_cell(k: KecamatanSummary, now: datetime) -> Text:
    """The kecamatan's upload backlog: "ok" when the archive holds everything closed,
    else its size and the age of the oldest footage not archived, flagged once it lags."""
    a = k.archive
    if a is None:
        return Text("-")
    if a.backlog_segments == 0 or a.oldest_unarchived is None:
        return Text("ok") if not a.failures else flagged("ok, failing", WARN)
    age = (now - a.oldest_unarchived).total_seconds()
    text = f"{bytes_text(a.backlog_bytes, compact=True)} {format_duration(age)}"
    if age >= ARCHIVE_BAD_SECONDS:
        return flagged(text, BAD)
    if age >= ARCHIVE_WARN_SECONDS or a.failures:
        return flagged(text, WARN)
    return Text(text)


def _nodes_cell(k: FleetKecamatan) -> Text:
    parts: list[Text] = [Text(n) for n in k.answering]
    parts += [flagged(n) for n in k.unreachable]
    parts += [Text(f"{n}…", "italic") for n in k.waiting]
    return Text(", ").join(parts)


def fleet_cells(k: FleetKecamatan, connecting: int = 0, trend: str = "") -> tuple[Text, ...]:
    """One kecamatan merged over its nodes. Cameras on a node that cannot be reached are
    unknown: never shown or counted as offline."""
    nodes = _nodes_cell(for_terminal(k))
    if k.summary is not None:
        cells = row_cells(k.summary, trend, connecting=connecting)
        status = cells[1]
        if k.unreachable:
            status = Text.assemble(status, " ", flagged("+unknown"))
        return (cells[0], status, *cells[2:4], nodes, *cells[4:])
    name = plain_cells((for_terminal(k).name,))[0]
    if k.unreachable:
        return (name, flagged(UNKNOWN), Text("?"), Text("?"), nodes, *(Text("?"),) * 5)
    if k.waiting:
        return (name, Text("connecting", "italic"), Text("…"), Text("…"), nodes, *(Text("…"),) * 5)
    # Served, says the store, but the nodes that answer record no camera of it.
    return (name, Text("no cameras"), Text("-"), Text("-"), nodes, *(Text("-"),) * 5)


def _fleet_rank(k: FleetKecamatan) -> tuple[float, ...]:
    # Unknown first: the operator must see what the console cannot see.
    figures = kecamatan_rank(k.summary) if k.summary is not None else (0.0, 0.0, 0.0)
    return (-len(k.unreachable), *figures)


class OverviewScreen(FilteredTableScreen):
    SCOPE = Scope.OVERVIEW
    TITLE_TEXT = "kecamatan"
    # The hidden filter comes first in the DOM; focusing it would make keys type text.
    AUTO_FOCUS = "DataTable"
    BINDINGS: ClassVar[list[BindingType]] = list(bindings_for(Scope.OVERVIEW))

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.monotonic = monotonic  # injected, so a test need not wait HOLD_SECONDS
        self._moved_at: float | None = None
        self._order: tuple[str, ...] = ()

    def on_key(self, event: events.Key) -> None:
        # Seen before the table's bindings run: the key is on its way up from the table.
        if event.key in CURSOR_KEYS and self.focused is self.table:
            self._moved_at = self.monotonic()

    def on_click(self) -> None:
        self._moved_at = self.monotonic()

    def _operator_holds(self) -> bool:
        return self._moved_at is not None and self.monotonic() - self._moved_at < HOLD_SECONDS

    def compose(self) -> ComposeResult:
        yield NodeHeader()
        yield FilterBox(placeholder="filter kecamatan", id="filter")
        yield NavTable(cursor_type="row", zebra_stripes=True)
        yield Footer()

    def visible_rows(self) -> list[KecamatanSummary]:
        needle = self.filter_input.needle
        rows = sorted(self.node.kecamatan, key=lambda k: (*kecamatan_rank(k), k.name))
        return [k for k in rows if needle in k.name.lower() or needle in k.slug]

    def fleet_rows(self) -> list[FleetKecamatan]:
        needle = self.filter_input.needle
        rows = merge_kecamatan(self.cctv.watched_nodes(), self.cctv.fleet)
        rows.sort(key=lambda k: (*_fleet_rank(k), k.name))
        return [k for k in rows if needle in k.name.lower() or needle in k.slug]

    def _redraw_fleet(self) -> None:
        rows = self.fleet_rows()
        now = clock.now()
        mine = self.cctv.target.name
        opening = Counter(c.kecamatan_slug for c in self.node.cameras if connecting(c, now))
        width = WIDE_TREND if self.size.width >= 110 else NARROW_TREND
        ascii = self.cctv.mode is Mode.ASCII
        history = self.node.kbps_history

        def trend(k: FleetKecamatan) -> str:
            # Only the current node's stats polls keep a history; a kecamatan it shares
            # with another node would show part of its traffic as the whole trend.
            if k.nodes != (mine,):
                return ""
            return sparkline(history.get(k.slug, ()), width, ascii=ascii)

        self.fill(
            FLEET_COLUMNS,
            (
                (k.slug, fleet_cells(k, opening[k.slug] if mine in k.answering else 0, trend(k)))
                for k in rows
            ),
        )
        self._follow_order(tuple(k.slug for k in rows))

    def _follow_order(self, order: tuple[str, ...]) -> None:
        if order != self._order and self._order and not self._operator_holds():
            self.table.move_cursor(row=0, animate=False)
        self._order = order

    def redraw(self) -> None:
        if self.cctv.fleet_mode:
            self._redraw_fleet()
            return
        width = WIDE_TREND if self.size.width >= 110 else NARROW_TREND
        ascii = self.cctv.mode is Mode.ASCII
        history = self.node.kbps_history
        rows = self.visible_rows()
        stale = self.node.is_stale()
        now = clock.now()
        opening = Counter(c.kecamatan_slug for c in self.node.cameras if connecting(c, now))
        archived = any(k.archive is not None for k in rows)

        def cells(k: KecamatanSummary) -> tuple[Text, ...]:
            row = row_cells(
                k,
                sparkline(history.get(k.slug, ()), width, ascii=ascii),
                connecting=opening[k.slug],
                stale=stale,
            )
            return (*row, archive_cell(k, now)) if archived else row

        self.fill(
            (*COLUMNS, ARCHIVE_COLUMN) if archived else COLUMNS,
            ((k.slug, cells(k)) for k in rows),
        )
        self._follow_order(tuple(k.slug for k in rows))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_drill()

    def action_drill(self) -> None:
        slug = self.selected_key()
        if slug is not None:
            self.cctv.open_kecamatan(slug)

    def action_back(self) -> None:
        # Home has nowhere to go back to: Esc only closes the filter.
        if self.filter_input.close():
            self.filter_closed()
