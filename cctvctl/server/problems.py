"""RFC 9457 problem details for every error the API returns.

Routes raise :class:`ProblemError`; :func:`install` makes FastAPI's and Starlette's own
errors (unknown route, wrong method, request validation, unexpected exceptions) come out
in the same ``application/problem+json`` shape, so a client needs exactly one error path.

Problem ``type`` values are URNs rather than URLs: a NOC on a closed network has nowhere
to dereference them, and clients only compare them as strings.
"""

from __future__ import annotations

import http
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import Match

from cctvctl.untrusted import clip, quoted

__all__ = [
    "MEDIA_TYPE",
    "TYPE_FORBIDDEN",
    "TYPE_INTERNAL",
    "TYPE_INVALID",
    "TYPE_NOT_FOUND",
    "TYPE_TOO_LARGE",
    "TYPE_UNAUTHORIZED",
    "ProblemError",
    "describe_validation_error",
    "describe_validation_errors",
    "install",
    "not_found",
    "problem_response",
]

log = logging.getLogger(__name__)

MEDIA_TYPE: Final = "application/problem+json"

TYPE_NOT_FOUND: Final = "urn:cctvctl:problem:not-found"
TYPE_INVALID: Final = "urn:cctvctl:problem:invalid-parameter"
TYPE_UNAUTHORIZED: Final = "urn:cctvctl:problem:unauthorized"
TYPE_FORBIDDEN: Final = "urn:cctvctl:problem:forbidden"
TYPE_INTERNAL: Final = "urn:cctvctl:problem:internal-error"
TYPE_TOO_LARGE: Final = "urn:cctvctl:problem:body-too-large"
TYPE_INVALID_INVENTORY: Final = "urn:cctvctl:problem:invalid-inventory"

#: Validation errors described one by one in a 422; the rest are only counted.
MAX_ERRORS_SHOWN: Final = 10

_METHODS: Final = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")

# Shown for values the caller sent that pydantic rejects with a generic message.
_TYPE_HINTS: Final[dict[str, str]] = {
    "datetime_from_date_parsing": "accepted: an RFC 3339 time such as 2024-05-01T08:00:00Z",
    "datetime_parsing": "accepted: an RFC 3339 time such as 2024-05-01T08:00:00Z",
    "datetime_type": "accepted: an RFC 3339 time such as 2024-05-01T08:00:00Z",
    "timezone_aware": (
        "accepted: an RFC 3339 time with a UTC offset, such as 2024-05-01T08:00:00Z "
        "or 2024-05-01T16:00:00+08:00"
    ),
    "int_parsing": "accepted: a whole number",
    "int_from_float": "accepted: a whole number",
    "float_parsing": "accepted: a number",
}


