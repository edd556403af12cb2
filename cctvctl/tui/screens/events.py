"""Camera events, reboots, exports and disk-guard deletions, newest first.

Two sources in one table: the server's live event stream (``node.events``: camera up and
down with the reason, disk-guard and retention deletions, job progress) and, for an admin
token, the audit log (who exported, downloaded or rebooted what, and refusals). Every row
says its severity in words as well as in colour, so ``NO_COLOR`` loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import ClassVar, Final

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.widgets import DataTable, Footer, Static

from cctvctl.client import Forbidden
from cctvctl.models import AuditEntry
from cctvctl.render import Mode
from cctvctl.termsafe import for_terminal
from cctvctl.tui import clock
from cctvctl.tui.clock import WITA
from cctvctl.tui.commands import Role, Scope, bindings_for
from cctvctl.tui.data import Poller, describe_error
from cctvctl.tui.format import BAD, WARN, flagged, plain, plain_cells
from cctvctl.tui.screens.filtered import FilteredTableScreen
from cctvctl.tui.widgets.filter_box import FilterBox
from cctvctl.tui.widgets.header import NodeHeader
from cctvctl.tui.widgets.nav_table import NavTable
from cctvctl.views import EventRow, Severity, audit_row, event_row

__all__ = ["EventsScreen", "clip", "time_text"]

AUDIT_INTERVAL: Final = 10.0
AUDIT_LIMIT: Final = 200
AUDIT_DENIED: Final = "audit log (reboots, exports, downloads) needs the admin role"


SEVERITY_STYLE: Final = {
    Severity.INFO: "",
    Severity.OK: "green",
    Severity.WARN: "yellow",
    Severity.BAD: "bold red",
}
# Problems carry the marker and a block of colour in the Kind column, so they show under
# NO_COLOR (where the detail's red turns grey) as well as in colour.
_PROBLEMS: Final = {Severity.WARN: WARN, Severity.BAD: BAD}


def time_text(when: datetime, now: datetime | None = None) -> str:
    """``14:03:22`` today (WITA), ``28/11 14:03`` on another day."""
    local = when.astimezone(WITA)
    today = (now or clock.now()).astimezone(WITA).date()
    return local.strftime("%H:%M:%S" if local.date() == today else "%d/%m %H:%M")


def clip(text: str, width: int, ascii_only: bool = False) -> str:
    """``text`` cut to ``width`` cells, with an ellipsis when something was cut."""
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:width]
    return text[: width - 1] + ("~" if ascii_only else "…")


# Column widths (cells) at 80 columns; wider terminals give the extra room to detail.
# Kind has a cell more than its longest word ("cam DOWN") for a problem's marker.
_NARROW: Final = {"Time": 8, "Kind": 9, "Target": 10, "Kec": 8}
_WIDE: Final = {"Time": 11, "Kind": 11, "Target": 14, "Kecamatan": 16}


class EventsScreen(FilteredTableScreen):
    SCOPE = Scope.EVENTS
    TITLE_TEXT = "events"
    AUTO_FOCUS = "DataTable"
    BINDINGS: ClassVar[list[BindingType]] = list(bindings_for(Scope.EVENTS))
    DEFAULT_CSS = """
    EventsScreen #note { height: 1; display: none; padding: 0 1; color: $text-muted; }
    EventsScreen DataTable { height: 1fr; }
    EventsScreen #detail { height: 1; padding: 0 1; background: $panel; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.audit: list[AuditEntry] = []
        self.audit_note: str | None = None
        self._audit_poll: Poller | None = None
        self._shown: tuple[object, ...] | None = None
        self._rows: dict[str, EventRow] = {}

    def compose(self) -> ComposeResult:
        yield NodeHeader()
        yield FilterBox(placeholder="filter: camera, kecamatan, kind or text", id="filter")
        yield Static(id="note")
        yield NavTable(cursor_type="row", zebra_stripes=True)
        yield Static(id="detail")
        yield Footer()

    def on_mount(self) -> None:
        if self._wants_audit():
            self._audit_poll = Poller(
                self,
                self._fetch_audit,
                AUDIT_INTERVAL,
                on_error=self._audit_failed,
                name="audit",
            )
            self._audit_poll.start()
        else:
            self._set_note(AUDIT_DENIED + "; showing the live events only")

    def on_unmount(self) -> None:
        if self._audit_poll is not None:
            self._audit_poll.stop()

    def _wants_audit(self) -> bool:
        return self.cctv.role is None or self.cctv.role >= Role.ADMIN

    async def _fetch_audit(self) -> None:
        if not self._wants_audit():  # the role became known (a viewer) after we opened
            self._deny_audit()
            return
        try:
            entries = await self.cctv.client.audit(limit=AUDIT_LIMIT)
        except Forbidden:
            self._deny_audit()
            return
        self.audit = entries
        if self.audit_note is not None:
            self._set_note(None)
        self.refresh_data()

    def _deny_audit(self) -> None:
        if self._audit_poll is not None:
            self._audit_poll.stop()
        self._set_note(AUDIT_DENIED + "; showing the live events only")

    def _audit_failed(self, exc: Exception) -> None:
        self._set_note(f"audit log: {describe_error(exc)[1]}")

    def _set_note(self, text: str | None) -> None:
        self.audit_note = text
        note = self.query_one("#note", Static)
        note.update(plain(text or ""))
        note.display = text is not None

    # ---------------------------------------------------------------- table

    @property
    def _ascii(self) -> bool:
        return self.cctv.mode is Mode.ASCII

    def all_rows(self) -> list[EventRow]:
        arrow = "->" if self._ascii else "→"
        camera_kec = {c.id: c.kecamatan_slug for c in self.node.cameras}
        rows = [r for e in self.node.events if (r := event_row(e, arrow)) is not None]
        rows += [audit_row(a, camera_kec.get(a.target or "", ""), arrow) for a in self.audit]
        rows.sort(key=lambda r: r.time, reverse=True)
        # Rows exist only to be shown: case ids, reasons, targets and event data are text
        # from other people and cameras, made inert here once for table, filter and detail.
        return for_terminal(rows)

    def visible_rows(self) -> list[EventRow]:
        needle = self.filter_input.needle
        names = self._kecamatan_names()
        rows = self.all_rows()
        if not needle:
            return rows
        return [r for r in rows if r.matches(needle, names.get(r.kecamatan, ""))]

    def _kecamatan_names(self) -> dict[str, str]:
        return for_terminal({k.slug: k.name for k in self.node.kecamatan})

    def _layout(self) -> dict[str, int]:
        width = self.size.width or 80
        fixed = _NARROW if width < 110 else _WIDE
        # Two cells of padding per column and two for the scroll bar.
        used = sum(fixed.values()) + 2 * (len(fixed) + 1) + 2
        return {**fixed, "Detail": max(16, width - used)}

    def refresh_data(self) -> None:
        super().refresh_data()
        self.redraw()

    def redraw(self) -> None:
        if not self.is_mounted:
            return
        layout = self._layout()
        last_event = self.node.events[-1].id if self.node.events else None
        last_audit = self.audit[0].id if self.audit else None
        shown = (
            last_event,
            len(self.node.events),
            last_audit,
            len(self.audit),
            self.filter_input.value,
            tuple(layout.items()),
            len(self.node.kecamatan),
            len(self.node.cameras),
        )
        if shown == self._shown:
            return  # job percentages and such: nothing this table shows has changed
        self._shown = shown
        names = self._kecamatan_names()
        ascii_only = self._ascii
        self._rows = {}

        def rows() -> Iterator[tuple[str, tuple[Text, ...]]]:
            for row in self.visible_rows():
                self._rows[row.key] = row
                style = SEVERITY_STYLE[row.severity]
                kec = names.get(row.kecamatan, row.kecamatan) or "-"
                cells = (
                    time_text(row.time),
                    flagged(clip(row.kind, layout["Kind"] - 1, ascii_only), _PROBLEMS[row.severity])
                    if row.severity in _PROBLEMS
                    else Text(clip(row.kind, layout["Kind"], ascii_only), style),
                    clip(row.target, layout["Target"], ascii_only),
                    clip(kec, layout.get("Kec") or layout["Kecamatan"], ascii_only),
                    Text(clip(row.detail, layout["Detail"], ascii_only), style),
                )
                yield row.key, plain_cells(cells)

        self.fill(list(layout.items()), rows())
        table = self.table
        if table.row_count == 0:
            self._show_detail("no events match" if self.filter_input.value else "no events yet")
        else:
            self._show_selected()

    def _show_selected(self) -> None:
        key = self.selected_key()
        row = self._rows.get(key or "")
        if row is not None:
            when = row.time.astimezone(WITA).strftime("%Y-%m-%d %H:%M:%S WITA")
            self._show_detail(f"{when}  {row.target}  {row.detail}")

    def _show_detail(self, text: str) -> None:
        self.query_one("#detail", Static).update(Text(text, no_wrap=True, overflow="ellipsis"))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_selected()
