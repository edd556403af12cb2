"""CctvClient: the one way the CLI and the TUI reach a recording server.

Two front doors over one core. :class:`CctvClient` (blocking, for the CLI) and
:class:`AsyncCctvClient` (for the TUI and for asking several nodes at once) differ only in
how they wait; what a call sends and how its answer becomes a model or an error lives once,
in :class:`_Call` objects and the module-level helpers below.

Every failure is a :class:`CctvError` whose ``str()`` is one line naming the server, so a
front end can print it as is, and whose ``exit_code`` is what the CLI exits with:

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

:func:`save_export` is how an export's clip reaches a disk, for both front ends: resumed
after a dropped connection, checked against the manifest's size and SHA-256, and only then
renamed into place with the manifest beside it.

Only httpx, pydantic and the wire models are imported, so CLI start-up stays fast.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import (
    Any,
    BinaryIO,
    ClassVar,
    Final,
    Generic,
    Literal,
    Protocol,
    TypeVar,
    cast,
    overload,
)
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from cctvctl import __version__
from cctvctl.models import (
    AuditEntry,
    Camera,
    CameraStatus,
    Event,
    ExportJob,
    ExportManifest,
    ExportState,
    Health,
    Identity,
    KecamatanSummary,
    RebootJob,
    RebootPlan,
    Recordings,
)

__all__ = [
    "DEFAULT_BACKOFF",
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "DOWNLOAD_BACKOFF",
    "DOWNLOAD_MAX_BACKOFF",
    "DOWNLOAD_RETRIES",
    "GAP_EVENT",
    "MANIFEST_SUFFIX",
    "PART_SUFFIX",
    "AsyncCctvClient",
    "AuthError",
    "BadRequest",
    "CctvClient",
    "CctvError",
    "DownloadFailed",
    "Forbidden",
    "MultiClient",
    "NodeResult",
    "NotFound",
    "SavedClip",
    "ServerError",
    "SseMessage",
    "SseParser",
    "TargetLike",
    "Thumbnail",
    "TimedOut",
    "Unreachable",
    "manifest_path",
    "part_path",
    "run_blocking",
    "save_export",
    "sha256_of",
]

T = TypeVar("T")
U = TypeVar("U")
M = TypeVar("M", bound=BaseModel)

#: connect 3 s: a node on the LAN or VPN answers a SYN in milliseconds, and an operator on
#: call should learn quickly that one is down. read 10 s: the slowest route (recordings
#: over a month) stays well under it.
DEFAULT_TIMEOUT: Final = httpx.Timeout(connect=3.0, read=10.0, write=10.0, pool=3.0)
DEFAULT_RETRIES: Final = 2
DEFAULT_BACKOFF: Final = 0.2  # seconds before the first retry; doubled for each further one

#: The server sends this (with no ``id:``) when a subscriber fell behind and missed events;
#: :meth:`AsyncCctvClient.events` turns it into an :class:`Event` of this type.
GAP_EVENT: Final = "events.gap"

#: Read time-out of an event stream: the server sends a keep-alive every 15 s, so three
#: missed ones mean the connection is dead even if TCP has not noticed.
EVENTS_READ_TIMEOUT: Final = 45.0
EVENTS_MAX_DELAY: Final = 30.0

#: :func:`save_export`: drops in a row before giving up; a drop after some progress starts
#: the count again, so a link that keeps breaking but keeps moving still finishes.
DOWNLOAD_RETRIES: Final = 5
DOWNLOAD_BACKOFF: Final = 0.5  # seconds before the first retry, doubled each time, capped
DOWNLOAD_MAX_BACKOFF: Final = 8.0
PART_SUFFIX: Final = ".part"
MANIFEST_SUFFIX: Final = ".manifest.json"

_IDEMPOTENT: Final = frozenset({"GET", "HEAD", "OPTIONS"})
_PROBLEM_JSON: Final = "application/problem+json"
_MAX_DETAIL: Final = 300
_ERRNO: Final = re.compile(r"^\[Errno -?\d+\]\s*")
_HASH_BLOCK: Final = 1024 * 1024


# --------------------------------------------------------------------------- errors


class CctvError(Exception):
    """A call to a server failed. ``str()`` is one line: ``<server>: <what>: <detail>``."""

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
        self.detail = _one_line(detail)
        self.url = url
        self.status = status
        self.problem = dict(problem) if problem is not None else None
        super().__init__(str(self))

    def __str__(self) -> str:
        what = self.summary if self.status is None else f"{self.summary} ({self.status})"
        return f"{self.server}: {what}: {self.detail}" if self.detail else f"{self.server}: {what}"


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


def _retry_delay(
    idempotent: bool, exc: httpx.TransportError, attempt: int, retries: int, backoff: float
) -> float | None:
    """Seconds to wait before trying again, or None to give up.

    A refused or failed connect never reached the server, so even a POST is safe to repeat.
    A connection dropped mid-request may have done the work, so only idempotent methods are
    repeated then. Time-outs are never repeated: the caller's time budget is already spent.
    """
    if attempt >= retries or isinstance(exc, httpx.TimeoutException):
        return None
    if isinstance(exc, httpx.ConnectError):
        return backoff * 2.0**attempt
    if idempotent and isinstance(
        exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError
    ):
        return backoff * 2.0**attempt
    return None


# --------------------------------------------------------------------------- call specs


@dataclass(frozen=True)
class Thumbnail:
    """A camera's latest picture: raw RGB24 (``width*height*3`` bytes, rows top down) or JPEG."""

    data: bytes
    width: int
    height: int
    frame_time: datetime
    age: float  # seconds between the frame and the moment the server answered
    format: Literal["rgb", "jpeg"] = "rgb"


