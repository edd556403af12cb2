"""The inventory's transport, audio, auth and simulator keys: defaults, precedence, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from cctvctl.cli.sim_cmd import sim_cameras, sim_settings
from cctvctl.config import ConfigError, Inventory, diff_inventories, load_inventory
from cctvctl.sim.model import media_of

HEAD = """
[server]
{server}

[sim]
{sim}

[[kecamatan]]
name = "Sangatta Utara"

  [[kecamatan.site]]
  name = "Kantor Camat"
  kind = "kantor_kecamatan"
  {site}

    [[kecamatan.site.camera]]
    id = "cam-a"
    name = "A"
    rtsp = "rtsp://127.0.0.1:8554/cam-a"
    username = "admin"
    password_env = "PW_A"
    {cam_a}

    [[kecamatan.site.camera]]
    id = "cam-b"
    name = "B"
    rtsp = "rtsp://127.0.0.1:8554/cam-b"
    {cam_b}
"""


def _load(tmp_path: Path, **parts: str) -> Inventory:
    text = HEAD.format(**{k: parts.get(k, "") for k in ("server", "sim", "site", "cam_a", "cam_b")})
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    return load_inventory(path, env={"PW_A": "secret-a"})


def test_defaults_are_tcp_drop_and_h264_without_sound(tmp_path: Path) -> None:
    inv = _load(tmp_path)
    entries = list(inv.cameras())
    assert [inv.transport(e) for e in entries] == ["tcp", "tcp"]
    assert [inv.audio(e) for e in entries] == ["drop", "drop"]
    settings = sim_settings(inv)
    for cam in sim_cameras(inv):
        media = media_of(cam, settings)
        assert (media.codec, media.audio, media.transport, media.auth) == (
            "h264",
            "none",
            "tcp",
            "digest",
        )


def test_camera_over_site_over_server(tmp_path: Path) -> None:
    inv = _load(
        tmp_path,
        server='transport = "auto"\naudio = "keep"',
        site='transport = "udp"',
        cam_a='transport = "tcp"\naudio = "drop"',
    )
    a, b = list(inv.cameras())
    assert (inv.transport(a), inv.audio(a)) == ("tcp", "drop")
    assert (inv.transport(b), inv.audio(b)) == ("udp", "keep")


def test_sim_defaults_and_a_camera_own_table(tmp_path: Path) -> None:
    inv = _load(
        tmp_path,
        sim='codec = "h265"\naudio = "pcma"',
        cam_b='sim = { codec = "h264", transport = "udp", auth = "basic" }',
    )
    settings = sim_settings(inv)
    a, b = (media_of(c, settings) for c in sim_cameras(inv))
    assert (a.codec, a.audio, a.transport, a.auth) == ("h265", "pcma", "tcp", "digest")
    assert (b.codec, b.audio, b.transport, b.auth) == ("h264", "pcma", "udp", "basic")


def test_sim_scenes_shared_reaches_the_simulator_and_a_bad_value_is_named(
    tmp_path: Path,
) -> None:
    assert sim_settings(_load(tmp_path)).scenes == "camera"
    assert sim_settings(_load(tmp_path, sim='scenes = "shared"')).scenes == "shared"
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, sim='scenes = "one"')
    assert "sim.scenes: \"one\" is not accepted; it should be 'camera' or 'shared'" in str(
        info.value
    )


def test_a_camera_without_username_needs_no_password(tmp_path: Path) -> None:
    inv = _load(tmp_path)
    assert inv.password("cam-b") == ""
    b = sim_cameras(inv)[1]
    assert b.username == ""


def test_a_camera_with_username_still_needs_a_password(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, cam_b='username = "viewer"')
    assert "no password for camera 'cam-b'" in str(info.value)


def test_bad_values_name_the_key_and_what_is_accepted(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _load(
            tmp_path,
            server='transport = "quic"',
            site='audio = "record"',
            cam_b='sim = { codec = "h266" }',
        )
    text = str(info.value)
    assert "server.transport: \"quic\" is not accepted; it should be 'tcp', 'udp' or 'auto'" in text
    assert (
        "kecamatan[0].site[0].audio: \"record\" is not accepted; it should be 'drop' or 'keep'"
        in text
    )
    assert "camera[1].sim.codec: \"h266\" is not accepted; it should be 'h264' or 'h265'" in text


def test_a_reload_reconnects_a_camera_whose_transport_or_audio_changed(tmp_path: Path) -> None:
    old = _load(tmp_path)
    new = _load(tmp_path, site='audio = "keep"', cam_b='transport = "udp"')
    diff = diff_inventories(old, new)
    assert diff.reconnect == ("cam-a", "cam-b")
    # A [server] default that moves a camera's choice reconnects it too.
    moved = _load(tmp_path, server='transport = "auto"')
    assert diff_inventories(old, moved).reconnect == ("cam-a", "cam-b")
