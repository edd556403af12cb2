"""When a camera's clock or identity is due to be read again (pure: times in, verdict out)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["RETRY_SECONDS", "Attempt", "is_due"]

#: A reading that failed is tried again this soon, not a whole interval later, so a camera
#: whose ONVIF port was briefly down does not go 15 minutes (or a day) unread.
RETRY_SECONDS: Final = 60.0


@dataclass(frozen=True, slots=True)
class Attempt:
    """The last reading of one kind for one camera: when, and whether it worked."""

    at: float
    ok: bool


def is_due(last: Attempt | None, now: float, interval: float, connected_at: float | None) -> bool:
    """Read again: never read, the interval (or the retry delay) has passed, or the
    stream connected since the last reading (a reboot or a power cut is when a camera's
    clock and firmware change)."""
    if last is None:
        return True
    if connected_at is not None and connected_at > last.at:
        return True
    wait = interval if last.ok else min(interval, RETRY_SECONDS)
    return now - last.at >= wait
