"""A fleet of real nodes for tests: the fleet's TOML, each node's file, and a running fleet
(the simulator, a real PostgreSQL store and one `cctvctl server` process per node)."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from harness import (
    RunningSim,
    ServerProcess,
    Site,
    SiteSpec,
    segment_spans,
    start_sim,
    wait_for,
    write_site,
)

from cctvctl.fleet.store import FleetStore

__all__ = ["Fleet", "fleet_toml", "keyed_site", "node_site", "running_fleet"]


def fleet_toml(site: Site, home: dict[str, str], failover: dict[str, list[str]]) -> str:
    """The site's inventory with every camera's home node and failover list."""
    text = site.config.read_text()
    for cam, node in home.items():
        names = ", ".join(f'"{n}"' for n in failover[cam])
        line = f'    id = "{cam}"\n'
        text = text.replace(line, f'{line}    node = "{node}"\n    failover = [{names}]\n')
    return text


def keyed_site(root: Path, spec: SiteSpec, keys: dict[int, str]) -> tuple[Site, str]:
    """A site written at ``root`` whose camera n has the TOML lines ``keys[n]`` added (a
    home node, a failover list); the file is rewritten, and its text returned."""
    site = write_site(root, spec)
    text = site.config.read_text()
    for n, lines in keys.items():
        cam = site.camera_ids[n]
        text = text.replace(f'id = "{cam}"\n', f'id = "{cam}"\n{lines}', 1)
    site.config.write_text(text)
    return site, text


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


@dataclass
class Fleet:
    site: Site
    sim: RunningSim
    store: FleetStore
    nodes: dict[str, ServerProcess]
    home: dict[str, str]  # camera -> its home node
    failover: dict[str, list[str]]

    def homed(self, node: str) -> list[str]:
        return sorted(c for c, n in self.home.items() if n == node)

    def spans(self, node: str, camera: str) -> list[tuple[float, float]]:
        return segment_spans(self.nodes[node].site.storage, camera)

    def indexed(self, node: str) -> set[str]:
        return {c for c in self.home if self.spans(node, c)}

    def listed(self, node: str) -> set[str]:
        return {c["id"] for c in self.nodes[node].get("/api/v1/cameras").json()}

    def all_spans(self, camera: str) -> list[tuple[float, float]]:
        return sorted(s for node in self.nodes for s in self.spans(node, camera))

    def holders(self) -> dict[str, str]:
        """camera -> the node whose lease on it the store has (expired or not)."""
        return {lease.camera: lease.node for lease in self.store.leases()}


@contextmanager
def running_fleet(
    root: Path, sim_cache: Path, dsn: str, spec: SiteSpec, names: Sequence[str], lease: int
) -> Iterator[Fleet]:
    """The simulator and one node per name on the store at ``dsn``, kecamatan i homed on
    node i and failing over to the next nodes in turn; yielded once each node records
    (and has indexed) its home cameras. Every node still running is stopped after."""
    site = write_site(root, spec)
    sim = start_sim(site, sim_cache)
    store = FleetStore(dsn)
    nodes = {n: ServerProcess(node_site(site, n, dsn, lease)) for n in names}
    slugs = list(site.kecamatan)
    home: dict[str, str] = {}
    failover: dict[str, list[str]] = {}
    for cam in site.camera_ids:
        i = slugs.index(site.camera_kecamatan[cam])
        home[cam] = names[i]
        failover[cam] = [names[(i + k) % len(names)] for k in range(1, len(names))]
    try:
        for server in nodes.values():
            server.start()
        # Published once every node is up, so no node takes another's cameras for a
        # node that has not started yet.
        text = fleet_toml(site, home, failover)
        store.publish_inventory(text, tomllib.loads(text), author="test")
        fleet = Fleet(site, sim, store, nodes, home, failover)
        # Settled: each node recording its home cameras, whichever test runs first.
        for node in names:
            wait_for(
                lambda node=node: fleet.indexed(node) == set(fleet.homed(node)),
                30,
                what=f"{node} recording {fleet.homed(node)}",
            )
        yield fleet
    finally:
        for server in nodes.values():
            if server.running:
                server.stop()
        store.close()
        sim.stop()
