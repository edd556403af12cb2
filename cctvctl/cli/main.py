"""The `cctvctl` command: every sub-command is registered here.

Sub-command modules import only light modules at the top; heavy ones (av, textual, fastapi,
zeep) are imported inside the command that needs them, so client commands start fast.
"""

from __future__ import annotations

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


def run() -> None:
    from cctvctl.cli.usage import run_app

    run_app(app)
