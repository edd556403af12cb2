"""The digests of a file as it is uploaded: SHA-256 of the whole (the index, the object's
metadata, the export's proof) and of each part (the checksum the store verifies), in one
read. MD5 (what an S3 store's ETag is) only when a store answers without a checksum of
its own (:func:`etag_of`), since it costs more CPU than SHA-256 here."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "MD5_ETAG",
    "ChecksumMismatch",
    "FileDigests",
    "PartDigest",
    "b64",
    "composite_etag",
    "digest_file",
    "etag_of",
    "part_etag",
    "verify_answer",
]

_CHUNK = 1 << 20
#: An ETag that is an MD5 (of a PUT, or "-N" of a multipart upload's parts' MD5s).
MD5_ETAG = re.compile(r'^"?[0-9a-f]{32}(-\d+)?"?$')
_PART_MD5 = re.compile(r"^[0-9a-f]{32}$")


class ChecksumMismatch(Exception):
    """The store's answer says it holds other bytes than we sent."""


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True, slots=True)
class PartDigest:
    number: int  # from 1
    offset: int
    length: int
    sha256: bytes

    @property
    def checksum(self) -> str:
        """The part's ``x-amz-checksum-sha256``."""
        return b64(self.sha256)


@dataclass(frozen=True, slots=True)
class FileDigests:
    size: int
    sha256: str  # hex, of the whole file
    parts: tuple[PartDigest, ...]

    @property
    def whole_checksum(self) -> str:
        """The whole file's ``x-amz-checksum-sha256`` (a single PUT)."""
        return b64(bytes.fromhex(self.sha256))

    @property
    def composite_checksum(self) -> str:
        """S3's checksum of a multipart object: the SHA-256 of the parts' SHA-256s, "-N"."""
        joined = hashlib.sha256(b"".join(p.sha256 for p in self.parts)).digest()
        return f"{b64(joined)}-{len(self.parts)}"


def _md5(path: Path, offset: int, length: int) -> bytes:
    md5 = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        f.seek(offset)
        left = length
        while left > 0 and (chunk := f.read(min(_CHUNK, left))):
            md5.update(chunk)
            left -= len(chunk)
    return md5.digest()


def part_etag(path: Path, part: PartDigest) -> str:
    """The ETag an S3 store gives a part: its MD5, quoted."""
    return f'"{_md5(path, part.offset, part.length).hex()}"'


def etag_of(path: Path, digests: FileDigests, *, multipart: bool) -> str:
    """The ETag an S3 store gives the object: the MD5 of a single PUT, or the MD5 of the
    parts' MD5s and their count for a multipart upload."""
    if not multipart:
        return f'"{_md5(path, 0, digests.size).hex()}"'
    md5s = b"".join(_md5(path, p.offset, p.length) for p in digests.parts)
    joined = hashlib.md5(md5s, usedforsecurity=False).hexdigest()
    return f'"{joined}-{len(digests.parts)}"'


def composite_etag(part_etags: Sequence[str]) -> str | None:
    """The ETag an S3 store gives a multipart object, from its parts' ETags as the store
    gave them (the MD5 of their MD5s, "-N"): proof that it assembled those parts, without
    reading the file again. None when a part's ETag is not an MD5 (then :func:`etag_of`)."""
    tags = [t.strip('"') for t in part_etags]
    if not tags or not all(_PART_MD5.match(t) for t in tags):
        return None
    joined = hashlib.md5(b"".join(bytes.fromhex(t) for t in tags), usedforsecurity=False)
    return f'"{joined.hexdigest()}-{len(tags)}"'


def digest_file(path: Path, part_size: int) -> FileDigests:
    """One read of ``path``: its SHA-256, and each ``part_size`` part's SHA-256."""
    whole = hashlib.sha256()
    parts: list[PartDigest] = []
    offset = 0
    with open(path, "rb") as f:
        while True:
            sha = hashlib.sha256()
            length = 0
            while length < part_size:
                chunk = f.read(min(_CHUNK, part_size - length))
                if not chunk:
                    break
                whole.update(chunk)
                sha.update(chunk)
                length += len(chunk)
            if length == 0 and parts:
                break
            parts.append(PartDigest(len(parts) + 1, offset, length, sha.digest()))
            offset += length
            if length < part_size:
                break
    return FileDigests(offset, whole.hexdigest(), tuple(parts))


def verify_answer(
    answer: Mapping[str, Any], checksum: str, etag: Callable[[], str], what: str
) -> None:
    """The store's answer must show the bytes we sent: its checksum where it gives one,
    else its ETag (an MD5 for unencrypted objects on every S3 store; computed only then,
    since MD5 costs more CPU than the upload's own SHA-256). Raises
    :class:`ChecksumMismatch`."""
    got = answer.get("ChecksumSHA256")
    if got:
        if got.split("-")[0] != checksum.split("-")[0]:
            raise ChecksumMismatch(f"{what}: the store's SHA-256 {got} is not ours {checksum}")
        return
    tag = str(answer.get("ETag", ""))
    if MD5_ETAG.match(tag) and tag.strip('"') != (ours := etag()).strip('"'):
        raise ChecksumMismatch(f"{what}: the store's ETag {tag} is not our MD5 {ours}")
