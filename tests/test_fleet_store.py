"""The fleet store against a real PostgreSQL (``tests/pg_harness.py``), nothing mocked."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from pg_harness import FLEET_TABLES, PgDatabase, sql

from cctvctl.config import hash_token
from cctvctl.fleet.listen import InventoryListener
from cctvctl.fleet.schema import MIGRATIONS, FleetSchemaError, migrate
from cctvctl.fleet.store import (
    AuditRow,
    FleetStore,
    FleetStoreError,
    FootageRun,
    StoreUnavailable,
)

TTL = timedelta(seconds=30)
T0 = datetime(2026, 12, 5, 0, 0, tzinfo=UTC)


def join(store: FleetStore, *names: str) -> None:
    for name in names:
        store.heartbeat(name, url=f"http://{name}:8080", version="0.1.0", kecamatan=[], capacity=8)


def expire(pg: PgDatabase, *cameras: str) -> None:
    """Make leases run out now, as a node that stopped renewing would leave them."""
    listed = ", ".join(f"'{camera}'" for camera in cameras)
    sql(pg.dsn, f"UPDATE leases SET expires = now() - interval '1 s' WHERE camera IN ({listed})")


def audit_row(number: int, node: str = "sgu-1") -> AuditRow:
    return AuditRow(
        id=uuid.uuid5(uuid.NAMESPACE_URL, f"{node}/{number}"),
        node=node,
        time=T0 + timedelta(seconds=number),
        actor="noc-operator",
        role="operator",
        action="export.create",
        result="accepted",
        target=f"cam-{number}",
        detail={"n": number},
    )


# ---------------------------------------------------------------------- schema


def test_schema_migrates_once_and_knows_its_version(
    pg: PgDatabase, fleet_store: FleetStore
) -> None:
    with psycopg.connect(pg.dsn, autocommit=True) as conn:
        assert migrate(conn, MIGRATIONS) == len(MIGRATIONS)  # already there: nothing to do
    assert sql(pg.dsn, "SELECT version FROM schema_version") == [(len(MIGRATIONS),)]


def test_a_store_newer_than_this_cctvctl_is_refused(
    pg: PgDatabase, fleet_store: FleetStore
) -> None:
    sql(pg.dsn, "UPDATE schema_version SET version = version + 1")
    try:
        with pytest.raises(FleetSchemaError, match="newer than this cctvctl knows"):
            FleetStore.open(pg.dsn)
    finally:
        sql(pg.dsn, "UPDATE schema_version SET version = version - 1")


def test_an_unreachable_store_says_so_at_once(pg: PgDatabase) -> None:
    dead = pg.dsn.replace(f":{pg.engine.port}/", ":1/")
    with pytest.raises(StoreUnavailable, match="fleet store unreachable"):
        FleetStore.open(dead)


def test_each_module_has_a_database_of_its_own(pg: PgDatabase, fleet_store: FleetStore) -> None:
    join(fleet_store, "sgu-1")
    other = pg.engine.create_database()  # what the next module on this worker gets
    assert other != pg.dsn
    with FleetStore.open(other) as elsewhere:
        assert elsewhere.nodes() == []
    assert [n.name for n in fleet_store.nodes()] == ["sgu-1"]


# ---------------------------------------------------------------------- nodes


def test_heartbeat_registers_a_node_then_refreshes_it(fleet_store: FleetStore) -> None:
    first = fleet_store.heartbeat(
        "sgu-1", url="http://10.0.0.1:8080", version="0.1.0", kecamatan=["sgu"], capacity=64
    )
    again = fleet_store.heartbeat(
        "sgu-1", url="http://10.0.0.1:8080", version="0.2.0", kecamatan=["sgu", "sgs"], capacity=96
    )
    fleet_store.heartbeat(
        "bgl-1", url="http://10.0.0.2:8080", version="0.1.0", kecamatan=[], capacity=8
    )
    assert again.heartbeat > first.heartbeat
    nodes = fleet_store.nodes()
    assert [n.name for n in nodes] == ["bgl-1", "sgu-1"]
    assert (nodes[1].version, nodes[1].kecamatan, nodes[1].capacity) == (
        "0.2.0",
        ("sgu", "sgs"),
        96,
    )


# ---------------------------------------------------------------------- inventory


def test_inventory_versions_are_numbered_and_a_resent_publish_is_not_a_new_one(
    fleet_store: FleetStore,
) -> None:
    one = fleet_store.publish_inventory('[[cameras]]\nid = "a"\n', {"cameras": ["a"]}, author="noc")
    two = fleet_store.publish_inventory('[[cameras]]\nid = "b"\n', {"cameras": ["b"]}, author="noc")
    resent = fleet_store.publish_inventory(
        '[[cameras]]\nid = "b"\n', {"cameras": ["b"]}, author="noc"
    )
    assert (one.version, two.version, resent.version) == (1, 2, 2)
    latest = fleet_store.inventory()
    assert latest is not None and latest.parsed == {"cameras": ["b"]}
    old = fleet_store.inventory(1)
    assert old is not None and old.toml == '[[cameras]]\nid = "a"\n'
    assert fleet_store.inventory(3) is None


# ---------------------------------------------------------------------- tokens


def test_tokens_are_kept_as_hashes_only(pg: PgDatabase, fleet_store: FleetStore) -> None:
    fleet_store.put_token("noc", "admin", hash_token("s3cret-token"))
    fleet_store.put_token("noc", "viewer", hash_token("new-token"))  # re-created: replaced
    assert [(t.name, t.role, t.hash) for t in fleet_store.tokens()] == [
        ("noc", "viewer", hash_token("new-token"))
    ]
    with pytest.raises(ValueError, match=r"sha256:<64 hex digits>"):
        fleet_store.put_token("leak", "admin", "s3cret-token")
    with pytest.raises(ValueError, match="not one of viewer, operator, admin"):
        fleet_store.put_token("x", "root", hash_token("t"))
    # Not even a direct insert can store a plain token.
    with pytest.raises(psycopg.errors.CheckViolation):
        sql(pg.dsn, "INSERT INTO api_tokens (name, role, hash) VALUES ('p', 'admin', 'plain')")
    assert fleet_store.remove_token("noc") is True
    assert fleet_store.remove_token("noc") is False
    assert fleet_store.tokens() == []


# ---------------------------------------------------------------------- leases


def test_a_live_lease_is_not_taken_and_renewal_extends_all_of_a_nodes_leases(
    fleet_store: FleetStore,
) -> None:
    join(fleet_store, "sgu-1", "sgs-1")
    assert fleet_store.claim("sgu-1", ["cam-2", "cam-1"], TTL) == ["cam-1", "cam-2"]
    assert fleet_store.claim("sgs-1", ["cam-1", "cam-3"], TTL) == ["cam-3"]
    before = {lease.camera: lease for lease in fleet_store.leases("sgu-1")}
    assert fleet_store.renew("sgu-1", TTL * 2) == ["cam-1", "cam-2"]
    after = {lease.camera: lease for lease in fleet_store.leases("sgu-1")}
    for camera in ("cam-1", "cam-2"):
        assert after[camera].expires > before[camera].expires
        assert after[camera].acquired == before[camera].acquired  # still the same tenure
    assert {lease.camera: lease.node for lease in fleet_store.leases()} == {
        "cam-1": "sgu-1",
        "cam-2": "sgu-1",
        "cam-3": "sgs-1",
    }


def test_an_expired_lease_is_claimed_and_the_old_holder_learns_it_on_renewal(
    pg: PgDatabase, fleet_store: FleetStore
) -> None:
    join(fleet_store, "sgu-1", "sgs-1")
    fleet_store.claim("sgu-1", ["cam-1", "cam-2"], TTL)
    expire(pg, "cam-1", "cam-2")
    assert fleet_store.claim("sgs-1", ["cam-1"], TTL) == ["cam-1"]
    # cam-2 expired but nobody took it: still sgu-1's, and renewed.
    assert fleet_store.renew("sgu-1", TTL) == ["cam-2"]
    assert fleet_store.release("sgs-1") == 1
    assert [lease.camera for lease in fleet_store.leases()] == ["cam-2"]


def test_a_lease_time_must_be_positive(fleet_store: FleetStore) -> None:
    with pytest.raises(ValueError, match="lease time must be positive"):
        fleet_store.claim("sgu-1", ["cam-1"], timedelta(0))


def test_a_node_the_store_does_not_know_cannot_claim(fleet_store: FleetStore) -> None:
    with pytest.raises(FleetStoreError, match="'ghost-1' is not registered"):
        fleet_store.claim("ghost-1", ["cam-1"], TTL)
    join(fleet_store, "sgu-1")
    assert fleet_store.claim("sgu-1", ["cam-1"], TTL) == ["cam-1"]  # the store still serves


def test_two_nodes_racing_for_an_expired_lease_exactly_one_wins(pg: PgDatabase) -> None:
    cameras = [f"cam-{n}" for n in range(20)]
    with FleetStore.open(pg.dsn) as first, FleetStore.open(pg.dsn) as second:
        sql(pg.dsn, f"TRUNCATE {FLEET_TABLES}")
        join(first, "dead-1", "sgu-1", "sgs-1")
        first.claim("dead-1", cameras, TTL)
        expire(pg, *cameras)
        won: dict[str, list[str]] = {}
        barrier = threading.Barrier(2)

        def race(store: FleetStore, node: str, camera: str) -> None:
            barrier.wait()
            won[node] = store.claim(node, [camera], TTL)

        for camera in cameras:
            won.clear()
            racers = [
                threading.Thread(target=race, args=(first, "sgu-1", camera)),
                threading.Thread(target=race, args=(second, "sgs-1", camera)),
            ]
            for racer in racers:
                racer.start()
            for racer in racers:
                racer.join(timeout=30)
            winners = [node for node, claimed in won.items() if claimed == [camera]]
            assert len(won) == 2 and len(winners) == 1, (camera, won)
            holders = [lease.node for lease in first.leases() if lease.camera == camera]
            assert holders == winners


# ---------------------------------------------------------------------- audit


def test_audit_rows_sent_twice_are_stored_once(fleet_store: FleetStore) -> None:
    first = [audit_row(n) for n in range(5)]
    assert fleet_store.add_audit(first) == 5
    # The reply was lost: the node sends the batch again, with what it wrote since.
    assert fleet_store.add_audit([*first, audit_row(5), audit_row(6)]) == 2
    stored = fleet_store.audit()
    assert [row.target for row in stored] == [f"cam-{n}" for n in range(7)]
    assert stored[3] == audit_row(3)
    assert [row.target for row in fleet_store.audit(since=T0 + timedelta(seconds=5))] == [
        "cam-5",
        "cam-6",
    ]


def test_audit_rows_resent_after_an_outage_are_stored_once(
    pg: PgDatabase, fleet_store: FleetStore
) -> None:
    sent = [audit_row(n) for n in range(3)]
    fleet_store.add_audit(sent)
    outbox = [*sent, *(audit_row(n) for n in range(3, 6))]
    pg.stop()
    try:
        with pytest.raises(StoreUnavailable):
            fleet_store.add_audit(outbox)  # the node keeps its outbox
    finally:
        pg.start()
    assert fleet_store.add_audit(outbox) == 3
    assert [row.id for row in fleet_store.audit()] == [row.id for row in outbox]


# ---------------------------------------------------------------------- catalogue


def test_the_catalogue_says_which_node_holds_a_camera_at_a_time(fleet_store: FleetStore) -> None:
    minute = timedelta(minutes=1)
    fleet_store.record_run(FootageRun("sgu-1", "cam-1", T0, T0 + 10 * minute))
    # Failover: sgs-1 started one segment before sgu-1's run ended (the allowed overlap).
    fleet_store.record_run(FootageRun("sgs-1", "cam-1", T0 + 9 * minute, None))
    fleet_store.record_run(FootageRun("sgs-1", "cam-2", T0, T0 + 60 * minute))
    assert [r.node for r in fleet_store.where("cam-1", T0 + 5 * minute)] == ["sgu-1"]
    assert [r.node for r in fleet_store.where("cam-1", T0 + 9.5 * minute)] == ["sgu-1", "sgs-1"]
    assert [r.node for r in fleet_store.where("cam-1", T0 + 500 * minute)] == ["sgs-1"]  # open run
    assert fleet_store.where("cam-1", T0 - minute) == []
    assert [(r.node, r.end) for r in fleet_store.runs("cam-1", T0, T0 + 20 * minute)] == [
        ("sgu-1", T0 + 10 * minute),
        ("sgs-1", None),
    ]


def test_a_resent_run_merges_and_an_open_copy_never_reopens_it(fleet_store: FleetStore) -> None:
    minute = timedelta(minutes=1)
    fleet_store.record_run(FootageRun("sgu-1", "cam-1", T0, None))
    fleet_store.record_run(FootageRun("sgu-1", "cam-1", T0, T0 + 5 * minute))
    fleet_store.record_run(FootageRun("sgu-1", "cam-1", T0, None))  # a late, stale copy
    fleet_store.record_run(FootageRun("sgu-1", "cam-1", T0, T0 + 3 * minute))  # an older close
    assert fleet_store.runs("cam-1", T0, T0 + 60 * minute) == [
        FootageRun("sgu-1", "cam-1", T0, T0 + 5 * minute)
    ]


# ---------------------------------------------------------------------- engine restarts


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_the_store_reconnects_after_a_restart_and_nothing_is_lost_or_doubled(
    pg: PgDatabase, fleet_store: FleetStore, mode: str
) -> None:
    join(fleet_store, "sgu-1")
    fleet_store.claim("sgu-1", ["cam-1", "cam-2"], TTL)
    fleet_store.add_audit([audit_row(1)])
    fleet_store.record_run(FootageRun("sgu-1", "cam-1", T0, None))
    pg.stop(mode)  # "immediate" is a crash: no shutdown checkpoint
    pg.start()
    # The same store object, whose connection the restart cut.
    assert fleet_store.renew("sgu-1", TTL) == ["cam-1", "cam-2"]
    assert fleet_store.add_audit([audit_row(1), audit_row(2)]) == 1
    fleet_store.record_run(FootageRun("sgu-1", "cam-1", T0, T0 + timedelta(minutes=1)))
    assert [row.target for row in fleet_store.audit()] == ["cam-1", "cam-2"]
    assert fleet_store.runs("cam-1", T0, T0 + timedelta(hours=1)) == [
        FootageRun("sgu-1", "cam-1", T0, T0 + timedelta(minutes=1))
    ]
    assert [n.name for n in fleet_store.nodes()] == ["sgu-1"]


# ---------------------------------------------------------------------- inventory notices


def test_a_published_version_is_announced_to_listeners(
    pg: PgDatabase, fleet_store: FleetStore
) -> None:
    with InventoryListener(pg.dsn) as listener:
        listener.connect()
        assert listener.wait(0.2) is None  # the control: nothing published, nothing heard
        fleet_store.publish_inventory("a = 1\n", {"a": 1}, author="noc")
        assert listener.wait(10) == 1
        fleet_store.publish_inventory("a = 2\n", {"a": 2}, author="noc")
        assert listener.wait(10) == 2
        fleet_store.publish_inventory("a = 2\n", {"a": 2}, author="noc")  # the same text: no notice
        assert listener.wait(0.2) is None


def test_a_listener_cut_by_a_restart_says_so_then_listens_again(
    pg: PgDatabase, fleet_store: FleetStore
) -> None:
    with InventoryListener(pg.dsn) as listener:
        listener.connect()
        pg.stop()
        try:
            with pytest.raises(StoreUnavailable, match="fleet store unreachable"):
                listener.wait(10)
        finally:
            pg.start()
        listener.connect()
        fleet_store.publish_inventory("b = 1\n", {"b": 1}, author="noc")
        assert listener.wait(10) == 1
