"""The console's one idea of "now" and of WITA, the NOC's wall-clock zone.

Every age, timeline and default time window asks :func:`now`, so a snapshot test can pin
the clock in one place and get the same screen on any day. Call it as ``clock.now()``
after ``from cctvctl.tui import clock``, so ``monkeypatch.setattr(clock, "now", ...)``
reaches every caller. WITA is :data:`cctvctl.timeparse.WITA`, the codebase's only one.
"""

from __future__ import annotations

from datetime import UTC, datetime

from cctvctl.timeparse import WITA

__all__ = ["WITA", "now"]


def now() -> datetime:
    return datetime.now(UTC)
