"""Reboots: ``POST /api/v1/cameras/{id}/reboot``, ``POST|GET /api/v1/reboots``, one job.

Admin only. Refusals decided before anything is sent are whole-request problems for a
single camera (409 rebooted recently, 422 no ONVIF URL or disabled, with an ``error``
member naming the reason), and ``skipped`` results inside a bulk job. The work itself is
a job: 202 and a :class:`~cctvctl.models.RebootJob` to poll, plus ``job.progress`` events.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from cctvctl.devices.reboots import Actor, RebootManager, RebootRefused, parse_duration
from cctvctl.models import (
    BulkRebootRequest,
    Problem,
    RebootJob,
    RebootPlan,
    RebootRequest,
    Role,
)
from cctvctl.server.auth import Principal, require
from cctvctl.server.problems import TYPE_FORBIDDEN, TYPE_NOT_FOUND, ProblemError
from cctvctl.server.routes._shared import RT, camera_or_404, invalid, kecamatan_or_404

__all__ = ["TYPE_REBOOT_REFUSED", "router"]

TYPE_REBOOT_REFUSED: Final = "urn:cctvctl:problem:reboot-refused"

_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    401: {"model": Problem, "description": "No token, or a token this server does not know"},
    403: {"model": Problem, "description": "Only the admin role may reboot"},
    404: {"model": Problem, "description": "No such camera, kecamatan or job"},
    422: {"model": Problem, "description": "Malformed request, or refused (see `error`)"},
}

router = APIRouter(prefix="/api/v1", tags=["reboots"], responses=_ERRORS)

ADMIN: Final = Depends(require(Role.ADMIN))


def manager(request: Request) -> RebootManager:
    mgr: RebootManager = request.app.state.reboots
    return mgr


Manager = Annotated[RebootManager, Depends(manager)]


async def _admin_or_audited(
    request: Request,
    principal: Annotated[Principal, Depends(require(Role.VIEWER))],
) -> Principal:
    """Admin gate for the reboot requests: a refused attempt is itself an audit event."""
    if principal.role.allows(Role.ADMIN):
        return principal
    mgr: RebootManager = request.app.state.reboots
    target = request.path_params.get("camera_id")
    detail = (
        f"token {principal.name!r} has role {principal.role.value!r}; "
        f"rebooting needs {Role.ADMIN.value!r}"
    )
    await asyncio.to_thread(
        mgr.audit.record,
        principal.name,
        principal.role.value,
        "reboot" if target else "reboot.bulk",
        target=target,
        result="forbidden",
        detail=detail,
    )
    raise ProblemError(403, detail, type=TYPE_FORBIDDEN)


RebootAdmin = Annotated[Principal, Depends(_admin_or_audited)]


def _refused(exc: RebootRefused) -> ProblemError:
    return ProblemError(
        exc.status,
        exc.detail,
        type=TYPE_REBOOT_REFUSED,
        title="Reboot refused",
        extra=exc.extra,
    )


@router.post(
    "/cameras/{camera_id}/reboot",
    status_code=202,
    response_model=RebootJob,
    responses={409: {"model": Problem, "description": "Rebooted in the last 10 minutes"}},
)
async def reboot_camera(
    camera_id: str,
    body: RebootRequest,
    rt: RT,
    mgr: Manager,
    principal: RebootAdmin,
    response: Response,
) -> RebootJob:
    """Reboot one camera through ONVIF and watch its stream come back."""
    camera_or_404(rt, camera_id)
    try:
        job = await mgr.reboot_one(
            camera_id,
            reason=body.reason,
            force=body.force,
            actor=Actor(principal.name, principal.role.value),
        )
    except RebootRefused as exc:
        raise _refused(exc) from None
    response.headers["Location"] = f"/api/v1/reboots/{job.id}"
    return job


def _describe(body: BulkRebootRequest, kecamatan: str | None, offline_for: float | None) -> str:
    parts = []
    if body.cameras is not None:
        shown = ",".join(body.cameras[:20]) + (",…" if len(body.cameras) > 20 else "")
        parts.append(f"cameras={shown}")
    if kecamatan is not None:
        parts.append(f"kecamatan={kecamatan}")
    if offline_for is not None:
        parts.append(f"offline_for={offline_for:g}s")
    return " ".join(parts) or "all cameras"


@router.post(
    "/reboots",
    status_code=202,
    response_model=RebootJob | RebootPlan,
    responses={
        200: {"model": RebootPlan, "description": "dry run: what a real run would do"},
        202: {"model": RebootJob, "description": "the job; poll it or follow the events"},
    },
)
async def bulk_reboot(
    body: BulkRebootRequest,
    rt: RT,
    mgr: Manager,
    principal: RebootAdmin,
    response: Response,
) -> RebootJob | RebootPlan:
    """Reboot a list of cameras, a kecamatan, or the cameras offline for a while.

    Cameras rebooted in the last 10 minutes are skipped, and more than 20 to reboot is
    refused, unless `force`. `dry_run` answers 200 with the plan and sends nothing.
    """
    if body.cameras is not None and body.kecamatan is not None:
        raise invalid("kecamatan", "give either cameras or kecamatan, not both", where="body")
    if body.cameras is None and body.kecamatan is None and body.offline_for is None:
        raise invalid(
            "cameras",
            "name the targets: cameras (a list of ids), kecamatan, or offline_for alone "
            "(every camera offline that long)",
            where="body",
        )
    offline_for: float | None = None
    if body.offline_for is not None:
        try:
            offline_for = parse_duration(body.offline_for)
        except ValueError as exc:
            raise invalid("offline_for", f"body field 'offline_for': {exc}", where="body") from None
    if body.cameras is not None:
        unknown = mgr.unknown(body.cameras)
        if unknown:
            raise invalid(
                "cameras",
                f"no camera {', '.join(repr(c) for c in unknown[:10])} on this server; "
                "list them with GET /api/v1/cameras",
                where="body",
            )
    slug = kecamatan_or_404(rt, body.kecamatan).key if body.kecamatan is not None else None
    targets = mgr.select(body.cameras, slug, offline_for)
    try:
        result = await mgr.reboot_many(
            targets,
            reason=body.reason,
            force=body.force,
            max_parallel=body.max_parallel,
            dry_run=body.dry_run,
            actor=Actor(principal.name, principal.role.value),
            selection=_describe(body, slug, offline_for),
        )
    except RebootRefused as exc:
        raise _refused(exc) from None
    if isinstance(result, RebootPlan):
        response.status_code = 200
    else:
        response.headers["Location"] = f"/api/v1/reboots/{result.id}"
    return result


@router.get("/reboots", response_model=list[RebootJob], dependencies=[ADMIN])
def list_reboots(
    mgr: Manager,
    limit: Annotated[int, Query(ge=1, le=500, description="How many jobs, newest first.")] = 20,
    camera: Annotated[str | None, Query(description="Only jobs touching this camera.")] = None,
) -> list[RebootJob]:
    """Recent reboot jobs, newest first."""
    return mgr.jobs(limit, camera)


@router.get("/reboots/{job_id}", response_model=RebootJob, dependencies=[ADMIN])
def get_reboot(
    mgr: Manager,
    job_id: Annotated[str, Path(description="A job id from POST …/reboot or /reboots.")],
) -> RebootJob:
    """One reboot job with every camera's result so far."""
    job = mgr.job(job_id)
    if job is None:
        raise ProblemError(
            404,
            f"no reboot job {job_id!r}; list them with GET /api/v1/reboots",
            type=TYPE_NOT_FOUND,
        )
    return job
