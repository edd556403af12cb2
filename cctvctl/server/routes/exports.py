"""``/api/v1/exports``: evidence clips as jobs, their files (resumable) and manifests.

Every export request is audited, refused ones included (a viewer trying to export is
worth knowing about), which is why the role check happens here rather than in the
route's dependency. Downloads are audited once per download, not once per range: a
request that starts at byte 0 is a new download and gets a row; a request that resumes
further in gets a row only if this token has not downloaded the clip before, so every
token that received bytes is on record, and a resume over a flaky link adds nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from cctvctl.archive.vault_errors import VaultUnreachable
from cctvctl.exports import Exporter, ExportRefused
from cctvctl.exports.cleanup import EvidenceLocked
from cctvctl.exports.vault import EvidenceVault, NoVaultCopy
from cctvctl.models import (
    ExportJob,
    ExportManifest,
    ExportRequest,
    ExportState,
    Problem,
    Role,
    VaultCheck,
)
from cctvctl.server.auth import Principal, require
from cctvctl.server.problems import ProblemError, not_found
from cctvctl.server.routes._shared import (
    RT,
    BodyRefused,
    audit_text,
    audited_role,
    body_schema,
    invalid,
    job_created,
    loads_body,
    read_json_body,
    rfc3339,
    validate_body,
)
from cctvctl.storage.audit import EXPORT_CANCEL, EXPORT_DOWNLOAD, EXPORT_REQUEST
from cctvctl.untrusted import quoted

__all__ = ["router"]

CHUNK: Final = 256 * 1024
TYPE_NOT_READY: Final = "urn:cctvctl:problem:export-not-ready"
TYPE_GONE: Final = "urn:cctvctl:problem:export-gone"
TYPE_RANGE: Final = "urn:cctvctl:problem:range-not-satisfiable"
TYPE_LOCKED: Final = "urn:cctvctl:problem:evidence-locked"
TYPE_NO_VAULT: Final = "urn:cctvctl:problem:no-evidence-vault"
TYPE_NO_COPY: Final = "urn:cctvctl:problem:no-vault-copy"
TYPE_VAULT_DOWN: Final = "urn:cctvctl:problem:evidence-vault-unavailable"
#: Seconds a client should wait before asking again when the vault's store is down.
VAULT_RETRY_AFTER: Final = 10
_RANGE: Final = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)

_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    401: {"model": Problem, "description": "No token, or a token this server does not know"},
    403: {"model": Problem, "description": "The token's role is too low (needs operator)"},
    404: {"model": Problem, "description": "No such export job (or camera)"},
    422: {"model": Problem, "description": "A parameter is out of range or malformed"},
}

# Authentication only; the operator check is done by the handlers so refusals are audited
# for POST, and by _operator() for the others.
_AUTHENTICATED: Final = Depends(require(Role.VIEWER))
OPERATOR: Final = Depends(require(Role.OPERATOR))

router = APIRouter(prefix="/api/v1", tags=["exports"], responses=_ERRORS)


def _exporter(rt: RT) -> Exporter:
    return rt.exporter


EXPORTER = Annotated[Exporter, Depends(_exporter)]


def _job_or_404(exporter: Exporter, job_id: str) -> ExportJob:
    job = exporter.store.get(job_id)
    if job is None:
        raise not_found(
            f"no export job {quoted(job_id)} on this server; `cctvctl exports ls` lists "
            "them with their whole ids"
        )
    return job


@router.post(
    "/exports",
    status_code=202,
    response_model=ExportJob,
    openapi_extra=body_schema(ExportRequest),
    responses={
        202: {
            "description": "Queued; follow the Location header for progress",
            **job_created("exports", "GetExportJob"),
        }
    },
)
async def create_export(
    request: Request,
    response: Response,
    exporter: EXPORTER,
    principal: Annotated[Principal, _AUTHENTICATED],
) -> ExportJob:
    """Queue a clip export of one camera over a window (operator or admin).

    Body: ``{camera, start, end, case_id?, note?}`` with RFC 3339 times. ``end`` must be
    after ``start`` (a zero-length window is refused) and not in the future; the window
    may be at most ``export_max_minutes`` long and must hold some footage. A window
    breaking one of these rules is a 422.
    """
    target: str | None = None
    case_id: str | None = None

    def refuse(detail: str) -> None:
        exporter.trail.audit(
            principal,
            EXPORT_REQUEST,
            target=target,
            case_id=case_id,
            result="refused",
            detail=detail,
        )

    # The role first, before the body is even read: a viewer's attempt is recorded (who
    # and when) without anything of what it sent, so it can neither reach the parser nor
    # the audit log.
    audited_role(principal, Role.OPERATOR, "this needs 'operator' or higher", refuse)
    try:
        # Parsed by hand rather than by FastAPI so a malformed request is audited too.
        raw = await read_json_body(request)
        data = loads_body(raw)
        if isinstance(data, dict):
            # For the audit row of a refusal: bounded, and escaped should the body be
            # refused for control characters.
            target = audit_text(data.get("camera"), 200)
            case_id = audit_text(data.get("case_id"), 200)
        req = validate_body(ExportRequest, raw, data)
    except BodyRefused as exc:
        refuse(exc.summary)
        raise exc.problem from None
    try:
        job = exporter.submit(req, principal.name, principal.role.value)
    except ExportRefused as exc:
        refuse(exc.detail)
        if exc.status == 404:
            raise not_found(exc.detail) from None
        problem = invalid(exc.parameter, exc.detail, where="body")
        problem.extra.update(exc.extra)  # where the camera's footage is, for scripts
        raise problem from None
    exporter.trail.audit(
        principal,
        EXPORT_REQUEST,
        target=req.camera,
        reason=req.note,
        case_id=req.case_id,
        result="accepted",
        detail=f"job {job.id}: {job.start.isoformat()} to {job.end.isoformat()}",
    )
    response.headers["Location"] = f"/api/v1/exports/{job.id}"
    return job


@router.get("/exports", response_model=list[ExportJob], dependencies=[OPERATOR])
def list_exports(
    exporter: EXPORTER,
    state: Annotated[ExportState | None, Query(description="Only jobs in this state.")] = None,
    camera: Annotated[str | None, Query(description="Only this camera's jobs.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 200,
    case_id: Annotated[str | None, Query(description="Only this case's jobs.")] = None,
) -> list[ExportJob]:
    """Export jobs, newest first (operator or admin)."""
    states = None if state is None else [state]
    return exporter.store.jobs(states=states, camera=camera, limit=limit, case_id=case_id)


@router.get("/exports/{job_id}", response_model=ExportJob, dependencies=[OPERATOR])
def get_export(job_id: str, exporter: EXPORTER) -> ExportJob:
    """One job: state, progress (percent, bytes, ETA), gaps, and once done size and SHA-256."""
    return _job_or_404(exporter, job_id)


@router.delete(
    "/exports/{job_id}",
    response_model=ExportJob,
    responses={
        409: {
            "model": Problem,
            "description": "A finished export that is evidence: its vault copy is retained "
            "(or held, or still pending); nothing was deleted",
        }
    },
)
def delete_export(
    job_id: str,
    exporter: EXPORTER,
    principal: Annotated[Principal, OPERATOR],
) -> ExportJob:
    """Cancel a queued or running job; for a finished one, delete its files.

    A finished export stored in the evidence vault cannot be deleted before its retention
    date, nor while its case is under a legal hold, nor while its vault copy is pending:
    a 409 naming the date, and an audit row of the attempt.
    """
    before = _job_or_404(exporter, job_id)
    try:
        job = exporter.cancel(job_id)
    except EvidenceLocked as exc:
        locked = exc.locked
        exporter.trail.audit(
            principal,
            EXPORT_CANCEL,
            target=before.camera,
            case_id=before.case_id,
            result="refused",
            detail=f"job {job_id}: {locked.detail}",
        )
        raise ProblemError(
            409,
            locked.detail,
            type=TYPE_LOCKED,
            extra={
                "retain_until": None
                if locked.retain_until is None
                else rfc3339(locked.retain_until),
                "legal_hold": locked.legal_hold,
                "vault_pending": locked.pending,
            },
        ) from None
    if job is None:
        raise not_found(f"no export job {quoted(job_id)} on this server")
    exporter.trail.audit(
        principal,
        EXPORT_CANCEL,
        target=job.camera,
        case_id=job.case_id,
        detail=f"job {job_id}: {before.state.value} -> {job.state.value}",
    )
    return job


def _ready(exporter: Exporter, job: ExportJob, path: Path) -> None:
    if job.state in (ExportState.QUEUED, ExportState.RUNNING):
        raise ProblemError(
            409,
            f"export {job.id} is {job.state.value} ({job.percent:g} %); "
            "the file is there once the job is done",
            type=TYPE_NOT_READY,
        )
    if job.state is not ExportState.DONE or not path.is_file():
        why = job.error if job.state is ExportState.FAILED and job.error else job.state.value
        raise ProblemError(410, f"export {job.id} has no file: {why}", type=TYPE_GONE)


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``(first, last)`` inclusive for one byte range; None to serve the whole file.

    As RFC 9110 (section 14.2) has it, a Range that cannot be parsed (another unit,
    ``bytes=abc``, a range that ends before it starts) is ignored and the whole file
    served; only a well-formed range this file cannot satisfy (starting at or past the
    end, or ``bytes=-0``) is a 416. A list of ranges is answered with the whole file too,
    which RFC 9110 allows; resuming clients only ever ask for one.
    """
    if "," in header:
        return None
    m = _RANGE.match(header)
    if m is None or (not m.group(1) and not m.group(2)):
        return None
    first: int
    last: int
    if m.group(1):
        first = int(m.group(1))
        if m.group(2) and int(m.group(2)) < first:
            return None
        last = int(m.group(2)) if m.group(2) else size - 1
    else:
        suffix = int(m.group(2))
        if suffix == 0:
            raise _unsatisfiable(f"Range {quoted(header)} asks for no bytes", size)
        first, last = max(0, size - suffix), size - 1
    if first >= size:
        raise _unsatisfiable(
            f"Range {quoted(header)} starts at or past the end of the file ({size} bytes)", size
        )
    return first, min(last, size - 1)


