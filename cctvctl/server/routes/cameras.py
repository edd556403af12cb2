"""``/api/v1/cameras``: the camera list, one camera, and its latest picture (or one of the
past, from the recordings: a local segment, or an archived one fetched back)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Final, Literal

from fastapi import APIRouter, Query, Response

from cctvctl.models import Camera, CameraStatus, Problem
from cctvctl.recorder.thumbnails import Thumbnail, ThumbnailError
from cctvctl.server.problems import TYPE_NOT_FOUND, ProblemError
from cctvctl.server.routes._shared import (
    RT,
    VIEWER,
    camera_or_404,
    cameras_json,
    invalid,
    kecamatan_or_404,
    live_cameras,
    rfc3339,
)
from cctvctl.server.routes.recordings import TIME_SCHEMA, parse_time

__all__ = ["router"]

MIN_SIDE: Final = 8
DEFAULT_WIDTH: Final = 160
MAX_WIDTH: Final = 1920
MAX_HEIGHT: Final = 1080
# The window asked of the index for the segment covering one moment.
_INSTANT: Final = timedelta(microseconds=1)

_ERRORS: Final[dict[int | str, dict[str, object]]] = {
    401: {"model": Problem, "description": "No token, or a token this server does not know"},
    404: {"model": Problem, "description": "No such camera or kecamatan"},
    422: {"model": Problem, "description": "A parameter is out of range or malformed"},
}

router = APIRouter(prefix="/api/v1", tags=["cameras"], dependencies=[VIEWER], responses=_ERRORS)


@router.get("/cameras", response_model=list[Camera])
def list_cameras(
    rt: RT,
    kecamatan: Annotated[
        str | None,
        Query(description="Only this kecamatan, by slug or name.", examples=["sangatta-utara"]),
    ] = None,
    status: Annotated[
        CameraStatus | None, Query(description="Only cameras with this status.")
    ] = None,
) -> Response:
    """Every camera of this server in inventory order, with live status.

    The list is made once per LIST_SECONDS for every caller and sent as JSON made in one
    call (no response-model pass over a thousand cameras): see ``_shared.live_cameras``.
    """
    slug = kecamatan_or_404(rt, kecamatan).key if kecamatan is not None else None
    if slug is None and status is None:
        return Response(cameras_json(rt), media_type="application/json")
    chosen = [
        c
        for c in live_cameras(rt)
        if (slug is None or c.kecamatan_slug == slug) and (status is None or c.status is status)
    ]
    return Response(cameras_json(rt, chosen), media_type="application/json")


@router.get("/cameras/{camera_id}", response_model=Camera)
def get_camera(camera_id: str, rt: RT) -> Camera:
    """One camera with live status."""
    return camera_or_404(rt, camera_id)


@router.get(
    "/cameras/{camera_id}/thumbnail",
    response_class=Response,
    responses={
        200: {
            "content": {"application/octet-stream": {}, "image/jpeg": {}},
            "description": (
                "The latest keyframe (or with `at`, the recorded keyframe at or before that "
                "time), downscaled. `rgb`: width*height*3 bytes, rows top to "
                "bottom. Headers X-Frame-Width, X-Frame-Height, X-Frame-Time (RFC 3339), "
                "X-Frame-Age (seconds) and X-Frame-Source (`live`, or with `at` `local` or "
                "`archive`: where the recorded footage was read) describe it; an offline "
                "camera's last frame is served with its age."
            ),
        },
        502: {"model": Problem, "description": "The camera's latest keyframe cannot be decoded"},
        503: {"model": Problem, "description": "The footage is archived and the store is down"},
    },
)
def thumbnail(
    camera_id: str,
    rt: RT,
    width: Annotated[
        int | None,
        Query(
            ge=MIN_SIDE,
            le=MAX_WIDTH,
            description=f"Width in pixels (rgb: default {DEFAULT_WIDTH}; jpeg: default the "
            "camera's own; or from height and the picture's aspect ratio).",
        ),
    ] = None,
    height: Annotated[
        int | None,
        Query(
            ge=MIN_SIDE,
            le=MAX_HEIGHT,
            description="Height in pixels (default: from width and the aspect ratio).",
        ),
    ] = None,
    format: Annotated[Literal["rgb", "jpeg"], Query(description="Raw RGB24 or JPEG.")] = "rgb",
    at: Annotated[
        str | None,
        Query(
            description="A moment of the past, RFC 3339: the recorded keyframe at or before "
            "it, read from the local segment or, once only the archive holds it, fetched "
            "back from the archive (default: the latest live keyframe).",
            json_schema_extra=TIME_SCHEMA,
        ),
    ] = None,
) -> Response:
    """The camera's latest keyframe, or the recorded one at ``at``, at the requested size."""
    camera_or_404(rt, camera_id)
    # A JPEG with no size asked is a snapshot for keeping (evidence, a ticket): the camera's own
    # resolution. Raw RGB is for terminals and stays small unless a size is asked.
    if width is None and height is None and format == "rgb":
        width = DEFAULT_WIDTH
    when = parse_time("at", at) if at is not None else None
    source = "live"
    try:
        if when is not None:
            thumb: Thumbnail | None
            thumb, source = _recorded(rt, camera_id, when, width, height, format)
        else:
            thumb = rt.recorder.thumbnail(camera_id, width, height, format)
    except ThumbnailError as exc:
        # The camera sent a keyframe we cannot decode: an upstream fault, not ours.
        raise ProblemError(
            502,
            f"the {'recorded' if when is not None else 'latest'} keyframe of camera "
            f"{camera_id!r} could not be decoded: "
            f"{rt.redact(str(exc))}",
            title="Undecodable frame",
        ) from None
    except ValueError as exc:
        raise invalid("width", f"thumbnail size or format not accepted: {exc}") from None
    if thumb is None:
        raise ProblemError(
            404,
            f"camera {camera_id!r} has not delivered a frame since the server started",
            type=TYPE_NOT_FOUND,
            title="No frame yet",
        )
    age = max(0.0, (datetime.now(UTC) - thumb.frame_time).total_seconds())
    media = "application/octet-stream" if thumb.format == "rgb" else "image/jpeg"
    return Response(
        content=bytes(thumb.data),
        media_type=media,
        headers={
            "X-Frame-Width": str(thumb.width),
            "X-Frame-Height": str(thumb.height),
            "X-Frame-Time": rfc3339(thumb.frame_time),
            "X-Frame-Age": f"{age:.3f}",
            # A console scrubbing the past says where the picture came from.
            "X-Frame-Source": source,
            # A thumbnail is stale within seconds; no proxy or client should keep one.
            "Cache-Control": "no-store",
        },
    )


