"""The audit outbox: this node's audit rows the fleet store has not acknowledged yet.

The queue is the audit table itself, read from a watermark (``meta`` key
``fleet_audit_sent``, migration 4): audit ids only grow, and SQLite takes one writer at a
time, so no row can appear behind the watermark. A row is only ever acknowledged after the
store has it; a reply lost on the way back means it is sent again, and the store keeps it
once by its uuid. Rows written while the store is down simply wait here, across restarts.
"""

from __future__ import annotations

from typing import Final

from cctvctl.storage.audit import AuditLog, KeyedEntry

__all__ = ["AuditOutbox"]

_WATERMARK: Final = "fleet_audit_sent"


class AuditOutbox:
    """Rows after the watermark, oldest first; :meth:`acknowledge` moves it on."""

    def __init__(self, audit: AuditLog) -> None:
        self.audit = audit

    def sent_up_to(self) -> int:
        """The local id of the last row the fleet store acknowledged (0: none yet)."""
        rows = self.audit.index._query("SELECT value FROM meta WHERE key = ?", (_WATERMARK,))
        return int(rows[0][0]) if rows else 0

    def pending(self, limit: int) -> list[KeyedEntry]:
        return self.audit.after(self.sent_up_to(), limit)

    def backlog(self) -> int:
        rows = self.audit.index._query(
            "SELECT COUNT(*) FROM audit WHERE id > ?", (self.sent_up_to(),)
        )
        return int(rows[0][0])

    def acknowledge(self, row_id: int) -> None:
        """The store holds every row up to ``row_id``; the watermark never moves back."""
        with self.audit.index._write() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = MAX(value, excluded.value)",
                (_WATERMARK, row_id),
            )
