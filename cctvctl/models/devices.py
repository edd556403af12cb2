"""What a camera's device says about itself over ONVIF (its clock, its identity), and the
time sync that sets its clock (``/api/v1/time/sync``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final, Literal

from pydantic import ConfigDict, Field

from cctvctl.models.wire import OneLine, Wire

__all__ = [
    "NTP_HOST",
    "CameraClock",
    "CameraDevice",
    "TimeSyncReport",
    "TimeSyncRequest",
    "TimeSyncResult",
]


#: An NTP server as a time sync takes it: a host name, an IPv4 address or an IPv6 one.
NTP_HOST: Final = r"^[A-Za-z0-9.:\[\]-]+$"


class CameraClock(Wire):
    """The camera's clock as last read (GetSystemDateAndTime) and its offset from ours."""

    offset_seconds: float | None = Field(
        None,
        description="seconds the camera's clock is ahead of the server's (negative: behind); "
        "ONVIF gives whole seconds, so good to about a second",
    )
    checked_at: datetime | None = Field(None, description="when the offset was read")
    tz: str | None = Field(None, description="the camera's time zone (POSIX TZ, e.g. WITA-8)")
    mode: str | None = Field(None, description="Manual or NTP, as the camera reports")
    off: bool = Field(
        False, description="the offset is over the server's tolerance: the camera is degraded"
    )
    error: str | None = Field(None, description="why the last reading failed, if it did")
    error_at: datetime | None = None


class CameraDevice(Wire):
    """The camera's identity (GetDeviceInformation), read at connect and daily."""

    manufacturer: str | None = None
    model: str | None = None
    firmware: str | None = None
    serial: str | None = None
    hardware_id: str | None = None
    checked_at: datetime | None = Field(None, description="when this was read")
    error: str | None = Field(None, description="why the last reading failed, if it did")
    error_at: datetime | None = None


class TimeSyncRequest(Wire):
    """Body of ``POST /api/v1/time/sync``: cameras by id or kecamatan, and the NTP server."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)
    cameras: list[Annotated[OneLine, Field(min_length=1, max_length=200)]] | None = Field(
        None, max_length=1000, description="camera ids; or give kecamatan"
    )
    kecamatan: OneLine | None = Field(
        None, min_length=1, max_length=200, description="every ONVIF camera of this kecamatan"
    )
    ntp: str | None = Field(
        None,
        min_length=1,
        max_length=253,
        pattern=NTP_HOST,
        description="NTP server (host name or address); default: [server] ntp_server",
        examples=["ntp.kutaitimurkab.go.id"],
    )
    dry_run: bool = Field(False, description="list what would be set; touch nothing")


class TimeSyncResult(Wire):
    """One camera's outcome."""

    camera_id: str
    result: Literal["ok", "failed", "planned"]
    offset_before: float | None = Field(None, description="seconds, as last read before")
    offset_after: float | None = Field(None, description="seconds, read back after the push")
    detail: str | None = None


class TimeSyncReport(Wire):
    """The answer: what was pushed and each camera's outcome, in request order."""

    ntp: str
    tz: str
    dry_run: bool
    results: list[TimeSyncResult]
