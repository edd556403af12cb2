"""Inventory validation: every bad file names the key path and what is accepted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cctvctl.config import ConfigError, format_loc, hash_token, load_inventory, slugify

GOOD = """
[server]
secrets = "secrets.toml"

[[server.token]]
name = "noc"
role = "admin"
hash = "{hash}"

[[kecamatan]]
name = "Sangatta Utara"
quota_gb = 50

  [[kecamatan.site]]
  name = "Kantor Camat Sangatta Utara"
  kind = "kantor_kecamatan"
  lat = 0.5
  lon = 117.5

    [[kecamatan.site.camera]]
    id = "sgu-camat-01"
    name = "Halaman depan"
    rtsp = "rtsp://127.0.0.1:8554/sgu-camat-01"
    onvif = "http://127.0.0.1:8601/onvif/device_service"
    username = "admin"

    [[kecamatan.site.camera]]
    id = "sgu-camat-02"
    name = "Ruang pelayanan"
    rtsp = "rtsp://127.0.0.1:8554/sgu-camat-02"
    username = "admin"
    password_env = "CAM2_PASS"

[[kecamatan]]
name = "Bengalon"

  [[kecamatan.site]]
  name = "Puskesmas Bengalon"
  kind = "puskesmas"

    [[kecamatan.site.camera]]
    id = "bgl-pkm-01"
    name = "Pintu masuk"
    rtsp = "rtsp://127.0.0.1:8554/bgl-pkm-01"
    username = "admin"
