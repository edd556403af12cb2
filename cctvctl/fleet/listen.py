"""Hearing of new inventory versions as they are published, and of nodes leaving the
fleet cleanly (PostgreSQL LISTEN/NOTIFY).

A notice is a hint, not the record: one sent while a node was disconnected is lost, so after
(re)connecting a node reads the latest version from the store (``FleetStore.inventory()``)
rather than waiting to be told.
"""

from __future__ import annotations

from typing import Any, Self

import psycopg

from cctvctl.fleet.store import INVENTORY_CHANNEL, LEFT_CHANNEL, connect, unavailable

__all__ = ["InventoryListener"]


class InventoryListener:
    """Its own connection, listening on the inventory and leave channels; reconnects on the
    next wait."""

    def __init__(self, dsn: str, *, connect_timeout: int = 3) -> None:
        self._dsn = dsn
        self._connect_timeout = connect_timeout
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self._left: set[str] = set()

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
            conn.execute(f"LISTEN {LEFT_CHANNEL}")
        except psycopg.OperationalError as error:
            conn.close()
            raise unavailable(error) from error
        self._conn = conn

    def wait(self, timeout: float) -> int | None:
        """The newest version announced within ``timeout`` seconds, or None if none was.

        Returns at the first notice of either kind, with any that arrived together (the
        nodes heard leaving wait in :meth:`take_left`); raises StoreUnavailable when the
        connection is lost (the next call connects again).
        """
        self.connect()
        assert self._conn is not None
        newest: int | None = None
        try:
            notices = list(self._conn.notifies(timeout=timeout, stop_after=1))
            # Others that came in the same read are already queued: take them too.
            notices += self._conn.notifies(timeout=0)
        except psycopg.OperationalError as error:
            self.close()
            raise unavailable(error) from error
        for notice in notices:
            if notice.channel == LEFT_CHANNEL:
                self._left.add(notice.payload)
            else:
                newest = max(newest or 0, int(notice.payload))
        return newest

    def take_left(self) -> set[str]:
        """The nodes heard leaving the fleet since the last call (then forgotten)."""
        left, self._left = self._left, set()
        return left

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
