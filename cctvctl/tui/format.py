"""Short cell texts for narrow terminals: every number fits in a few columns.

Bytes and bit rates are :mod:`cctvctl.units` (``compact=True``), shared with the CLI.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.text import Text

from cctvctl.models import Camera, CameraStatus, KecamatanSummary
from cctvctl.termsafe import escape_controls
from cctvctl.tui import clock

__all__ = [
    "BAD",
    "BADGES",
    "CONNECT_GRACE",
    "MARK",
    "WARN",
    "age_seconds",
    "age_text",
    "connecting",
    "flagged",
    "kecamatan_rank",
    "plain",
    "plain_cells",
    "rtt_text",
    "sparkline",
    "stale_cells",
]

_BARS = "▁▂▃▄▅▆▇█"
_ASCII_BARS = "_.-=+*#"

# A problem stands out three ways: a marker, bold, and a block of background. NO_COLOR
# turns colours into greys by their luminance (Textual's Monochrome filter): pure red is
# dark, so "bold red" on the dark panel came out dark grey on darker grey, fainter than a
# healthy cell, and a red block vanished into the table. These reds and yellows are light
# enough to stay a grey block (about 50 % and 85 % grey), and "!" survives any terminal.
MARK = "!"
BAD = "bold #000000 on #ff5f5f"
WARN = "bold #000000 on #ffd75f"

# Text and colour both, so NO_COLOR and colour-blind readers still see the state.
BADGES: dict[CameraStatus, tuple[str, str]] = {
    CameraStatus.ONLINE: ("OK", "black on green"),
    CameraStatus.DEGRADED: (f"{MARK}DEG", WARN),
    CameraStatus.OFFLINE: (f"{MARK}OFF", BAD),
    CameraStatus.DISABLED: ("DIS", "white on grey37"),
}

#: How long after the server first knew a camera it may still be opening its stream: the
#: recorder's default ``offline_after``, after which it calls the camera offline for real.
CONNECT_GRACE = 10.0


def flagged(text: str, style: str = BAD) -> Text:
    """A problem cell: the marker before the text, in a style that survives NO_COLOR."""
    return Text(f"{MARK}{text}", style)


def connecting(camera: Camera, now: datetime | None = None) -> bool:
    """An "offline" camera that has never sent a packet and was first seen moments ago:
    the recorder is still opening its stream (the first seconds after a start)."""
    return (
        camera.status is CameraStatus.OFFLINE
        and camera.last_packet is None
        and camera.status_since is not None
        and age_seconds(camera.status_since, now) < CONNECT_GRACE
    )


def stale_cells(cells: Sequence[Text]) -> tuple[Text, ...]:
    """Figures from a poll that is too old: dimmed, markers kept, so they read as history."""
    out = []
    for cell in cells:
        dimmed = cell.copy()
        dimmed.stylize("dim")
        out.append(dimmed)
    return tuple(out)


def plain(text: str, style: str = "") -> Text:
    """A label or cell from text that may come from a server or a camera: control
    characters shown escaped (:mod:`cctvctl.termsafe`), and never read as markup, so a
    ``[link=…]`` in a case id stays brackets (Textual reads a plain ``str`` as markup)."""
    return Text(escape_controls(text), style)


def plain_cells(cells: Sequence[Text | str]) -> tuple[Text, ...]:
    """DataTable cells as :func:`plain` text; cells already built as ``Text`` stay."""
    return tuple(plain(c) if isinstance(c, str) else c for c in cells)


def rtt_text(ms: float | None) -> str:
    return "-" if ms is None else f"{ms:.0f}ms"


def age_seconds(when: datetime, now: datetime | None = None) -> float:
    return max(0.0, ((now or clock.now()) - when).total_seconds())


def age_text(when: datetime | None, now: datetime | None = None) -> str:
    if when is None:
        return "never"
    seconds = age_seconds(when, now)
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    if seconds < 172_800:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds / 86400:.0f}d"


def kecamatan_rank(k: KecamatanSummary) -> tuple[float, ...]:
    """Sort key, worst first: offline, then degraded, then missing footage, then name."""
    # Whole minutes, as shown: fractions would reorder rows that all read "0m".
    return (-k.offline, -k.degraded, -round(k.missing_minutes_24h))


def sparkline(values: Sequence[float], width: int, *, ascii: bool = False) -> str:
    """The last ``width`` values as one-cell bars scaled to their own peak, left-padded."""
    bars = _ASCII_BARS if ascii else _BARS
    recent = list(values)[-width:] if width > 0 else []
    peak = max(recent, default=0.0)
    if peak <= 0:
        cells = [bars[0]] * len(recent)
    else:
        top = len(bars) - 1
        cells = [bars[min(top, max(0, round(v / peak * top)))] for v in recent]
    return " " * (width - len(cells)) + "".join(cells)
