"""Which node should record a camera now: the fleet's placement rules, pure.

Every node computes the same answer from the same inputs (the inventory and the store's
nodes), so no node has to tell another what to do:

- A camera's candidates are its home node, then its ``failover`` list in order. A camera
  with no home (``node`` unset) is homed by the nodes that are home to some other camera
  of its kecamatan, in name order, then its failover list, then every other registered
  node in name order: deterministic, and never left without a candidate while a node lives.
- The camera belongs to its first *live* candidate (a heartbeat younger than the lease,
  and not stopped since: a node that left cleanly is out at once),
  so a failover node takes over only when every candidate before it is dead, and gives
  the camera back as soon as an earlier one lives again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from cctvctl.config import CameraEntry, Inventory
from cctvctl.fleet.records import Node

__all__ = ["candidates", "capacity", "homes", "live_nodes", "owner", "served_kecamatan"]


def live_nodes(nodes: Iterable[Node], now: datetime, lease: timedelta) -> set[str]:
    """Nodes whose heartbeat (on the store's clock, as ``now``) is younger than a lease,
    less those that left cleanly since it (their cameras are free at once)."""
    return {n.name for n in nodes if now - n.heartbeat < lease and n.stopped is None}


def homes(inventory: Inventory) -> dict[str, set[str]]:
    """Node name -> the kecamatan (keys) it is home to a camera of."""
    found: dict[str, set[str]] = {}
    for entry in inventory.cameras():
        if entry.camera.node is not None:
            found.setdefault(entry.camera.node, set()).add(entry.kecamatan.key)
    return found


def served_kecamatan(inventory: Inventory, node: str) -> list[str]:
    """The kecamatan ``node`` is home to cameras of, sorted (what its heartbeat reports)."""
    return sorted(homes(inventory).get(node, set()))


def candidates(
    entry: CameraEntry, registered: Sequence[str], home_of: Mapping[str, set[str]]
) -> list[str]:
    """The nodes that may record the camera, the rightful one first."""
    cam = entry.camera
    if cam.node is not None:
        return [cam.node, *cam.failover]
    local = sorted(n for n, kecamatan in home_of.items() if entry.kecamatan.key in kecamatan)
    order = [*local, *cam.failover, *sorted(registered)]
    return list(dict.fromkeys(order))  # first place wins, order kept


def owner(
    entry: CameraEntry,
    live: set[str],
    registered: Sequence[str],
    home_of: Mapping[str, set[str]],
) -> str | None:
    """The first live candidate of the camera, or None when none of them lives."""
    return next((n for n in candidates(entry, registered, home_of) if n in live), None)


def capacity(inventory: Inventory, node: str) -> int:
    """How many cameras ``node`` may be asked to record: home, failover or homeless ones."""
    return sum(
        1
        for e in inventory.cameras()
        if e.camera.enabled and (e.camera.node in (None, node) or node in e.camera.failover)
    )
