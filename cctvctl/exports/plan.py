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


class ExportRefused(Exception):
    """A request the caller must fix; ``status`` 404 or 422, ``parameter`` names the field."""

    def __init__(self, status: int, parameter: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.parameter = parameter
        self.detail = detail


def plan_export(
    req: ExportRequest,
    *,
    inventory: Inventory,
    index: Database,
    open_since: Callable[[str], datetime | None],
    now: datetime,
) -> list[tuple[float, float]]:
    """The gaps the index predicts for ``req``; :class:`ExportRefused` if it cannot run."""
    if inventory.camera(req.camera) is None:
        raise ExportRefused(
            404,
            "camera",
            f"no camera {quoted(req.camera)} on this server; `cctvctl cameras` lists them",
        )
    start, end = req.start.astimezone(UTC), req.end.astimezone(UTC)
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
    if not any(s < to_ts(end) and e > to_ts(start) for s, e in spans):
        raise ExportRefused(
            422,
            "start",
            f"camera {quoted(req.camera)} has no footage between "
            f"{start:%Y-%m-%dT%H:%M:%SZ} and "
            f"{end:%Y-%m-%dT%H:%M:%SZ}; see GET /api/v1/cameras/{req.camera}/recordings",
        )
    return find_gaps(spans, to_ts(start), to_ts(end), tolerance=GAP_TOLERANCE).gaps
