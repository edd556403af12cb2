"""`cctvctl gaps`: footage missing over a window, camera by camera, in local time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Final

import typer

from cctvctl.cli.common import (
    ask,
    clock,
    exit_code,
    fail_usage,
    out_console,
    print_results_json,
    since_until,
    zone_name,
)
from cctvctl.cli.options import ServerOptions, server_options
from cctvctl.cli.output import Column, Priority, print_table
from cctvctl.termsafe import for_terminal
from cctvctl.timeparse import format_duration, format_time
from cctvctl.units import counted

if TYPE_CHECKING:
    from cctvctl.client import AsyncCctvClient, NodeResult
    from cctvctl.models import Camera, Gap

__all__ = ["CONCURRENCY", "CameraGaps", "GapReport", "gaps"]

#: Requests in flight per server: enough to hide latency over a VPN, few enough that a
#: nightly report over hundreds of cameras does not crowd out the operators' consoles.
CONCURRENCY: Final = 8
MAX_WINDOW: Final = timedelta(days=31)  # the server's limit for one recordings query


@dataclass(frozen=True)
class CameraGaps:
    camera: str
    name: str
    kecamatan: str
    recorded_seconds: float
    missing_seconds: float
    gaps: list[Gap]


@dataclass(frozen=True)
class GapReport:
    """What ``gaps --json`` prints; each gap is the API's ``Gap``."""

    start: datetime
    end: datetime
    cameras: list[CameraGaps]


@server_options(every_context=True)
def gaps(
    since: Annotated[
        str,
        typer.Option(
            "--since",
            help="Window start: 24h, -15m, 14:00, 'yesterday 14:00', '2026-11-28 14:00' "
            "(WITA) or RFC 3339.",
        ),
    ] = "24h",
    until: Annotated[
        str, typer.Option("--until", help="Window end, same forms as --since.")
    ] = "now",
    kecamatan: Annotated[
        str | None,
        typer.Option("--kecamatan", "-k", help="Only this kecamatan (slug or name).", metavar="K"),
    ] = None,
    camera: Annotated[
        list[str] | None,
        typer.Option("--camera", "-c", help="Only this camera; repeat for more.", metavar="C"),
    ] = None,
    *,
    opts: ServerOptions,
) -> None:
    """Footage missing between --since and --until, as windows in WITA with lengths.

    Example: cctvctl gaps --since 'yesterday 00:00' --until 'today 00:00' -k bengalon

    Disabled cameras are skipped unless named with --camera. Exits 0 when the servers
    answered, gaps or not. JSON: {start, end, cameras: [{camera, name, kecamatan,
    recorded_seconds, missing_seconds, gaps: [Gap]}]}, every camera included.
    """
    start, end = since_until(since, until, opts.utc)
    if end - start > MAX_WINDOW:
        fail_usage(
            f"the window is {format_duration((end - start).total_seconds())}; "
            "accepted: at most 31 days (run it once per month)"
        )
    nodes = opts.nodes()
    wanted = list(camera or [])

    async def question(client: AsyncCctvClient) -> GapReport:
        return await _report(client, start, end, kecamatan, wanted)

    results = ask(nodes, question, utc=opts.utc)
    if opts.json:
        print_results_json(results, opts.all_contexts)
    else:
        _show(for_terminal(results), opts.utc, opts.no_color, opts.all_contexts)
    raise typer.Exit(exit_code(results))


async def _report(
    client: AsyncCctvClient,
    start: datetime,
    end: datetime,
    kecamatan: str | None,
    wanted: list[str],
) -> GapReport:
    import asyncio

    cams: list[Camera]
    if wanted:
        cams = list(await asyncio.gather(*(client.camera(c) for c in wanted)))
        if kecamatan is not None:
            needle = kecamatan.lower()
            cams = [c for c in cams if needle in (c.kecamatan_slug, c.kecamatan.lower())]
    else:
        cams = [c for c in await client.cameras(kecamatan) if c.enabled]
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(cam: Camera) -> CameraGaps:
        async with gate:
            rec = await client.recordings(cam.id, start, end)
        return CameraGaps(
            cam.id, cam.name, cam.kecamatan, rec.recorded_seconds, rec.missing_seconds, rec.gaps
        )

    return GapReport(start, end, list(await asyncio.gather(*(one(c) for c in cams))))


def _show(results: Sequence[NodeResult[GapReport]], utc: bool, no_color: bool, multi: bool) -> None:
    from rich.text import Text

    out = out_console(no_color)
    reports = [r for r in results if r.value is not None]
    if not reports:
        return
    first = reports[0].value
    assert first is not None
    out.print(
        Text(
            f"Footage missing from {format_time(first.start, utc=utc)} "
            f"to {format_time(first.end, utc=utc)}"
        ),
        overflow="fold",
    )
    columns = [
        *([Column("NODE", Priority.IDENTITY)] if multi else []),
        Column("CAMERA", Priority.IDENTITY),
        Column("KECAMATAN"),
        Column(f"FROM ({zone_name(utc)})", Priority.IDENTITY),
        Column("TO", Priority.IDENTITY),
        Column("LENGTH", Priority.STATUS, justify="right"),
    ]
    rows: list[list[Text]] = []
    cameras = with_gaps = 0
    total = 0.0
    for result in reports:
        assert result.value is not None
        for cam in result.value.cameras:
            cameras += 1
            with_gaps += bool(cam.gaps)
            total += cam.missing_seconds
            for gap in cam.gaps:
                row = [
                    Text(cam.camera),
                    Text(cam.kecamatan),
                    Text(clock(gap.start, utc)),
                    Text(clock(gap.end, utc)),
                    Text(format_duration(gap.seconds)),
                ]
                rows.append([Text(result.name), *row] if multi else row)
    if with_gaps:
        print_table(out, columns, rows)
        out.print(
            f"{with_gaps} of {counted(cameras, 'camera')} missed footage: "
            f"{format_duration(total)} in total",
            highlight=False,
        )
    else:
        out.print(f"no footage missing on {counted(cameras, 'camera')}", highlight=False)
