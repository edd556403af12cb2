"""Footage for the archive tests: real files in the storage layout, indexed in a real
SQLite index, and the ``[archive]`` settings that point at the test S3 server."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from media import fmp4_bytes
from pydantic import SecretStr
from s3_harness import ACCESS_KEY, SECRET_KEY, S3Engine

from cctvctl.config import ArchiveConfig, ArchiveKeys
from cctvctl.storage.database import Database, SegmentInfo
from cctvctl.storage.layout import segment_path

KEYS = ArchiveKeys(SecretStr(ACCESS_KEY), SecretStr(SECRET_KEY))
KEYS_ENV = {"CCTVCTL_ARCHIVE_ACCESS_KEY": ACCESS_KEY, "CCTVCTL_ARCHIVE_SECRET_KEY": SECRET_KEY}
KEC, CAM = "sangatta-utara", "sgu-cam-01"
MiB = 1 << 20


def archive_config(engine: S3Engine, bucket: str, **settings: object) -> ArchiveConfig:
    return ArchiveConfig.model_validate({"endpoint": engine.endpoint, "bucket": bucket, **settings})


def add_footage(
    index: Database,
    start: datetime,
    *,
    size: int | None = None,
    seconds: float = 2.0,
    camera: str = CAM,
    kecamatan: str = KEC,
) -> int:
    """Index one segment file at ``start``: real fMP4 footage, or ``size`` random bytes
    (a file big enough for a multipart upload, where only the bytes matter)."""
    path = segment_path(index.root, kecamatan, camera, start)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = fmp4_bytes(seconds) if size is None else os.urandom(size)
    path.write_bytes(data)
    return index.add_segment(
        SegmentInfo(camera, path, start, start + timedelta(seconds=seconds), len(data)),
        kecamatan=kecamatan,
    )


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def hours_ago(hours: float) -> datetime:
    return (datetime.now(UTC) - timedelta(hours=hours)).replace(microsecond=0)
