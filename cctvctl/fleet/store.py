"""The fleet store: the state recording nodes share, in PostgreSQL (psycopg 3, no ORM).

Nodes, numbered inventory versions, API tokens (hashes only), camera leases, the fleet
audit log and a coarse footage catalogue. A node's own segments stay in its SQLite index.

Every method is one transaction and idempotent (a re-sent audit row or footage run merges,
a claim or renewal says the same twice), so a call cut by a lost connection is retried once
on a new connection. When the store cannot be reached, :class:`StoreUnavailable` says so at
once (a short connect time-out): the edge never waits for the centre, it keeps its rows and
sends them again later.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Self, TypeVar

import psycopg
from psycopg.types.json import Jsonb

from cctvctl.config import TOKEN_HASH_RE
from cctvctl.fleet.records import (
    AuditRow,
    FleetStoreError,
    FootageRun,
    Holding,
    InventoryVersion,
    Lease,
    Node,
    StoreUnavailable,
    Token,
)
from cctvctl.fleet.schema import MIGRATIONS, migrate

__all__ = [
    "INVENTORY_CHANNEL",
    "LEFT_CHANNEL",
    "AuditRow",
    "FleetStore",
    "FleetStoreError",
    "FootageRun",
    "Holding",
    "InventoryVersion",
    "Lease",
    "Node",
    "StoreUnavailable",
    "Token",
    "connect",
    "unavailable",
]

T = TypeVar("T")
Cursor = psycopg.Cursor[tuple[Any, ...]]

ROLES = ("viewer", "operator", "admin")
# Published inventory versions are announced here (the payload is the version number).
INVENTORY_CHANNEL = "cctvctl_inventory"
# A node that left the fleet cleanly says so here (the payload is its name), so the
# nodes after it in its cameras' failover lists claim them at once, not at their next tick.
LEFT_CHANNEL = "cctvctl_node_left"


_NODE = "name, url, version, kecamatan, capacity, heartbeat, stopped"
_INVENTORY = "version, toml, parsed, sha256, author, created"
_LEASE = "camera, node, expires, acquired, renewed"
_AUDIT = "id, node, time, actor, role, action, result, target, reason, case_id, detail"
_RUN = 'node, camera, start, "end"'
# The column lists are this module's constants, pasted into queries (hence S608 below);
# every value a caller gives is a bound parameter.
_LATEST_INVENTORY = f"SELECT {_INVENTORY} FROM inventory_versions ORDER BY version DESC LIMIT 1"  # noqa: S608


def _node(row: tuple[Any, ...]) -> Node:
    name, url, version, kecamatan, capacity, heartbeat, stopped = row
    return Node(name, url, version, tuple(kecamatan), capacity, heartbeat, stopped)


# Per node, the cameras it holds live leases for and which of them it stands in for: a
# camera whose home (``node``) in the latest inventory is another node, or a camera without
# a home in a kecamatan that some other node is home to and this one is not (the placement
# rules' "homed by the nodes home to its kecamatan"). Kecamatan are told apart by their
# place in the inventory, so no slug is computed here. A camera the inventory does not
# list (yet, or any more) is nobody's stand-in.
_HOLDINGS = """
WITH latest AS (
    SELECT parsed FROM inventory_versions ORDER BY version DESC LIMIT 1
), cams AS (
    SELECT c.cam ->> 'id' AS camera, c.cam ->> 'node' AS home, k.n AS kec
    FROM latest,
        jsonb_array_elements(latest.parsed -> 'kecamatan') WITH ORDINALITY AS k (kec, n),
        jsonb_array_elements(k.kec -> 'site') AS s (site),
        jsonb_array_elements(s.site -> 'camera') AS c (cam)
), homes AS (
    SELECT kec, array_agg(DISTINCT home) AS nodes FROM cams WHERE home IS NOT NULL GROUP BY kec
), held AS (
    SELECT l.node, l.camera, l.acquired,
        CASE
            WHEN c.camera IS NULL THEN false
            WHEN c.home IS NOT NULL THEN c.home <> l.node
            ELSE h.nodes IS NOT NULL AND NOT l.node = ANY (h.nodes)
        END AS taken
    FROM leases l
        LEFT JOIN cams c ON c.camera = l.camera
        LEFT JOIN homes h ON h.kec = c.kec
    WHERE l.expires > now()
)
SELECT n.name,
    coalesce(array_agg(h.camera ORDER BY h.camera) FILTER (WHERE h.camera IS NOT NULL), '{}'),
    coalesce(array_agg(h.camera ORDER BY h.camera) FILTER (WHERE h.taken), '{}'),
    (SELECT max(r.renewed) FROM leases r WHERE r.node = n.name),
    min(h.acquired)
