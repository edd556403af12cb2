"""Consoles for people and for scripts.

Human output goes through rich, which already honours ``NO_COLOR`` and drops styling when
stdout is not a terminal; ``--no-color`` forces the same. JSON goes to stdout unstyled.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from rich.console import Console


def console(no_color: bool = False, stderr: bool = False) -> Console:
    plain = no_color or "NO_COLOR" in os.environ
    return Console(stderr=stderr, no_color=plain, highlight=False, soft_wrap=False)


def error(message: str) -> None:
    """One line on stderr, the way every command reports what went wrong."""
    print(f"cctvctl: error: {message}", file=sys.stderr)


def print_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")