@functools.cache
def _adapter(kind: Any) -> TypeAdapter[Any]:
    # Built on first use: a TypeAdapter costs milliseconds to build, and most commands
    # need one or two of them.
    return TypeAdapter(kind)


def _parse_json(server: str, response: httpx.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        raise ServerError(
            server,
            f"the answer to {response.request.url.path} is not JSON",
            url=str(response.request.url),
        ) from None


def _model_parser(kind: Any, label: str) -> Callable[[str, httpx.Response], Any]:
    def parse(server: str, response: httpx.Response) -> Any:
        try:
            return _adapter(kind).validate_json(response.content)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            raise ServerError(
                server,
                f"the answer is not a valid {label} ({where}: {first['msg']}); "
                "is the server the same cctvctl version as this client?",
                url=str(response.request.url),
            ) from None

    return parse


def _header(server: str, response: httpx.Response, name: str) -> str:
    value = response.headers.get(name)
    if value is None:
        raise ServerError(
            server, f"the thumbnail answer lacks the {name} header", url=str(response.request.url)
        )
    return str(value)


def _parse_thumbnail(server: str, response: httpx.Response) -> Thumbnail:
    try:
        width = int(_header(server, response, "X-Frame-Width"))
        height = int(_header(server, response, "X-Frame-Height"))
        when = datetime.fromisoformat(_header(server, response, "X-Frame-Time"))
        age = float(_header(server, response, "X-Frame-Age"))
    except ValueError as exc:
        raise ServerError(
            server, f"a thumbnail header is malformed: {exc}", url=str(response.request.url)
        ) from None
    fmt: Literal["rgb", "jpeg"] = (
        "jpeg" if response.headers.get("content-type", "").startswith("image/jpeg") else "rgb"
    )
    data = response.content
    if fmt == "rgb" and len(data) != width * height * 3:
        raise ServerError(
            server,
            f"the thumbnail has {len(data)} bytes; {width}x{height} RGB needs {width * height * 3}",
            url=str(response.request.url),
        )
    return Thumbnail(data, width, height, when.astimezone(UTC), age, fmt)


def _rfc3339(value: datetime | str) -> str:
    if isinstance(value, str):
        return value  # the server validates it and answers 422 with what it accepts
    if value.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone; pass an aware datetime")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _path_part(value: str) -> str:
    # A camera id is a slug, but an id typed by a person could hold '/', '?' or '#'; quote
    # them so they reach the server as one path segment and come back as a clean 404.
    # quote() leaves '.' alone, and httpx resolves a '.' or '..' segment (RFC 3986), so
    # `cameras/../recordings` would become another route: those go as %2E, which the
    # server decodes back to the id.
    quoted = quote(value, safe="")
    return quoted.replace(".", "%2E") if quoted in (".", "..") else quoted


_CONTENT_RANGE: Final = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)


def _download_span(server: str, response: httpx.Response, offset: int) -> tuple[int, int | None]:
    """Where the body starts in the file and the file's size (None when not said)."""
    if response.status_code == 206:
        match = _CONTENT_RANGE.match(response.headers.get("content-range", ""))
        if match is None or int(match[1]) != offset:
            # Splicing bytes from elsewhere would corrupt the file; the checksum would
            # catch it, but only after the whole transfer.
            raise ServerError(
                server,
                f"asked for bytes from {offset} and got {response.headers.get('content-range')!r}",
                url=str(response.request.url),
            )
        return offset, None if match[3] == "*" else int(match[3])
    length = response.headers.get("content-length")
    return 0, int(length) if length is not None and length.isdigit() else None


@dataclass(frozen=True)
class _Call(Generic[T]):
    """One request and how to read its answer; both clients execute these."""

    method: str
    path: str
    parse: Callable[[str, httpx.Response], T]
    params: Mapping[str, str] = field(default_factory=dict)
    json_body: Any = None
    authenticated: bool = True

    @property
    def idempotent(self) -> bool:
        return self.method in _IDEMPOTENT


def _params(**values: str | int | None) -> dict[str, str]:
    return {k: str(v) for k, v in values.items() if v is not None}


