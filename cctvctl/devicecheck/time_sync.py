"""``time sync``: point cameras at an NTP server in WITA, then read each clock back.

Each camera: SetNTP and SetSystemDateAndTime (``devices.clock.push_ntp``, with the
camera's credentials), then its clock is read back until it is within the tolerance or
``confirm_seconds`` have passed (a real camera takes a moment to reach its NTP server; the
simulator is right at once). The reading back goes through the checker, so the stored
offset and the camera's status follow at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Final

from cctvctl.devicecheck.service import DeviceChecker
from cctvctl.devices.clock import WITA_TZ, push_ntp
from cctvctl.devices.onvif import OnvifError, OnvifTarget
from cctvctl.models import TimeSyncResult

__all__ = ["CONFIRM_SECONDS", "Pusher", "sync_cameras"]

CONFIRM_SECONDS: Final = 10.0
_PARALLEL: Final = 8
_READ_AGAIN: Final = 1.0

Pusher = Callable[[OnvifTarget, str, str], Awaitable[None]]


async def _push(target: OnvifTarget, ntp: str, tz: str) -> None:
    await push_ntp(target, ntp, tz=tz)


async def _sync_one(
    checker: DeviceChecker,
    camera_id: str,
    ntp: str,
    tz: str,
    push: Pusher,
    confirm_seconds: float,
) -> TimeSyncResult:
    record = checker.record(camera_id)
    before = None if record is None else record.clock_offset
    target = checker.target(camera_id)
    if target is None or target.url is None:
        return TimeSyncResult(
            camera_id=camera_id,
            result="failed",
            offset_before=before,
            detail="the camera has no ONVIF URL in the inventory; set its clock at the camera",
        )
    try:
        await push(target, ntp, tz)
    except OnvifError as exc:
        return TimeSyncResult(
            camera_id=camera_id,
            result="failed",
            offset_before=before,
            detail=f"{exc.code}: {checker.redact(exc.message)}",
        )
    tolerance = checker.inventory.server.clock_tolerance_seconds
    deadline = time.monotonic() + confirm_seconds
    while True:
        reading = await checker.check_clock(camera_id)
        if isinstance(reading, OnvifError):
            after, detail = None, f"pushed, but the clock could not be read back: {reading}"
        else:
            after = round(reading.offset, 1)
            if abs(reading.offset) <= tolerance:
                return TimeSyncResult(
                    camera_id=camera_id,
                    result="ok",
                    offset_before=None if before is None else round(before, 1),
                    offset_after=after,
                    detail=f"NTP {ntp}, zone {tz}; clock now {after:+.0f} s",
                )
            detail = (
                f"pushed, but the clock is still {after:+.0f} s off; check that the camera "
                f"reaches {ntp} (UDP 123)"
            )
        if time.monotonic() >= deadline:
            return TimeSyncResult(
                camera_id=camera_id,
                result="failed",
                offset_before=None if before is None else round(before, 1),
                offset_after=after,
                detail=detail,
            )
        await asyncio.sleep(_READ_AGAIN)


async def sync_cameras(
    checker: DeviceChecker,
    camera_ids: list[str],
    ntp: str,
    *,
    tz: str = WITA_TZ,
    push: Pusher = _push,
    confirm_seconds: float = CONFIRM_SECONDS,
) -> list[TimeSyncResult]:
    """Push ``ntp`` and ``tz`` to each camera and confirm; results in the order given."""
    slots = asyncio.Semaphore(_PARALLEL)

    async def one(camera_id: str) -> TimeSyncResult:
        async with slots:
            return await _sync_one(checker, camera_id, ntp, tz, push, confirm_seconds)

    return list(await asyncio.gather(*(one(c) for c in camera_ids)))
