"""`cctvctl tui`: the Textual console for one server.

Textual is imported inside the command so other commands do not pay for it at start-up.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cctvctl.cli.common import fail_usage
from cctvctl.cli.context_cmd import ContextOpt, TokenOpt, UrlOpt, target

__all__ = ["register", "tui"]


def register(app: typer.Typer) -> None:
    app.command("tui")(tui)


def tui(
    context: ContextOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    readonly: Annotated[
        bool, typer.Option("--readonly", help="Turn off every action that changes anything.")
    ] = False,
    ascii_: Annotated[
        bool, typer.Option("--ascii", help="Monochrome ASCII thumbnails, for thin links.")
    ] = False,
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
    """
    if refresh <= 0:
        fail_usage("--refresh must be more than 0 seconds")
    if max_kbps is not None and max_kbps < 0:
        fail_usage(f"--max-kbps {max_kbps:g}: must be 0 (no limit) or more")
    chosen = target(context, url, token)

    from cctvctl.tui.app import CctvApp

    CctvApp(
        chosen.url,
        chosen.token,
        chosen.name,
        readonly=readonly,
        ascii=ascii_,
        refresh=refresh,
        budget_kbps=max_kbps,
    ).run()
