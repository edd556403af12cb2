"""The error tree: every failed call is a :class:`CctvError` with a one-line ``str()``.

==================  =====================================  =========
error               cause                                  exit code
==================  =====================================  =========
Unreachable         refused, reset, DNS, TLS               5
TimedOut            no connection or no answer in time     5
AuthError           401: no token or one the server lacks  4
Forbidden           403: the token's role is too low       4
BadRequest          400, 422 and other 4xx                 2
NotFound            404, 410                               2
ServerError         5xx, or an answer we cannot read       1
==================  =====================================  =========

NotFound is 2 (bad input), not 1: a 404 nearly always means a camera or kecamatan the
caller named does not exist, which is the same kind of mistake as a malformed time.

The numbers mirror ``cctvctl/cli/exit_codes.py``; they are repeated here because the
client must not import the CLI (see the import-linter contracts in pyproject.toml), and
a test checks that both agree.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, ClassVar, Final

import httpx

from cctvctl.timeparse import localize

_PROBLEM_JSON: Final = "application/problem+json"
_MAX_DETAIL: Final = 300
_ERRNO: Final = re.compile(r"^\[Errno -?\d+\]\s*")


class CctvError(Exception):
    """A call to a server failed. ``str()`` is one line: ``<server>: <what>: <detail>``.

    A server writes the times in its details as the API does (RFC 3339 UTC); ``detail``
    and ``str()`` show them in WITA, as everything a person reads, and :meth:`text` in UTC
    for ``--utc``. ``raw_detail`` is the server's text as sent.
    """

    exit_code: ClassVar[int] = 1
    summary: ClassVar[str] = "failed"

    def __init__(
        self,
        server: str,
        detail: str,
        *,
        url: str | None = None,
        status: int | None = None,
        problem: Mapping[str, Any] | None = None,
    ) -> None:
        self.server = server
        self.raw_detail = _one_line(detail)
        self.detail = localize(self.raw_detail)
        self.url = url
        self.status = status
        self.problem = dict(problem) if problem is not None else None
        super().__init__(str(self))

    def __str__(self) -> str:
        return self.text()

    def text(self, *, utc: bool = False) -> str:
        """The one line, times in WITA (or UTC)."""
        what = self.summary if self.status is None else f"{self.summary} ({self.status})"
        detail = localize(self.raw_detail, utc=utc)
        return f"{self.server}: {what}: {detail}" if detail else f"{self.server}: {what}"


class Unreachable(CctvError):
    exit_code = 5
    summary = "unreachable"


class TimedOut(CctvError):
    exit_code = 5
    summary = "timed out"


class AuthError(CctvError):
    exit_code = 4
    summary = "not authenticated"


class Forbidden(CctvError):
    exit_code = 4
    summary = "forbidden"


class NotFound(CctvError):
    exit_code = 2
    summary = "not found"


class BadRequest(CctvError):
    exit_code = 2
    summary = "bad request"


class Refused(BadRequest):
    """A well-formed request the server's state refuses (409, 423): evidence under lock, a
    job already running. Not the caller's syntax, so not "bad request"."""

    summary = "refused"


class ServerError(CctvError):
    exit_code = 1
    summary = "server error"


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _MAX_DETAIL else flat[: _MAX_DETAIL - 1] + "…"


def _error_class(status: int) -> type[CctvError]:
    if status == 401:
        return AuthError
    if status == 403:
        return Forbidden
    if status in (404, 410):
        return NotFound
    if status in (409, 423):
        return Refused
    if 400 <= status < 500:
        return BadRequest
    return ServerError


def _problem_of(response: httpx.Response) -> dict[str, Any] | None:
    """The problem+json body, or None. Plain JSON with a ``detail`` (a proxy, an older
    FastAPI) is accepted too: it still says what went wrong better than a status line."""
    ctype = response.headers.get("content-type", "")
    if not (ctype.startswith(_PROBLEM_JSON) or ctype.startswith("application/json")):
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _http_error(server: str, response: httpx.Response) -> CctvError:
    status = response.status_code
    problem = _problem_of(response)
    detail = ""
    if problem is not None:
        raw = problem.get("detail") or problem.get("title") or ""
        detail = raw if isinstance(raw, str) else json.dumps(raw)
    if not detail:
        text = response.text.strip() if len(response.content) < 4096 else ""
        detail = text.splitlines()[0] if text and not text.startswith("<") else ""
    if not detail:
        detail = response.reason_phrase or "no detail given"
    if 300 <= status < 400:
        where = response.headers.get("location", "elsewhere")
        detail = f"redirected to {where}; use that URL"
    return _error_class(status)(
        server, detail, url=str(response.request.url), status=status, problem=problem
    )


def _transport_error(server: str, exc: httpx.TransportError, attempts: int) -> CctvError:
    url = str(exc.request.url) if _has_request(exc) else None
    if isinstance(exc, httpx.TimeoutException):
        what = {
            httpx.ConnectTimeout: "no connection",
            httpx.ReadTimeout: "no answer",
            httpx.WriteTimeout: "could not send the request",
            httpx.PoolTimeout: "no free connection",
        }.get(type(exc), "no answer")
        limit = _timeout_of(exc)
        within = f" within {limit:g} s" if limit is not None else " in time"
        return TimedOut(server, what + within, url=url)
    # "[Errno 111] Connection refused" -> "connection refused": the errno helps nobody.
    reason = _ERRNO.sub("", str(exc)) or type(exc).__name__
    reason = reason[:1].lower() + reason[1:]
    tries = f" (after {attempts} attempts)" if attempts > 1 else ""
    return Unreachable(server, f"{reason}{tries}", url=url)


def _has_request(exc: httpx.TransportError) -> bool:
    try:
        exc.request  # noqa: B018 (httpx raises RuntimeError when no request is attached)
    except RuntimeError:
        return False
    return True


def _timeout_of(exc: httpx.TimeoutException) -> float | None:
    if not _has_request(exc):
        return None
    timeouts = exc.request.extensions.get("timeout", {})
    key = {
        httpx.ConnectTimeout: "connect",
        httpx.ReadTimeout: "read",
        httpx.WriteTimeout: "write",
        httpx.PoolTimeout: "pool",
    }.get(type(exc))
    value = timeouts.get(key) if key else None
    return float(value) if isinstance(value, int | float) else None
