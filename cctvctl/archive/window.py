"""The upload window (``upload_window``, WITA): whether uploads may run now, and when next."""

from __future__ import annotations

from datetime import datetime, timedelta

from cctvctl.timeparse import WITA

__all__ = ["seconds_until_open", "window_open"]

_DAY = 24 * 60


def _minute_of_day(now: datetime) -> float:
    local = now.astimezone(WITA)
    return local.hour * 60 + local.minute + local.second / 60 + local.microsecond / 6e7


def window_open(now: datetime, window: tuple[int, int] | None) -> bool:
    """True inside ``window`` (start, end) minutes of the WITA day, end exclusive; a window
    whose end comes before its start runs over midnight. None: always open."""
    if window is None:
        return True
    start, end = window
    m = _minute_of_day(now)
    return start <= m < end if start < end else (m >= start or m < end)


def seconds_until_open(now: datetime, window: tuple[int, int] | None) -> float:
    """0 inside the window, else the seconds until it next opens."""
    if window_open(now, window):
        return 0.0
    assert window is not None
    ahead = (window[0] - _minute_of_day(now)) % _DAY
    return timedelta(minutes=ahead).total_seconds()
