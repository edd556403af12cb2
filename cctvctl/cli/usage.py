"""How `cctvctl` runs its commands: a usage mistake reads like every other refusal.

Click prints a usage block, a hint and ``Error: ...`` over four lines for a bad flag,
choice or missing argument; cctvctl says what was wrong and what is accepted in one
``cctvctl: error:`` line and exits 2 (``cli/exit_codes.py``).
"""

from __future__ import annotations

import sys
from typing import Any, Final

import typer

from cctvctl.cli import exit_codes

__all__ = ["run_app"]

# The click typer runs on (vendored since typer 0.2x, the package before): its module is
# the one that defines the BadParameter typer re-exports, so no private path is named.
_CLICK: Final[Any] = sys.modules[typer.BadParameter.__module__]


def run_app(app: typer.Typer) -> None:
    """Run ``app`` outside click's standalone mode, so its errors are ours to print."""
    try:
        code = app(standalone_mode=False)
    except getattr(_CLICK, "NoArgsIsHelpError", ()) as exc:
        exc.show()  # a bare `cctvctl` or `cctvctl sim`: the help is the answer
        sys.exit(exc.exit_code)
    except _CLICK.UsageError as exc:
        sys.exit(_usage_error(exc))
    except _CLICK.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("Aborted!", file=sys.stderr)
        sys.exit(exit_codes.FAILURE)
    sys.exit(code if isinstance(code, int) else exit_codes.OK)


def _usage_error(exc: Any) -> int:
    from cctvctl.cli.output import error

    # Click words a failed conversion "Value error, 'x' is not one of ..."; the rest of
    # cctvctl says what was wrong and what is accepted.
    message = exc.format_message().replace("Value error, ", "").rstrip(".")
    command = exc.ctx.command_path if exc.ctx is not None else "cctvctl"
    error(f"{message}; see `{command} -h`")
    return int(exc.exit_code)