def _unsatisfiable(detail: str, size: int) -> ProblemError:
    return ProblemError(416, detail, type=TYPE_RANGE, headers={"Content-Range": f"bytes */{size}"})


def _chunks(path: Path, first: int, length: int) -> Iterator[bytes]:
    with path.open("rb") as fh:
        fh.seek(first)
        left = length
        while left > 0:
            block = fh.read(min(CHUNK, left))
            if not block:
                return
            left -= len(block)
            yield block


@router.get(
    "/exports/{job_id}/file",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"video/mp4": {}}, "description": "The whole clip"},
        206: {"content": {"video/mp4": {}}, "description": "One byte range of the clip"},
        409: {"model": Problem, "description": "The job has not finished"},
        410: {"model": Problem, "description": "The files were deleted, expired or failed"},
        416: {"model": Problem, "description": "The Range cannot be served"},
    },
)
def download_export(
    job_id: str,
    request: Request,
    exporter: EXPORTER,
    principal: Annotated[Principal, OPERATOR],
    clip: Annotated[
        int,
        Query(
            ge=0,
            le=99,
            description="Which clip of an export that spans a change of picture size "
            "(the manifest's `clips`; 0, the default, is the job's file).",
        ),
    ] = 0,
) -> StreamingResponse:
    """The clip; supports ``Range: bytes=N-`` to resume, with ``If-Range`` on the ETag.

    The ETag is the clip's SHA-256, so a resumed download can never splice two files.
    """
    job = _job_or_404(exporter, job_id)
    path = exporter.clip_path(job)
    _ready(exporter, job, path)
    etag = f'"{job.sha256}"'
    if clip:
        clips = ExportManifest.model_validate_json(exporter.manifest_path(job).read_bytes()).clips
        if clip >= len(clips):
            raise not_found(
                f"export {job.id} has {len(clips) or 1} clip(s); clip={clip} is not one "
                f"(accepted: 0 to {max(len(clips), 1) - 1})"
            )
        path, etag = path.with_name(clips[clip].file), f'"{clips[clip].sha256}"'
        _ready(exporter, job, path)
    size = path.stat().st_size
    header = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if header is not None and if_range is not None and if_range.strip() != etag:
        header = None  # the client holds another version: start over
    span = _parse_range(header, size) if header is not None else None
    first, last = span if span is not None else (0, size - 1)
    if first == 0 or not exporter.trail.audit_log.has(EXPORT_DOWNLOAD, job.id, principal.name):
        exporter.trail.audit(
            principal,
            EXPORT_DOWNLOAD,
            target=job.id,
            case_id=job.case_id,
            detail=(
                f"{job.camera} {path.name}, "
                + (f"bytes {first}-{last} of {size}" if span else f"{size} bytes")
            ),
        )
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Content-Length": str(last - first + 1),
        "Content-Disposition": f'attachment; filename="{path.name}"',
    }
    status = 200
    if span is not None:
        status = 206
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    return StreamingResponse(
        _chunks(path, first, last - first + 1),
        status_code=status,
        media_type="video/mp4",
        headers=headers,
    )


