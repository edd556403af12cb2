"""Inventory validation: every bad file names the key path and what is accepted."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cli_process import clean_env, run_cctvctl
from harness import camera_toml

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

"""
GOOD += camera_toml(
    "sgu-camat-01",
    "Halaman depan",
    "rtsp://127.0.0.1:8554/sgu-camat-01",
    onvif="http://127.0.0.1:8601/onvif/device_service",
)
GOOD += "\n" + camera_toml(
    "sgu-camat-02",
    "Ruang pelayanan",
    "rtsp://127.0.0.1:8554/sgu-camat-02",
    password_env="CAM2_PASS",
)
GOOD += """
[[kecamatan]]
name = "Bengalon"

  [[kecamatan.site]]
  name = "Puskesmas Bengalon"
  kind = "puskesmas"

"""
GOOD += camera_toml("bgl-pkm-01", "Pintu masuk", "rtsp://127.0.0.1:8554/bgl-pkm-01")

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
        "header time-out of zero",
        ('secrets = "secrets.toml"', 'secrets = "secrets.toml"\nheader_timeout = 0'),
        "server.header_timeout",
        "greater than 0",
    ),
    (
        "too few connections",
        ('secrets = "secrets.toml"', 'secrets = "secrets.toml"\nmax_connections = 3'),
        "server.max_connections",
        "greater than or equal to 10",
    ),
    (
        "unknown top-level table",
        ("[server]", "[servre]\n[server]"),
        "servre",
        "accepted keys: server, sim, fleet, archive, kecamatan",
    ),
]


def edit_cases(cases: list[tuple[str, tuple[str, str], str, str]]) -> pytest.MarkDecorator:
    """Parametrizes a test over (label, edit to GOOD, key path, words), named by label."""
    return pytest.mark.parametrize(
        ("label", "edit", "key_path", "words"), cases, ids=[c[0] for c in cases]
    )


def errors_naming(
    tmp_path: Path, label: str, edit: tuple[str, str], key_path: str
) -> tuple[Path, list[str], str]:
    """GOOD with one edit: its file, its error lines and the first that names ``key_path``."""
    old, new = edit
    assert old in GOOD, f"test case {label!r} edits text that is not in GOOD"
    path = write(tmp_path, GOOD.replace(old, new, 1))
    lines = errors_of(path)
    matching = [line for line in lines if f": {key_path}:" in line]
    assert matching, f"no error names {key_path}: {lines}"
    return path, lines, matching[0]


@edit_cases(BAD_CASES)
def test_bad_file_names_key_path(
    tmp_path: Path, label: str, edit: tuple[str, str], key_path: str, words: str
) -> None:
    path, lines, first = errors_naming(tmp_path, label, edit, key_path)
    assert all(line.startswith(str(path)) for line in lines)
    assert words in first


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
    return run_cctvctl(*args, env=clean_env() | (env or {}))


def test_config_check_cli_summary_and_errors(tmp_path: Path) -> None:
    ok = cli("config", "check", str(write(tmp_path, GOOD)), "--json", env=ENV)
    assert ok.returncode == 0, ok.stderr
    assert '"cameras": 3' in ok.stdout
    words = " ".join(cli("config", "check", str(write(tmp_path, GOOD)), env=ENV).stdout.split())
    assert "3 cameras (" in words and "with ONVIF), 1 API token site kind" in words
    bad = write(tmp_path, GOOD.replace('kind = "puskesmas"', 'kind = "hospital"'))
    res = cli("config", "check", str(bad), env=ENV)
    assert res.returncode == 2
    assert "kecamatan[1].site[0].kind" in res.stderr
    assert res.stdout == ""


# Damaged inventories a person could write: (label, edit to GOOD, key path, words of the message).
# Each was accepted, or answered with a traceback or a Python repr, before strict parsing.
LOOSE_CASES = [
    (
        "empty storage path",
        ("[server]\n", '[server]\nstorage = ""\n'),
        "server.storage",
        'accepted: a folder path, e.g. "recordings" or "/srv/cctv"',
    ),
    (
        "string for a boolean",
        (
            '    username = "admin"\n    password_env',
            '    enabled = "yes"\n    username = "admin"\n    password_env',
        ),
        "kecamatan[0].site[0].camera[1].enabled",
        '"yes" is not accepted; accepted: true or false',
    ),
    (
        "boolean for a number",
        ("quota_gb = 50", "quota_gb = true"),
        "kecamatan[0].quota_gb",
        "true is not accepted; accepted: a number",
    ),
    (
        "boolean for a whole number",
        ("[server]\n", "[server]\nsegment_seconds = true\n"),
        "server.segment_seconds",
        "true is not accepted; accepted: a whole number",
    ),
    (
        "nul in a string",
        ('username = "admin"\n    password_env', 'username = "\\u0000"\n    password_env'),
        "kecamatan[0].site[0].camera[1].username",
        '"\\u0000" contains a control character (U+0000); '
        "accepted: text without control characters",
    ),
    (
        "escape sequence in a name",
        ('name = "Pintu masuk"', 'name = "Pintu \\u001b[2J"'),
        "kecamatan[1].site[0].camera[0].name",
        "control character (U+001B)",
    ),
    (
        "control character in an unknown key",
        ("[server]\n", '[server]\n"bad\\u0007key" = 1\n'),
        'server."bad\\u0007key"',
        "control character (U+0007)",
    ),
    (
        "nan latitude",
        ("lat = 0.5", "lat = nan"),
        "kecamatan[0].site[0].lat",
        "nan is not accepted; accepted: a finite number",
    ),
    (
        "infinite quota",
        ("quota_gb = 50", "quota_gb = inf"),
        "kecamatan[0].quota_gb",
        "inf is not accepted; accepted: a finite number",
    ),
    (
        "date-time for a string",
        ('name = "Pintu masuk"', "name = 2024-01-01T00:00:00Z"),
        "kecamatan[1].site[0].camera[0].name",
        "2024-01-01T00:00:00+00:00 (a date-time) is not accepted; accepted: text in quotes",
    ),
    (
        "date for a path",
        ('secrets = "secrets.toml"', "secrets = 2024-01-01"),
        "server.secrets",
        "2024-01-01 (a date) is not accepted",
    ),
    (
        "empty secrets path",
        ('secrets = "secrets.toml"', 'secrets = ""'),
        "server.secrets",
        "an empty path is not accepted; accepted: a file path",
    ),
    (
        "table for a string",
        ('name = "Pintu masuk"', "name = { a = 1 }"),
        "kecamatan[1].site[0].camera[0].name",
        "a table is not accepted; accepted: text in quotes",
    ),
    (
        "integer file mode",
        ("[server]\n", "[server]\nfile_mode = 0o640\n"),
        "server.file_mode",
        "accepted: text in quotes",
    ),
    (
        "world-readable file mode",
        ("[server]\n", '[server]\nfile_mode = "0644"\n'),
        "server.file_mode",
        '"0644" lets every user of the machine read footage; accepted: "0600", "0640" or "0660"',
    ),
    (
        "file mode that is not octal",
        ("[server]\n", '[server]\nfile_mode = "rw-r-----"\n'),
        "server.file_mode",
        'accepted: "0600", "0640" or "0660"',
    ),
]


