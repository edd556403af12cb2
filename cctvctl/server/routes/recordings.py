"""``/api/v1/cameras/{id}/recordings``: the footage that exists over a window, and the gaps."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Final

from fastapi import APIRouter, Query

from cctvctl.health import recording_gaps
from cctvctl.models import Problem, Recordings
from cctvctl.server.routes._shared import RT, VIEWER, camera_or_404, invalid
from cctvctl.untrusted import clip, quoted

__all__ = ["MAX_WINDOW", "TIME_SCHEMA", "parse_time", "router"]

# As written, whatever the offset: a rule the OpenAPI pattern can state exactly. The CLI
# sends UTC from 1970-01-01 up to 9000-01-01 (timeparse.py), which always fits.
MIN_YEAR: Final = 1970
MAX_YEAR: Final = 8999
_YEARS: Final = r"(19[7-9][0-9]|[2-8][0-9]{3})"
_AFTER_YEAR: Final = (
    r"-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(\.[0-9]+)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
)
_RFC3339: Final = re.compile(r"[0-9]{4}" + _AFTER_YEAR)
#: The schema of every time parameter: exactly what :func:`parse_time` accepts.
TIME_SCHEMA: Final = {"format": "date-time", "pattern": f"^{_YEARS}{_AFTER_YEAR}$"}
DEFAULT_WINDOW: Final = timedelta(hours=24)
MAX_WINDOW: Final = timedelta(days=31)
_EXAMPLE: Final = "2024-05-01T08:00:00Z or 2024-05-01T16:00:00+08:00"
# A '+' in a query string arrives as a space unless the caller encoded it; "…:00 08:00"
# can only have meant "+08:00".
_SPACED_OFFSET: Final = re.compile(r" (\d{2}:?\d{2})$")

router = APIRouter(
    prefix="/api/v1",
    tags=["recordings"],
    dependencies=[VIEWER],
    responses={
        401: {"model": Problem},
        404: {"model": Problem},
        422: {"model": Problem},
    },
)


def parse_time(name: str, value: str) -> datetime:
    """An RFC 3339 time with an offset; anything else is the caller's 422."""
    text = _SPACED_OFFSET.sub(r"+\1", value.strip())
    # datetime.fromisoformat alone would also take forms the schema does not allow
    # (week dates, no seconds, no offset, "20240501T0800").
    if not _RFC3339.fullmatch(text):
        hint = "has no UTC offset" if _RFC3339.fullmatch(text + "Z") else "is not a time"
        raise invalid(
            name, f"query parameter {name!r}: {quoted(value)} {hint}; accepted: {_EXAMPLE}"
        )
    # Far-off years would overflow the default window arithmetic; no footage lives there.
    if not MIN_YEAR <= int(text[:4]) <= MAX_YEAR:
        raise invalid(
            name,
            f"query parameter {name!r}: {quoted(value)} is out of range; "
            f"accepted: years {MIN_YEAR} to {MAX_YEAR}",
        )
    try:
        when = datetime.fromisoformat(text)
    except ValueError:  # the shape is right but the day is not (2024-02-30)
        raise invalid(
            name, f"query parameter {name!r}: {quoted(value)} is not a time; accepted: {_EXAMPLE}"
        ) from None
    return when.astimezone(UTC)


@router.get("/cameras/{camera_id}/recordings", response_model=Recordings)
def recordings(
    camera_id: str,
    rt: RT,
    start: Annotated[
        str | None,
        Query(
            description="Window start, RFC 3339 (default: 24 h before end).",
            json_schema_extra=TIME_SCHEMA,
        ),
    ] = None,
    end: Annotated[
        str | None,
        Query(
            description="Window end, RFC 3339 (default: now); after start, and at most "
            "31 days after it.",
            json_schema_extra=TIME_SCHEMA,
        ),
    ] = None,
) -> Recordings:
    """Closed segments overlapping the window, and the gaps between them.

    The segment a camera is writing right now is not listed until it closes, but it
    counts as recorded, not as a gap. Time before the recorder existed, and after now,
    is not missing.
    """
    now = datetime.now(UTC)
    camera_or_404(rt, camera_id)
    t_end = parse_time("end", end) if end is not None else now
    t_start = parse_time("start", start) if start is not None else t_end - DEFAULT_WINDOW
    if t_end <= t_start:
        raise invalid(
            "end", f"end ({clip(end or 'now')}) must be after start ({clip(start or '')})"
        )
    if t_end - t_start > MAX_WINDOW:
        raise invalid(
            "start",
            f"the window from {t_start:%Y-%m-%dT%H:%M:%SZ} to {t_end:%Y-%m-%dT%H:%M:%SZ} is "
            f"{(t_end - t_start).total_seconds() / 86400:.1f} days; accepted: at most 31 days",
        )
    open_since = rt.open_since(camera_id)
    grace = rt.inventory.server.offline_after
    gaps, report = recording_gaps(
        rt.db, camera_id, t_start, t_end, now, open_since=open_since, grace=grace
    )
    rows = rt.db.segments(camera_id, t_start, t_end)
    spans = [(r.start, r.end) for r in rows]
    if open_since is not None:
        spans.append((open_since, now))
    recorded = sum(max(0.0, (min(e, t_end) - max(s, t_start)).total_seconds()) for s, e in spans)
    return Recordings(
        camera=camera_id,
        start=t_start,
        end=t_end,
        segments=[r.to_wire() for r in rows],
        gaps=gaps,
        recorded_seconds=recorded,
        missing_seconds=report.missing_seconds,
    )
