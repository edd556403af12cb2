"""`cctvctl time sync`: point cameras' clocks at an NTP server in WITA, and confirm.

The server does the work (``POST /api/v1/time/sync``, admin, audited): SetNTP and
SetSystemDateAndTime with the zone ``WITA-8`` to each camera, then its clock read back.
This command prints one line per camera; any camera not confirmed makes the exit 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cctvctl.cli import exit_codes
from cctvctl.cli.common import ask, chosen_cameras, out_console
from cctvctl.cli.options import ServerOptions, camera_ids, kecamatan_option, server_options
from cctvctl.cli.output import Column, Priority, print_json, print_table
from cctvctl.termsafe import for_terminal

if TYPE_CHECKING:
    from cctvctl.client import AsyncCctvClient
    from cctvctl.models import TimeSyncReport, TimeSyncResult

__all__ = ["app"]

app = typer.Typer(
    help="Camera clocks: point them at NTP in WITA (cctvctl time sync).",
    no_args_is_help=True,
)

RESULT_STYLE = {"ok": "green", "planned": "cyan", "failed": "bold red"}


def _seconds(value: float | None) -> str:
    return "?" if value is None else f"{value:+.0f} s"


@app.command("sync")
@server_options(display=True)
def sync(
    cameras: Annotated[list[str] | None, camera_ids("Camera ids (or use --kecamatan).")] = None,
    kecamatan: Annotated[
        str | None, kecamatan_option("Every ONVIF camera of this kecamatan.")
    ] = None,
    ntp: Annotated[
        str | None,
        typer.Option(
            "--ntp",
            help="NTP server to push (default: the server's [server] ntp_server).",
            metavar="HOST",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list the cameras and what would be set.")
    ] = False,
    *,
    opts: ServerOptions,
) -> None:
    """Push an NTP server and the WITA time zone (WITA-8) to cameras, then read each
    clock back to confirm it is right.

    Example: cctvctl time sync --kecamatan bengalon --ntp ntp.kutaitimurkab.go.id

    Needs the admin role (exit 4); each camera is an audit row (time.sync). Exit 0 when
    every camera is confirmed, 1 when any is not (the line says why), 2 for a request the
    server refuses (no such camera, no NTP server given or configured).
    JSON: the API's TimeSyncReport.
    """
    chosen = chosen_cameras(
        cameras,
        kecamatan,
        missing="name the cameras to set, or --kecamatan K; e.g. cctvctl time sync cam-01",
        exclusive=False,
    )

    async def question(client: AsyncCctvClient) -> TimeSyncReport:
        return await client.time_sync(cameras=chosen, kecamatan=kecamatan, ntp=ntp, dry_run=dry_run)

    (result,) = ask(opts.nodes(), question, loop_free=True, utc=opts.utc)
    report = result.value
    assert report is not None
    failed = not report.results or any(r.result == "failed" for r in report.results)
    if opts.json:
        print_json(report.model_dump(mode="json"))
        raise typer.Exit(exit_codes.FAILURE if failed else exit_codes.OK)
    if not report.results:
        nothing = f"kecamatan {kecamatan!r} has no enabled camera with an ONVIF URL: nothing set"
        from cctvctl.cli.output import error

        error(for_terminal(nothing))
        raise typer.Exit(exit_codes.FAILURE)
    _print_report(report, opts)
    raise typer.Exit(exit_codes.FAILURE if failed else exit_codes.OK)


def _print_report(report: TimeSyncReport, opts: ServerOptions) -> None:
    from rich.text import Text

    out = out_console(opts.no_color)
    what = "would push" if report.dry_run else "pushed"
    out.print(for_terminal(f"{what} NTP {report.ntp}, zone {report.tz}"))
    columns = [
        Column("CAMERA", Priority.IDENTITY),
        Column("RESULT", Priority.STATUS),
        Column("BEFORE", justify="right"),
        Column("AFTER", justify="right"),
        Column("DETAIL"),
    ]

    def row(r: TimeSyncResult) -> list[Text]:
        return [
            Text(for_terminal(r.camera_id)),
            Text(r.result, style=RESULT_STYLE.get(r.result, "")),
            Text(_seconds(r.offset_before)),
            Text(_seconds(r.offset_after) if not report.dry_run else "-"),
            Text(for_terminal(r.detail or "")),
        ]

    print_table(out, columns, [row(r) for r in report.results])
