"""`cctvctl audit`: who exported or rebooted what, when, why, and how it ended."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Final

import typer

from cctvctl.cli.common import (
    ask,
    exit_code,
    out_console,
    print_results_json,
    since_until,
    zone_name,
)
from cctvctl.cli.options import ServerOptions, server_options
from cctvctl.cli.output import Column, Priority, print_table
from cctvctl.termsafe import for_terminal
from cctvctl.timeparse import WITA, format_time

if TYPE_CHECKING:
    from cctvctl.client import AsyncCctvClient, NodeResult
    from cctvctl.models import AuditEntry

__all__ = ["audit"]

MAX_LIMIT: Final = 10000


@server_options(every_context=True, fleet=True)
def audit(
    since: Annotated[
        str,
        typer.Option(
            "--since",
            help="From: 24h, -15m, 14:00, 'yesterday 14:00', '2026-11-28 14:00' (WITA), RFC 3339.",
        ),
    ] = "24h",
    until: Annotated[str, typer.Option("--until", help="Until, same forms as --since.")] = "now",
    action: Annotated[
        str | None,
        typer.Option(
            "--action",
            help="Only this action (export.request, export.download, export.cancel, reboot, "
            "reboot.bulk, reboot.dry_run, reboot.result); 'export.*' or 'reboot.' for a prefix.",
            metavar="ACTION",
        ),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option("--actor", help="Only this token name.", metavar="NAME"),
    ] = None,
    limit: Annotated[
        int,
        typer.Option("--limit", min=1, max=MAX_LIMIT, help="At most this many, the newest."),
    ] = 500,
    wide: Annotated[
        bool, typer.Option("--wide", help="Add the DETAIL column (job ids, byte ranges).")
    ] = False,
    *,
    opts: ServerOptions,
) -> None:
    """The audit log: every export request, download, cancel and reboot, refusals too.

    Example: cctvctl audit --since 'yesterday 00:00' --action 'export.*'

    Oldest first, times in WITA: time, actor (token name), role, action, target, reason
    or case, result. Needs the admin role (exit 4). When --limit rows came back, older
    ones were left out (a note on stderr says so). JSON: [AuditEntry].

    With --fleet, the fleet audit log of every node, read from the one server given
    (oldest first from --since; a NODE column). JSON: [FleetAuditEntry].
    """
    start, end = since_until(since, until, opts.utc)
    if opts.fleet:
        _fleet_audit(opts, start, end, action, actor, limit, wide)
        return
    nodes = opts.nodes()

    async def question(client: AsyncCctvClient) -> list[AuditEntry]:
        return await client.audit(start, end, action=action, actor=actor, limit=limit)

    results = ask(nodes, question, loop_free=True, utc=opts.utc)
    for result in results:
        if result.value is not None and len(result.value) >= limit:
            node = f"{result.name}: " if opts.all_contexts else ""
            print(
                f"cctvctl: note: {node}only the newest {limit} rows are shown; "
                "narrow --since or raise --limit",
                file=sys.stderr,
            )
    if opts.json:
        print_results_json(results, opts.all_contexts)
    else:
        _show(for_terminal(results), start, end, opts.utc, opts.no_color, opts.all_contexts, wide)
    raise typer.Exit(exit_code(results))


def _wanted(entry_action: str, action: str | None) -> bool:
    """The server's own rule: exact, or a prefix when ``action`` ends in ``.`` or ``*``."""
    if action is None:
        return True
    if action.endswith(("*", ".")):
        return entry_action.startswith(action.rstrip("*"))
    return entry_action == action


def _fleet_audit(
    opts: ServerOptions,
    start: datetime,
    end: datetime,
    action: str | None,
    actor: str | None,
    limit: int,
    wide: bool,
) -> None:
    import json

    from cctvctl.cli.common import fail_usage, servers
    from cctvctl.client import NodeResult
    from cctvctl.models import AuditEntry, FleetAuditEntry

    if opts.all_contexts:
        fail_usage("--fleet reads the fleet audit log from one server; drop --all-contexts")

    async def question(client: AsyncCctvClient) -> list[FleetAuditEntry]:
        return await client.fleet_audit(start, limit=limit)

    given = servers(opts.context, opts.url, opts.token, False)
    (result,) = ask(given, question, loop_free=True, utc=opts.utc)
    rows = result.value or []
    if len(rows) >= limit:
        print(
            f"cctvctl: note: only the oldest {limit} rows from --since were read; "
            "narrow --since or raise --limit",
            file=sys.stderr,
        )
    # The store filters by --since only; the rest is applied here, as a node applies it.
    rows = [
        r
        for r in rows
        if r.time < end and _wanted(r.action, action) and (actor is None or r.actor == actor)
    ]
    if opts.json:
        print_results_json([replace(result, value=rows)], False)
        return
    per_node = [
        NodeResult(
            r.node,
            result.url,
            value=[
                AuditEntry(
                    id=0,
                    time=r.time,
                    actor=r.actor,
                    role=r.role,
                    action=r.action,
                    target=r.target,
                    reason=r.reason,
                    case_id=r.case_id,
                    result=r.result,
                    detail=None if r.detail is None else json.dumps(r.detail, ensure_ascii=False),
                )
            ],
        )
        for r in rows
    ]
    shown = per_node or [NodeResult[list[AuditEntry]](result.name, result.url, value=[])]
    _show(for_terminal(shown), start, end, opts.utc, opts.no_color, True, wide)


def _show(
    results: Sequence[NodeResult[list[AuditEntry]]],
    start: datetime,
    end: datetime,
    utc: bool,
    no_color: bool,
    multi: bool,
    wide: bool,
) -> None:
    from rich.text import Text

    from cctvctl.views import audit_cells

    out = out_console(no_color)
    rows = [(r.name, e) for r in results if r.value is not None for e in r.value]
    if not any(r.value is not None for r in results):
        return
    span = f"from {format_time(start, utc=utc)} to {format_time(end, utc=utc)}"
    if not rows:
        out.print(f"no audit rows {span}", highlight=False)
        return
    zone = UTC if utc else WITA
    columns = [
        *([Column("NODE", Priority.IDENTITY)] if multi else []),
        Column(f"TIME ({zone_name(utc)})", Priority.IDENTITY),
        Column("ACTOR"),
        Column("ROLE"),
        Column("ACTION", Priority.IDENTITY),
        Column("TARGET", Priority.IDENTITY),
        Column("REASON/CASE"),
        Column("RESULT", Priority.STATUS),
        *([Column("DETAIL")] if wide else []),
    ]
    lines: list[list[Text]] = []
    for node, entry in sorted(rows, key=lambda pair: pair[1].time) if multi else rows:
        cells = audit_cells(entry, utc=utc)
        row = [
            Text(cells.time.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")),
            Text(cells.actor),
            Text(cells.role),
            Text(cells.action),
            Text(cells.target),
            Text(cells.why),
            Text(entry.result),  # as the server wrote it: scripts grep the column
        ]
        if wide:
            row.append(Text(cells.detail or ""))
        lines.append([Text(node), *row] if multi else row)
    out.print(Text(f"Audit log {span}: {len(rows)} rows"), overflow="fold")
    print_table(out, columns, lines)