class _Calls:
    """The API, as data. Add a route here and to both clients as a one-line method."""

    @staticmethod
    def cameras(kecamatan: str | None, status: CameraStatus | str | None) -> _Call[list[Camera]]:
        return _Call(
            "GET",
            "/api/v1/cameras",
            _model_parser(list[Camera], "camera list"),
            _params(kecamatan=kecamatan, status=None if status is None else str(status)),
        )

    @staticmethod
    def camera(camera_id: str) -> _Call[Camera]:
        return _Call(
            "GET", f"/api/v1/cameras/{_path_part(camera_id)}", _model_parser(Camera, "camera")
        )

    @staticmethod
    def recordings(
        camera_id: str, start: datetime | str | None, end: datetime | str | None
    ) -> _Call[Recordings]:
        return _Call(
            "GET",
            f"/api/v1/cameras/{_path_part(camera_id)}/recordings",
            _model_parser(Recordings, "recordings answer"),
            _params(
                start=None if start is None else _rfc3339(start),
                end=None if end is None else _rfc3339(end),
            ),
        )

    @staticmethod
    def thumbnail(
        camera_id: str, width: int, height: int, fmt: Literal["rgb", "jpeg"]
    ) -> _Call[Thumbnail]:
        return _Call(
            "GET",
            f"/api/v1/cameras/{_path_part(camera_id)}/thumbnail",
            _parse_thumbnail,
            _params(width=width, height=height, format=fmt),
        )

    @staticmethod
    def health() -> _Call[Health]:
        return _Call("GET", "/api/v1/health", _model_parser(Health, "health report"))

    @staticmethod
    def kecamatan() -> _Call[list[KecamatanSummary]]:
        return _Call(
            "GET", "/api/v1/kecamatan", _model_parser(list[KecamatanSummary], "kecamatan list")
        )

    @staticmethod
    def kecamatan_one(slug: str) -> _Call[KecamatanSummary]:
        return _Call(
            "GET",
            f"/api/v1/kecamatan/{_path_part(slug)}",
            _model_parser(KecamatanSummary, "kecamatan summary"),
        )

    @staticmethod
    def whoami() -> _Call[Identity]:
        return _Call("GET", "/api/v1/whoami", _model_parser(Identity, "identity"))

    @staticmethod
    def healthz() -> _Call[dict[str, Any]]:
        return _Call(
            "GET", "/healthz", _model_parser(dict[str, Any], "liveness answer"), authenticated=False
        )

    @staticmethod
    def metrics() -> _Call[str]:
        return _Call("GET", "/metrics", lambda _server, response: response.text)

    # -- evidence exports, reboots, audit -----------------------------------------------

    @staticmethod
    def exports(
        state: ExportState | str | None, camera: str | None, limit: int | None
    ) -> _Call[list[ExportJob]]:
        return _Call(
            "GET",
            "/api/v1/exports",
            _model_parser(list[ExportJob], "export job list"),
            _params(state=None if state is None else str(state), camera=camera, limit=limit),
        )

    @staticmethod
    def export(job_id: str) -> _Call[ExportJob]:
        return _Call(
            "GET", f"/api/v1/exports/{_path_part(job_id)}", _model_parser(ExportJob, "export job")
        )

    @staticmethod
    def create_export(
        camera_id: str,
        start: datetime | str,
        end: datetime | str,
        case_id: str | None,
        note: str | None,
    ) -> _Call[ExportJob]:
        body: dict[str, Any] = {"camera": camera_id, "start": _rfc3339(start), "end": _rfc3339(end)}
        if case_id is not None:
            body["case_id"] = case_id
        if note is not None:
            body["note"] = note
        return _Call("POST", "/api/v1/exports", _model_parser(ExportJob, "export job"), {}, body)

    @staticmethod
    def cancel_export(job_id: str) -> _Call[ExportJob]:
        return _Call(
            "DELETE",
            f"/api/v1/exports/{_path_part(job_id)}",
            _model_parser(ExportJob, "export job"),
        )

    @staticmethod
    def export_manifest(job_id: str) -> _Call[ExportManifest]:
        return _Call(
            "GET",
            f"/api/v1/exports/{_path_part(job_id)}/manifest",
            _model_parser(ExportManifest, "export manifest"),
        )

    @staticmethod
    def export_file(job_id: str) -> _Call[None]:
        # Streamed by CctvClient.download_export, which never calls parse.
        return _Call("GET", f"/api/v1/exports/{_path_part(job_id)}/file", lambda _s, _r: None)

    @staticmethod
    def audit(
        since: datetime | str | None,
        until: datetime | str | None,
        action: str | None,
        actor: str | None,
        limit: int | None,
    ) -> _Call[list[AuditEntry]]:
        return _Call(
            "GET",
            "/api/v1/audit",
            _model_parser(list[AuditEntry], "audit log"),
            _params(
                since=None if since is None else _rfc3339(since),
                until=None if until is None else _rfc3339(until),
                action=action,
                actor=actor,
                limit=limit,
            ),
        )

    @staticmethod
    def reboot_camera(camera_id: str, reason: str, force: bool) -> _Call[RebootJob]:
        return _Call(
            "POST",
            f"/api/v1/cameras/{_path_part(camera_id)}/reboot",
            _model_parser(RebootJob, "reboot job"),
            {},
            {"reason": reason, "force": force},
        )

    @staticmethod
    def _bulk_body(
        cameras: Sequence[str] | None,
        kecamatan: str | None,
        offline_for: float | str | None,
        reason: str,
        force: bool,
        max_parallel: int | None,
        dry_run: bool,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"reason": reason, "force": force, "dry_run": dry_run}
        if cameras is not None:
            body["cameras"] = list(cameras)
        if kecamatan is not None:
            body["kecamatan"] = kecamatan
        if offline_for is not None:
            body["offline_for"] = offline_for
        if max_parallel is not None:
            body["max_parallel"] = max_parallel
        return body

    @staticmethod
    def reboot_plan(
        cameras: Sequence[str] | None,
        kecamatan: str | None,
        offline_for: float | str | None,
        reason: str,
        force: bool,
    ) -> _Call[RebootPlan]:
        body = _Calls._bulk_body(cameras, kecamatan, offline_for, reason, force, None, True)
        return _Call("POST", "/api/v1/reboots", _model_parser(RebootPlan, "reboot plan"), {}, body)

    @staticmethod
    def reboot_many(
        cameras: Sequence[str] | None,
        kecamatan: str | None,
        offline_for: float | str | None,
        reason: str,
        force: bool,
        max_parallel: int | None,
    ) -> _Call[RebootJob]:
        body = _Calls._bulk_body(
            cameras, kecamatan, offline_for, reason, force, max_parallel, False
        )
        return _Call("POST", "/api/v1/reboots", _model_parser(RebootJob, "reboot job"), {}, body)

    @staticmethod
    def reboot_job(job_id: str) -> _Call[RebootJob]:
        return _Call(
            "GET", f"/api/v1/reboots/{_path_part(job_id)}", _model_parser(RebootJob, "reboot job")
        )

    @staticmethod
    def reboot_jobs(limit: int | None, camera: str | None) -> _Call[list[RebootJob]]:
        return _Call(
            "GET",
            "/api/v1/reboots",
            _model_parser(list[RebootJob], "reboot job list"),
            _params(limit=limit, camera=camera),
        )

    @staticmethod
    def raw(
        method: str, path: str, params: Mapping[str, Any] | None, body: Any = None
    ) -> _Call[Any]:
        clean = {k: str(v) for k, v in (params or {}).items() if v is not None}
        return _Call(method, path, _parse_json, clean, body)


