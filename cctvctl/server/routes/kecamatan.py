"""``/api/v1/kecamatan``: the per-kecamatan roll-up the NOC overview starts from."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from cctvctl.health import kecamatan_summaries, worst_first
from cctvctl.models import KecamatanSummary, Problem
from cctvctl.server.routes._shared import (
    RT,
    VIEWER,
    archive_now,
    kecamatan_or_404,
    live_cameras,
)
from cctvctl.server.runtime import Runtime

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1",
    tags=["kecamatan"],
    dependencies=[VIEWER],
    responses={401: {"model": Problem}},
)


def _summaries(rt: Runtime) -> list[KecamatanSummary]:
    now = datetime.now(UTC)
    _, archive = archive_now(rt, now)
    return kecamatan_summaries(
        rt.inventory,
        live_cameras(rt),
        rt.db,
        rt.recorder.inbound_kbps_by_kecamatan(),
        now,
        archive,
    )


@router.get("/kecamatan", response_model=list[KecamatanSummary])
def list_kecamatan(rt: RT) -> list[KecamatanSummary]:
    """Every kecamatan, worst first: most cameras offline, then most minutes missing."""
    return worst_first(_summaries(rt))


@router.get(
    "/kecamatan/{kecamatan}",
    response_model=KecamatanSummary,
    responses={404: {"model": Problem}},
)
def get_kecamatan(kecamatan: str, rt: RT) -> KecamatanSummary:
    """One kecamatan, by slug or name."""
    slug = kecamatan_or_404(rt, kecamatan).key
    return next(k for k in _summaries(rt) if k.slug == slug)
