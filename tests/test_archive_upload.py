"""The footage tier's uploads against a real S3 endpoint (moto's server over HTTP on
127.0.0.1): what reaches the bucket, and what a cut link or a crash leaves behind."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from archive_sites import KEYS, MiB, add_footage, archive_config, hours_ago, sha256_of
from harness import wait_for
from s3_harness import S3Engine
from tcp_relay import TcpRelay

from cctvctl.archive.s3 import make_client
from cctvctl.archive.uploader import PARALLEL_PARTS, Uploader
from cctvctl.config import ArchiveConfig
from cctvctl.storage.database import Database

PART = 5 * MiB  # S3's smallest part


@pytest.fixture
def index(tmp_path: Path) -> Iterator[Database]:
    db = Database(tmp_path / "storage")
    yield db
    db.close()


def _uploader(s3: S3Engine, index: Database, bucket: str, **settings: object) -> Uploader:
    config = archive_config(s3, bucket, **settings)
    client = make_client(config, KEYS, connect_timeout=1, read_timeout=5, max_attempts=1)
    return Uploader(index, config, client, part_size=PART, poll_seconds=0.2)


def test_segments_reach_the_bucket_with_matching_checksums(s3: S3Engine, index: Database) -> None:
    bucket = s3.make_bucket()
    base = hours_ago(1)
    small = [add_footage(index, base + timedelta(seconds=2 * i)) for i in range(3)]
    large = add_footage(index, base + timedelta(seconds=10), size=2 * PART + 12345)
    uploader = _uploader(s3, index, bucket)
    assert uploader.run_once() == 4

    client = s3.client()
    rows = [index.get(i) for i in [*small, large]]
    keys = [index.stored_path(r.path) for r in rows if r is not None]
    assert s3.keys(bucket) == sorted(keys)
    assert keys[0] == f"sangatta-utara/sgu-cam-01/{base:%Y-%m-%d}/{base:%H%M%S}.mp4"
    for row in rows:
        assert row is not None and row.location == "both" and row.archived is not None
        key = index.stored_path(row.path)
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        local = sha256_of(row.path)
        assert hashlib.sha256(body).hexdigest() == local == row.sha256
        head = client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        assert head["Metadata"]["sha256"] == local
        if row.id != large:  # one PUT: the store keeps the SHA-256 it was sent
            assert head["ChecksumSHA256"] == base64.b64encode(bytes.fromhex(local)).decode()
    big = index.get(large)
    assert big is not None
    head = client.head_object(Bucket=bucket, Key=index.stored_path(big.path))
    assert head["ETag"].endswith('-3"')  # three parts: a multipart upload
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    # Nothing is left to send, and a second pass sends nothing.
    assert uploader.run_once() == 0
    assert uploader.figures().sent_bytes == sum(r.bytes for r in rows if r is not None)


def test_a_link_cut_mid_upload_resumes_and_nothing_is_sent_twice(
    s3: S3Engine, index: Database
) -> None:
    bucket = s3.make_bucket(versioned=True)  # a second PUT would be a second version
    row_id = add_footage(index, hours_ago(2), size=3 * PART)
    # About 1.3 s a part, so the cut falls inside the upload.
    uploader = _uploader(s3, index, bucket, upload_kbps=32_000)
    client = s3.client()
    uploader.start()
    try:

        def parts_held() -> int:
            uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
            if not uploads:
                return 0
            up = uploads[0]
            return len(
                client.list_parts(Bucket=bucket, Key=up["Key"], UploadId=up["UploadId"]).get(
                    "Parts", []
                )
            )

        wait_for(lambda: parts_held() >= 1, timeout=20, what="the first part in the store")
        s3.stop()
        cut_at = time.monotonic()
        try:
            wait_for(
                lambda: sum(uploader.figures().failures.values()) >= 1,
                timeout=20,
                what="the uploader to notice the cut",
            )
            row = index.get(row_id)
            assert row is not None and row.archived is None  # not marked while cut
            time.sleep(max(0.0, 1.0 - (time.monotonic() - cut_at)))
        finally:
            s3.start()
        wait_for(
            lambda: (r := index.get(row_id)) is not None and r.archived is not None,
            timeout=60,
            what="the upload to finish after the link came back",
        )
    finally:
        uploader.stop()
    row = index.get(row_id)
    assert row is not None
    key = index.stored_path(row.path)
    assert s3.keys(bucket) == [key]  # one object, no second copy
    versions = client.list_object_versions(Bucket=bucket).get("Versions", [])
    assert len(versions) == 1
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == sha256_of(row.path) == row.sha256
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    # The part the store held before the cut was not sent again: at most the part cut
    # in flight was (its bytes count twice), never the whole file.
    sent = uploader.figures().sent_bytes
    assert row.bytes <= sent < row.bytes + PART


def test_an_upload_finished_but_unrecorded_before_a_crash_is_not_sent_again(
    s3: S3Engine, index: Database, tmp_path: Path
) -> None:
    bucket = s3.make_bucket()
    row_id = add_footage(index, hours_ago(3))
    assert _uploader(s3, index, bucket).run_once() == 1
    row = index.get(row_id)
    assert row is not None
    # The crash: the store holds the object, the index has only the attempt's marker.
    index._conn().execute("UPDATE segments SET archived = NULL WHERE id = ?", (row_id,))
    index._conn().execute(
        "INSERT INTO archive_uploads (segment, key, upload_id, part_size, bytes, sha256, "
        "started) VALUES (?, ?, '', ?, ?, ?, 0)",
        (row_id, index.stored_path(row.path), PART, row.bytes, row.sha256),
    )
    again = _uploader(s3, index, bucket)
    assert again.run_once() == 1
    figures = again.figures()
    assert (figures.sent_bytes, figures.confirmed_without_sending) == (0, 1)
    restored = index.get(row_id)
    assert restored is not None and restored.archived is not None


def test_uploads_wait_for_archive_after_and_the_window(s3: S3Engine, index: Database) -> None:
    bucket = s3.make_bucket()
    add_footage(index, hours_ago(0.001))  # closed seconds ago
    late = _uploader(s3, index, bucket, archive_after=600)
    assert late.run_once() == 0 and s3.keys(bucket) == []
    # A window that opens in an hour: closed now.
    from cctvctl.timeparse import WITA

    now = hours_ago(0).astimezone(WITA)
    start = (now + timedelta(hours=1)).strftime("%H:00")
    end = (now + timedelta(hours=2)).strftime("%H:00")
    shut = _uploader(s3, index, bucket, upload_window=f"{start}-{end}")
    shut.start()
    try:
        wait_for(lambda: shut.figures().state == "waiting for window", timeout=10)
        assert s3.keys(bucket) == []
    finally:
        shut.stop()
    assert _uploader(s3, index, bucket).run_once() == 1


_UPLOAD_CHILD = """
import sys
from archive_sites import KEYS, archive_config
from s3_harness import S3Engine
from cctvctl.archive.s3 import make_client
from cctvctl.archive.uploader import Uploader
from cctvctl.storage.database import Database

