"""The fleet store's schema in PostgreSQL: its migrations, and how they are applied.

The same discipline as the node's SQLite (``storage/schema.py``): a migration is the list of
statements taking version N-1 to N, appended and never edited. PostgreSQL runs DDL inside a
transaction, so a step applies whole or not at all; an advisory lock makes nodes that start
together against a fresh store apply each step once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

__all__ = ["MIGRATIONS", "FleetSchemaError", "Migration", "migrate"]

Migration = Sequence[str]

# Any constant shared by every cctvctl; it names the lock that serialises migrations.
_MIGRATION_LOCK = 0x63637476  # "cctv"

MIGRATIONS: list[Migration] = [
    # 1: nodes, inventory versions, tokens, leases, audit, footage catalogue.
    (
        """CREATE TABLE nodes (
            name TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            version TEXT NOT NULL,
            kecamatan TEXT[] NOT NULL DEFAULT '{}',
            capacity INTEGER NOT NULL CHECK (capacity >= 0),
            heartbeat TIMESTAMPTZ NOT NULL
        )""",
        # The text is what an operator applied (diffs and audits quote it); the parsed
        # form is what nodes load, so none of them parses TOML that another validated.
        """CREATE TABLE inventory_versions (
            version INTEGER PRIMARY KEY CHECK (version > 0),
            toml TEXT NOT NULL,
            parsed JSONB NOT NULL,
            sha256 TEXT NOT NULL,
            author TEXT NOT NULL,
            created TIMESTAMPTZ NOT NULL DEFAULT now()
        )""",
        """CREATE TABLE api_tokens (
            name TEXT PRIMARY KEY,
            role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
            hash TEXT NOT NULL UNIQUE CHECK (hash ~ '^sha256:[0-9a-f]{64}$'),
            created TIMESTAMPTZ NOT NULL DEFAULT now()
        )""",
        # Lease times are the store's clock (now()), never a node's: nodes' clocks differ.
        """CREATE TABLE leases (
            camera TEXT PRIMARY KEY,
            node TEXT NOT NULL REFERENCES nodes (name),
            expires TIMESTAMPTZ NOT NULL,
            acquired TIMESTAMPTZ NOT NULL
        )""",
        "CREATE INDEX leases_node ON leases (node)",
        # The id is the node's, made when the row is first written locally: a row sent
        # again after a lost reply is the same row.
        """CREATE TABLE audit (
            id UUID PRIMARY KEY,
            node TEXT NOT NULL,
            time TIMESTAMPTZ NOT NULL,
            actor TEXT NOT NULL,
            role TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT,
            reason TEXT,
            case_id TEXT,
            result TEXT NOT NULL,
            detail JSONB,
            received TIMESTAMPTZ NOT NULL DEFAULT now()
        )""",
        "CREATE INDEX audit_time ON audit (time)",
        # A run is one node recording one camera without a break; "end" is NULL while it
        # records. (node, camera, start) is its identity, so a re-sent run merges.
        """CREATE TABLE footage_runs (
            node TEXT NOT NULL,
            camera TEXT NOT NULL,
            start TIMESTAMPTZ NOT NULL,
            "end" TIMESTAMPTZ,
            PRIMARY KEY (node, camera, start),
            CHECK ("end" IS NULL OR "end" >= start)
        )""",
        "CREATE INDEX footage_runs_camera_start ON footage_runs (camera, start)",
    ),
    # 2: when a node last renewed each lease (the Nodes screen's lease age), and when a
    # node left cleanly (a stopped node is not a dead one: its leases are already free).
    (
        "ALTER TABLE leases ADD COLUMN renewed TIMESTAMPTZ",
        "UPDATE leases SET renewed = acquired",
        "ALTER TABLE leases ALTER COLUMN renewed SET NOT NULL",
        "ALTER TABLE nodes ADD COLUMN stopped TIMESTAMPTZ",
    ),
]


class FleetSchemaError(RuntimeError):
    """The store's schema is newer than this cctvctl knows."""


def migrate(conn: psycopg.Connection[tuple[Any, ...]], migrations: Sequence[Migration]) -> int:
    """Bring the schema up to ``len(migrations)`` in one transaction; returns the version found."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        cur.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        cur.execute("SELECT version FROM schema_version")
        row = cur.fetchone()
        found = int(row[0]) if row else 0
        if found > len(migrations):
            raise FleetSchemaError(
                f"fleet store schema version {found} is newer than this cctvctl knows "
                f"({len(migrations)}); upgrade cctvctl on this node"
            )
        for version in range(found + 1, len(migrations) + 1):
            for statement in migrations[version - 1]:
                cur.execute(statement)
        if row is None:
            cur.execute("INSERT INTO schema_version (version) VALUES (%s)", (len(migrations),))
        elif found < len(migrations):
            cur.execute("UPDATE schema_version SET version = %s", (len(migrations),))
    return found
