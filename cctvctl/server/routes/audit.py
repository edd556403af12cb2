"""``/api/v1/audit``: the audit log of exports and reboots (admin only)."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Depends, Query

from cctvctl.models import AuditEntry, Problem, Role
from cctvctl.server.auth import require
from cctvctl.server.routes._shared import RT, invalid
from cctvctl.server.routes.recordings import TIME_SCHEMA, parse_time
from cctvctl.storage.audit import MAX_LIMIT
from cctvctl.untrusted import clip

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1",
    tags=["audit"],
    dependencies=[Depends(require(Role.ADMIN))],
    responses={
        401: {"model": Problem},
        403: {"model": Problem},
        422: {"model": Problem},
    },
)

_TIME: Final = TIME_SCHEMA


@router.get("/audit", response_model=list[AuditEntry])
def audit_log(
    rt: RT,
    since: Annotated[
        str | None,
        Query(description="Rows at or after this time, RFC 3339.", json_schema_extra=_TIME),
    ] = None,
    until: Annotated[
        str | None,
        Query(description="Rows before this time, RFC 3339; after since.", json_schema_extra=_TIME),
    ] = None,
    action: Annotated[
        str | None,
        Query(
            description="Only this action (export.request, export.download, reboot, ...); "
            "end it with '.' or '*' for a prefix.",
            max_length=100,
        ),
    ] = None,
    actor: Annotated[str | None, Query(description="Only this token name.", max_length=200)] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="At most this many, the newest.")
    ] = 500,
) -> list[AuditEntry]:
    """Audit rows, oldest first (the newest ``limit`` of those matching)."""
    t_since = parse_time("since", since) if since is not None else None
    t_until = parse_time("until", until) if until is not None else None
    if t_since is not None and t_until is not None and t_until <= t_since:
        raise invalid(
            "until", f"until ({clip(until or '')}) must be after since ({clip(since or '')})"
        )
    return rt.audit.entries(since=t_since, until=t_until, action=action, actor=actor, limit=limit)
