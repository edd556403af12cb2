"""Where an export's files live: ``{storage}/.exports/{job}/`` with the clip and manifest.

Every path an export touches is made here, and nothing is removed outside that folder.
"""

from __future__ import annotations

import hashlib
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from cctvctl.models import ExportJob

__all__ = ["EXPORTS_DIR", "MANIFEST_NAME", "ExportFiles", "clip_name", "sha256_file"]

EXPORTS_DIR: Final = ".exports"
MANIFEST_NAME: Final = "manifest.json"
PARTIAL_NAME: Final = ".partial.mp4"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def sized_clip_name(name: str, n: int, width: int | None, height: int | None) -> str:
    """The name of an export's clip ``n`` (from 0) of another picture size, beside ``name``."""
    stem = name.removesuffix(".mp4")
    size = f"_{width}x{height}" if width and height else ""
    return f"{stem}_{n + 1}{size}.mp4"


def clip_name(job: ExportJob) -> str:
    """The clip's file name: camera and window, so a folder of evidence sorts itself."""
    return f"{job.camera}_{_stamp(job.start)}_{_stamp(job.end)}.mp4"


class ExportFiles:
    """The export folders under one storage root."""

    def __init__(self, storage_root: Path) -> None:
        self.root = storage_root / EXPORTS_DIR

    def job_dir(self, job_id: str) -> Path:
        return self.root / job_id

    def clip_path(self, job: ExportJob) -> Path:
        return self.job_dir(job.id) / clip_name(job)

    def manifest_path(self, job: ExportJob) -> Path:
        return self.job_dir(job.id) / MANIFEST_NAME

    def partial_path(self, job_id: str) -> Path:
        return self.job_dir(job_id) / PARTIAL_NAME

    def part_path(self, job_id: str, n: int, k: int = 0) -> Path:
        """Where clip ``k`` (a part spanning a change of picture size has several) of the
        ``n``-th part of a clip joined from several nodes waits for the join."""
        return self.job_dir(job_id) / (f".part-{n}.mp4" if k == 0 else f".part-{n}-{k}.mp4")

    def size_path(self, job_id: str, n: int) -> Path:
        """Where clip ``n`` (from 1) of a window spanning a change of picture size is made,
        until it is named beside the job's file."""
        return self.job_dir(job_id) / f".size-{n}.mp4"

    def remove(self, job_id: str) -> None:
        # Job ids are hex from secrets.token_hex; still, never rmtree outside our folder.
        target = self.job_dir(job_id)
        if target.parent == self.root and target.name and target.exists():
            shutil.rmtree(target, ignore_errors=True)

    def job_ids(self) -> list[str]:
        """The names of the job folders on disk; none when the folder cannot be read."""
        try:
            return [entry.name for entry in self.root.iterdir()]
        except OSError:
            return []
