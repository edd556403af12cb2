"""Caller input on its way back out: into an error detail, a log line or the audit log.

A detail that quotes what the caller sent helps them find their mistake, but quoted whole
it can be 100 KB, and quoted raw it can carry escape sequences to whoever reads it later
(an admin running ``cctvctl audit`` in a terminal). These helpers quote a bounded,
escaped form instead; text stored for later readers goes through
:func:`cctvctl.termsafe.escape_controls`, the front ends' own escaping.
"""

from __future__ import annotations

from typing import Final

__all__ = ["ECHO_LIMIT", "clip", "quoted"]

#: The most characters of one caller-sent value quoted back in a message.
ECHO_LIMIT: Final = 80
_ELLIPSIS: Final = "…"


def clip(text: str, limit: int = ECHO_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, the last one an ellipsis when it was cut."""
    return text if len(text) <= limit else text[: limit - 1] + _ELLIPSIS


def quoted(value: object, limit: int = ECHO_LIMIT) -> str:
    """``value`` for a message: clipped to ``limit`` characters, quoted and escaped."""
    return repr(clip(str(value), limit))