FROM nodes n LEFT JOIN held h ON h.node = n.name
GROUP BY n.name ORDER BY n.name
"""


def _positive(ttl: timedelta) -> timedelta:
    if ttl <= timedelta(0):
        raise ValueError(f"lease time must be positive, got {ttl.total_seconds()} s")
    return ttl


class FleetStore:
    """One connection to the fleet store, shared by a node's threads (one call at a time)."""

    def __init__(self, dsn: str, *, connect_timeout: int = 3) -> None:
        self._dsn = dsn
        self._connect_timeout = connect_timeout
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, dsn: str, *, connect_timeout: int = 3) -> FleetStore:
        """Connect and bring the schema up to date (raises StoreUnavailable if unreachable)."""
        store = cls(dsn, connect_timeout=connect_timeout)
        with store._lock:
            store._connection()
        return store

    def close(self, timeout: float | None = None) -> bool:
        """Close the connection once no call is in flight.

        ``timeout``: wait at most this long for a call in flight (one stuck on a dead link
        can take TCP keepalive's time, or for ever behind a link that still answers TCP);
        False when it did not end in time, and the connection is left to the process's exit.
        """
        if not self._lock.acquire(timeout=-1 if timeout is None else max(timeout, 0.0)):
            return False
        try:
            self._drop()
        finally:
            self._lock.release()
        return True

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ connection

    def _connection(self) -> psycopg.Connection[tuple[Any, ...]]:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        conn = connect(self._dsn, self._connect_timeout)
        try:
            migrate(conn, MIGRATIONS)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _run(self, work: Callable[[Cursor], T]) -> T:
        """Run ``work`` in one transaction; once more on a new connection if the old one broke."""
        with self._lock:
            for attempt in (1, 2):
                conn = self._connection()
                try:
                    with conn.transaction(), conn.cursor() as cur:
                        return work(cur)
                except psycopg.OperationalError as error:
                    # The server went away (restart, crash, link): this connection is done.
                    self._drop()
                    if attempt == 2:
                        raise unavailable(error) from error
            raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------ nodes

    def heartbeat(
        self, name: str, *, url: str, version: str, kecamatan: Sequence[str], capacity: int
    ) -> Node:
        """Register the node or refresh it; its heartbeat is the store's time now."""

        def work(cur: Cursor) -> Node:
            cur.execute(
                f"""INSERT INTO nodes ({_NODE}) VALUES (%s, %s, %s, %s, %s, now(), NULL)
                ON CONFLICT (name) DO UPDATE SET url = excluded.url,
                    version = excluded.version, kecamatan = excluded.kecamatan,
                    capacity = excluded.capacity, heartbeat = excluded.heartbeat,
                    stopped = NULL
                RETURNING {_NODE}""",  # noqa: S608
                (name, url, version, list(kecamatan), capacity),
            )
            return _node(_one(cur))

        return self._run(work)

    def nodes(self) -> list[Node]:
        def work(cur: Cursor) -> list[Node]:
            cur.execute(f"SELECT {_NODE} FROM nodes ORDER BY name")  # noqa: S608
            return [_node(row) for row in cur.fetchall()]

        return self._run(work)

    def now(self) -> datetime:
        """The store's clock, which every lease and heartbeat is measured by."""

        def work(cur: Cursor) -> datetime:
            cur.execute("SELECT clock_timestamp()")
            value: datetime = _one(cur)[0]
            return value

        return self._run(work)

    # ------------------------------------------------------------------ inventory

    def publish_inventory(
        self, toml: str, parsed: dict[str, Any], *, author: str
    ) -> InventoryVersion:
        """Store a validated inventory as the next version.

        The same text as the latest version returns that version rather than a new one, so
        a publish re-sent after a lost reply does not number the same inventory twice.
        """
        digest = hashlib.sha256(toml.encode("utf-8")).hexdigest()

        def work(cur: Cursor) -> InventoryVersion:
            # Writers queue here, so versions are numbered 1, 2, 3 ... without gaps.
            cur.execute("LOCK TABLE inventory_versions IN SHARE ROW EXCLUSIVE MODE")
            cur.execute(_LATEST_INVENTORY)
            latest = cur.fetchone()
            if latest is not None and latest[3] == digest:
                return InventoryVersion(*latest)
            cur.execute(
                f"""INSERT INTO inventory_versions (version, toml, parsed, sha256, author)
                VALUES (%s, %s, %s, %s, %s) RETURNING {_INVENTORY}""",  # noqa: S608
                ((latest[0] if latest else 0) + 1, toml, Jsonb(parsed), digest, author),
            )
            published = InventoryVersion(*_one(cur))
            # Delivered at commit, so no node hears of a version it cannot read yet.
            cur.execute("SELECT pg_notify(%s, %s)", (INVENTORY_CHANNEL, str(published.version)))
            return published

        return self._run(work)

    def inventory(self, version: int | None = None) -> InventoryVersion | None:
        """The given version, or the latest; None if there is none."""

        def work(cur: Cursor) -> InventoryVersion | None:
            if version is None:
                cur.execute(_LATEST_INVENTORY)
            else:
                cur.execute(
                    f"SELECT {_INVENTORY} FROM inventory_versions WHERE version = %s",  # noqa: S608
                    (version,),
                )
            row = cur.fetchone()
            return InventoryVersion(*row) if row else None

        return self._run(work)

    # ------------------------------------------------------------------ tokens

    def put_token(self, name: str, role: str, token_hash: str) -> Token:
        """Create or replace the token ``name``; only its hash is ever stored."""
        if role not in ROLES:
            raise ValueError(f"token role {role!r} is not one of {', '.join(ROLES)}")
        if not TOKEN_HASH_RE.match(token_hash):
            raise ValueError("token hash must look like 'sha256:<64 hex digits>'")

        def work(cur: Cursor) -> Token:
            cur.execute(
                """INSERT INTO api_tokens (name, role, hash) VALUES (%s, %s, %s)
                ON CONFLICT (name) DO UPDATE SET role = excluded.role, hash = excluded.hash
                RETURNING name, role, hash, created""",
                (name, role, token_hash),
            )
            return Token(*_one(cur))

        return self._run(work)

    def remove_token(self, name: str) -> bool:
        def work(cur: Cursor) -> bool:
            cur.execute("DELETE FROM api_tokens WHERE name = %s", (name,))
            return cur.rowcount > 0

        return self._run(work)

    def tokens(self) -> list[Token]:
        def work(cur: Cursor) -> list[Token]:
            cur.execute("SELECT name, role, hash, created FROM api_tokens ORDER BY name")
            return [Token(*row) for row in cur.fetchall()]

        return self._run(work)

    # ------------------------------------------------------------------ leases

    def claim(self, node: str, cameras: Sequence[str], ttl: timedelta) -> list[str]:
        """Take the leases of ``cameras`` that are free, expired or already ``node``'s.

        Returns the cameras ``node`` now holds, sorted. Atomic per camera: of nodes racing
        for one expired lease, exactly one gets it (the losers wait on the row, then see a
        live lease that is not theirs).
        """
        _positive(ttl)

        def work(cur: Cursor) -> list[str]:
            try:
                return _claim(cur)
            except psycopg.errors.ForeignKeyViolation:
                raise FleetStoreError(
                    f"node {node!r} is not registered in the fleet store: "
                    "it must send a heartbeat before it claims cameras"
                ) from None

        def _claim(cur: Cursor) -> list[str]:
            cur.execute(
                f"""INSERT INTO leases ({_LEASE})
                SELECT camera, %s, now() + %s, now(), now() FROM unnest(%s::text[]) AS camera
                ON CONFLICT (camera) DO UPDATE
                    SET node = excluded.node, expires = excluded.expires,
                        renewed = excluded.renewed,
                        acquired = CASE WHEN leases.node = excluded.node
                                        THEN leases.acquired ELSE excluded.acquired END
                    WHERE leases.node = excluded.node OR leases.expires <= now()
                RETURNING camera""",  # noqa: S608
                (node, ttl, sorted(set(cameras))),
            )
            return sorted(row[0] for row in cur.fetchall())

        return self._run(work)

    def renew(self, node: str, ttl: timedelta) -> list[str]:
        """Extend every lease ``node`` holds, in one statement; returns those cameras.

        A lease that expired but was not taken is still the node's, and is renewed; one
        another node claimed is gone from the answer, so the node stops recording it.
        """
        _positive(ttl)

        def work(cur: Cursor) -> list[str]:
            cur.execute(
                "UPDATE leases SET expires = now() + %s, renewed = now() WHERE node = %s "
                "RETURNING camera",
                (ttl, node),
            )
            return sorted(row[0] for row in cur.fetchall())

        return self._run(work)

    def release(self, node: str, cameras: Sequence[str] | None = None) -> int:
        """Give up ``node``'s leases (all of them when ``cameras`` is None)."""

        def work(cur: Cursor) -> int:
            if cameras is None:
                cur.execute("DELETE FROM leases WHERE node = %s", (node,))
            else:
                cur.execute(
                    "DELETE FROM leases WHERE node = %s AND camera = ANY(%s)",
                    (node, list(cameras)),
                )
            return cur.rowcount

        return self._run(work)

    def leave(self, node: str) -> list[str]:
        """``node`` stops cleanly: its leases are released and it is marked stopped, in one
        transaction, and the nodes listening hear of it (``LEFT_CHANNEL``) so a failover
        node claims the cameras at once. Returns the cameras it gave up, sorted. Its next
        heartbeat makes it a running node again."""

        def work(cur: Cursor) -> list[str]:
            cur.execute("DELETE FROM leases WHERE node = %s RETURNING camera", (node,))
            released = sorted(row[0] for row in cur.fetchall())
            cur.execute("UPDATE nodes SET stopped = now() WHERE name = %s", (node,))
            # Delivered at commit: whoever hears it finds the leases already free.
            cur.execute("SELECT pg_notify(%s, %s)", (LEFT_CHANNEL, node))
            return released

        return self._run(work)

    def holdings(self) -> list[Holding]:
        """Every registered node with the cameras it holds live leases for now, those it
        stands in for (home elsewhere, by the latest inventory), its latest renewal and
        its oldest live lease; by name, nodes holding nothing too."""

        def work(cur: Cursor) -> list[Holding]:
            # The planner guesses 100 rows per jsonb_array_elements, so the cost of a big
            # inventory looks huge and it JIT-compiles: 1.5 s of compiling for 30 ms of work
            # (benchmarks/fleet_holdings.py). This transaction only.
            cur.execute("SET LOCAL jit = off")
            cur.execute(_HOLDINGS)
            return [
                Holding(name, tuple(cameras), tuple(taken), renewed, oldest)
                for name, cameras, taken, renewed, oldest in cur.fetchall()
            ]

        return self._run(work)

    def leases(self, node: str | None = None) -> list[Lease]:
        def work(cur: Cursor) -> list[Lease]:
            if node is None:
                cur.execute(f"SELECT {_LEASE} FROM leases ORDER BY camera")  # noqa: S608
            else:
                cur.execute(f"SELECT {_LEASE} FROM leases WHERE node = %s ORDER BY camera", (node,))  # noqa: S608
            return [Lease(*row) for row in cur.fetchall()]

        return self._run(work)

    # ------------------------------------------------------------------ audit

    def add_audit(self, rows: Sequence[AuditRow]) -> int:
        """Store rows not stored yet (by id); returns how many were new."""
        if not rows:
            return 0

        def work(cur: Cursor) -> int:
            cur.executemany(
                f"""INSERT INTO audit ({_AUDIT})
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (id) DO NOTHING""",  # noqa: S608
                [
                    (
                        r.id,
                        r.node,
                        r.time,
                        r.actor,
                        r.role,
                        r.action,
                        r.result,
                        r.target,
                        r.reason,
                        r.case_id,
                        None if r.detail is None else Jsonb(r.detail),
                    )
                    for r in rows
                ],
            )
            return cur.rowcount

        return self._run(work)

    def audit(self, *, since: datetime | None = None, limit: int = 1000) -> list[AuditRow]:
        """Audit rows in time order (then id, for rows of the same instant)."""

        def work(cur: Cursor) -> list[AuditRow]:
            cur.execute(
                f"""SELECT {_AUDIT} FROM audit WHERE %s::timestamptz IS NULL OR time >= %s
                ORDER BY time, id LIMIT %s""",  # noqa: S608
                (since, since, limit),
            )
            return [AuditRow(*row) for row in cur.fetchall()]

        return self._run(work)

    # ------------------------------------------------------------------ footage catalogue

    def record_run(self, run: FootageRun) -> None:
        """Add a run or move its end on; a run re-sent, or sent open after it closed, merges."""
        self.record_runs([run])

    def record_runs(self, runs: Sequence[FootageRun]) -> None:
        """:meth:`record_run` for many runs in one transaction (one round trip on a thin link)."""
        if not runs:
            return

        def work(cur: Cursor) -> None:
            # GREATEST ignores NULL: an open copy never reopens a closed run.
            cur.executemany(
                f"""INSERT INTO footage_runs ({_RUN}) VALUES (%s, %s, %s, %s)
                ON CONFLICT (node, camera, start)
                DO UPDATE SET "end" = GREATEST(footage_runs."end", excluded."end")""",  # noqa: S608
                [(run.node, run.camera, run.start, run.end) for run in runs],
            )

        self._run(work)

    def runs(self, camera: str, start: datetime, end: datetime) -> list[FootageRun]:
        """The runs of ``camera`` overlapping [start, end], by start (an open run reaches now)."""

        def work(cur: Cursor) -> list[FootageRun]:
            cur.execute(
                f"""SELECT {_RUN} FROM footage_runs
                WHERE camera = %s AND start <= %s AND ("end" IS NULL OR "end" >= %s)
                ORDER BY start, node""",  # noqa: S608
                (camera, end, start),
            )
            return [FootageRun(*row) for row in cur.fetchall()]

        return self._run(work)

    def where(self, camera: str, at: datetime) -> list[FootageRun]:
        """Which node(s) hold ``camera``'s footage of the instant ``at`` (two in a handover)."""
        return self.runs(camera, at, at)


def connect(dsn: str, connect_timeout: int) -> psycopg.Connection[tuple[Any, ...]]:
    """A connection to the store in autocommit (a transaction is opened where one is meant)."""
    try:
        return psycopg.connect(
            dsn,
            autocommit=True,
            connect_timeout=connect_timeout,
            # Times come back in UTC whatever the server's zone; people see WITA only
            # where a front end shows them.
            options="-c TimeZone=UTC",
            # A link that dies silently is noticed in seconds, not hours.
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
        )
    except psycopg.OperationalError as error:
        raise unavailable(error) from error


def unavailable(error: BaseException) -> StoreUnavailable:
    """The error a caller sees for a failed connection: one line, what the driver said."""
    text = str(error).strip()
    first = text.splitlines()[0] if text else type(error).__name__
    return StoreUnavailable(f"fleet store unreachable: {first}")


def _one(cur: Cursor) -> tuple[Any, ...]:
    row = cur.fetchone()
    if row is None:  # pragma: no cover - RETURNING of an upsert always yields a row
        raise FleetStoreError("the fleet store returned no row")
    return row