root, endpoint, bucket, part = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
engine = S3Engine(port=int(endpoint.rsplit(":", 1)[1]))
config = archive_config(engine, bucket, upload_kbps=32_000)
Uploader(Database(root), config, make_client(config, KEYS), part_size=part).run_once()
"""


def test_a_process_killed_mid_upload_resumes_at_the_next_start(
    s3: S3Engine, index: Database
) -> None:
    import os
    import signal
    import subprocess
    import sys

    bucket = s3.make_bucket(versioned=True)
    row_id = add_footage(index, hours_ago(2), size=3 * PART)
    tests = Path(__file__).parent
    child = subprocess.Popen(
        [sys.executable, "-c", _UPLOAD_CHILD, str(index.root), s3.endpoint, bucket, str(PART)],
        env={**os.environ, "PYTHONPATH": f"{tests.parent}:{tests}"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = s3.client()
    try:

        def parts_held() -> int:
            uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
            if not uploads:
                return 0
            up = uploads[0]
            listed = client.list_parts(Bucket=bucket, Key=up["Key"], UploadId=up["UploadId"])
            return len(listed.get("Parts", []))

        wait_for(lambda: parts_held() >= 1, timeout=30, what="the child's first part")
    finally:
        child.send_signal(signal.SIGKILL)  # the crash: no cleanup of any kind
        child.wait(10)
    time.sleep(0.5)  # a part whose body had all arrived is stored by now, or never
    row = index.get(row_id)
    assert row is not None and row.archived is None
    held_before = parts_held()
    assert 1 <= held_before < 3

    again = _uploader(s3, index, bucket)
    assert again.run_once() == 1
    row = index.get(row_id)
    assert row is not None and row.archived is not None
    # Only the parts the store lacked were sent after the restart.
    assert again.figures().sent_bytes == (3 - held_before) * PART
    key = index.stored_path(row.path)
    versions = client.list_object_versions(Bucket=bucket).get("Versions", [])
    assert [v["Key"] for v in versions] == [key]
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == sha256_of(row.path)
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_a_link_cut_with_four_parts_in_flight_resumes_and_completes_once(
    s3: S3Engine, index: Database
) -> None:
    assert PARALLEL_PARTS == 4
    bucket = s3.make_bucket(versioned=True)  # a second PUT would be a second version
    row_id = add_footage(index, hours_ago(2), size=8 * PART)
    row = index.get(row_id)
    assert row is not None
    local_sha = sha256_of(row.path)
    client = s3.client()
    # No cap (so 4 parts at once), but a thin link in front of the store: a part takes
    # about 1.3 s, so the second four are caught in flight.
    with TcpRelay(("127.0.0.1", s3.port), rate=4_000_000) as relay:
        config = ArchiveConfig.model_validate(
            {"endpoint": f"http://127.0.0.1:{relay.port}", "bucket": bucket}
        )
        uploader = Uploader(
            index,
            config,
            make_client(config, KEYS, connect_timeout=1, read_timeout=5, max_attempts=1),
            part_size=PART,
            poll_seconds=0.2,
        )

        def parts_held() -> int:
            uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
            if not uploads:
                return 0
            assert len(uploads) == 1
            up = uploads[0]
            listed = client.list_parts(Bucket=bucket, Key=up["Key"], UploadId=up["UploadId"])
            return len(listed.get("Parts", []))

        uploader.start()
        try:
            wait_for(
                lambda: parts_held() >= 4 and relay.in_flight() == 4,
                timeout=60,
                what="four parts held and four in flight",
            )
            held_at_cut = parts_held()
            upload = client.list_multipart_uploads(Bucket=bucket)["Uploads"][0]
            held_numbers = {
                p["PartNumber"]
                for p in client.list_parts(
                    Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                )["Parts"]
            }
            s3.stop()
            requests_at_cut = len(s3.parts)
            try:
                wait_for(
                    lambda: sum(uploader.figures().failures.values()) >= 1,
                    timeout=20,
                    what="the uploader to notice the cut",
                )
                cut = index.get(row_id)
                assert cut is not None and cut.archived is None  # not marked while cut
                assert cut.local and cut.path.exists()  # and nothing local deleted
                sent_before = uploader.figures().sent_bytes
            finally:
                s3.start()
            wait_for(
                lambda: (r := index.get(row_id)) is not None and r.archived is not None,
                timeout=60,
                what="the upload to finish after the link came back",
            )
        finally:
            uploader.stop()
    assert held_at_cut == 4
    done = index.get(row_id)
    assert done is not None and done.location == "both" and done.sha256 == local_sha
    assert sha256_of(done.path) == local_sha  # the local copy stays, untouched
    key = index.stored_path(done.path)
    assert s3.keys(bucket) == [key]
    versions = client.list_object_versions(Bucket=bucket).get("Versions", [])
    assert [v["Key"] for v in versions] == [key]  # completed once
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    head = client.head_object(Bucket=bucket, Key=key)
    assert head["ETag"].endswith('-8"') and head["Metadata"]["sha256"] == local_sha
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == local_sha
    figures = uploader.figures()
    assert sum(figures.uploaded_segments.values()) == 1
    # After the link came back only the parts cut in flight went again (all four, or
    # fewer if the store kept one it had whole): never a part it held before the cut.
    # Counted where they arrived: the client's own byte figure also counts an attempt
    # that a busy store answered too late and that went again, which is no resend of a
    # held part.
    resent = {n for upload_id, n in s3.parts[requests_at_cut:] if upload_id == upload["UploadId"]}
    assert not resent & held_numbers, (resent, held_numbers)
    assert len(resent) >= 3 and resent <= set(range(1, 9)) - held_numbers, resent
    assert figures.sent_bytes - sent_before >= 3 * PART
