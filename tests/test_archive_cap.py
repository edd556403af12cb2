"""The upload cap (``upload_kbps``) over 30 s, measured from what reached the bucket: the
real uploader against a real S3 endpoint (moto's server over HTTP on 127.0.0.1), real
footage files in a real index. About 35 s."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from archive_sites import KEYS, add_footage, archive_config, hours_ago
from s3_harness import S3Engine

from cctvctl.archive.s3 import make_client
from cctvctl.archive.uploader import Uploader
from cctvctl.storage.database import Database

CAP_KBPS = 160  # 20,000 bytes/s: about two 10 kB segments a second
WINDOW = 30.0


@pytest.fixture
def index(tmp_path: Path) -> Iterator[Database]:
    db = Database(tmp_path / "storage")
    yield db
    db.close()


def test_uploads_keep_to_the_cap_within_ten_percent_over_30_s(
    s3: S3Engine, index: Database
) -> None:
    bucket = s3.make_bucket()
    base = hours_ago(3)
    # A backlog of more than the window can carry: the cap, not the queue, sets the pace.
    for i in range(120):
        add_footage(index, base + timedelta(seconds=2 * i))
    config = archive_config(s3, bucket, upload_kbps=CAP_KBPS)
    uploader = Uploader(index, config, make_client(config, KEYS))
    client = s3.client()
    seen: dict[str, tuple[float, int]] = {}  # key -> (first seen, size)
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            now = time.monotonic()
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for obj in page.get("Contents", []):
                    seen.setdefault(obj["Key"], (now, int(obj["Size"])))
            time.sleep(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    uploader.start()
    try:
        deadline = time.monotonic() + WINDOW + 20
        while not seen and time.monotonic() < deadline:
            time.sleep(0.05)
        assert seen, "nothing reached the bucket"
        t0 = min(t for t, _ in seen.values())
        time.sleep(max(0.0, t0 + WINDOW + 0.5 - time.monotonic()))
    finally:
        uploader.stop()
        done.set()
        watcher.join(5)
    # Objects first seen after t0 and by t0 + 30 s were sent within the window (the one
    # seen at t0 was sent before it); the watcher's 0.1 s poll is under 1 % of 30 s.
    moved = sum(size for t, size in seen.values() if t0 < t <= t0 + WINDOW)
    rate = moved / WINDOW
    cap = CAP_KBPS * 1000 / 8
    print(f"upload cap {cap:.0f} B/s; reached the bucket {rate:.0f} B/s ({rate / cap:.1%})")
    assert rate <= 1.10 * cap, f"{rate:.0f} B/s over 30 s; the cap is {cap:.0f} B/s"
    # And the link is used: a cap that starved the uploads would pass the line above.
    # Not 90 %: each PUT's round trip and index write cost time the bucket's burst does
    # not all win back, and a loaded test machine stretches them (73 % seen under load).
    assert rate >= 0.50 * cap, f"{rate:.0f} B/s over 30 s; the cap is {cap:.0f} B/s"
    assert len(seen) < 120  # the backlog outlasted the window
