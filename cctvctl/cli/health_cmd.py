"""`cctvctl health`: storage volumes, the recording host, and each kecamatan's network and disk."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated

import typer

from cctvctl.cli.common import (
    ask,
    days_text,
    exit_code,
    fail_usage,
    missing_text,
    no_answer,
    out_console,
    print_results_json,
)
from cctvctl.cli.options import ServerOptions, server_options
from cctvctl.cli.output import Column, Priority, print_table
from cctvctl.termsafe import for_terminal
from cctvctl.timeparse import format_duration, format_time
from cctvctl.units import bytes_text, kbps_text, rate_text

if TYPE_CHECKING:
    from datetime import datetime

    from rich.text import Text

    from cctvctl.client import AsyncCctvClient, NodeResult
    from cctvctl.models import ArchiveHealth, Health, KecamatanSummary

__all__ = ["health"]


def _matches(k: KecamatanSummary, wanted: str) -> bool:
    needle = wanted.strip().lower()
    return needle in (k.slug.lower(), k.name.lower())


@server_options(every_context=True, fleet=True)
def health(
    kecamatan: Annotated[
        str | None,
        typer.Option(
            "--kecamatan", "-k", help="Only this kecamatan's row (slug or name).", metavar="K"
        ),
    ] = None,
    *,
    opts: ServerOptions,
) -> None:
    """Storage volumes, the recording host, and per-kecamatan network and disk.

    Example: cctvctl health --kecamatan sangatta-utara

    With --fleet, every node of the given server's fleet, each asked directly.

    JSON: the API's Health object (its kecamatan list cut to --kecamatan).
    """
    nodes = opts.nodes()

    async def question(client: AsyncCctvClient) -> Health:
        return await client.health()

    results = ask(nodes, question, loop_free=True)
    if kecamatan is not None:
        results = _only(results, kecamatan)
    if opts.json:
        print_results_json(results, opts.multi)
    else:
        _show(for_terminal(results), opts.no_color, opts.utc)
    raise typer.Exit(exit_code(results))


def _only(results: list[NodeResult[Health]], wanted: str) -> list[NodeResult[Health]]:
    """Each node's report cut to one kecamatan; exit 2 when no node has it."""
    available = sorted({k.slug for r in results if r.value for k in r.value.kecamatan})
    cut = [
        r
        if r.value is None
        else replace(
            r,
            value=r.value.model_copy(
                update={"kecamatan": [k for k in r.value.kecamatan if _matches(k, wanted)]}
            ),
        )
        for r in results
    ]
    if available and not any(r.value and r.value.kecamatan for r in cut):
        fail_usage(f"--kecamatan: no kecamatan {wanted!r}; available: {', '.join(available)}")
    return cut


