"""`cctvctl config ...`: check a site inventory before a recorder or simulator uses it."""

from __future__ import annotations

from pathlib import Path

import typer

from cctvctl.cli import exit_codes
from cctvctl.cli.output import Column, Priority, console, error, print_json, print_table

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
    from cctvctl.config import ConfigError, load_inventory

    try:
        inventory = load_inventory(file)
        problem = inventory.storage_problem()
        if problem is not None:
            raise ConfigError(file, [problem])
    except ConfigError as exc:
        if json_out:
            print_json({"ok": False, "file": str(file), "errors": exc.lines()})
        else:
            for line in exc.lines():
                error(line)
        raise typer.Exit(exit_codes.USAGE) from None
    summary = inventory.summary()
    if json_out:
        print_json({"ok": True, "file": str(file), **summary})
        return
    out = console(no_color)
    out.print(
        f"{file}: OK — {summary['kecamatan']} kecamatan, {summary['sites']} sites, "
        f"{summary['cameras']} cameras ({summary['enabled']} enabled, "
        f"{summary['with_onvif']} with ONVIF), {summary['tokens']} API tokens"
    )
    columns = [Column("site kind", Priority.IDENTITY), Column("cameras", justify="right")]
    rows = [[kind, str(count)] for kind, count in summary["cameras_per_kind"].items()]
    print_table(out, columns, rows)
