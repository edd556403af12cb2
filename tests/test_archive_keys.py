"""Object keys in a bucket the fleet's nodes share, against a real S3 endpoint (moto's
server over HTTP on 127.0.0.1), real files and real indexes: two nodes that recorded one
camera in the same second (a failover or handback) keep both recordings, each node reads
back its own, and what was archived before keys were recorded is still read and expired
where it was put."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from archive_sites import KEYS, KEYS_ENV, MiB, add_footage, archive_config, sha256_of
from fleet_sites import node_site
from harness import SiteSpec, write_site
from s3_harness import S3Engine, archive_table

from cctvctl.archive.cache import ArchiveCache
from cctvctl.archive.expiry import expire_archive
from cctvctl.archive.s3 import make_client
from cctvctl.archive.uploader import Uploader
from cctvctl.config import ArchiveConfig, load_inventory
from cctvctl.server.runtime import _archive
from cctvctl.storage.database import Database, SegmentRow

NOW = datetime.now(UTC).replace(microsecond=0)
PART = 5 * MiB  # S3's smallest part


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[dict[str, Database]]:
    """Two fleet nodes' indexes, each over its own storage root."""
    dbs = {name: Database(tmp_path / name / "recordings") for name in ("sgu-1", "sgu-2")}
    yield dbs
    for db in dbs.values():
        db.close()


def _uploader(config: ArchiveConfig, index: Database, node: str | None) -> Uploader:
    client = make_client(config, KEYS, connect_timeout=1, read_timeout=10, max_attempts=1)
    return Uploader(index, config, client, part_size=PART, node=node)


def _row(index: Database, row_id: int) -> SegmentRow:
    row = index.get(row_id)
    assert row is not None
    return row


def _archived_only(index: Database, ids: list[int]) -> None:
    """The local copies go (as local_days lets them): only the archive holds the footage."""
    for row_id in ids:
        _row(index, row_id).path.unlink()
    index.drop_local(ids)
    assert all(_row(index, i).location == "archived" for i in ids)


def _fetched(cache: ArchiveCache, row: SegmentRow) -> str:
    return hashlib.sha256(cache.fetch(row).read_bytes()).hexdigest()


def test_two_nodes_recording_one_camera_in_the_same_second_keep_both_recordings(
    s3: S3Engine, nodes: dict[str, Database]
) -> None:
    bucket = s3.make_bucket(versioned=True)  # a replaced object would show as a version
    config = archive_config(s3, bucket)
    short = archive_config(s3, bucket, archive_days=3)  # for the expiry at the end
    small_at, large_at = NOW - timedelta(days=5), NOW - timedelta(days=5, seconds=-30)
    ids: dict[str, list[int]] = {}
    digests: dict[str, list[str]] = {}
    for name, index in nodes.items():
        # The same camera, day and second on both nodes, different bytes: one PUT each,
        # and one multipart upload each (both ways of sending take the key).
        ids[name] = [
            add_footage(index, small_at, size=1000),
            add_footage(index, large_at, size=PART + 4321),
        ]
        digests[name] = [sha256_of(_row(index, i).path) for i in ids[name]]
        assert index.stored_path(_row(index, ids[name][0]).path) == (
            f"sangatta-utara/sgu-cam-01/{small_at:%Y-%m-%d}/{small_at:%H%M%S}.mp4"
        )
    assert digests["sgu-1"][0] != digests["sgu-2"][0]
    for name, index in nodes.items():
        assert _uploader(config, index, name).run_once() == 2

    keys = [
        f"sangatta-utara/sgu-cam-01/{at:%Y-%m-%d}/{at:%H%M%S}.{name}.mp4"
        for at in (small_at, large_at)
        for name in ("sgu-1", "sgu-2")
    ]
    assert s3.keys(bucket) == keys  # four objects, sorted by time then node
    versions = s3.client().list_object_versions(Bucket=bucket).get("Versions", [])
    assert len(versions) == 4  # none written over
    for name, index in nodes.items():
        rows = [_row(index, i) for i in ids[name]]
        assert [r.archive_key for r in rows] == [k for k in keys if f".{name}." in k]

    # Each node's local copies go; each reads its own footage back from the archive.
    for name, index in nodes.items():
        _archived_only(index, ids[name])
        cache = ArchiveCache(index, bucket, make_client(config, KEYS))
        assert [_fetched(cache, _row(index, i)) for i in ids[name]] == digests[name]

    # Archive retention on one node deletes its own objects, and only those.
    client = make_client(short, KEYS)
    assert expire_archive(nodes["sgu-1"], short, client, NOW) == 2
    assert s3.keys(bucket) == [k for k in keys if ".sgu-2." in k]
    assert all(nodes["sgu-1"].get(i) is None for i in ids["sgu-1"])
    assert expire_archive(nodes["sgu-2"], short, client, NOW) == 2
    assert s3.keys(bucket) == []


