"""The event log: the ``events`` table of the node's :class:`~cctvctl.storage.database.Database`.

:class:`~cctvctl.storage.events.EventBus` persists every event here before it fans it out,
and replays from here for an SSE client's ``Last-Event-ID``; retention prunes it. The table
itself is created by the database's migrations (version 1), like every other table, so one
schema version covers the whole file.

Ids come from ``AUTOINCREMENT`` and are never reused after old events are pruned, so a
client's ``Last-Event-ID`` can never point at a different event later.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from cctvctl.models import Event
from cctvctl.storage.database import Database, from_ts, to_ts
from cctvctl.storage.where import Where

__all__ = ["EventStore"]


class EventStore:
    """Append, page and prune events; every method may be called from any thread."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(
        self,
        type: str,
        *,
        camera: str | None = None,
        kecamatan: str | None = None,
        data: dict[str, object] | None = None,
        at: datetime | None = None,
    ) -> Event:
        when = self.db.clock() if at is None else to_ts(at)
        payload = dict(data or {})
        # default=str: a stray datetime or Path in an event must not lose the event.
        encoded = json.dumps(payload, default=str, separators=(",", ":"))
        with self.db._write() as conn:
            row = conn.execute(
                "INSERT INTO events (time, type, camera, kecamatan, data) VALUES (?, ?, ?, ?, ?) "
                "RETURNING id",
                (when, type, camera, kecamatan, encoded),
            ).fetchone()
        return Event(
            id=int(row[0]),
            time=from_ts(when),
            type=type,
            camera=camera,
            kecamatan=kecamatan,
            data=json.loads(encoded),
        )

    def read(
        self,
        since_id: int | None = None,
        limit: int = 100,
        types: Iterable[str] | None = None,
        camera: str | None = None,
        *,
        latest: bool = False,
    ) -> list[Event]:
        """Events after ``since_id``, oldest first.

        By default the *first* ``limit`` of them (page forward by passing the last id seen);
        with ``latest=True``, or without ``since_id``, the *last* ``limit`` of them.
        """
        where = Where()
        if since_id is not None:
            where.add("id > ?", since_id)
        where.among("type", types)
        where.equals("camera", camera)
        newest = latest or since_id is None
        # Fixed WHERE terms only; every value is bound.
        rows = self.db._query(
            "SELECT id, time, type, camera, kecamatan, data FROM events "  # noqa: S608
            f"{where.sql}ORDER BY id {'DESC' if newest else 'ASC'} LIMIT ?",
            where.params(limit),
        )
        if newest:
            rows.reverse()
        return [
            Event(
                id=r[0],
                time=from_ts(r[1]),
                type=r[2],
                camera=r[3],
                kecamatan=r[4],
                data=json.loads(r[5]),
            )
            for r in rows
        ]

    def count_after(self, since_id: int = 0) -> int:
        return int(self.db._query("SELECT COUNT(*) FROM events WHERE id > ?", (since_id,))[0][0])

    def last_id(self) -> int:
        return int(self.db._query("SELECT COALESCE(MAX(id), 0) FROM events")[0][0])

    def prune(self, before: datetime) -> int:
        """Delete events older than ``before``; returns how many."""
        with self.db._write() as conn:
            return conn.execute("DELETE FROM events WHERE time < ?", (to_ts(before),)).rowcount
