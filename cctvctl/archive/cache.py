"""Archived footage read back: a segment fetched from the store into a bounded local cache.

Recordings and gaps need only the index; an export (or anything that reads frames) needs
the file. A segment held only by the archive is fetched whole (a GET of the key its upload
was recorded under, ``ArchiveIndex.key``; its SHA-256 checked against the index) into
``{storage}/.archive-cache/{key}``, where it stays for the next reader until the cache
passes its size bound and the least recently used files go, or until the disk guard needs
the room (:meth:`ArchiveCache.release`: the cache goes before any footage). A file a
reader holds (:meth:`ArchiveCache.pinned`) is never evicted under it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final

from cctvctl.storage.archive import ArchiveIndex
from cctvctl.storage.database import Database, SegmentRow
from cctvctl.storage.modes import FileModes

__all__ = ["CACHE_DIR", "ArchiveCache", "ArchiveFetchError"]

log = logging.getLogger(__name__)

CACHE_DIR: Final = ".archive-cache"
DEFAULT_CACHE_BYTES: Final = 2 * 1000**3
_CHUNK: Final = 1 << 20


class ArchiveFetchError(Exception):
    """Archived footage could not be read back (store unreachable, object missing, or
    not the bytes the index recorded)."""


class ArchiveCache:
    """Local copies of archived segments, at most ``max_bytes`` of them when none is in use."""

    def __init__(
        self,
        index: Database,
        bucket: str,
        client: Any,
        *,
        max_bytes: int = DEFAULT_CACHE_BYTES,
        modes: FileModes | None = None,
    ) -> None:
        self.index = index
        self._archive = ArchiveIndex(index)
        self.bucket = bucket
        self.client = client
        self.max_bytes = max_bytes
        self.root = index.root / CACHE_DIR
        self.modes = modes or index.modes
        self._lock = threading.Lock()
        self._pins: Counter[Path] = Counter()
        self.fetched = 0  # segments fetched from the store since start-up
        self.fetched_bytes = 0

    def readable(self, row: SegmentRow) -> Path:
        """A path ``row``'s footage can be read from now: the local file, or a fetched copy."""
        if row.local:
            return row.path
        return self.fetch(row)

    def fetch(self, row: SegmentRow, *, pin: bool = False) -> Path:
        """The cached copy of ``row``, fetched first if need be; ``pin``: pinned in the same
        step, so that no eviction or :meth:`release` can take it before the caller reads."""
        # The key the upload was recorded under (a fleet node's carries its name).
        key = self._archive.key(row)
        target = self.root / key
        with self._lock:
            if target.is_file() and target.stat().st_size == row.bytes:
                os.utime(target)  # recently used
                if pin:
                    self._pins[target] += 1
                return target
        if row.archived is None:
            raise ArchiveFetchError(f"{key} is neither on this disk nor in the archive")
        self.modes.make_dirs(target.parent)
        partial = target.with_name(target.name + ".part")
        digest = hashlib.sha256()
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            fd = self.modes.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            with os.fdopen(fd, "wb") as out:
                for chunk in iter(lambda: body.read(_CHUNK), b""):
                    digest.update(chunk)
                    out.write(chunk)
        except ArchiveFetchError:
            raise
        except Exception as exc:  # botocore's errors, a cut link, a full disk
            partial.unlink(missing_ok=True)
            raise ArchiveFetchError(
                f"archived footage {key} could not be fetched from the archive: {exc}"
            ) from exc
        if row.sha256 is not None and digest.hexdigest() != row.sha256:
            partial.unlink(missing_ok=True)
            raise ArchiveFetchError(
                f"archived footage {key} is not what was uploaded (SHA-256 "
                f"{digest.hexdigest()}, the index has {row.sha256})"
            )
        with self._lock:
            os.replace(partial, target)
            if pin:
                self._pins[target] += 1
            self.fetched += 1
            self.fetched_bytes += row.bytes
        self._evict()
        return target

    @contextlib.contextmanager
    def pinned(self, rows: Sequence[SegmentRow]) -> Iterator[dict[Path, Path]]:
        """Every row readable while the block runs: ``{row.path: readable path}``. Fetched
        copies are not evicted until the block ends (eviction may then take them)."""
        paths: dict[Path, Path] = {}
        held: list[Path] = []
        try:
            for row in rows:
                if row.local:
                    paths[row.path] = row.path
                    continue
                path = self.fetch(row, pin=True)
                paths[row.path] = path
                held.append(path)
            yield paths
        finally:
            with self._lock:
                for path in held:
                    self._pins[path] -= 1
                    if self._pins[path] <= 0:
                        del self._pins[path]
            self._evict()

    def release(self, need: int) -> int:
        """Free at least ``need`` bytes if the cache holds them (least recently used
        first, never a pinned copy); returns the bytes freed. The disk guard calls this
        before it deletes any footage: a cached copy can be fetched again."""
        with self._lock:
            return self._drop(lambda total, freed: freed < need)

    def _evict(self) -> None:
        with self._lock:
            self._drop(lambda total, freed: total - freed > self.max_bytes)

    def _drop(self, more: Callable[[int, int], bool]) -> int:
        """Unlink unpinned copies, oldest use first, while ``more(total, freed)``
        (lock held, so that a copy cannot be pinned between the check and the unlink)."""
        try:
            files = [(p, p.stat()) for p in self.root.rglob("*.mp4") if p.is_file()]
        except FileNotFoundError:
            return 0
        total = sum(st.st_size for _, st in files)
        freed = 0
        for path, st in sorted(files, key=lambda f: f[1].st_mtime):
            if not more(total, freed):
                break
            if path in self._pins:
                continue
            path.unlink(missing_ok=True)
            freed += st.st_size
        return freed
