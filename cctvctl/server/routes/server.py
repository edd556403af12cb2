"""``/api/v1/server/reload``: re-read the inventory file and apply it in place (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from cctvctl.config import ConfigError
from cctvctl.models import Problem, ReloadResult, Role
from cctvctl.server.auth import require
from cctvctl.server.credentials import Principal
from cctvctl.server.problems import TYPE_INVALID_INVENTORY, ProblemError
from cctvctl.server.reload import reload_from_file, reload_result
from cctvctl.server.routes._shared import RT

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1",
    tags=["server"],
    responses={
        401: {"model": Problem},
        403: {"model": Problem},
        422: {"model": Problem},
    },
)


@router.post("/server/reload", response_model=ReloadResult)
async def reload(
    rt: RT,
    principal: Annotated[Principal, Depends(require(Role.ADMIN))],
) -> ReloadResult:
    """Re-read the inventory file the server was started with and apply it in place.

    New cameras start recording, removed ones stop (their footage is kept), changed ones
    reconnect, and every other camera records on untouched. Tokens take effect at once.
    A file `cctvctl config check` would refuse is a 422 listing the same problems
    (`errors`), and the running inventory stays.
    """
    try:
        diff = await reload_from_file(rt, actor=principal.name, role=principal.role.value)
    except ConfigError as exc:
        raise ProblemError(
            422,
            f"the inventory file was refused ({len(exc.issues)} problem"
            f"{'' if len(exc.issues) == 1 else 's'}); the running inventory stays",
            type=TYPE_INVALID_INVENTORY,
            extra={"errors": exc.lines()},
        ) from None
    return reload_result(rt, diff)
