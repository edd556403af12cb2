"""Home: one row per kecamatan, worst first, so the broken ones are at the top."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.widgets import DataTable, Footer

from cctvctl.models import KecamatanSummary
from cctvctl.render import Mode
from cctvctl.termsafe import for_terminal
from cctvctl.tui.commands import Scope, bindings_for
from cctvctl.tui.format import kecamatan_rank, plain_cells, rtt_text, sparkline
from cctvctl.tui.screens.filtered import FilteredTableScreen
from cctvctl.tui.widgets.filter_box import FilterBox
from cctvctl.tui.widgets.header import NodeHeader
from cctvctl.units import bytes_text, kbps_text

__all__ = ["OverviewScreen", "missing_text", "row_cells"]

COLUMNS = ("Kecamatan", "On/All", "Deg", "Off", "kbps", "Disk/quota", "Days", "Miss", "RTT")
# Sparkline cells before the kbps figure: a trend at 80 columns, a history when wider.
NARROW_TREND = 4
WIDE_TREND = 12


def missing_text(minutes: float) -> str:
    """Whole minutes, or seconds under one: a 40 s outage must not read as "0m"."""
    if 0 < minutes < 1:
        return f"{minutes * 60:.0f}s"
    return f"{minutes:.0f}m"


def row_cells(k: KecamatanSummary, trend: str = "") -> tuple[Text, ...]:
    k = for_terminal(k)  # the name comes from the server's inventory
    enabled = k.cameras_total - k.disabled
    online = Text(f"{k.online}/{enabled}", "bold red" if k.online < enabled else "")
    quota = bytes_text(k.quota_bytes, compact=True) if k.quota_bytes else "-"
    days = "-" if k.days_to_full is None else f"{k.days_to_full:.0f}"
    return plain_cells(
        (
            k.name,
            online,
            Text(str(k.degraded), "yellow" if k.degraded else ""),
            Text(str(k.offline), "bold red" if k.offline else ""),
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


class OverviewScreen(FilteredTableScreen):
    SCOPE = Scope.OVERVIEW
    TITLE_TEXT = "kecamatan"
    # The hidden filter comes first in the DOM; focusing it would make keys type text.
    AUTO_FOCUS = "DataTable"
    BINDINGS: ClassVar[list[BindingType]] = list(bindings_for(Scope.OVERVIEW))

    def compose(self) -> ComposeResult:
        yield NodeHeader()
        yield FilterBox(placeholder="filter kecamatan", id="filter")
        yield DataTable(cursor_type="row", zebra_stripes=True)
        yield Footer()

    def visible_rows(self) -> list[KecamatanSummary]:
        needle = self.filter_input.needle
        rows = sorted(self.node.kecamatan, key=lambda k: (*kecamatan_rank(k), k.name))
        return [k for k in rows if needle in k.name.lower() or needle in k.slug]

    def refresh_data(self) -> None:
        super().refresh_data()
        self.redraw()

    def redraw(self) -> None:
        width = WIDE_TREND if self.size.width >= 110 else NARROW_TREND
        ascii = self.cctv.mode is Mode.ASCII
        history = self.node.kbps_history
        self.fill(
            [(label, None) for label in COLUMNS],
            (
                (k.slug, row_cells(k, sparkline(history.get(k.slug, ()), width, ascii=ascii)))
                for k in self.visible_rows()
            ),
        )

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
