"""Short cell texts for narrow terminals: every number fits in a few columns.

Bytes and bit rates are :mod:`cctvctl.units` (``compact=True``), shared with the CLI.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.text import Text

from cctvctl.models import CameraStatus, KecamatanSummary
from cctvctl.termsafe import escape_controls
from cctvctl.tui import clock

__all__ = [
    "BADGES",
    "age_seconds",
    "age_text",
    "kecamatan_rank",
    "plain",
    "plain_cells",
    "rtt_text",
    "sparkline",
]

_BARS = "▁▂▃▄▅▆▇█"
_ASCII_BARS = "_.-=+*#"

# Text and colour both, so NO_COLOR and colour-blind readers still see the state.
BADGES: dict[CameraStatus, tuple[str, str]] = {
    CameraStatus.ONLINE: ("OK", "black on green"),
    CameraStatus.DEGRADED: ("DEG", "black on yellow"),
    CameraStatus.OFFLINE: ("OFF", "white on red"),
    CameraStatus.DISABLED: ("DIS", "white on grey37"),
}


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
