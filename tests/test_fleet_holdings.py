"""What each node holds, stands in for and last renewed; a node leaving the fleet cleanly;
and the store's close bounded in time. Against a real PostgreSQL, nothing mocked."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import psycopg
from fleet_sites import keyed_site
from harness import SiteSpec
from pg_harness import PgDatabase, PgEngine, sql

from cctvctl.config import load_inventory
from cctvctl.fleet.listen import InventoryListener
from cctvctl.fleet.placement import live_nodes
from cctvctl.fleet.schema import MIGRATIONS, migrate
from cctvctl.fleet.store import FleetStore, Holding

TTL = timedelta(seconds=30)
# Two kecamatan of two cameras each: Sangatta Utara's, then Bengalon's.
SPEC = SiteSpec(cameras=4, kecamatan=("Sangatta Utara", "Bengalon"))


def join(store: FleetStore, *names: str) -> None:
    for name in names:
        store.heartbeat(name, url=f"http://{name}:8470", version="0.1.0", kecamatan=[], capacity=4)


def publish(store: FleetStore, tmp_path: Path, keys: dict[int, str]) -> list[str]:
    """The site's inventory with ``keys`` (TOML lines) added to camera n, published as the
    API publishes it (the validated model); returns the camera ids in order."""
    site, text = keyed_site(tmp_path / "site", SPEC, keys)
    inventory = load_inventory(site.config)
    store.publish_inventory(text, inventory.data.model_dump(mode="json"), author="test")
    return [e.camera.id for e in inventory.cameras()]


def by_node(store: FleetStore) -> dict[str, Holding]:
    return {h.node: h for h in store.holdings()}


def test_holdings_name_what_each_node_records_and_stands_in_for(
    pg: PgDatabase, fleet_store: FleetStore, tmp_path: Path
) -> None:
    cams = publish(
        fleet_store,
        tmp_path,
        {0: '    node = "sgu-1"\n    failover = ["sgs-1"]\n', 2: '    node = "bgl-1"\n'},
    )
    # cams[1] has no home: sgu-1 homes it (home to Sangatta Utara); cams[3] likewise bgl-1.
    join(fleet_store, "sgu-1", "sgs-1", "bgl-1", "idle-1")
    fleet_store.claim("sgs-1", [cams[0], cams[1]], TTL)  # sgu-1's: a failover
    fleet_store.claim("bgl-1", [cams[2], cams[3]], TTL)  # its own, and a homeless one of its own
    fleet_store.claim("sgu-1", ["not-in-inventory"], TTL)
    held = by_node(fleet_store)
    assert set(held) == {"sgu-1", "sgs-1", "bgl-1", "idle-1"}
    # (Sorted by id: san-cam-01, san-cam-03; ben-cam-02, ben-cam-04.)
    assert held["sgs-1"].cameras == (cams[0], cams[1])
    assert held["sgs-1"].taken_over == (cams[0], cams[1])
    assert held["bgl-1"].cameras == (cams[2], cams[3])
    assert held["bgl-1"].taken_over == ()
    assert held["sgu-1"].cameras == ("not-in-inventory",)
    assert held["sgu-1"].taken_over == ()
    idle = held["idle-1"]
    assert (idle.cameras, idle.taken_over, idle.renewed, idle.oldest) == ((), (), None, None)
    # An expired lease is held no more, but its renewal time still says when it was renewed.
    sql(pg.dsn, f"UPDATE leases SET expires = now() - interval '1 s' WHERE camera = '{cams[0]}'")
    sgs = by_node(fleet_store)["sgs-1"]
    assert (sgs.cameras, sgs.taken_over) == ((cams[1],), (cams[1],))
    assert sgs.renewed is not None and sgs.oldest is not None


def test_a_homeless_camera_is_taken_over_only_where_another_node_is_home(
    fleet_store: FleetStore, tmp_path: Path
) -> None:
    # Nobody is home to Bengalon: its homeless cameras are nobody's stand-ins.
    cams = publish(fleet_store, tmp_path, {0: '    node = "sgu-1"\n'})
    join(fleet_store, "sgu-1", "bgl-1")
    fleet_store.claim("bgl-1", [cams[1], cams[3]], TTL)
    held = by_node(fleet_store)["bgl-1"]
    assert held.cameras == tuple(sorted((cams[1], cams[3])))
    assert held.taken_over == (cams[1],)  # Sangatta Utara's, sgu-1 is home there


def test_renewal_moves_the_renewal_time_and_not_the_acquired_time(fleet_store: FleetStore) -> None:
    join(fleet_store, "sgu-1")
    fleet_store.claim("sgu-1", ["cam-1"], TTL)
    (before,) = fleet_store.leases("sgu-1")
    assert before.renewed == before.acquired
    time.sleep(0.05)
    fleet_store.renew("sgu-1", TTL)
    (after,) = fleet_store.leases("sgu-1")
    assert after.acquired == before.acquired
    assert after.renewed is not None and before.renewed is not None
    assert after.renewed > before.renewed
    held = by_node(fleet_store)["sgu-1"]
    assert (held.renewed, held.oldest) == (after.renewed, after.acquired)


def test_a_node_that_leaves_frees_its_leases_at_once_and_is_heard(
    pg: PgDatabase, fleet_store: FleetStore
) -> None:
    join(fleet_store, "sgu-1", "sgs-1")
    fleet_store.claim("sgu-1", ["cam-1", "cam-2"], TTL)
    with InventoryListener(pg.dsn) as listener:
        listener.connect()
        assert fleet_store.leave("sgu-1") == ["cam-1", "cam-2"]
        assert listener.wait(10) is None  # no inventory version came with it
        assert listener.take_left() == {"sgu-1"}
        assert listener.take_left() == set()  # taken once
    assert fleet_store.leases("sgu-1") == []
    # The leases were live for 30 s more; free now, the failover node takes them.
    assert fleet_store.claim("sgs-1", ["cam-1", "cam-2"], TTL) == ["cam-1", "cam-2"]
    nodes = {n.name: n for n in fleet_store.nodes()}
    assert nodes["sgu-1"].stopped is not None and nodes["sgs-1"].stopped is None
    # Its heartbeat is fresh, yet it is out of the placement at once.
    assert live_nodes(nodes.values(), fleet_store.now(), TTL) == {"sgs-1"}
    # Its next heartbeat (a restart) makes it a running node again.
    join(fleet_store, "sgu-1")
    back = {n.name: n for n in fleet_store.nodes()}["sgu-1"]
    assert back.stopped is None
    assert live_nodes(fleet_store.nodes(), fleet_store.now(), TTL) == {"sgu-1", "sgs-1"}


def test_a_store_of_the_first_schema_is_migrated_keeping_its_leases(pg_engine: PgEngine) -> None:
    dsn = pg_engine.create_database("v1")
    with psycopg.connect(dsn, autocommit=True) as conn:
        migrate(conn, MIGRATIONS[:1])
        conn.execute(
            "INSERT INTO nodes VALUES ('sgu-1', 'http://sgu-1:8470', '0.1.0', '{}', 4, now())"
        )
        conn.execute(
            "INSERT INTO leases VALUES ('cam-1', 'sgu-1', now() + interval '30 s', "
            "now() - interval '1 min')"
        )
    with FleetStore.open(dsn) as store:
        (lease,) = store.leases()
        assert lease.renewed == lease.acquired  # the best a first-schema lease can tell
        (node,) = store.nodes()
        assert node.stopped is None
    assert sql(dsn, "SELECT version FROM schema_version") == [(len(MIGRATIONS),)]


def test_close_waits_no_longer_than_told_for_a_call_stuck_on_the_store(
    pg: PgDatabase, fleet_store: FleetStore
) -> None:
    join(fleet_store, "sgu-1")
    answered: list[int] = []
    with psycopg.connect(pg.dsn) as blocker:
        # Another session holds the table: the store's next call waits on it, as one on a
        # link that went quiet would.
        blocker.execute("LOCK TABLE nodes IN ACCESS EXCLUSIVE MODE")
        caller = threading.Thread(target=lambda: answered.append(len(fleet_store.nodes())))
        caller.start()
        time.sleep(0.3)
        assert caller.is_alive()
        began = time.monotonic()
        assert fleet_store.close(timeout=0.5) is False
        waited = time.monotonic() - began
        assert 0.4 < waited < 2.0
        blocker.rollback()
    caller.join(10)
    assert answered == [1]  # the call in flight was not cut
    assert fleet_store.close(timeout=0.5) is True
