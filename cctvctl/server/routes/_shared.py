"""What several route modules need: the viewer gate, camera look-up, time formatting."""

from __future__ import annotations

import functools
import json
import math
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, TypeVar

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, TypeAdapter, ValidationError

from cctvctl.config import KecamatanConfig
from cctvctl.devicecheck import clock_wire, device_wire
from cctvctl.health import archive_health
from cctvctl.models import ArchiveFigures, ArchiveHealth, Camera, Role
from cctvctl.server.auth import Principal, require
from cctvctl.server.problems import (
    TYPE_FORBIDDEN,
    TYPE_INVALID,
    TYPE_TOO_LARGE,
    ProblemError,
    describe_validation_errors,
    not_found,
)
from cctvctl.server.runtime import Runtime, get_runtime
from cctvctl.termsafe import escape_controls
from cctvctl.untrusted import quoted

__all__ = [
    "MAX_JSON_BODY",
    "RT",
    "VIEWER",
    "BodyRefused",
    "NotJson",
    "audit_text",
    "audited_role",
    "body_fields",
    "body_schema",
    "camera_or_404",
    "cameras_json",
    "invalid",
    "job_created",
    "kecamatan_or_404",
    "live_cameras",
    "loads_body",
    "no_camera",
    "read_json_body",
    "rfc3339",
    "validate_body",
]

VIEWER: Final = Depends(require(Role.VIEWER))
RT = Annotated[Runtime, Depends(get_runtime)]
DAY: Final = timedelta(hours=24)
#: Largest body a JSON route reads. The largest real one is a bulk reboot naming 1000
#: cameras (about 50 KB); anything past this is a mistake or an attack, and is refused
#: before it is buffered whole.
MAX_JSON_BODY: Final = 256 * 1024

M = TypeVar("M", bound=BaseModel)


def rfc3339(when: datetime) -> str:
    """UTC with a ``Z``, the form pydantic writes in JSON bodies, for headers too."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def invalid(parameter: str, detail: str, where: str = "query") -> ProblemError:
    """A 422 shaped like FastAPI's own validation problems (see problems.py)."""
    return ProblemError(
        422,
        detail,
        type=TYPE_INVALID,
        title="Invalid request parameter",
        extra={"errors": [{"in": where, "parameter": parameter, "detail": detail}]},
    )


def audited_role(
    principal: Principal, role: Role, needs: str, refuse: Callable[[str], object]
) -> None:
    """The 403 of a token below ``role``, its detail (ending in ``needs``, e.g. "this
    needs 'operator' or higher") handed to ``refuse`` first for the refusal's audit row.

    For a route that checks the role itself, before it reads the body, so that a refused
    attempt is on record (the ``require`` dependency answers the same 403 unaudited)."""
    if principal.role.allows(role):
        return
    detail = f"token {principal.name!r} has role {principal.role.value!r}; {needs}"
    refuse(detail)
    raise ProblemError(403, detail, type=TYPE_FORBIDDEN)


class BodyRefused(Exception):
    """A request body that is not JSON or does not fit its model.

    ``problem`` is what to raise (a 422 either way); ``summary`` is one line for the audit
    log, the same sentence the caller gets.
    """

    def __init__(self, problem: ProblemError | RequestValidationError, summary: str) -> None:
        super().__init__(summary)
        self.problem = problem
        self.summary = summary


def audit_text(value: Any, limit: int = 500) -> str | None:
    """Caller text that has not (or not yet) been validated, made safe for an audit row.

    Cut to ``limit`` characters and with control characters escaped, so what an admin
    later reads in a terminal is what was sent, not what it would do to the terminal.
    """
    if not isinstance(value, str):
        return None
    value = value.strip()[:limit]
    return escape_controls(value) if value else None


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads its JSON body by hand (to audit refusals)."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


def body_fields(model: type[BaseModel]) -> str:
    """The shape of ``model`` for a message: ``{camera, start, end, case_id?, note?}``."""
    names = [n + ("" if f.is_required() else "?") for n, f in model.model_fields.items()]
    return "{" + ", ".join(names) + "}"


async def read_json_body(request: Request, limit: int = MAX_JSON_BODY) -> bytes:
    """The raw body of a route that parses its own JSON; :class:`BodyRefused` (413) past
    ``limit`` bytes, told by Content-Length when there is one, else counted as it comes."""
    detail = (
        f"the request body is larger than {limit // 1024} KiB; accepted: a JSON object "
        "of at most that size"
    )
    too_large = BodyRefused(ProblemError(413, detail, type=TYPE_TOO_LARGE), detail)
    try:
        declared = int(request.headers.get("content-length", "0"))
    except ValueError:  # unparseable (or absurdly long): count the bytes instead
        declared = 0
    if declared > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass(frozen=True, slots=True)
