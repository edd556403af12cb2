"""`cctvctl fleet ...`: the fleet as any of its nodes answers it: its nodes, where a camera
is recorded, and new inventory versions (`fleet apply`).

Every command asks one node (a context or --url) over HTTP; the node reads the fleet
store. A server without a [fleet] table answers that it is not in a fleet (exit 2).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final, TypeVar

import typer

from cctvctl.cli import exit_codes
from cctvctl.cli.common import ask, clock, fail_usage, jsonable, out_console, parse_when, zone_name
from cctvctl.cli.options import ServerOptions, server_options
from cctvctl.cli.output import Column, Priority, error, print_json, print_table
from cctvctl.termsafe import for_terminal
from cctvctl.timeparse import format_duration, format_time
from cctvctl.units import counted

if TYPE_CHECKING:
    from rich.text import Text

    from cctvctl.client import AsyncCctvClient, BadRequest
    from cctvctl.models import CameraWhere, FleetNode, FleetNodes, InventoryApplied

__all__ = ["app"]

M = TypeVar("M")

#: What `fleet apply` sends at most; the server takes as much (models.MAX_INVENTORY_BYTES).
MAX_FILE_BYTES: Final = 4 * 1024 * 1024

app = typer.Typer(
    help="The fleet of recording nodes: its nodes, where a camera is recorded, "
    "new inventory versions.",
    no_args_is_help=True,
)


def _answer(
    opts: ServerOptions, question: Callable[[AsyncCctvClient], Awaitable[M]]
) -> tuple[str, M | None]:
    """The one node's name and answer made safe for a terminal, or None once printed as
    --json; a node that fails exits with its one line."""
    (result,) = ask(opts.nodes(), question, loop_free=True, utc=opts.utc)
    assert result.value is not None
    if opts.json:
        print_json(jsonable(result.value))
        return result.name, None
    return for_terminal(result.name), for_terminal(result.value)


@app.command("nodes")
@server_options()
def nodes(*, opts: ServerOptions) -> None:
    """Every node of the fleet: alive, stopped or down, cameras it records now (of those
    it may record), cameras it has taken over from another node, time since it renewed its
    leases, heartbeat and its age, version, kecamatan served and URL.

    Example: cctvctl fleet nodes --context sgu-1

    A node is down when its heartbeat is older than the lease time, stopped when it left
    the fleet cleanly (its leases released at once). JSON: the API's FleetNodes
    (generated, node, lease_seconds, nodes[]).
    """

    async def question(client: AsyncCctvClient) -> FleetNodes:
        return await client.fleet_nodes()

    name, fleet = _answer(opts, question)
    if fleet is None:
        return
    from rich.text import Text

    out = out_console(opts.no_color)
    columns = [
        Column("NODE", Priority.IDENTITY),
        Column("STATE", Priority.STATUS),
        Column("CAMERAS", justify="right"),
        Column("TAKEN", justify="right"),
        Column("LEASE", justify="right"),
        Column(f"HEARTBEAT ({zone_name(opts.utc)})"),
        Column("AGE", justify="right"),
        Column("VERSION"),
        Column("KECAMATAN"),
        Column("URL"),
    ]
    rows = [
        [
            Text(n.name),
            _state(n),
            Text(f"{n.leases}/{n.capacity}"),
            Text(str(len(n.taken_over)), style="yellow" if n.taken_over else ""),
            Text("-" if n.lease_age is None else format_duration(n.lease_age)),
            Text(clock(n.heartbeat, opts.utc, fleet.generated)),
            Text(format_duration(n.heartbeat_age)),
            Text(n.version),
            Text(", ".join(n.kecamatan) or "-"),
            Text(n.url),
        ]
        for n in fleet.nodes
    ]
    down = sum(1 for n in fleet.nodes if not n.alive and n.stopped is None)
    stopped = sum(1 for n in fleet.nodes if not n.alive and n.stopped is not None)
    out.print(
        Text(
            f"{counted(len(fleet.nodes), 'node')}, {down} down"
            + (f", {stopped} stopped" if stopped else "")
            + ", lease "
            f"{fleet.lease_seconds:g} s; asked {fleet.node or name} at "
            f"{format_time(fleet.generated, utc=opts.utc)}"
        ),
        overflow="fold",
    )
    if rows:
        print_table(out, columns, rows)


def _state(node: FleetNode) -> Text:
    from rich.text import Text  # here, as rich is: `--json` never loads it

    if node.alive:
        return Text("alive", style="green")
    if node.stopped is not None:
        # Left cleanly: its cameras went to their failover nodes at once; not a fault.
        return Text("stopped", style="yellow")
    return Text("DOWN", style="bold red")


@app.command("where")
@server_options()
def where(
    camera: Annotated[str, typer.Argument(help="The camera id, e.g. sgu-cam-01.")],
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="The instant: 14:00, 'yesterday 14:00', '2026-11-28 14:00' (WITA), -2h, "
            "RFC 3339 (default: now).",
        ),
    ] = None,
    *,
    opts: ServerOptions,
) -> None:
    """Which node records a camera now, and which node(s) hold its footage of --at.

    Example: cctvctl fleet where sgu-cam-01 --at 'yesterday 21:30'

    Two nodes during a handover. JSON: the API's CameraWhere (camera, at, lease, runs).
    """
    when = parse_when("--at", at, datetime.now(UTC)) if at is not None else None

    async def question(client: AsyncCctvClient) -> CameraWhere:
        return await client.fleet_where(camera, when)

    _name, answer = _answer(opts, question)
    if answer is None:
        return
    lease = answer.lease
    if lease is None:
        print(f"{answer.camera}: no node holds its lease now: nobody records it")
    else:
        state = "records it now" if lease.live else "held it; its lease has run out"
        since = format_time(lease.acquired, utc=opts.utc)
        print(f"{answer.camera}: {lease.node} {state} (since {since})")
    moment = format_time(answer.at, utc=opts.utc)
    if not answer.runs:
        print(f"no node holds its footage of {moment}")
        return
    print(f"footage of {moment}:")
    for run in answer.runs:
        end = "recording" if run.end is None else format_time(run.end, utc=opts.utc)
        print(f"  {run.node}: {format_time(run.start, utc=opts.utc)} to {end}")


def _read_inventory(file: Path) -> str:
    try:
        size = file.stat().st_size
        if size > MAX_FILE_BYTES:
            fail_usage(f"{file}: {size} bytes; accepted: an inventory of at most 4 MiB")
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        fail_usage(f"{file}: file does not exist; give the fleet inventory .toml file")
    except IsADirectoryError:
        fail_usage(f"{file}: is a directory; give the fleet inventory .toml file")
    except UnicodeDecodeError:
        fail_usage(f"{file}: is not UTF-8 text; accepted: a TOML file")
    except OSError as exc:
        fail_usage(f"{file}: cannot read: {exc.strerror or exc}")


@app.command("apply")
@server_options(display=False)
def apply(
    file: Annotated[Path, typer.Argument(help="The fleet inventory, e.g. kutim.toml.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and show the changes; publish nothing.")
    ] = False,
    *,
    opts: ServerOptions,
) -> None:
    """Check a fleet inventory, show what changes, and publish it as the next version;
    every node hears of it and applies it in place.

    Example: cctvctl fleet apply kutim.toml --dry-run

    Checked as `cctvctl config check` does, on the node asked (its environment, its
    folder for a relative secrets file): a file it refuses is listed line by line, exit
    2, and the latest version stays. The same file again publishes nothing. Needs the
    admin role (exit 4); audited as fleet.apply. JSON: the API's InventoryApplied, or
    {"ok": false, "detail": ..., "errors": [...]}.
    """
    text = _read_inventory(file)

    async def question(client: AsyncCctvClient) -> InventoryApplied | BadRequest:
        from cctvctl.client import BadRequest

        try:
            return await client.fleet_apply(text, file=str(file), dry_run=dry_run)
        except BadRequest as exc:
            if (exc.problem or {}).get("type") != "urn:cctvctl:problem:invalid-inventory":
                raise
            return exc  # a refused file: its lines are listed, not just the summary

    (result,) = ask(opts.nodes(), question, loop_free=True)
    answer = result.value
    if isinstance(answer, Exception):
        errors = [str(e.get("detail", e)) for e in (answer.problem or {}).get("errors", [])]
        if opts.json:
            print_json({"ok": False, "detail": answer.detail, "errors": errors})
        else:
            for line in errors or [str(answer)]:
                error(line)
            error(f"{file}: not published; the fleet keeps its latest version")
        raise typer.Exit(exit_codes.USAGE)
    assert answer is not None
    if opts.json:
        print_json(jsonable(answer))
        return
    answer = for_terminal(answer)
    cameras = counted(answer.cameras, "camera")
    if answer.unchanged:
        print(f"{file}: the same as version {answer.version} ({cameras}); nothing to publish")
        return
    if dry_run:
        latest = "none yet" if answer.previous is None else f"version {answer.previous}"
        print(f"{file}: would be version {answer.version} ({cameras}; latest: {latest})")
    else:
        print(f"{file}: published as version {answer.version} ({cameras})")
    for line in answer.changes:
        print(f"  {line}")
    if dry_run:
        print("dry run: nothing published")
