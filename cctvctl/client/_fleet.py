"""A fleet's nodes as targets: one node names them, and each is then asked directly.

The CLI (``--fleet``) and the console (``cctvctl tui --fleet``) both start from one node's
``/api/v1/fleet/nodes`` answer; which of its rows can be asked, and why a row is left out,
is decided here once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cctvctl.termsafe import escape_controls

if TYPE_CHECKING:
    from cctvctl.models import FleetNode, FleetNodes

__all__ = ["FleetMembers", "fleet_members"]


@dataclass(frozen=True)
class FleetMembers:
    """The nodes of one ``/fleet/nodes`` answer that can be asked, the one that answered
    first among them, a line for each row left out, and the nodes not asked because they
    stopped cleanly (their cameras are with their failover nodes, not unknown)."""

    nodes: list[FleetNode] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)


def fleet_members(fleet: FleetNodes, *, answered_first: bool = False) -> FleetMembers:
    """Every running node with an http(s) URL, in the store's order (with
    ``answered_first``, the node that answered moved to the front: the one the operator
    named). A node that left the fleet cleanly is not asked; one that returns is alive
    again at its first heartbeat."""
    usable: list[FleetNode] = []
    left_out: list[str] = []
    stopped: list[str] = []
    for node in fleet.nodes:
        if node.stopped is not None and not node.alive:
            stopped.append(node.name)
        elif node.url.startswith(("http://", "https://")):
            usable.append(node)
        else:
            # A store row is not a front end's to trust: say which node is left out and why.
            left_out.append(
                f"{escape_controls(node.name)}: the fleet store gives no http(s) URL; left out"
            )
    if answered_first:
        usable.sort(key=lambda n: n.name != fleet.node)  # stable: the rest keep their order
    return FleetMembers(usable, left_out, stopped)
