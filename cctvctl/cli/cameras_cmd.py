"""`cctvctl cameras`: every camera with its live state, filtered and sorted."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from cctvctl.cli.common import (
    ask,
    clock,
    exit_code,
    missing_text,
    no_answer,
    out_console,
    print_results_json,
    zone_name,
)
from cctvctl.cli.options import ServerOptions, server_options
from cctvctl.cli.output import Column, Priority, print_table
from cctvctl.termsafe import for_terminal

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.console import Console

    from cctvctl.client import AsyncCctvClient, NodeResult
    from cctvctl.models import Camera

__all__ = ["SortKey", "StatusChoice", "cameras", "sort_cameras"]

STATUS_STYLE = {
    "online": "green",
    "degraded": "yellow",
    "offline": "bold red",
    "disabled": "dim",
}


class StatusChoice(enum.StrEnum):
    """``models.CameraStatus``, repeated so that ``--help`` need not import pydantic
    (a test keeps the two equal)."""

    ONLINE = "online"
    DEGRADED = "degraded"
    OFFLINE = "offline"
    DISABLED = "disabled"


class SortKey(enum.StrEnum):
    KBPS = "kbps"
    FPS = "fps"
    LAST_SEEN = "last-seen"
    ID = "id"


_NEVER = datetime.min.replace(tzinfo=UTC)


def sort_cameras(cameras: list[Camera], key: SortKey | None) -> list[Camera]:
    """Worst first for the measures (lowest rate, longest silent), so trouble is on top."""
    if key is None:
        return cameras
    if key is SortKey.KBPS:
        return sorted(cameras, key=lambda c: c.kbps)
    if key is SortKey.FPS:
        return sorted(cameras, key=lambda c: c.fps)
    if key is SortKey.LAST_SEEN:
        return sorted(cameras, key=lambda c: c.last_packet or _NEVER)
    return sorted(cameras, key=lambda c: c.id)


@server_options(every_context=True, fleet=True)
def cameras(
    kecamatan: Annotated[
        str | None,
        typer.Option("--kecamatan", "-k", help="Only this kecamatan (slug or name).", metavar="K"),
    ] = None,
    status: Annotated[
        StatusChoice | None, typer.Option("--status", "-s", help="Only cameras in this state.")
    ] = None,
    sort: Annotated[
        SortKey | None,
        typer.Option(
            "--sort",
            help="Order by this, worst first (lowest kbps/fps, longest unseen); "
            "default: inventory order.",
        ),
    ] = None,
    time: Annotated[
        bool,
        typer.Option(
            "--time",
            help="Each camera's clock: its offset from the server's, "
            "mode (NTP or Manual), zone and when it was read.",
        ),
    ] = False,
    wide: Annotated[
        bool,
        typer.Option("--wide", help="Add manufacturer, model, firmware, serial and hardware id."),
    ] = False,
    firmware: Annotated[
        bool,
        typer.Option(
            "--firmware", help="Group cameras by manufacturer, model and firmware, biggest first."
        ),
    ] = False,
    *,
    opts: ServerOptions,
) -> None:
    """List cameras with status, frame rate, bit rate, last packet, footage missing and
    the problem: why a camera is down, FLAP with its changes in 10 min.

    Example: cctvctl cameras --kecamatan bengalon --status offline --sort last-seen

    With --fleet, every node of the given server's fleet is asked directly and a NODE
    column says which records each camera; a node that does not answer is named below
    the table (its cameras unknown, not offline).

    --time lists each camera's clock (an offset over the server's tolerance, 5 s by
    default, makes a camera degraded); --wide adds what each camera says it is;
    --firmware groups them for planning updates (JSON: the groups).

    JSON: a list of the API's Camera objects (with --all-contexts, one entry per node).
    """
    if sum((time, wide, firmware)) > 1:
        from cctvctl.cli.common import fail_usage

        fail_usage("--time, --wide and --firmware are separate views; give one of them")
    nodes = opts.nodes()

    async def question(client: AsyncCctvClient) -> list[Camera]:
        wanted = None if status is None else status.value
        return sort_cameras(await client.cameras(kecamatan, wanted), sort)

    results = ask(nodes, question, loop_free=True)
    if firmware:
        _print_firmware(results, opts)
        raise typer.Exit(exit_code(results))
    if opts.json:
        print_results_json(results, opts.multi)
        raise typer.Exit(exit_code(results))

    from rich.text import Text

    from cctvctl.views import camera_problem

    results = for_terminal(results)
    now = datetime.now(UTC)
    out = out_console(opts.no_color)
    if time:
        from cctvctl.cli.camera_views import time_table

        listed = [(r.name, c) for r in results for c in r.value or []]
        time_columns, time_rows = time_table(listed, opts.multi, opts.utc, now)
        if time_rows:
            print_table(out, time_columns, time_rows)
        else:
            out.print("no cameras match")
        _print_unanswered(out, results)
        raise typer.Exit(exit_code(results))
    columns = [
        *([Column("NODE", Priority.IDENTITY)] if opts.multi else []),
        Column("CAMERA", Priority.IDENTITY),
        Column("KECAMATAN"),
        Column("STATUS", Priority.STATUS),
        Column("FPS", justify="right"),
        Column("KBPS", justify="right"),
        Column(f"LAST SEEN ({zone_name(opts.utc)})"),
        Column("MISS 24H", justify="right"),
    ]
    # Why a camera is down and whether it flaps: what the NOC acts on. A column only when
    # some camera has a problem, so a healthy list keeps its width for the rest.
    problems = {(r.name, c.id): camera_problem(c) for r in results for c in r.value or []}
    if any(problems.values()):
        columns.append(Column("PROBLEM", Priority.STATUS))
    if wide:
        from cctvctl.cli.camera_views import wide_cells, wide_columns

        columns.extend(wide_columns())
    rows: list[list[Text]] = []
    for result in results:
        for cam in result.value or []:
            row = [
                Text(cam.id),
                Text(cam.kecamatan),
                Text(cam.status.value, style=STATUS_STYLE.get(cam.status.value, "")),
                Text(f"{cam.fps:.1f}"),
                Text(f"{cam.kbps:.0f}"),
                Text(clock(cam.last_packet, opts.utc, now)),
                Text(missing_text(cam.missing_seconds_24h)),
                *(
                    [Text(problems[result.name, cam.id], style="bold")]
                    if any(problems.values())
                    else []
                ),
                *([Text(cell) for cell in wide_cells(cam)] if wide else []),
            ]
            rows.append([Text(result.name), *row] if opts.multi else row)
    count = len(rows)
    if count:
        print_table(out, columns, rows)
    else:
        out.print("no cameras match")
    _print_unanswered(out, results)
    raise typer.Exit(exit_code(results))


def _print_unanswered(out: Console, results: Sequence[NodeResult[list[Camera]]]) -> None:
    from rich.text import Text

    for result in results:
        if result.error is not None:
            out.print(Text(no_answer(result), style="bold red"))


def _print_firmware(results: Sequence[NodeResult[list[Camera]]], opts: ServerOptions) -> None:
    """``--firmware``: one row per manufacturer, model and firmware, with its cameras."""
    from cctvctl.cli.camera_views import firmware_groups
    from cctvctl.cli.output import print_json

    groups = firmware_groups([c for r in results for c in r.value or []])
    if opts.json:
        print_json(groups)
        return
    from rich.text import Text

    out = out_console(opts.no_color)
    columns = [
        Column("MANUFACTURER", Priority.IDENTITY),
        Column("MODEL", Priority.IDENTITY),
        Column("FIRMWARE", Priority.IDENTITY),
        Column("COUNT", justify="right"),
        Column("CAMERAS"),
    ]
    rows = [
        [
            Text(for_terminal(g["manufacturer"])),
            Text(for_terminal(g["model"])),
            Text(for_terminal(g["firmware"])),
            Text(str(len(g["cameras"]))),
            Text(for_terminal(" ".join(g["cameras"]))),
        ]
        for g in groups
    ]
    if rows:
        print_table(out, columns, rows)
    else:
        out.print("no cameras match")
    _print_unanswered(out, results)
