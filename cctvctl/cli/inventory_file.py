"""The inventory a command was given (`server`, `sim`, `demo`, `config check`), or exit 2.

``cctvctl.config`` (pydantic) is imported only when a command reads an inventory, so
the client commands never load it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cctvctl.cli import exit_codes
from cctvctl.cli.output import error, print_json

if TYPE_CHECKING:
    from cctvctl.config import Inventory

__all__ = ["load_inventory_or_exit"]


def load_inventory_or_exit(
    path: Path, *, check_storage: bool = False, json_out: bool = False
) -> Inventory:
    """The inventory at ``path``; else every problem listed (one error line each) and exit 2.

    ``check_storage``: the storage folder must be writable too (for the server, and for
    `config check`, which says what the server would). ``json_out``: the problems as
    ``{"ok": false, "file": ..., "errors": [...]}`` on stdout instead.
    """
    from cctvctl.config import ConfigError, load_inventory, load_server_inventory

    try:
        inventory = (load_server_inventory if check_storage else load_inventory)(path)
    except ConfigError as exc:
        if json_out:
            print_json({"ok": False, "file": str(path), "errors": exc.lines()})
        else:
            for line in exc.lines():
                error(line)
        raise typer.Exit(exit_codes.USAGE) from None
    return inventory