def _show(results: Sequence[NodeResult[Health]], no_color: bool, utc: bool) -> None:
    from rich.text import Text

    out = out_console(no_color)
    for n, result in enumerate(results):
        report = result.value
        if n:
            out.print()
        if report is None:
            out.print(Text(no_answer(result), style="bold red"))
            continue
        host = report.host
        head = Text(result.name, style="bold")
        head.append(f"  {format_time(report.generated, utc=utc)}  server {report.server_version}")
        out.print(head, no_wrap=True, overflow="ellipsis")
        load = " ".join(f"{x:.2f}" for x in host.load)
        out.print(
            Text(
                f"host {host.hostname}: CPU {host.cpu_percent:.0f} %, memory "
                f"{host.memory_percent:.0f} %, load {load}, "
                f"up {format_duration(host.uptime_seconds)}"
            )
        )
        for nic in host.nics:
            out.print(
                Text(
                    f"  {nic.name}: in {kbps_text(nic.rx_bps * 8 / 1000)}, "
                    f"out {kbps_text(nic.tx_bps * 8 / 1000)}"
                )
            )
        volume_columns = [
            Column("VOLUME", Priority.IDENTITY),
            *(Column(t, justify="right") for t in ("SIZE", "USED", "FREE", "RESERVE", "WRITE")),
            Column("FULL IN", Priority.STATUS, justify="right"),
        ]
        volumes: list[list[Text | str]] = []
        for v in report.volumes:
            used = 100 * v.used_bytes / v.total_bytes if v.total_bytes else 0.0
            volumes.append(
                [
                    Text(v.path),
                    bytes_text(v.total_bytes),
                    Text(f"{used:.0f} %", style="red" if used >= 90 else ""),
                    bytes_text(v.free_bytes),
                    bytes_text(v.reserve_bytes),
                    rate_text(v.write_bps),
                    days_text(v.days_to_full),
                ]
            )
        out.print()
        print_table(out, volume_columns, volumes)
        archived = report.archive is not None
        columns = [
            Column("KECAMATAN", Priority.IDENTITY),
            Column("CAMS", Priority.STATUS, justify="right"),
            *(
                Column(t, justify="right")
                for t in ("INBOUND", "RTT", "STORED", "QUOTA", "WRITE", "FULL IN", "MISS")
            ),
            *(
                Column(t, justify="right")
                for t in (("BACKLOG", "UNARCHIVED", "ARCHIVED", "FAILS") if archived else ())
            ),
        ]
        rows: list[list[Text | str]] = []
        for k in report.kecamatan:
            enabled = k.cameras_total - k.disabled
            rows.append(
                [
                    Text(k.name),
                    Text(f"{k.online}/{enabled}", style="red" if k.offline else ""),
                    kbps_text(k.inbound_kbps),
                    "-" if k.worst_rtt_ms is None else f"{k.worst_rtt_ms:.0f} ms",
                    bytes_text(k.bytes_stored),
                    "-" if k.quota_bytes is None else bytes_text(k.quota_bytes),
                    rate_text(k.write_bps),
                    days_text(k.days_to_full),
                    missing_text(k.missing_minutes_24h * 60),
                    *(_archive_cells(k, report.generated) if archived else ()),
                ]
            )
        if report.archive is not None:
            out.print()
            out.print(_archive_line(report.archive, report.generated))
        out.print()
        print_table(out, columns, rows)


def _age(oldest: datetime | None, now: datetime) -> str:
    return "-" if oldest is None else format_duration((now - oldest).total_seconds())


def _archive_cells(k: KecamatanSummary, now: datetime) -> list[Text | str]:
    """BACKLOG, UNARCHIVED (the oldest footage not archived, its age), ARCHIVED, FAILS."""
    from rich.text import Text

    a = k.archive
    if a is None:
        return ["-", "-", "-", "-"]
    return [
        bytes_text(a.backlog_bytes),
        _age(a.oldest_unarchived, now),
        bytes_text(a.archived_bytes),
        Text(str(a.failures), style="red" if a.failures else ""),
    ]


def _archive_line(a: ArchiveHealth, now: datetime) -> Text:
    from rich.text import Text

    cap = "no cap" if a.upload_cap_bps is None else f"cap {rate_text(a.upload_cap_bps)}"
    window = f", window {a.upload_window} WITA" if a.upload_window else ""
    line = Text(f"archive {for_terminal(a.endpoint)} bucket {for_terminal(a.bucket)}: ")
    line.append(a.state, style="bold red" if a.state == "store unreachable" else "")
    line.append(
        f", upload {rate_text(a.upload_bps)} ({cap}{window}), backlog "
        f"{bytes_text(a.backlog_bytes)} in {a.backlog_segments} segments, oldest "
        f"{_age(a.oldest_unarchived, now)}, archived {bytes_text(a.archived_bytes)}, "
        f"{a.failures} failed uploads"
    )
    if a.lost_segments:
        line.append(
            f", LOST {a.lost_segments} segments ({bytes_text(a.lost_bytes)}) deleted "
            "before the archive held them",
            style="bold red",
        )
    if a.last_error and a.state == "store unreachable":
        line.append(f"; last error: {for_terminal(a.last_error)}")
    return line
