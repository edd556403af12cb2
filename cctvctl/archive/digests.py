"""The digests of a file as it is uploaded: SHA-256 of the whole (the index, the object's
metadata, the export's proof), and per part SHA-256 (the checksum the store verifies) and
MD5 (what an S3 store's ETag is, so we can check what it holds even where it does not
verify checksums)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["FileDigests", "PartDigest", "b64", "digest_file"]

_CHUNK = 1 << 20


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True, slots=True)
class PartDigest:
    number: int  # from 1
    offset: int
    length: int
    sha256: bytes
    md5: bytes

    @property
    def checksum(self) -> str:
        """The part's ``x-amz-checksum-sha256``."""
        return b64(self.sha256)

    @property
    def etag(self) -> str:
        return f'"{self.md5.hex()}"'


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
    def etag(self) -> str:
        """The ETag an S3 store gives the object: the MD5 of a single PUT, or the MD5 of the
        parts' MD5s and their count for a multipart upload."""
        if len(self.parts) == 1:
            return self.parts[0].etag
        joined = hashlib.md5(b"".join(p.md5 for p in self.parts), usedforsecurity=False)
        return f'"{joined.hexdigest()}-{len(self.parts)}"'


def digest_file(path: Path, part_size: int) -> FileDigests:
    """One read of ``path``: its SHA-256, and each ``part_size`` part's SHA-256 and MD5."""
    whole = hashlib.sha256()
    parts: list[PartDigest] = []
    offset = 0
    with open(path, "rb") as f:
        while True:
            sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
            length = 0
            while length < part_size:
                chunk = f.read(min(_CHUNK, part_size - length))
                if not chunk:
                    break
                whole.update(chunk)
                sha.update(chunk)
                md5.update(chunk)
                length += len(chunk)
            if length == 0 and parts:
                break
            parts.append(PartDigest(len(parts) + 1, offset, length, sha.digest(), md5.digest()))
            offset += length
            if length < part_size:
                break
    return FileDigests(offset, whole.hexdigest(), tuple(parts))
