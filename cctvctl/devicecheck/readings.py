"""A camera's stored readings as the wire shows them, and the status reason of a clock."""

from __future__ import annotations

from datetime import UTC, datetime

from cctvctl.models import CameraClock, CameraDevice
from cctvctl.storage.device_checks import DeviceRecord

__all__ = ["clock_problem", "clock_wire", "device_wire"]


def _utc(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def clock_problem(offset: float, tolerance: float) -> str | None:
    """The degraded reason for a clock ``offset`` seconds ahead, or None within tolerance."""
    if abs(offset) <= tolerance:
        return None
    side = "ahead" if offset > 0 else "behind"
    return f"clock off by {abs(offset):.0f} s ({side})"


def clock_wire(record: DeviceRecord, tolerance: float) -> CameraClock | None:
    if record.clock_at is None and record.clock_error is None:
        return None
    offset = record.clock_offset
    return CameraClock(
        off=offset is not None and clock_problem(offset, tolerance) is not None,
        offset_seconds=None if record.clock_offset is None else round(record.clock_offset, 1),
        checked_at=_utc(record.clock_at),
        tz=record.clock_tz,
        mode=record.clock_type,
        error=record.clock_error,
        error_at=_utc(record.clock_error_at),
    )


def device_wire(record: DeviceRecord) -> CameraDevice | None:
    if record.info_at is None and record.info_error is None:
        return None
    return CameraDevice(
        manufacturer=record.manufacturer,
        model=record.model,
        firmware=record.firmware,
        serial=record.serial,
        hardware_id=record.hardware_id,
        checked_at=_utc(record.info_at),
        error=record.info_error,
        error_at=_utc(record.info_error_at),
    )
