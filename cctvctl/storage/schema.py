"""The schema of the node's database: its migrations, and how they are applied.

Every table of ``{root}/index.sqlite3`` is created here, whichever store reads it, so one
``PRAGMA user_version`` says what the whole file holds.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

__all__ = ["MIGRATIONS", "IndexVersionError", "Migration", "migrate"]

# A random version-4 UUID in SQLite's own functions, for rows written before ids were made.
_RANDOM_UUID = (
    "lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || "
    "substr(lower(hex(randomblob(2))), 2) || '-' || "
    "substr('89ab', 1 + abs(random()) % 4, 1) || substr(lower(hex(randomblob(2))), 2) || '-' || "
    "lower(hex(randomblob(6)))"
)

# A migration is the list of statements taking the schema from version N-1 to N (its
# position in MIGRATIONS, counting from 1). Never edit a released one: append a new one.
Migration = Sequence[str]

MIGRATIONS: list[Migration] = [
    # 1: segments, usage totals kept by triggers, events, meta.
    (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID",
        # The longest segment ever indexed bounds how far back an overlap query must look,
        # which lets it use the (camera, start) index instead of scanning a camera's rows.
        "INSERT INTO meta (key, value) VALUES ('max_seconds', 0.0)",
        """CREATE TABLE segments (
            id INTEGER PRIMARY KEY,
            camera TEXT NOT NULL,
            kecamatan TEXT NOT NULL,
            start REAL NOT NULL,
            "end" REAL NOT NULL,
            bytes INTEGER NOT NULL,
            frames INTEGER,
            path TEXT NOT NULL UNIQUE,
            CHECK ("end" >= start)
        )""",
        "CREATE INDEX segments_camera_start ON segments (camera, start)",
        "CREATE INDEX segments_kecamatan_start ON segments (kecamatan, start)",
        "CREATE INDEX segments_start ON segments (start)",
        # Write rate = bytes of segments that ended recently; asked for on every health poll.
        'CREATE INDEX segments_end ON segments ("end")',
        # Summing bytes over hundreds of thousands of rows on each health poll would be
        # slow; triggers keep per-camera totals exact inside the same transaction.
        """CREATE TABLE usage (
            kecamatan TEXT NOT NULL,
            camera TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            segments INTEGER NOT NULL,
            PRIMARY KEY (kecamatan, camera)
        ) WITHOUT ROWID""",
        """CREATE TRIGGER segments_ai AFTER INSERT ON segments BEGIN
            INSERT INTO usage (kecamatan, camera, bytes, segments)
                VALUES (NEW.kecamatan, NEW.camera, NEW.bytes, 1)
                ON CONFLICT (kecamatan, camera) DO UPDATE
                SET bytes = bytes + excluded.bytes, segments = segments + 1;
            UPDATE meta SET value = MAX(value, NEW."end" - NEW.start) WHERE key = 'max_seconds';
        END""",
        """CREATE TRIGGER segments_ad AFTER DELETE ON segments BEGIN
            UPDATE usage SET bytes = bytes - OLD.bytes, segments = segments - 1
                WHERE kecamatan = OLD.kecamatan AND camera = OLD.camera;
            DELETE FROM usage WHERE segments <= 0;
        END""",
        """CREATE TRIGGER segments_au AFTER UPDATE ON segments BEGIN
            UPDATE usage SET bytes = bytes - OLD.bytes, segments = segments - 1
                WHERE kecamatan = OLD.kecamatan AND camera = OLD.camera;
            INSERT INTO usage (kecamatan, camera, bytes, segments)
                VALUES (NEW.kecamatan, NEW.camera, NEW.bytes, 1)
                ON CONFLICT (kecamatan, camera) DO UPDATE
                SET bytes = bytes + excluded.bytes, segments = segments + 1;
            DELETE FROM usage WHERE segments <= 0;
            UPDATE meta SET value = MAX(value, NEW."end" - NEW.start) WHERE key = 'max_seconds';
        END""",
        # AUTOINCREMENT: ids are never reused after old events are pruned, so an SSE
        # client's Last-Event-ID can never point at a different event later.
        # `data` is declared TEXT, not JSON: a JSON type name would get NUMERIC affinity.
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            time REAL NOT NULL,
            type TEXT NOT NULL,
            camera TEXT,
            kecamatan TEXT,
            data TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX events_time ON events (time)",
        "CREATE INDEX events_camera ON events (camera, id)",
    ),
    # 2: audit log, reboot jobs, export jobs.
    (
        "CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, "
        "actor TEXT NOT NULL, role TEXT NOT NULL, action TEXT NOT NULL, target TEXT, "
        "reason TEXT, case_id TEXT, result TEXT NOT NULL, detail TEXT)",
        "CREATE INDEX audit_time ON audit(time)",
        "CREATE TABLE reboots (id TEXT PRIMARY KEY, camera TEXT NOT NULL, "
        "requested REAL NOT NULL, actor TEXT NOT NULL, reason TEXT, state TEXT NOT NULL, "
        "detail TEXT, finished REAL, batch TEXT)",
        "CREATE INDEX reboots_camera ON reboots(camera, requested)",
        # A job row is the whole job: the worker rebuilds its queue from it after a
        # restart, and `gaps` (JSON text) and the frame times survive for the job list.
        """CREATE TABLE export_jobs (
            id TEXT PRIMARY KEY,
            camera TEXT NOT NULL,
            start REAL NOT NULL,
            "end" REAL NOT NULL,
            case_id TEXT,
            note TEXT,
            requester TEXT NOT NULL,
            role TEXT NOT NULL,
            created REAL NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            started REAL,
            finished REAL,
            percent REAL NOT NULL DEFAULT 0,
            bytes_done INTEGER NOT NULL DEFAULT 0,
            bytes_total INTEGER NOT NULL DEFAULT 0,
            eta_seconds REAL,
            first_frame REAL,
            last_frame REAL,
            gaps TEXT NOT NULL DEFAULT '[]',
            size INTEGER,
            sha256 TEXT,
            expires REAL,
            error TEXT
        )""",
        "CREATE INDEX export_jobs_state ON export_jobs (state, created)",
        "CREATE INDEX export_jobs_created ON export_jobs (created)",
    ),
    # 3: the write log, the basis of write rates. A segment row leaves `segments` when
    # retention deletes it, but its bytes were still written; rates taken from surviving
    # segments fell to a tenth of the truth on a volume the disk guard keeps pruning.
    # Rows are added by trigger, in the transaction that indexes the segment, and pruned
    # by retention once older than any rate window.
    (
        """CREATE TABLE writes (
            id INTEGER PRIMARY KEY,
            camera TEXT NOT NULL,
            kecamatan TEXT NOT NULL,
            start REAL NOT NULL,
            "end" REAL NOT NULL,
            bytes INTEGER NOT NULL
        )""",
        'CREATE INDEX writes_end ON writes ("end")',
        # Only a new row is a new write: re-indexing a path (an upsert) is the same file.
        """CREATE TRIGGER segments_written AFTER INSERT ON segments BEGIN
            INSERT INTO writes (camera, kecamatan, start, "end", bytes)
                VALUES (NEW.camera, NEW.kecamatan, NEW.start, NEW."end", NEW.bytes);
        END""",
        # An upgraded index starts with what it still has of the last day.
        'INSERT INTO writes (camera, kecamatan, start, "end", bytes) '
        'SELECT camera, kecamatan, start, "end", bytes FROM segments '
        "WHERE \"end\" >= CAST(strftime('%s', 'now') AS REAL) - 86400",
    ),
    # 4: what a fleet node owes the fleet store, kept here so that an outage of the store,
    # or a restart during one, loses nothing (storage/outbox.py, runs.py, token_cache.py).
    (
        # The id the fleet store knows a row by, made once where the row is written, so a
        # row sent again after a lost reply is stored once. Rows of older versions get
        # theirs here (a random version-4 UUID; the only UPDATE the audit table ever sees).
        "ALTER TABLE audit ADD COLUMN uuid TEXT",
        f"UPDATE audit SET uuid = {_RANDOM_UUID}",  # noqa: S608 - a constant of this module
        "CREATE UNIQUE INDEX audit_uuid ON audit (uuid)",
        # Audit ids only grow (AUTOINCREMENT, one writer at a time), so the rows not yet
        # sent are exactly those after this one.
        "INSERT INTO meta (key, value) VALUES ('fleet_audit_sent', 0)",
        # The coarse footage catalogue as this node derives it from `segments`: one row
        # per run of a camera, the start of its last segment (where the next pass reads
        # on from), and the end the store has acknowledged (NULL: never sent).
        """CREATE TABLE fleet_runs (
            camera TEXT NOT NULL,
            start REAL NOT NULL,
            "end" REAL NOT NULL,
            last_start REAL NOT NULL,
            sent_end REAL,
            PRIMARY KEY (camera, start),
            CHECK ("end" >= start)
        ) WITHOUT ROWID""",
        # The fleet's API tokens as last read from the store (hashes only, as in the
        # inventory), so a node started while the store is down still accepts them.
        """CREATE TABLE fleet_tokens (
            name TEXT PRIMARY KEY,
            role TEXT NOT NULL,
            hash TEXT NOT NULL
        ) WITHOUT ROWID""",
    ),
    # 5: what each camera's device last said about itself over ONVIF (devicecheck/): its
    # clock's offset from ours and its identity, kept so an export's manifest and a
    # restarted server have the last reading (storage/device_checks.py).
    (
        """CREATE TABLE device_checks (
            camera TEXT PRIMARY KEY,
            clock_offset REAL,
            clock_at REAL,
            clock_tz TEXT,
            clock_type TEXT,
            clock_error TEXT,
            clock_error_at REAL,
            manufacturer TEXT,
            model TEXT,
            firmware TEXT,
            serial TEXT,
            hardware_id TEXT,
            info_at REAL,
            info_error TEXT,
            info_error_at REAL
        ) WITHOUT ROWID""",
    ),
    # 6: the archive tier (issue 14; storage/archive.py). A segment row stays while its
    # footage exists anywhere: `local` says whether the file is on this disk, `archived`
    # when the S3 store confirmed the upload (NULL: not yet), `sha256` the file's digest
    # as uploaded. `usage` now counts local bytes only (the disk, the quotas);
    # `archive_usage` counts what the store holds. The usage triggers are replaced to say so.
    (
        "ALTER TABLE segments ADD COLUMN local INTEGER NOT NULL DEFAULT 1",
        "ALTER TABLE segments ADD COLUMN archived REAL",
        "ALTER TABLE segments ADD COLUMN sha256 TEXT",
        # The upload queue: local segments the store does not hold yet, oldest first.
        "CREATE INDEX segments_unarchived ON segments (start) WHERE archived IS NULL AND local = 1",
        # Local copies that may go (local_days, the disk guard), oldest first.
        "CREATE INDEX segments_archived_local ON segments (start) "
        "WHERE archived IS NOT NULL AND local = 1",
        # Archive retention (archive_days), oldest first.
        "CREATE INDEX segments_archived ON segments (start) WHERE archived IS NOT NULL",
        """CREATE TABLE archive_usage (
            kecamatan TEXT NOT NULL,
            camera TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            segments INTEGER NOT NULL,
            PRIMARY KEY (kecamatan, camera)
        ) WITHOUT ROWID""",
        "DROP TRIGGER segments_ai",
        "DROP TRIGGER segments_ad",
        "DROP TRIGGER segments_au",
        """CREATE TRIGGER segments_ai AFTER INSERT ON segments BEGIN
            INSERT INTO usage (kecamatan, camera, bytes, segments)
                SELECT NEW.kecamatan, NEW.camera, NEW.bytes, 1 WHERE NEW.local = 1
                ON CONFLICT (kecamatan, camera) DO UPDATE
                SET bytes = bytes + excluded.bytes, segments = segments + 1;
            INSERT INTO archive_usage (kecamatan, camera, bytes, segments)
                SELECT NEW.kecamatan, NEW.camera, NEW.bytes, 1 WHERE NEW.archived IS NOT NULL
                ON CONFLICT (kecamatan, camera) DO UPDATE
                SET bytes = bytes + excluded.bytes, segments = segments + 1;
            UPDATE meta SET value = MAX(value, NEW."end" - NEW.start) WHERE key = 'max_seconds';
        END""",
        """CREATE TRIGGER segments_ad AFTER DELETE ON segments BEGIN
            UPDATE usage SET bytes = bytes - OLD.bytes, segments = segments - 1
                WHERE kecamatan = OLD.kecamatan AND camera = OLD.camera AND OLD.local = 1;
            DELETE FROM usage WHERE segments <= 0;
            UPDATE archive_usage SET bytes = bytes - OLD.bytes, segments = segments - 1
                WHERE kecamatan = OLD.kecamatan AND camera = OLD.camera
                AND OLD.archived IS NOT NULL;
            DELETE FROM archive_usage WHERE segments <= 0;
        END""",
        """CREATE TRIGGER segments_au AFTER UPDATE ON segments BEGIN
            UPDATE usage SET bytes = bytes - OLD.bytes, segments = segments - 1
                WHERE kecamatan = OLD.kecamatan AND camera = OLD.camera AND OLD.local = 1;
            INSERT INTO usage (kecamatan, camera, bytes, segments)
                SELECT NEW.kecamatan, NEW.camera, NEW.bytes, 1 WHERE NEW.local = 1
                ON CONFLICT (kecamatan, camera) DO UPDATE
                SET bytes = bytes + excluded.bytes, segments = segments + 1;
            DELETE FROM usage WHERE segments <= 0;
            UPDATE archive_usage SET bytes = bytes - OLD.bytes, segments = segments - 1
                WHERE kecamatan = OLD.kecamatan AND camera = OLD.camera
                AND OLD.archived IS NOT NULL;
            INSERT INTO archive_usage (kecamatan, camera, bytes, segments)
                SELECT NEW.kecamatan, NEW.camera, NEW.bytes, 1 WHERE NEW.archived IS NOT NULL
                ON CONFLICT (kecamatan, camera) DO UPDATE
                SET bytes = bytes + excluded.bytes, segments = segments + 1;
            DELETE FROM archive_usage WHERE segments <= 0;
            UPDATE meta SET value = MAX(value, NEW."end" - NEW.start) WHERE key = 'max_seconds';
        END""",
        # Footage retention had to delete before the archive held it (storage/retention.py).
        "INSERT INTO meta (key, value) VALUES ('archive_lost_segments', 0)",
        "INSERT INTO meta (key, value) VALUES ('archive_lost_bytes', 0)",
        # A multipart upload under way, so a restart resumes it (the store's ListParts
        # says which parts it holds) instead of sending the file again.
        """CREATE TABLE archive_uploads (
            segment INTEGER PRIMARY KEY,
            key TEXT NOT NULL,
            upload_id TEXT NOT NULL,
            part_size INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            started REAL NOT NULL
        )""",
    ),
    # 7: the evidence vault (issue 14).
    (
        # The evidence vault (exports/vault.py): one row per finished export, pending
        # until its clip and manifest are stored under Object Lock. The versions are
        # written as soon as the store gives them, so a retry after a crash or a lost
        # reply adopts what landed instead of storing it twice. `hold_applied` is what
        # the store last confirmed of the case's legal hold (case_holds says what is
        # asked), so a hold set while the store is down is applied when it is back.
        """CREATE TABLE vault_copies (
            job TEXT PRIMARY KEY,
            case_id TEXT,
            bucket TEXT NOT NULL,
            mode TEXT NOT NULL,
            retain_until REAL NOT NULL,
            clip_key TEXT NOT NULL,
            clip_sha256 TEXT NOT NULL,
            clip_version TEXT,
            manifest_key TEXT NOT NULL,
            manifest_sha256 TEXT,
            manifest_version TEXT,
            state TEXT NOT NULL DEFAULT 'pending',
            hold_applied INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            next_try REAL NOT NULL DEFAULT 0,
            stored REAL
        ) WITHOUT ROWID""",
        "CREATE INDEX vault_copies_case ON vault_copies (case_id)",
        """CREATE TABLE case_holds (
            case_id TEXT PRIMARY KEY,
            since REAL NOT NULL,
            actor TEXT NOT NULL,
            reason TEXT
        ) WITHOUT ROWID""",
    ),
    # 8: the picture size of each segment's init (NULL: not known, e.g. indexed before
    # this version or probed without one). A camera whose resolution changes gets a new
    # segment, and an export that spans the change one clip per size.
    (
        "ALTER TABLE segments ADD COLUMN width INTEGER",
        "ALTER TABLE segments ADD COLUMN height INTEGER",
    ),
    # 9: exports of several clips (a window spanning a change of picture size).
    (
        # The job's clips as the manifest lists them (JSON; NULL for one clip), so a
        # listing shows them without reading every manifest.
        "ALTER TABLE export_jobs ADD COLUMN clips TEXT",
        # Each clip after the first of such an export in the evidence vault (the first
        # stays in vault_copies, so a one-clip export is stored exactly as before): its
        # key, SHA-256 and the version the store gave, written as soon as it is given.
        """CREATE TABLE vault_clips (
            job TEXT NOT NULL,
            n INTEGER NOT NULL,
            file TEXT NOT NULL,
            key TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            version TEXT,
            PRIMARY KEY (job, n)
        ) WITHOUT ROWID""",
    ),
    # 10: the object key each segment was uploaded under (storage/archive.py). Fleet nodes
    # share one bucket, and two nodes recording one camera in a handover can both start a
    # segment in the same second: a fleet node's keys carry its name so neither replaces
    # the other's object. Readers (the fetch cache, expiry) use the recorded key. NULL: not
    # uploaded, or uploaded before this version, under the key the stored path gives (so
    # nothing already archived moves; no backfill: the path is that key).
    ("ALTER TABLE segments ADD COLUMN archive_key TEXT",),
]


class IndexVersionError(RuntimeError):
    """The database was written by a newer cctvctl; refusing beats corrupting it."""


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration]) -> int:
    """Bring the schema up to ``len(migrations)``; returns the version found before.

    Runs in one IMMEDIATE transaction and re-reads the version inside it, so two
    processes opening a fresh database at once cannot both apply a step.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if found > len(migrations):
            raise IndexVersionError(
                f"index schema version {found} is newer than this cctvctl knows "
                f"({len(migrations)}); upgrade cctvctl or move the index aside"
            )
        for version in range(found + 1, len(migrations) + 1):
            for statement in migrations[version - 1]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return found
