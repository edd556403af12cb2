"""The console's one idea of "now" and of WITA, the NOC's wall-clock zone.

Every age, timeline and default time window asks :func:`now`, so a snapshot test can pin
the clock in one place and get the same screen on any day.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

__all__ = ["WITA", "now"]

# Kutai Timur is on Waktu Indonesia Tengah, UTC+8, with no daylight saving.
WITA = timezone(timedelta(hours=8), "WITA")


def now() -> datetime:
    return datetime.now(UTC)