def test_footage_archived_before_keys_were_recorded_is_read_and_expired_by_its_path(
    s3: S3Engine, tmp_path: Path
) -> None:
    """A node upgraded into a fleet (or from a version before migration 10): its archived
    rows have no recorded key, and their objects lie at their stored paths."""
    bucket = s3.make_bucket()
    config = archive_config(s3, bucket)
    short = archive_config(s3, bucket, archive_days=3)  # for the expiry at the end
    client = s3.client()
    with Database(tmp_path / "recordings") as index:
        before = add_footage(index, NOW - timedelta(days=5), size=2000)
        after = add_footage(index, NOW - timedelta(days=4), size=3000)
        # Uploaded by the old version: under the stored path, recorded without a key.
        old = _row(index, before)
        old_key = index.stored_path(old.path)
        old_sha = sha256_of(old.path)
        client.put_object(Bucket=bucket, Key=old_key, Body=old.path.read_bytes())
        with index._write() as conn:
            conn.execute(
                "UPDATE segments SET archived = ?, sha256 = ? WHERE id = ?",
                ((NOW - timedelta(days=5)).timestamp(), old_sha, before),
            )
        assert _row(index, before).archive_key is None

        # Now a fleet node: only the new segment is sent, under the node's key.
        assert _uploader(config, index, "sgu-1").run_once() == 1
        new_key = index.stored_path(_row(index, after).path).replace(".mp4", ".sgu-1.mp4")
        assert s3.keys(bucket) == sorted([old_key, new_key])
        assert _row(index, after).archive_key == new_key
        assert _row(index, before).archive_key is None

        new_sha = sha256_of(_row(index, after).path)
        _archived_only(index, [before, after])
        cache = ArchiveCache(index, bucket, make_client(config, KEYS))
        assert _fetched(cache, _row(index, before)) == old_sha
        assert _fetched(cache, _row(index, after)) == new_sha

        assert expire_archive(index, short, make_client(short, KEYS), NOW) == 2
        assert s3.keys(bucket) == []
        assert index.get(before) is None and index.get(after) is None


def test_an_upload_begun_under_another_key_resumes_under_it(s3: S3Engine, tmp_path: Path) -> None:
    """An upload that finished unrecorded before a crash, begun before the node was a
    fleet node (or renamed): the key it began with is where the object is, so that is
    where the uploader looks, and what it records."""
    bucket = s3.make_bucket(versioned=True)
    config = archive_config(s3, bucket)
    with Database(tmp_path / "recordings") as index:
        row_id = add_footage(index, NOW - timedelta(hours=3), size=2500)
        assert _uploader(config, index, None).run_once() == 1  # a single node's key
        row = _row(index, row_id)
        key = index.stored_path(row.path)
        assert row.archive_key == key  # recorded as uploaded: the stored path, as always
        # The crash: the store holds the object, the index has only the attempt's marker.
        with index._write() as conn:
            conn.execute(
                "UPDATE segments SET archived = NULL, archive_key = NULL WHERE id = ?", (row_id,)
            )
            conn.execute(
                "INSERT INTO archive_uploads (segment, key, upload_id, part_size, bytes, "
                "sha256, started) VALUES (?, ?, '', ?, ?, ?, 0)",
                (row_id, key, PART, row.bytes, row.sha256),
            )
        again = _uploader(config, index, "sgu-1")
        assert again.run_once() == 1
        figures = again.figures()
        assert (figures.sent_bytes, figures.confirmed_without_sending) == (0, 1)
        assert _row(index, row_id).archive_key == key
        assert s3.keys(bucket) == [key]
        assert len(s3.client().list_object_versions(Bucket=bucket)["Versions"]) == 1


def test_a_server_keys_by_its_node_name_only_in_a_fleet(
    s3: S3Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What ``cctvctl server`` builds: a single node keeps its keys exactly as before; a
    fleet node (``[fleet]``, its name from the file or ``--node``) keys by its name."""
    for name, value in KEYS_ENV.items():
        monkeypatch.setenv(name, value)
    bucket = s3.make_bucket()
    site = write_site(tmp_path / "site", SiteSpec(cameras=1, kecamatan=("Sangatta Utara",)))
    (site.dir / "single.toml").write_text(site.config.read_text() + archive_table(s3, bucket))
    fleet = node_site(site, "sgu-1", "postgresql://cctv@127.0.0.1:1/cctv", 30)
    fleet.config.write_text(fleet.config.read_text() + archive_table(s3, bucket))

    sent: dict[str, str] = {}
    at = NOW - timedelta(hours=1)
    for label, inventory in (
        ("single", load_inventory(site.dir / "single.toml")),
        ("fleet", load_inventory(fleet.config)),
        ("--node", load_inventory(fleet.config).with_node("sgu-9")),
    ):
        with Database(tmp_path / label) as index:
            uploader, cache = _archive(inventory, index)
            assert uploader is not None and cache is not None
            row_id = add_footage(index, at, size=100)
            assert uploader.run_once() == 1
            key = _row(index, row_id).archive_key
            assert key is not None
            sent[label] = key
    path = f"sangatta-utara/sgu-cam-01/{at:%Y-%m-%d}/{at:%H%M%S}"
    assert sent == {
        "single": f"{path}.mp4",
        "fleet": f"{path}.sgu-1.mp4",
        "--node": f"{path}.sgu-9.mp4",
    }
    assert s3.keys(bucket) == sorted(sent.values())
