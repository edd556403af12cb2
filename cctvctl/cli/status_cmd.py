"""`cctvctl status`: the one-screen summary an on-call technician reads on a phone.

It fits 60 columns. The first lines name the worst problems (offline cameras, the kecamatan
missing the most footage, the disk closest to full); then one row per kecamatan, worst
first. Exit 0 whenever the servers answered: a camera being offline is news, not a failed
command. ``--fail-on offline`` (or ``degraded``) turns that news into exit 1 for cron.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from cctvctl.cli import exit_codes
from cctvctl.cli.common import (
    ask,
    days_text,
    exit_code,
    missing_text,
    no_answer,
    out_console,
    print_results_json,
)
from cctvctl.cli.options import ServerOptions, server_options
from cctvctl.termsafe import for_terminal
from cctvctl.timeparse import format_time

if TYPE_CHECKING:
    from cctvctl.client import AsyncCctvClient, NodeResult
    from cctvctl.models import Camera, KecamatanSummary, Volume

__all__ = ["WIDTH", "FailOn", "StatusReport", "build_report", "status"]

WIDTH = 60


class FailOn(enum.StrEnum):
    OFFLINE = "offline"
    DEGRADED = "degraded"


@dataclass(frozen=True)
class StatusReport:
    """What ``status --json`` prints: counts and API models, gathered from two calls.

    A dataclass rather than a pydantic model so that defining it costs no start-up time.
    """

    generated: datetime
    server_version: str
    cameras_total: int
    online: int
    degraded: int
    offline: int
    disabled: int
    kecamatan: list[KecamatanSummary]  # worst first
    volumes: list[Volume]
    not_online: list[Camera]  # offline, then degraded, as the API returns them


def _worst_first(summaries: list[KecamatanSummary]) -> list[KecamatanSummary]:
    # The same order as the server's /kecamatan, which /health does not use.
    return sorted(
        summaries,
        key=lambda k: (-k.offline, -k.missing_minutes_24h, -k.degraded, k.name.lower()),
    )


async def build_report(client: AsyncCctvClient) -> StatusReport:
    from cctvctl.models import CameraStatus, status_counts

    health, cams = await client.gather(client.health(), client.cameras())
    bad = [c for c in cams if c.status is CameraStatus.OFFLINE]
    bad += [c for c in cams if c.status is CameraStatus.DEGRADED]
    return StatusReport(
        generated=health.generated,
        server_version=health.server_version,
        **status_counts(cams),
        kecamatan=_worst_first(health.kecamatan),
        volumes=health.volumes,
        not_online=bad,
    )


def _ids(cams: list[Camera], room: int) -> str:
    """As many camera ids as fit in ``room`` characters, then ``+N``."""
    shown: list[str] = []
    used = 0
    for n, cam in enumerate(cams):
        rest = len(cams) - n - 1
        tail = len(f", +{rest}") if rest else 0
        piece = len(cam.id) + (2 if shown else 0)
        if used + piece + tail > room and shown:
            return ", ".join(shown) + f", +{len(cams) - n}"
        shown.append(cam.id)
        used += piece
    return ", ".join(shown)


def problem_lines(report: StatusReport) -> list[tuple[str, str, str]]:
    """(label, text, style) for the top of the screen, worst first."""
    from cctvctl.models import CameraStatus

    lines: list[tuple[str, str, str]] = []
    offline = [c for c in report.not_online if c.status is CameraStatus.OFFLINE]
    degraded = [c for c in report.not_online if c.status is CameraStatus.DEGRADED]
    room = WIDTH - 10 - 12
    if offline:
        lines.append(("OFFLINE", f"{len(offline)}: {_ids(offline, room)}", "bold red"))
    if degraded:
        lines.append(("DEGRADED", f"{len(degraded)}: {_ids(degraded, room)}", "yellow"))
    if not offline and not degraded:
        enabled = report.cameras_total - report.disabled
        online = "the one enabled camera is online" if enabled == 1 else ""
        online = online or f"all {enabled} enabled cameras online"
        lines.append(("CAMERAS", online, "green"))
    worst = max(report.kecamatan, key=lambda k: k.missing_minutes_24h, default=None)
    if worst is not None and worst.missing_minutes_24h > 0:
        missing = missing_text(worst.missing_minutes_24h * 60)
        lines.append(("MISSING", f"{worst.name}: {missing} in 24 h", "yellow"))
    else:
        lines.append(("MISSING", "no footage missing in 24 h", "green"))
    fills = [(v.days_to_full, f"disk {v.path}") for v in report.volumes]
    fills += [(k.days_to_full, f"{k.name} quota") for k in report.kecamatan]
    filling = [(d, what) for d, what in fills if d is not None]
    if filling:
        days, what = min(filling)
        style = "bold red" if days < 3 else "yellow" if days < 14 else ""
        lines.append(("FULL IN", f"{days_text(days)}: {what}", style))
    else:
        lines.append(("FULL IN", "no disk or quota is filling", "green"))
    return lines


@server_options(every_context=True, fleet=True)
def status(
    fail_on: Annotated[
        FailOn | None,
        typer.Option(
            "--fail-on",
            help="Exit 1 when any camera is offline (offline) or not online (degraded); "
            "for cron alerts.",
        ),
    ] = None,
    *,
    opts: ServerOptions,
) -> None:
    """One-screen summary (60 columns): worst problems first, then each kecamatan.

    Example: cctvctl status --all-contexts --fail-on offline

    With --fleet, the server given names its fleet's nodes and each is asked directly
    (cctvctl status --fleet --context sgu-1); a node that does not answer is shown as
    unreachable, its cameras unknown.

    Exits 0 when the servers answered, even with cameras offline (use --fail-on for
    that); 3 when some --all-contexts or --fleet nodes did not answer. JSON: the counts, each
    KecamatanSummary (worst first), the Volumes and the Cameras not online.
    """
    nodes = opts.nodes()
    results = ask(nodes, build_report, loop_free=True)
    code = exit_code(results)
    if opts.json:
        print_results_json(results, opts.multi)
    else:
        _show(for_terminal(results), opts.no_color, opts.utc)
    reports = [r.value for r in results if r.value is not None]
    if code == exit_codes.OK and fail_on is not None:
        hit = any(
            rep.offline if fail_on is FailOn.OFFLINE else rep.offline + rep.degraded
            for rep in reports
        )
        code = exit_codes.FAILURE if hit else code
    raise typer.Exit(code)


def node_label(name: str, room: int) -> str:
    """The node as the header names it in ``room`` cells. A node given by ``--url`` is
    named by its URL, which overran 60 columns by its port's last digits; without
    ``http://`` it fits whole (``https://`` stays: it says the link is encrypted)."""
    if len(name) > room and name.startswith("http://"):
        return name.removeprefix("http://")
    return name


