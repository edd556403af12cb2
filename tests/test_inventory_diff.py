"""``cctvctl.config.diff``: what a running server must do to move to another inventory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from harness import Site, SiteSpec, write_site

from cctvctl.config import (
    Inventory,
    InventoryDiff,
    diff_inventories,
    load_inventory,
    running_settings_kept,
)
from cctvctl.config.diff import APPLIED_SETTINGS, RESTART_SETTINGS

SPEC = SiteSpec(cameras=3, kecamatan=("Sangatta Utara", "Bengalon"))


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return write_site(tmp_path / "site", SPEC)


def _edited(
    site: Site, edit: Callable[[str], str], secrets: Callable[[str], str] = str
) -> tuple[Inventory, Inventory]:
    """The site's inventory before and after ``edit`` of its file (and ``secrets`` of its
    secrets file), both in place as an operator edits them before a reload."""
    old = load_inventory(site.config)
    (site.dir / "secrets.toml").write_text(secrets((site.dir / "secrets.toml").read_text()))
    site.config.write_text(edit(site.config.read_text()))
    return old, load_inventory(site.config)


def _diff(
    site: Site, edit: Callable[[str], str], secrets: Callable[[str], str] = str
) -> InventoryDiff:
    return diff_inventories(*_edited(site, edit, secrets))


def _camera_table(site: Site, camera: str) -> str:
    return next(b for b in site.config.read_text().split("\n\n") if f'id = "{camera}"' in b)


def test_the_same_file_is_no_change(site: Site) -> None:
    diff = _diff(site, lambda text: text)
    assert diff.empty and diff.lines() == ["no change"]


def test_added_and_removed_cameras_are_named_in_inventory_order(site: Site) -> None:
    second = site.camera_ids[1]
    table = _camera_table(site, second)
    renamed = table.replace(f'"{second}"', '"new-cam"').replace(f"/{second}", "/new-cam")

    diff = _diff(
        site,
        lambda text: text.replace(table, renamed),
        lambda secrets: secrets + 'new-cam = "pw-new"\n',
    )
    assert (diff.added, diff.removed, diff.reconnect) == (("new-cam",), (second,), ())
    assert diff.lines()[:2] == [
        "cameras added: new-cam",
        f"cameras removed (footage kept): {second}",
    ]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('username = "admin"', 'username = "operator"'),
        ("rtsp://127.0.0.1:", "rtsp://localhost:"),
        ('username = "admin"', 'username = "admin"\n    enabled = false'),
    ],
)
def test_what_the_ingest_reads_reconnects(site: Site, old: str, new: str) -> None:
    camera = site.camera_ids[0]
    table = _camera_table(site, camera)
    diff = _diff(site, lambda text: text.replace(table, table.replace(old, new, 1)))
    assert (diff.reconnect, diff.relabelled, diff.added, diff.removed) == ((camera,), (), (), ())


def test_a_new_password_in_the_secrets_file_reconnects(site: Site) -> None:
    camera = site.camera_ids[2]
    diff = _diff(site, lambda t: t, lambda s: s.replace(site.passwords[camera], "pw-rotated"))
    assert diff.reconnect == (camera,)


def test_a_camera_moved_to_another_kecamatan_reconnects_since_its_folder_changes(
    site: Site,
) -> None:
    camera = site.camera_ids[0]  # in Sangatta Utara, the first kecamatan
    table = _camera_table(site, camera)

    def move(text: str) -> str:
        text = text.replace(table + "\n\n", "")
        return text.rstrip("\n") + "\n\n" + table + "\n"  # the last kecamatan's site

    diff = _diff(site, move)
    assert diff.reconnect == (camera,) and diff.relabelled == ()


def test_name_and_fps_update_in_place(site: Site) -> None:
    camera = site.camera_ids[1]
    table = _camera_table(site, camera)
    edited = table.replace('name = "Kamera', 'name = "Gerbang') + "\n    fps = 12"
    diff = _diff(site, lambda text: text.replace(table, edited))
    assert (diff.relabelled, diff.reconnect) == ((camera,), ())
    assert diff.lines() == [f"cameras updated in place: {camera}"]


def test_tokens_are_compared_by_name_role_and_hash(site: Site) -> None:
    def edit(text: str) -> str:
        text = text.replace('name = "test-viewer"', 'name = "noc-viewer"')
        return text.replace(
            'name = "test-operator"\nrole = "operator"', 'name = "test-operator"\nrole = "admin"'
        )

    diff = _diff(site, edit)
    assert set(diff.tokens_added) == {"noc-viewer", "test-operator"}
    assert set(diff.tokens_removed) == {"test-viewer", "test-operator"}
    assert diff.added == diff.removed == diff.reconnect == ()


def test_server_settings_split_into_applied_and_needing_a_restart(site: Site) -> None:
    def edit(text: str) -> str:
        text = text.replace("offline_after = 3.0", "offline_after = 5.0")
        text = text.replace("segment_seconds = 3", "segment_seconds = 4")
        return text.replace(
            'storage = "recordings"',
            'storage = "elsewhere"\nreboot_wait = 90\ningest_processes = 3',
        )

    old, new = _edited(site, edit)
    diff = diff_inventories(old, new)
    assert diff.settings_applied == ("offline_after", "reboot_wait")
    # The running ingest workers were started for the old count.
    assert diff.needs_restart == ("storage", "segment_seconds", "ingest_processes")

    running = running_settings_kept(old, new)
    assert running.server.segment_seconds == 3 and running.storage == old.storage
    assert running.server.ingest_processes == "auto"
    assert running.server.offline_after == 5.0 and running.server.reboot_wait == 90
    assert diff_inventories(old, running).needs_restart == ()


def test_every_server_key_is_either_applied_or_needs_a_restart() -> None:
    from cctvctl.config import ServerConfig

    assert set(APPLIED_SETTINGS) | set(RESTART_SETTINGS) | {"token"} == set(
        ServerConfig.model_fields
    )
    assert not set(APPLIED_SETTINGS) & set(RESTART_SETTINGS)
