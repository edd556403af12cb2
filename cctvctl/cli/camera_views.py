"""The other views of `cctvctl cameras`: clocks (--time), identity (--wide) and the
firmware roll-up (--firmware). Each takes the cameras every node answered with."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cctvctl.cli.common import clock
from cctvctl.cli.output import Column, Priority

if TYPE_CHECKING:
    from rich.text import Text

    from cctvctl.models import Camera

__all__ = ["firmware_groups", "offset_text", "time_table", "wide_cells", "wide_columns"]

UNKNOWN = "unknown"


def offset_text(camera: Camera) -> str:
    """``+90 s`` ahead, ``-3 s`` behind, ``not read`` (never), ``?`` (last reading failed)."""
    reading = camera.clock
    if reading is None or reading.offset_seconds is None:
        return "?" if reading is not None and reading.error else "not read"
    return f"{reading.offset_seconds:+.0f} s"


def time_table(
    cameras: Sequence[tuple[str, Camera]], multi: bool, utc: bool, now: datetime
) -> tuple[list[Column], list[list[Text]]]:
    """One row per camera: its clock's offset, mode and zone, when read, what failed."""
    from rich.text import Text

    columns = [
        *([Column("NODE", Priority.IDENTITY)] if multi else []),
        Column("CAMERA", Priority.IDENTITY),
        Column("KECAMATAN"),
        Column("OFFSET", Priority.STATUS, justify="right"),
        Column("MODE"),
        Column("ZONE"),
        Column("READ"),
        Column("PROBLEM", Priority.STATUS),
    ]
    rows: list[list[Text]] = []
    for node, cam in cameras:
        reading = cam.clock
        off = reading is not None and reading.off
        problem = ""
        if off:
            problem = "over tolerance: degraded"
        elif cam.has_onvif is False:
            problem = "no ONVIF"
        if reading is not None and reading.error:
            problem = f"{problem} · {reading.error}" if problem else reading.error
        row = [
            Text(cam.id),
            Text(cam.kecamatan),
            Text(offset_text(cam), style="bold yellow" if off else ""),
            Text((reading.mode if reading else None) or "-"),
            Text((reading.tz if reading else None) or "-"),
            Text(clock(reading.checked_at if reading else None, utc, now)),
            Text(problem),
        ]
        rows.append([Text(node), *row] if multi else row)
    return columns, rows


def wide_columns() -> list[Column]:
    return [
        Column("MANUFACTURER"),
        Column("MODEL"),
        Column("FIRMWARE"),
        Column("SERIAL"),
        Column("HARDWARE ID"),
    ]


def wide_cells(camera: Camera) -> list[str]:
    device = camera.device
    if device is None:
        return ["-"] * 5
    values = (device.manufacturer, device.model, device.firmware, device.serial)
    return [v or "-" for v in (*values, device.hardware_id)]


def firmware_groups(cameras: Sequence[Camera]) -> list[dict[str, Any]]:
    """Cameras by (manufacturer, model, firmware), the biggest group first; cameras whose
    identity was never read form an ``unknown`` group of their own."""
    groups: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for cam in cameras:
        device = cam.device
        if device is None or device.model is None:
            key = (UNKNOWN, UNKNOWN, UNKNOWN)
        else:
            key = (device.manufacturer or UNKNOWN, device.model, device.firmware or UNKNOWN)
        groups[key].append(cam.id)
    ordered = sorted(groups.items(), key=lambda kv: (kv[0][0] == UNKNOWN, -len(kv[1]), kv[0]))
    return [
        {"manufacturer": m, "model": model, "firmware": fw, "cameras": ids}
        for (m, model, fw), ids in ordered
    ]
