"""The API as data: one :class:`Route` per endpoint, and how each answer is read.

A client method turns a route into a :class:`_Call` (:meth:`Route.call`), whose every id
goes into the path through :func:`_path_part`; :func:`match` maps a request back to its
route, which is how a test double (``tests/tui_fixture.py``) answers from this same table
instead of keeping its own list of paths.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Generic, Literal, TypedDict, TypeVar
from urllib.parse import quote, unquote

import httpx
from pydantic import TypeAdapter, ValidationError

from cctvctl.client._errors import ServerError
from cctvctl.models import (
    AuditEntry,
    Camera,
    CameraWhere,
    CaseHold,
    ExportJob,
    ExportManifest,
    FleetAuditEntry,
    FleetNodes,
    FleetPlacement,
    FleetToken,
    FootageRun,
    Health,
    Identity,
    InventoryApplied,
    KecamatanSummary,
    RebootJob,
    RebootPlan,
    Recordings,
    ReloadResult,
    TimeSyncReport,
    VaultCheck,
)

T = TypeVar("T")

_IDEMPOTENT: Final = frozenset({"GET", "HEAD", "OPTIONS"})


# --------------------------------------------------------------------------- reading answers


@dataclass(frozen=True)
class Thumbnail:
    """A camera's latest picture: raw RGB24 (``width*height*3`` bytes, rows top down) or JPEG."""

    data: bytes
    width: int
    height: int
    frame_time: datetime
    age: float  # seconds between the frame and the moment the server answered
    format: Literal["rgb", "jpeg"] = "rgb"
    # "live", or for a picture of the past where its footage was read: "local" or
    # "archive"; None from a server too old to say.
    source: str | None = None


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
    source = response.headers.get("X-Frame-Source")
    return Thumbnail(data, width, height, when.astimezone(UTC), age, fmt, source)


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


def _params(**values: str | int | None) -> dict[str, str]:
    return {k: str(v) for k, v in values.items() if v is not None}


def _when(value: datetime | str | None) -> str | None:
    return None if value is None else _rfc3339(value)


# --------------------------------------------------------------------------- calls and routes


# Plain classes, not dataclasses: a dataclass costs about a millisecond to build at import
# time, and every CLI command imports this module.


