"""Times as people type them (WITA, relative) and as the CLI and console show them.

The NOC works in WITA (Asia/Makassar, UTC+8, no daylight saving), so a bare clock time or
date means WITA. Accepted input, with "now" fixed by the caller for tests:

=======================  ==========================================================
``now``                  the current instant
``15m`` ``-15m`` ``2h``  that long ago (a leading ``-`` is optional; units s m h d w,
``1h30m``                combinable)
``14:00`` ``14:00:30``   today at that WITA clock time
``yesterday 14:00``      yesterday (or ``today``) at that WITA clock time
``2026-11-28 14:00``     that WITA date and time (``T`` instead of the space works too)
``2026-11-28``           midnight WITA at the start of that date
RFC 3339                 ``2026-11-28T06:00:00Z``, ``2026-11-28T14:00:00+08:00``
=======================  ==========================================================

Anything before 1970-01-01 or from 9000-01-01 on is refused as out of range.

A fixed offset stands in for the zone database on purpose: Makassar has kept UTC+8 since
1932, and ``zoneinfo`` would need tzdata on machines that lack it.

Shared by ``cctvctl.cli`` and ``cctvctl.tui`` (whose ``clock`` re-exports :data:`WITA`).
Only the standard library is imported: every client command parses its options first.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Final

# Standard library only itself: it bounds and escapes caller text quoted in an error.
from cctvctl.untrusted import quoted

__all__ = [
    "ACCEPTED",
    "DURATION_TEXT",
    "RANGE",
    "WITA",
    "TimeParseError",
    "format_duration",
    "format_time",
    "localize",
    "parse_duration",
    "parse_time",
]

WITA: Final = timezone(timedelta(hours=8), "WITA")

ACCEPTED: Final = (
    "accepted: now, relative (15m, -2h, 1d, 1h30m = that long ago), 14:00 (today WITA), "
    "yesterday 14:00, 2026-11-28 14:00 (WITA), or RFC 3339 (2026-11-28T06:00:00Z)"
)

_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_RELATIVE: Final = re.compile(r"^-?((?:\d+[smhdw])+)$")
_RELATIVE_PART: Final = re.compile(r"(\d+)([smhdw])")
_CLOCK: Final = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_DAY_WORDS: Final = {"today": 0, "yesterday": 1}
_DATE_TIME: Final = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ t](\S+))?$")  # input is lower-cased
# Past this, a relative time is surely a typo (and would overflow datetime arithmetic).
_MAX_RELATIVE: Final = timedelta(days=3650)
# Times outside this range are typos too. The margin to datetime's limits (years 1 and
# 9999) leaves room for the arithmetic callers do: --to +10y, one day on, a WITA date.
_EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST: Final = datetime(9000, 1, 1, tzinfo=UTC)
RANGE: Final = "accepted: times from 1970-01-01 up to 9000-01-01"


class TimeParseError(ValueError):
    """A time a person typed that we cannot read; ``str()`` is one line."""


def _clock(text: str, original: str) -> time:
    match = _CLOCK.match(text)
    if match is None:
        raise TimeParseError(f"{original!r} is not a clock time like 14:00; {ACCEPTED}")
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise TimeParseError(f"{original!r}: {text} is not a valid clock time (00:00-23:59:59)")
    return time(hour, minute, second)


def _relative(spec: str, original: str) -> timedelta:
    total = sum(int(n) * _UNITS[unit] for n, unit in _RELATIVE_PART.findall(spec))
    delta = timedelta(seconds=total)
    if delta > _MAX_RELATIVE:
        raise TimeParseError(f"{original!r} is more than 10 years ago; {ACCEPTED}")
    return delta


def parse_time(text: str, *, now: datetime | None = None) -> datetime:
    """An aware UTC datetime for ``text``; :class:`TimeParseError` says what is accepted.

    ``now`` (aware) anchors ``now``, relative times, ``today`` and ``yesterday``. Times
    outside 1970-01-01 .. 9000-01-01 are refused, so callers may add days or years safely.
    """
    try:
        when = _parse(text, now)
    except TimeParseError:
        raise
    except (OverflowError, ValueError):
        # e.g. 0001-01-01 WITA is before datetime's first instant in UTC.
        raise TimeParseError(f"{text.strip()!r} is out of range; {RANGE}") from None
    if not _EARLIEST <= when < _LATEST:
        raise TimeParseError(f"{text.strip()!r} is out of range; {RANGE}")
    return when


def _parse(text: str, now: datetime | None) -> datetime:
    now = datetime.now(UTC) if now is None else now.astimezone(UTC)
    raw = text
    text = " ".join(text.strip().lower().split())
    if not text:
        raise TimeParseError(f"empty time; {ACCEPTED}")
    if text == "now":
        return now
    rel = _RELATIVE.match(text)
    if rel is not None:
        return now - _relative(rel[1], raw)
    today = now.astimezone(WITA).date()
    word, _, rest = text.partition(" ")
    if word in _DAY_WORDS:
        if not rest:
            raise TimeParseError(f"{raw!r}: {word} needs a clock time, e.g. '{word} 14:00'")
        day = today - timedelta(days=_DAY_WORDS[word])
        return datetime.combine(day, _clock(rest, raw), WITA).astimezone(UTC)
    if _CLOCK.match(text):
        return datetime.combine(today, _clock(text, raw), WITA).astimezone(UTC)
    dated = _DATE_TIME.match(text)
    if dated is not None:
        try:
            day = date.fromisoformat(dated[1])
        except ValueError:
            raise TimeParseError(f"{raw!r}: {dated[1]} is not a valid date") from None
        clock_part = dated[2]
        if clock_part is None:
            return datetime.combine(day, time(0), WITA).astimezone(UTC)
        if _CLOCK.match(clock_part):
            return datetime.combine(day, _clock(clock_part, raw), WITA).astimezone(UTC)
        return _rfc3339(raw)
    return _rfc3339(raw)


def _rfc3339(raw: str) -> datetime:
    text = raw.strip()
    if text[-1:] in ("z", "Z"):
        text = text[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise TimeParseError(f"{raw!r} is not a time; {ACCEPTED}") from None
    if when.tzinfo is None:
        # e.g. "2026-11-28T14:00:00.5": a date-time without offset still means WITA.
        when = when.replace(tzinfo=WITA)
    return when.astimezone(UTC)


def format_time(when: datetime | None, *, utc: bool = False, date_too: bool = True) -> str:
    """``2026-11-28 14:00:05 WITA`` (or ``UTC``); ``-`` for no time."""
    if when is None:
        return "-"
    zone = UTC if utc else WITA
    local = when.astimezone(zone)
    stamp = local.strftime("%Y-%m-%d %H:%M:%S" if date_too else "%H:%M:%S")
    return f"{stamp} {'UTC' if utc else 'WITA'}"


# An instant as the API writes it (RFC 3339 with a UTC offset), inside a server's text.
_INSTANT: Final = re.compile(
    r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})(?![\w:])"
)


def localize(text: str, *, utc: bool = False) -> str:
    """``text`` with every RFC 3339 instant in it as people read it: ``2026-12-04
    22:40:00 WITA`` (or UTC). For a server's problem details and job notes, which carry
    times as the API does, shown to a person who works in WITA."""

    def one(match: re.Match[str]) -> str:
        try:
            when = _rfc3339(match.group())
        except TimeParseError:
            return match.group()
        return format_time(when, utc=utc)

    return _INSTANT.sub(one, text)


def format_duration(seconds: float) -> str:
    """Short and unambiguous: ``45 s``, ``12 min``, ``3 h 05 min``, ``2 d 04 h``."""
    secs = max(0, round(seconds))
    if secs < 60:
        return f"{secs} s"
    if secs < 3600:
        minutes, rest = divmod(secs, 60)
        return f"{minutes} min {rest:02d} s" if rest and minutes < 10 else f"{minutes} min"
    if secs < 86400:
        hours, rest = divmod(secs, 3600)
        return f"{hours} h {rest // 60:02d} min"
    days, rest = divmod(secs, 86400)
    return f"{days} d {rest // 3600:02d} h"


# Durations as the API takes them (``offline_for`` of a bulk reboot): seconds, or units.
# ASCII digits only (\d would take '٣', which float() reads as 3), and few enough of them
# that float() stays finite: the schema's pattern can then say exactly what is accepted.
_NUMBER: Final = r"[0-9]{1,12}(?:\.[0-9]{1,9})?"
_DURATION_PART: Final = re.compile(rf"({_NUMBER}) *([smhd])")
_DURATION: Final = re.compile(rf"{_NUMBER}|(?:{_NUMBER} *[smhd] *)+")
#: What :func:`parse_duration` accepts as text once stripped, as a regex (no anchors).
DURATION_TEXT: Final = rf"{_NUMBER}|(?:{_NUMBER} *[smhdSMHD] *)+"
_DURATION_UNIT: Final = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: float | str) -> float:
    """Seconds from ``900``, ``"900"``, ``"90s"``, ``"15m"``, ``"1h30m"``; ValueError if not."""
    if isinstance(value, bool):
        raise ValueError("expected seconds or a duration such as '15m'")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip().lower()
        if not _DURATION.fullmatch(text):
            raise ValueError(
                f"{quoted(value)} is not a duration; accepted: seconds, or e.g. '90s', '15m', "
                "'2h', '1h30m'"
            )
        parts = _DURATION_PART.findall(text)
        seconds = sum(float(n) * _DURATION_UNIT[u] for n, u in parts) if parts else float(text)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{quoted(value)} is not a duration of zero or more seconds")
    return seconds
