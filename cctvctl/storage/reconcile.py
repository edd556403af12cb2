"""Start-up reconciliation: make the index agree with the segment files on disk.

Run once when the server starts, before any recording thread opens a file. Files that
are indexed with their recorded size are trusted without being opened, so a restart over
a full volume costs one directory walk and one stat per file; only files the index does
not know (usually the segment each camera was writing when the process died) or whose
size changed are repaired and probed.

It also brings every file and folder to the configured modes (see
:mod:`cctvctl.storage.modes`): footage written by an older version, which made segments
0644 in 0755 folders, is closed to other users at the first start of this one. The stat
that decides whether a file changed gives its mode for free, so that costs one chmod per
file once, and nothing afterwards.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cctvctl.storage import fmp4
from cctvctl.storage.database import Database, SegmentInfo
from cctvctl.storage.layout import (
    QUARANTINE_DIR,
    SegmentKey,
    day_folder,
    iter_segment_dirs,
    iter_segment_entries,
    parse_segment_path,
    prune_empty_dirs,
)
from cctvctl.storage.modes import DEFAULT_MODES, FileModes

__all__ = ["ReconcileReport", "quarantine", "reconcile", "reconcile_camera_since"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ReconcileReport:
    files: int = 0  # segment files found on disk
    unchanged: int = 0  # indexed with the same size: not opened
    added: int = 0  # were missing from the index, now indexed
    reprobed: int = 0  # indexed, but the size on disk differed: row rewritten
    repaired: int = 0  # cut back to their last whole fragment (and kept)
    quarantined: int = 0  # unusable: moved to {root}/.quarantine/
    removed_empty: int = 0  # zero-byte files: nothing to keep
    failed: int = 0  # could not be read or cut: left alone and not indexed
    dropped: int = 0  # index rows whose file is gone
    modes_set: int = 0  # files and folders set to the configured mode (older versions')
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)  # one line per file worth a look

    @property
    def changed(self) -> bool:
        return bool(
            self.added
            + self.reprobed
            + self.repaired
            + self.quarantined
            + self.removed_empty
            + self.failed
            + self.dropped
        )

    def summary(self) -> str:
        return (
            f"reconciled {self.files} segment files in {self.seconds:.1f} s: "
            f"{self.added} added, {self.reprobed} re-probed, {self.repaired} repaired, "
            f"{self.quarantined} quarantined, {self.removed_empty} empty removed, "
            f"{self.failed} unreadable, {self.dropped} index rows dropped, "
            f"{self.modes_set} files and folders set to the configured mode"
        )


def quarantine(root: Path, path: Path, modes: FileModes = DEFAULT_MODES) -> Path:
    """Move ``path`` under ``{root}/.quarantine/`` keeping its relative path; returns it.

    Evidence is never deleted on a guess: someone may still want to look at the bytes.
    """
    try:
        rel = path.relative_to(root)
    except ValueError:
        rel = Path(path.name)
    target = root / QUARANTINE_DIR / rel
    modes.make_dirs(target.parent)
    n = 0
    while target.exists():
        n += 1
        target = target.with_name(f"{rel.stem}.{n}{rel.suffix}")
    os.replace(path, target)
    return target


def _set_folder_modes(root: Path, modes: FileModes) -> int:
    """The root, the layout's folders, and hidden trees (quarantine, exports) in full."""
    changed = int(modes.apply_root(root))
    changed += sum(modes.apply(folder, folder=True) for folder in iter_segment_dirs(root))
    with os.scandir(root) as it:
        hidden = [Path(e.path) for e in it if e.name.startswith(".") and e.is_dir()]
    return changed + sum(modes.apply_walk(top) for top in hidden)


def _drop_row(index: Database, row_id: int | None) -> None:
    # The archive may still hold the footage: then the row stays, as archived only.
    if row_id is not None:
        index.drop_local([row_id])


