"""Progress as text cells: a bar that reads the same in colour, without colour and in ASCII."""

from __future__ import annotations

from rich.text import Text

from cctvctl.render import Mode

__all__ = ["bar_text"]

_GLYPHS = {True: ("#", "."), False: ("█", "░")}


def bar_text(
    percent: float, width: int = 10, mode: Mode = Mode.HALF_BLOCK, style: str = ""
) -> Text:
    """``███████░░░  70%`` (or ``#######...  70%`` in ASCII mode); ``width`` is the bar only."""
    percent = min(100.0, max(0.0, percent))
    full, empty = _GLYPHS[mode is Mode.ASCII]
    filled = round(width * percent / 100)
    text = Text(no_wrap=True)
    text.append(full * filled, style)
    text.append(empty * (width - filled), "dim" if style else "")
    text.append(f"{percent:4.0f}%")
    return text
