"""The Textual console: one server, polled live, overview → grid → camera."""

from __future__ import annotations

import os
from typing import ClassVar

from textual.app import App
from textual.binding import BindingType

from cctvctl.client import AsyncCctvClient
from cctvctl.models import CameraStatus
from cctvctl.render import Depth, Mode, detect_depth
from cctvctl.tui.commands import CommandProvider, Role, Scope, bindings_for
from cctvctl.tui.data import NodeData, Poller, ServerTarget, describe_error, fetch_node
from cctvctl.tui.screens.base import CctvScreen
from cctvctl.tui.screens.camera import CameraScreen
from cctvctl.tui.screens.grid import GridScreen
from cctvctl.tui.screens.help import HelpScreen
from cctvctl.tui.screens.overview import OverviewScreen

__all__ = ["CctvApp"]


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
    ) -> None:
        super().__init__()
        self.target = ServerTarget(url, token, name or url)
        self.readonly = readonly
        self.role = role
        self.mode = Mode.ASCII if ascii else Mode.HALF_BLOCK
        self.refresh_seconds = refresh
        self.node = NodeData(self.target)
        self.client = AsyncCctvClient(url, token, name=self.target.name)
        self._stats: Poller | None = None

    @property
    def depth(self) -> Depth:
        if self.mode is Mode.ASCII:
            return Depth.NONE
        return detect_depth(
            self.console.color_system, no_color=self.no_color, environ=dict(os.environ)
        )

    def on_mount(self) -> None:
        self.push_screen(OverviewScreen())
        self._stats = Poller(
            self, self._poll_stats, self.refresh_seconds, on_error=self._stats_failed, name="stats"
        )
        self._stats.start()

    async def on_unmount(self) -> None:
        if self._stats is not None:
            self._stats.stop()
        await self.client.aclose()

    async def _poll_stats(self) -> None:
        await fetch_node(self.client, self.node)
        self._show_data()

    def _stats_failed(self, exc: Exception) -> None:
        self.node.connection, self.node.error = describe_error(exc)
        self._show_data()

    def _show_data(self) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, CctvScreen) and screen.is_mounted:
                screen.refresh_data()

    # ---------------------------------------------------------------- actions

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        scope = getattr(self.screen, "SCOPE", Scope.GLOBAL)
        self.push_screen(HelpScreen(scope, self.role, self.readonly))

    def action_refresh_now(self) -> None:
        if self._stats is not None:
            self._stats.poke()

    def action_offline(self) -> None:
        self.push_screen(GridScreen("offline cameras", lambda c: c.status is CameraStatus.OFFLINE))

    def open_kecamatan(self, slug: str) -> None:
        name = next((k.name for k in self.node.kecamatan if k.slug == slug), slug)
        self.push_screen(GridScreen(name, lambda c: c.kecamatan_slug == slug))

    def open_camera(self, camera_id: str) -> None:
        self.push_screen(CameraScreen(camera_id))
