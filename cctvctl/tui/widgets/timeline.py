"""24 hours of one camera's footage as a row of cells: recorded, in the archive only,
missing, or nothing known.

:func:`buckets` and :func:`timeline_text` are pure (a :class:`~cctvctl.models.Recordings`
answer, a width and "now" in; cells and text out) so they can be tested without a
terminal; :class:`Timeline` is the three-line widget (bar, WITA hour ticks, caption).
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from typing import Final

from rich.text import Text
from textual.widgets import Static

from cctvctl.models import Recordings
from cctvctl.render import Mode
from cctvctl.termsafe import escape_controls
from cctvctl.timeparse import format_duration
from cctvctl.tui import clock
from cctvctl.tui.clock import WITA
from cctvctl.tui.format import flagged

__all__ = [
    "GAP_MIN_SECONDS",
    "WINDOW",
    "Cell",
    "Timeline",
    "buckets",
    "missing_text",
    "moment_mark",
    "tick_labels",
    "timeline_text",
    "window",
]

WINDOW: Final = timedelta(hours=24)
#: Missing footage in a cell that makes it a gap (or half the cell, when cells are short).
GAP_MIN_SECONDS: Final = 60.0


class Cell(enum.Enum):
    RECORDED = "recorded"
    ARCHIVED = "archived"  # recorded, and only the S3 archive still holds it
    GAP = "gap"
    UNKNOWN = "unknown"  # before the recorder knew the camera, or in the future


# (unicode, ascii, style): glyphs differ as well as colours, for NO_COLOR and colour blindness.
_GLYPHS: Final = {
    Cell.RECORDED: ("█", "#", "green"),
    Cell.ARCHIVED: ("▓", "=", "blue"),
    Cell.GAP: ("▒", ".", "bold red"),  # a distinct glyph: colour alone would vanish
    Cell.UNKNOWN: ("·", " ", "dim"),
}


def _overlap(a0: datetime, a1: datetime, b0: datetime, b1: datetime) -> float:
    return max(0.0, (min(a1, b1) - max(a0, b0)).total_seconds())


def buckets(rec: Recordings, width: int) -> list[Cell]:
    """``width`` cells over ``rec.start``..``rec.end``; a minute missing makes a cell a gap.

    The segment being written is not listed by the server, but counted in
    ``recorded_seconds``: what that holds beyond the listed segments is the open one, which
    ends now.
    """
    if width < 1:
        return []
    span = (rec.end - rec.start) / width
    # (start, end, on this node's disk): a bucket with any local footage is RECORDED.
    spans = [(s.start, s.end, s.location != "archived") for s in rec.segments]
    closed = sum(_overlap(rec.start, rec.end, s, e) for s, e, _ in spans)
    open_seconds = rec.recorded_seconds - closed
    if open_seconds > 0.5:
        spans.append((rec.end - timedelta(seconds=open_seconds), rec.end, True))
    cells: list[Cell] = []
    for i in range(width):
        b0 = rec.start + span * i
        b1 = b0 + span
        missing = sum(_overlap(b0, b1, g.start, g.end) for g in rec.gaps)
        # A reconnect's few seconds must not paint a whole bucket red; a minute does.
        if missing >= min(GAP_MIN_SECONDS, span.total_seconds() / 2):
            cells.append(Cell.GAP)
        elif any(_overlap(b0, b1, s, e) > 0 and local for s, e, local in spans):
            cells.append(Cell.RECORDED)
        elif any(_overlap(b0, b1, s, e) > 0 for s, e, _ in spans):
            cells.append(Cell.ARCHIVED)
        else:
            cells.append(Cell.UNKNOWN)
    return cells


def tick_labels(start: datetime, end: datetime, width: int) -> str:
    """A row of WITA hour labels (``00 06 12 18``) under their cells, and ``now`` at the end."""
    if width < 4:
        return "now"[:width]
    step = 3 if width >= 100 else 6
    row = [" "] * width
    tail = "now"
    row[width - len(tail) :] = tail
    total = (end - start).total_seconds()
    # First whole hour (WITA) at or after start.
    local = start.astimezone(WITA)
    hour = local.replace(minute=0, second=0, microsecond=0)
    if hour < local:
        hour += timedelta(hours=1)
    taken_until = -1
    while hour < end:
        if hour.hour % step == 0:
            x = int((hour - start).total_seconds() / total * width)
            label = f"{hour.hour:02d}"
            # Keep a space between labels and clear of "now".
            if x > taken_until and x + len(label) < width - len(tail):
                row[x : x + len(label)] = label
                taken_until = x + len(label)
        hour += timedelta(hours=1)
    return "".join(row)


def moment_mark(
    start: datetime, end: datetime, moment: datetime, width: int, ascii_only: bool = False
) -> tuple[int, str]:
    """Column and glyph of the marker under the cell that holds ``moment`` (the picture
    of the past the camera screen shows); an arrow at the left edge before the bar."""
    if moment < start:
        return 0, "<" if ascii_only else "◀"
    total = (end - start).total_seconds()
    x = min(width - 1, int((moment - start).total_seconds() / total * width))
    return x, "^" if ascii_only else "▲"


def missing_text(rec: Recordings) -> str:
    hours = (rec.end - rec.start).total_seconds() / 3600
    return f"missing: {format_duration(rec.missing_seconds)} in {hours:.0f}h"


def timeline_text(
    rec: Recordings, width: int, mode: Mode = Mode.HALF_BLOCK, moment: datetime | None = None
) -> Text:
    """Bar, tick row and caption as three lines of rich text, ``width`` cells wide; with
    ``moment``, a marker under the cell the camera screen's picture of the past is from."""
    ascii_only = mode is Mode.ASCII
    text = Text(no_wrap=True, overflow="crop")
    cells = buckets(rec, width)
    for cell in cells:
        uni, asc, style = _GLYPHS[cell]
        text.append(asc if ascii_only else uni, style)
    text.append("\n")
    ticks = tick_labels(rec.start, rec.end, width)
    if moment is None or width < 1:
        text.append(ticks, "dim")
    else:
        x, glyph = moment_mark(rec.start, rec.end, moment, width, ascii_only)
        tail = "now"
        if x >= width - len(tail) and x >= len(tail):
            # The marker lands on "now": the label steps left of it, still whole.
            ticks = ticks[: x - len(tail)] + tail + " " * (width - x)
        text.append(ticks[:x], "dim")
        text.append(glyph, "bold")
        text.append(ticks[x + 1 :], "dim")
    text.append("\n")
    caption = missing_text(rec)
    legend = "  # recorded  . missing" if ascii_only else "  █ recorded  ▒ missing  · no data"
    if Cell.ARCHIVED in cells:
        legend += "  = archive only" if ascii_only else "  ▓ archive only"
    if rec.missing_seconds >= GAP_MIN_SECONDS:
        text.append_text(flagged(caption))
    else:
        text.append(caption)
    if len(caption) + len(legend) <= width:
        text.append(legend, "dim")
    return text


