"""``POST /api/v1/time/sync``: point cameras' clocks at NTP in WITA, and confirm (admin).

The answer comes when every camera has been pushed and read back (each within about
``devicecheck.time_sync.CONFIRM_SECONDS`` plus its ONVIF time-outs, 8 cameras at once),
one result per camera in request order. Each camera's outcome is an audit row
(``time.sync``); a dry run reads and lists, touches nothing and is not audited.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends

from cctvctl.devicecheck import sync_cameras
from cctvctl.devices.clock import WITA_TZ
from cctvctl.models import Problem, Role, TimeSyncReport, TimeSyncRequest, TimeSyncResult
from cctvctl.server.auth import Principal, require
from cctvctl.server.problems import ProblemError
from cctvctl.server.routes._shared import RT, invalid, kecamatan_or_404, no_camera
from cctvctl.server.runtime import Runtime

__all__ = ["TIME_SYNC", "TYPE_NO_NTP_SERVER", "router"]

TIME_SYNC: Final = "time.sync"
TYPE_NO_NTP_SERVER: Final = "urn:cctvctl:problem:no-ntp-server"

_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    401: {"model": Problem, "description": "No token, or a token this server does not know"},
    403: {"model": Problem, "description": "Only the admin role may set cameras' clocks"},
    404: {"model": Problem, "description": "No such camera or kecamatan"},
    409: {"model": Problem, "description": "No NTP server given and none configured"},
    422: {"model": Problem, "description": "Malformed request, or no camera to set"},
    503: {"model": Problem, "description": "The device checker is not running"},
}

router = APIRouter(prefix="/api/v1", tags=["time"], responses=_ERRORS)

Admin = Annotated[Principal, Depends(require(Role.ADMIN))]


def _targets(rt: Runtime, body: TimeSyncRequest) -> list[str]:
    """The cameras asked for: the list as given, then the kecamatan's ONVIF cameras."""
    if not body.cameras and body.kecamatan is None:
        raise invalid("cameras", "name cameras or a kecamatan", where="body")
    chosen: list[str] = []
    if body.cameras:
        unknown = [c for c in body.cameras if rt.inventory.camera(c) is None]
        if unknown:
            raise no_camera(unknown)
        chosen.extend(body.cameras)
    if body.kecamatan is not None:
        kec = kecamatan_or_404(rt, body.kecamatan)
        found = [
            e.camera.id
            for e in rt.inventory.cameras()
            if e.kecamatan.key == kec.key and e.camera.enabled and e.camera.onvif is not None
        ]
        if not found:
            raise invalid(
                "kecamatan",
                f"kecamatan {kec.name!r} has no enabled camera with an ONVIF URL to set",
                where="body",
            )
        chosen.extend(found)
    return list(dict.fromkeys(chosen))


@router.post("/time/sync", response_model=TimeSyncReport)
async def time_sync(body: TimeSyncRequest, rt: RT, who: Admin) -> TimeSyncReport:
    """Push an NTP server and the WITA zone (WITA-8) to cameras, then read each clock back."""
    checker = rt.devices
    if checker is None:
        raise ProblemError(503, "the device checker is not running on this server")
    targets = _targets(rt, body)
    ntp = body.ntp or rt.inventory.server.ntp_server
    if ntp is None:
        raise ProblemError(
            409,
            "no NTP server: give one (cctvctl time sync --ntp HOST, or ntp in the body), "
            'or set [server] ntp_server = "HOST" in the inventory',
            type=TYPE_NO_NTP_SERVER,
            title="No NTP server",
        )
    if body.dry_run:
        results = []
        for camera_id in targets:
            record = checker.record(camera_id)
            before = None if record is None or record.clock_offset is None else record.clock_offset
            has_onvif = (target := checker.target(camera_id)) is not None and bool(target.url)
            results.append(
                TimeSyncResult(
                    camera_id=camera_id,
                    result="planned" if has_onvif else "failed",
                    offset_before=None if before is None else round(before, 1),
                    detail=f"would set NTP {ntp}, zone {WITA_TZ}"
                    if has_onvif
                    else "the camera has no ONVIF URL in the inventory",
                )
            )
        return TimeSyncReport(ntp=ntp, tz=WITA_TZ, dry_run=True, results=results)
    results = await sync_cameras(checker, targets, ntp, tz=WITA_TZ)
    for result in results:
        await asyncio.to_thread(
            rt.audit.record,
            who.name,
            who.role.value,
            TIME_SYNC,
            target=result.camera_id,
            result=result.result,
            detail=f"ntp {ntp}, zone {WITA_TZ}; offset before "
            f"{_seconds(result.offset_before)}, after {_seconds(result.offset_after)}; "
            f"{result.detail or ''}".rstrip("; "),
        )
    return TimeSyncReport(ntp=ntp, tz=WITA_TZ, dry_run=False, results=results)


def _seconds(value: float | None) -> str:
    return "unknown" if value is None else f"{value:+.0f} s"