def _check_file(
    root: Path,
    index: Database,
    path: Path,
    key: SegmentKey,
    row_id: int | None,
    report: ReconcileReport,
) -> None:
    """Repair, probe and (re-)index one file the index does not vouch for."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        _drop_row(index, row_id)
        return
    if size == 0:
        # The segmenter reserves the name before the muxer writes a byte; a crash in
        # between leaves an empty file that holds nothing worth quarantining.
        path.unlink(missing_ok=True)
        _drop_row(index, row_id)
        prune_empty_dirs(root, path)
        report.removed_empty += 1
        return

    fixed = fmp4.repair(path)
    if fixed.status is fmp4.RepairStatus.FAILED:
        report.failed += 1
        report.problems.append(f"{path}: left alone, {fixed.reason}")
        return
    probed = fmp4.probe(path) if fixed.status is not fmp4.RepairStatus.UNUSABLE else None
    if probed is None or not probed.ok:
        reason = fixed.reason if probed is None else probed.error
        _drop_row(index, row_id)
        where = quarantine(root, path, index.modes)
        prune_empty_dirs(root, path)
        report.quarantined += 1
        report.problems.append(f"{path}: quarantined as {where}, {reason}")
        return
    if fixed.status is fmp4.RepairStatus.REPAIRED:
        report.repaired += 1
        report.problems.append(
            f"{path}: cut from {fixed.original_size} to {fixed.size} bytes "
            f"({fixed.fragments} whole fragments kept), {fixed.reason}"
        )

    # The name holds the wall-clock start (whole seconds); keep a row's finer start.
    existing = index.get(row_id) if row_id is not None else None
    start = existing.start if existing is not None else key.start
    index.add_segment(
        SegmentInfo(
            camera_id=key.camera,
            path=path,
            start=start,
            end=start + timedelta(seconds=probed.duration),
            bytes=path.stat().st_size,
            frames=probed.frames,
        ),
        kecamatan=key.kecamatan,
    )
    if row_id is None:
        report.added += 1
    else:
        report.reprobed += 1


def _check_counted(
    root: Path,
    index: Database,
    path: Path,
    key: SegmentKey,
    row_id: int | None,
    report: ReconcileReport,
) -> None:
    """:func:`_check_file`, counted in ``report``; a file that cannot be read is a problem
    reported, not the end of the pass."""
    report.files += 1
    try:
        _check_file(root, index, path, key, row_id, report)
    except OSError as exc:
        report.failed += 1
        report.problems.append(f"{path}: {exc}")


def reconcile(root: Path | str, index: Database) -> ReconcileReport:
    """Bring ``index`` in line with the files under ``root``; idempotent."""
    began = time.monotonic()
    root = Path(root).absolute()
    if root != index.root:
        # Rows are stored relative to the index's root; walking another folder would
        # make every row look orphaned and every file look new.
        raise ValueError(f"reconcile root {root} is not the index's root {index.root}")
    report = ReconcileReport()
    indexed = index.indexed_files()
    seen: set[str] = set()

    modes = index.modes
    for rel, entry in iter_segment_entries(root):
        row = indexed.get(rel)
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue  # vanished under us: its row, if any, is dropped below
        size = st.st_size
        if stat.S_IMODE(st.st_mode) != modes.file:
            report.modes_set += modes.apply(Path(entry.path), folder=False)
        seen.add(rel)
        if row is not None and size == row.bytes:
            report.files += 1
            report.unchanged += 1
            continue
        path = Path(entry.path)
        key = parse_segment_path(root, path)
        if key is None:  # named like a segment, but no real time (hour 25, 30 February)
            continue
        _check_counted(root, index, path, key, None if row is None else row.id, report)

    gone = [
        row.id
        for stored, row in indexed.items()
        if stored not in seen and not index.full_path(stored).exists()
    ]
    report.dropped = index.drop_local(gone)
    report.modes_set += _set_folder_modes(root, modes)

    # An index rebuilt over old footage: the recorder demonstrably existed back then.
    first = index.oldest(1)
    if first and first[0].start < index.created():
        index.backdate_created(first[0].start)

    report.seconds = time.monotonic() - began
    for line in report.problems:
        log.warning("reconcile: %s", line)
    return report


def reconcile_camera_since(
    index: Database, kecamatan: str, camera: str, since: datetime
) -> ReconcileReport:
    """Repair, probe and index the camera's files named from ``since`` on that the index
    does not hold: what a writer that died (an ingest worker process) left, including a
    file it opened too late to have told anyone. Only the camera's folders of the days
    from ``since`` to now are read; call it once no one writes the camera's files."""
    report = ReconcileReport()
    root = index.root
    now = datetime.fromtimestamp(index.clock(), UTC)
    indexed = {row.path for row in index.segments(camera, since - timedelta(minutes=1), now)}
    day = since.astimezone(UTC).date()
    while day <= now.date():
        folder = day_folder(root, kecamatan, camera, day)
        for path in sorted(folder.glob("*.mp4")) if folder.is_dir() else []:
            key = parse_segment_path(root, path)
            if key is None or key.start < since.replace(microsecond=0) or path in indexed:
                continue
            _check_counted(root, index, path, key, None, report)
        day += timedelta(days=1)
    for line in report.problems:
        log.warning("reconcile: %s", line)
    return report
