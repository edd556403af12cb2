"""`cctvctl tui`: the Textual console for one server, or several (``--context`` repeated,
``--all-contexts``, or ``--fleet``: every node of the given node's fleet).

Textual is imported inside the command so other commands do not pay for it at start-up.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cctvctl.cli.common import fail_usage, servers
from cctvctl.cli.context_cmd import target
from cctvctl.cli.contexts import CONTEXT_ENV, Target
from cctvctl.cli.options import AllContextsOpt, AsciiOpt, FleetOpt, TokenOpt, UrlOpt

__all__ = ["tui"]


ContextsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--context",
        help=f"Use this named context (default: ${CONTEXT_ENV}, then the current one). "
        "Repeat it to watch several nodes; the first is shown first.",
        show_default=False,
    ),
]


def chosen_targets(
    contexts: list[str] | None,
    url: str | None,
    token: str | None,
    all_contexts: bool,
    fleet: bool = False,
) -> list[Target]:
    """The nodes to watch: one (flags > env > current context), some, every context, or
    (``fleet``) every node of the one node's fleet, that node first."""
    names = list(dict.fromkeys(contexts or ()))  # in order, without repeats
    if fleet:
        if all_contexts or len(names) > 1:
            fail_usage("--fleet asks one node for its fleet; give one --context or --url")
        from cctvctl.cli.fleet_nodes import fleet_targets

        return fleet_targets(target(names[0] if names else None, url, token), answered_first=True)
    if all_contexts:
        return servers(names[0] if names else None, url, token, True)
    if len(names) <= 1:
        return [target(names[0] if names else None, url, token)]
    if url or token:
        fail_usage("several --context each use their own URL and token; drop --url and --token")
    return [target(name, None, None) for name in names]


def tui(
    context: ContextsOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    all_contexts: AllContextsOpt = False,
    fleet: FleetOpt = False,
    readonly: Annotated[
        bool, typer.Option("--readonly", help="Turn off every action that changes anything.")
    ] = False,
    ascii_: AsciiOpt = False,
    refresh: Annotated[
        float,
        typer.Option("--refresh", help="Seconds between stats polls.", metavar="SECONDS"),
    ] = 2.0,
    max_kbps: Annotated[
        float | None,
        typer.Option(
            "--max-kbps",
            help="KB/s the grid's pictures may use: a busy tile waits its turn beyond it "
            "(default 6.5 in 256 colours, 1.5 with --ascii, none in truecolor; 0: no limit).",
            metavar="KBPS",
        ),
    ] = None,
) -> None:
    """The NOC console: kecamatan overview, camera grid, camera detail.

    Example: cctvctl tui --context sangatta --ascii

    With several nodes (--context a --context b, or --all-contexts) the header shows each
    one's state; ] and [ or `:node NAME` switch the node the screens show.

    With --fleet the node given names its fleet's nodes and the console watches them all:
    one overview of every kecamatan, and N lists the nodes.
    """
    if refresh <= 0:
        fail_usage("--refresh must be more than 0 seconds")
    if max_kbps is not None and max_kbps < 0:
        fail_usage(f"--max-kbps {max_kbps:g}: must be 0 (no limit) or more")
    first, *rest = chosen_targets(context, url, token, all_contexts, fleet)

    from cctvctl.tui.app import CctvApp
    from cctvctl.tui.data import ServerTarget

    CctvApp(
        first.url,
        first.token,
        first.name,
        readonly=readonly,
        ascii=ascii_,
        refresh=refresh,
        budget_kbps=max_kbps,
        more=[ServerTarget(t.url, t.token, t.name) for t in rest],
        fleet=fleet,
    ).run()