class NotJson:
    """What :func:`loads_body` returns for a body it cannot parse, and why, for the 422."""

    why: str


def loads_body(raw: bytes) -> Any:
    """The JSON in a request body (None when empty), or :class:`NotJson`.

    Every parser failure lands here rather than in a 500: invalid UTF-8, integers past
    Python's digit limit, and nesting past the recursion limit.
    """
    try:
        return json.loads(raw or b"null")
    except UnicodeDecodeError:
        return NotJson("is not UTF-8 text")
    except RecursionError:
        return NotJson("nests arrays or objects too deeply")
    except ValueError:
        return NotJson("is not valid JSON")


_PLAIN_JSON_TYPES: Final[dict[str, type]] = {
    "string": str,
    "array": list,
    "object": dict,
    "null": type(None),
}


def _is_json(value: Any, kind: str | None) -> bool:
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":  # JSON Schema's integer takes 4.0 too
        return not isinstance(value, bool) and (
            isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        )
    if kind == "number":
        return not isinstance(value, bool) and isinstance(value, int | float)
    expected = _PLAIN_JSON_TYPES.get(kind or "")
    return expected is None or isinstance(value, expected)


@functools.cache
def _field_types(model: type[BaseModel]) -> dict[str, list[str | None]]:
    props: dict[str, Any] = model.model_json_schema()["properties"]
    return {
        name: [branch.get("type") for branch in schema.get("anyOf", [schema])]
        for name, schema in props.items()
    }


def _wrong_json_types(model: type[BaseModel], data: dict[str, Any]) -> list[dict[str, Any]]:
    """Members whose JSON type the schema does not allow, as pydantic-style errors.

    pydantic's lax mode would take 0 for false, "5" for 5 and a number of seconds for a
    time, which the schema does not; its strict mode would not take 4.0 for 4, which
    the schema does. So the JSON types are held to the schema here, and the values
    then to the model in lax mode.
    """
    types = _field_types(model)
    errors = []
    for name, value in data.items():
        kinds = types.get(name)
        # A boolean where none belongs is the models' to refuse, in their own words.
        if kinds is None or isinstance(value, bool) or any(_is_json(value, k) for k in kinds):
            continue
        wanted = " or ".join(f"a JSON {kind}" for kind in kinds if kind != "null")
        errors.append(
            {
                "type": "json_type",
                "loc": (name,),
                "msg": f"Input should be {wanted}",
                "input": value,
            }
        )
    return errors


def validate_body(model: type[M], raw: bytes, data: Any) -> M:
    """``data`` (from :func:`loads_body` on ``raw``) as ``model``, or :class:`BodyRefused`.

    Routes that must audit a malformed request read the body themselves instead of
    letting FastAPI do it; this keeps their answers the same as FastAPI's own 422s, with
    a plain sentence instead of "JSON decode error" when the body is not JSON.
    """
    expected = body_fields(model)
    if not raw.strip():
        detail = f"the request body is empty; expected a JSON object {expected}"
        raise BodyRefused(invalid("", detail, where="body"), detail)
    if data is None or isinstance(data, NotJson):
        why = data.why if isinstance(data, NotJson) else "is not valid JSON"
        detail = f"the request body {why}; expected {expected}"
        raise BodyRefused(invalid("", detail, where="body"), detail)
    if not isinstance(data, dict):
        detail = f"the request body is not a JSON object; expected {expected}"
        raise BodyRefused(invalid("", detail, where="body"), detail)
    errors: list[Any] = _wrong_json_types(model, data)
    if not errors:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            errors = list(exc.errors())
    located = [{**e, "loc": ("body", *e["loc"])} for e in errors]
    _, summary = describe_validation_errors(located)
    raise BodyRefused(RequestValidationError(located), summary)


def _present(rt: Runtime, cam: Camera) -> Camera:
    """The recorder's view of a camera, made fit for the wire.

    ``last_error`` is free text that may quote a libav message, and those can carry an
    RTSP URL with credentials. The recorder scrubs it already; this is the second lock
    on the same door, because a leaked camera password is the one mistake we cannot undo.
    """
    update: dict[str, Any] = {}
    if cam.last_error:
        update["last_error"] = rt.redact(cam.last_error)
    record = rt.devices.record(cam.id) if rt.devices is not None else None
    if record is not None:
        update["clock"] = clock_wire(record, rt.inventory.server.clock_tolerance_seconds)
        update["device"] = device_wire(record)
    return cam.model_copy(update=update) if update else cam


