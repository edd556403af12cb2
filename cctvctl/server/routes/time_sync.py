"""``POST /api/v1/time/sync``: point cameras' clocks at NTP in WITA, and confirm (admin).

The answer comes when every camera has been pushed and read back (each within about
``devicecheck.time_sync.CONFIRM_SECONDS`` plus its ONVIF time-outs, 8 cameras at once),
one result per camera in request order. Each camera's outcome is an audit row
(``time.sync``), and so is a refused request (forbidden, malformed, unknown camera, no
NTP server), which is why the body is read by hand as the reboot routes do; a dry run
reads and lists, touches nothing and is not audited.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request

from cctvctl.devicecheck import sync_cameras
from cctvctl.devices.clock import WITA_TZ
from cctvctl.models import (
    NTP_HOST,
    Problem,
    Role,
    TimeSyncReport,
    TimeSyncRequest,
    TimeSyncResult,
)
from cctvctl.server.auth import Principal, require
from cctvctl.server.problems import TYPE_FORBIDDEN, ProblemError
from cctvctl.server.routes._shared import (
    RT,
    BodyRefused,
    audit_text,
    body_schema,
    invalid,
    kecamatan_or_404,
    loads_body,
    no_camera,
    read_json_body,
    validate_body,
)
from cctvctl.server.routes.reboots import STRIPPED_ONE_LINE, WHITESPACE
from cctvctl.server.runtime import Runtime

__all__ = ["TIME_SYNC", "TYPE_NO_NTP_SERVER", "router"]

TIME_SYNC: Final = "time.sync"
TYPE_NO_NTP_SERVER: Final = "urn:cctvctl:problem:no-ntp-server"

_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    401: {"model": Problem, "description": "No token, or a token this server does not know"},
    403: {"model": Problem, "description": "Only the admin role may set cameras' clocks"},
    404: {"model": Problem, "description": "No such camera or kecamatan"},
    409: {"model": Problem, "description": "No NTP server given and none configured"},
    422: {"model": Problem, "description": "Malformed request"},
    503: {"model": Problem, "description": "The device checker is not running"},
}

router = APIRouter(prefix="/api/v1", tags=["time"], responses=_ERRORS)


def _request_schema() -> dict[str, Any]:
    """The body's schema with what the route checks beyond the model: a selector."""
    extra = body_schema(TimeSyncRequest)
    schema: dict[str, Any] = extra["requestBody"]["content"]["application/json"]["schema"]
    props = schema["properties"]
    props["cameras"]["anyOf"][0]["minItems"] = 1
    props["cameras"]["anyOf"][0]["items"]["pattern"] = STRIPPED_ONE_LINE
    props["kecamatan"]["anyOf"][0]["pattern"] = STRIPPED_ONE_LINE
    host = NTP_HOST.strip("^$")
    props["ntp"]["anyOf"][0]["pattern"] = rf"^[{WHITESPACE}]*{host}[{WHITESPACE}]*$"
    schema["anyOf"] = [
        {"required": ["cameras"], "properties": {"cameras": {"type": "array"}}},
        {"required": ["kecamatan"], "properties": {"kecamatan": {"type": "string"}}},
    ]
    return extra


async def _admin(
    rt: RT, principal: Annotated[Principal, Depends(require(Role.VIEWER))]
) -> Principal:
    """Admin gate: a refused attempt is itself an audit row."""
    if principal.role.allows(Role.ADMIN):
        return principal
    detail = (
        f"token {principal.name!r} has role {principal.role.value!r}; "
        f"setting cameras' clocks needs {Role.ADMIN.value!r}"
    )
    await _audit(rt, principal, None, "forbidden", detail)
    raise ProblemError(403, detail, type=TYPE_FORBIDDEN)


Admin = Annotated[Principal, Depends(_admin)]


async def _audit(rt: Runtime, who: Principal, target: str | None, result: str, detail: str) -> None:
    await asyncio.to_thread(
        rt.audit.record,
        who.name,
        who.role.value,
        TIME_SYNC,
        target=target,
        result=result,
        detail=detail,
    )


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
        chosen.extend(
            e.camera.id
            for e in rt.inventory.cameras()
            if e.kecamatan.key == kec.key and e.camera.enabled and e.camera.onvif is not None
        )
    return list(dict.fromkeys(chosen))


def _planned(rt: Runtime, targets: list[str], ntp: str) -> list[TimeSyncResult]:
    checker = rt.devices
    assert checker is not None
    results = []
    for camera_id in targets:
        record = checker.record(camera_id)
        before = None if record is None else record.clock_offset
        target = checker.target(camera_id)
        has_onvif = target is not None and bool(target.url)
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
    return results


def _seconds(value: float | None) -> str:
    return "unknown" if value is None else f"{value:+.0f} s"


@router.post("/time/sync", response_model=TimeSyncReport, openapi_extra=_request_schema())
async def time_sync(request: Request, rt: RT, who: Admin) -> TimeSyncReport:
    """Push an NTP server and the WITA zone (WITA-8) to cameras, then read each clock back.

    Body: ``{cameras? | kecamatan?, ntp?, dry_run?}``; ``ntp`` defaults to the server's
    ``[server] ntp_server``. A kecamatan without ONVIF cameras answers an empty list.
    """
    checker = rt.devices
    if checker is None:
        raise ProblemError(503, "the device checker is not running on this server")
    data: Any = None
    try:
        raw = await read_json_body(request)
        data = loads_body(raw)
        body = validate_body(TimeSyncRequest, raw, data)
    except BodyRefused as exc:
        await _audit(rt, who, None, "refused", exc.summary)
        raise exc.problem from None
    try:
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
    except ProblemError as exc:
        if not body.dry_run:
            target = audit_text(",".join(body.cameras or []) or body.kecamatan, 200)
            await _audit(rt, who, target, "refused", exc.detail)
        raise
    if body.dry_run:
        return TimeSyncReport(ntp=ntp, tz=WITA_TZ, dry_run=True, results=_planned(rt, targets, ntp))
    results = await sync_cameras(checker, targets, ntp, tz=WITA_TZ)
    for result in results:
        detail = (
            f"ntp {ntp}, zone {WITA_TZ}; offset before {_seconds(result.offset_before)}, "
            f"after {_seconds(result.offset_after)}"
        )
        if result.result != "ok" and result.detail:
            detail += f"; {result.detail}"
        await _audit(rt, who, result.camera_id, result.result, detail)
    return TimeSyncReport(ntp=ntp, tz=WITA_TZ, dry_run=False, results=results)
