"""The one command table: key bindings, the `?` help screen and the ctrl+p palette.

Everything a user can do is a row here, so the three ways of finding an action can never
disagree about its key, its wording or whether it is allowed.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from textual.screen import Screen

__all__ = [
    "COMMANDS",
    "TABLE_SCOPES",
    "Command",
    "CommandProvider",
    "Role",
    "Scope",
    "bindings_for",
    "command_named",
    "commands_for",
    "greyed_commands",
    "unavailable_reason",
]


class Role(enum.IntEnum):
    """Ordered so a comparison answers "may this token do that"."""

    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3


class Scope(enum.StrEnum):
    GLOBAL = "global"
    OVERVIEW = "overview"
    GRID = "grid"
    CAMERA = "camera"
    EXPORTS = "exports"
    EVENTS = "events"
    NODES = "nodes"
    TABLE = "table"  # the row keys of every table screen (widgets/nav_table.py)


#: Screens that are one table: their help lists the TABLE rows too.
TABLE_SCOPES = frozenset({Scope.OVERVIEW, Scope.EXPORTS, Scope.EVENTS, Scope.NODES})


@dataclass(frozen=True)
class Command:
    key: str  # Textual key name, e.g. "question_mark"
    name: str
    description: str
    action: str  # Textual action string, namespaced ("app." / "screen.")
    scope: Scope = Scope.GLOBAL
    role: Role = Role.VIEWER
    writes: bool = False  # turned off by --readonly
    shown_key: str = ""  # how help prints the key, when the Textual name reads badly
    footer_key: str = ""  # how the footer prints it, when shorter than shown_key
    priority: bool = False  # needed where a focused widget would swallow the key
    several_nodes: bool = False  # only offered when the console watches more than one node

    @property
    def display_key(self) -> str:
        return self.shown_key or self.key


COMMANDS: tuple[Command, ...] = (
    Command("question_mark", "help", "Keys of this screen", "app.help", shown_key="?"),
    Command("ctrl+p", "palette", "Command palette", "app.command_palette"),
    Command(
        "escape,backspace,h",
        "back",
        # tmux holds a lone Esc for its escape-time (500 ms by default, ~650 ms seen over SSH).
        "Back (or close the filter). In tmux Esc waits ~650 ms, ⌫ and h do not; "
        "`set -sg escape-time 10` ends the wait",
        "screen.back",
        shown_key="esc ⌫ h",
        footer_key="esc",
    ),
    Command(
        "colon",
        "command",
        "Command line, e.g. :kec sangatta",
        "app.command_line",
        shown_key=":",
    ),
    Command("o", "offline", "Grid of every offline camera", "app.offline"),
    Command("x", "exports", "Export jobs, with progress", "app.exports"),
    Command("a", "events", "Events and audit log", "app.events"),
    Command(
        "N",
        "nodes",
        "Nodes: heartbeat, version, CPU, disks",
        "app.nodes",
        shown_key="N",
    ),
    Command("r", "refresh", "Poll the server now", "app.refresh_now"),
    Command(
        "right_square_bracket",
        "next node",
        "Watch the next node (server)",
        "app.next_node(1)",
        shown_key="]",
        several_nodes=True,
    ),
    Command(
        "left_square_bracket",
        "previous node",
        "Watch the previous node (server)",
        "app.next_node(-1)",
        shown_key="[",
        several_nodes=True,
    ),
    Command("q", "quit", "Quit the console", "app.quit"),
    # Over SSH people reach for Ctrl-C first; Textual's default only says "press ctrl+q".
    Command("ctrl+c", "interrupt", "Quit, like q", "app.quit", shown_key="^c", priority=True),
    Command(
        "enter", "open", "Open the kecamatan's grid", "screen.drill", Scope.OVERVIEW, priority=True
    ),
    Command(
        "slash",
        "filter",
        "Filter rows",
        "screen.filter",
        Scope.OVERVIEW,
        shown_key="/",
        priority=True,
    ),
    Command("enter", "open", "Open the camera", "screen.drill", Scope.GRID, priority=True),
    Command("n", "next page", "Next page of tiles", "screen.page(1)", Scope.GRID),
    Command("p", "previous page", "Previous page of tiles", "screen.page(-1)", Scope.GRID),
    Command(
        "slash", "filter", "Filter tiles", "screen.filter", Scope.GRID, shown_key="/", priority=True
    ),
    Command("right", "right", "Next tile", "screen.move(1)", Scope.GRID, shown_key="→"),
    Command("left", "left", "Previous tile", "screen.move(-1)", Scope.GRID, shown_key="←"),
    Command("down,j", "down", "Tile below", "screen.move_row(1)", Scope.GRID, shown_key="↓ j"),
    Command("up,k", "up", "Tile above", "screen.move_row(-1)", Scope.GRID, shown_key="↑ k"),
    # Actions of the DataTable itself, as in k9s, htop and lazydocker.
    Command("j", "down", "Next row (also ↓)", "cursor_down", Scope.TABLE),
    Command("k", "up", "Previous row (also ↑)", "cursor_up", Scope.TABLE),
    Command("g,home", "first", "First row", "scroll_top", Scope.TABLE, shown_key="g Home"),
    Command("G,end", "last", "Last row", "scroll_bottom", Scope.TABLE, shown_key="G End"),
    Command(
        "e",
        "export",
        "Export a clip (WITA times, case id)",
        "screen.export",
        Scope.CAMERA,
        role=Role.OPERATOR,
        writes=True,
    ),
    Command(
        "b",
        "reboot",
        "Reboot the camera (asks for a reason)",
        "screen.reboot",
        Scope.CAMERA,
        role=Role.ADMIN,
        writes=True,
    ),
    Command("s", "snapshot", "Save the picture shown as JPEG", "screen.snapshot", Scope.CAMERA),
    # On the camera screen [ and ] move through time (a camera screen follows its camera's
    # node, so the node keys have nothing to do there).
    Command(
        "left_square_bracket",
        "earlier",
        "1 min earlier, from disk or archive",
        "screen.scrub(-60)",
        Scope.CAMERA,
        shown_key="[",
    ),
    Command(
        "right_square_bracket",
        "later",
        "1 min later; live again at now",
        "screen.scrub(60)",
        Scope.CAMERA,
        shown_key="]",
    ),
    Command(
        "left_curly_bracket",
        "earlier 15m",
        "15 min earlier",
        "screen.scrub(-900)",
        Scope.CAMERA,
        shown_key="{",
    ),
    Command(
        "right_curly_bracket",
        "later 15m",
        "15 min later",
        "screen.scrub(900)",
        Scope.CAMERA,
        shown_key="}",
    ),
    Command(
        "t",
        "go to time",
        "Picture at a typed time (14:00, 2h, …)",
        "screen.go_to",
        Scope.CAMERA,
    ),
    Command("l", "live", "Back to the live picture", "screen.live", Scope.CAMERA),
    Command(
        "enter",
        "download",
        "Download the finished export to a path",
        "screen.download",
        Scope.EXPORTS,
        role=Role.OPERATOR,
        priority=True,
    ),
    Command(
        "c",
        "cancel",
        "Cancel the selected export",
        "screen.cancel",
        Scope.EXPORTS,
        role=Role.OPERATOR,
        writes=True,
    ),
    Command(
        "slash",
        "filter",
        "Filter jobs",
        "screen.filter",
        Scope.EXPORTS,
        shown_key="/",
        priority=True,
    ),
    Command(
        "slash",
        "filter",
        "Filter events",
        "screen.filter",
        Scope.EVENTS,
        shown_key="/",
        priority=True,
    ),
    Command(
        "enter",
        "details",
        "Every field of the selected event or audit row",
        "screen.details",
        Scope.EVENTS,
        priority=True,
    ),
    Command(
        "enter",
        "open",
        "Make the node the current one (as ] does)",
        "screen.drill",
        Scope.NODES,
        priority=True,
    ),
    Command(
        "slash",
        "filter",
        "Filter nodes",
        "screen.filter",
        Scope.NODES,
        shown_key="/",
        priority=True,
    ),
)


def commands_for(
    scope: Scope, table: Iterable[Command] = COMMANDS, *, several_nodes: bool = False
) -> list[Command]:
    """The commands of one screen: its own first, then the global ones.

    Node switching is left out unless the console watches ``several_nodes``.
    """
    rows = [c for c in table if several_nodes or not c.several_nodes]
    own = [c for c in rows if c.scope is scope]
    table_rows = [c for c in rows if c.scope is Scope.TABLE and scope in TABLE_SCOPES]
    # A screen's own binding wins over a global one on the same key (Textual asks the
    # screen before the app), so the global row would only mislead.
    taken = {key for c in own for key in c.key.split(",")}
    global_rows = [
        c
        for c in rows
        if c.scope is Scope.GLOBAL
        and scope is not Scope.GLOBAL
        and not taken.intersection(c.key.split(","))
    ]
    return own + table_rows + global_rows


def bindings_for(scope: Scope) -> list[Binding]:
    # Shown in the footer only when short enough to matter at 80 columns.
    footer = {
        "help",
        "back",
        "open",
        "filter",
        "next page",
        "quit",
        "export",
        "reboot",
        "download",
        "earlier",
        "later",
    }
    return [
        Binding(
            c.key,
            c.action,
            c.name,
            show=c.name in footer,
            key_display=c.footer_key or c.shown_key or None,
            priority=c.priority,
        )
        for c in COMMANDS
        if c.scope is scope
    ]


def command_named(name: str, scope: Scope) -> Command:
    """The row for ``name`` on a screen of ``scope`` (its own rows before global ones)."""
    for command in commands_for(scope, several_nodes=True):
        if command.name == name:
            return command
    raise KeyError(f"no command {name!r} on the {scope.value} screen")


def unavailable_reason(command: Command, role: Role | None, readonly: bool) -> str | None:
    """Why ``command`` cannot run here, or None. An unknown role is left to the server."""
    if command.writes and readonly:
        return "read-only console (--readonly)"
    if role is not None and role < command.role:
        return f"needs the {command.role.name.lower()} role"
    return None


def greyed_commands(role: Role | None, readonly: bool) -> set[Command]:
    """Every command that ``role`` (and ``--readonly``) turns off, on any screen."""
    return {c for c in COMMANDS if unavailable_reason(c, role, readonly) is not None}


class CommandProvider(Provider):
    """Palette entries for the current screen, straight from :data:`COMMANDS`."""

    def _scope(self) -> Scope:
        return Scope(getattr(self.screen, "SCOPE", Scope.GLOBAL))

    def _visible(self) -> list[Command]:
        # The palette itself would only reopen, and "open" needs a highlighted row; row
        # moves belong to the table, which the palette is not.
        several = bool(getattr(self.app, "several_nodes", False))
        return [
            c
            for c in commands_for(self._scope(), several_nodes=several)
            if c.name != "palette" and c.scope is not Scope.TABLE
        ]

    async def _run(self, screen: Screen[object], command: Command) -> None:
        # A screen greys what it may not run (check_action), so the action would do
        # nothing: let the screen say why instead (CctvScreen.allowed).
        allowed = getattr(screen, "allowed", None)
        if command.scope is not Scope.GLOBAL and callable(allowed) and not allowed(command.name):
            return
        # Bind screen actions to the screen the palette was opened over, not the palette.
        action = command.action.removeprefix("screen.")
        await self.app.run_action(action, screen if action != command.action else None)

    def _label(self, command: Command) -> str:
        return f"{command.name} ({command.display_key})"

    async def discover(self) -> Hits:
        screen = self.screen
        for command in self._visible():
            yield DiscoveryHit(
                self._label(command),
                partial(self._run, screen, command),
                help=command.description,
            )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        screen = self.screen
        for command in self._visible():
            label = self._label(command)
            score = max(matcher.match(label), matcher.match(command.description))
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(label),
                    partial(self._run, screen, command),
                    text=label,
                    help=command.description,
                )
