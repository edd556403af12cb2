"""What the index knows of the archive tier: which segments the S3 store holds, the
upload queue, multipart uploads under way, and the figures health reports.

Table ``segments`` (migration 6: ``local``, ``archived``, ``sha256``; migration 10:
``archive_key``) and ``archive_uploads``, over a :class:`Database`.

Object keys. A single node's key is the segment's stored path,
``{kecamatan}/{camera}/{YYYY-MM-DD}/{HHMMSS}.mp4``, so the archive is laid out as the disk.
Fleet nodes share one bucket, and in a failover or handback two of them record a camera at
once for a few seconds: both may start a segment in the same second, and one key for both
would let the later upload replace the earlier (once the first node's local copy went, its
footage would be gone). A fleet node's key therefore carries its name,
``{kecamatan}/{camera}/{YYYY-MM-DD}/{HHMMSS}.{node}.mp4`` (:func:`node_key`): still sorted by
time, and readable. The key an upload went to is recorded with the row when the store
confirms it (``segments.archive_key``); while it is under way it is in
``archive_uploads.key``, and a resumed upload (ListParts, or HEAD for one that finished
unrecorded) keeps it. Every reader (the fetch cache, archive retention) uses the recorded
key (:meth:`ArchiveIndex.key`), so renaming a node or turning a single node into a fleet
node moves nothing already archived. A row archived before keys were recorded (migration
10) has none, and its stored path is its key, as it was then.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from cctvctl.storage.database import Database, SegmentRow, from_ts, to_ts

__all__ = ["ArchiveFigures", "ArchiveIndex", "MultipartState", "node_key"]

_BATCH: Final = 500


@dataclass(frozen=True, slots=True)
class MultipartState:
    """A multipart upload the store has begun for a segment."""

    segment: int
    key: str
    upload_id: str
    part_size: int
    bytes: int
    sha256: str
    started: datetime


@dataclass(frozen=True, slots=True)
class ArchiveFigures:
    """One kecamatan's (or the node's) archive figures."""

    backlog_bytes: int = 0
    backlog_segments: int = 0
    oldest_unarchived: datetime | None = None
    archived_bytes: int = 0
    archived_segments: int = 0


def node_key(stored: str, node: str | None) -> str:
    """The object key a new upload of the segment stored at ``stored`` goes to: the stored
    path itself on a single node (``node`` None), with ``.{node}`` before the extension on
    a fleet node (``…/2026-12-06/083000.mp4`` → ``…/2026-12-06/083000.sgu-1.mp4``), so
    that two nodes never share a key. Node names are slugs (letters, digits, '-'), so the
    key stays a plain path, and a day's keys still sort by time."""
    if node is None:
        return stored
    stem, dot, ext = stored.rpartition(".")
    if not dot or "/" in ext:  # no extension (never one of ours, but never lose the node)
        return f"{stored}.{node}"
    return f"{stem}.{node}.{ext}"