# --------------------------------------------------------------------------- the clients


class TargetLike(Protocol):
    """Anything naming a server: ``cctvctl.cli.contexts.Target`` fits."""

    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def token(self) -> str | None: ...


def _check_url(url: str) -> str:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise ValueError(f"{url!r} is not a URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"{url!r} is not an http(s) URL with a host")
    return url.rstrip("/")


class _Base:
    """State and request building shared by both clients."""

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        name: str | None,
        timeout: httpx.Timeout | float | None,
        retries: int,
        backoff: float,
    ) -> None:
        self.url = _check_url(url)
        self.name = name
        self.retries = max(0, retries)
        self.backoff = backoff
        self._token = token
        self._timeout = DEFAULT_TIMEOUT if timeout is None else httpx.Timeout(timeout)

    @property
    def server(self) -> str:
        """How errors name this server: the context name when there is one, else the URL."""
        return self.name or self.url

    def __repr__(self) -> str:
        # Never the token: reprs end up in tracebacks and logs.
        return f"{type(self).__name__}({self.url!r}, name={self.name!r})"

    def _headers(self) -> dict[str, str]:
        return {"User-Agent": f"cctvctl/{__version__}", "Accept": "application/json"}

    def _request_kwargs(self, call: _Call[Any]) -> dict[str, Any]:
        if "//" in call.path or call.path.endswith("/"):
            # An empty id ('exports show ""') would ask for the collection instead.
            raise BadRequest(self.server, "an empty id: give a camera, kecamatan or job id")
        headers: dict[str, str] = {}
        if call.authenticated and self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        kwargs: dict[str, Any] = {
            "method": call.method,
            # Relative, so a server behind a proxy prefix (https://noc/node-a/) works.
            "url": call.path.lstrip("/"),
            "params": dict(call.params),
            "headers": headers,
        }
        if call.json_body is not None:
            kwargs["json"] = call.json_body
        return kwargs

    def _finish(self, call: _Call[T], response: httpx.Response) -> T:
        if not response.is_success:
            raise _http_error(self.server, response)
        return call.parse(self.server, response)

    def _base_url(self) -> str:
        return self.url + "/"


