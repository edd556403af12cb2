"""Retention in the archive (``archive_days``), enforced by cctvctl itself.

Objects whose footage ended more than ``archive_days`` ago are deleted from the bucket
(DeleteObjects, up to 1,000 keys a call, each the key its upload was recorded under:
``ArchiveIndex.key``), then forgotten by the index. A bucket lifecycle
rule (:func:`lifecycle_rule`) can do the same on the store's side where it supports one,
one day later, as a backstop for a node that is gone: the rule expires by upload date, not
by footage date, so it must not be shorter than cctvctl's own.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta
from typing import Any, Final

from cctvctl.config import ArchiveConfig
from cctvctl.storage.archive import ArchiveIndex
from cctvctl.storage.database import Database

__all__ = ["expire_archive", "lifecycle_rule"]

log = logging.getLogger(__name__)

_DELETE_BATCH: Final = 1000  # S3's limit per DeleteObjects


def expire_archive(index: Database, config: ArchiveConfig, client: Any, now: datetime) -> int:
    """Delete what the archive keeps past ``archive_days``; returns how many objects went.
    Raises what the client raises if the store cannot be reached (nothing is forgotten)."""
    archive = ArchiveIndex(index)
    cutoff = now - timedelta(days=config.archive_days)
    total = 0
    while rows := archive.expired(ended_before=cutoff, n=_DELETE_BATCH):
        by_key = {archive.key(r): r.id for r in rows}
        answer = client.delete_objects(
            Bucket=config.bucket,
            Delete={"Objects": [{"Key": k} for k in by_key], "Quiet": True},
        )
        failed = {e["Key"]: e for e in answer.get("Errors", []) if e.get("Code") != "NoSuchKey"}
        for key, err in failed.items():
            log.warning(
                "archive: cannot delete %s: %s %s", key, err.get("Code"), err.get("Message")
            )
        gone = [row_id for key, row_id in by_key.items() if key not in failed]
        archive.forget_archived(gone)
        total += len(gone)
        if failed:
            break  # the rest waits for the next pass; no loop over the same refusals
    if total:
        log.info("archive: %d objects past archive_days (%g) deleted", total, config.archive_days)
    return total


def lifecycle_rule(config: ArchiveConfig) -> dict[str, Any]:
    """The bucket lifecycle configuration that backs cctvctl's own expiry up (for
    ``put_bucket_lifecycle_configuration``): objects expire a day after cctvctl would
    delete them, and unfinished multipart uploads are aborted after a week."""
    return {
        "Rules": [
            {
                "ID": "cctvctl-footage-expiry",
                "Filter": {"Prefix": ""},
                "Status": "Enabled",
                "Expiration": {"Days": math.ceil(config.archive_days) + 1},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
            }
        ]
    }
