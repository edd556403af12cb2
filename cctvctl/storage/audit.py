"""The audit log: who exported or rebooted what, when, and how it ended.

Rows live in the node's database (table ``audit``, migration 2), so an audit
row and the job it describes share one WAL journal and one backup. Rows are only ever
inserted: nothing in cctvctl updates or deletes them, which is the point of the log (the
one exception: migration 4 gave the rows written before it their ``uuid``, the id a row
has in the fleet store; since then each row gets its own as it is written).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TypedDict

from cctvctl.models import AuditEntry
from cctvctl.storage.columns import Columns
from cctvctl.storage.database import Database, from_ts, to_ts
from cctvctl.storage.where import Where

__all__ = [
    "CASE_HOLD",
    "CASE_RELEASE",
    "EXPORT_CANCEL",
    "EXPORT_DOWNLOAD",
    "EXPORT_REQUEST",
    "EXPORT_VAULT",
    "EXPORT_VERIFY",
    "MAX_LIMIT",
    "AuditFields",
    "AuditLog",
    "KeyedEntry",
]

EXPORT_REQUEST: Final = "export.request"
EXPORT_DOWNLOAD: Final = "export.download"
EXPORT_CANCEL: Final = "export.cancel"
#: The evidence vault: a copy stored (or pending), a verification, a case's legal hold.
EXPORT_VAULT: Final = "export.vault"
EXPORT_VERIFY: Final = "export.verify"
CASE_HOLD: Final = "case.hold"
CASE_RELEASE: Final = "case.release"

#: Upper bound on one query, so a careless ``limit`` cannot pull the whole table.
MAX_LIMIT: Final = 10_000

_COLUMNS: Final = Columns(
    "id time actor role action target reason case_id result detail",
    time=from_ts,
)
# A fixed column list; every value is bound.
_INSERT: Final = (
    "INSERT INTO audit (time, actor, role, action, target, reason, case_id, result, detail, "  # noqa: S608
    f"uuid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {_COLUMNS.sql}"
)


class AuditFields(TypedDict, total=False):
    """The optional columns of a row, as keywords of :meth:`AuditLog.record`."""

    target: str | None
    reason: str | None
    case_id: str | None
    result: str
    detail: str | None


def _entry(row: Sequence[Any]) -> AuditEntry:
    return AuditEntry(**_COLUMNS.read(row))


@dataclass(frozen=True, slots=True)
class KeyedEntry:
    """A row with the uuid the fleet store knows it by (``entry.id`` is this node's)."""

    uuid: str
    entry: AuditEntry


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
        # The uuid is the row's identity in the fleet store (storage/outbox.py); made here,
        # once, so a row sent twice is recognised as one.
        row_id = str(uuid.uuid4())
        params = (when, actor, str(role), action, target, reason, case_id, result, detail, row_id)
        with self.index._write() as conn:
            row = conn.execute(_INSERT, params).fetchone()
        return _entry(row)

    def has(self, action: str, target: str, actor: str | None = None) -> bool:
        """Whether a row exists for ``action`` on ``target`` (by ``actor``, if given)."""
        where = Where()
        where.add("action = ? AND target = ?", action, target)
        where.equals("actor", actor)
        sql = f"SELECT 1 FROM audit {where.sql}LIMIT 1"  # noqa: S608
        return bool(self.index._query(sql, where.params()))

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
        where = Where()
        if since is not None:
            where.add("time >= ?", to_ts(since))
        if until is not None:
            where.add("time < ?", to_ts(until))
        if action is not None and action.endswith(("*", ".")):
            prefix = action.rstrip("*")
            where.add("substr(action, 1, ?) = ?", len(prefix), prefix)
        else:
            where.equals("action", action)
        where.equals("actor", actor)
        n = max(0, min(int(limit), MAX_LIMIT))
        # Newest `n` first, then reversed: a reader wants the recent end of a long log.
        rows = self.index._query(
            f"SELECT {_COLUMNS.sql} FROM audit {where.sql}ORDER BY id DESC LIMIT ?",  # noqa: S608
            where.params(n),
        )
        rows.reverse()
        return [_entry(r) for r in rows]

    def after(self, row_id: int, limit: int) -> list[KeyedEntry]:
        """Up to ``limit`` rows written after row ``row_id``, in the order they were written."""
        rows = self.index._query(
            f"SELECT uuid, {_COLUMNS.sql} FROM audit WHERE id > ? ORDER BY id LIMIT ?",  # noqa: S608
            (row_id, max(0, min(int(limit), MAX_LIMIT))),
        )
        return [KeyedEntry(r[0], _entry(r[1:])) for r in rows]
