"""`?`: the keys of the screen underneath, straight from the command table."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from cctvctl.tui.commands import Command, Role, Scope, commands_for, unavailable_reason

__all__ = ["COLUMN_NOTES", "HelpScreen", "column_notes", "help_table"]

# What each of a screen's columns means, one line each: the overview's short headings
# (Deg, Miss, Days, RTT) are the NOC's shorthand, not a newcomer's.
COLUMN_NOTES: dict[Scope, tuple[tuple[str, str], ...]] = {
    Scope.OVERVIEW: (
        ("On/All", "cameras sending now, of those enabled"),
        ("Deg", "degraded: under 80% of the expected frame rate"),
        ("Off", 'offline: no packet for 10 s (or "connecting")'),
        ("kbps", "bit rate coming in now, after its trend"),
        ("Disk/quota", "footage on disk, of the kecamatan's quota"),
        ("Days", "days to a full disk at the last hour's write rate"),
        ("Miss", "footage missing in 24 h, summed over its cameras"),
        ("RTT", "slowest camera's connect time to RTSP (every 30 s)"),
        ("Nodes", "with --fleet: node(s) serving it; ! out of reach"),
        ("!", "a problem: offline, degraded, failed, a gap"),
    ),
    Scope.NODES: (
        (
            "State",
            "alive (heartbeat within a lease), stopped (left cleanly), ! unreachable, "
            "! no heartbeat",
        ),
        ("Beat", "age of its last heartbeat in the fleet store"),
        ("Cams", "cameras it records now (leases held), or enabled (no fleet)"),
        ("Taken", "of those, cameras whose home is another node (failover)"),
        ("Lease", "since it last renewed its leases (! two thirds of a lease)"),
        ("CPU", "host CPU now"),
        ("Free", "free space on its fullest disk"),
        ("Days", "days to a full disk at the last hour's write rate"),
        ("?", "the node cannot be reached: figures unknown"),
    ),
}


def help_table(
    scope: Scope, role: Role | None, readonly: bool, several_nodes: bool = False
) -> Table:
    table = Table(title=f"keys: {scope.value}", expand=True, show_edge=False)
    table.add_column("key", style="bold", no_wrap=True)
    table.add_column("command", no_wrap=True)
    table.add_column("what it does")
    commands = commands_for(scope, several_nodes=several_nodes)
    moves = [c for c in commands if c.scope is Scope.TABLE]
    for command in commands:
        if command.scope is Scope.TABLE:
            # One row for the table's moves, so `?` still fits 80x24.
            if command is moves[0]:
                table.add_row(*_moves_row(moves))
            continue
        reason = unavailable_reason(command, role, readonly)
        what = command.description if reason is None else f"{command.description} ({reason})"
        # Text, not markup: "[needs the operator role]" was read as a tag and vanished.
        table.add_row(
            Text(command.display_key),
            Text(command.name),
            Text(what),
            style="dim" if reason else "",
        )
    return table


def column_notes(scope: Scope) -> Table | None:
    notes = COLUMN_NOTES.get(scope)
    if not notes:
        return None
    table = Table(title="columns", expand=True, show_edge=False, show_header=False)
    table.add_column("column", style="bold", no_wrap=True)
    table.add_column("what it shows")
    for column, meaning in notes:
        table.add_row(column, meaning)
    return table


def _moves_row(moves: list[Command]) -> tuple[Text, Text, Text]:
    """``j k g G | rows | down, up, first, last (also home, end)``."""
    keys = [c.key.split(",") for c in moves]
    also = [key for rest in keys for key in rest[1:]]
    what = ", ".join(c.name for c in moves) + (f" (also {', '.join(also)})" if also else "")
    return Text(" ".join(k[0] for k in keys)), Text("rows"), Text(what)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss", "close"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90%; max-width: 76; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    """

    def __init__(
        self,
        scope: Scope,
        role: Role | None,
        readonly: bool,
        several_nodes: bool = False,
        note: str | None = None,
    ) -> None:
        super().__init__()
        self._table = help_table(scope, role, readonly, several_nodes)
        self._columns = column_notes(scope)
        self._note = note  # who started the console may say more (the demo: its CLI line)

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            # First: the keys fill the screen at 80x24, and a note under them would
            # need scrolling nobody knows to do.
            if self._note:
                yield Static(Text(self._note), id="help-note")
            yield Static(self._table, id="help")
            if self._columns is not None:
                yield Static(self._columns, id="columns")