def _recorded(
    rt: RT, camera_id: str, at: datetime, width: int | None, height: int | None, fmt: str
) -> tuple[Thumbnail, str]:
    """The recorded keyframe at or before ``at`` and where it was read (``local`` or
    ``archive``): from the segment covering it, read where it lives (an archived one
    through the archive's fetch cache, pinned while decoded)."""
    # Here, not at the top: only a request for the past loads the demuxing code.
    from cctvctl.recorder.past_frames import past_thumbnail

    row = next(
        (r for r in rt.db.segments(camera_id, at, at + _INSTANT) if r.start <= at < r.end), None
    )
    opened = rt.open_file(camera_id) if row is None else None
    if opened is not None and opened[0] <= at <= datetime.now(UTC):
        # The last minute is in the segment being written, not indexed until it closes.
        start, path = opened
        return past_thumbnail(path, start, at, width, height, fmt), "local"
    if row is None:
        raise ProblemError(
            404,
            f"camera {camera_id!r} has no recorded footage at {rfc3339(at)}; "
            "its recordings list what exists",
            type=TYPE_NOT_FOUND,
            title="No footage at that time",
        )
    if row.local:
        return past_thumbnail(row.path, row.start, at, width, height, fmt), "local"
    cache = rt.archive_cache
    if cache is None:
        raise ProblemError(
            404,
            f"camera {camera_id!r}'s footage at {rfc3339(at)} is only in the archive, and "
            "this server has no [archive] to read it from",
            type=TYPE_NOT_FOUND,
            title="No footage at that time",
        )
    from cctvctl.archive.cache import ArchiveFetchError  # boto3-free; [archive] is set

    try:
        with cache.pinned([row]) as paths:
            return past_thumbnail(paths[row.path], row.start, at, width, height, fmt), "archive"
    except ArchiveFetchError as exc:
        raise ProblemError(
            503,
            rt.redact(str(exc)),
            title="Archive unavailable",
            headers={"Retry-After": "30"},
        ) from None
