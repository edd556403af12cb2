"""What several route modules need: the viewer gate, camera look-up, time formatting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Final

from fastapi import Depends

from cctvctl.config import KecamatanConfig
from cctvctl.models import Camera, Role
from cctvctl.server.app import Runtime, runtime
from cctvctl.server.auth import require
from cctvctl.server.problems import TYPE_INVALID, TYPE_NOT_FOUND, ProblemError

__all__ = [
    "RT",
    "VIEWER",
    "camera_or_404",
    "invalid",
    "kecamatan_or_404",
    "live_cameras",
    "rfc3339",
]

VIEWER: Final = Depends(require(Role.VIEWER))
RT = Annotated[Runtime, Depends(runtime)]
DAY: Final = timedelta(hours=24)


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
