"""A clean stop (SIGTERM) of a fleet node releases its leases, so its failover node records
its cameras at once instead of after the lease, and every view says "stopped", not down.
The console's overview names, for each kecamatan, only the node(s) serving it.

Two real `cctvctl server` nodes, the simulator and a real PostgreSQL, with the default
30 s lease: a failover that waited for the lease, or for the failover node's next tick (a
third of it), would show in the footage. The footage lost is measured from the segments on
disk of both nodes (their indexes).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_process import run_cctvctl
from fleet_sites import Fleet, node_site, running_fleet
from harness import ServerProcess, SiteSpec, wait_for, write_site
from pg_harness import PgDatabase, PgEngine
from tcp_relay import TcpRelay
from textual.widgets import DataTable
from tui_pilot import screen_text, shown, until

from cctvctl.fleet.store import FleetStore
from cctvctl.server.fleet_node import LEAVE_SECONDS
from cctvctl.storage.gaps import find_gaps
from cctvctl.tui.app import CctvApp
from cctvctl.tui.data import ServerTarget
from cctvctl.tui.screens.nodes import NodesScreen

LEASE = 30
SEGMENT = 2
NODES = ("node-a", "node-b")
SPEC = SiteSpec(
    cameras=4,
    kecamatan=("Sangatta Utara", "Bengalon"),
    segment_seconds=SEGMENT,
    offline_after=3,
)
# Holes shorter than this are where two nodes' segments meet, not footage lost.
SEAM = 0.5
# Well under the lease, and under the failover node's tick too: only the leave's notice
# can have moved the cameras this fast.
LOST_AT_MOST = LEASE / 6


@pytest.fixture(scope="module")
def fleet(
    tmp_path_factory: pytest.TempPathFactory, sim_cache: Path, pg: PgDatabase
) -> Iterator[Fleet]:
    with running_fleet(
        tmp_path_factory.mktemp("stop"), sim_cache, pg.dsn, SPEC, NODES, LEASE
    ) as fleet:
        yield fleet


def console(fleet: Fleet, first: str) -> CctvApp:
    """`cctvctl tui --fleet` asked of ``first``, watching every node (viewer token)."""
    token = fleet.site.tokens["viewer"]
    more = [ServerTarget(s.url, token, n) for n, s in fleet.nodes.items() if n != first]
    return CctvApp(
        fleet.nodes[first].url,
        token,
        first,
        refresh=0.5,
        health_seconds=0.5,
        more=more,
        fleet=True,
    )


def cells(app: CctvApp, key: str) -> list[str]:
    table = app.screen.query_one(DataTable)
    if key not in table.rows:
        return []
    return [str(c) for c in table.get_row(key)]


async def test_the_overview_names_only_the_node_serving_each_kecamatan(fleet: Fleet) -> None:
    # Each node's roll-up lists both kecamatan (the fleet's inventory), one with no camera.
    for node in NODES:
        listed = {
            k["slug"]: k["cameras_total"] for k in fleet.nodes[node].get("/api/v1/kecamatan").json()
        }
        assert sorted(listed.values()) == [0, 2]  # the control: the bug's input is there
    app = console(fleet, "node-a")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: cells(app, "bengalon")[4:5] == ["node-b"], timeout=20)
        await until(pilot, lambda: cells(app, "sangatta-utara")[4:5] == ["node-a"], timeout=20)
        await pilot.pause(1.5)  # three more polls: nothing else joins either row
        assert cells(app, "sangatta-utara")[4] == "node-a"
        assert cells(app, "bengalon")[4] == "node-b"


def test_sigterm_releases_the_leases_and_the_failover_node_records_at_once(
    fleet: Fleet,
) -> None:
    stopping, stand_in = "node-a", "node-b"
    cameras = fleet.homed(stopping)
    assert cameras and all(fleet.failover[c] == [stand_in] for c in cameras)
    began = time.time()
    code = fleet.nodes[stopping].stop()
    took = time.time() - began
    assert code == 0
    assert took < LEASE / 2, f"the stop took {took:.1f} s"
    assert "left the fleet: 2 leases released" in fleet.nodes[stopping].log_text(-1)
    holders = {lease.camera: lease.node for lease in fleet.store.leases()}
    assert holders == dict.fromkeys(fleet.home, stand_in)
    (listed,) = [n for n in fleet.store.nodes() if n.name == stopping]
    assert listed.stopped is not None

    # Footage up to a few closed segments of the stand-in after the stop.
    wait_for(
        lambda: all(
            any(end >= began + 3 * SEGMENT for _, end in fleet.spans(stand_in, c)) for c in cameras
        ),
        LEASE,
        what=f"{stand_in} recording {cameras}",
    )
    for cam in cameras:
        spans = fleet.all_spans(cam)
        until = max(end for _, end in fleet.spans(stand_in, cam))
        report = find_gaps(spans, began - SEGMENT, until, tolerance=SEAM)
        first = min(start for start, _ in fleet.spans(stand_in, cam))
        print(
            f"{cam}: {report.missing_seconds:.1f} s lost at the SIGTERM of {stopping} "
            f"(lease {LEASE} s, stop took {took:.1f} s); {stand_in} recorded from "
            f"{first - began:+.1f} s"
        )
        assert report.missing_seconds <= LOST_AT_MOST, report.gaps
        assert first - began < LOST_AT_MOST


def test_the_fleet_shows_the_stopped_node_as_stopped_and_what_was_taken_over(
    fleet: Fleet,
) -> None:
    stopped, stand_in = "node-a", "node-b"
    assert not fleet.nodes[stopped].running  # the test above stopped it
    body = fleet.nodes[stand_in].get("/api/v1/fleet/nodes").json()
    nodes = {n["name"]: n for n in body["nodes"]}
    assert nodes[stopped]["alive"] is False and nodes[stopped]["stopped"] is not None
    assert nodes[stopped]["leases"] == 0 and nodes[stopped]["taken_over"] == []
    # Its heartbeat is younger than the lease: only the stop tells it apart from alive.
    assert nodes[stopped]["heartbeat_age"] < LEASE
    b = nodes[stand_in]
    assert b["alive"] is True and b["stopped"] is None
    assert b["leases"] == len(fleet.home)
    assert b["taken_over"] == fleet.homed(stopped)
    # Renewed every third of the lease; the leases it took over are the youngest.
    assert b["lease_age"] is not None and b["lease_age"] <= LEASE / 3 + 2
    assert b["oldest_lease_age"] is not None and b["oldest_lease_age"] > 0

    env = {"CCTVCTL_URL": fleet.nodes[stand_in].url, "CCTVCTL_TOKEN": fleet.site.tokens["viewer"]}
    shown = run_cctvctl("fleet", "nodes", env=env)
    assert shown.returncode == 0, shown.stderr
    rows = {line.split()[0]: line.split() for line in shown.stdout.splitlines() if line.strip()}
    assert rows[stopped][1] == "stopped"
    assert rows[stand_in][1:4] == ["alive", f"{len(fleet.home)}/{len(fleet.home)}", "2"]
    assert "2 nodes, 0 down, 1 stopped" in shown.stdout
    assert "DOWN" not in shown.stdout and "TAKEN" in shown.stdout
    # --fleet does not ask it: not a partial answer, and no camera of it "unknown".
    status = run_cctvctl("status", "--fleet", env=env)
    assert status.returncode == 0, status.stderr
    assert f"cctvctl: {stopped}: stopped (left the fleet cleanly); not asked" in status.stderr
    assert "unreachable" not in status.stdout and stand_in in status.stdout


async def test_the_console_shows_the_stopped_node_stopped_and_its_cameras_elsewhere(
    fleet: Fleet,
) -> None:
    stopped, stand_in = "node-a", "node-b"
    assert not fleet.nodes[stopped].running
    app = console(fleet, stand_in)
    async with app.run_test(size=(80, 24)) as pilot:
        # Its home kecamatan is recorded by the stand-in: nothing unknown, no dead node.
        await until(pilot, lambda: cells(app, "sangatta-utara")[4:5] == [stand_in], timeout=20)
        assert "unknown" not in " ".join(cells(app, "sangatta-utara"))
        await pilot.press("N")
        await shown(pilot, NodesScreen)
        await until(pilot, lambda: cells(app, stopped)[1:2] == ["stopped"], timeout=20)
        await until(pilot, lambda: cells(app, stand_in)[1:2] == ["alive"], timeout=20)
        b = cells(app, stand_in)
        # Node, State, Beat, Cams, Taken, Lease, ...
        assert b[3:5] == [str(len(fleet.home)), "!2"]
        assert b[5].endswith("s") and int(b[5][:-1]) <= LEASE / 3 + 2
        a = cells(app, stopped)
        assert a[3:6] == ["0", "0", "-"] and a[6:9] == ["-", "-", "-"]
        assert "unreachable" not in screen_text(app)


def test_a_store_gone_quiet_does_not_hold_the_shutdown(pg_engine: PgEngine, tmp_path: Path) -> None:
    # The node reaches the store through a relay that then goes quiet: its calls wait for
    # ever (no reset, keepalives answered), as behind a dead link.
    dsn = pg_engine.create_database("quiet")
    with TcpRelay(("127.0.0.1", pg_engine.port)) as relay:
        quiet = dsn.replace(f"127.0.0.1:{pg_engine.port}/", f"127.0.0.1:{relay.port}/")
        assert quiet != dsn
        site = write_site(tmp_path / "site", SiteSpec(cameras=1, kecamatan=("Bengalon",)))
        server = ServerProcess(node_site(site, "node-q", quiet, 6))
        server.start()
        try:
            with FleetStore(dsn) as store:
                wait_for(
                    lambda: any(n.name == "node-q" for n in store.nodes()),
                    20,
                    what="node-q registered through the relay",
                )
            relay.freeze()
            time.sleep(3)  # a tick (every 2 s) and a sync pass now wait on the link
            began = time.time()
            code = server.stop(timeout=40)
            took = time.time() - began
        finally:
            server.kill()
    log = server.log_text(-1)
    print(f"stop with the store gone quiet took {took:.1f} s")
    assert code == 0, log
    # The fleet thread (4 s), the sync's last pass (4 s) and the store close (2 s), each
    # bounded: not TCP keepalive's time, nor for ever.
    assert took < 15 + LEAVE_SECONDS, log
    # Whichever call the link caught (a tick, or the leave itself), it was let go.
    assert (
        "leaving without releasing leases" in log
        or "could not leave the fleet (no answer within" in log
    ), log
    assert "did not answer the last flush" in log
    assert "closing without it" in log
