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
import contextlib
import hashlib
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, Final

from botocore.exceptions import BotoCoreError, ClientError

from cctvctl.archive.digests import (
    ChecksumMismatch,
    PartDigest,
    composite_etag,
    digest_file,
    etag_of,
    part_etag,
    verify_answer,
)
from cctvctl.archive.s3 import error_code
from cctvctl.archive.throttle import MeteredSlice, RateLimit
from cctvctl.archive.vault_errors import VaultRefused, VaultUnreachable

__all__ = ["EvidenceBucket", "LockState", "ReadBack"]

log = logging.getLogger(__name__)

CHUNK: Final = 1 << 20
MiB: Final = 1 << 20
#: Metadata key holding the object's SHA-256 (hex): how a retry recognises what landed.
SHA_META: Final = "sha256"
#: A clip of this size or more is a multipart upload: a single PUT stops at 5 GB, and a
#: part lost with the link costs a part, not the clip.
MULTIPART_THRESHOLD: Final = 64 * MiB
PART_SIZE: Final = 16 * MiB
#: S3 takes at most this many parts; a larger clip gets larger parts.
MAX_PARTS: Final = 10_000


#: Stores keep a retention date to the second; ours has microseconds.
_SLACK: Final = timedelta(seconds=1)
#: The vault's uploads are not under the footage tier's cap: evidence is rare and urgent.
_UNCAPPED: Final = RateLimit(0)


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

    def __init__(
        self,
        client: Any,
        bucket: str,
        *,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        part_size: int = PART_SIZE,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size

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
        recognise this version later. A file of ``multipart_threshold`` bytes or more is a
        multipart upload (:meth:`_put_multipart`) under the same lock.
        """
        if isinstance(body, Path) and body.stat().st_size >= self.multipart_threshold:
            return self._put_multipart(
                key,
                body,
                sha256=sha256,
                lock=LockState(mode.lower(), retain_until, legal_hold),
                metadata=metadata,
            )
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

    def _put_multipart(
        self,
        key: str,
        path: Path,
        *,
        sha256: str,
        lock: LockState,
        metadata: Mapping[str, str],
    ) -> str:
        """A multipart upload whose object is born locked: mode, retention date and legal
        hold are given when it is created (S3 takes them there, not on completion), as
        the metadata SHA-256. Each part carries its own SHA-256 and the store's answer is
        checked (its checksum, else its ETag against our MD5). Any failure aborts the
        upload (no orphan parts) and the next attempt starts again. The new version's
        lock is then read back (:meth:`_ensure_locked`)."""
        size = path.stat().st_size
        part_size = max(self.part_size, -(-size // MAX_PARTS))
        digests = digest_file(path, part_size)
        if digests.sha256 != sha256:
            raise VaultRefused(
                "BadDigest",
                f"storing {key}: the file's SHA-256 is {digests.sha256}, not the {sha256} "
                "the export recorded",
            )
        with _calls(f"storing {key}"):
            created = self.client.create_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                ChecksumAlgorithm="SHA256",
                Metadata={**metadata, SHA_META: sha256},
                ObjectLockMode=str(lock.mode).upper(),
                ObjectLockRetainUntilDate=lock.retain_until,
                ObjectLockLegalHoldStatus="ON" if lock.legal_hold else "OFF",
            )
        upload_id = created["UploadId"]
        try:
            with _calls(f"storing {key}"):
                parts = [self._put_part(key, path, upload_id, part) for part in digests.parts]
                answer = self.client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )
            verify_answer(
                answer,
                digests.composite_checksum,
                lambda: (
                    composite_etag([p["ETag"] for p in parts])
                    or etag_of(path, digests, multipart=True)
                ),
                key,
            )
        except (VaultRefused, VaultUnreachable, ChecksumMismatch, OSError) as exc:
            with contextlib.suppress(VaultRefused, VaultUnreachable), _calls("aborting"):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            if isinstance(exc, ChecksumMismatch):
                raise VaultRefused("BadDigest", f"storing {key}: {exc}") from exc
            raise
        version = answer.get("VersionId")
        if not version:
            raise VaultRefused(
                "NoVersion", f"storing {key}: the store gave no version id (versioning is off)"
            )
        self._ensure_locked(key, str(version), lock)
        return str(version)

    def _ensure_locked(self, key: str, version_id: str, want: LockState) -> None:
        """A store that let the lock given at CreateMultipartUpload go (some S3-compatible
        stores apply only the bucket's default on completion) gets it set on the version
        now: the same mode and date, which any store accepts (it only lengthens), and the
        hold. A store that refuses fails the copy, which stays pending."""
        have = self.lock_of(key, version_id)
        assert want.retain_until is not None
        short = have.retain_until is None or have.retain_until < want.retain_until - _SLACK
        if have.mode != want.mode or short:
            log.warning(
                "evidence vault: %s was not locked as asked at its multipart upload's "
                "creation (store says %s until %s); setting its retention now",
                key,
                have.mode,
                have.retain_until,
            )
            with _calls(f"setting the retention of {key}"):
                self.client.put_object_retention(
                    Bucket=self.bucket,
                    Key=key,
                    VersionId=version_id,
                    Retention={
                        "Mode": str(want.mode).upper(),
                        "RetainUntilDate": want.retain_until,
                    },
                )
        if want.legal_hold and not have.legal_hold:
            self.set_legal_hold(key, version_id, True)

    def _put_part(self, key: str, path: Path, upload_id: str, part: PartDigest) -> dict[str, Any]:
        with MeteredSlice(path, part.offset, part.length, _UNCAPPED) as body:
            answer = self.client.upload_part(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=part.number,
                Body=body,
                ContentLength=part.length,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=part.checksum,
            )
        verify_answer(
            answer, part.checksum, lambda: part_etag(path, part), f"{key} part {part.number}"
        )
        return {"PartNumber": part.number, "ETag": answer["ETag"], "ChecksumSHA256": part.checksum}

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