@router.get(
    "/exports/{job_id}/manifest",
    response_model=ExportManifest,
    dependencies=[OPERATOR],
    responses={
        409: {"model": Problem, "description": "The job has not finished"},
        410: {"model": Problem, "description": "The files were deleted, expired or failed"},
    },
)
def get_manifest(job_id: str, exporter: EXPORTER) -> ExportManifest:
    """The manifest written next to the clip: window, frames, gaps, SHA-256, requester."""
    job = _job_or_404(exporter, job_id)
    path = exporter.manifest_path(job)
    _ready(exporter, job, path)
    return ExportManifest.model_validate_json(path.read_bytes())


def vault_of(exporter: Exporter) -> EvidenceVault:
    """The evidence vault, or the 404 of a server that has none."""
    if exporter.vault is None:
        raise ProblemError(
            404,
            "this server has no evidence vault: [archive] evidence_bucket is not set in its "
            "inventory",
            type=TYPE_NO_VAULT,
        )
    return exporter.vault


def _vault(exporter: EXPORTER) -> EvidenceVault:
    return vault_of(exporter)


#: The evidence vault, for a route that has no use without one (404 otherwise); declared
#: after the role's dependency, it is looked for once the role is allowed.
VAULT = Annotated[EvidenceVault, Depends(_vault)]


