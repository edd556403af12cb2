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
from cctvctl.tui.screens.detail import DetailModal
from cctvctl.tui.screens.filtered import ColumnSpec, FilteredTableScreen, Priority
from cctvctl.tui.widgets.filter_box import FilterBox
from cctvctl.tui.widgets.header import NodeHeader
from cctvctl.tui.widgets.nav_table import NavTable
from cctvctl.views import EventRow, Severity, audit_fields, audit_row, event_fields, event_row

__all__ = ["EventsScreen", "time_text"]

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


# Time, kind and camera whole at any width; the kecamatan and the detail give way, and
# the line under the table (or enter) shows the selected row in full.
COLUMNS: Final = (
    ColumnSpec("Time", Priority.IDENTITY),
    ColumnSpec("Kind", Priority.STATUS),
    ColumnSpec("Target", Priority.IDENTITY),
    ColumnSpec("Kecamatan", Priority.EXTRA, min_width=9),
    ColumnSpec("Detail", min_width=16, flex=True),
)


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

    def redraw(self) -> None:
        if not self.is_mounted:
            return
        last_event = self.node.events[-1].id if self.node.events else None
        last_audit = self.audit[0].id if self.audit else None
        shown = (
            last_event,
            len(self.node.events),
            last_audit,
            len(self.audit),
            self.filter_input.value,
            self.size.width,
            len(self.node.kecamatan),
            len(self.node.cameras),
        )
        if shown == self._shown:
            return  # job percentages and such: nothing this table shows has changed
        self._shown = shown
        names = self._kecamatan_names()
        self._rows = {}

        def rows() -> Iterator[tuple[str, tuple[Text, ...]]]:
            for row in self.visible_rows():
                self._rows[row.key] = row
                style = SEVERITY_STYLE[row.severity]
                kec = names.get(row.kecamatan, row.kecamatan) or "-"
                cells = (
                    time_text(row.time),
                    flagged(row.kind, _PROBLEMS[row.severity])
                    if row.severity in _PROBLEMS
                    else Text(row.kind, style),
                    row.target,
                    kec,
                    Text(row.detail, style),
                )
                yield row.key, plain_cells(cells)

        self.fill(COLUMNS, rows())
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

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_details()

    def action_details(self) -> None:
        """The selected row with every field, in a dialog (enter)."""
        if self.focused is self.filter_input:
            self.filter_closed()  # enter keeps the filter and gives the keys to the rows
            return
        key = self.selected_key() or ""
        found: tuple[str, list[tuple[str, str]]] | None = None
        if key.startswith("e"):
            event = next((e for e in self.node.events if f"e{e.id}" == key), None)
            if event is not None:
                found = (f"event: {event.type}", event_fields(event))
        elif key.startswith("a"):
            entry = next((a for a in self.audit if f"a{a.id}" == key), None)
            if entry is not None:
                found = (f"audit: {entry.action}", audit_fields(entry))
        if found is not None:
            self.app.push_screen(DetailModal(*found))
