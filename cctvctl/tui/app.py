"""The Textual console: one server, polled live, overview → grid → camera."""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from textual.app import App
from textual.binding import BindingType
from textual.screen import ModalScreen

from cctvctl.client import GAP_EVENT, AsyncCctvClient, AuthError, NotFound
from cctvctl.models import CameraStatus, Event
from cctvctl.render import Depth, Mode, detect_depth
from cctvctl.tui.budget import DEFAULT_RATES
from cctvctl.tui.commands import CommandProvider, Role, Scope, bindings_for
from cctvctl.tui.data import (
    MAX_BACKOFF,
    NodeData,
    Poller,
    ServerTarget,
    describe_error,
    fetch_node,
)
from cctvctl.tui.screens.base import CctvScreen
from cctvctl.tui.screens.camera import CameraScreen
from cctvctl.tui.screens.command_line import CommandLine, resolve
from cctvctl.tui.screens.events import EventsScreen
from cctvctl.tui.screens.exports import ExportsScreen
from cctvctl.tui.screens.grid import GridScreen
from cctvctl.tui.screens.help import HelpScreen
from cctvctl.tui.screens.overview import OverviewScreen

if TYPE_CHECKING:
    import httpx

__all__ = ["CctvApp"]

log = logging.getLogger(__name__)

CAMERA_STATUS = "camera.status"
REPLAYED_EVENTS = 200  # history the Events screen starts with


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
    ) -> None:
        super().__init__()
        self.target = ServerTarget(url, token, name or url)
        self.readonly = readonly
        self.role = role
        self.mode = Mode.ASCII if ascii else Mode.HALF_BLOCK
        self.refresh_seconds = refresh
        self.budget_kbps = budget_kbps  # None: the default for the colour depth
        self.node = NodeData(self.target)
        # transport: only for tests that answer from fixed data instead of a server.
        self.client = AsyncCctvClient(url, token, name=self.target.name, transport=transport)
        self._stats: Poller | None = None
        self._asked_role = role is not None

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

    def on_mount(self) -> None:
        self.push_screen(OverviewScreen())
        self._stats = Poller(
            self, self._poll_stats, self.refresh_seconds, on_error=self._stats_failed, name="stats"
        )
        self._stats.start()
        self.run_worker(self._follow_events(), name="events", group="events", exit_on_error=False)

    async def on_unmount(self) -> None:
        if self._stats is not None:
            self._stats.stop()
        await self.client.aclose()

    async def _poll_stats(self) -> None:
        if not self._asked_role:
            await self._ask_role()
        await fetch_node(self.client, self.node)
        self._show_data()

    async def _ask_role(self) -> None:
        try:
            identity = await self.client.whoami()
        except NotFound:
            # A server from before /whoami: leave every action to the server to refuse.
            self._asked_role = True
            return
        self.node.identity = identity
        self.role = Role[identity.role.name]
        self._asked_role = True

    async def _follow_events(self) -> None:
        """Status changes as they happen, between (and faster than) the stats polls."""
        delay = 1.0
        while True:
            last = self.node.events[-1].id if self.node.events else None
            try:
                async for event in self.client.events(
                    since=last,
                    last=REPLAYED_EVENTS if last is None else None,
                    max_retries=None,
                ):
                    self.take_event(event)
                    delay = 1.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the console outlives the stream; the header tells
                log.debug("event stream: %s", exc)
                if isinstance(exc, AuthError):
                    self.node.connection, self.node.error = describe_error(exc)
            await asyncio.sleep(delay)
            delay = min(MAX_BACKOFF, delay * 2)

    def take_event(self, event: Event) -> None:
        """Fold one server event into what the screens show."""
        if event.type == GAP_EVENT:
            # We missed some: the next poll reloads the whole picture.
            self.action_refresh_now()
            return
        self.node.events.append(event)
        if event.type == CAMERA_STATUS and event.camera is not None:
            self._apply_status(event.camera, event.data.get("status"), event.time)
        self._show_data()

    def _apply_status(self, camera_id: str, status: object, when: datetime) -> None:
        try:
            new = CameraStatus(str(status))
        except ValueError:
            return
        for i, cam in enumerate(self.node.cameras):
            # A replayed old event must not overwrite a fresher poll.
            if cam.id == camera_id and (cam.status_since is None or when >= cam.status_since):
                self.node.cameras[i] = cam.model_copy(update={"status": new, "status_since": when})

    def _stats_failed(self, exc: Exception) -> None:
        self.node.connection, self.node.error = describe_error(exc)
        self._show_data()

    def _show_data(self) -> None:
        # Only what can be seen: a screen hidden under another one would still repaint the
        # whole terminal through it. Hidden screens catch up in on_screen_resume.
        for screen in reversed(self.screen_stack):
            if isinstance(screen, CctvScreen) and screen.is_mounted:
                screen.refresh_data()
            if not isinstance(screen, ModalScreen):
                break

    # ---------------------------------------------------------------- actions

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        scope = getattr(self.screen, "SCOPE", Scope.GLOBAL)
        self.push_screen(HelpScreen(scope, self.role, self.readonly))

    def action_refresh_now(self) -> None:
        if self._stats is not None:
            self._stats.poke()

    def action_exports(self) -> None:
        self._switch_to(ExportsScreen)

    def action_events(self) -> None:
        self._switch_to(EventsScreen)

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
        self.push_screen(CommandLine(self.node), self._after_command_line)

    def _after_command_line(self, text: str | None) -> None:
        self.call_after_refresh(self._run_command_line, text)

    async def _run_command_line(self, text: str | None) -> None:
        if not text:
            return
        outcome = resolve(text, self.node)
        if outcome.error is not None:
            self.notify(outcome.error, title="command", severity="error")
            return
        if outcome.kecamatan:
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
        title = " + ".join(names.get(slug, slug) for slug in slugs)
        wanted = set(slugs)
        self.push_screen(GridScreen(title, lambda c: c.kecamatan_slug in wanted))

    def open_camera(self, camera_id: str) -> None:
        self.push_screen(CameraScreen(camera_id))
