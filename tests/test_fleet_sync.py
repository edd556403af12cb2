"""A real fleet node (`cctvctl server --node`, real simulator, real PostgreSQL) keeps the
fleet store in step: its audit rows arrive once, its footage runs follow its index, the
fleet's tokens work on it, and a store outage (with the node restarted during it) loses
and doubles nothing.

The issue's outage is 60 s; the mechanism is the same for any length, so the outage here
is as long as a node restart and a few 2 s segments take (about 10 s), which keeps this
file under a minute.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from harness import RunningSim, ServerProcess, Site, SiteSpec, wait_for
from pg_harness import PgDatabase

from cctvctl.config import hash_token
from cctvctl.fleet.store import FleetStore

SPEC = SiteSpec(cameras=2, kecamatan=("Sangatta Utara",), segment_seconds=2)
Node = Callable[[str], tuple[Site, ServerProcess]]


@pytest.fixture
def store(pg: PgDatabase) -> Iterator[FleetStore]:
    with FleetStore.open(pg.dsn) as opened:
        yield opened


@pytest.fixture
def fleet_node(
    pg: PgDatabase,
    site_factory: Callable[..., Site],
    sim_factory: Callable[[Site], RunningSim],
    server_factory: Callable[..., ServerProcess],
) -> Node:
    """``fleet_node(name)``: a site joined to the module's fleet store, its simulator and
    its node, started."""

    def make(name: str) -> tuple[Site, ServerProcess]:
        site = site_factory(SPEC)
        site.config.write_text(site.config.read_text() + f'\n[fleet]\ndsn = "{pg.dsn}"\n')
        sim_factory(site)
        return site, server_factory(site, args=("--node", name))

    return make


def local_rows(site: Site, sql: str) -> list[tuple[Any, ...]]:
    """Read the node's own index beside it (read-only; WAL lets it run meanwhile)."""
    uri = f"file:{site.storage / 'index.sqlite3'}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as conn:
        return conn.execute(sql).fetchall()


def local_audit(site: Site) -> dict[str, tuple[object, ...]]:
    rows = local_rows(site, "SELECT uuid, action, actor, result FROM audit")
    return {str(r[0]): r[1:] for r in rows}


def fleet_audit(store: FleetStore, node: str) -> dict[str, tuple[object, ...]]:
    rows = [r for r in store.audit(limit=10_000) if r.node == node]
    found = {str(r.id): (r.action, r.actor, r.result) for r in rows}
    assert len(found) == len(rows)
    return found


def audit_arrived(store: FleetStore, node: str, site: Site) -> bool:
    local = local_audit(site)
    return bool(local) and fleet_audit(store, node) == local


def audited_actions(server: ServerProcess) -> None:
    """A reload (admin) and an export a viewer may not make: two audit rows."""
    with server.client("admin") as admin:
        answer = admin.post("/api/v1/server/reload")
        assert answer.status_code == 200
        # The node's name came from --node, not the file: a reload keeps it, unreported.
        assert answer.json()["needs_restart"] == [], answer.json()
    with server.client("viewer") as viewer:
        now = datetime.now(UTC)
        body = {"camera": "x", "start": (now - timedelta(minutes=1)).isoformat()}
        assert (
            viewer.post("/api/v1/exports", json={**body, "end": now.isoformat()}).status_code == 403
        )


def segments_covered(store: FleetStore, node: str, site: Site, since: float = 0.0) -> bool:
    """Every segment the node indexed (starting at or after ``since``) lies in one of its
    runs in the fleet catalogue."""
    segments = local_rows(site, f'SELECT camera, start, "end" FROM segments WHERE start >= {since}')
    if not segments:
        return False
    for camera, start, end in segments:
        t0 = datetime.fromtimestamp(start, UTC)
        t1 = datetime.fromtimestamp(end, UTC)
        runs = [r for r in store.runs(camera, t0, t1) if r.node == node]
        if not any(r.start <= t0 and r.end is not None and r.end >= t1 for r in runs):
            return False
    return True


def test_audit_rows_arrive_once_and_the_catalogue_ends_where_the_footage_ends(
    store: FleetStore, fleet_node: Node
) -> None:
    site, server = fleet_node("sgu-a")
    audited_actions(server)
    wait_for(lambda: audit_arrived(store, "sgu-a", site), 15, what="the node's audit rows")
    assert sorted(a for a, *_ in fleet_audit(store, "sgu-a").values()) == [
        "export.request",
        "server.reload",
    ]
    wait_for(lambda: segments_covered(store, "sgu-a", site), 20, what="runs covering segments")
    # At shutdown the recorder closes its open segments, then the last flush sends them:
    # each camera's latest run ends where its footage on this node ends.
    assert server.stop() == 0
    now = datetime.now(UTC)
    for camera, last_end in local_rows(
        site, 'SELECT camera, MAX("end") FROM segments GROUP BY camera'
    ):
        runs = [r for r in store.runs(camera, now - timedelta(minutes=5), now) if r.node == "sgu-a"]
        assert runs and runs[-1].end == datetime.fromtimestamp(last_end, UTC)


def test_an_outage_with_a_node_restart_loses_and_doubles_nothing(
    pg: PgDatabase, store: FleetStore, fleet_node: Node
) -> None:
    store.put_token("noc-dewi", "viewer", hash_token("dewi-fleet-token"))
    site, server = fleet_node("sgu-b")
    with server.client(token="dewi-fleet-token") as dewi:
        wait_for(lambda: dewi.get("/api/v1/cameras").status_code == 200, 15, what="fleet token")
    audited_actions(server)
    wait_for(lambda: audit_arrived(store, "sgu-b", site), 15, what="the rows before the outage")
    pg.stop()
    try:
        outage = datetime.now(UTC).timestamp()
        audited_actions(server)
        assert server.stop() == 0
        server.start()  # against an unreachable store: it records all the same
        with server.client(token="dewi-fleet-token") as dewi:
            assert dewi.get("/api/v1/cameras").status_code == 200  # from the local copy
        audited_actions(server)
        with server.client(token="dewi-fleet-token") as dewi:
            assert dewi.get("/api/v1/cameras").status_code == 200  # a reload keeps it
        wait_for(
            lambda: len(local_rows(site, f"SELECT 1 FROM segments WHERE start > {outage}")) >= 4,
            20,
            what="footage recorded during the outage",
        )
        assert len(local_audit(site)) == 6
    finally:
        pg.start()
    wait_for(lambda: audit_arrived(store, "sgu-b", site), 20, what="the rows of the outage")
    assert len(fleet_audit(store, "sgu-b")) == 6
    wait_for(
        lambda: segments_covered(store, "sgu-b", site, since=outage),
        20,
        what="the runs recorded during the outage",
    )
    assert "fleet store unreachable" in server.log_text(-1)


def test_a_token_put_in_the_store_works_within_seconds_and_a_removed_one_gets_401(
    store: FleetStore, fleet_node: Node
) -> None:
    _, server = fleet_node("sgu-c")
    store.put_token("noc-eka", "operator", hash_token("eka-fleet-token"))

    def status() -> int:
        with server.client(token="eka-fleet-token") as eka:
            return eka.get("/api/v1/cameras").status_code

    wait_for(lambda: status() == 200, 10, what="the new fleet token accepted")
    # The node's own tokens still work beside the fleet's.
    with server.client("viewer") as viewer:
        assert viewer.get("/api/v1/cameras").status_code == 200
    store.remove_token("noc-eka")
    wait_for(lambda: status() == 401, 10, what="the removed fleet token refused")
