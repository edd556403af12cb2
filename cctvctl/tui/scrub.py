"""The camera screen's look into the past: where a step lands, and the one line that says
which moment the picture shows and where its footage was read.

Pure (times and answers in, rich text out), so it is tested without a terminal.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from rich.text import Text

from cctvctl.termsafe import escape_controls
from cctvctl.timeparse import format_duration
from cctvctl.tui.clock import WITA
from cctvctl.tui.format import flagged

__all__ = [
    "BIG_STEP",
    "LIVE_MARGIN",
    "STEP",
    "Moment",
    "Shown",
    "moment_text",
    "source_of",
    "step",
]

STEP: Final = timedelta(minutes=1)
# A cell of the timeline is 18 min at 80 columns: a big step moves about one cell.
BIG_STEP: Final = timedelta(minutes=15)
# A step forward that lands this close to now is the live picture again: the newest
# keyframe is at most a GOP old, and the past would only show it later.
LIVE_MARGIN: Final = timedelta(seconds=5)


class Shown(enum.Enum):
    FETCHING = "fetching"  # asked, no answer yet (shown only once the answer is slow)
    LOCAL = "local"  # read from this node's disk
    ARCHIVE = "archive"  # read back from the archive (its fetch cache)
    GAP = "gap"  # nothing recorded at that moment
    FAILED = "failed"  # the server could not say (archive down, node unreachable)


@dataclass(frozen=True)
class Moment:
    """A moment of the past asked for, and what the picture shows of it so far."""

    target: datetime  # UTC, what the operator stepped or typed to
    shown: Shown = Shown.FETCHING
    frame_time: datetime | None = None  # the keyframe's time, once a picture came
    error: str = ""  # why it FAILED, one line
    slow: bool = False  # FETCHING for long enough to say so


def step(current: datetime | None, delta: timedelta, now: datetime) -> datetime | None:
    """Where a step of ``delta`` from ``current`` (None: live) lands; None is live again,
    for a step that reaches now (the future holds no footage)."""
    target = (now if current is None else current) + delta
    if target >= now - LIVE_MARGIN:
        return None
    return target


def source_of(header: str | None) -> Shown:
    """The server's ``X-Frame-Source`` for a picture of the past; a server too old to say
    read the footage where it lives, most often its own disk."""
    return Shown.ARCHIVE if header == "archive" else Shown.LOCAL


def _when(at: datetime, now: datetime, *, seconds: bool = True) -> str:
    """``14:03:27`` today, ``27 Nov 14:03:27`` another day (WITA)."""
    local = at.astimezone(WITA)
    clock = local.strftime("%H:%M:%S" if seconds else "%H:%M")
    if local.date() == now.astimezone(WITA).date():
        return clock
    return f"{local:%d %b %Y} {clock}" if local.year != now.year else f"{local:%d %b} {clock}"


def moment_text(moment: Moment, now: datetime) -> Text:
    """``PAST 14:03:27 WITA · archive · 2 h 13 min ago · l live``: one line, which the
    screen shows above the picture only while it looks at the past."""
    text = Text(no_wrap=True, overflow="ellipsis")
    # Reverse video, not colour, says "not live": it survives NO_COLOR and 16 colours.
    text.append(" PAST ", "bold reverse")
    text.append(" ")
    shown = moment.shown
    if shown is Shown.GAP:
        text.append_text(flagged(f"no footage at {_when(moment.target, now, seconds=False)} WITA"))
    else:
        at = moment.frame_time if moment.frame_time is not None else moment.target
        text.append(f"{_when(at, now)} WITA", "bold")
        if shown is Shown.LOCAL:
            text.append(" · local footage")
        elif shown is Shown.ARCHIVE:
            text.append(" · from the archive", "bold")
        elif shown is Shown.FETCHING:
            text.append(" · fetching…" if moment.slow else " · …", "dim")
        else:
            text.append(" · ")
            text.append_text(flagged(escape_controls(moment.error) or "failed"))
    ago = (now - moment.target).total_seconds()
    text.append(f" · {format_duration(ago)} ago", "dim")
    text.append(" · l live", "dim")
    return text