class Timeline(Static):
    """The last 24 h of one camera: fed by the camera screen's poll of its recordings."""

    DEFAULT_CSS = """
    Timeline { height: 3; width: 1fr; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, *, mode: Mode = Mode.HALF_BLOCK, id: str | None = None) -> None:
        super().__init__("timeline: loading…", id=id)
        self.mode = mode
        self.recordings: Recordings | None = None
        self.moment: datetime | None = None  # the camera screen's picture of the past
        self._shown: Text | None = None
        self.paints = 0  # for tests and benchmarks: how often the bar went to the terminal

    def show(self, rec: Recordings) -> None:
        self.recordings = rec
        self._paint()

    def show_moment(self, moment: datetime | None) -> None:
        """Mark ``moment`` under the bar (None: live, no marker)."""
        self.moment = moment
        self._paint()

    def show_error(self, message: str) -> None:
        if self.recordings is None:
            shown = escape_controls(f"timeline: {message}")
            self.update(Text(shown, "red", no_wrap=True, overflow="ellipsis"))

    def on_resize(self) -> None:
        self._paint()

    def _paint(self) -> None:
        if self.recordings is None:
            return
        width = self.content_size.width
        if width < 1:
            return
        text = timeline_text(self.recordings, width, self.mode, self.moment)
        # A cell spans 18 minutes at 80 columns: most polls change nothing, and a repaint
        # of the bar costs some 25 bytes a cell on the wire.
        if text == self._shown:
            return
        self._shown = text
        self.paints += 1
        self.update(text, layout=False)  # always three rows: no layout pass needed


def window(now: datetime | None = None) -> tuple[datetime, datetime]:
    """The 24 h the timeline covers, ending now (UTC)."""
    end = now or clock.now()
    return end - WINDOW, end
