"""`cctvctl case hold|release|show`: a case's legal hold on its evidence in the vault.

A hold keeps every vault object of the case (each export's clip and manifest) from being
deleted, even past its retention date, until it is released. Holding and releasing need
the admin role and are audited; `show` needs operator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cctvctl.cli.common import jsonable, out_console
from cctvctl.cli.jobs import connect, failing
from cctvctl.cli.options import ServerOptions, server_options
from cctvctl.cli.output import print_json
from cctvctl.termsafe import for_terminal
from cctvctl.timeparse import format_time

if TYPE_CHECKING:
    from cctvctl.models import CaseHold

__all__ = ["app"]

app = typer.Typer(
    help="A case's legal hold on its exports in the evidence vault (admin).",
    no_args_is_help=True,
)

CaseArg = Annotated[
    str, typer.Argument(help="The case number, e.g. LP/123/XI/2026.", metavar="CASE")
]
ReasonOpt = Annotated[
    str | None, typer.Option("--reason", help="Why, for the audit log (e.g. a court order).")
]


def _show(opts: ServerOptions, hold: CaseHold, verb: str) -> None:
    if opts.json:
        print_json(jsonable(hold))
        return
    from rich.text import Text

    hold = for_terminal(hold)
    out = out_console(opts.no_color)
    state = "HELD" if hold.held else "not held"
    lines = [f"case      {hold.case_id}: {state}{verb}"]
    if hold.held and hold.since is not None:
        lines.append(f"since     {format_time(hold.since, utc=opts.utc)} by {hold.by}")
    if hold.reason:
        lines.append(f"reason    {hold.reason}")
    lines.append(
        f"exports   {len(hold.jobs)} in the vault: {hold.applied} of {hold.objects} objects "
        "as asked"
    )
    if hold.pending:
        lines.append(
            f"pending   {hold.pending} (the store is unreachable or a copy is not stored "
            "yet); applied as soon as it can be"
        )
    for line in lines:
        out.print(Text(line), overflow="fold")


@app.command("hold")
@server_options()
def hold(case: CaseArg, reason: ReasonOpt = None, *, opts: ServerOptions) -> None:
    """Put a legal hold on every vault object of CASE (admin; audited).

    Example: cctvctl case hold LP/123/XI/2026 --reason "court order 12/2026"

    Exports of the case stored later are stored held. JSON: CaseHold.
    """
    with failing(opts.utc), connect(opts) as client:
        answer = client.hold_case(case, reason)
    _show(opts, answer, "")


@app.command("release")
@server_options()
def release(case: CaseArg, reason: ReasonOpt = None, *, opts: ServerOptions) -> None:
    """Lift the legal hold of CASE (admin; audited); retention dates still apply.

    Example: cctvctl case release LP/123/XI/2026 --reason "case closed"

    JSON: CaseHold.
    """
    with failing(opts.utc), connect(opts) as client:
        answer = client.release_case(case, reason)
    _show(opts, answer, " (released)" if not answer.held else "")


@app.command("show")
@server_options()
def show(case: CaseArg, *, opts: ServerOptions) -> None:
    """Whether CASE is held, since when, and how many of its vault objects the store has
    as asked (operator). JSON: CaseHold."""
    with failing(opts.utc), connect(opts) as client:
        answer = client.case_hold(case)
    _show(opts, answer, "")
