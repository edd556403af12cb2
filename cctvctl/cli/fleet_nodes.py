"""``--fleet``: one server names its fleet's nodes, and each is then asked directly.

The console and the CLI speak only HTTP: the node given (a context or ``--url``) answers
``/api/v1/fleet/nodes`` from the fleet store, and every node listed there is a target of
its own, with the same token, for live data.
"""

from __future__ import annotations

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


def fleet_targets(given: Target, utc: bool = False) -> list[Target]:
    """Every node of ``given``'s fleet as a target; exits with ``given``'s error (a
    single node is 2, an unreachable store 1) or 1 when the fleet lists no node."""
    import typer

    from cctvctl.termsafe import escape_controls

    (result,) = ask([given], _nodes, loop_free=True, utc=utc)
    fleet = result.value
    assert fleet is not None
    found: list[Target] = []
    for node in fleet.nodes:
        if not node.url.startswith(("http://", "https://")):
            # A store row is not this CLI's to trust: say which node is left out and why.
            error(f"{escape_controls(node.name)}: the fleet store gives no http(s) URL; left out")
            continue
        found.append(
            Target(node.name, node.url, given.token, context=given.context, source=given.source)
        )
    if not found:
        error(f"{given.name}: the fleet store lists no node yet; nodes register by heartbeat")
        raise typer.Exit(exit_codes.FAILURE)
    return found