class CctvClient(_Base):
    """Blocking client for one server; use as a context manager or call :meth:`close`.

    ``timeout`` replaces :data:`DEFAULT_TIMEOUT` (a number sets every phase).
    ``transport`` is for tests and for exotic set-ups (a Unix socket, a proxy).
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        name: str | None = None,
        timeout: httpx.Timeout | float | None = None,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
        verify: bool | str = True,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(url, token, name=name, timeout=timeout, retries=retries, backoff=backoff)
        self._http = httpx.Client(
            base_url=self._base_url(),
            headers=self._headers(),
            timeout=self._timeout,
            verify=verify,
            transport=transport,
            follow_redirects=False,
        )

    @classmethod
    def for_target(cls, target: TargetLike, **kwargs: Any) -> CctvClient:
        return cls(target.url, target.token, name=target.name, **kwargs)

    def __enter__(self) -> CctvClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _run(self, call: _Call[T]) -> T:
        attempt = 0
        while True:
            try:
                response = self._http.request(**self._request_kwargs(call))
                break
            except httpx.TransportError as exc:
                delay = _retry_delay(call.idempotent, exc, attempt, self.retries, self.backoff)
                attempt += 1
                if delay is None:
                    raise _transport_error(self.server, exc, attempt) from exc
                time.sleep(delay)
        return self._finish(call, response)

    # -- the API ------------------------------------------------------------------------

    def cameras(
        self, kecamatan: str | None = None, status: CameraStatus | str | None = None
    ) -> list[Camera]:
        return self._run(_Calls.cameras(kecamatan, status))

    def camera(self, camera_id: str) -> Camera:
        return self._run(_Calls.camera(camera_id))

    def recordings(
        self,
        camera_id: str,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
    ) -> Recordings:
        return self._run(_Calls.recordings(camera_id, start, end))

    def thumbnail(
        self,
        camera_id: str,
        width: int = 160,
        height: int = 90,
        fmt: Literal["rgb", "jpeg"] = "rgb",
    ) -> Thumbnail:
        return self._run(_Calls.thumbnail(camera_id, width, height, fmt))

    def health(self) -> Health:
        return self._run(_Calls.health())

    def kecamatan(self) -> list[KecamatanSummary]:
        return self._run(_Calls.kecamatan())

    def kecamatan_summary(self, slug: str) -> KecamatanSummary:
        return self._run(_Calls.kecamatan_one(slug))

    def whoami(self) -> Identity:
        return self._run(_Calls.whoami())

    def healthz(self) -> dict[str, Any]:
        return self._run(_Calls.healthz())

    def metrics(self) -> str:
        return self._run(_Calls.metrics())

    def exports(
        self,
        state: ExportState | str | None = None,
        camera: str | None = None,
        limit: int | None = None,
    ) -> list[ExportJob]:
        return self._run(_Calls.exports(state, camera, limit))

    def export(self, job_id: str) -> ExportJob:
        return self._run(_Calls.export(job_id))

    def create_export(
        self,
        camera_id: str,
        start: datetime | str,
        end: datetime | str,
        *,
        case_id: str | None = None,
        note: str | None = None,
    ) -> ExportJob:
        return self._run(_Calls.create_export(camera_id, start, end, case_id, note))

    def cancel_export(self, job_id: str) -> ExportJob:
        return self._run(_Calls.cancel_export(job_id))

    def export_manifest(self, job_id: str) -> ExportManifest:
        return self._run(_Calls.export_manifest(job_id))

    def download_export(
        self,
        job_id: str,
        sink: BinaryIO,
        *,
        offset: int = 0,
        etag: str | None = None,
        progress: Callable[[int, int | None], None] | None = None,
        chunk_size: int = 64 * 1024,
    ) -> int:
        """Writes the clip into ``sink`` from byte ``offset`` on; returns the clip's size.

        ``sink`` must be positioned at ``offset``. With an ``etag`` (the job's quoted
        SHA-256) the request carries ``If-Range``: should the server hold another file, it
        answers with the whole of it, and ``sink`` is rewound and truncated first.
        ``progress(position, size)`` is called after every block. One attempt only: a
        dropped connection raises :class:`Unreachable` or :class:`TimedOut` with the
        bytes so far already written, and resuming is the caller's decision.
        """
        request = self._request_kwargs(_Calls.export_file(job_id))
        request["headers"]["Accept"] = f"video/mp4, {_PROBLEM_JSON}"
        if offset > 0:
            request["headers"]["Range"] = f"bytes={offset}-"
            if etag is not None:
                request["headers"]["If-Range"] = etag
        try:
            with self._http.stream(**request) as response:
                if not response.is_success:
                    response.read()
                    raise _http_error(self.server, response)
                position, size = _download_span(self.server, response, offset)
                if position == 0 and offset > 0:
                    sink.seek(0)
                    sink.truncate()
                for block in response.iter_bytes(chunk_size):
                    sink.write(block)
                    position += len(block)
                    if progress is not None:
                        progress(position, size)
        except httpx.TransportError as exc:
            raise _transport_error(self.server, exc, 1) from exc
        if size is not None and position != size:
            raise Unreachable(self.server, f"the download stopped at byte {position} of {size}")
        return position

    def audit(
        self,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        *,
        action: str | None = None,
        actor: str | None = None,
        limit: int | None = None,
    ) -> list[AuditEntry]:
        return self._run(_Calls.audit(since, until, action, actor, limit))

    def reboot_camera(self, camera_id: str, reason: str, *, force: bool = False) -> RebootJob:
        return self._run(_Calls.reboot_camera(camera_id, reason, force))

    def reboot_plan(
        self,
        reason: str,
        *,
        cameras: Sequence[str] | None = None,
        kecamatan: str | None = None,
        offline_for: float | str | None = None,
        force: bool = False,
    ) -> RebootPlan:
        return self._run(_Calls.reboot_plan(cameras, kecamatan, offline_for, reason, force))

    def reboot_many(
        self,
        reason: str,
        *,
        cameras: Sequence[str] | None = None,
        kecamatan: str | None = None,
        offline_for: float | str | None = None,
        force: bool = False,
        max_parallel: int | None = None,
    ) -> RebootJob:
        return self._run(
            _Calls.reboot_many(cameras, kecamatan, offline_for, reason, force, max_parallel)
        )

    def reboot_job(self, job_id: str) -> RebootJob:
        return self._run(_Calls.reboot_job(job_id))

    def reboot_jobs(self, limit: int | None = None, camera: str | None = None) -> list[RebootJob]:
        return self._run(_Calls.reboot_jobs(limit, camera))

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._run(_Calls.raw("GET", path, params))

    def post_json(
        self, path: str, body: Any = None, params: Mapping[str, Any] | None = None
    ) -> Any:
        return self._run(_Calls.raw("POST", path, params, {} if body is None else body))

    def delete(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._run(_Calls.raw("DELETE", path, params))


class AsyncCctvClient(_Base):
    """The same API as :class:`CctvClient`, awaitable, plus :meth:`events`."""

    _loop_free: bool = False  # True on the blocking stand-in of run_blocking()

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        name: str | None = None,
        timeout: httpx.Timeout | float | None = None,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
        verify: bool | str = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(url, token, name=name, timeout=timeout, retries=retries, backoff=backoff)
        self._http = httpx.AsyncClient(
            base_url=self._base_url(),
            headers=self._headers(),
            timeout=self._timeout,
            verify=verify,
            transport=transport,
            follow_redirects=False,
        )

    @classmethod
    def for_target(cls, target: TargetLike, **kwargs: Any) -> AsyncCctvClient:
        return cls(target.url, target.token, name=target.name, **kwargs)

    async def __aenter__(self) -> AsyncCctvClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _run(self, call: _Call[T]) -> T:
        attempt = 0
        while True:
            try:
                response = await self._http.request(**self._request_kwargs(call))
                break
            except httpx.TransportError as exc:
                delay = _retry_delay(call.idempotent, exc, attempt, self.retries, self.backoff)
                attempt += 1
                if delay is None:
                    raise _transport_error(self.server, exc, attempt) from exc
                import asyncio  # here, not at the top: see run_blocking()

                await asyncio.sleep(delay)
        return self._finish(call, response)

    @overload
    async def gather(self, first: Awaitable[T], second: Awaitable[U], /) -> tuple[T, U]: ...

    @overload
    async def gather(self, *calls: Awaitable[T]) -> tuple[T, ...]: ...

    async def gather(self, *calls: Awaitable[Any]) -> tuple[Any, ...]:
        """Awaits ``calls`` at once (``asyncio.gather``); a question that uses this rather
        than ``asyncio.gather`` also runs on the loop-free path of :func:`run_blocking`,
        where the calls are made one after another."""
        if self._loop_free:
            done: list[Any] = []
            try:
                for call in calls:
                    done.append(await call)
            finally:
                # After a failure the rest are never awaited: close them, as asyncio
                # would have run them, so no "coroutine was never awaited" warning.
                for call in calls[len(done) + 1 :]:
                    close = getattr(call, "close", None)
                    if close is not None:
                        close()
            return tuple(done)
        import asyncio

        return tuple(await asyncio.gather(*calls))

    # -- the API ------------------------------------------------------------------------

    async def cameras(
        self, kecamatan: str | None = None, status: CameraStatus | str | None = None
    ) -> list[Camera]:
        return await self._run(_Calls.cameras(kecamatan, status))

    async def camera(self, camera_id: str) -> Camera:
        return await self._run(_Calls.camera(camera_id))

    async def recordings(
        self,
        camera_id: str,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
    ) -> Recordings:
        return await self._run(_Calls.recordings(camera_id, start, end))

    async def thumbnail(
        self,
        camera_id: str,
        width: int = 160,
        height: int = 90,
        fmt: Literal["rgb", "jpeg"] = "rgb",
    ) -> Thumbnail:
        return await self._run(_Calls.thumbnail(camera_id, width, height, fmt))

    async def health(self) -> Health:
        return await self._run(_Calls.health())

    async def kecamatan(self) -> list[KecamatanSummary]:
        return await self._run(_Calls.kecamatan())

    async def kecamatan_summary(self, slug: str) -> KecamatanSummary:
        return await self._run(_Calls.kecamatan_one(slug))

    async def whoami(self) -> Identity:
        return await self._run(_Calls.whoami())

    async def healthz(self) -> dict[str, Any]:
        return await self._run(_Calls.healthz())

    async def metrics(self) -> str:
        return await self._run(_Calls.metrics())

    async def exports(
        self,
        state: ExportState | str | None = None,
        camera: str | None = None,
        limit: int | None = None,
    ) -> list[ExportJob]:
        return await self._run(_Calls.exports(state, camera, limit))

    async def export(self, job_id: str) -> ExportJob:
        return await self._run(_Calls.export(job_id))

    async def create_export(
        self,
        camera_id: str,
        start: datetime | str,
        end: datetime | str,
        *,
        case_id: str | None = None,
        note: str | None = None,
    ) -> ExportJob:
        return await self._run(_Calls.create_export(camera_id, start, end, case_id, note))

    async def cancel_export(self, job_id: str) -> ExportJob:
        return await self._run(_Calls.cancel_export(job_id))

    async def export_manifest(self, job_id: str) -> ExportManifest:
        return await self._run(_Calls.export_manifest(job_id))

    async def audit(
        self,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        *,
        action: str | None = None,
        actor: str | None = None,
        limit: int | None = None,
    ) -> list[AuditEntry]:
        return await self._run(_Calls.audit(since, until, action, actor, limit))

    async def reboot_camera(self, camera_id: str, reason: str, *, force: bool = False) -> RebootJob:
        return await self._run(_Calls.reboot_camera(camera_id, reason, force))

    async def reboot_plan(
        self,
        reason: str,
        *,
        cameras: Sequence[str] | None = None,
        kecamatan: str | None = None,
        offline_for: float | str | None = None,
        force: bool = False,
    ) -> RebootPlan:
        return await self._run(_Calls.reboot_plan(cameras, kecamatan, offline_for, reason, force))

    async def reboot_many(
        self,
        reason: str,
        *,
        cameras: Sequence[str] | None = None,
        kecamatan: str | None = None,
        offline_for: float | str | None = None,
        force: bool = False,
        max_parallel: int | None = None,
    ) -> RebootJob:
        return await self._run(
            _Calls.reboot_many(cameras, kecamatan, offline_for, reason, force, max_parallel)
        )

    async def reboot_job(self, job_id: str) -> RebootJob:
        return await self._run(_Calls.reboot_job(job_id))

    async def reboot_jobs(
        self, limit: int | None = None, camera: str | None = None
    ) -> list[RebootJob]:
        return await self._run(_Calls.reboot_jobs(limit, camera))

    async def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return await self._run(_Calls.raw("GET", path, params))

    async def post_json(
        self, path: str, body: Any = None, params: Mapping[str, Any] | None = None
    ) -> Any:
        return await self._run(_Calls.raw("POST", path, params, {} if body is None else body))

    async def delete(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return await self._run(_Calls.raw("DELETE", path, params))

    # -- live events --------------------------------------------------------------------

    async def events(
        self,
        since: int | None = None,
        *,
        types: Iterable[str] | None = None,
        max_retries: int | None = 5,
        last: int | None = None,
    ) -> AsyncGenerator[Event, None]:
        """Server-sent events, for as long as the caller keeps iterating.

        ``since`` replays stored events after that id first (0: every one the server
        kept); ``last`` replays the latest that many instead. A dropped stream is
        reopened with ``Last-Event-ID`` set to the last id seen, so nothing is lost or
        repeated across a reconnect. ``max_retries`` bounds reconnects in a row without
        an event in between (None: keep trying). HTTP errors (a revoked token, say) are
        raised at once, never retried.

        When the server reports that this subscriber fell behind, an :class:`Event` of
        type :data:`GAP_EVENT` is yielded; its ``data`` holds ``after_id``, ``before_id``
        and ``missed``, and a consumer should reload the state it shows.

        Close the generator (``aclose()`` or ``contextlib.aclosing``) to drop the
        connection at once rather than when it is garbage-collected.
        """
        last_id = since
        failures = 0
        delay = self.backoff
        params = _params(
            types=",".join(types) if types is not None else None,
            last=last if since is None else None,
        )
        timeout = self._timeout.as_dict() | {"read": EVENTS_READ_TIMEOUT}
        call = _Calls.raw("GET", "/api/v1/events", params)
        while True:
            request = self._request_kwargs(call)
            request["headers"].update({"Accept": "text/event-stream", "Cache-Control": "no-store"})
            if last_id is not None:
                request["headers"]["Last-Event-ID"] = str(last_id)
            parser = SseParser()
            try:
                async with self._http.stream(
                    **request, timeout=httpx.Timeout(**timeout)
                ) as response:
                    if not response.is_success:
                        await response.aread()
                        raise _http_error(self.server, response)
                    async for line in response.aiter_lines():
                        message = parser.feed(line)
                        if message is None:
                            continue
                        event = _event_of(self.server, message)
                        if event is None:
                            continue
                        # Progress, not a mere open, resets the count: a node that accepts
                        # and hangs up at once must still run out of retries.
                        failures = 0
                        last_id = event.id
                        yield event
            except httpx.TransportError as exc:
                failures += 1
                if max_retries is not None and failures > max_retries:
                    raise _transport_error(self.server, exc, failures) from exc
            else:
                # The server ended the stream (a restart or shutdown): reconnect like a drop.
                failures += 1
                if max_retries is not None and failures > max_retries:
                    raise Unreachable(
                        self.server,
                        f"the event stream kept closing ({failures} times in a row)",
                    )
            if parser.retry_ms is not None:
                delay = parser.retry_ms / 1000
            import asyncio

            await asyncio.sleep(min(delay * 2 ** max(0, failures - 1), EVENTS_MAX_DELAY))


# --------------------------------------------------------------------------- saving a clip


def part_path(output: Path) -> Path:
    """Where a clip bound for ``output`` grows until it verifies: ``FILE.part``."""
    return output.with_name(output.name + PART_SUFFIX)


def manifest_path(output: Path) -> Path:
    """Where a saved clip's manifest goes: ``FILE.manifest.json``."""
    return output.with_name(output.name + MANIFEST_SUFFIX)


