"""Job ids a person tells apart by their first 8 characters.

The console, the CLI's messages and the event list name a job by ``id[:8]``. Reboot ids
used to begin with the time (``rb-6b12d…``), so every job of the hour looked the same. A
new id is random from its first character after the kind's prefix, and one whose first
8 characters an existing job already has is drawn again. Old ids stay as they were and are
looked up whole, as before.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Final

__all__ = ["SHORT", "new_job_id"]

SHORT: Final = 8  # characters a view shows of a job id
_TRIES: Final = 64


def new_job_id(prefix: str, hex_digits: int, taken: Callable[[str], bool]) -> str:
    """``prefix`` and ``hex_digits`` random hex digits, whose first :data:`SHORT`
    characters ``taken`` (asked with those characters) says no job has yet."""
    if len(prefix) >= SHORT:
        raise ValueError(f"prefix {prefix!r} leaves no random character in the first {SHORT}")
    for _ in range(_TRIES):
        candidate = prefix + secrets.token_hex((hex_digits + 1) // 2)[:hex_digits]
        if not taken(candidate[:SHORT]):
            return candidate
    # 64 draws that all collide means the id space is full, not bad luck.
    raise RuntimeError(f"no free {SHORT}-character job id prefix after {_TRIES} draws")