"""

SECRETS = """
[passwords]
sgu-camat-01 = "s3cret-one"
bgl-pkm-01 = "s3cret-three"
"""

ENV = {"CAM2_PASS": "from-env"}


def write(tmp_path: Path, text: str, secrets: str = SECRETS) -> Path:
    (tmp_path / "secrets.toml").write_text(secrets)
    path = tmp_path / "site.toml"
    path.write_text(text.replace("{hash}", hash_token("t0ken")))
    return path


def errors_of(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_inventory(path, env=ENV if env is None else env)
    return info.value.lines()


def test_good_file_loads_with_passwords_from_env_and_secrets(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, GOOD), env=ENV)
    assert [e.camera.id for e in inv.cameras()] == ["sgu-camat-01", "sgu-camat-02", "bgl-pkm-01"]
    assert inv.password("sgu-camat-01") == "s3cret-one"
    assert inv.password("sgu-camat-02") == "from-env"
    assert inv.kecamatan[0].key == "sangatta-utara"
    assert inv.storage == tmp_path / "recordings"
    summary = inv.summary()
    assert summary["cameras_per_kind"]["kantor_kecamatan"] == 2
    assert summary["cameras_per_kind"]["puskesmas"] == 1
    assert summary["with_onvif"] == 1
    # Passwords must not leak through a repr of the inventory.
    assert "s3cret" not in repr(inv)


# (what is wrong, edit to the good file, key path that must be named, words that must appear)
BAD_CASES = [
    (
        "unknown key",
        (
            '    username = "admin"\n    password_env',
            '    usernme = "x"\n    username = "admin"\n    password_env',
        ),
        "kecamatan[0].site[0].camera[1].usernme",
        "accepted keys:",
    ),
    (
        "bad rtsp url",
        ('rtsp = "rtsp://127.0.0.1:8554/sgu-camat-02"', 'rtsp = "http://127.0.0.1/x"'),
        "kecamatan[0].site[0].camera[1].rtsp",
        "rtsp://host",
    ),
    (
        "credentials inside the url",
        ('rtsp = "rtsp://127.0.0.1:8554/bgl-pkm-01"', 'rtsp = "rtsp://u:p@127.0.0.1/bgl"'),
        "kecamatan[1].site[0].camera[0].rtsp",
        "password_env",
    ),
    (
        "bad onvif url",
        ('onvif = "http://127.0.0.1:8601/onvif/device_service"', 'onvif = "ftp://x"'),
        "kecamatan[0].site[0].camera[0].onvif",
        "http://host",
    ),
    (
        "bad site kind",
        ('kind = "puskesmas"', 'kind = "hospital"'),
        "kecamatan[1].site[0].kind",
        "kantor_kecamatan",
    ),
    (
        "duplicate camera id",
        ('id = "bgl-pkm-01"', 'id = "sgu-camat-01"'),
        "kecamatan[1].site[0].camera[0].id",
        "duplicate camera id",
    ),
    (
        "bad id form",
        ('id = "bgl-pkm-01"', 'id = "BGL PKM"'),
        "kecamatan[1].site[0].camera[0].id",
        "lower-case",
    ),
    (
        "missing required key",
        ('    name = "Pintu masuk"\n', ""),
        "kecamatan[1].site[0].camera[0].name",
        "required",
    ),
    (
        "latitude out of range",
        ("lat = 0.5", "lat = 95.0"),
        "kecamatan[0].site[0].lat",
        "90",
    ),
    (
        "bad role",
        ('role = "admin"', 'role = "root"'),
        "server.token[0].role",
        "viewer",
    ),
    (
        "bad token hash",
        ('hash = "{hash}"', 'hash = "plain-token"'),
        "server.token[0].hash",
        "cctvctl token create",
    ),
    (
        "wrong value type",
        ("quota_gb = 50", 'quota_gb = "lots"'),
        "kecamatan[0].quota_gb",
        "number",
    ),
    (
        "unknown top-level table",
        ("[server]", "[servre]\n[server]"),
        "servre",
        "accepted keys: server, sim, kecamatan",
    ),
]


@pytest.mark.parametrize(
    ("label", "edit", "key_path", "words"), BAD_CASES, ids=[c[0] for c in BAD_CASES]
)
def test_bad_file_names_key_path(
    tmp_path: Path, label: str, edit: tuple[str, str], key_path: str, words: str
) -> None:
    old, new = edit
    assert old in GOOD, f"test case {label!r} edits text that is not in GOOD"
    path = write(tmp_path, GOOD.replace(old, new, 1))
    lines = errors_of(path)
    matching = [line for line in lines if f": {key_path}:" in line]
    assert matching, f"no error names {key_path}: {lines}"
    assert all(line.startswith(str(path)) for line in lines)
    assert words in matching[0]


def test_missing_password_variable_is_named(tmp_path: Path) -> None:
    lines = errors_of(write(tmp_path, GOOD), env={})
    assert any(
        "kecamatan[0].site[0].camera[1].password_env:" in line and "'CAM2_PASS'" in line
        for line in lines
    ), lines


def test_camera_without_any_password_source(tmp_path: Path) -> None:
    lines = errors_of(write(tmp_path, GOOD, secrets="[passwords]\nsgu-camat-01 = 'x'\n"))
    assert any("kecamatan[1].site[0].camera[0]:" in line and "bgl-pkm-01" in line for line in lines)


def test_missing_secrets_file(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    (tmp_path / "secrets.toml").unlink()
    lines = errors_of(path)
    assert any("server.secrets:" in line and "does not exist" in line for line in lines)


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    text = GOOD.replace('kind = "puskesmas"', 'kind = "hospital"').replace(
        'rtsp = "rtsp://127.0.0.1:8554/sgu-camat-02"', 'rtsp = "nope"'
    )
    lines = errors_of(write(tmp_path, text))
    assert len(lines) >= 2


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('name = "Bengalon"', "name = Bengalon"))
    lines = errors_of(path)
    assert len(lines) == 1 and "not valid TOML" in lines[0] and "line" in lines[0]


def test_missing_file(tmp_path: Path) -> None:
    assert "does not exist" in errors_of(tmp_path / "nope.toml")[0]


def test_format_loc_and_slugify() -> None:
    assert format_loc(("kecamatan", 3, "site", 0, "camera", 2, "rtsp")) == (
        "kecamatan[3].site[0].camera[2].rtsp"
    )
    assert slugify("Sangatta Utara") == "sangatta-utara"
    assert slugify("Muara  Ancalong!") == "muara-ancalong"


def test_kutim_example_has_all_18_kecamatan() -> None:
    inv = load_inventory(Path(__file__).parent.parent / "examples" / "kutim.toml", env={})
    names = {k.name for k in inv.kecamatan}
    assert names == {
        "Batu Ampar", "Bengalon", "Busang", "Kaliorang", "Karangan", "Kaubun", "Kongbeng",
        "Long Mesangat", "Muara Ancalong", "Muara Bengkal", "Muara Wahau", "Rantau Pulung",
        "Sandaran", "Sangatta Selatan", "Sangatta Utara", "Sangkulirang", "Telen",
        "Teluk Pandan",
    }  # fmt: skip
    cams = list(inv.cameras())
    assert 36 <= len(cams) <= 60
    per_kec = {k.name: sum(len(s.camera) for s in k.site) for k in inv.kecamatan}
    densest = sorted(per_kec, key=per_kec.__getitem__, reverse=True)[:2]
    assert set(densest) == {"Sangatta Utara", "Sangatta Selatan"}
    for kec in inv.kecamatan:
        kinds = {s.kind.value for s in kec.site}
        assert "kantor_kecamatan" in kinds, kec.name
        assert kinds & {"kantor_desa", "puskesmas", "sekolah"}, kec.name
    assert all("127.0.0.1" in e.camera.rtsp for e in cams)


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "cctvctl", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
    )


def test_config_check_cli_summary_and_errors(tmp_path: Path) -> None:
    ok = cli("config", "check", str(write(tmp_path, GOOD)), "--json", env=ENV)
    assert ok.returncode == 0, ok.stderr
    assert '"cameras": 3' in ok.stdout
    bad = write(tmp_path, GOOD.replace('kind = "puskesmas"', 'kind = "hospital"'))
    res = cli("config", "check", str(bad), env=ENV)
    assert res.returncode == 2
    assert "kecamatan[1].site[0].kind" in res.stderr
    assert res.stdout == ""
