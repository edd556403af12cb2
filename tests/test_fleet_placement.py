"""Which node records a camera (the placement rules, pure) and the inventory a fleet node
builds from a published version and its own file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fleet_sites import keyed_site
from harness import SiteSpec

from cctvctl.config import ConfigError, Inventory, fleet_inventory, load_inventory
from cctvctl.fleet.placement import (
    candidates,
    capacity,
    homes,
    live_nodes,
    owner,
    served_kecamatan,
)
from cctvctl.fleet.records import Node

SPEC = SiteSpec(cameras=4, kecamatan=("Sangatta Utara", "Bengalon"))
FLEET = '[fleet]\ndsn = "postgresql://cctv@127.0.0.1:5432/cctv"\n'
NOW = datetime(2026, 12, 5, 4, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def _placed(tmp_path: Path, keys: dict[int, str]) -> tuple[Inventory, str]:
    """The site's inventory with ``keys`` (TOML lines) added to camera n; and its text."""
    site, text = keyed_site(tmp_path / "site", SPEC, keys)
    return load_inventory(site.config), text


def _node_file(tmp_path: Path, text: str) -> Path:
    """A node's own file: the site's [server] (secrets included) and [fleet], no cameras."""
    own = text.split("[[kecamatan]]")[0].replace("[server]\n", '[server]\nnode = "sgu-1"\n', 1)
    path = tmp_path / "site" / "node.toml"
    path.write_text(own + FLEET)
    return path


def _node(name: str, age: float) -> Node:
    return Node(name, f"http://{name}:8470", "0.1.0", (), 4, NOW - timedelta(seconds=age))


def test_a_camera_belongs_to_its_first_live_candidate(tmp_path: Path) -> None:
    inventory, _ = _placed(
        tmp_path,
        {
            0: '    node = "sgu-1"\n    failover = ["sgs-1", "bgl-1"]\n',
            2: '    node = "bgl-1"\n',
        },
    )
    # Sangatta Utara's two cameras, then Bengalon's.
    first, second, third, fourth = list(inventory.cameras())
    home_of = homes(inventory)
    registered = ["bgl-1", "sgs-1", "sgu-1"]
    assert candidates(first, registered, home_of) == ["sgu-1", "sgs-1", "bgl-1"]
    everyone = {"sgu-1", "sgs-1", "bgl-1"}
    assert owner(first, everyone, registered, home_of) == "sgu-1"
    # The home dead: the first live failover node, never a later one.
    assert owner(first, {"sgs-1", "bgl-1"}, registered, home_of) == "sgs-1"
    assert owner(first, {"bgl-1"}, registered, home_of) == "bgl-1"
    assert owner(first, set(), registered, home_of) is None
    # A camera without failover waits for its home node.
    assert owner(third, {"sgu-1", "sgs-1"}, registered, home_of) is None
    # Homeless: the nodes home to its kecamatan first, then everyone, by name.
    assert candidates(second, registered, home_of) == ["sgu-1", "bgl-1", "sgs-1"]
    assert owner(second, {"sgs-1", "bgl-1"}, registered, home_of) == "bgl-1"
    assert candidates(fourth, registered, home_of) == ["bgl-1", "sgs-1", "sgu-1"]


def test_live_nodes_capacity_and_kecamatan_served(tmp_path: Path) -> None:
    inventory, _ = _placed(
        tmp_path,
        {0: '    node = "sgu-1"\n    failover = ["sgs-1"]\n', 2: '    node = "bgl-1"\n'},
    )
    nodes = [_node("sgu-1", 29.9), _node("sgs-1", 30.0), _node("bgl-1", 0)]
    assert live_nodes(nodes, NOW, LEASE) == {"sgu-1", "bgl-1"}
    assert served_kecamatan(inventory, "sgu-1") == ["sangatta-utara"]
    assert served_kecamatan(inventory, "sgs-1") == []
    # Its home camera plus the two homeless ones; sgs-1 a failover and those two.
    assert capacity(inventory, "sgu-1") == 3
    assert capacity(inventory, "sgs-1") == 3
    assert capacity(inventory, "bgl-1") == 3


def test_a_node_runs_the_fleets_cameras_with_its_own_server_table(tmp_path: Path) -> None:
    _, text = _placed(tmp_path, {0: '    node = "sgu-1"\n'})
    local = load_inventory(_node_file(tmp_path, text))  # no cameras: they come from the store
    assert list(local.cameras()) == []
    published = text.replace("segment_seconds = 3", "segment_seconds = 60")
    fleet = fleet_inventory(local, published, source="fleet inventory version 7")
    assert fleet.server == local.server  # the node's own table, not the published one
    assert fleet.fleet == local.fleet
    assert fleet.path == local.path
    cameras = [e.camera.id for e in fleet.cameras()]
    assert len(cameras) == 4
    assert fleet.password(cameras[0]).startswith(f"pw-{cameras[0]}-")  # the node's secrets
    only = fleet.only({cameras[1]})
    assert [e.camera.id for e in only.cameras()] == [cameras[1]]
    assert [k.key for k in only.kecamatan] == [k.key for k in fleet.kecamatan]


def test_a_version_the_node_cannot_use_is_refused_with_reasons(tmp_path: Path) -> None:
    _, text = _placed(tmp_path, {})
    local = load_inventory(_node_file(tmp_path, text))
    unknown = text.replace('id = "san-cam-01"', 'id = "san-cam-99"')
    with pytest.raises(ConfigError) as info:
        fleet_inventory(local, unknown, source="fleet inventory version 3")
    assert str(info.value.path) == "fleet inventory version 3"
    assert any("no password for camera 'san-cam-99'" in line for line in info.value.lines())
    with pytest.raises(ConfigError) as broken:
        fleet_inventory(local, "[[kecamatan]\n", source="fleet inventory version 4")
    assert any("not valid TOML" in line for line in broken.value.lines())


def test_only_a_fleet_node_may_list_no_kecamatan(tmp_path: Path) -> None:
    _, text = _placed(tmp_path, {})
    path = _node_file(tmp_path, text)
    assert load_inventory(path).kecamatan == []
    path.write_text(path.read_text().replace(FLEET, ""))
    with pytest.raises(ConfigError) as info:
        load_inventory(path)
    assert any("no kecamatan defined" in line for line in info.value.lines())