def archive_now(
    rt: Runtime, now: datetime
) -> tuple[ArchiveHealth | None, dict[str, ArchiveFigures] | None]:
    """The node's archive figures and each kecamatan's; (None, None) without [archive]."""
    config = rt.inventory.archive
    if rt.uploader is None or config is None:
        return None, None
    return archive_health(config, rt.db, rt.uploader.figures(), now)


#: How long one camera list serves every request (the camera list, health, kecamatan): the
#: recorder's monitor tick, so no figure is staler than the monitor's own verdicts.
LIST_SECONDS: Final = 0.5
_CAMERA_LIST: Final = TypeAdapter(list[Camera])


class _CameraList:
    """The presented camera list and its JSON, made at most once per LIST_SECONDS.

    Under a thousand ingest threads every Python step of a request waits its turn for the
    GIL, so the list costs the API little only if it is made once for every caller of a
    tick, and sent as JSON made in one call (TypeAdapter.dump_json, no per-camera Python).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.made = -math.inf  # monotonic
        self.inventory: object = None  # a reload replaces the inventory: the list goes
        self.cameras: list[Camera] = []
        self.body: bytes | None = None


_lists: weakref.WeakKeyDictionary[Runtime, _CameraList] = weakref.WeakKeyDictionary()
_lists_lock = threading.Lock()


def _camera_list(rt: Runtime) -> _CameraList:
    with _lists_lock:
        found = _lists.get(rt)
        if found is None:
            found = _lists[rt] = _CameraList()
        return found


def live_cameras(rt: Runtime) -> list[Camera]:
    """Every camera with its live figures, as made for this tick (LIST_SECONDS)."""
    cached = _camera_list(rt)
    with cached.lock:  # one caller makes it; the others of the tick wait and share it
        now = time.monotonic()
        if now - cached.made >= LIST_SECONDS or cached.inventory is not rt.inventory:
            inventory = rt.inventory
            cached.cameras = [_present(rt, cam) for cam in rt.recorder.cameras()]
            cached.inventory, cached.made, cached.body = inventory, now, None
        return cached.cameras


def cameras_json(rt: Runtime, cameras: list[Camera] | None = None) -> bytes:
    """``cameras`` (default: the whole live list) as the JSON array the API sends."""
    if cameras is not None:
        return _CAMERA_LIST.dump_json(cameras, by_alias=True)
    whole = live_cameras(rt)
    cached = _camera_list(rt)
    with cached.lock:
        if cached.body is None or cached.cameras is not whole:
            body = _CAMERA_LIST.dump_json(whole, by_alias=True)
            if cached.cameras is whole:
                cached.body = body
            return body
        return cached.body


def job_created(collection: str, link: str) -> dict[str, Any]:
    """OpenAPI of a 202 that starts a job in ``collection``: its Location and a link to it."""
    return {
        "headers": {
            "Location": {
                "description": f"the job: /api/v1/{collection}/{{id}}",
                "schema": {"type": "string"},
            }
        },
        "links": {
            link: {
                "operationRef": f"#/paths/~1api~1v1~1{collection}~1{{job_id}}/get",
                "parameters": {"job_id": "$response.body#/id"},
                "description": "the job this request started",
            }
        },
    }


def no_camera(camera_ids: Sequence[str]) -> ProblemError:
    """The 404 for camera ids this server does not have (the first ten named)."""
    named = ", ".join(quoted(c) for c in camera_ids[:10])
    # Read by people in the CLI and the console: say what to run, not which route to call.
    return not_found(f"no camera {named} on this server; `cctvctl cameras` lists them")


def camera_or_404(rt: Runtime, camera_id: str) -> Camera:
    cam = rt.recorder.camera(camera_id)
    if cam is None:
        raise no_camera([camera_id])
    return _present(rt, cam)


def kecamatan_or_404(rt: Runtime, wanted: str) -> KecamatanConfig:
    """A kecamatan by slug (``sangatta-utara``) or by name in any case (``Sangatta Utara``)."""
    folded = wanted.strip().casefold()
    for kec in rt.inventory.kecamatan:
        if folded in (kec.key, kec.name.casefold()):
            return kec
    accepted = ", ".join(k.key for k in rt.inventory.kecamatan)
    raise not_found(
        f"no kecamatan {quoted(wanted)} on this server; accepted: {accepted} (or their names)"
    )
