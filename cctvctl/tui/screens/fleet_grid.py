"""A kecamatan's grid over a fleet: every camera from the node that records it now.

The store's placement (``/fleet/placement``) says which node records each camera; each of
those nodes is asked for its cameras of the kecamatan, and each tile's picture comes from
its own node. A camera whose node does not answer is unknown (node unreachable), never
offline. With the store out of reach, the nodes that serve the kecamatan still say what
they record.
"""

from __future__ import annotations

import asyncio
import logging
import time

from cctvctl.client import AsyncCctvClient, CctvError, NotFound
from cctvctl.models import Camera, FleetPlacement
from cctvctl.termsafe import escape_controls
from cctvctl.tui.data import STALE_POLLS, Poller
from cctvctl.tui.fleet_view import GridCamera, fleet_cameras, merge_kecamatan
from cctvctl.tui.screens.grid import GridScreen
from cctvctl.tui.widgets.tile import Tile

__all__ = ["FleetGridScreen"]

log = logging.getLogger(__name__)


class FleetGridScreen(GridScreen):
    def __init__(self, title: str, slug: str) -> None:
        super().__init__(title, lambda camera: camera.kecamatan_slug == slug)
        self.slug = slug
        self.placement: FleetPlacement | None = None
        self.answers: dict[str, list[Camera] | None] = {}
        self._store_error: str | None = None
        self._fetched: float | None = None  # monotonic time of the last complete fetch
        self._fleet_poll: Poller | None = None

    def on_mount(self) -> None:
        super().on_mount()
        self._fleet_poll = Poller(
            self, self._fetch_fleet, self.cctv.refresh_seconds, name="fleet-grid"
        )
        self._fleet_poll.start()

    def on_unmount(self) -> None:
        super().on_unmount()
        if self._fleet_poll is not None:
            self._fleet_poll.stop()

    def on_screen_suspend(self) -> None:
        super().on_screen_suspend()
        if self._fleet_poll is not None:
            self._fleet_poll.stop()

    def on_screen_resume(self) -> None:
        if self._fleet_poll is not None:
            self._fleet_poll.start()
        super().on_screen_resume()

    def _nodes_to_ask(self) -> list[str]:
        """The nodes the placement puts a camera of the kecamatan on; without one (the
        store down, or no fleet inventory yet: nodes recording their own files) every
        node serving the kecamatan."""
        if self.placement is not None and self.placement.cameras:
            return list(dict.fromkeys(p.node for p in self.placement.cameras if p.node))
        merged = merge_kecamatan(self.cctv.watched_nodes(), self.cctv.fleet)
        row = next((k for k in merged if k.slug == self.slug), None)
        if row is not None:
            return list(row.nodes)
        return [d.target.name for d in self.cctv.watched_nodes()]

    async def _fetch_fleet(self) -> None:
        try:
            self.placement = await self.cctv.router.placement(self.slug)
            self._store_error = None
        except CctvError as exc:  # the nodes still say what they record
            self.placement = None
            self._store_error = escape_controls(exc.detail)
            log.debug("fleet placement: %s", exc)

        async def cameras(name: str) -> tuple[str, list[Camera] | None]:
            client = self.cctv.client_named(name)
            if client is None:
                return name, None  # a node this console does not watch: out of its reach
            try:
                return name, await client.cameras(kecamatan=self.slug)
            except NotFound:
                return name, []  # a node whose inventory lacks the kecamatan records none
            except CctvError as exc:
                log.debug("fleet grid: %s", exc)
                return name, None

        self.answers = dict(await asyncio.gather(*(cameras(n) for n in self._nodes_to_ask())))
        self._fetched = time.monotonic()
        self.refresh_data()

    def entries(self) -> list[GridCamera]:
        return fleet_cameras(self.slug, self.placement, self.answers)

    def _selected(self, entry: GridCamera) -> bool:
        return True  # every entry is of this kecamatan already

    def client_for(self, tile: Tile) -> AsyncCctvClient:
        node = tile.entry.node
        client = self.cctv.client_named(node) if node is not None else None
        return client or self.cctv.client

    def is_stale(self) -> bool:
        if self._fetched is None:
            return False
        age = time.monotonic() - self._fetched
        return age > STALE_POLLS * max(self.cctv.refresh_seconds, 1.0)

    def pager_note(self) -> str:
        out = [name for name, cameras in self.answers.items() if cameras is None]
        note = f" · {', '.join(out)} unreachable" if out else ""
        if self._store_error is not None:
            note += " · fleet store: no answer"
        return escape_controls(note)
