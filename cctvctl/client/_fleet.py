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
    first among them, and a line for each row left out."""

    nodes: list[FleetNode] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)


def fleet_members(fleet: FleetNodes, *, answered_first: bool = False) -> FleetMembers:
    """Every node with an http(s) URL, in the store's order (with ``answered_first``, the
    node that answered moved to the front: the one the operator named)."""
    usable: list[FleetNode] = []
    left_out: list[str] = []
    for node in fleet.nodes:
        if node.url.startswith(("http://", "https://")):
            usable.append(node)
        else:
            # A store row is not a front end's to trust: say which node is left out and why.
            left_out.append(
                f"{escape_controls(node.name)}: the fleet store gives no http(s) URL; left out"
            )
    if answered_first:
        usable.sort(key=lambda n: n.name != fleet.node)  # stable: the rest keep their order
    return FleetMembers(usable, left_out)
