"""Which node records a camera now, so a front end can act on it without the operator
knowing or choosing.

The fleet is asked every time (:meth:`FleetRouter.route_camera`), never remembered: a
failover or a handback moves a camera within a lease, and an answer kept would send an
export or a reboot to a node that no longer records it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cctvctl.client._api import AsyncCctvClient
from cctvctl.client._errors import CctvError, NotFound, Unreachable
from cctvctl.models import CameraWhere, FleetPlacement

__all__ = ["UNKNOWN", "FleetRouter", "NodeClients", "Routed"]

#: What a camera is whose node cannot be reached: never "offline", which would be a claim
#: about the camera that nobody can make.
UNKNOWN = "unknown (node unreachable)"

#: Every node the caller can ask, as (name, client), in the order to ask them.
NodeClients = Callable[[], Sequence[tuple[str, AsyncCctvClient]]]


@dataclass(frozen=True)
class Routed:
    """The node that records ``camera`` now, and the client to ask it with."""

    camera: str
    node: str
    client: AsyncCctvClient


class FleetRouter:
    """Routes a camera to its recording node, over the nodes ``nodes()`` gives.

    The fleet's answers (``/fleet/where``, ``/fleet/placement``) come from the first node
    that gives one: every node reads the same store.
    """

    def __init__(self, nodes: NodeClients) -> None:
        self._nodes = nodes

    async def placement(self, kecamatan: str | None = None) -> FleetPlacement:
        """Where each camera (of ``kecamatan``) is recorded now; the last node's error
        when none answers."""
        failure: CctvError | None = None
        for _, client in self._nodes():
            try:
                return await client.fleet_placement(kecamatan)
            except CctvError as exc:  # the next node may reach the store
                failure = exc
        raise failure or Unreachable("fleet", "no node to ask")

    async def _where(self, camera_id: str) -> CameraWhere | None:
        for _, client in self._nodes():
            try:
                return await client.fleet_where(camera_id)
            except CctvError:
                # The store down (503), this node not in a fleet or the camera not in its
                # inventory (404): the nodes themselves still say what they record.
                continue
        return None

    async def route_camera(self, camera_id: str) -> Routed:
        """The node that records ``camera_id`` now: the live lease's holder, once it
        confirms it lists the camera; otherwise (the store down, the lease run out or
        moved on, a node recording from its own file) the node that lists the camera.

        Raises :class:`Unreachable` naming the node when the camera's node cannot be
        reached (the camera is :data:`UNKNOWN`), :class:`NotFound` when no node has it.
        """
        nodes = list(self._nodes())
        where = await self._where(camera_id)
        lease = where.lease if where is not None else None
        holder = lease.node if lease is not None else None
        if lease is not None and lease.live:
            client = dict(nodes).get(lease.node)
            if client is None:
                raise Unreachable(lease.node, f"{camera_id}: {UNKNOWN}: no address for the node")
            try:
                await client.camera(camera_id)
            except NotFound:
                pass  # a handover under way: whoever lists it records it
            except CctvError as exc:
                raise Unreachable(lease.node, f"{camera_id}: {UNKNOWN}: {exc.detail}") from exc
            else:
                return Routed(camera_id, lease.node, client)
        for name, client in nodes:
            if name == holder and lease is not None and lease.live:
                continue  # asked above
            try:
                await client.camera(camera_id)
            except CctvError:
                continue
            # A fleet node lists only the cameras it records.
            return Routed(camera_id, name, client)
        if holder is not None:
            raise Unreachable(
                holder,
                f"{camera_id}: {UNKNOWN}: no node that answers records it yet "
                "(a failover node takes it once its lease runs out)",
            )
        raise NotFound("fleet", f"{camera_id}: no node records it now")
