"""What a screen may ask of the console app that shows it.

Screens reach the app through this protocol rather than importing :class:`CctvApp`: the
app imports every screen to push it, so a screen importing the app back was an import loop
(an import-linter contract keeps it out). :class:`CctvApp` satisfies it; the pilot tests run
the real app.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from cctvctl.client import AsyncCctvClient, FleetRouter
from cctvctl.models import FleetNodes
from cctvctl.render import Depth, Mode
from cctvctl.tui.commands import Role
from cctvctl.tui.data import NodeData, ServerTarget

__all__ = ["ConsoleHost"]


class ConsoleHost(Protocol):
    """The current node's target, data, client and our role there, plus navigation."""

    target: ServerTarget
    node: NodeData
    client: AsyncCctvClient
    role: Role | None
    readonly: bool
    mode: Mode
    fleet_mode: bool  # the nodes are a fleet's (cctvctl tui --fleet)
    fleet: FleetNodes | None
    fleet_read: datetime | None
    router: FleetRouter  # which node records a camera now (asked, never kept)
    refresh_seconds: float

    @property
    def depth(self) -> Depth: ...

    def other_nodes(self) -> list[NodeData]: ...

    def watched_nodes(self) -> list[NodeData]: ...

    def make_current(self, name: str) -> bool: ...

    def client_named(self, name: str) -> AsyncCctvClient | None: ...

    async def follow_camera(self, camera_id: str) -> AsyncCctvClient: ...

    def picture_budget(self) -> float | None: ...

    def open_kecamatan(self, *slugs: str) -> None: ...

    def open_camera(self, camera_id: str) -> None: ...

    def action_exports(self) -> None: ...
