"""The fleet's API tokens as this node last read them from the fleet store (hashes only).

A node restarted while the store is unreachable starts from this copy, so the fleet's
tokens keep working on it; the copy is replaced whole each time the store answers with a
different set.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cctvctl.storage.database import Database

__all__ = ["CachedToken", "TokenCache"]


@dataclass(frozen=True, slots=True)
class CachedToken:
    name: str
    role: str
    hash: str


class TokenCache:
    """Table ``fleet_tokens`` (migration 4) over a :class:`Database`."""

    def __init__(self, index: Database) -> None:
        self.index = index

    def load(self) -> list[CachedToken]:
        rows = self.index._query("SELECT name, role, hash FROM fleet_tokens ORDER BY name")
        return [CachedToken(*row) for row in rows]

    def save(self, tokens: Iterable[CachedToken]) -> None:
        """Replace the copy with ``tokens``, in one transaction."""
        rows = [(t.name, t.role, t.hash) for t in tokens]
        with self.index._write() as conn:
            conn.execute("DELETE FROM fleet_tokens")
            conn.executemany("INSERT INTO fleet_tokens (name, role, hash) VALUES (?, ?, ?)", rows)
