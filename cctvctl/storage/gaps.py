"""Where a camera's footage is missing over a window, from its segments' time spans.

Pure functions over POSIX seconds (:func:`find_gaps`) with a datetime wrapper that speaks
the wire models (:func:`camera_gaps`). Nothing here touches the index or the disk.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Protocol

from cctvctl.models import Gap

__all__ = [
    "DEFAULT_TOLERANCE",
    "GapReport",
    "HasSpan",
    "camera_gaps",
    "expected_from",
    "find_gaps",
]

#: Consecutive segments of one connection abut, but their times are rounded (and file
#: names hold whole seconds), so a hole shorter than this is noise, not lost footage.
DEFAULT_TOLERANCE: Final = 1.0


@dataclass(frozen=True, slots=True)
class GapReport:
    """Gaps inside the effective window ``[lo, hi)``; both are None when it is empty."""

    gaps: list[tuple[float, float]]
    missing_seconds: float
    lo: float | None
    hi: float | None

    @property
    def window_seconds(self) -> float:
        return 0.0 if self.lo is None or self.hi is None else self.hi - self.lo

    @property
    def recorded_seconds(self) -> float:
        return self.window_seconds - self.missing_seconds


def find_gaps(
    intervals: Iterable[tuple[float, float]],
    start: float,
    end: float,
    *,
    not_before: float | None = None,
    now: float | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> GapReport:
    """Holes in the union of ``[s, e)`` intervals over ``[start, end)``.

    The window is narrowed to begin no earlier than ``not_before`` (before the recorder or
    the camera existed nothing can be missing) and to end no later than ``now`` (the future
    is not missing yet). Holes shorter than ``tolerance`` are ignored, at the window edges
    too; holes of exactly ``tolerance`` are reported. Intervals may overlap, nest or come
    in any order; empty or inverted ones are ignored.
    """
    if tolerance < 0:
        raise ValueError("tolerance must not be negative")
    lo = start if not_before is None else max(start, not_before)
    hi = end if now is None else min(end, now)
    if hi <= lo:
        return GapReport([], 0.0, None, None)

    gaps: list[tuple[float, float]] = []
    covered_to = lo
    for s, e in sorted(intervals):
        if e <= s or e <= covered_to:
            continue
        if s >= hi:
            break
        if s - covered_to >= tolerance and s > covered_to:
            gaps.append((covered_to, s))
        covered_to = e
    if covered_to < hi and hi - covered_to >= tolerance:
        gaps.append((covered_to, hi))
    return GapReport(gaps, sum(e - s for s, e in gaps), lo, hi)


def expected_from(created: float, first_start: float | None, grace: float) -> float:
    """From when a camera's footage counts as missing (POSIX seconds).

    From the index's creation, except on a fresh index: cameras connect a moment after
    the recorder created it, and that moment is no footage lost (it made a 12-camera
    kecamatan read "17 s missing" for a 1.5 s start). So when the camera's first footage
    (``first_start``, closed or open segment) began within ``grace`` seconds of the
    creation, the count starts there. A camera slower than ``grace`` was reported offline,
    so its wait is an outage and counts.
    """
    if first_start is not None and created <= first_start <= created + grace:
        return first_start
    return created


class HasSpan(Protocol):
    """Anything with timezone-aware ``start`` and ``end`` (segment rows, wire segments)."""

    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...


def _ts(when: datetime) -> float:
    if when.tzinfo is None:
        raise ValueError("gap computation needs timezone-aware datetimes")
    return when.timestamp()


def camera_gaps(
    segments: Iterable[HasSpan],
    start: datetime,
    end: datetime,
    *,
    not_before: datetime | None = None,
    now: datetime | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> tuple[list[Gap], GapReport]:
    """:func:`find_gaps` for datetimes; returns wire gaps and the report they came from.

    To keep a camera that is recording right now from showing its open segment as a
    hole, pass the open segment's start as ``now`` or add ``(its start, now)`` to the spans.
    """
    report = find_gaps(
        ((_ts(s.start), _ts(s.end)) for s in segments),
        _ts(start),
        _ts(end),
        not_before=None if not_before is None else _ts(not_before),
        now=None if now is None else _ts(now),
        tolerance=tolerance,
    )
    wire = [
        Gap(
            start=datetime.fromtimestamp(s, UTC),
            end=datetime.fromtimestamp(e, UTC),
            seconds=e - s,
        )
        for s, e in report.gaps
    ]
    return wire, report
