"""What a fleet node keeps for the fleet store and how it sends it: the audit outbox, the
footage runs derived from the index and the token copy, on a real SQLite index and a real
PostgreSQL (``tests/pg_harness.py``); the server around them is in test_fleet_sync.py."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from pg_harness import PgDatabase

from cctvctl.config import hash_token
from cctvctl.fleet.store import FleetStore
from cctvctl.models import Role
from cctvctl.server.credentials import TokenStore
from cctvctl.server.fleet_sync import FleetSync
from cctvctl.storage import schema
from cctvctl.storage.audit import AuditLog
from cctvctl.storage.database import Database, SegmentInfo
from cctvctl.storage.layout import segment_path
from cctvctl.storage.outbox import AuditOutbox
from cctvctl.storage.runs import Run, RunCatalogue

T0 = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
NODE = "sgu-1"


def add_segments(index: Database, camera: str, *starts: float, seconds: float = 10.0) -> None:
    """Segments of ``camera`` starting ``starts`` seconds after T0."""
    for offset in starts:
        start = T0 + timedelta(seconds=offset)
        path = segment_path(index.root, "sangatta-utara", camera, start)
        end = start + timedelta(seconds=seconds)
        index.add_segment(SegmentInfo(camera, path, start, end, 1000))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def store(pg: PgDatabase) -> Iterator[FleetStore]:
    with FleetStore.open(pg.dsn) as opened:
        with psycopg.connect(pg.dsn, autocommit=True) as conn:
            conn.execute("TRUNCATE audit, footage_runs, api_tokens")
        yield opened


def sync_for(store: FleetStore, index: Database, tokens: TokenStore | None = None) -> FleetSync:
    tokens = TokenStore([]) if tokens is None else tokens
    return FleetSync(store, index, tokens, node=NODE, run_gap=20.0, batch=2)


# --------------------------------------------------------------------------- local parts


def test_rows_of_an_older_index_get_distinct_uuids_once(tmp_path: Path) -> None:
    with Database(tmp_path, migrations=schema.MIGRATIONS[:3]) as old, old._write() as conn:
        conn.executemany(
            "INSERT INTO audit (time, actor, role, action, result) "
            "VALUES (?, 'ani', 'admin', 'reboot', 'ok')",
            [(1.0,), (2.0,), (3.0,)],
        )
    with Database(tmp_path) as index:
        ids = [r[0] for r in index._query("SELECT uuid FROM audit ORDER BY id")]
        new = AuditLog(index).record("ani", "admin", "server.reload")
        (made,) = index._query("SELECT uuid FROM audit WHERE id = ?", (new.id,))[0]
    assert len({*ids, made}) == 4
    assert all(uuid.UUID(text).version == 4 for text in [*ids, made])
    # Everything already logged is owed to the store the node joins.
    with Database(tmp_path) as index:
        assert AuditOutbox(AuditLog(index)).backlog() == 4


def test_segments_fold_into_runs_split_by_a_long_gap(index: Database) -> None:
    catalogue = RunCatalogue(index, gap=20.0)
    # 0-30 s continuous, 45 s (a 5 s reconnect), then dark until 120 s: longer than the gap.
    add_segments(index, "sgu-cam-01", 0, 10, 20, 35, 120, 130)
    add_segments(index, "sgu-cam-02", 0, 10)
    assert catalogue.update() == 8
    assert catalogue.runs("sgu-cam-01") == [
        Run("sgu-cam-01", at(0), at(45)),
        Run("sgu-cam-01", at(120), at(140)),
    ]
    assert catalogue.runs("sgu-cam-02") == [Run("sgu-cam-02", at(0), at(20))]
    # A second pass reads only what was indexed since: nothing, then the next segment,
    # which moves the open run's end on.
    assert catalogue.update() == 0
    add_segments(index, "sgu-cam-01", 140)
    assert catalogue.update() == 1
    assert catalogue.runs("sgu-cam-01")[-1] == Run("sgu-cam-01", at(120), at(150))


def test_a_run_is_unsent_until_acknowledged_and_again_when_its_end_moves(
    index: Database,
) -> None:
    catalogue = RunCatalogue(index, gap=20.0)
    add_segments(index, "sgu-cam-01", 0, 10)
    catalogue.update()
    unsent = catalogue.unsent(10)
    assert unsent == [Run("sgu-cam-01", at(0), at(20))]
    catalogue.acknowledge(unsent)
    assert catalogue.unsent(10) == []
    add_segments(index, "sgu-cam-01", 20)
    catalogue.update()
    assert catalogue.unsent(10) == [Run("sgu-cam-01", at(0), at(30))]


# --------------------------------------------------------------------------- with the store


def test_audit_rows_go_once_in_order_and_wait_out_an_outage(
    pg: PgDatabase, store: FleetStore, index: Database
) -> None:
    log = AuditLog(index)
    sync = sync_for(store, index)
    written = [log.record("ani", "operator", f"export.request.{n}") for n in range(3)]
    assert sync.sync_once() is True
    pg.stop()
    try:
        written += [log.record("ani", "admin", f"reboot.{n}") for n in range(4)]
        assert sync.sync_once() is False
        assert sync.outbox.backlog() == 4
    finally:
        pg.start()
    assert sync.sync_once() is True  # batches of 2: one pass sends the whole backlog
    stored = store.audit()
    assert [r.action for r in stored] == [e.action for e in written]
    assert {r.node for r in stored} == {NODE}
    local = {r[0] for r in index._query("SELECT uuid FROM audit")}
    assert {str(r.id) for r in stored} == local
    # A crash after the store took the rows but before the node noted it: all sent again,
    # each stored once.
    with index._write() as conn:
        conn.execute("UPDATE meta SET value = 0 WHERE key = 'fleet_audit_sent'")
    assert sync.sync_once() is True
    assert len(store.audit()) == len(written) == 7


def test_footage_runs_reach_the_catalogue_after_an_outage(
    pg: PgDatabase, store: FleetStore, index: Database
) -> None:
    sync = sync_for(store, index)
    add_segments(index, "sgu-cam-01", 0, 10)
    sync.sync_once()
    pg.stop()
    try:
        add_segments(index, "sgu-cam-01", 20, 30, 100)  # the run moves on; a new one starts
        assert sync.sync_once() is False
    finally:
        pg.start()
    assert sync.sync_once() is True
    runs = store.runs("sgu-cam-01", at(0), at(200))
    assert [(r.node, r.start, r.end) for r in runs] == [
        (NODE, at(0), at(40)),
        (NODE, at(100), at(110)),
    ]
    assert [r.start for r in store.where("sgu-cam-01", at(105))] == [at(100)]


def test_fleet_tokens_are_accepted_removed_and_remembered_through_an_outage(
    pg: PgDatabase, store: FleetStore, index: Database
) -> None:
    local = TokenStore([])
    sync = sync_for(store, index, local)
    store.put_token("noc-budi", "operator", hash_token("budi-secret"))
    store.put_token("noc-citra", "viewer", hash_token("citra-secret"))
    sync.sync_once()
    budi = local.authenticate("budi-secret")
    assert budi is not None and (budi.name, budi.role) == ("noc-budi", Role.OPERATOR)
    store.remove_token("noc-citra")
    sync.sync_once()
    assert local.authenticate("citra-secret") is None
    # A node restarted while the store is down starts from its copy.
    pg.stop()
    try:
        restarted = TokenStore([])
        again = sync_for(FleetStore(pg.dsn), index, restarted)
        again.start()
        again.stop()
        assert restarted.authenticate("budi-secret") is not None
        assert restarted.authenticate("citra-secret") is None
    finally:
        pg.start()
    rows = index._query("SELECT name, hash FROM fleet_tokens ORDER BY name")
    # The node's own token for cross-node exports is in the fleet too (its hash only).
    people = [row for row in rows if not row[0].startswith("node:")]
    assert people == [("noc-budi", hash_token("budi-secret"))]  # a hash, never the token
    assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for _, h in rows)
