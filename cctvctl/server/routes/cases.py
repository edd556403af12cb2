"""``/api/v1/cases/hold``: a case's legal hold on its exports in the evidence vault.

A hold covers every vault object (clip and manifest) of the case's exports, those stored
later too, until it is released; while it stands the store refuses to delete them even
after their retention date, and even with a governance bypass. Setting and lifting it are
admin work and audited, refusals included (``case.hold``, ``case.release``). A case id
has slashes (``LP/123/XI/2026``), so it travels in the body or the query, not the path.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Query, Request

from cctvctl.models import CaseHold, CaseHoldRequest, Problem, Role
from cctvctl.server.auth import Principal, require
from cctvctl.server.routes._shared import (
    RT,
    BodyRefused,
    audit_text,
    audited_role,
    body_schema,
    loads_body,
    read_json_body,
    validate_body,
)
from cctvctl.server.routes.exports import VAULT, vault_of
from cctvctl.storage.audit import CASE_HOLD, CASE_RELEASE

__all__ = ["router"]

_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    401: {"model": Problem, "description": "No token, or a token this server does not know"},
    403: {"model": Problem, "description": "The token's role is too low"},
    404: {"model": Problem, "description": "This server has no evidence vault"},
    422: {"model": Problem, "description": "A parameter is out of range or malformed"},
}
_AUTHENTICATED: Final = Depends(require(Role.VIEWER))
OPERATOR: Final = Depends(require(Role.OPERATOR))

router = APIRouter(prefix="/api/v1", tags=["cases"], responses=_ERRORS)


@router.get("/cases/hold", response_model=CaseHold, dependencies=[OPERATOR])
def get_case_hold(
    vault: VAULT,
    case_id: Annotated[
        str, Query(min_length=1, max_length=200, description="The case, e.g. LP/123/XI/2026.")
    ],
) -> CaseHold:
    """Whether the case is held, since when and by whom, and how many of its vault objects
    the store has as asked (operator or admin)."""
    return vault.case(case_id)


async def _change(request: Request, rt: RT, principal: Principal, action: str) -> CaseHold:
    case_id: str | None = None
    trail = rt.exporter.trail

    def refuse(detail: str) -> None:
        trail.audit(
            principal, action, target=case_id, case_id=case_id, result="refused", detail=detail
        )

    # The role first, before the body is read and before the vault is looked for, so a
    # refusal is the same (and audited) on every server.
    audited_role(principal, Role.ADMIN, "a legal hold needs 'admin'", refuse)
    vault = vault_of(rt.exporter)
    try:
        raw = await read_json_body(request)
        data = loads_body(raw)
        if isinstance(data, dict):
            case_id = audit_text(data.get("case_id"), 200)
        req = validate_body(CaseHoldRequest, raw, data)
    except BodyRefused as exc:
        refuse(exc.summary)
        raise exc.problem from None
    change = vault.hold if action == CASE_HOLD else vault.release
    # The store is asked object by object: off the event loop.
    return await asyncio.to_thread(change, req.case_id, principal, req.reason)


@router.post("/cases/hold", response_model=CaseHold, openapi_extra=body_schema(CaseHoldRequest))
async def hold_case(
    request: Request, rt: RT, principal: Annotated[Principal, _AUTHENTICATED]
) -> CaseHold:
    """Put a legal hold on every vault object of a case (admin; audited).

    Body: ``{case_id, reason?}``. Objects the store cannot be told about now (it is down,
    or a copy is still pending) are held as soon as it can: ``pending`` counts them.
    """
    return await _change(request, rt, principal, CASE_HOLD)


@router.post("/cases/release", response_model=CaseHold, openapi_extra=body_schema(CaseHoldRequest))
async def release_case(
    request: Request, rt: RT, principal: Annotated[Principal, _AUTHENTICATED]
) -> CaseHold:
    """Lift a case's legal hold (admin; audited); its objects keep their retention date."""
    return await _change(request, rt, principal, CASE_RELEASE)