def vault_unreachable(exc: VaultUnreachable) -> ProblemError:
    return ProblemError(
        503,
        f"the evidence vault's store cannot be reached ({exc.code}); try again later",
        type=TYPE_VAULT_DOWN,
        headers={"Retry-After": str(VAULT_RETRY_AFTER)},
    )


@router.post(
    "/exports/{job_id}/verify",
    response_model=VaultCheck,
    responses={
        404: {"model": Problem, "description": "No such job, or no evidence vault"},
        409: {"model": Problem, "description": "The job has no copy in the vault"},
        503: {"model": Problem, "description": "The vault's store cannot be reached"},
    },
)
def verify_export(
    job_id: str,
    exporter: EXPORTER,
    principal: Annotated[Principal, OPERATOR],
    vault: VAULT,
) -> VaultCheck:
    """Re-read the clip from the evidence vault and check its SHA-256 against the vault's
    manifest; report its retention and legal hold (operator or admin).

    ``ok`` is false when the clip the vault serves is not the one the manifest names, or
    its bytes do not hash to the manifest's SHA-256, or the copy is still pending. Every
    check is audited (``export.verify``: ok, failed or pending).
    """
    job = _job_or_404(exporter, job_id)
    try:
        return vault.verify(job.id, principal)
    except NoVaultCopy:
        raise ProblemError(
            409,
            f"export {job.id} is {job.state.value} and has no copy in the evidence vault; "
            "only finished exports are stored there",
            type=TYPE_NO_COPY,
        ) from None
    except VaultUnreachable as exc:
        raise vault_unreachable(exc) from None
