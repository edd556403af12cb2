"""Consoles for people and for scripts.

Human output goes through rich, which drops styling when stdout is not a terminal;
``NO_COLOR`` (set and non-empty, per no-color.org) and ``--no-color`` do the same.
JSON goes to stdout unstyled.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


def no_color_env() -> bool:
    """``NO_COLOR`` asks for no colour only when set and non-empty (no-color.org)."""
    return os.environ.get("NO_COLOR", "") != ""


def console(no_color: bool = False, stderr: bool = False) -> Console:
    from rich.console import Console  # not at the top: `--json` output needs no rich

    plain = no_color or no_color_env()
    return Console(stderr=stderr, no_color=plain, highlight=False, soft_wrap=False)


def error(message: str) -> None:
    """One line on stderr, the way every command reports what went wrong."""
    print(f"cctvctl: error: {message}", file=sys.stderr)


def print_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")
