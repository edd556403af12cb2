"""Consoles for people and for scripts.

Human output goes through rich, which drops styling when stdout is not a terminal;
``NO_COLOR`` (set and non-empty, per no-color.org) and ``--no-color`` do the same.
JSON goes to stdout unstyled. Text that came from a server or a camera reaches a
terminal only through :mod:`cctvctl.termsafe`: error lines here, JSON here (C1 escaped),
tables and prints by each command's human path (``for_terminal`` on the results).
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

from cctvctl.termsafe import escape_controls, json_c1_safe

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
    """One line on stderr, the way every command reports what went wrong.

    A message often quotes the server (a problem's detail, a camera's last error), so
    control characters are shown escaped, and a newline cannot make it two lines.
    """
    print(f"cctvctl: error: {escape_controls(message)}", file=sys.stderr)


def print_json(payload: Any) -> None:
    # ensure_ascii=False keeps Indonesian names readable, but leaves C1 codes raw.
    text = json.dumps(payload, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write(json_c1_safe(text) + "\n")