@dataclass(frozen=True)
class SavedClip:
    """What :func:`save_export` left on disk."""

    file: Path
    manifest_file: Path
    size: int
    sha256: str
    resumed_from: int  # bytes already in the .part when this run started


class DownloadFailed(Exception):
    """The clip could not be fetched or did not verify; ``str()`` is one line."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def save_export(
    client: CctvClient,
    job_id: str,
    manifest: ExportManifest,
    output: Path,
    *,
    resume: bool,
    progress: Callable[[int, int], None] | None = None,
    note: Callable[[str], None] | None = None,
    cancelled: threading.Event | None = None,
    resume_hint: str | None = None,
) -> SavedClip:
    """Fetch ``job_id``'s clip into ``output`` via :func:`part_path`, verified.

    Drops are resumed with HTTP Range, backing off, until :data:`DOWNLOAD_RETRIES` in a
    row make no progress. Only a clip matching the manifest's size and SHA-256 is renamed
    to ``output``, with the manifest beside it (:func:`manifest_path`); else the ``.part``
    stays. ``resume``: continue a ``.part`` left earlier rather than discard it.
    ``progress(position, size)`` counts a resumed part too; ``note(line)`` hears of
    retries and restarts; ``cancelled`` stops between attempts, keeping the ``.part``;
    ``resume_hint`` ends the give-up message. Raises :class:`DownloadFailed`, or the
    client's error when the server refuses.
    """
    part = part_path(output)
    size = manifest.size
    if not resume:
        part.unlink(missing_ok=True)
    have = part.stat().st_size if part.exists() else 0
    if have > size:
        if note is not None:
            note(f"{part} is larger than the clip ({have} > {size} bytes); starting over")
        part.unlink()
        have = 0
    started_with = have
    failures = 0
    etag = f'"{manifest.sha256}"'
    on_block = None if progress is None else lambda pos, total: progress(pos, total or size)
    while have < size:
        if cancelled is not None and cancelled.is_set():
            raise DownloadFailed(f"stopped at byte {have} of {size}; kept in {part}")
        with part.open("r+b" if part.exists() else "w+b") as sink:
            sink.seek(have)
            before = have
            try:
                client.download_export(job_id, sink, offset=have, etag=etag, progress=on_block)
            except (Unreachable, TimedOut) as exc:
                sink.flush()
                have = sink.seek(0, os.SEEK_END)
                failures = 1 if have > before else failures + 1
                if failures > DOWNLOAD_RETRIES:
                    hint = f"; {resume_hint}" if resume_hint else ""
                    raise DownloadFailed(
                        f"{exc}; gave up after {DOWNLOAD_RETRIES} tries in a row without "
                        f"progress. {have} of {size} bytes are in {part}{hint}"
                    ) from None
                delay = min(DOWNLOAD_BACKOFF * 2 ** (failures - 1), DOWNLOAD_MAX_BACKOFF)
                if note is not None:
                    note(
                        f"connection lost at byte {have} of {size} ({exc.detail}); "
                        f"resuming in {delay:g} s"
                    )
                if cancelled is not None:
                    cancelled.wait(delay)
                else:
                    time.sleep(delay)
                continue
            sink.flush()
            os.fsync(sink.fileno())
            have = sink.seek(0, os.SEEK_END)
        if have > size:
            break
    if not part.exists():
        part.touch()  # an empty clip is impossible, but let the check below say so
    actual_size = part.stat().st_size
    actual = sha256_of(part)
    if actual_size != size or actual != manifest.sha256:
        raise DownloadFailed(
            f"{part} does not match the manifest: {actual_size} bytes, SHA-256 {actual}; "
            f"the manifest says {size} bytes, SHA-256 {manifest.sha256}. "
            f"Not renamed to {output.name}; delete the .part to download afresh"
        )
    os.replace(part, output)
    mfile = manifest_path(output)
    tmp = mfile.with_name(mfile.name + ".tmp")
    tmp.write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, mfile)
    return SavedClip(output, mfile, actual_size, actual, started_with)


# --------------------------------------------------------------------------- SSE


@dataclass(frozen=True)
class SseMessage:
    event: str
    data: str
    id: str | None


class SseParser:
    """Line-fed server-sent-events parser (the WHATWG rules that a server of ours uses).

    Feed it lines without their end-of-line; it returns a message on the blank line that
    ends one. Comments (``:``-lines, the keep-alives) are dropped; ``retry:`` is kept in
    :attr:`retry_ms` for the reconnect delay.
    """

    def __init__(self) -> None:
        self.retry_ms: int | None = None
        self.last_id: str | None = None
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> SseMessage | None:
        if not line:
            if not self._data:
                self._event = ""
                return None
            message = SseMessage(self._event or "message", "\n".join(self._data), self.last_id)
            self._event, self._data = "", []
            return message
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self.last_id = value
        elif name == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None


def _event_of(server: str, message: SseMessage) -> Event | None:
    try:
        payload = json.loads(message.data)
    except ValueError:
        raise ServerError(server, f"an {message.event!r} event's data is not JSON") from None
    if message.event == GAP_EVENT and isinstance(payload, dict):
        before = payload.get("before_id")
        if not isinstance(before, int):
            return None
        # The id is the last one the gap covers, so a reconnect after it asks for the
        # events after the gap rather than for the ones already lost.
        return Event(id=before - 1, time=datetime.now(UTC), type=GAP_EVENT, data=payload)
    try:
        return Event.model_validate(payload)
    except ValidationError as exc:
        raise ServerError(
            server, f"an {message.event!r} event is not a valid Event: {exc.errors()[0]['msg']}"
        ) from None


# --------------------------------------------------------------------------- several nodes


@dataclass(frozen=True)
class NodeResult(Generic[T]):
    """One node's answer to a :class:`MultiClient` question: a value or an error."""

    name: str
    url: str
    value: T | None = None
    error: CctvError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class MultiClient:
    """Asks several servers the same question at once; one node failing spoils nothing.

    ``results = MultiClient(targets).run(lambda c: c.health())`` returns a
    :class:`NodeResult` per target, in the targets' order. Only :class:`CctvError` is
    caught: anything else is a bug and propagates.
    """

    def __init__(self, targets: Iterable[TargetLike], **client_kwargs: Any) -> None:
        self.targets = list(targets)
        self._kwargs = client_kwargs

    async def gather(
        self, question: Callable[[AsyncCctvClient], Awaitable[T]]
    ) -> list[NodeResult[T]]:
        async def ask(target: TargetLike) -> NodeResult[T]:
            try:
                async with AsyncCctvClient.for_target(target, **self._kwargs) as client:
                    value = await question(client)
            except CctvError as exc:
                return NodeResult(target.name, target.url, error=exc)
            return NodeResult(target.name, target.url, value=value)

        import asyncio

        return list(await asyncio.gather(*(ask(t) for t in self.targets)))

    def run(self, question: Callable[[AsyncCctvClient], Awaitable[T]]) -> list[NodeResult[T]]:
        """:meth:`gather` from blocking code (the CLI); not from inside a running loop."""
        import asyncio

        return asyncio.run(self.gather(question))


