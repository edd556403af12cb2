"""Reboots: ``POST /api/v1/cameras/{id}/reboot``, ``POST|GET /api/v1/reboots``, one job.

Admin only. Every reboot request is audited, refused ones included: a non-admin caller
(``forbidden``), and an unknown camera or kecamatan or a malformed body (``refused``, the
reason in ``detail``), which is why the two POST routes read their body by hand rather
than letting FastAPI reject it before the handler runs. Refusals decided before anything
is sent are whole-request problems for a single camera (409 rebooted recently, 422 no
ONVIF URL or disabled, with an ``error`` member naming the reason), and ``skipped``
results inside a bulk job. The work itself is a job: 202 and a
:class:`~cctvctl.models.RebootJob` to poll, plus ``job.progress`` events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from cctvctl.models import (
    BulkRebootRequest,
    Problem,
    RebootJob,
    RebootPlan,
    RebootRequest,
    Role,
)
from cctvctl.reboots import (
    REBOOT,
    REBOOT_BULK,
    REBOOT_DRY_RUN,
    Actor,
    RebootManager,
    RebootRefused,
)
from cctvctl.server.auth import Principal, require
from cctvctl.server.problems import TYPE_FORBIDDEN, ProblemError, not_found
from cctvctl.server.routes._shared import (
    RT,
    BodyRefused,
    audit_text,
    body_schema,
    camera_or_404,
    invalid,
    job_created,
    kecamatan_or_404,
    loads_body,
    no_camera,
    read_json_body,
    validate_body,
)
from cctvctl.server.runtime import Runtime
from cctvctl.timeparse import DURATION_TEXT, parse_duration
from cctvctl.untrusted import quoted

__all__ = ["STRIPPED_ONE_LINE", "TYPE_REBOOT_REFUSED", "WHITESPACE", "router"]

TYPE_REBOOT_REFUSED: Final = "urn:cctvctl:problem:reboot-refused"

_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    401: {"model": Problem, "description": "No token, or a token this server does not know"},
    403: {"model": Problem, "description": "Only the admin role may reboot"},
    404: {"model": Problem, "description": "No such camera, kecamatan or job"},
    422: {"model": Problem, "description": "Malformed request, or refused (see `error`)"},
}

router = APIRouter(prefix="/api/v1", tags=["reboots"], responses=_ERRORS)

# The reboot bodies strip whitespace (pydantic's: Unicode White_Space) before they check
# length and control characters, so "  " is empty and a tab at the end is no control
# character: the one-line pattern of models/wire.py, with that stripping written in.
_WS: Final = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
WHITESPACE: Final = _WS  # time sync's body follows the same rule
_CTRL: Final = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
STRIPPED_ONE_LINE: Final = rf"^[{_WS}]*[^{_CTRL}{_WS}]([^{_CTRL}]*[^{_CTRL}{_WS}])?[{_WS}]*$"


def _reboot_body(model: type[RebootRequest] | type[BulkRebootRequest]) -> dict[str, Any]:
    """The request body schema, with the rules the route checks beyond the model's."""
    extra = body_schema(model)
    schema: dict[str, Any] = extra["requestBody"]["content"]["application/json"]["schema"]
    props = schema["properties"]
    props["reason"]["pattern"] = STRIPPED_ONE_LINE
    if model is BulkRebootRequest:
        props["cameras"]["anyOf"][0]["minItems"] = 1
        props["cameras"]["anyOf"][0]["items"]["pattern"] = STRIPPED_ONE_LINE
        props["kecamatan"]["anyOf"][0]["pattern"] = STRIPPED_ONE_LINE
        props["offline_for"]["anyOf"] = [
            {"type": "number", "minimum": 0},
            {"type": "string", "pattern": rf"^[{_WS}]*(?:{DURATION_TEXT})[{_WS}]*$"},
            {"type": "null"},
        ]
        # _select: at least one selector, and not both a list and a kecamatan.
        given = {
            "cameras": {"type": "array"},
            "kecamatan": {"type": "string"},
            "offline_for": {"type": ["number", "string"]},
        }
        schema["anyOf"] = [
            {"required": [name], "properties": {name: kind}} for name, kind in given.items()
        ]
        schema["not"] = {
            "required": ["cameras", "kecamatan"],
            "properties": {"cameras": given["cameras"], "kecamatan": given["kecamatan"]},
        }
    return extra


ADMIN: Final = Depends(require(Role.ADMIN))
Body = TypeVar("Body", RebootRequest, BulkRebootRequest)
Handler = TypeVar("Handler", bound=Callable[..., Any])


def manager(rt: RT) -> RebootManager:
    return rt.reboots


Manager = Annotated[RebootManager, Depends(manager)]


