"""What several route modules need: the viewer gate, camera look-up, time formatting."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, TypeVar

from fastapi import Depends
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from cctvctl.config import KecamatanConfig
from cctvctl.models import Camera, Role
from cctvctl.server.app import Runtime, runtime
from cctvctl.server.auth import require
from cctvctl.server.problems import (
    TYPE_INVALID,
    TYPE_NOT_FOUND,
    ProblemError,
    describe_validation_error,
)

__all__ = [
    "RT",
    "VIEWER",
    "BodyRefused",
    "body_fields",
    "body_schema",
    "camera_or_404",
    "invalid",
    "kecamatan_or_404",
    "live_cameras",
    "loads_body",
    "rfc3339",
    "validate_body",
]

VIEWER: Final = Depends(require(Role.VIEWER))
RT = Annotated[Runtime, Depends(runtime)]
DAY: Final = timedelta(hours=24)

M = TypeVar("M", bound=BaseModel)


def rfc3339(when: datetime) -> str:
    """UTC with a ``Z``, the form pydantic writes in JSON bodies, for headers too."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def invalid(parameter: str, detail: str, where: str = "query") -> ProblemError:
    """A 422 shaped like FastAPI's own validation problems (see problems.py)."""
    return ProblemError(
        422,
        detail,
        type=TYPE_INVALID,
        title="Invalid request parameter",
        extra={"errors": [{"in": where, "parameter": parameter, "detail": detail}]},
    )


class BodyRefused(Exception):
    """A request body that is not JSON or does not fit its model.

    ``problem`` is what to raise (a 422 either way); ``summary`` is one line for the audit
    log, the same sentence the caller gets.
    """

    def __init__(self, problem: ProblemError | RequestValidationError, summary: str) -> None:
        super().__init__(summary)
        self.problem = problem
        self.summary = summary


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads its JSON body by hand (to audit refusals)."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


def body_fields(model: type[BaseModel]) -> str:
    """The shape of ``model`` for a message: ``{camera, start, end, case_id?, note?}``."""
    names = [n + ("" if f.is_required() else "?") for n, f in model.model_fields.items()]
    return "{" + ", ".join(names) + "}"


def loads_body(raw: bytes) -> Any:
    """The JSON in a request body; None when it is empty or not JSON at all."""
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return None


def validate_body(model: type[M], raw: bytes, data: Any) -> M:
    """``data`` (from :func:`loads_body` on ``raw``) as ``model``, or :class:`BodyRefused`.

    Routes that must audit a malformed request read the body themselves instead of
    letting FastAPI do it; this keeps their answers the same as FastAPI's own 422s, with
    a plain sentence instead of "JSON decode error" when the body is not JSON.
    """
    expected = body_fields(model)
    if not raw.strip():
        detail = f"the request body is empty; expected a JSON object {expected}"
        raise BodyRefused(invalid("", detail, where="body"), detail)
    if data is None:
        detail = f"the request body is not valid JSON; expected {expected}"
        raise BodyRefused(invalid("", detail, where="body"), detail)
    if not isinstance(data, dict):
        detail = f"the request body is not a JSON object; expected {expected}"
        raise BodyRefused(invalid("", detail, where="body"), detail)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors: list[Any] = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        summary = "; ".join(describe_validation_error(e)["detail"] for e in errors)
        raise BodyRefused(RequestValidationError(errors), summary) from None


def _present(rt: Runtime, cam: Camera) -> Camera:
    """The recorder's view of a camera, made fit for the wire.

    ``last_error`` is free text that may quote a libav message, and those can carry an
    RTSP URL with credentials. The recorder scrubs it already; this is the second lock
    on the same door, because a leaked camera password is the one mistake we cannot undo.
    """
    if not cam.last_error:
        return cam
    return cam.model_copy(update={"last_error": rt.redact(cam.last_error)})


def live_cameras(rt: Runtime) -> list[Camera]:
    return [_present(rt, cam) for cam in rt.recorder.cameras()]


def camera_or_404(rt: Runtime, camera_id: str) -> Camera:
    cam = rt.recorder.camera(camera_id)
    if cam is None:
        raise ProblemError(
            404,
            f"no camera {camera_id!r} on this server; list them with GET /api/v1/cameras",
            type=TYPE_NOT_FOUND,
        )
    return _present(rt, cam)


def kecamatan_or_404(rt: Runtime, wanted: str) -> KecamatanConfig:
    """A kecamatan by slug (``sangatta-utara``) or by name in any case (``Sangatta Utara``)."""
    folded = wanted.strip().casefold()
    for kec in rt.inventory.kecamatan:
        if folded in (kec.key, kec.name.casefold()):
            return kec
    accepted = ", ".join(k.key for k in rt.inventory.kecamatan)
    raise ProblemError(
        404,
        f"no kecamatan {wanted!r} on this server; accepted: {accepted} (or their names)",
        type=TYPE_NOT_FOUND,
    )
