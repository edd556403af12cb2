"""A clock for stores and planners that take one: it stands still until a test moves it."""

from __future__ import annotations

from datetime import datetime

__all__ = ["StillClock"]


class StillClock:
    """Called like ``time.time``; ``now`` (epoch seconds) changes only when a test sets it."""

    def __init__(self, at: datetime) -> None:
        self.now = at.timestamp()

    def __call__(self) -> float:
        return self.now
