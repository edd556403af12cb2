"""Saving an export's clip: resumed after a dropped connection, checked against the
manifest's size and SHA-256, and only then renamed into place with the manifest beside it.
Both front ends save clips this way."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from cctvctl.client._errors import TimedOut, Unreachable
from cctvctl.models import ExportClip, ExportManifest

if TYPE_CHECKING:
    from cctvctl.client._blocking import CctvClient

#: :func:`save_export`: drops in a row before giving up; a drop after some progress starts
#: the count again, so a link that keeps breaking but keeps moving still finishes.
DOWNLOAD_RETRIES: Final = 5
DOWNLOAD_BACKOFF: Final = 0.5  # seconds before the first retry, doubled each time, capped
DOWNLOAD_MAX_BACKOFF: Final = 8.0
PART_SUFFIX: Final = ".part"
MANIFEST_SUFFIX: Final = ".manifest.json"

_HASH_BLOCK: Final = 1024 * 1024


def part_path(output: Path) -> Path:
    """Where a clip bound for ``output`` grows until it verifies: ``FILE.part``."""
    return output.with_name(output.name + PART_SUFFIX)


def manifest_path(output: Path) -> Path:
    """Where a saved clip's manifest goes: ``FILE.manifest.json``."""
    return output.with_name(output.name + MANIFEST_SUFFIX)


@dataclass(frozen=True)
class SavedClip:
    """What :func:`save_export` left on disk."""

    file: Path
    manifest_file: Path
    size: int
    sha256: str
    resumed_from: int  # bytes already in the .part when this run started


class DownloadFailed(Exception):
    """The clip could not be fetched or did not verify; ``str()`` is one line."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def clip_outputs(clips: Sequence[ExportClip], output: Path) -> list[Path]:
    """Where each clip of an export goes, given ``output`` for the first.

    One clip (``clips`` empty): ``output``. A window that spans a change of picture size
    (the manifest's or the job's ``clips``): the first at ``output``, clip ``n`` (from 1)
    beside it as
    ``STEM_{n+1}_{W}x{H}{SUFFIX}``, as the server names them (``clip.mp4``,
    ``clip_2_1280x720.mp4``), so a folder of evidence sorts in time order.
    """
    paths = [output]
    for n, clip in enumerate(clips[1:], start=1):
        size = f"_{clip.width}x{clip.height}" if clip.width and clip.height else ""
        paths.append(output.with_name(f"{output.stem}_{n + 1}{size}{output.suffix}"))
    return paths


def save_export(
    client: CctvClient,
    job_id: str,
    manifest: ExportManifest,
    output: Path,
    *,
    resume: bool,
    progress: Callable[[int, int], None] | None = None,
    note: Callable[[str], None] | None = None,
    cancelled: threading.Event | None = None,
    resume_hint: str | None = None,
) -> list[SavedClip]:
    """Fetch every clip of ``job_id`` to :func:`clip_outputs` of ``output``, verified.

    Each clip grows in its :func:`part_path`; drops are resumed with HTTP Range, backing
    off, until :data:`DOWNLOAD_RETRIES` in a row make no progress. Only when every clip
    matches its size and SHA-256 in the manifest are they renamed into place, and the
    manifest written beside the first (:func:`manifest_path`); else the ``.part`` files
    stay (a verified one is not fetched again on resume). ``resume``: continue ``.part``
    files left earlier rather than discard them. ``progress(position, size)`` counts all
    clips together, a resumed part too; ``note(line)`` hears of retries and restarts;
    ``cancelled`` stops between attempts, keeping the ``.part``; ``resume_hint`` ends the
    give-up message. Raises :class:`DownloadFailed`, or the client's error when the
    server refuses. Returns the clips in the manifest's order (one for one size).
    """
    outputs = clip_outputs(manifest.clips, output)
    wanted = [(manifest.size, manifest.sha256)]
    wanted += [(c.size, c.sha256) for c in manifest.clips[1:]]
    total = sum(size for size, _ in wanted)
    saved: list[SavedClip] = []
    for n, (target, (size, sha256)) in enumerate(zip(outputs, wanted, strict=True)):
        base = sum(s for s, _ in wanted[:n])

        def counted(position: int, _size: int, base: int = base) -> None:
            if progress is not None:
                progress(base + position, total)

        have = _fetch_clip(
            client,
            job_id,
            n,
            size,
            sha256,
            target,
            resume=resume,
            progress=counted,
            note=note,
            cancelled=cancelled,
            resume_hint=resume_hint,
        )
        saved.append(SavedClip(target, manifest_path(output), size, sha256, have))
    for target in outputs:
        os.replace(part_path(target), target)
    mfile = manifest_path(output)
    tmp = mfile.with_name(mfile.name + ".tmp")
    tmp.write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, mfile)
    return saved


def _fetch_clip(
    client: CctvClient,
    job_id: str,
    clip: int,
    size: int,
    sha256: str,
    output: Path,
    *,
    resume: bool,
    progress: Callable[[int, int], None],
    note: Callable[[str], None] | None,
    cancelled: threading.Event | None,
    resume_hint: str | None,
) -> int:
    """Clip ``clip`` into ``output``'s ``.part``, checked against ``size`` and ``sha256``;
    returns how many bytes the ``.part`` held when this run started."""
    part = part_path(output)
    if not resume:
        part.unlink(missing_ok=True)
    have = part.stat().st_size if part.exists() else 0
    if have > size:
        if note is not None:
            note(f"{part} is larger than the clip ({have} > {size} bytes); starting over")
        part.unlink()
        have = 0
    started_with = have
    failures = 0
    etag = f'"{sha256}"'
    progress(have, size)
    while have < size:
        if cancelled is not None and cancelled.is_set():
            raise DownloadFailed(f"stopped at byte {have} of {size}; kept in {part}")
        with part.open("r+b" if part.exists() else "w+b") as sink:
            sink.seek(have)
            before = have
            try:
                client.download_export(
                    job_id,
                    sink,
                    offset=have,
                    etag=etag,
                    progress=lambda pos, total: progress(pos, total or size),
                    clip=clip,
                )
            except (Unreachable, TimedOut) as exc:
                sink.flush()
                have = sink.seek(0, os.SEEK_END)
                failures = 1 if have > before else failures + 1
                if failures > DOWNLOAD_RETRIES:
                    hint = f"; {resume_hint}" if resume_hint else ""
                    raise DownloadFailed(
                        f"{exc}; gave up after {DOWNLOAD_RETRIES} tries in a row without "
                        f"progress. {have} of {size} bytes are in {part}{hint}"
                    ) from None
                delay = min(DOWNLOAD_BACKOFF * 2 ** (failures - 1), DOWNLOAD_MAX_BACKOFF)
                if note is not None:
                    note(
                        f"connection lost at byte {have} of {size} ({exc.detail}); "
                        f"resuming in {delay:g} s"
                    )
                if cancelled is not None:
                    cancelled.wait(delay)
                else:
                    time.sleep(delay)
                continue
            sink.flush()
            os.fsync(sink.fileno())
            have = sink.seek(0, os.SEEK_END)
        if have > size:
            break
    if not part.exists():
        part.touch()  # an empty clip is impossible, but let the check below say so
    actual_size = part.stat().st_size
    actual = sha256_of(part)
    if actual_size != size or actual != sha256:
        raise DownloadFailed(
            f"{part} does not match the manifest: {actual_size} bytes, SHA-256 {actual}; "
            f"the manifest says {size} bytes, SHA-256 {sha256}. "
            f"Not renamed to {output.name}; delete the .part to download afresh"
        )
    return started_with
