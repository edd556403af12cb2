"""`cctvctl config ...`: check a site inventory before a recorder or simulator uses it."""

from __future__ import annotations

from pathlib import Path

import typer

from cctvctl.cli.inventory_file import load_inventory_or_exit
from cctvctl.cli.output import console, print_json
from cctvctl.units import counted

app = typer.Typer(help="Validate site inventory files.", no_args_is_help=True)


@app.command("check")
def check(
    file: Path = typer.Argument(..., help="Inventory TOML file, e.g. examples/kutim.toml."),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    no_color: bool = typer.Option(False, "--no-color", help="Plain text, no colour."),
) -> None:
    """Validate an inventory and summarise it, or list every problem (exit 2).

    Example: cctvctl config check examples/kutim.toml
    """
    from rich.table import Table

    # The check the server makes at start-up: an unwritable storage folder is a problem too.
    inventory = load_inventory_or_exit(file, check_storage=True, json_out=json_out)
    summary = inventory.summary()
    if json_out:
        print_json({"ok": True, "file": str(file), **summary})
        return
    out = console(no_color)
    out.print(
        f"{file}: OK — {summary['kecamatan']} kecamatan, {counted(summary['sites'], 'site')}, "
        f"{counted(summary['cameras'], 'camera')} ({summary['enabled']} enabled, "
        f"{summary['with_onvif']} with ONVIF), {counted(summary['tokens'], 'API token')}"
    )
    table = Table("site kind", "cameras", box=None, pad_edge=False)
    for kind, count in summary["cameras_per_kind"].items():
        table.add_row(kind, str(count))
    out.print(table)