class _Call(Generic[T]):
    """A route with its ids filled in, its query and its body: what the client sends."""

    __slots__ = ("body", "params", "path", "route")

    def __init__(self, route: Route[T], path: str, params: Mapping[str, str], body: Any) -> None:
        self.route = route
        self.path = path
        self.params = params
        self.body = body


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Route(Generic[T]):
    """An endpoint: ``template`` names its ids in braces (``/api/v1/cameras/{camera_id}``)."""

    method: str
    template: str
    parse: Callable[[str, httpx.Response], T]
    authenticated: bool = field(default=True, kw_only=True)

    def __repr__(self) -> str:
        return f"Route({self.method} {self.template})"

    @property
    def idempotent(self) -> bool:
        return self.method in _IDEMPOTENT

    def call(
        self, params: Mapping[str, str] | None = None, body: Any = None, **ids: str
    ) -> _Call[T]:
        path = self.template.format_map({k: _path_part(v) for k, v in ids.items()})
        return _Call(self, path, params or {}, body)

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The ids in ``path`` (percent-decoded) if it is this route, else None."""
        want = self.template.strip("/").split("/")
        got = path.strip("/").split("/")
        if method != self.method or len(want) != len(got):
            return None
        ids: dict[str, str] = {}
        for pattern, segment in zip(want, got, strict=True):
            if pattern.startswith("{") and pattern.endswith("}"):
                ids[pattern[1:-1]] = unquote(segment)
            elif pattern != segment:
                return None
        return ids


def raw(method: str, path: str, params: Mapping[str, Any] | None, body: Any = None) -> _Call[Any]:
    """A call to a path the caller wrote (``get_json`` and friends): no route, plain JSON."""
    clean = {k: str(v) for k, v in (params or {}).items() if v is not None}
    return _Call(Route(method, path, _parse_json), path, clean, body)


def _no_body(_server: str, _response: httpx.Response) -> None:
    return None  # streamed by download_export or events(), which never call parse


# --------------------------------------------------------------------------- the table

CAMERAS: Final[Route[list[Camera]]] = Route(
    "GET", "/api/v1/cameras", _model_parser(list[Camera], "camera list")
)
CAMERA: Final[Route[Camera]] = Route(
    "GET", "/api/v1/cameras/{camera_id}", _model_parser(Camera, "camera")
)
RECORDINGS: Final[Route[Recordings]] = Route(
    "GET",
    "/api/v1/cameras/{camera_id}/recordings",
    _model_parser(Recordings, "recordings answer"),
)
THUMBNAIL: Final[Route[Thumbnail]] = Route(
    "GET", "/api/v1/cameras/{camera_id}/thumbnail", _parse_thumbnail
)
REBOOT_CAMERA: Final[Route[RebootJob]] = Route(
    "POST", "/api/v1/cameras/{camera_id}/reboot", _model_parser(RebootJob, "reboot job")
)
HEALTH: Final[Route[Health]] = Route(
    "GET", "/api/v1/health", _model_parser(Health, "health report")
)
KECAMATAN_LIST: Final[Route[list[KecamatanSummary]]] = Route(
    "GET", "/api/v1/kecamatan", _model_parser(list[KecamatanSummary], "kecamatan list")
)
KECAMATAN: Final[Route[KecamatanSummary]] = Route(
    "GET", "/api/v1/kecamatan/{slug}", _model_parser(KecamatanSummary, "kecamatan summary")
)
WHOAMI: Final[Route[Identity]] = Route("GET", "/api/v1/whoami", _model_parser(Identity, "identity"))
HEALTHZ: Final[Route[dict[str, Any]]] = Route(
    "GET", "/healthz", _model_parser(dict[str, Any], "liveness answer"), authenticated=False
)
METRICS: Final[Route[str]] = Route("GET", "/metrics", lambda _server, response: response.text)
EVENTS: Final[Route[None]] = Route("GET", "/api/v1/events", _no_body)
EXPORTS: Final[Route[list[ExportJob]]] = Route(
    "GET", "/api/v1/exports", _model_parser(list[ExportJob], "export job list")
)
CREATE_EXPORT: Final[Route[ExportJob]] = Route(
    "POST", "/api/v1/exports", _model_parser(ExportJob, "export job")
)
EXPORT: Final[Route[ExportJob]] = Route(
    "GET", "/api/v1/exports/{job_id}", _model_parser(ExportJob, "export job")
)
CANCEL_EXPORT: Final[Route[ExportJob]] = Route(
    "DELETE", "/api/v1/exports/{job_id}", _model_parser(ExportJob, "export job")
)
EXPORT_MANIFEST: Final[Route[ExportManifest]] = Route(
    "GET", "/api/v1/exports/{job_id}/manifest", _model_parser(ExportManifest, "export manifest")
)
EXPORT_FILE: Final[Route[None]] = Route("GET", "/api/v1/exports/{job_id}/file", _no_body)
VERIFY_EXPORT: Final[Route[VaultCheck]] = Route(
    "POST", "/api/v1/exports/{job_id}/verify", _model_parser(VaultCheck, "vault check")
)
CASE_HOLD: Final[Route[CaseHold]] = Route(
    "GET", "/api/v1/cases/hold", _model_parser(CaseHold, "case hold")
)
HOLD_CASE: Final[Route[CaseHold]] = Route(
    "POST", "/api/v1/cases/hold", _model_parser(CaseHold, "case hold")
)
RELEASE_CASE: Final[Route[CaseHold]] = Route(
    "POST", "/api/v1/cases/release", _model_parser(CaseHold, "case hold")
)
AUDIT: Final[Route[list[AuditEntry]]] = Route(
    "GET", "/api/v1/audit", _model_parser(list[AuditEntry], "audit log")
)
REBOOT_JOBS: Final[Route[list[RebootJob]]] = Route(
    "GET", "/api/v1/reboots", _model_parser(list[RebootJob], "reboot job list")
)
# One endpoint, two answers: ``dry_run`` in the body asks for the plan instead of a job.
REBOOT_MANY: Final[Route[RebootJob]] = Route(
    "POST", "/api/v1/reboots", _model_parser(RebootJob, "reboot job")
)
REBOOT_PLAN: Final[Route[RebootPlan]] = Route(
    "POST", "/api/v1/reboots", _model_parser(RebootPlan, "reboot plan")
)
REBOOT_JOB: Final[Route[RebootJob]] = Route(
    "GET", "/api/v1/reboots/{job_id}", _model_parser(RebootJob, "reboot job")
)

TIME_SYNC: Final[Route[TimeSyncReport]] = Route(
    "POST", "/api/v1/time/sync", _model_parser(TimeSyncReport, "time sync report")
)

SERVER_RELOAD: Final[Route[ReloadResult]] = Route(
    "POST", "/api/v1/server/reload", _model_parser(ReloadResult, "reload answer")
)

FLEET_NODES: Final[Route[FleetNodes]] = Route(
    "GET", "/api/v1/fleet/nodes", _model_parser(FleetNodes, "fleet node list")
)
FLEET_WHERE: Final[Route[CameraWhere]] = Route(
    "GET", "/api/v1/fleet/where/{camera_id}", _model_parser(CameraWhere, "camera's whereabouts")
)
FLEET_PLACEMENT: Final[Route[FleetPlacement]] = Route(
    "GET", "/api/v1/fleet/placement", _model_parser(FleetPlacement, "fleet placement")
)
FLEET_AUDIT: Final[Route[list[FleetAuditEntry]]] = Route(
    "GET", "/api/v1/fleet/audit", _model_parser(list[FleetAuditEntry], "fleet audit log")
)
FLEET_CATALOGUE: Final[Route[list[FootageRun]]] = Route(
    "GET", "/api/v1/fleet/catalogue", _model_parser(list[FootageRun], "footage catalogue")
)
FLEET_INVENTORY: Final[Route[InventoryApplied]] = Route(
    "POST", "/api/v1/fleet/inventory", _model_parser(InventoryApplied, "inventory answer")
)
FLEET_TOKEN_PUT: Final[Route[FleetToken]] = Route(
    "POST", "/api/v1/fleet/tokens", _model_parser(FleetToken, "fleet token")
)
FLEET_TOKEN_REMOVE: Final[Route[None]] = Route("DELETE", "/api/v1/fleet/tokens/{name}", _no_body)

ROUTES: Final[tuple[Route[Any], ...]] = tuple(
    value for value in tuple(globals().values()) if isinstance(value, Route)
)


def match(method: str, path: str) -> tuple[Route[Any], dict[str, str]] | None:
    """The route a request is for and its ids, or None. ``path`` is the raw (still
    percent-encoded) path from the server's root; POST /api/v1/reboots is REBOOT_MANY."""
    for route in ROUTES:
        ids = route.match(method, path)
        if ids is not None:
            return route, ids
    return None


