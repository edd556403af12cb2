"""``--fleet``: one server names its fleet's nodes, and each is then asked directly.

The console and the CLI speak only HTTP: the node given (a context or ``--url``) answers
``/api/v1/fleet/nodes`` from the fleet store, and every node listed there is a target of
its own, with the same token, for live data.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from cctvctl.cli import exit_codes
from cctvctl.cli.common import ask
from cctvctl.cli.contexts import Target
from cctvctl.cli.output import error

if TYPE_CHECKING:
    from cctvctl.client import AsyncCctvClient
    from cctvctl.models import FleetNodes

__all__ = ["fleet_targets"]


async def _nodes(client: AsyncCctvClient) -> FleetNodes:
    return await client.fleet_nodes()


def fleet_targets(
    given: Target, utc: bool = False, *, answered_first: bool = False
) -> list[Target]:
    """Every running node of ``given``'s fleet as a target; exits with ``given``'s error
    (a single node is 2, an unreachable store 1) or 1 when the fleet lists no node to ask.
    A node that stopped cleanly is named on stderr and not asked: its cameras are with
    their failover nodes, so it is neither a failure nor unknown.
    ``answered_first``: the node that answered leads (the console shows it first)."""
    import typer

    from cctvctl.client import fleet_members
    from cctvctl.termsafe import escape_controls

    (result,) = ask([given], _nodes, loop_free=True, utc=utc)
    fleet = result.value
    assert fleet is not None
    members = fleet_members(fleet, answered_first=answered_first)
    for line in members.left_out:
        error(line)
    for name in members.stopped:
        print(
            f"cctvctl: {escape_controls(name)}: stopped (left the fleet cleanly); not asked",
            file=sys.stderr,
        )
    found = [
        Target(node.name, node.url, given.token, context=given.context, source=given.source)
        for node in members.nodes
    ]
    if not found and members.stopped:
        error(f"{given.name}: every node of the fleet is stopped")
        raise typer.Exit(exit_codes.FAILURE)
    if not found:
        error(f"{given.name}: the fleet store lists no node yet; nodes register by heartbeat")
        raise typer.Exit(exit_codes.FAILURE)
    return found
