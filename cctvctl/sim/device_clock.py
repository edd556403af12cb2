"""A simulated camera's own clock and identity, as ONVIF reports and sets them.

Real cameras keep their own time: after a power cut without NTP, or set by hand years ago,
they are off by seconds to hours, and a court asks what the clock said. The offset is
seconds ahead of the wall clock (negative: behind). SetNTP makes the clock right, as a camera
that synchronises does; SetSystemDateAndTime sets it by hand (Manual) or names NTP.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
from dataclasses import dataclass, field

__all__ = ["DeviceClock", "DeviceIdentity", "posix_tz_offset"]

# POSIX TZ as ONVIF carries it: a name of 3+ letters, then hours WEST of UTC ("WITA-8" is
# UTC+8, "UTC0" is UTC), optional minutes; DST rules after it are ignored by the simulator.
_POSIX_TZ = re.compile(r"^[A-Za-z]{3,}([+-]?)(\d{1,2})(?::(\d{2}))?")


def posix_tz_offset(tz: str) -> dt.timedelta | None:
    """East-of-UTC offset of a POSIX TZ string, or None when it cannot be read."""
    match = _POSIX_TZ.match(tz.strip())
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    west = dt.timedelta(hours=int(hours), minutes=int(minutes or 0))
    if west > dt.timedelta(hours=24):
        return None
    return west if sign == "-" else -west


@dataclass
class DeviceClock:
    """One camera's clock: ``offset`` seconds ahead of the wall clock."""

    offset: float = 0.0
    tz: str = "UTC0"
    date_time_type: str = "Manual"  # "Manual" | "NTP", as ONVIF names it
    ntp_servers: list[str] = field(default_factory=list)
    sets: int = 0  # SetSystemDateAndTime and SetNTP accepted, for tests

    def now(self, wall: float | None = None) -> dt.datetime:
        """The camera's UTC time."""
        wall = time.time() if wall is None else wall
        return dt.datetime.fromtimestamp(wall + self.offset, dt.UTC)

    def local_now(self, wall: float | None = None) -> dt.datetime:
        """The camera's local time in its time zone (UTC when the zone cannot be read)."""
        shift = posix_tz_offset(self.tz) or dt.timedelta()
        return self.now(wall) + shift

    def set_utc(self, when: dt.datetime, wall: float | None = None) -> None:
        """Set by hand: the clock reads ``when`` now."""
        wall = time.time() if wall is None else wall
        self.offset = when.timestamp() - wall
        self.date_time_type = "Manual"
        self.sets += 1

    def use_ntp(self, servers: list[str]) -> None:
        """Synchronise with NTP: the clock is right from now on."""
        self.ntp_servers = list(servers)
        self.date_time_type = "NTP"
        self.offset = 0.0
        self.sets += 1


@dataclass(frozen=True)
class DeviceIdentity:
    """What GetDeviceInformation answers; blanks get the simulator's own values."""

    manufacturer: str = "cctvctl-sim"
    model: str = "SIM-IPC-1"
    firmware: str = "1.0.0"
    serial: str | None = None  # None: derived from the camera id, stable across runs
    hardware_id: str = "sim-hw-1"

    def serial_for(self, camera_id: str) -> str:
        if self.serial:
            return self.serial
        digest = hashlib.sha256(camera_id.encode("utf-8")).hexdigest()[:12].upper()
        return f"SIM-{digest}"
