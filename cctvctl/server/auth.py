"""Bearer-token authentication and role checks for the routes.

The token store is the running server's (:class:`~cctvctl.server.runtime.Runtime`); how
tokens are kept and compared is in :mod:`cctvctl.server.credentials`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cctvctl.models import Role
from cctvctl.server.credentials import Principal
from cctvctl.server.problems import TYPE_FORBIDDEN, TYPE_UNAUTHORIZED, ProblemError
from cctvctl.server.runtime import Runtime, get_runtime

__all__ = ["Principal", "require"]

# auto_error=False: a missing or malformed header must become our problem+json 401, not
# FastAPI's plain 403. The scheme object also documents the auth in /openapi.json.
_bearer = HTTPBearer(auto_error=False, description="API token from `cctvctl token create`")


def _unauthorized(detail: str, error: str | None = None) -> ProblemError:
    challenge = 'Bearer realm="cctvctl"'
    if error is not None:
        challenge += f', error="{error}"'
    return ProblemError(
        401,
        detail,
        type=TYPE_UNAUTHORIZED,
        headers={"WWW-Authenticate": challenge},
    )


def require(role: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits callers whose token has ``role`` or a higher one."""

    async def check(
        request: Request,
        rt: Annotated[Runtime, Depends(get_runtime)],
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
    ) -> Principal:
        if credentials is None:
            header = request.headers.get("authorization")
            if header:
                raise _unauthorized(
                    "the Authorization header must be 'Bearer <token>'", "invalid_request"
                )
            raise _unauthorized(
                "this resource needs an API token: send 'Authorization: Bearer <token>'; "
                "make one with `cctvctl token create`"
            )
        principal = rt.tokens.authenticate(credentials.credentials)
        if principal is None:
            raise _unauthorized("the API token is not valid on this server", "invalid_token")
        if not principal.role.allows(role):
            raise ProblemError(
                403,
                f"token {principal.name!r} has role {principal.role.value!r}; "
                f"this needs {role.value!r} or higher",
                type=TYPE_FORBIDDEN,
            )
        request.state.principal = principal
        return principal

    check.__name__ = f"require_{role.value}"
    return check
