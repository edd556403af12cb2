"""The ``[archive]`` table and its keys as the operator writes them, and the S3 client
made from them, against the real S3 server on loopback (moto's, over HTTP)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from harness import SiteSpec, write_site
from s3_harness import ACCESS_KEY, SECRET_KEY, S3Engine, archive_table

from cctvctl.config import ConfigError, diff_inventories, load_inventory, running_settings_kept

SPEC = SiteSpec(cameras=1, kecamatan=("Sangatta Utara",))
KEYS = {"CCTVCTL_ARCHIVE_ACCESS_KEY": ACCESS_KEY, "CCTVCTL_ARCHIVE_SECRET_KEY": SECRET_KEY}
ARCHIVE = '\n[archive]\nendpoint = "http://127.0.0.1:9000"\nbucket = "kutim-footage"\n'


def _site(tmp_path: Path, extra: str, secrets_extra: str = "") -> Path:
    site = write_site(tmp_path / "site", SPEC)
    site.config.write_text(site.config.read_text() + extra)
    secrets = site.config.parent / "secrets.toml"
    secrets.write_text(secrets.read_text() + secrets_extra)
    return site.config


def _errors(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_inventory(path, env=KEYS if env is None else env)
    return info.value.lines()


def test_archive_table_loads_with_defaults_and_keys_from_the_environment(
    tmp_path: Path,
) -> None:
    inventory = load_inventory(_site(tmp_path, ARCHIVE + 'upload_window = "22:00-05:00"\n'), KEYS)
    archive = inventory.archive
    assert archive is not None
    assert (archive.endpoint, archive.bucket, archive.region) == (
        "http://127.0.0.1:9000",
        "kutim-footage",
        "us-east-1",
    )
    assert (archive.archive_after, archive.upload_kbps, archive.local_days) == (0, 0, None)
    assert (archive.evidence_days, archive.evidence_mode, archive.evidence_bucket) == (
        365,
        "compliance",
        None,
    )
    assert archive.window_minutes == (22 * 60, 5 * 60)
    keys = inventory.archive_keys
    assert keys is not None
    assert (keys.access_key.get_secret_value(), keys.secret_key.get_secret_value()) == (
        ACCESS_KEY,
        SECRET_KEY,
    )
    assert SECRET_KEY not in repr(inventory)  # the keys never print


def test_archive_keys_from_the_secrets_file_and_named_variables(tmp_path: Path) -> None:
    path = _site(
        tmp_path,
        ARCHIVE + 'access_key_env = "KUTIM_S3_ID"\n',
        '\n[archive]\naccess_key = "from-file-id"\nsecret_key = "from-file-secret"\n',
    )
    inventory = load_inventory(path, {"KUTIM_S3_ID": "from-env-id"})
    keys = inventory.archive_keys
    assert keys is not None
    # The named variable wins for the access key; the secret key comes from the file.
    assert keys.access_key.get_secret_value() == "from-env-id"
    assert keys.secret_key.get_secret_value() == "from-file-secret"


def test_without_an_archive_table_nothing_changes(tmp_path: Path) -> None:
    inventory = load_inventory(_site(tmp_path, ""), {})
    assert inventory.archive is None and inventory.archive_keys is None


def test_missing_keys_name_the_variable_and_the_secrets_file(tmp_path: Path) -> None:
    lines = _errors(_site(tmp_path, ARCHIVE), env={})
    assert len(lines) == 2
    assert "archive.access_key_env: no access key for the archive" in lines[0]
    assert "'CCTVCTL_ARCHIVE_ACCESS_KEY'" in lines[0] and "server.secrets" in lines[0]
    assert "archive.secret_key_env: no secret key" in lines[1]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            '\n[archive]\nendpoint = "s3://kutim"\nbucket = "kutim-footage"\n',
            'archive.endpoint: "s3://kutim" is not an S3 endpoint; accepted: an http(s) URL',
        ),
        (
            '\n[archive]\nendpoint = "http://id:key@10.0.0.1"\nbucket = "kutim-footage"\n',
            "endpoint carries credentials",
        ),
        (
            '\n[archive]\nendpoint = "http://127.0.0.1:9000"\nbucket = "Kutim_Footage"\n',
            'archive.bucket: "Kutim_Footage" is not a bucket name; accepted: 3 to 63',
        ),
        (
            ARCHIVE + 'upload_window = "10pm-5am"\n',
            'archive.upload_window: "10pm-5am" is not an upload window; accepted: "HH:MM-HH:MM"',
        ),
        (
            ARCHIVE + 'upload_window = "22:00-22:00"\n',
            '"22:00-22:00" is an empty upload window',
        ),
        (ARCHIVE + 'upload_window = "24:00-05:00"\n', "is not an upload window"),
        (ARCHIVE + "upload_kbps = -1\n", "archive.upload_kbps: -1 is not accepted"),
        (ARCHIVE + "upload_kbps = 1.5\n", "archive.upload_kbps: 1.5 is not accepted"),
        (ARCHIVE + "local_days = 0\n", "archive.local_days: 0 is not accepted"),
        (
            ARCHIVE + 'evidence_mode = "strict"\n',
            "archive.evidence_mode: \"strict\" is not accepted; it should be 'compliance' or "
            "'governance'",
        ),
        (ARCHIVE + 'evidence_bucket = "x"\n', 'archive.evidence_bucket: "x" is not a bucket'),
        (
            ARCHIVE + 'secret_key = "abc"\n',
            "archive.secret_key: unknown key 'secret_key'; accepted keys: endpoint, bucket",
        ),
        (
            ARCHIVE + 'access_key_env = "1BAD"\n',
            'archive.access_key_env: "1BAD" is not an environment variable name',
        ),
        ('\n[archive]\nbucket = "kutim-footage"\n', "archive.endpoint: required key is missing"),
    ],
)
def test_bad_archive_settings_say_what_is_accepted(
    tmp_path: Path, extra: str, expected: str
) -> None:
    lines = _errors(_site(tmp_path, extra))
    assert any(expected in line for line in lines), lines
    assert all("\n" not in line for line in lines)


def test_bad_archive_keys_in_the_secrets_file_are_named(tmp_path: Path) -> None:
    path = _site(tmp_path, ARCHIVE, '\n[archive]\naccess_key = 5\nregion = "x"\n')
    lines = _errors(path, env={})
    assert any("archive.access_key in secrets.toml must be a string" in line for line in lines)
    assert any(
        "unknown key archive.region in secrets.toml; accepted: access_key, secret_key" in line
        for line in lines
    )
    top = _errors(_site(tmp_path / "b", ARCHIVE, '\n[vault]\nx = "y"\n'))
    accepted = "unknown key 'vault' in secrets.toml; accepted: passwords, archive"
    assert any(accepted in line for line in top)


def test_a_reload_keeps_the_running_archive_and_says_it_needs_a_restart(tmp_path: Path) -> None:
    old = load_inventory(_site(tmp_path / "a", ARCHIVE), KEYS)
    new = load_inventory(_site(tmp_path / "b", ARCHIVE.replace("kutim-footage", "other")), KEYS)
    assert "archive" in diff_inventories(old, new).needs_restart
    kept = running_settings_kept(old, new)
    assert kept.archive == old.archive and kept.archive_keys == old.archive_keys


def test_the_client_reaches_the_store_and_a_cut_link_fails_fast(
    tmp_path: Path, s3: S3Engine
) -> None:
    from cctvctl.archive.s3 import ArchiveUnavailable, error_code, make_client

    bucket = s3.make_bucket()
    inventory = load_inventory(_site(tmp_path, archive_table(s3, bucket)), KEYS)
    assert inventory.archive is not None and inventory.archive_keys is not None
    client = make_client(inventory.archive, inventory.archive_keys, connect_timeout=1)
    client.put_object(Bucket=bucket, Key="sangatta-utara/cam/x.mp4", Body=b"footage")
    assert s3.keys(bucket) == ["sangatta-utara/cam/x.mp4"]  # path-style, the bucket we named
    s3.stop()
    try:
        began = time.monotonic()
        with pytest.raises(ArchiveUnavailable) as info:
            client.head_object(Bucket=bucket, Key="sangatta-utara/cam/x.mp4")
        assert time.monotonic() - began < 10  # bounded retries, short time-outs
        assert error_code(info.value) in {"EndpointConnectionError", "ConnectionClosedError"}
    finally:
        s3.start()
    # The store kept its objects across the cut.
    body = client.get_object(Bucket=bucket, Key="sangatta-utara/cam/x.mp4")["Body"].read()
    assert body == b"footage"
    with pytest.raises(ArchiveUnavailable) as missing:
        client.head_object(Bucket=bucket, Key="nope")
    assert error_code(missing.value) == "404"
