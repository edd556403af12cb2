"""The upload's digests: a multipart object's ETag from its parts' ETags is the one its
bytes give, and an answer that does not match is refused."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from cctvctl.archive.digests import (
    ChecksumMismatch,
    composite_etag,
    digest_file,
    etag_of,
    part_etag,
    verify_answer,
)


def test_the_parts_etags_give_the_objects_etag_without_reading_the_file(tmp_path: Path) -> None:
    path = tmp_path / "seg.mp4"
    data = os.urandom(2_500_000)
    path.write_bytes(data)
    digests = digest_file(path, 1_000_000)
    assert len(digests.parts) == 3
    tags = [part_etag(path, p) for p in digests.parts]
    # As S3 defines it: the MD5 of the parts' binary MD5s, and their count.
    md5s = b"".join(
        hashlib.md5(data[i : i + 1_000_000]).digest() for i in (0, 1_000_000, 2_000_000)
    )
    expected = f'"{hashlib.md5(md5s).hexdigest()}-3"'
    assert composite_etag(tags) == expected == etag_of(path, digests, multipart=True)
    # A store whose ETags are not MD5s (encrypted objects): no shortcut.
    assert composite_etag(['"not-an-md5"', tags[1]]) is None
    assert composite_etag([]) is None

    verify_answer({"ETag": expected}, digests.composite_checksum, lambda: expected, "seg")
    wrong = composite_etag([tags[0], tags[2], tags[1]])  # the parts assembled out of order
    assert wrong is not None and wrong != expected
    with pytest.raises(ChecksumMismatch, match="is not our MD5"):
        verify_answer({"ETag": wrong}, digests.composite_checksum, lambda: expected, "seg")
    with pytest.raises(ChecksumMismatch, match="SHA-256"):
        verify_answer({"ChecksumSHA256": "AAAA-3"}, digests.composite_checksum, str, "seg")
