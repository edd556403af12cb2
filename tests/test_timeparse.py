"""Times as operators type them (WITA, relative, RFC 3339), with a fixed "now"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cctvctl.timeparse import (
    WITA,
    TimeParseError,
    format_duration,
    format_time,
    localize,
    parse_duration,
    parse_time,
)

# 2026-11-28 14:30:00 WITA; 06:30 UTC, so "today" is the same date in both zones.
NOW = datetime(2026, 11, 28, 6, 30, tzinfo=UTC)
# 2026-11-28 01:30 WITA is still the 27th in UTC: "today" must follow WITA, not UTC.
EARLY = datetime(2026, 11, 27, 17, 30, tzinfo=UTC)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("  NOW ", NOW),
        ("15m", NOW - timedelta(minutes=15)),
        ("-15m", NOW - timedelta(minutes=15)),
        ("2h", NOW - timedelta(hours=2)),
        ("24h", NOW - timedelta(hours=24)),
        ("1d", NOW - timedelta(days=1)),
        ("1h30m", NOW - timedelta(minutes=90)),
        ("90s", NOW - timedelta(seconds=90)),
        ("2w", NOW - timedelta(weeks=2)),
        ("14:00", utc(2026, 11, 28, 6, 0)),
        ("7:05", utc(2026, 11, 27, 23, 5)),
        ("14:00:30", utc(2026, 11, 28, 6, 0, 30)),
        ("yesterday 14:00", utc(2026, 11, 27, 6, 0)),
        ("Today 00:00", utc(2026, 11, 27, 16, 0)),
        ("2026-11-28 14:00", utc(2026, 11, 28, 6, 0)),
        ("2026-11-28T14:00", utc(2026, 11, 28, 6, 0)),
        ("2026-11-28", utc(2026, 11, 27, 16, 0)),
        ("2026-11-28T06:00:00Z", utc(2026, 11, 28, 6, 0)),
        ("2026-11-28t06:00:00z", utc(2026, 11, 28, 6, 0)),
        ("2026-11-28T14:00:00+08:00", utc(2026, 11, 28, 6, 0)),
        ("2026-11-28 14:00:00.250+08:00", utc(2026, 11, 28, 6, 0, 0, 250000)),
    ],
)
def test_accepted_forms(text: str, expected: datetime) -> None:
    got = parse_time(text, now=NOW)
    assert got == expected
    assert got.utcoffset() == timedelta(0)


def test_today_and_clock_times_follow_wita_not_utc() -> None:
    # At 01:30 WITA on the 28th (still the 27th in UTC) "14:00" is the 28th's afternoon.
    assert parse_time("14:00", now=EARLY) == utc(2026, 11, 28, 6, 0)
    assert parse_time("yesterday 14:00", now=EARLY) == utc(2026, 11, 27, 6, 0)


def test_now_in_another_zone_is_the_same_instant() -> None:
    assert parse_time("1h", now=NOW.astimezone(WITA)) == NOW - timedelta(hours=1)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("banana", "'banana' is not a time"),
        ("", "empty time"),
        ("25:00", "not a valid clock time"),
        ("14:61", "not a valid clock time"),
        ("yesterday", "needs a clock time"),
        ("yesterday noon", "not a clock time"),
        ("2026-02-30 10:00", "not a valid date"),
        ("2026-11-28 14h", "is not a time"),
        ("15x", "is not a time"),
        ("99999d", "more than 10 years"),
    ],
)
def test_bad_input_says_what_is_wrong_and_what_is_accepted(text: str, needle: str) -> None:
    with pytest.raises(TimeParseError) as caught:
        parse_time(text, now=NOW)
    message = str(caught.value)
    assert needle in message
    assert "\n" not in message
    if "is not a" in needle or needle == "empty time":
        assert "accepted: now, relative" in message


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01",  # midnight WITA is before datetime's first UTC instant
        "0001-01-01 07:59",
        "0001-01-01T00:00:00+08:00",
        "0001-01-01T00:00:00Z",
        "9999-12-31",
        "9999-12-31 23:59",
        "9999-12-31T23:59:59Z",
        "1969-12-31T23:59:59Z",
    ],
)
def test_extreme_times_are_out_of_range_not_a_crash(text: str) -> None:
    with pytest.raises(TimeParseError) as caught:
        parse_time(text, now=NOW)
    message = str(caught.value)
    assert repr(text) in message
    assert "out of range" in message
    assert "accepted: times from 1970-01-01" in message
    assert "\n" not in message


def test_range_edges_are_accepted() -> None:
    assert parse_time("1970-01-01T00:00:00Z", now=NOW) == utc(1970, 1, 1)
    assert parse_time("8999-12-31T23:59:59Z", now=NOW) == utc(8999, 12, 31, 23, 59, 59)


def test_format_time_in_wita_or_utc() -> None:
    when = utc(2026, 11, 27, 23, 5, 9)
    assert format_time(when) == "2026-11-28 07:05:09 WITA"
    assert format_time(when, utc=True) == "2026-11-27 23:05:09 UTC"
    assert format_time(when, date_too=False) == "07:05:09 WITA"
    assert format_time(None) == "-"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (44.6, "45 s"),
        (60, "1 min"),
        (155, "2 min 35 s"),
        (720, "12 min"),
        (3600 + 5 * 60, "1 h 05 min"),
        (2 * 86400 + 4 * 3600, "2 d 04 h"),
        (-3, "0 s"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (900, 900.0),
        ("900", 900.0),
        ("90s", 90.0),
        ("15m", 900.0),
        ("1h30m", 5400.0),
        ("2d", 172800.0),
    ],
)
def test_parse_duration(text: float | str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "-5", "15x", "m", "", "inf"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_localize_shows_the_apis_instants_in_wita_or_utc() -> None:
    text = (
        "no footage between 2026-12-04T14:40:00Z and 2026-12-04T14:45:00.250+00:00; "
        "starts at 2026-12-04T23:41:00+08:00"
    )
    assert localize(text) == (
        "no footage between 2026-12-04 22:40:00 WITA and 2026-12-04 22:45:00 WITA; "
        "starts at 2026-12-04 23:41:00 WITA"
    )
    assert localize("at 2026-12-04T14:40:00Z.", utc=True) == "at 2026-12-04 14:40:00 UTC."
    # Only whole instants with an offset: a bare date-time or an id is left alone.
    for kept in ("2026-12-04T14:40:00", "rb-2026-12-04T14:40:00Zx", "no times here"):
        assert localize(kept) == kept
