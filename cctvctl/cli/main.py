"""The `cctvctl` command: every sub-command is registered here.

Sub-command modules import only light modules at the top; heavy ones (av, textual, fastapi,
zeep) are imported inside the command that needs them, so client commands start fast.
"""

from __future__ import annotations

import sys
from typing import Any, Final

import typer

from cctvctl import __version__
from cctvctl.cli import (
    audit_cmd,
    cameras_cmd,
    config_cmd,
    context_cmd,
    demo_cmd,
    exit_codes,
    export_cmd,
    gaps_cmd,
    health_cmd,
    reboot_cmd,
    server_cmd,
    sim_cmd,
    snapshot_cmd,
    status_cmd,
    tui_cmd,
)

app = typer.Typer(
    name="cctvctl",
    help=(
        "Operations console for the Kutai Timur CCTV network: recorder, simulator, "
        f"scripted commands and terminal UI.\n\n{exit_codes.HELP_TEXT}"
    ),
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
app.add_typer(config_cmd.app, name="config")
app.add_typer(context_cmd.app, name="context")
app.add_typer(sim_cmd.app, name="sim")
server_cmd.register(app)
status_cmd.register(app)
cameras_cmd.register(app)
health_cmd.register(app)
gaps_cmd.register(app)
snapshot_cmd.register(app)
export_cmd.register(app)
reboot_cmd.register(app)
audit_cmd.register(app)
tui_cmd.register(app)
demo_cmd.register(app)


def _version(value: bool) -> None:
    if value:
        print(f"cctvctl {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Operations console for the Kutai Timur CCTV network."""


# The click typer runs on (vendored since typer 0.2x, the package before): its module is
# the one that defines the BadParameter typer re-exports, so no private path is named.
_CLICK: Final[Any] = sys.modules[typer.BadParameter.__module__]


def run() -> None:
    """Run the command; a usage mistake is one ``cctvctl: error:`` line and exit 2.

    Click prints a usage block, a hint and ``Error: ...`` over four lines for a bad flag
    or choice, unlike every other refusal of cctvctl, so its errors are caught here.
    """
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
    except _CLICK.Abort:
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
