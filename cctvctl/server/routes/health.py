"""``/healthz`` (liveness, no token) and ``/api/v1/health`` (volumes, host, kecamatan)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from cctvctl import __version__
from cctvctl.health import kecamatan_summaries, volume
from cctvctl.models import Health, Identity, Problem, Role
from cctvctl.server.auth import Principal, require
from cctvctl.server.routes._shared import RT, VIEWER, archive_now, live_cameras
from cctvctl.storage.retention import guard_seconds

__all__ = ["Liveness", "router"]

router = APIRouter(tags=["health"])


class Liveness(BaseModel):
    status: str
    version: str


@router.get("/healthz", response_model=Liveness)
def healthz() -> Liveness:
    """Liveness for load balancers and systemd: answers once the recorder is running."""
    return Liveness(status="ok", version=__version__)


@router.get(
    "/api/v1/health",
    response_model=Health,
    dependencies=[VIEWER],
    responses={401: {"model": Problem}},
)
def health(rt: RT) -> Health:
    """Storage volume, host, and every kecamatan of the inventory (inventory order)."""
    now = datetime.now(UTC)
    cams = live_cameras(rt)
    archive, per_kec = archive_now(rt, now)
    return Health(
        generated=now,
        server_version=__version__,
        volumes=[
            volume(
                rt.db.root,
                rt.db,
                now,
                floor_seconds=guard_seconds(
                    rt.inventory.server.segment_seconds, rt.recorder.retention_interval
                ),
            )
        ],
        host=rt.host.sample(),
        kecamatan=kecamatan_summaries(
            rt.inventory, cams, rt.db, rt.recorder.inbound_kbps_by_kecamatan(), now, per_kec
        ),
        archive=archive,
    )


@router.get(
    "/api/v1/whoami",
    response_model=Identity,
    responses={401: {"model": Problem}},
)
def whoami(principal: Annotated[Principal, Depends(require(Role.VIEWER))]) -> Identity:
    """The presented token's name and role, so a console can show what it may not do."""
    return Identity(name=principal.name, role=principal.role)