# --------------------------------------------------------------------------- one node, no loop


class _BlockingAsyncClient(AsyncCctvClient):
    """:class:`AsyncCctvClient`'s API over a blocking :class:`CctvClient`.

    Every call finishes before its coroutine returns, so a question never suspends and
    :func:`run_blocking` can drive it without an event loop; :meth:`gather` awaits one call
    after the other. :meth:`events` needs a real loop and is not offered.
    """

    def __init__(self, sync: CctvClient) -> None:
        _Base.__init__(
            self,
            sync.url,
            sync._token,
            name=sync.name,
            timeout=sync._timeout,
            retries=sync.retries,
            backoff=sync.backoff,
        )
        self._sync = sync
        self._loop_free = True

    async def aclose(self) -> None:
        self._sync.close()

    async def _run(self, call: _Call[T]) -> T:
        return self._sync._run(call)

    async def events(self, since: int | None = None, **kwargs: Any) -> AsyncGenerator[Event, None]:
        raise TypeError("events() needs AsyncCctvClient on an event loop")
        yield  # pragma: no cover - makes this an async generator


def _complete(awaitable: Awaitable[T]) -> T:
    """The result of a coroutine that never suspends, without an event loop."""
    steps = awaitable.__await__()
    try:
        waited_on = steps.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    steps.close()
    raise RuntimeError(
        f"the question waited on {waited_on!r}: only client calls and client.gather() "
        "run without an event loop; use MultiClient.run() for it"
    )


def run_blocking(
    target: TargetLike,
    question: Callable[[AsyncCctvClient], Awaitable[T]],
    **client_kwargs: Any,
) -> NodeResult[T]:
    """One node's answer to a :class:`MultiClient` question, with blocking I/O and no event
    loop: neither asyncio nor anyio is imported, which saves the CLI ~60 ms of start-up.

    The question must await only the client's calls and ``client.gather()`` (not
    ``asyncio.gather``, which needs a running loop); concurrency within it becomes
    one call after another. Errors become :class:`NodeResult` errors as in
    :meth:`MultiClient.run`.
    """
    try:
        with CctvClient.for_target(target, **client_kwargs) as sync:
            value = _complete(question(_BlockingAsyncClient(sync)))
    except CctvError as exc:
        return NodeResult(target.name, target.url, error=exc)
    return NodeResult(target.name, target.url, value=value)
