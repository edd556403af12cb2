"""Hearing of new inventory versions as they are published (PostgreSQL LISTEN/NOTIFY).

A notice is a hint, not the record: one sent while a node was disconnected is lost, so after
(re)connecting a node reads the latest version from the store (``FleetStore.inventory()``)
rather than waiting to be told.
"""

from __future__ import annotations

from typing import Any, Self

import psycopg

from cctvctl.fleet.store import INVENTORY_CHANNEL, connect, unavailable

__all__ = ["InventoryListener"]


class InventoryListener:
    """Its own connection, listening on the inventory channel; reconnects on the next wait."""

    def __init__(self, dsn: str, *, connect_timeout: int = 3) -> None:
        self._dsn = dsn
        self._connect_timeout = connect_timeout
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.closed

    def connect(self) -> None:
        """Listen from now on (raises StoreUnavailable if the store cannot be reached)."""
        if self.connected:
            return
        conn = connect(self._dsn, self._connect_timeout)
        try:
            conn.execute(f"LISTEN {INVENTORY_CHANNEL}")
        except psycopg.OperationalError as error:
            conn.close()
            raise unavailable(error) from error
        self._conn = conn

    def wait(self, timeout: float) -> int | None:
        """The newest version announced within ``timeout`` seconds, or None if none was.

        Returns at the first notice, with any that arrived together; raises StoreUnavailable
        when the connection is lost (the next call connects again).
        """
        self.connect()
        assert self._conn is not None
        newest: int | None = None
        try:
            for notice in self._conn.notifies(timeout=timeout, stop_after=1):
                newest = max(newest or 0, int(notice.payload))
            # Others that came in the same read are already queued: take them too.
            for notice in self._conn.notifies(timeout=0):
                newest = max(newest or 0, int(notice.payload))
        except psycopg.OperationalError as error:
            self.close()
            raise unavailable(error) from error
        return newest

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