@edit_cases(LOOSE_CASES)
def test_loose_values_are_refused_in_words_for_a_person(
    tmp_path: Path, label: str, edit: tuple[str, str], key_path: str, words: str
) -> None:
    _, _, first = errors_naming(tmp_path, label, edit, key_path)
    assert words in first, first
    # No Python spelling reaches the person: reprs, class names, single-quoted bools.
    assert not any(w in first for w in ("datetime.", "True", "False", "{'", "Input should"))


def test_control_character_in_a_secrets_password_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD, secrets='[passwords]\nsgu-camat-01 = "a\\u0000b"\n')
    lines = errors_of(path)
    assert any(
        "server.secrets:" in line and "passwords.sgu-camat-01" in line and "U+0000" in line
        for line in lines
    ), lines


def test_file_mode_sets_file_and_folder_modes(tmp_path: Path) -> None:
    default = load_inventory(write(tmp_path, GOOD), env=ENV)
    assert (default.server.file_mode_bits, default.server.dir_mode_bits) == (0o640, 0o750)
    text = GOOD.replace("[server]\n", '[server]\nfile_mode = "0660"\n', 1)
    group = load_inventory(write(tmp_path, text), env=ENV)
    assert (group.server.file_mode_bits, group.server.dir_mode_bits) == (0o660, 0o770)
    text = GOOD.replace("[server]\n", '[server]\nfile_mode = "600"\n', 1)
    private = load_inventory(write(tmp_path, text), env=ENV)
    assert (private.server.file_mode_bits, private.server.dir_mode_bits) == (0o600, 0o700)


DEEP = "x = " + "[" * 5000 + "]" * 5000 + "\n"


def test_deeply_nested_inventory_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text(DEEP)
    lines = errors_of(path)
    assert len(lines) == 1 and "nested too deeply" in lines[0], lines


def test_deeply_nested_secrets_file_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD, secrets=DEEP)
    lines = errors_of(path)
    assert any("server.secrets:" in line and "nested too deeply" in line for line in lines)


def test_config_check_deeply_nested_file_exits_2_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text(DEEP)
    res = cli("config", "check", str(path))
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0, res.stderr
    assert str(path) in res.stderr and "nested too deeply" in res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.parametrize("storage", ["/dev/null/x", "{tmp}/file/under/a/file"])
def test_config_check_refuses_storage_that_cannot_be_made(tmp_path: Path, storage: str) -> None:
    (tmp_path / "file").write_text("not a folder")
    storage = storage.replace("{tmp}", str(tmp_path))
    text = GOOD.replace("[server]\n", f'[server]\nstorage = "{storage}"\n', 1)
    res = cli("config", "check", str(write(tmp_path, text)), env=ENV)
    assert res.returncode == 2, res.stdout
    assert "server.storage:" in res.stderr and storage in res.stderr, res.stderr
    assert "is not a folder" in res.stderr
    assert "Traceback" not in res.stderr


def test_config_check_tries_storage_without_leaving_anything(tmp_path: Path) -> None:
    storage = tmp_path / "new" / "recordings"
    text = GOOD.replace("[server]\n", f'[server]\nstorage = "{storage}"\n', 1)
    before = sorted(p.name for p in tmp_path.iterdir())
    res = cli("config", "check", str(write(tmp_path, text)), env=ENV)
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        {*before, "site.toml", "secrets.toml"}
    )
    assert not (tmp_path / "new").exists()
    # An existing folder is tried by writing in it, and is left as it was.
    storage.mkdir(parents=True)
    res = cli("config", "check", str(write(tmp_path, text)), env=ENV)
    assert res.returncode == 0, res.stderr
    assert list(storage.iterdir()) == []
