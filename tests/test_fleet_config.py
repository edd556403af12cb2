"""The ``[fleet]`` table, a node's name and a camera's home and failover nodes, as the
operator writes them: ``config check`` and ``cctvctl server`` say what is wrong."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cli_process import clean_env, run_cctvctl
from fleet_sites import keyed_site
from harness import SiteSpec

from cctvctl.config import ConfigError, diff_inventories, load_inventory, running_settings_kept

SPEC = SiteSpec(cameras=2, kecamatan=("Sangatta Utara",))
FLEET = '\n[fleet]\ndsn = "postgresql://cctv@127.0.0.1:5432/cctv"\n'


def _site_text(tmp_path: Path, extra: str = "", camera_keys: str = "") -> Path:
    site, text = keyed_site(tmp_path / "site", SPEC, {0: camera_keys})
    site.config.write_text(text + extra)
    return site.config


def _errors(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_inventory(path)
    return info.value.lines()


def _server(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cctvctl("server", *args, env=clean_env(), timeout=30)


def test_fleet_table_and_camera_nodes_load(tmp_path: Path) -> None:
    path = _site_text(
        tmp_path,
        FLEET + "lease_seconds = 12\n",
        camera_keys='    node = "sgu-1"\n    failover = ["sgs-1", "bgl-1"]\n',
    )
    inventory = load_inventory(path)
    assert inventory.fleet is not None and inventory.fleet.lease_seconds == 12
    first = next(inventory.cameras()).camera
    assert (first.node, first.failover) == ("sgu-1", ["sgs-1", "bgl-1"])
    assert inventory.with_node("sgu-1").server.node == "sgu-1"
    assert inventory.server.node is None  # with_node copies, it does not edit


@pytest.mark.parametrize(
    ("extra", "camera_keys", "expected"),
    [
        ('\n[fleet]\ndsn = "mysql://db/cctv"\n', "", "fleet dsn must be a PostgreSQL URL"),
        (FLEET + "lease_seconds = 1\n", "", "fleet.lease_seconds"),
        ("", '    node = "sgu-1"\n    failover = ["sgu-1"]\n', "the camera's own node 'sgu-1'"),
        ("", '    failover = ["sgs-1", "sgs-1"]\n', "names a node twice"),
        ("", '    node = "SGU 1"\n', "node"),
    ],
)
def test_bad_fleet_keys_are_named(
    tmp_path: Path, extra: str, camera_keys: str, expected: str
) -> None:
    lines = _errors(_site_text(tmp_path, extra, camera_keys))
    assert any(expected in line for line in lines), lines


def test_a_node_or_failover_change_reconnects_nothing(tmp_path: Path) -> None:
    path = _site_text(tmp_path, FLEET)
    old = load_inventory(path)
    first = next(old.cameras()).camera.id
    path.write_text(
        path.read_text().replace(f'id = "{first}"\n', f'id = "{first}"\n    node = "sgu-2"\n')
    )
    new = load_inventory(path).with_node("sgu-1")
    diff = diff_inventories(old.with_node("sgu-2"), new)
    assert diff.relabelled == (first,) and diff.reconnect == ()
    assert diff.needs_restart == ("node",)


def test_server_refuses_a_fleet_without_a_node_name(tmp_path: Path) -> None:
    path = _site_text(tmp_path, FLEET)
    res = _server("--config", str(path))
    assert res.returncode == 2
    assert "[fleet] table: name this node with --node NAME" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_server_refuses_node_without_fleet_and_a_bad_name(tmp_path: Path) -> None:
    path = _site_text(tmp_path)
    res = _server("--config", str(path), "--node", "sgu-1")
    assert res.returncode == 2 and "has no [fleet] table" in res.stderr
    bad = _server("--config", str(_site_text(tmp_path / "b", FLEET)), "--node", "Sgu 1")
    assert bad.returncode == 2 and "--node 'Sgu 1'" in bad.stderr
    assert "lower-case letters" in bad.stderr


def test_a_changed_fleet_table_waits_for_a_restart(tmp_path: Path) -> None:
    path = _site_text(tmp_path, FLEET)
    old = load_inventory(path)
    path.write_text(path.read_text().replace("127.0.0.1:5432", "10.0.0.5:5432"))
    new = load_inventory(path)
    assert diff_inventories(old, new).needs_restart == ("fleet",)
    kept = running_settings_kept(old, new)
    assert kept.fleet == old.fleet and kept.fleet != new.fleet
