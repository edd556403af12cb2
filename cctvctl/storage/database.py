"""The node's database: one SQLite file per storage root, and its segment index.

Every table lives here (segments, usage, events, audit, reboots, export jobs); the other
stores (``event_store``, ``audit``, ``exports``, ``reboot_log``) work over a
:class:`Database`, so a row and the job it describes share one WAL journal and one backup.

One database per storage root (``{root}/index.sqlite3``) in WAL mode, so the API server
keeps reading while camera ingest threads write. Every thread gets its own connection:
WAL lets readers run beside the single writer, and writers queue on ``busy_timeout``.
Write transactions start with ``BEGIN IMMEDIATE`` so a writer takes the lock up front
instead of failing half-way when it tries to upgrade a read lock.

The segment index is a cache of what is on disk: ``reconcile`` can rebuild every segment row from
the files, which is why ``synchronous=NORMAL`` (may lose the last commits on power loss,
never corrupts) is good enough.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal, Protocol

from cctvctl.models import Segment
from cctvctl.storage.layout import parse_segment_path
from cctvctl.storage.modes import DEFAULT_MODES, FileModes
from cctvctl.storage.schema import MIGRATIONS, Migration, migrate
from cctvctl.storage.where import Where

__all__ = [
    "INDEX_FILENAME",
    "Database",
    "IndexedFile",
    "SegmentInfo",
    "SegmentLike",
    "SegmentRow",
    "from_ts",
    "to_ts",
]

INDEX_FILENAME: Final = "index.sqlite3"
BUSY_TIMEOUT_SECONDS: Final = 30.0
#: How long a writer of this process waits its turn behind the others before it goes to
#: SQLite's own lock anyway (and its busy timeout): a bound, so no writer waits for ever.
WRITE_QUEUE_SECONDS: Final = 300.0


class SegmentLike(Protocol):
    """What the index needs of a closed segment (the segmenter's record fits)."""

    @property
    def camera_id(self) -> str: ...
    @property
    def path(self) -> Path: ...
    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...
    @property
    def bytes(self) -> int: ...
    @property
    def frames(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """A plain :class:`SegmentLike`, for segments that did not come from the segmenter."""

    camera_id: str
    path: Path
    start: datetime
    end: datetime
    bytes: int
    frames: int | None = None


@dataclass(frozen=True, slots=True)
class SegmentRow:
    id: int
    camera: str
    kecamatan: str
    start: datetime
    end: datetime
    bytes: int
    frames: int | None
    path: Path
    #: The file is on this disk (at ``path``); False: only the archive holds it.
    local: bool = True
    #: When the archive confirmed the upload; None: it does not hold it.
    archived: datetime | None = None
    sha256: str | None = None
    width: int | None = None  # the picture size of the segment's init (migration 8)
    height: int | None = None
    #: The object key the archive holds it under (migration 10); None: not archived, or
    #: archived before keys were recorded (then its stored path is the key, see
    #: ``storage.archive.ArchiveIndex.key``).
    archive_key: str | None = None

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    @property
    def location(self) -> Literal["local", "archived", "both"]:
        """``local``, ``archived`` or ``both``: where this footage can be read."""
        if self.archived is None:
            return "local"
        return "both" if self.local else "archived"

    def to_wire(self) -> Segment:
        return Segment(
            start=self.start,
            end=self.end,
            bytes=self.bytes,
            frames=self.frames,
            location=self.location,
        )


@dataclass(frozen=True, slots=True)
class IndexedFile:
    id: int
    bytes: int


def to_ts(when: datetime) -> float:
    if when.tzinfo is None:
        raise ValueError("datetimes given to the index must be timezone-aware")
    return when.timestamp()


def from_ts(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


# Queries below are assembled from these fixed fragments and fixed WHERE terms only;
# every value is a bound parameter, hence the S608 (string-built SQL) waivers.
#: Cameras named in one `IN (...)` of Database.spans (SQLite caps bound parameters).
_SPAN_CAMERAS: Final = 500
_SELECT_SEGMENTS: Final = (
    'SELECT id, camera, kecamatan, start, "end", bytes, frames, path, local, archived, sha256, '
    "width, height, archive_key FROM segments "
)


class Database:
    """The database of one storage root, with the segment index; callable from any thread."""

    def __init__(
        self,
        root: Path | str,
        *,
        filename: str = INDEX_FILENAME,
        clock: Callable[[], float] = time.time,
        migrations: Sequence[Migration] | None = None,
        modes: FileModes = DEFAULT_MODES,
    ) -> None:
        # Absolute, so a segment path given relative to the working directory still
        # matches the root and is stored relative to it.
        self.root = Path(root).absolute()
        self.modes = modes
        modes.make_dirs(self.root)
        self.db_path = self.root / filename
        # SQLite would create the file 0644 less the umask. Made (or tightened) here
        # first, it gives its mode to the -wal and -shm files SQLite creates next to it
        # (SQLite copies the database's mode to them); ones left by an older version are
        # set too.
        os.close(modes.open(self.db_path, os.O_RDWR | os.O_CREAT))
        for suffix in ("-wal", "-shm", "-journal"):
            modes.apply(self.db_path.with_name(filename + suffix), folder=False)
        self._clock = clock
        self._local = threading.local()
        self._conns: dict[threading.Thread, sqlite3.Connection] = {}
        self._conns_lock = threading.Lock()
        # This process's writers take turns here, blocked in the kernel, rather than in
        # SQLite's busy handler, which polls with sleeps and serves no one in order: a
        # thousand ingest threads closing segments together left some waiting past the
        # busy timeout ("database is locked") while the GIL slowed every transaction.
        self._writers = threading.Lock()
        self._closed = False
        try:
            conn = self._conn()
            migrate(conn, MIGRATIONS if migrations is None else migrations)
            # Gaps before this moment are not footage lost: nothing was recording yet.
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('created', ?)", (self._clock(),)
            )
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ connections

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if self._closed:
            raise RuntimeError("Database is closed")
        conn = sqlite3.connect(
            self.db_path,
            timeout=BUSY_TIMEOUT_SECONDS,
            isolation_level=None,  # transactions are explicit, see _write()
            check_same_thread=False,  # only so close() may close other threads' connections
        )
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        with self._conns_lock:
            # Threads come and go (thread pools, reconnecting ingest); a dead thread's
            # connection would otherwise stay open until close().
            for thread in [t for t in self._conns if not t.is_alive()]:
                self._conns.pop(thread).close()
            self._conns[threading.current_thread()] = conn
        self._local.conn = conn
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        turn = self._writers.acquire(timeout=WRITE_QUEUE_SECONDS)
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            if turn:
                self._writers.release()

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._conn().execute(sql, params).fetchall()

    def close(self) -> None:
        """Close every thread's connection; further calls raise."""
        with self._conns_lock:
            self._closed = True
            for conn in self._conns.values():
                conn.close()
            self._conns.clear()
        self._local = threading.local()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ meta

    @property
    def clock(self) -> Callable[[], float]:
        """The time source rows are stamped with (the event store uses it too)."""
        return self._clock

    def schema_version(self) -> int:
        return int(self._query("PRAGMA user_version")[0][0])

    def created(self) -> datetime:
        """When this index was first opened (or the oldest footage it has ever found)."""
        return from_ts(float(self._query("SELECT value FROM meta WHERE key = 'created'")[0][0]))

    def backdate_created(self, when: datetime) -> None:
        """Move ``created`` back to ``when`` if earlier: footage proves recording then.

        Used when an index is rebuilt over old files, so the time between that footage and
        the rebuild counts as missing rather than as before-the-recorder-existed.
        """
        with self._write() as conn:
            conn.execute(
                "UPDATE meta SET value = MIN(value, ?) WHERE key = 'created'", (to_ts(when),)
            )

    # ------------------------------------------------------------------ segments

    def stored_path(self, path: Path | str) -> str:
        """How the index spells ``path``: relative to the root when inside it."""
        # Relative paths let a storage volume be mounted somewhere else later.
        full = Path(path).absolute()
        try:
            return full.relative_to(self.root).as_posix()
        except ValueError:
            return str(full)

    def full_path(self, stored: str) -> Path:
        return self.root / stored

    def _row(self, r: Sequence[Any]) -> SegmentRow:
        return SegmentRow(
            id=r[0],
            camera=r[1],
            kecamatan=r[2],
            start=from_ts(r[3]),
            end=from_ts(r[4]),
            bytes=r[5],
            frames=r[6],
            path=self.full_path(r[7]),
            local=bool(r[8]),
            archived=None if r[9] is None else from_ts(r[9]),
            sha256=r[10],
            width=r[11],
            height=r[12],
            archive_key=r[13],
        )

    def segment_rows(self, tail: str, params: Sequence[Any]) -> list[SegmentRow]:
        """Segment rows by a fixed ``WHERE … ORDER BY …`` of a store over the index (its
        values bound, never written into ``tail``)."""
        return [self._row(r) for r in self._query(_SELECT_SEGMENTS + tail, params)]

    def add_segment(self, record: SegmentLike, *, kecamatan: str | None = None) -> int:
        """Index a closed segment (or update the row with the same path); returns its id.

        The kecamatan is read from the path when the file is in the standard layout. The
        file is local; a row the archive holds stays archived unless the file's size
        changed (a repaired file is another file: it is uploaded again).
        """
        if kecamatan is None:
            key = parse_segment_path(self.root, record.path)
            if key is None:
                raise ValueError(
                    f"{record.path} is not in the storage layout under {self.root}; "
                    "pass kecamatan explicitly"
                )
            kecamatan = key.kecamatan
        params = (
            record.camera_id,
            kecamatan,
            to_ts(record.start),
            max(to_ts(record.end), to_ts(record.start)),
            int(record.bytes),
            record.frames,
            self.stored_path(record.path),
        )
        # The segmenter's records know their picture size (migration 6); a probed file may
        # not, and then the row keeps what it had.
        size = (getattr(record, "width", None), getattr(record, "height", None))
        with self._write() as conn:
            row = conn.execute(
                'INSERT INTO segments (camera, kecamatan, start, "end", bytes, frames, path) '
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET "
                "camera = excluded.camera, kecamatan = excluded.kecamatan, start = excluded.start, "
                '"end" = excluded."end", bytes = excluded.bytes, frames = excluded.frames, '
                "local = 1, "
                "archived = CASE WHEN bytes = excluded.bytes THEN archived END, "
                "sha256 = CASE WHEN bytes = excluded.bytes THEN sha256 END, "
                "archive_key = CASE WHEN bytes = excluded.bytes THEN archive_key END "
                "RETURNING id",
                params,
            ).fetchone()
            if size[0] is not None and size[1] is not None:
                conn.execute(
                    "UPDATE segments SET width = ?, height = ? WHERE id = ?", (*size, row[0])
                )
        return int(row[0])

    def get(self, segment_id: int) -> SegmentRow | None:
        rows = self._query(_SELECT_SEGMENTS + "WHERE id = ?", (segment_id,))
        return self._row(rows[0]) if rows else None

    def segments(self, camera: str, start: datetime, end: datetime) -> list[SegmentRow]:
        """Segments of ``camera`` overlapping ``[start, end)``, ordered by start."""
        lo, hi = to_ts(start), to_ts(end)
        rows = self._query(
            _SELECT_SEGMENTS  # noqa: S608
            + 'WHERE camera = ? AND start < ? AND "end" > ? '
            "AND start >= ? - (SELECT value FROM meta WHERE key = 'max_seconds') "
            "ORDER BY start, id",
            (camera, hi, lo, lo),
        )
        return [self._row(r) for r in rows]

    def spans(
        self, cameras: Sequence[str], start: datetime, end: datetime
    ) -> dict[str, list[tuple[float, float]]]:
        """Per camera of ``cameras``, the (start, end) epoch seconds of its segments
        overlapping ``[start, end)``, ordered by start: many cameras' coverage in a few
        queries, not one each (every camera's query would give the GIL away once more)."""
        lo, hi = to_ts(start), to_ts(end)
        found: dict[str, list[tuple[float, float]]] = {}
        for first in range(0, len(cameras), _SPAN_CAMERAS):
            chunk = cameras[first : first + _SPAN_CAMERAS]
            marks = ",".join("?" * len(chunk))
            rows = self._query(
                f'SELECT camera, start, "end" FROM segments WHERE camera IN ({marks}) '  # noqa: S608
                'AND start < ? AND "end" > ? '
                "AND start >= ? - (SELECT value FROM meta WHERE key = 'max_seconds') "
                "ORDER BY start, id",
                (*chunk, hi, lo, lo),
            )
            for camera, s, e in rows:
                found.setdefault(camera, []).append((s, e))
        return found

    def spans_started(
        self, after: datetime, before: datetime
    ) -> dict[str, list[tuple[float, float]]]:
        """Per camera, the (start, end) epoch seconds of every camera's segments that start
        after ``after`` and before ``before``, ordered by start (one query)."""
        rows = self._query(
            'SELECT camera, start, "end" FROM segments WHERE start > ? AND start < ? '
            "ORDER BY start, id",
            (to_ts(after), to_ts(before)),
        )
        found: dict[str, list[tuple[float, float]]] = {}
        for camera, s, e in rows:
            found.setdefault(camera, []).append((s, e))
        return found

    def first_segment_start(self, camera: str) -> datetime | None:
        value = self._query("SELECT MIN(start) FROM segments WHERE camera = ?", (camera,))[0][0]
        return None if value is None else from_ts(value)

    def last_segment_end(self, camera: str) -> datetime | None:
        rows = self._query(
            'SELECT "end" FROM segments WHERE camera = ? ORDER BY start DESC LIMIT 1', (camera,)
        )
        return from_ts(rows[0][0]) if rows else None

    def oldest(
        self,
        n: int,
        *,
        kecamatan: str | None = None,
        camera: str | None = None,
        before: datetime | None = None,
        exclude_cameras: Collection[str] = (),
        archived: bool | None = None,
    ) -> list[SegmentRow]:
        """Up to ``n`` local segments by ascending start; ``before`` keeps those that ended
        before it; ``archived`` True keeps those the archive holds, False the others."""
        where = Where()
        where.add("local = 1")
        if archived is not None:
            where.add("archived IS NOT NULL" if archived else "archived IS NULL")
        where.equals("kecamatan", kecamatan)
        where.equals("camera", camera)
        if before is not None:
            # The start term is implied by the end term (end >= start), but it lets the
            # scan over the start index stop at `before` when nothing is old enough.
            where.add('"end" < ? AND start < ?', to_ts(before), to_ts(before))
        if exclude_cameras:
            where.add(
                "camera NOT IN (SELECT value FROM json_each(?))",
                json.dumps(sorted(exclude_cameras)),
            )
        rows = self._query(
            f"{_SELECT_SEGMENTS}{where.sql}ORDER BY start, id LIMIT ?",
            where.params(n),
        )
        return [self._row(r) for r in rows]

    def delete_segment(self, segment_id: int) -> bool:
        return self.delete_segments([segment_id]) == 1

    def delete_segments(self, ids: Iterable[int]) -> int:
        """Remove rows (not files); returns how many existed."""
        batch = [(int(i),) for i in ids]
        if not batch:
            return 0
        with self._write() as conn:
            # rowcount sums the direct deletions only; trigger work is not counted.
            return conn.executemany("DELETE FROM segments WHERE id = ?", batch).rowcount

    def drop_local(self, ids: Iterable[int]) -> int:
        """The local files of these rows are gone: a row the archive holds stays, as
        archived footage; the others are removed. Returns how many rows existed."""
        batch = [(int(i),) for i in ids]
        if not batch:
            return 0
        with self._write() as conn:
            kept = conn.executemany(
                "UPDATE segments SET local = 0 WHERE id = ? AND archived IS NOT NULL", batch
            ).rowcount
            gone = conn.executemany(
                "DELETE FROM segments WHERE id = ? AND archived IS NULL", batch
            ).rowcount
        return int(kept) + int(gone)

    def bytes_by_kecamatan(self) -> dict[str, int]:
        rows = self._query("SELECT kecamatan, SUM(bytes) FROM usage GROUP BY kecamatan")
        return {k: int(b) for k, b in rows}

    def bytes_by_camera(self) -> dict[str, int]:
        rows = self._query("SELECT camera, SUM(bytes) FROM usage GROUP BY camera")
        return {c: int(b) for c, b in rows}

    def total_bytes(self) -> int:
        return int(self._query("SELECT COALESCE(SUM(bytes), 0) FROM usage")[0][0])

    def segment_count(self) -> int:
        return int(self._query("SELECT COALESCE(SUM(segments), 0) FROM usage")[0][0])

    def bytes_written_since(self, since: datetime, kecamatan: str | None = None) -> int:
        """Bytes of segments indexed that ended at or after ``since``, deleted ones included."""
        return self._written_since(since, kecamatan)[0]

    def _written_since(self, since: datetime, kecamatan: str | None) -> tuple[int, float | None]:
        where = Where()
        where.add('"end" >= ?', to_ts(since))
        where.equals("kecamatan", kecamatan)
        sql = f"SELECT COALESCE(SUM(bytes), 0), MIN(start) FROM writes {where.sql}"  # noqa: S608
        written, first = self._query(sql, where.params())[0]
        return int(written), first

    def write_rate(self, now: datetime, window: timedelta, kecamatan: str | None = None) -> float:
        """Bytes per second written over the last ``window`` (or since writing began).

        The bytes are those of segments that ended within the window; they are divided by
        the time from the earliest of those segments' starts to ``now``, so a server that
        has recorded for only a minute reports its real rate rather than a minute's bytes
        spread over the whole window, and a recorder that stopped decays towards zero.
        The segments being written now are not counted yet: the rate lags by at most one
        segment length.
        """
        written, first = self._written_since(now - window, kecamatan)
        if written == 0 or first is None:
            return 0.0
        seconds = min(window.total_seconds(), to_ts(now) - float(first))
        return written / max(seconds, 1.0)

    def prune_writes(self, before: datetime) -> int:
        """Forget the write log up to ``before`` (older than any rate window asked for)."""
        with self._write() as conn:
            return conn.execute('DELETE FROM writes WHERE "end" < ?', (to_ts(before),)).rowcount

    def indexed_files(self) -> dict[str, IndexedFile]:
        """Every row's stored path (root-relative POSIX for files under the root) -> id, size.

        Keyed by the stored string rather than a Path: reconciliation compares millions of
        these with directory entries, and building Path objects would dominate its time.
        """
        rows = self._query("SELECT path, id, bytes FROM segments WHERE local = 1")
        return {p: IndexedFile(i, b) for p, i, b in rows}

    def all_paths(self) -> set[Path]:
        """Paths of every local file the index holds."""
        rows = self._query("SELECT path FROM segments WHERE local = 1")
        return {self.full_path(p) for (p,) in rows}