# --------------------------------------------------------------------------- request bodies


def _given(**values: Any) -> dict[str, Any]:
    """The fields of a request body that were given: an absent one is left out, not null."""
    return {k: v for k, v in values.items() if v is not None}


def export_body(
    camera_id: str,
    start: datetime | str,
    end: datetime | str,
    case_id: str | None,
    note: str | None,
) -> dict[str, Any]:
    window = {"camera": camera_id, "start": _rfc3339(start), "end": _rfc3339(end)}
    return window | _given(case_id=case_id, note=note)


def case_body(case_id: str, reason: str | None) -> dict[str, Any]:
    return {"case_id": case_id} | _given(reason=reason)


class RebootSelection(TypedDict, total=False):
    """Which cameras a bulk reboot is for, the same for its plan and its job."""

    cameras: Sequence[str] | None  # these ids
    kecamatan: str | None  # or every camera of this kecamatan (slug or name)
    offline_for: float | str | None  # only those offline this long (seconds or "15m")
    force: bool  # past the 10-minute guard; default False


def bulk_reboot_body(
    reason: str,
    selection: RebootSelection,
    *,
    max_parallel: int | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    cameras = selection.get("cameras")
    force = selection.get("force", False)
    return {"reason": reason, "force": force, "dry_run": dry_run} | _given(
        cameras=None if cameras is None else list(cameras),
        kecamatan=selection.get("kecamatan"),
        offline_for=selection.get("offline_for"),
        max_parallel=max_parallel,
    )
