"""What each camera's device last said about itself: its clock and its identity.

Table ``device_checks`` (migration 5), one row per camera, written by ``devicecheck/``
after each ONVIF reading. A failed reading keeps the last good values beside the error,
so the NOC sees both "firmware V5.7.3" and "unreachable since 10:02".
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Final

from cctvctl.storage.database import Database

__all__ = ["DeviceChecks", "DeviceRecord"]


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """One camera's row; times are POSIX seconds."""

    camera: str
    clock_offset: float | None = None  # seconds the camera's clock is ahead of ours
    clock_at: float | None = None
    clock_tz: str | None = None
    clock_type: str | None = None  # "Manual" | "NTP"
    clock_error: str | None = None
    clock_error_at: float | None = None
    manufacturer: str | None = None
    model: str | None = None
    firmware: str | None = None
    serial: str | None = None
    hardware_id: str | None = None
    info_at: float | None = None
    info_error: str | None = None
    info_error_at: float | None = None


_NAMES: Final = tuple(f.name for f in fields(DeviceRecord))
_SELECT: Final = f"SELECT {', '.join(_NAMES)} FROM device_checks"  # noqa: S608 - fixed names
_UPSERT: Final = (
    f"INSERT INTO device_checks ({', '.join(_NAMES)}) "  # noqa: S608 - fixed names
    f"VALUES ({', '.join('?' for _ in _NAMES)}) "
    "ON CONFLICT (camera) DO UPDATE SET " + ", ".join(f"{n} = excluded.{n}" for n in _NAMES[1:])
)


class DeviceChecks:
    """Table ``device_checks`` over a :class:`Database`; safe from any thread."""

    def __init__(self, index: Database) -> None:
        self.index = index

    def all(self) -> dict[str, DeviceRecord]:
        return {row[0]: DeviceRecord(*row) for row in self.index._query(_SELECT)}

    def get(self, camera_id: str) -> DeviceRecord | None:
        rows = self.index._query(f"{_SELECT} WHERE camera = ?", (camera_id,))
        return DeviceRecord(*rows[0]) if rows else None

    def put(self, record: DeviceRecord) -> None:
        values: list[Any] = [getattr(record, n) for n in _NAMES]
        with self.index._write() as conn:
            conn.execute(_UPSERT, values)

    def forget(self, camera_ids: list[str]) -> None:
        with self.index._write() as conn:
            conn.executemany(
                "DELETE FROM device_checks WHERE camera = ?", [(c,) for c in camera_ids]
            )