def _show(results: Sequence[NodeResult[StatusReport]], no_color: bool, utc: bool) -> None:
    from rich.table import Table
    from rich.text import Text

    out = out_console(no_color, WIDTH)
    for n, result in enumerate(results):
        if n:
            out.print()
        report: StatusReport | None = result.value
        if report is None:
            out.print(Text(no_answer(result), style="bold red"))
            continue
        # The counts lead, so a narrow screen cuts the node's address, never the answer.
        enabled = report.cameras_total - report.disabled
        head = Text(f"{report.online}/{enabled} online", style="bold")
        head.append(f"  {format_time(report.generated, utc=utc)}")
        head.append(f"  {node_label(result.name, out.width - head.cell_len - 2)}")
        out.print(head, no_wrap=True, overflow="ellipsis")
        for label, text, style in problem_lines(report):
            line = Text(f"{label:<9} ", style="bold")
            line.append(text, style=style)
            out.print(line, no_wrap=True, overflow="ellipsis")
        table = Table(box=None, pad_edge=False, header_style="bold", padding=(0, 1))
        # A long name wraps (folds) rather than lose its end: it names the row.
        table.add_column("KECAMATAN", overflow="fold", ratio=1)
        table.add_column("ONLINE", justify="right", no_wrap=True)
        table.add_column("DEGR", justify="right", no_wrap=True)
        table.add_column("MISS 24H", justify="right", no_wrap=True)
        table.add_column("FULL IN", justify="right", no_wrap=True)
        for k in report.kecamatan:
            enabled = k.cameras_total - k.disabled
            online = Text(f"{k.online}/{enabled}", style="red" if k.offline else "")
            table.add_row(
                Text(k.name),
                online,
                Text(str(k.degraded), style="yellow" if k.degraded else ""),
                Text(missing_text(k.missing_minutes_24h * 60)),
                Text(days_text(k.days_to_full)),
            )
        out.print()
        out.print(table)
