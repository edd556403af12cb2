"""The evidence bucket: objects written under Object Lock (WORM), their versions, legal holds.

The bucket must have Object Lock enabled (which turns versioning on): every put is a new
version, and a version stays until its retention date whatever anyone asks, in compliance
mode even the store's root account. cctvctl never relies on itself to keep evidence; it
asks the store to, and this module is the few calls that takes. What to store and when is
``exports/vault.py``'s business.

Every call here turns the client's failures into :mod:`~cctvctl.archive.vault_errors`:
unreachable (no answer, 5xx: try again later) or refused (the store said no).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Final

from botocore.exceptions import BotoCoreError, ClientError

from cctvctl.archive.s3 import error_code
from cctvctl.archive.vault_errors import VaultRefused, VaultUnreachable

__all__ = ["EvidenceBucket", "LockState", "ReadBack"]

CHUNK: Final = 1 << 20
#: Metadata key holding the object's SHA-256 (hex): how a retry recognises what landed.
SHA_META: Final = "sha256"


@dataclass(frozen=True, slots=True)
class LockState:
    """What the store says protects one version."""

    mode: str | None  # "compliance", "governance" or None
    retain_until: datetime | None
    legal_hold: bool


@dataclass(frozen=True, slots=True)
class ReadBack:
    """One version read back whole and hashed."""

    version_id: str
    sha256: str
    size: int


@contextmanager
def _calls(what: str) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        message = str(exc.response.get("Error", {}).get("Message") or exc)
        code = error_code(exc)
        if status >= 500 or status == 0:
            raise VaultUnreachable(code, f"{what}: {code}: {message}") from exc
        raise VaultRefused(code, f"{what}: {code}: {message}") from exc
    except BotoCoreError as exc:
        raise VaultUnreachable(error_code(exc), f"{what}: {exc}") from exc


@contextmanager
def _opened(body: Path | bytes) -> Iterator[BinaryIO | bytes]:
    if isinstance(body, bytes):
        yield body
        return
    with body.open("rb") as fh:
        yield fh


def _b64_sha256(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


class EvidenceBucket:
    """Calls on one Object Lock bucket through a boto3 S3 ``client``."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def check(self) -> bool:
        """Whether the bucket has Object Lock enabled (a bucket without it protects nothing)."""
        with _calls(f"Object Lock configuration of bucket {self.bucket}"):
            answer = self.client.get_object_lock_configuration(Bucket=self.bucket)
        conf = answer.get("ObjectLockConfiguration", {})
        return bool(conf.get("ObjectLockEnabled") == "Enabled")

    def put_locked(
        self,
        key: str,
        body: Path | bytes,
        *,
        sha256: str,
        mode: str,
        retain_until: datetime,
        legal_hold: bool,
        metadata: Mapping[str, str],
    ) -> str:
        """Store a new version under retention; returns its version id.

        The SHA-256 goes with the request (``x-amz-checksum-sha256``), so the store refuses
        bytes that changed on the way, and in the metadata, so :meth:`find_version` can
        recognise this version later.
        """
        with _calls(f"storing {key}"), _opened(body) as payload:
            answer = self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=payload,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=_b64_sha256(sha256),
                Metadata={**metadata, SHA_META: sha256},
                ObjectLockMode=mode.upper(),
                ObjectLockRetainUntilDate=retain_until,
                ObjectLockLegalHoldStatus="ON" if legal_hold else "OFF",
            )
        version = answer.get("VersionId")
        if not version:
            raise VaultRefused(
                "NoVersion", f"storing {key}: the store gave no version id (versioning is off)"
            )
        return str(version)

    def find_version(self, key: str, sha256: str) -> str | None:
        """The oldest version of ``key`` whose recorded SHA-256 is ``sha256``, if any:
        what an earlier attempt stored though its answer was lost."""
        with _calls(f"listing the versions of {key}"):
            pages = self.client.get_paginator("list_object_versions").paginate(
                Bucket=self.bucket, Prefix=key
            )
            versions = [v for page in pages for v in page.get("Versions", []) if v["Key"] == key]
        versions.sort(key=lambda v: v["LastModified"])
        for version in versions:
            with _calls(f"reading {key} version {version['VersionId']}"):
                head = self.client.head_object(
                    Bucket=self.bucket, Key=key, VersionId=version["VersionId"]
                )
            if head.get("Metadata", {}).get(SHA_META) == sha256:
                return str(version["VersionId"])
        return None

    def set_legal_hold(self, key: str, version_id: str, on: bool) -> None:
        with _calls(f"{'setting' if on else 'lifting'} the legal hold of {key}"):
            self.client.put_object_legal_hold(
                Bucket=self.bucket,
                Key=key,
                VersionId=version_id,
                LegalHold={"Status": "ON" if on else "OFF"},
            )

    def lock_of(self, key: str, version_id: str) -> LockState:
        with _calls(f"reading the lock of {key}"):
            head = self.client.head_object(Bucket=self.bucket, Key=key, VersionId=version_id)
        until = head.get("ObjectLockRetainUntilDate")
        mode = head.get("ObjectLockMode")
        return LockState(
            mode=str(mode).lower() if mode else None,
            retain_until=until.astimezone(UTC) if isinstance(until, datetime) else None,
            legal_hold=head.get("ObjectLockLegalHoldStatus") == "ON",
        )

    def read_back(self, key: str, version_id: str | None = None) -> ReadBack | None:
        """Read a version (the latest without ``version_id``) whole and hash it; None when
        the key serves nothing (never stored, or its latest version is a delete marker)."""
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version_id is not None:
            args["VersionId"] = version_id
        digest = hashlib.sha256()
        size = 0
        try:
            with _calls(f"reading {key}"):
                answer = self.client.get_object(**args)
                body = answer["Body"]
                while block := body.read(CHUNK):
                    digest.update(block)
                    size += len(block)
        except VaultRefused as exc:
            if exc.code in ("NoSuchKey", "NoSuchVersion", "404", "MethodNotAllowed"):
                return None
            raise
        return ReadBack(
            version_id=str(answer.get("VersionId")), sha256=digest.hexdigest(), size=size
        )

    def read_bytes(self, key: str, version_id: str) -> bytes:
        with _calls(f"reading {key}"):
            answer = self.client.get_object(Bucket=self.bucket, Key=key, VersionId=version_id)
            return bytes(answer["Body"].read())

    def delete_version(self, key: str, version_id: str) -> None:
        """Delete one version; the store refuses (:class:`VaultRefused`) while it is locked."""
        with _calls(f"deleting {key} version {version_id}"):
            self.client.delete_object(Bucket=self.bucket, Key=key, VersionId=version_id)
