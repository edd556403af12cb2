"""Where segments live on disk, and how to read a segment's identity back from its path.

``{root}/{kecamatan-slug}/{camera-id}/{YYYY-MM-DD}/{HHMMSS}.mp4``, all in UTC. When two
segments of a camera start in the same second the later one is ``HHMMSS-1.mp4``,
``HHMMSS-2.mp4``, ... The path alone identifies a segment, so the index can always be
rebuilt from the files.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Final

__all__ = [
    "QUARANTINE_DIR",
    "SegmentKey",
    "day_folder",
    "iter_segment_dirs",
    "iter_segment_entries",
    "iter_segment_files",
    "parse_segment_path",
    "prune_empty_dirs",
    "segment_path",
]

#: Under the root; files start-up recovery could not use are moved here, never deleted.
QUARANTINE_DIR: Final = ".quarantine"

_COMPONENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_FILE = re.compile(r"^(\d{2})(\d{2})(\d{2})(?:-([1-9]\d{0,5}))?\.mp4$")


@dataclass(frozen=True, slots=True)
class SegmentKey:
    """What a segment's path says about it."""

    kecamatan: str
    camera: str
    start: datetime  # UTC, whole seconds: the file name has no finer resolution
    seq: int = 0  # collision suffix: 0 for HHMMSS.mp4, n for HHMMSS-n.mp4


def _component(value: str, what: str) -> str:
    # Slugs and ids become directory names; refuse anything that could escape the root.
    if not _COMPONENT.fullmatch(value) or value in {".", ".."}:
        raise ValueError(f"{what} {value!r} is not a safe path component")
    return value


def _utc(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError("segment start must be timezone-aware")
    return when.astimezone(UTC)


def segment_path(
    root: Path | str, kecamatan_slug: str, camera_id: str, start_utc: datetime
) -> Path:
    """The first free path for a segment starting at ``start_utc``.

    Only checks existence; a writer that may race another writer for the same camera
    must create the file with O_EXCL (the segmenter does) and move on to the next suffix.
    """
    start = _utc(start_utc)
    folder = day_folder(root, kecamatan_slug, camera_id, start.date())
    stem = f"{start:%H%M%S}"
    path = folder / f"{stem}.mp4"
    n = 0
    while path.exists():
        n += 1
        path = folder / f"{stem}-{n}.mp4"
    return path


def day_folder(root: Path | str, kecamatan_slug: str, camera_id: str, day: date) -> Path:
    """The folder of a camera's segments that start on ``day`` (UTC)."""
    return (
        Path(root)
        / _component(kecamatan_slug, "kecamatan slug")
        / _component(camera_id, "camera id")
        / f"{day:%Y-%m-%d}"
    )


def _key(kecamatan: str, camera: str, day: str, name: str) -> SegmentKey | None:
    if not (_COMPONENT.fullmatch(kecamatan) and _COMPONENT.fullmatch(camera)):
        return None
    d = _DAY.fullmatch(day)
    f = _FILE.fullmatch(name)
    if d is None or f is None:
        return None
    try:
        start = datetime(
            int(d[1]), int(d[2]), int(d[3]), int(f[1]), int(f[2]), int(f[3]), tzinfo=UTC
        )
    except ValueError:  # 2024-02-30 or 246099: looks like ours, is not
        return None
    return SegmentKey(kecamatan, camera, start, int(f[4] or 0))


def parse_segment_path(root: Path | str, path: Path | str) -> SegmentKey | None:
    """The key of a segment file under ``root``, or None for anything else found there."""
    try:
        rel = Path(path).absolute().relative_to(Path(root).absolute())
    except ValueError:
        return None
    parts = rel.parts
    if len(parts) != 4 or any(p.startswith(".") for p in parts):
        return None
    return _key(*parts)


def _subdirs(path: str) -> Iterator[os.DirEntry[str]]:
    try:
        with os.scandir(path) as it:
            entries = list(it)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return
    for entry in entries:
        # Hidden folders hold the quarantine and anything else that is not footage.
        if not entry.name.startswith(".") and entry.is_dir(follow_symlinks=False):
            yield entry


def iter_segment_entries(root: Path | str) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """``(root-relative POSIX path, directory entry)`` of every file named like a segment.

    Walks exactly the four levels of the layout with ``os.scandir`` and only matches
    names, building no Path or datetime per file: start-up reconciliation goes through
    millions of files this way (60 cameras keep 2.6 million minute segments in 30 days).
    Parse the key with :func:`parse_segment_path` for the few files that need it.
    """
    for kec in _subdirs(str(root)):
        if not _COMPONENT.fullmatch(kec.name):
            continue
        for cam in _subdirs(kec.path):
            if not _COMPONENT.fullmatch(cam.name):
                continue
            for day in _subdirs(cam.path):
                if not _DAY.fullmatch(day.name):
                    continue
                try:
                    with os.scandir(day.path) as it:
                        files = [e for e in it if e.is_file(follow_symlinks=False)]
                except (FileNotFoundError, NotADirectoryError, PermissionError):
                    continue
                prefix = f"{kec.name}/{cam.name}/{day.name}/"
                for entry in files:
                    if _FILE.fullmatch(entry.name):
                        yield prefix + entry.name, entry


def iter_segment_dirs(root: Path | str) -> Iterator[Path]:
    """Every kecamatan, camera and day folder of the layout under ``root``."""
    for kec in _subdirs(str(root)):
        if not _COMPONENT.fullmatch(kec.name):
            continue
        yield Path(kec.path)
        for cam in _subdirs(kec.path):
            if not _COMPONENT.fullmatch(cam.name):
                continue
            yield Path(cam.path)
            for day in _subdirs(cam.path):
                if _DAY.fullmatch(day.name):
                    yield Path(day.path)


def iter_segment_files(root: Path | str) -> Iterator[tuple[Path, SegmentKey]]:
    """Every segment file under ``root`` with its key; stray files and folders are skipped."""
    for rel, entry in iter_segment_entries(root):
        key = _key(*rel.split("/"))
        if key is not None:
            yield Path(entry.path), key


def prune_empty_dirs(
    root: Path | str, segment: Path | str, *, keep_from: date | None = None
) -> int:
    """Remove the day, camera and kecamatan folders above a deleted segment once empty.

    A day folder dated ``keep_from`` or later is left in place even when empty: the
    segmenter may have just created it and be about to open a file there, and removing
    it under that writer would fail a segment roll. Returns how many folders went.
    """
    root = Path(root)
    try:
        rel = Path(segment).relative_to(root)
    except ValueError:
        return 0
    if len(rel.parts) != 4:
        return 0
    day = _DAY.fullmatch(rel.parts[2])
    if day is None:
        return 0
    if keep_from is not None and date(int(day[1]), int(day[2]), int(day[3])) >= keep_from:
        return 0
    removed = 0
    folder = root / rel.parent
    while folder != root:
        try:
            folder.rmdir()
        except OSError:  # not empty (or already gone): either way, stop climbing
            break
        removed += 1
        folder = folder.parent
    return removed