def _title(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class ProblemError(Exception):
    """Raise from a route to answer with a problem; ``extra`` adds extension members."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        type: str = "about:blank",
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = type
        self.title = title or _title(status)
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def not_found(detail: str) -> ProblemError:
    """A 404 for something the caller named that this server does not have."""
    return ProblemError(404, detail, type=TYPE_NOT_FOUND)


def problem_response(request: Request | None, problem: ProblemError) -> JSONResponse:
    body: dict[str, Any] = {
        "type": problem.type,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        # The path is the caller's text too (and may not even be a route): cut like any echo.
        "instance": clip(request.url.path) if request is not None else None,
    }
    for key, value in problem.extra.items():
        body.setdefault(key, value)
    return JSONResponse(
        body, status_code=problem.status, headers=problem.headers, media_type=MEDIA_TYPE
    )


def _where(loc: Sequence[int | str]) -> str:
    if not loc:
        return "request"
    source, *rest = loc
    name = ".".join(str(p) for p in rest)
    if source in ("query", "path", "header", "cookie"):
        kind = {"query": "query parameter", "path": "path parameter"}.get(str(source), source)
        return f"{kind} {quoted(name)}" if name else str(kind)
    if source == "body":
        # A field the model does not know is named by the caller: cut it like a value.
        return f"body field {quoted(name)}" if name else "request body"
    return clip(".".join(str(p) for p in loc))


def describe_validation_error(error: Mapping[str, Any]) -> dict[str, str]:
    """One pydantic error as ``{"parameter", "in", "detail"}`` with a human sentence."""
    loc: Sequence[int | str] = tuple(error.get("loc", ()))
    kind = str(error.get("type", ""))
    message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
    given = error.get("input")
    where = _where(loc)
    if kind == "missing":
        sentence = f"{where} is required"
    elif kind in ("enum", "literal_error"):
        expected = error.get("ctx", {}).get("expected", "")
        sentence = f"{where}: {quoted(given)} is not accepted; accepted: {expected}"
    elif kind == "json_invalid":
        # FastAPI reports a body that is not JSON at the offending character ('0').
        return {"in": "body", "parameter": "", "detail": "the request body is not valid JSON"}
    else:
        # "Input should be ..." reads on after the colon; an acronym ("JSON") stays.
        first = message[:1] if message[1:2].isupper() else message[:1].lower()
        sentence = f"{where}: {first}{message[1:]}"
        if isinstance(given, bool):  # as the caller wrote it in JSON, not Python's True
            sentence += f" (got {str(given).lower()})"
        elif given is not None and not isinstance(given, dict | list):
            sentence += f" (got {quoted(given)})"
        hint = _TYPE_HINTS.get(kind)
        if hint:
            sentence += f"; {hint}"
    return {
        "in": str(loc[0]) if loc else "request",
        "parameter": clip(".".join(str(p) for p in loc[1:])),
        "detail": sentence,
    }


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return problem_response(request, exc)


def _allowed_methods(request: Request) -> str:
    """Every method some route takes on this path.

    Starlette's 405 names only the methods of the first route whose path matched, and
    GET /exports and POST /exports are two routes: its Allow would leave one out.
    """
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return ", ".join(allowed)


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    headers = dict(exc.headers or {})
    if status == 404:
        detail = f"no such resource {quoted(request.url.path)}; the API lives under /api/v1"
        return problem_response(
            request, ProblemError(404, detail, type=TYPE_NOT_FOUND, headers=headers)
        )
    if status == 405:
        allowed = _allowed_methods(request) or headers.get("allow") or headers.get("Allow") or ""
        headers = {k: v for k, v in headers.items() if k.lower() != "allow"}
        if allowed:
            headers["Allow"] = allowed
        detail = f"{clip(request.method)} is not supported on {quoted(request.url.path)}"
        if allowed:
            detail += f"; accepted: {allowed}"
        return problem_response(request, ProblemError(405, detail, headers=headers))
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail else _title(status)
    return problem_response(request, ProblemError(status, detail, headers=headers))


def describe_validation_errors(
    errors: Sequence[Mapping[str, Any]],
) -> tuple[list[dict[str, str]], str]:
    """The first few of ``errors`` described, and one detail sentence for all of them.

    A list of 1000 bad camera ids is 1000 errors; the first few tell the caller what is
    wrong, and the count says how much more there is.
    """
    described = [describe_validation_error(e) for e in errors[:MAX_ERRORS_SHOWN]]
    detail = "; ".join(e["detail"] for e in described) or "the request is not valid"
    if len(errors) > MAX_ERRORS_SHOWN:
        detail += f"; and {len(errors) - MAX_ERRORS_SHOWN} more errors"
    return described, detail


async def _on_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors, detail = describe_validation_errors(exc.errors())
    problem = ProblemError(
        422,
        detail,
        type=TYPE_INVALID,
        title="Invalid request parameter",
        extra={"errors": errors},
    )
    return problem_response(request, problem)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    # The traceback goes to the log only (Starlette re-raises after this handler and
    # uvicorn logs it): it can name paths, hosts and internals that are nobody's business
    # on the other end of the API.
    log.error("500 answering %s %s: %s", request.method, request.url.path, type(exc).__name__)
    detail = "the server hit an unexpected error; the details are in its log"
    return problem_response(request, ProblemError(500, detail, type=TYPE_INTERNAL))


def install(app: FastAPI) -> None:
    """Route every error of ``app`` through the problem+json handlers above."""
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(Exception, _on_unexpected)
