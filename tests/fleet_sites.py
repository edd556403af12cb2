"""Inventories for tests of a fleet of real nodes: the fleet's TOML and each node's file."""

from __future__ import annotations

from dataclasses import replace

from harness import Site

__all__ = ["fleet_toml", "node_site"]


def fleet_toml(site: Site, home: dict[str, str], failover: dict[str, list[str]]) -> str:
    """The site's inventory with every camera's home node and failover list."""
    text = site.config.read_text()
    for cam, node in home.items():
        names = ", ".join(f'"{n}"' for n in failover[cam])
        line = f'    id = "{cam}"\n'
        text = text.replace(line, f'{line}    node = "{node}"\n    failover = [{names}]\n')
    return text


def node_site(site: Site, node: str, dsn: str, lease_seconds: int) -> Site:
    """A node's own file: the site's [server], tokens and [sim], no cameras, and [fleet]."""
    folder = site.dir / node
    folder.mkdir()
    own = site.config.read_text().split("[[kecamatan]]")[0]
    own = own.replace("[server]\n", f'[server]\nnode = "{node}"\n', 1)
    own = own.replace('secrets = "secrets.toml"', 'secrets = "../secrets.toml"')
    own += f'[fleet]\ndsn = "{dsn}"\nlease_seconds = {lease_seconds}\n'
    config = folder / "node.toml"
    config.write_text(own)
    return replace(site, dir=folder, config=config, storage=folder / "recordings")