async def _admin_or_audited(
    request: Request,
    principal: Annotated[Principal, Depends(require(Role.VIEWER))],
    mgr: Manager,
) -> Principal:
    """Admin gate for the reboot requests: a refused attempt is itself an audit event."""
    if principal.role.allows(Role.ADMIN):
        return principal
    target = audit_text(request.path_params.get("camera_id"), 200)
    detail = (
        f"token {principal.name!r} has role {principal.role.value!r}; "
        f"rebooting needs {Role.ADMIN.value!r}"
    )
    await mgr.trail.audit_off_loop(
        principal,
        REBOOT if target else REBOOT_BULK,
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


def _action(model: type[Body], dry_run: object) -> str:
    """The audit action of a request, from ``dry_run`` as its body has it (valid or not)."""
    if model is RebootRequest:
        return REBOOT
    return REBOOT_DRY_RUN if dry_run is True else REBOOT_BULK


async def _audit_refusal(
    mgr: RebootManager,
    principal: Principal,
    action: str,
    *,
    target: str | None,
    reason: str | None,
    detail: str,
) -> None:
    await mgr.trail.audit_off_loop(
        principal, action, target=target, reason=reason, result="refused", detail=detail
    )


async def _read_body(
    request: Request,
    model: type[Body],
    mgr: RebootManager,
    principal: Principal,
    *,
    target: str | None,
) -> Body:
    """The request's body as ``model``; a body that is refused is audited, then raised."""
    data: Any = None
    try:
        raw = await read_json_body(request)
        data = loads_body(raw)
        return validate_body(model, raw, data)
    except BodyRefused as exc:
        given = data if isinstance(data, dict) else {}
        action = _action(model, given.get("dry_run"))
        reason = audit_text(given.get("reason"))
        await _audit_refusal(
            mgr, principal, action, target=target, reason=reason, detail=exc.summary
        )
        raise exc.problem from None


def _post_reboot(
    path: str, model: type[Body], responses: dict[int | str, dict[str, Any]]
) -> Callable[[Handler], Handler]:
    """The route of a POST that starts a reboot job: 202 and the job, ``model`` its body."""
    created = {"description": "the job; poll it or follow the events"}
    return router.post(
        path,
        status_code=202,
        response_model=RebootJob,
        openapi_extra=_reboot_body(model),
        responses={202: {**created, **job_created("reboots", "GetRebootJob")}, **responses},
    )


@_post_reboot(
    "/cameras/{camera_id}/reboot",
    RebootRequest,
    {409: {"model": Problem, "description": "Rebooted in the last 10 minutes"}},
)
async def reboot_camera(
    camera_id: str,
    request: Request,
    rt: RT,
    mgr: Manager,
    principal: RebootAdmin,
    response: Response,
) -> RebootJob:
    """Reboot one camera through ONVIF and watch its stream come back.

    Body: ``{reason, force?}``.
    """
    # The path is the caller's text until the camera is found.
    target = audit_text(camera_id, 200)
    body = await _read_body(request, RebootRequest, mgr, principal, target=target)
    try:
        camera_or_404(rt, camera_id)
        if mgr.planner.unknown([camera_id]):  # known to the recorder only: as good as unknown here
            raise no_camera([camera_id])
    except ProblemError as exc:
        await _audit_refusal(
            mgr, principal, REBOOT, target=target, reason=body.reason, detail=exc.detail
        )
        raise
    try:
        # The manager audits its own refusals (recently rebooted, no ONVIF URL, ...).
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


def _select(
    body: BulkRebootRequest, rt: Runtime, mgr: RebootManager
) -> tuple[str | None, float | None]:
    """The kecamatan slug and ``offline_for`` seconds a bulk body asks for.

    Raises :class:`ProblemError` (422, or 404 for an unknown kecamatan) for a selection
    that cannot be made.
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
        if not body.cameras:
            raise invalid("cameras", "body field 'cameras' is an empty list", where="body")
        unknown = mgr.planner.unknown(body.cameras)
        if unknown:
            # 404, as for an unknown kecamatan or an unknown camera in the path.
            raise no_camera(unknown)
    slug = kecamatan_or_404(rt, body.kecamatan).key if body.kecamatan is not None else None
    return slug, offline_for


@_post_reboot(
    "/reboots",
    BulkRebootRequest,
    {
        # No Location and no link: a dry run starts no job.
        200: {"model": RebootPlan, "description": "dry run: what a real run would do"},
        422: {
            "model": Problem,
            "description": "Malformed request, or a real run refused: no camera matches, "
            "or more than 20 without force (a dry run answers 200 with `refused`)",
        },
    },
)
async def bulk_reboot(
    request: Request,
    rt: RT,
    mgr: Manager,
    principal: RebootAdmin,
    response: Response,
) -> RebootJob | JSONResponse:
    """Reboot a list of cameras, a kecamatan, or the cameras offline for a while.

    Body: ``{cameras? | kecamatan?, offline_for?, reason, dry_run?, max_parallel?, force?}``.
    Cameras rebooted in the last 10 minutes are skipped, and more than 20 to reboot is
    refused, unless `force`. `dry_run` answers 200 with the plan and sends nothing.
    """
    body = await _read_body(request, BulkRebootRequest, mgr, principal, target=None)
    action = _action(BulkRebootRequest, body.dry_run)
    try:
        slug, offline_for = _select(body, rt, mgr)
    except ProblemError as exc:
        await _audit_refusal(
            mgr,
            principal,
            action,
            target=_describe(body, body.kecamatan, None),
            reason=body.reason,
            detail=exc.detail,
        )
        raise
    targets = mgr.planner.select(body.cameras, slug, offline_for)
    try:
        # The manager audits what it does, and what it refuses (too many, none matched).
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
        return JSONResponse(result.model_dump(mode="json"))
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
        raise not_found(f"no reboot job {quoted(job_id)}; list them with GET /api/v1/reboots")
    return job
