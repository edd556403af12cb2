"""The audit log: who exported or rebooted what, when, and how it ended.

Rows live in the node's database (table ``audit``, migration 2), so an audit
row and the job it describes share one WAL journal and one backup. Rows are only ever
inserted: nothing in cctvctl updates or deletes them, which is the point of the log.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, TypedDict

from cctvctl.models import AuditEntry
from cctvctl.storage.database import Database, from_ts, to_ts

__all__ = [
    "EXPORT_CANCEL",
    "EXPORT_DOWNLOAD",
    "EXPORT_REQUEST",
    "MAX_LIMIT",
    "AuditFields",
    "AuditLog",
]

EXPORT_REQUEST: Final = "export.request"
EXPORT_DOWNLOAD: Final = "export.download"
EXPORT_CANCEL: Final = "export.cancel"

#: Upper bound on one query, so a careless ``limit`` cannot pull the whole table.
MAX_LIMIT: Final = 10_000

_COLUMNS: Final = "id, time, actor, role, action, target, reason, case_id, result, detail"
# A fixed column list; every value is bound.
_INSERT: Final = (
    "INSERT INTO audit (time, actor, role, action, target, reason, case_id, result, detail) "  # noqa: S608
    f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {_COLUMNS}"
)


class AuditFields(TypedDict, total=False):
    """The optional columns of a row, as keywords of :meth:`AuditLog.record`."""

    target: str | None
    reason: str | None
    case_id: str | None
    result: str
    detail: str | None


def _entry(r: tuple[Any, ...]) -> AuditEntry:
    return AuditEntry(
        id=r[0],
        time=from_ts(r[1]),
        actor=r[2],
        role=r[3],
        action=r[4],
        target=r[5],
        reason=r[6],
        case_id=r[7],
        result=r[8],
        detail=r[9],
    )


class AuditLog:
    """Append-only audit rows over a :class:`Database`; safe from any thread.

    Thread safety comes from the index: each thread writes on its own connection inside
    a ``BEGIN IMMEDIATE`` transaction, and SQLite serialises the writers.
    """

    def __init__(self, index: Database, *, clock: Callable[[], float] = time.time) -> None:
        self.index = index
        self._clock = clock

    def record(
        self,
        actor: str,
        role: str,
        action: str,
        target: str | None = None,
        reason: str | None = None,
        case_id: str | None = None,
        result: str = "ok",
        detail: str | None = None,
    ) -> AuditEntry:
        """Append one row and return it as stored."""
        when = self._clock()
        # str(): a Role (a StrEnum) is stored as its plain value.
        params = (when, actor, str(role), action, target, reason, case_id, result, detail)
        with self.index._write() as conn:
            row = conn.execute(
                _INSERT,
                params,
            ).fetchone()
        return _entry(tuple(row))

    def has(self, action: str, target: str, actor: str | None = None) -> bool:
        """Whether a row exists for ``action`` on ``target`` (by ``actor``, if given)."""
        sql = "SELECT 1 FROM audit WHERE action = ? AND target = ?"
        params: list[Any] = [action, target]
        if actor is not None:
            sql += " AND actor = ?"
            params.append(actor)
        return bool(self.index._query(sql + " LIMIT 1", params))

    def entries(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        action: str | None = None,
        actor: str | None = None,
        limit: int = 500,
    ) -> list[AuditEntry]:
        """Rows with ``since <= time < until``, oldest first; the newest ``limit`` of them.

        ``action`` matches exactly, or as a prefix when it ends in ``.`` or ``*``
        (``export.`` gives every export action).
        """
        where: list[str] = []
        params: list[Any] = []
        if since is not None:
            where.append("time >= ?")
            params.append(to_ts(since))
        if until is not None:
            where.append("time < ?")
            params.append(to_ts(until))
        if action is not None:
            if action.endswith(("*", ".")):
                where.append("substr(action, 1, ?) = ?")
                prefix = action.rstrip("*")
                params += [len(prefix), prefix]
            else:
                where.append("action = ?")
                params.append(action)
        if actor is not None:
            where.append("actor = ?")
            params.append(actor)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        n = max(0, min(int(limit), MAX_LIMIT))
        # Newest `n` first, then reversed: a reader wants the recent end of a long log.
        rows = self.index._query(
            f"SELECT {_COLUMNS} FROM audit {clause}ORDER BY id DESC LIMIT ?",  # noqa: S608
            (*params, n),
        )
        rows.reverse()
        return [_entry(tuple(r)) for r in rows]
