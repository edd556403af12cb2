"""The `cctvctl` command: every sub-command is registered here, and loaded when it runs.

A command module is imported only when its command is looked up: `cctvctl status` loads
``status_cmd`` (and what it imports), not the other dozen command modules, which keeps a
client command's start-up short. `cctvctl --help` looks every command up, so it lists them
all with their own help lines. Heavy imports (av, textual, fastapi, zeep) happen inside the
command that needs them.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any, Final

import typer
import typer.main
from typer.core import TyperGroup

from cctvctl import __version__
from cctvctl.cli import exit_codes

__all__ = ["COMMANDS", "app", "run"]

#: Every command, in the order `cctvctl --help` lists it, and the module of
#: ``cctvctl.cli`` that declares it. A module with ``register(app)`` adds its commands
#: to the app (``server_cmd`` adds ``server`` and ``token``); one with a typer group of
#: its own (``app``) gives that, named by the command; any other has the command's
#: function under the command's name (``status_cmd.status``).
COMMANDS: Final = {
    "server": "server_cmd",
    "status": "status_cmd",
    "cameras": "cameras_cmd",
    "health": "health_cmd",
    "gaps": "gaps_cmd",
    "snapshot": "snapshot_cmd",
    "export": "export_cmd",
    "reboot": "reboot_cmd",
    "time": "time_cmd",
    "audit": "audit_cmd",
    "fleet": "fleet_cmd",
    "tui": "tui_cmd",
    "demo": "demo_cmd",
    "config": "config_cmd",
    "context": "context_cmd",
    "sim": "sim_cmd",
    "token": "server_cmd",
    "exports": "export_cmd",
}

# The settings of the app, for the commands' own click objects too.
_SETTINGS: Final[dict[str, Any]] = {
    "add_completion": False,
    "rich_markup_mode": None,
    "pretty_exceptions_enable": False,
}


def _declare(module_name: str) -> dict[str, Any]:
    """The click commands one command module declares, by name."""
    # The import statement's own path (importlib.import_module bypasses it), so that
    # `python -X importtime` lists the command module like any other import.
    module = __import__(f"cctvctl.cli.{module_name}", fromlist=["register"])
    holder = typer.Typer(**_SETTINGS)
    register = getattr(module, "register", None)
    if register is not None:
        register(holder)
    else:
        [name] = [n for n, m in COMMANDS.items() if m == module_name]
        group = getattr(module, "app", None)
        if group is not None:
            holder.add_typer(group, name=name)
        else:
            holder.command(name)(getattr(module, name))
    return dict(typer.main.get_group(holder).commands)


class _Commands(MutableMapping[str, Any]):
    """The group's command table: names known at once, commands built on first lookup."""

    def __init__(self) -> None:
        self._loaded: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._loaded:
            if name not in COMMANDS:
                raise KeyError(name)
            self._loaded.update(_declare(COMMANDS[name]))
        return self._loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        raise TypeError(f"the command {name!r} cannot be removed")

    def __iter__(self) -> Iterator[str]:
        return iter(COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS)

    def __contains__(self, name: object) -> bool:
        return name in COMMANDS


class _LazyGroup(TyperGroup):
    """The top-level group over :class:`_Commands` (its suggestions for a mistyped
    command read the names only)."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _Commands()


app = typer.Typer(
    name="cctvctl",
    cls=_LazyGroup,
    help=(
        "Operations console for the Kutai Timur CCTV network: recorder, simulator, "
        f"scripted commands and terminal UI.\n\n{exit_codes.HELP_TEXT}"
    ),
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    **_SETTINGS,
)


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