class ArchiveIndex:
    """The archive's side of the index; callable from any thread. ``node``: this node's
    name on a fleet node (its new uploads' keys carry it), None on a single node."""

    def __init__(self, index: Database, *, node: str | None = None) -> None:
        self.index = index
        self.node = node

    def key(self, row: SegmentRow) -> str:
        """The object key the archive holds ``row`` under: the key recorded when its upload
        was confirmed, or for a row archived before keys were recorded, its stored path
        (the key of that time). Every reader of the archive goes through this."""
        return row.archive_key or self.index.stored_path(row.path)

    def upload_key(self, row: SegmentRow) -> str:
        """The key a new upload of ``row`` goes to (:func:`node_key` of this node). An
        upload already under way keeps the key it began with (``MultipartState.key``)."""
        return node_key(self.index.stored_path(row.path), self.node)

    # ------------------------------------------------------------------ the queue

    def pending(self, *, closed_before: datetime, kept_after: datetime, n: int) -> list[SegmentRow]:
        """Up to ``n`` local segments the store does not hold, oldest first: those that
        ended before ``closed_before`` (``archive_after``) and after ``kept_after`` (older
        footage is past ``archive_days``: no use sending it)."""
        return self.index.segment_rows(
            'WHERE archived IS NULL AND local = 1 AND "end" <= ? AND "end" >= ? '
            "ORDER BY start, id LIMIT ?",
            (to_ts(closed_before), to_ts(kept_after), n),
        )

    def mark_archived(
        self, segment_id: int, sha256: str, when: datetime, *, size: int, key: str
    ) -> bool:
        """The store confirmed the upload of ``segment_id`` (``size`` bytes, the size the
        row still has: a file re-indexed meanwhile is another file) under ``key``, which
        readers use from now on. Clears its multipart state. False if the row is gone or
        changed."""
        with self.index._write() as conn:
            done = conn.execute(
                "UPDATE segments SET archived = ?, sha256 = ?, archive_key = ? "
                "WHERE id = ? AND bytes = ?",
                (to_ts(when), sha256, key, segment_id, size),
            ).rowcount
            conn.execute("DELETE FROM archive_uploads WHERE segment = ?", (segment_id,))
        return bool(done)

    # ------------------------------------------------------------------ multipart

    def multipart(self, segment_id: int) -> MultipartState | None:
        rows = self.index._query(
            "SELECT segment, key, upload_id, part_size, bytes, sha256, started "
            "FROM archive_uploads WHERE segment = ?",
            (segment_id,),
        )
        if not rows:
            return None
        r = rows[0]
        return MultipartState(r[0], r[1], r[2], r[3], r[4], r[5], from_ts(r[6]))

    def begin_multipart(self, state: MultipartState) -> None:
        with self.index._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO archive_uploads "
                "(segment, key, upload_id, part_size, bytes, sha256, started) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    state.segment,
                    state.key,
                    state.upload_id,
                    state.part_size,
                    state.bytes,
                    state.sha256,
                    to_ts(state.started),
                ),
            )

    def end_multipart(self, segment_id: int) -> None:
        with self.index._write() as conn:
            conn.execute("DELETE FROM archive_uploads WHERE segment = ?", (segment_id,))

    def orphan_multiparts(self) -> list[MultipartState]:
        """Multipart uploads whose segment is gone or already archived: to abort."""
        rows = self.index._query(
            "SELECT u.segment, u.key, u.upload_id, u.part_size, u.bytes, u.sha256, u.started "
            "FROM archive_uploads u LEFT JOIN segments s ON s.id = u.segment "
            "WHERE s.id IS NULL OR s.archived IS NOT NULL OR s.local = 0 OR s.bytes != u.bytes"
        )
        return [MultipartState(r[0], r[1], r[2], r[3], r[4], r[5], from_ts(r[6])) for r in rows]

    # ------------------------------------------------------------------ retention

    def local_copies(self, *, started_before: datetime, n: int = _BATCH) -> list[SegmentRow]:
        """Local segments the store holds that started before ``started_before``, oldest
        first: the copies ``local_days`` lets go."""
        return self.index.segment_rows(
            "WHERE archived IS NOT NULL AND local = 1 AND start < ? ORDER BY start LIMIT ?",
            (to_ts(started_before), n),
        )

    def expired(self, *, ended_before: datetime, n: int = _BATCH) -> list[SegmentRow]:
        """Archived segments that ended before ``ended_before`` (``archive_days``)."""
        return self.index.segment_rows(
            'WHERE archived IS NOT NULL AND start < ? AND "end" < ? ORDER BY start LIMIT ?',
            (to_ts(ended_before), to_ts(ended_before), n),
        )

    def forget_archived(self, ids: Iterable[int]) -> int:
        """The store no longer holds these: rows without a local copy go; a local copy
        stays as local footage (older than archive_days, so it is not queued again)."""
        batch = [(int(i),) for i in ids]
        if not batch:
            return 0
        with self.index._write() as conn:
            gone = conn.executemany(
                "DELETE FROM segments WHERE id = ? AND local = 0", batch
            ).rowcount
            kept = conn.executemany(
                "UPDATE segments SET archived = NULL, archive_key = NULL "
                "WHERE id = ? AND local = 1",
                batch,
            ).rowcount
        return int(gone) + int(kept)

    # ------------------------------------------------------------------ figures

    def record_lost(self, segments: int, size: int) -> None:
        """Retention deleted footage the archive did not hold (the lost-footage counter)."""
        with self.index._write() as conn:
            conn.execute(
                "UPDATE meta SET value = value + ? WHERE key = 'archive_lost_segments'",
                (segments,),
            )
            conn.execute(
                "UPDATE meta SET value = value + ? WHERE key = 'archive_lost_bytes'", (size,)
            )

    def lost(self) -> tuple[int, int]:
        """(segments, bytes) retention deleted before the archive held them, ever."""
        rows = dict(
            self.index._query(
                "SELECT key, value FROM meta "
                "WHERE key IN ('archive_lost_segments', 'archive_lost_bytes')"
            )
        )
        return int(rows.get("archive_lost_segments", 0)), int(rows.get("archive_lost_bytes", 0))

    def figures(self, *, kept_after: datetime) -> dict[str, ArchiveFigures]:
        """Per kecamatan: the backlog (local segments not archived that ended after
        ``kept_after``) and what the store holds."""
        backlog = self.index._query(
            "SELECT kecamatan, SUM(bytes), COUNT(*), MIN(start) FROM segments "
            'WHERE archived IS NULL AND local = 1 AND "end" >= ? GROUP BY kecamatan',
            (to_ts(kept_after),),
        )
        usage = self.index._query(
            "SELECT kecamatan, SUM(bytes), SUM(segments) FROM archive_usage GROUP BY kecamatan"
        )
        out: dict[str, dict[str, object]] = {}
        for kec, b, n, oldest in backlog:
            out.setdefault(kec, {}).update(
                backlog_bytes=int(b), backlog_segments=int(n), oldest_unarchived=from_ts(oldest)
            )
        for kec, b, n in usage:
            out.setdefault(kec, {}).update(archived_bytes=int(b), archived_segments=int(n))
        return {kec: ArchiveFigures(**values) for kec, values in out.items()}  # type: ignore[arg-type]
