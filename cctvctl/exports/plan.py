"""Checking an export request before it is queued: camera, window, clock, footage."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final

from cctvctl.config import Inventory
from cctvctl.exports.remux import GAP_TOLERANCE
from cctvctl.models import ExportRequest
from cctvctl.storage.database import Database, to_ts
from cctvctl.storage.gaps import find_gaps
from cctvctl.untrusted import quoted

__all__ = ["FUTURE_SLACK", "ExportRefused", "plan_export"]

#: How far past "now" a window may end: clocks of the caller and the server differ a bit.
FUTURE_SLACK: Final = timedelta(seconds=5)


#: How far either side of a window without footage the nearest footage is looked for.
NEAREST_WITHIN: Final = timedelta(days=31)


class ExportRefused(Exception):
    """A request the caller must fix; ``status`` 404 or 422, ``parameter`` names the field.

    ``extra`` holds machine fields for the problem's extension members (UTC RFC 3339).
    """

    def __init__(
        self, status: int, parameter: str, detail: str, extra: dict[str, str | None] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.parameter = parameter
        self.detail = detail
        self.extra = dict(extra or {})


def _z(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _no_footage(
    req: ExportRequest,
    index: Database,
    start: datetime,
    end: datetime,
    writing_since: datetime | None,
) -> ExportRefused:
    """The refusal for a window without footage, saying where the camera's footage is.

    Times are RFC 3339 UTC, as everywhere in the API; the CLI and the console show them
    in WITA. What to do is in the words: where footage ends before the window and resumes
    after it, not which route to ask.
    """
    before = index.segments(req.camera, start - NEAREST_WITHIN, start)
    after = index.segments(req.camera, end, end + NEAREST_WITHIN)
    ended = max((r.end for r in before), default=None)
    resumed = min((r.start for r in after if r.start >= end), default=None)
    if writing_since is not None and writing_since >= end:
        resumed = min(resumed or writing_since, writing_since)  # the segment being written
    text = f"camera {quoted(req.camera)} has no footage between {_z(start)} and {_z(end)}"
    if ended is None and resumed is None:
        first = index.first_segment_start(req.camera)
        last = index.last_segment_end(req.camera)
        if first is None:
            text += "; it has recorded nothing yet"
        elif first >= end:
            resumed = first
        elif last is not None and last <= start:
            ended = last
    if resumed is not None and ended is None:
        text += f"; footage for this camera starts at {_z(resumed)}"
    elif ended is not None and resumed is None:
        text += f"; its footage ends at {_z(ended)} (nothing recorded since)"
    elif ended is not None and resumed is not None:
        text += f"; footage ends at {_z(ended)} and resumes at {_z(resumed)}"
    extra = {
        "footage_ends": None if ended is None else _z(ended),
        "footage_resumes": None if resumed is None else _z(resumed),
    }
    return ExportRefused(422, "start", text, extra)


def plan_export(
    req: ExportRequest,
    *,
    inventory: Inventory,
    index: Database,
    open_since: Callable[[str], datetime | None],
    now: datetime,
    fleet: bool = False,
) -> list[tuple[float, float]]:
    """The gaps the index predicts for ``req``; :class:`ExportRefused` if it cannot run.

    ``fleet``: this is a fleet node, where a camera moves between nodes. A camera it no
    longer records is still exportable from the footage it holds (another node asks it
    for its part of a failover), and a window without footage here is accepted: the job
    looks for it on the other nodes (:mod:`~cctvctl.exports.joined`).
    """
    start, end = req.start.astimezone(UTC), req.end.astimezone(UTC)
    if inventory.camera(req.camera) is None and not (
        fleet and index.segments(req.camera, start, end)
    ):
        raise ExportRefused(
            404,
            "camera",
            f"no camera {quoted(req.camera)} on this server; `cctvctl cameras` lists them",
        )
    if end <= start:
        raise ExportRefused(
            422,
            "end",
            f"end ({end:%Y-%m-%dT%H:%M:%SZ}) must be after start ({start:%Y-%m-%dT%H:%M:%SZ})",
        )
    max_window = timedelta(minutes=float(inventory.server.export_max_minutes))
    if end - start > max_window:
        minutes = (end - start).total_seconds() / 60
        raise ExportRefused(
            422,
            "end",
            f"the window is {minutes:.1f} minutes; accepted: at most "
            f"{max_window.total_seconds() / 60:g} minutes (export_max_minutes); "
            "split it into several exports",
        )
    if end > now + FUTURE_SLACK:
        raise ExportRefused(
            422,
            "end",
            f"end ({end:%Y-%m-%dT%H:%M:%SZ}) is in the future; the server's time is "
            f"{now:%Y-%m-%dT%H:%M:%SZ}",
        )
    spans = [(to_ts(r.start), to_ts(r.end)) for r in index.segments(req.camera, start, end)]
    writing_since = open_since(req.camera)
    if writing_since is not None and writing_since < end:
        spans.append((to_ts(writing_since), max(to_ts(end), to_ts(now))))
    if not fleet and not any(s < to_ts(end) and e > to_ts(start) for s, e in spans):
        raise _no_footage(req, index, start, end, writing_since)
    return find_gaps(spans, to_ts(start), to_ts(end), tolerance=GAP_TOLERANCE).gaps
