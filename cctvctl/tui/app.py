"""The Textual console: overview → grid → camera, polled live.

It can watch several servers (nodes) at once: the *current* node gets the full stats
polls, the event stream and the thumbnails; the others a light health poll, so the header
can tell whether they are up. ``]`` / ``[`` or ``:node NAME`` switch the current node.

With ``fleet`` (``cctvctl tui --fleet``) the nodes are a fleet's: the console also reads
the fleet's node list from a node every few seconds (new nodes are watched as they
appear), the overview merges every node's kecamatan, and opening a kecamatan goes to a
node that serves it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from textual.app import App
from textual.binding import BindingType
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen

from cctvctl.client import (
    GAP_EVENT,
    AsyncCctvClient,
    AuthError,
    CctvError,
    FleetRouter,
    NotFound,
    fleet_members,
)
from cctvctl.models import CameraStatus, Event, FleetNodes
from cctvctl.render import Depth, Mode, detect_depth
from cctvctl.termsafe import escape_controls
from cctvctl.tui import clock
from cctvctl.tui.budget import DEFAULT_RATES
from cctvctl.tui.commands import CommandProvider, Role, Scope, bindings_for, greyed_commands
from cctvctl.tui.data import (
    MAX_BACKOFF,
    STALE_POLLS,
    Connection,
    NodeData,
    Poller,
    ServerTarget,
    check_node,
    describe_error,
    fetch_node,
)
from cctvctl.tui.fleet_view import UNKNOWN, Reach, merge_kecamatan, reach
from cctvctl.tui.host import ConsoleHost
from cctvctl.tui.screens.base import CctvScreen
from cctvctl.tui.screens.camera import CameraScreen
from cctvctl.tui.screens.command_line import CommandLine, resolve
from cctvctl.tui.screens.events import EventsScreen
from cctvctl.tui.screens.exports import ExportsScreen
from cctvctl.tui.screens.fleet_grid import FleetGridScreen
from cctvctl.tui.screens.grid import GridScreen
from cctvctl.tui.screens.help import HelpScreen
from cctvctl.tui.screens.nodes import NodesScreen
from cctvctl.tui.screens.overview import OverviewScreen

if TYPE_CHECKING:
    import httpx

__all__ = ["CctvApp"]

log = logging.getLogger(__name__)

CAMERA_STATUS = "camera.status"
REPLAYED_EVENTS = 200  # history the Events screen starts with
HEALTH_SECONDS = 10.0  # light poll of the nodes that are not current


@dataclass(eq=False)
class WatchedNode:
    """One server the console watches: its data, its client and who our token is there."""

    data: NodeData
    client: AsyncCctvClient
    role: Role | None = None
    asked_role: bool = False
    health: Poller | None = None  # the light poll, while the node is not current

    @property
    def target(self) -> ServerTarget:
        return self.data.target

    @property
    def name(self) -> str:
        return self.data.target.name


class CctvApp(App[None]):
    TITLE = "cctvctl"
    # Ours only: Textual's system commands (themes, screenshots) are noise for the NOC.
    COMMANDS: ClassVar[set[type[CommandProvider]]] = {CommandProvider}  # type: ignore[assignment]
    BINDINGS: ClassVar[list[BindingType]] = list(bindings_for(Scope.GLOBAL))

    def __init__(
        self,
        url: str,
        token: str | None,
        name: str | None = None,
        *,
        readonly: bool = False,
        ascii: bool = False,
        refresh: float = 2.0,
        role: Role | None = None,
        budget_kbps: float | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        more: Sequence[ServerTarget] = (),
        health_seconds: float = HEALTH_SECONDS,
        help_note: str | None = None,
        fleet: bool = False,
    ) -> None:
        # Textual sizes the screen with shutil.get_terminal_size(), which believes COLUMNS
        # and LINES before the terminal: an exported pair (a script's, a login shell's)
        # would pin the console to a size the SSH window no longer has, and no resize
        # would reach it. Here the terminal is the truth; the CLI's tables keep COLUMNS.
        for variable in ("COLUMNS", "LINES"):
            os.environ.pop(variable, None)
        super().__init__()
        self.help_note = help_note
        self.fleet_mode = fleet
        self.fleet: FleetNodes | None = None  # the latest node list a fleet node gave
        self.fleet_read: datetime | None = None  # when it arrived (our clock)
        self._fleet_poll: Poller | None = None
        self._transport = transport
        self.readonly = readonly
        self.mode = Mode.ASCII if ascii else Mode.HALF_BLOCK
        self.refresh_seconds = refresh
        self.health_seconds = health_seconds
        self.budget_kbps = budget_kbps  # None: the default for the colour depth
        # The first target is current at start; ``more`` are the other nodes, in order.
        # transport: only for tests that answer from fixed data instead of a server.
        self._given_role = role
        self.nodes: list[WatchedNode] = [
            self._new_node(t) for t in (ServerTarget(url, token, name or url), *more)
        ]
        self._current = self.nodes[0]
        # What every screen reads: always the current node's.
        self.target = self._current.target
        self.node = self._current.data
        self.client = self._current.client
        self.role = role
        self._stats: Poller | None = None
        self._stale = False  # whether the screens were last drawn from stale data
        # Which node records a camera now: asked of the fleet on every action, never kept.
        self.router = FleetRouter(self._nodes_to_ask)

    def _new_node(self, target: ServerTarget) -> WatchedNode:
        return WatchedNode(
            NodeData(target, stale_after=STALE_POLLS * self.refresh_seconds),
            AsyncCctvClient(target.url, target.token, name=target.name, transport=self._transport),
            role=self._given_role,
            asked_role=self._given_role is not None,
        )

    @property
    def current(self) -> WatchedNode:
        return self._current

    @property
    def several_nodes(self) -> bool:
        return len(self.nodes) > 1

    def other_nodes(self) -> list[NodeData]:
        """The nodes that are not current, in the order given, for the header."""
        return [n.data for n in self.nodes if n is not self._current]

    def watched_nodes(self) -> list[NodeData]:
        """Every watched node, in the order given (the current one included)."""
        return [n.data for n in self.nodes]

    @property
    def depth(self) -> Depth:
        if self.mode is Mode.ASCII:
            return Depth.NONE
        return detect_depth(
            self.console.color_system, no_color=self.no_color, environ=dict(os.environ)
        )

    def picture_budget(self) -> float | None:
        """Bytes per second the grid may spend on pictures (None: no limit)."""
        if self.budget_kbps is not None:
            return None if self.budget_kbps <= 0 else self.budget_kbps * 1000
        return DEFAULT_RATES[self.depth]

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every toast (screens' ``notify`` lands here): its text often quotes the server
        (a refusal, a case id), so control characters are escaped and nothing is markup."""
        del markup  # no caller needs markup, and server text must never be read as it
        super().notify(
            escape_controls(message),
            title=escape_controls(title),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick_age, name="age")
        self.push_screen(OverviewScreen())
        self._watch_fully(self._current)
        for node in self.nodes:
            if node is not self._current:
                self._watch_lightly(node)
        if self.fleet_mode:
            self._fleet_poll = Poller(
                self,
                self._poll_fleet,
                self.health_seconds,
                on_error=self._fleet_failed,
                name="fleet",
            )
            self._fleet_poll.start()

    async def on_unmount(self) -> None:
        if self._stats is not None:
            self._stats.stop()
        if self._fleet_poll is not None:
            self._fleet_poll.stop()
        for node in self.nodes:
            if node.health is not None:
                node.health.stop()
            try:
                await node.client.aclose()
            except Exception as exc:  # closing one node must not keep the others open
                log.debug("closing %s: %s", node.name, exc)

    # ---------------------------------------------------------------- polling

    def _watch_fully(self, node: WatchedNode) -> None:
        """Stats polls and the event stream for the current node."""
        if node.health is not None:
            node.health.stop()
            node.health = None
        node.data.stale_after = STALE_POLLS * self.refresh_seconds
        self._stats = Poller(
            self,
            lambda: self._poll_stats(node),
            self.refresh_seconds,
            on_error=lambda exc: self._stats_failed(exc, node),
            name="stats",
        )
        self._stats.start()
        self.run_worker(
            self._follow_events(node), name="events", group="events", exit_on_error=False
        )

    def _watch_lightly(self, node: WatchedNode) -> None:
        """Only the host health, every few seconds, for a node that is not current."""
        if node.health is not None:
            node.health.stop()
        # Its figures are as old as its own poll allows: the fleet overview and the Nodes
        # screen must not call a node unreachable between two light polls.
        node.data.stale_after = STALE_POLLS * self.health_seconds
        node.health = Poller(
            self,
            lambda: self._poll_health(node),
            self.health_seconds,
            on_error=lambda exc: self._stats_failed(exc, node),
            name=f"health-{node.name}",
        )
        node.health.start()

    async def _poll_stats(self, node: WatchedNode | None = None) -> None:
        node = node or self._current
        if not node.asked_role:
            await self._ask_role(node)
        await fetch_node(node.client, node.data)
        self._show_data()

    async def _poll_health(self, node: WatchedNode) -> None:
        if not node.asked_role:
            await self._ask_role(node)
        await check_node(node.client, node.data)
        self._show_data()

    async def _ask_role(self, node: WatchedNode | None = None) -> None:
        node = node or self._current
        try:
            identity = await node.client.whoami()
        except NotFound:
            # A server from before /whoami: leave every action to the server to refuse.
            node.asked_role = True
            return
        node.data.identity = identity
        node.role = Role[identity.role.name]
        node.asked_role = True
        if node is self._current:
            self._set_role(node.role)

    def _set_role(self, role: Role | None) -> None:
        before = greyed_commands(self.role, self.readonly)
        self.role = role
        # The footer greys what the role may not do; redraw it only when that changed.
        if greyed_commands(role, self.readonly) != before:
            self.refresh_bindings()

    async def _follow_events(self, node: WatchedNode | None = None) -> None:
        """Status changes as they happen, between (and faster than) the stats polls."""
        node = node or self._current
        data = node.data
        delay = 1.0
        while True:
            last = data.events[-1].id if data.events else None
            try:
                async for event in node.client.events(
                    since=last,
                    last=REPLAYED_EVENTS if last is None else None,
                    max_retries=None,
                ):
                    data.stream_up = True
                    self.take_event(event, data)
                    delay = 1.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the console outlives the stream; the header tells
                data.stream_up = False
                log.debug("event stream: %s", exc)
                if isinstance(exc, AuthError):
                    data.connection, data.error = describe_error(exc)
            await asyncio.sleep(delay)
            delay = min(MAX_BACKOFF, delay * 2)

    def take_event(self, event: Event, data: NodeData | None = None) -> None:
        """Fold one server event into what the screens show."""
        data = data or self.node
        if data is not self.node:
            return  # a late event from a node that is no longer current
        if event.type == GAP_EVENT:
            # We missed some: the next poll reloads the whole picture.
            self.action_refresh_now()
            return
        data.events.append(event)
        if event.type == CAMERA_STATUS and event.camera is not None:
            self._apply_status(event.camera, event.data.get("status"), event.time, data)
        self._show_data()

    def _apply_status(
        self, camera_id: str, status: object, when: datetime, data: NodeData | None = None
    ) -> None:
        data = data or self.node
        try:
            new = CameraStatus(str(status))
        except ValueError:
            return
        for i, cam in enumerate(data.cameras):
            # A replayed old event must not overwrite a fresher poll.
            if cam.id == camera_id and (cam.status_since is None or when >= cam.status_since):
                data.cameras[i] = cam.model_copy(update={"status": new, "status_since": when})

    async def _poll_fleet(self) -> None:
        """The fleet's node list, from the current node or else the first that answers:
        any node reads it from the same store."""
        order = [self._current, *(n for n in self.nodes if n is not self._current)]
        failure: Exception | None = None
        for node in order:
            try:
                fleet = await node.client.fleet_nodes()
            except Exception as exc:  # the next node may answer; the last error is raised
                failure = exc
                continue
            self.fleet, self.fleet_read = fleet, clock.now()
            self._adopt(fleet)
            self._show_data()
            return
        if failure is not None:
            raise failure

    def _fleet_failed(self, exc: Exception) -> None:
        # The last list stays on screen, its heartbeat ages counting on from fleet_read.
        log.debug("fleet node list: %s", exc)

    def _adopt(self, fleet: FleetNodes) -> None:
        """Watch a node that joined the fleet since the console started (same token)."""
        known = {n.name for n in self.nodes}
        for member in fleet_members(fleet).nodes:
            if member.name in known:
                continue
            node = self._new_node(ServerTarget(member.url, self.target.token, member.name))
            self.nodes.append(node)
            self._watch_lightly(node)

    def _stats_failed(self, exc: Exception, node: WatchedNode | None = None) -> None:
        data = (node or self._current).data
        data.connection, data.error = describe_error(exc)
        self._show_data()

    # ---------------------------------------------------------------- nodes

    def node_named(self, name: str) -> WatchedNode | None:
        return next((n for n in self.nodes if n.name == name), None)

    def client_named(self, name: str) -> AsyncCctvClient | None:
        node = self.node_named(name)
        return node.client if node is not None else None

    def _nodes_to_ask(self) -> list[tuple[str, AsyncCctvClient]]:
        # The current node first, then the ones that answered last: a dead node's
        # connect time-out would hold every question up.
        order = [self._current, *(n for n in self.nodes if n is not self._current)]
        order.sort(key=lambda n: n is not self._current and reach(n.data) is Reach.UNREACHABLE)
        return [(n.name, n.client) for n in order]

    async def follow_camera(self, camera_id: str) -> AsyncCctvClient:
        """The client of the node that records ``camera_id`` now, made current (screens
        stay where they are) so the camera's figures and events come from it; without a
        fleet, the current node's. Raises :class:`CctvError` (one line naming the node)
        when that node cannot be reached or no node records the camera."""
        if not self.fleet_mode:
            return self.client
        routed = await self.router.route_camera(camera_id)
        node = self.node_named(routed.node)
        if node is not None and node is not self._current:
            self.switch_node(node, home=False)
        return routed.client

    def make_current(self, name: str) -> bool:
        """Switch to the watched node ``name``; False when none is watched by that name."""
        node = self.node_named(name)
        if node is None:
            return False
        self.switch_node(node)
        return True

    def switch_node(self, node: WatchedNode, *, home: bool = True) -> None:
        """Make ``node`` current: full polling moves to it, and the console goes home
        unless ``home`` is False (a camera of the fleet followed to its node)."""
        if node is self._current:
            if home:
                self.action_home()
            return
        old = self._current
        if self._stats is not None:
            self._stats.stop()
            self._stats = None
        self.workers.cancel_group(self, "stats")
        self.workers.cancel_group(self, "events")
        self._current = node
        self.target, self.node, self.client = node.target, node.data, node.client
        self._set_role(node.role)
        self._watch_lightly(old)
        self._watch_fully(node)
        if home:
            self.action_home()
        self._show_data()

    def action_next_node(self, step: int = 1) -> None:
        if not self.several_nodes:
            self.notify("only one node is watched", title="node", severity="warning")
            return
        i = self.nodes.index(self._current)
        self.switch_node(self.nodes[(i + step) % len(self.nodes)])

    def _tick_age(self) -> None:
        """While the figures are not live the header's age keeps counting; the moment they
        turn stale (or live again) every visible screen re-draws, dimmed or not."""
        stale = self.node.is_stale()
        if stale != self._stale:
            self._stale = stale
            self._show_data()
        elif stale or self.node.connection is not Connection.ONLINE:
            for screen in self._visible_screens():
                screen.refresh_header()

    def _visible_screens(self) -> list[CctvScreen]:
        # Only what can be seen: a screen hidden under another one would still repaint the
        # whole terminal through it. Hidden screens catch up in on_screen_resume.
        shown = []
        for screen in reversed(self.screen_stack):
            if isinstance(screen, CctvScreen) and screen.is_mounted:
                shown.append(screen)
            if not isinstance(screen, ModalScreen):
                break
        return shown

    def _show_data(self) -> None:
        self._stale = self.node.is_stale()
        for screen in self._visible_screens():
            screen.refresh_data()

    # ---------------------------------------------------------------- actions

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        scope = getattr(self.screen, "SCOPE", Scope.GLOBAL)
        self.push_screen(
            HelpScreen(scope, self.role, self.readonly, self.several_nodes, self.help_note)
        )

    def action_refresh_now(self) -> None:
        if self._stats is not None:
            self._stats.poke()

    def action_exports(self) -> None:
        self._switch_to(ExportsScreen)

    def action_events(self) -> None:
        self._switch_to(EventsScreen)

    def action_nodes(self) -> None:
        self._switch_to(NodesScreen)

    def _switch_to(self, kind: type[CctvScreen]) -> None:
        """Open a singleton screen, or go back to it if it is already in the stack."""
        if isinstance(self.screen, kind):
            return
        below = [i for i, screen in enumerate(self.screen_stack) if isinstance(screen, kind)]
        if below:
            # Back down to the one already open rather than stacking a second copy.
            for _ in range(len(self.screen_stack) - 1 - below[-1]):
                self.pop_screen()
            return
        self.push_screen(kind())

    def action_command_line(self) -> None:
        if isinstance(self.screen, CommandLine):
            return
        # Run it once the prompt is gone, so "home" or "exports" act on the real stack.
        names = [n.name for n in self.nodes] if self.several_nodes else []
        self.push_screen(CommandLine(self.node, names), self._after_command_line)

    def _after_command_line(self, text: str | None) -> None:
        self.call_after_refresh(self._run_command_line, text)

    async def _run_command_line(self, text: str | None) -> None:
        if not text:
            return
        outcome = resolve(text, self.node, [n.name for n in self.nodes])
        if outcome.missing_camera is not None and self.fleet_mode:
            await self._open_fleet_camera(outcome.missing_camera, outcome.error or "")
            return
        if outcome.error is not None:
            self.notify(outcome.error, title="command", severity="error")
            return
        if outcome.node is not None:
            node = self.node_named(outcome.node)
            if node is not None:
                self.switch_node(node)
        elif outcome.kecamatan:
            self.open_kecamatan(*outcome.kecamatan)
        elif outcome.camera is not None:
            self.open_camera(outcome.camera)
        elif outcome.action is not None:
            await self.run_action(outcome.action)

    def action_home(self) -> None:
        stack = self.screen_stack
        home = next((i for i, s in enumerate(stack) if isinstance(s, OverviewScreen)), None)
        if home is not None:
            for _ in range(len(stack) - 1 - home):
                self.pop_screen()

    def action_offline(self) -> None:
        self.push_screen(GridScreen("offline cameras", lambda c: c.status is CameraStatus.OFFLINE))

    def open_kecamatan(self, *slugs: str) -> None:
        names = {k.slug: k.name for k in self.node.kecamatan}
        if self.fleet_mode:
            names |= {k.slug: k.name for k in merge_kecamatan(self.watched_nodes(), self.fleet)}
        title = " + ".join(names.get(slug, slug) for slug in slugs)
        if self.fleet_mode and len(slugs) == 1:
            # Every node's cameras of it, each from the node that records it now.
            self.push_screen(FleetGridScreen(title, slugs[0]))
            return
        wanted = set(slugs)
        self.push_screen(GridScreen(title, lambda c: c.kecamatan_slug in wanted))

    async def _open_fleet_camera(self, camera_id: str, not_here: str) -> None:
        """A camera the current node does not list: make the node that records it now
        current (the store's lease, else the first node that knows the camera), then open
        it. Its node out of reach: the camera is unknown, and the console says so."""
        holder: str | None = None
        in_fleet = True  # whether the camera may be on a node out of reach
        try:
            where = await self.client.fleet_where(camera_id)
        except NotFound:
            # Neither the fleet's inventory, its leases nor its catalogue know it; a node
            # recording from its own file (no fleet inventory yet) may still have it.
            in_fleet = False
        except CctvError as exc:  # the store may be down: the nodes themselves still answer
            log.debug("fleet where %s: %s", camera_id, exc)
        else:
            if where.lease is not None and where.lease.live:
                holder = where.lease.node
        candidates = [n for n in self.nodes if n is not self._current]
        if holder is not None:
            candidates = [n for n in candidates if n.name == holder]
        out_of_reach = [n.name for n in candidates if reach(n.data) is Reach.UNREACHABLE]
        for node in candidates:
            if node.name in out_of_reach:
                continue
            try:
                await node.client.camera(camera_id)
            except CctvError:
                continue
            self.switch_node(node)
            self.open_camera(camera_id)
            return
        if holder is not None and self.node_named(holder) is None:
            out_of_reach.append(holder)  # recorded by a node this console does not watch
        if out_of_reach and in_fleet:
            nodes = ", ".join(out_of_reach)
            self.notify(f"{camera_id}: {UNKNOWN}: {nodes}", title="camera", severity="warning")
        else:
            self.notify(not_here, title="command", severity="error")

    def open_camera(self, camera_id: str) -> None:
        if not self.fleet_mode:
            self.push_screen(CameraScreen(camera_id))
            return
        self.run_worker(self._open_routed(camera_id), group="open-camera", exit_on_error=False)

    async def _open_routed(self, camera_id: str) -> None:
        """A camera of the fleet opens on the node that records it now."""
        try:
            await self.follow_camera(camera_id)
        except CctvError as exc:
            self.notify(str(exc), title="camera", severity="warning")
            return
        self.push_screen(CameraScreen(camera_id))


def _as_host(app: CctvApp) -> ConsoleHost:
    # mypy checks here that the app offers what screens ask of it (tui/host.py).
    return app
