"""A camera's clock over ONVIF: read it (no credentials), and point it at NTP in WITA.

GetSystemDateAndTime is the one ONVIF operation a device answers without credentials (a
client needs the device's time before it can sign a WS-Security token), so the clock is
read with a single plain SOAP request over httpx rather than the client library: one round
trip, no WSDL to load, cheap enough to read every camera of a node every 15 minutes.

The offset is the camera's UTC minus our clock at the middle of the round trip. ONVIF
gives whole seconds, so an offset is good to about a second plus half the round trip;
that is why only offsets over a few seconds count (``devicecheck``'s tolerance).

Setting the time needs credentials and goes through the library (``onvif._call``).
"""

from __future__ import annotations

import datetime as dt
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from cctvctl.devices.onvif import (
    DEFAULT_TIMEOUT,
    ERROR,
    TIMEOUT,
    UNREACHABLE,
    OnvifError,
    OnvifTarget,
    _call,
)

if TYPE_CHECKING:
    import httpx

__all__ = ["WITA_TZ", "ClockReading", "push_ntp", "read_clock"]

#: Kutai Timur's zone as a POSIX TZ (ONVIF's form): WITA, UTC+8, no daylight saving.
WITA_TZ: Final = "WITA-8"

_NS_ENV: Final = "http://www.w3.org/2003/05/soap-envelope"
_NS_TDS: Final = "http://www.onvif.org/ver10/device/wsdl"
_NS_TT: Final = "http://www.onvif.org/ver10/schema"
_REQUEST: Final = (
    '<?xml version="1.0" encoding="utf-8"?>'
    f'<s:Envelope xmlns:s="{_NS_ENV}"><s:Body>'
    f'<tds:GetSystemDateAndTime xmlns:tds="{_NS_TDS}"/>'
    "</s:Body></s:Envelope>"
).encode()
# A GetSystemDateAndTime answer is well under 2 KiB; more is not a clock.
_MAX_ANSWER: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class ClockReading:
    """What a camera's clock said, and how far it is from ours."""

    camera_id: str
    camera_utc: dt.datetime
    offset: float  # seconds the camera is ahead of us (negative: behind)
    at: dt.datetime  # our UTC at the middle of the round trip
    round_trip: float  # seconds
    tz: str | None
    date_time_type: str | None  # "Manual" | "NTP"


def _device_url(target: OnvifTarget) -> str:
    host, port = target.endpoint()
    if host.startswith("https://"):
        return f"{host}:{port}/onvif/device_service"
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}/onvif/device_service"


def _parse(body: bytes, where: str) -> tuple[dt.datetime, str | None, str | None]:
    if len(body) > _MAX_ANSWER or b"<!DOCTYPE" in body.upper():
        raise OnvifError(ERROR, f"{where}: GetSystemDateAndTime answer is not a clock")
    try:
        root = ET.fromstring(body)  # noqa: S314 - no DTD (refused above), size capped
    except ET.ParseError as exc:
        raise OnvifError(ERROR, f"{where}: GetSystemDateAndTime answer is not XML: {exc}") from None
    info = root.find(f".//{{{_NS_TDS}}}SystemDateAndTime")
    utc = None if info is None else info.find(f"{{{_NS_TT}}}UTCDateTime")
    if info is None or utc is None:
        raise OnvifError(ERROR, f"{where}: GetSystemDateAndTime gave no UTCDateTime")

    def part(path: str) -> int:
        qualified = "/".join(f"{{{_NS_TT}}}{step}" for step in path.split("/"))
        text = (utc.findtext(qualified) or "").strip()
        if not text.isdigit():
            raise OnvifError(ERROR, f"{where}: UTCDateTime lacks {path}")
        return int(text)

    try:
        when = dt.datetime(
            part("Date/Year"),
            part("Date/Month"),
            part("Date/Day"),
            part("Time/Hour"),
            part("Time/Minute"),
            part("Time/Second"),
            tzinfo=dt.UTC,
        )
    except ValueError as exc:
        raise OnvifError(ERROR, f"{where}: UTCDateTime is no date: {exc}") from None
    tz = info.findtext(f"{{{_NS_TT}}}TimeZone/{{{_NS_TT}}}TZ")
    kind = info.findtext(f"{{{_NS_TT}}}DateTimeType")
    return when, tz.strip() if tz else None, kind.strip() if kind else None


async def read_clock(
    target: OnvifTarget,
    *,
    client: httpx.AsyncClient | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> ClockReading:
    """The camera's clock and its offset from ours (GetSystemDateAndTime, no credentials)."""
    import httpx

    url = _device_url(target)
    where = f"camera {target.camera_id!r} ({target.url})"
    own = client is None
    http = httpx.AsyncClient(timeout=timeout) if client is None else client
    try:
        sent = time.time()
        answer = await http.post(
            url,
            content=_REQUEST,
            headers={"Content-Type": "application/soap+xml; charset=utf-8"},
            timeout=timeout,
        )
        back = time.time()
    except httpx.TimeoutException:
        raise OnvifError(TIMEOUT, f"{where} did not answer GetSystemDateAndTime in time") from None
    except httpx.HTTPError as exc:
        raise OnvifError(
            UNREACHABLE, f"{where} is unreachable for GetSystemDateAndTime ({type(exc).__name__})"
        ) from None
    finally:
        if own:
            await http.aclose()
    if answer.status_code != 200:
        raise OnvifError(
            ERROR, f"{where} answered HTTP {answer.status_code} to GetSystemDateAndTime"
        )
    camera_utc, tz, kind = _parse(answer.content, where)
    middle = (sent + back) / 2
    return ClockReading(
        camera_id=target.camera_id,
        camera_utc=camera_utc,
        offset=camera_utc.timestamp() - middle,
        at=dt.datetime.fromtimestamp(middle, dt.UTC),
        round_trip=back - sent,
        tz=tz,
        date_time_type=kind,
    )


def _ntp_entry(host: str) -> dict[str, Any]:
    import ipaddress

    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return {"Type": "DNS", "DNSname": host}
    if address.version == 4:
        return {"Type": "IPv4", "IPv4Address": host}
    return {"Type": "IPv6", "IPv6Address": host}


async def push_ntp(
    target: OnvifTarget, ntp: str, *, tz: str = WITA_TZ, timeout: float = DEFAULT_TIMEOUT
) -> None:
    """Point the camera at ``ntp`` and set its zone to ``tz`` (SetNTP, SetSystemDateAndTime)."""

    async def ask(service: Any) -> None:
        await service.SetNTP({"FromDHCP": False, "NTPManual": [_ntp_entry(ntp)]})
        await service.SetSystemDateAndTime(
            {"DateTimeType": "NTP", "DaylightSavings": False, "TimeZone": {"TZ": tz}}
        )

    await _call(target, "SetNTP and SetSystemDateAndTime", timeout, ask)
