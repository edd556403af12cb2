"""A fleet of three real `cctvctl server` nodes beside the simulator and a real PostgreSQL:
each node records its home cameras under leases, a killed node's cameras fail over and come
back at a segment boundary, and the store going down stops nobody's recording.

The tests run in file order over one fleet (a module fixture): the kill and the return
are one story, and the outage starts from the fleet the return left. Footage is read from
each node's own index (the truth for its segments), never from what a node says.
"""

from __future__ import annotations

import re
import stat
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cli_process import clean_env, run_cctvctl
from fleet_sites import Fleet, fleet_toml, running_fleet
from harness import (
    RunningSim,
    ServerProcess,
    Site,
    SiteSpec,
    free_port,
    segment_spans,
    wait_for,
    without_camera,
)
from pg_harness import PgDatabase

from cctvctl.server.fleet_node import CACHE_NAME, HANDOVER_GRACE
from cctvctl.storage.gaps import find_gaps

LEASE = 6
SEGMENT = 2
NODES = ("node-a", "node-b", "node-c")
SPEC = SiteSpec(
    cameras=6,
    kecamatan=("Sangatta Utara", "Bengalon", "Muara Wahau"),
    segment_seconds=SEGMENT,
    offline_after=3,
)
# Holes shorter than this are where two nodes' segments meet (times rounded to the
# packet), not footage lost.
SEAM = 0.5


@pytest.fixture(scope="module")
def fleet(
    tmp_path_factory: pytest.TempPathFactory, sim_cache: Path, pg: PgDatabase
) -> Iterator[Fleet]:
    # Kecamatan i is homed on node i, failing over to the next nodes in turn.
    with running_fleet(
        tmp_path_factory.mktemp("fleet"), sim_cache, pg.dsn, SPEC, NODES, LEASE
    ) as fleet:
        yield fleet


def test_each_node_records_its_home_cameras_and_only_those(fleet: Fleet) -> None:
    time.sleep(LEASE)  # a lease more: nothing moves once the fleet has settled
    for node in NODES:
        assert fleet.indexed(node) == set(fleet.homed(node))
        assert fleet.listed(node) == set(fleet.homed(node))
    held = {lease.camera: lease.node for lease in fleet.store.leases()}
    assert held == fleet.home
    registered = {n.name: n for n in fleet.store.nodes()}
    assert set(registered) == set(NODES)
    a = registered["node-a"]
    assert a.url == fleet.nodes["node-a"].url
    assert a.kecamatan == (fleet.site.camera_kecamatan[fleet.homed("node-a")[0]],)
    # Its two home cameras and, as the second failover, the two of each other node.
    assert a.capacity == 6


def test_a_killed_nodes_cameras_fail_over_and_come_back_at_a_segment_boundary(
    fleet: Fleet,
) -> None:
    dead, stand_in = "node-a", "node-b"
    cameras = fleet.homed(dead)
    assert all(fleet.failover[c][0] == stand_in for c in cameras)
    killed = time.time()
    fleet.nodes[dead].kill()

    def taken_over() -> bool:
        return all(any(start >= killed for start, _ in fleet.spans(stand_in, c)) for c in cameras)

    wait_for(taken_over, LEASE + 15 + SEGMENT, what=f"{stand_in} recording {cameras}")
    assert {c for c, n in _holders(fleet).items() if n == stand_in} == set(
        fleet.homed(stand_in) + cameras
    )
    # node-c, the second failover, took nothing.
    assert fleet.indexed("node-c") == set(fleet.homed("node-c"))

    returned = time.time()
    fleet.nodes[dead].start()
    wait_for(
        lambda: fleet.listed(stand_in) == set(fleet.homed(stand_in)),
        30,
        what=f"{stand_in} handing {cameras} back",
    )
    assert {c for c, n in _holders(fleet).items() if n == dead} == set(cameras)
    # Closed segments on both sides of the handback, and one more of the home node.
    settled = time.time()
    wait_for(
        lambda: all(fleet.spans(dead, c)[-1][0] >= settled for c in cameras),
        15,
        what="a segment of node-a after the handback",
    )

    for cam in cameras:
        spans = fleet.all_spans(cam)
        outage = find_gaps(spans, killed - SEGMENT, returned, tolerance=SEAM)
        after = find_gaps(spans, returned, settled, tolerance=SEAM)
        back = [s for s in fleet.spans(dead, cam) if s[0] >= returned]
        last_failover = max(end for start, end in fleet.spans(stand_in, cam) if start >= killed)
        overlap = last_failover - back[0][0]
        print(
            f"{cam}: {outage.missing_seconds:.1f} s missing after kill -9 of {dead} "
            f"(lease {LEASE} s), {after.missing_seconds:.1f} s around the handback, "
            f"recorded twice for {overlap:.1f} s"
        )
        assert outage.missing_seconds <= LEASE + 15
        assert after.gaps == [], f"{cam}: unrecorded around the handback: {after.gaps}"
        # The stand-in stopped at the first boundary once the home node had the lease
        # and its connect time: about one segment, never open-ended.
        assert 0 < overlap <= SEGMENT + HANDOVER_GRACE + 2 * SEGMENT


def test_the_store_down_stops_no_recording_and_leases_renew_after(
    fleet: Fleet, pg: PgDatabase
) -> None:
    before = _holders(fleet)
    assert before == fleet.home
    # node-c starts again while the store is down: it records from its cache.
    restarted = "node-c"
    cache = fleet.nodes[restarted].site.storage / CACHE_NAME
    assert stat.S_IMODE(cache.stat().st_mode) == 0o640  # the server's file mode
    down = time.time()
    pg.stop()
    fleet.nodes[restarted].stop()
    back = time.time()
    fleet.nodes[restarted].start()
    wait_for(
        lambda: all(
            any(start >= back for start, _ in fleet.spans(restarted, c))
            for c in fleet.homed(restarted)
        ),
        2 * LEASE,
        what=f"{restarted} recording from its cache with the store down",
    )
    assert "from the cached fleet inventory version 1" in fleet.nodes[restarted].log_text(-1)
    # Longer than a lease: every lease has run out meanwhile.
    time.sleep(max(0.0, down + LEASE + 3 - time.time()))
    pg.start()
    up = time.time()
    renewed = wait_for(
        lambda: _renewed(fleet, after=up), 3 * LEASE, what="every lease renewed after the outage"
    )
    assert renewed == fleet.home  # nobody's camera changed hands
    wait_for(
        lambda: all(fleet.all_spans(c)[-1][0] >= up for c in fleet.home),
        15,
        what="segments after the outage",
    )
    for cam, node in fleet.home.items():
        spans = fleet.spans(node, cam)
        # The restarted node from its first segment after the restart.
        start = min(s for s, _ in spans if s >= back) if node == restarted else down
        report = find_gaps(spans, start, up, tolerance=SEAM)
        assert report.gaps == [], f"{cam} on {node}: unrecorded during the outage"
        if node == restarted:
            cut = find_gaps(spans, back - SEGMENT, start, tolerance=SEAM)
            print(f"{cam}: {cut.missing_seconds:.1f} s missing over a restart, store down")
    for node, server in fleet.nodes.items():
        log = server.log_text(-1)
        said = re.findall(r"fleet store unreachable: .*recording on", log)
        assert len(said) == 1, f"{node} logged the outage {len(said)} times"
        assert "fleet store reachable again" in log


def test_a_published_version_is_heard_and_applied_in_place(fleet: Fleet) -> None:
    node = "node-c"
    kept, dropped = fleet.homed(node)
    full = fleet_toml(fleet.site, fleet.home, fleet.failover)
    smaller = without_camera(full, dropped)
    published = time.time()
    fleet.store.publish_inventory(smaller, tomllib.loads(smaller), author="test")
    wait_for(lambda: fleet.listed(node) == {kept}, 15, what=f"{node} dropping {dropped}")
    # Its lease released, not left to renew: the node stops recording the camera as soon
    # as it reads the version and releases the lease in the placement pass that follows,
    # which a busy store can make a moment later. A lease left to renew stays held.
    # Bounded under the time an unrenewed lease takes to run out (LEASE, renewed at a third).
    wait_for(lambda: dropped not in _holders(fleet), 3, what=f"{node} releasing {dropped}")
    assert any(start < published for start, _ in fleet.spans(node, dropped))  # footage kept
    # The camera comes back the way an operator adds one: `cctvctl fleet apply`, asked of
    # another node than the one that records it.
    (fleet.site.dir / "fleet.toml").write_text(full)
    env = clean_env() | {
        "CCTVCTL_URL": fleet.nodes["node-a"].url,
        "CCTVCTL_TOKEN": fleet.site.tokens["admin"],
    }
    again = time.time()
    applied = run_cctvctl("fleet", "apply", str(fleet.site.dir / "fleet.toml"), env=env)
    assert applied.returncode == 0, applied.stderr
    assert dropped in applied.stdout  # the change it made, named
    first = wait_for(
        lambda: next((s for s, _ in fleet.spans(node, dropped) if s >= again), None),
        15,
        what=f"{node} recording {dropped} again",
    )
    print(f"fleet apply to the added camera's first segment start: {first - again:.1f} s")
    wait_for(
        lambda: any(s >= again for s, _ in fleet.spans(node, kept)), 15, what=f"{kept} rolling"
    )
    assert _holders(fleet)[dropped] == node
    untouched = find_gaps(fleet.spans(node, kept), published, again, tolerance=SEAM)
    assert untouched.gaps == [], f"{kept} was touched by the new versions"


def test_a_reload_of_a_nodes_own_file_keeps_the_fleets_cameras(fleet: Fleet) -> None:
    node = "node-b"
    recording = fleet.listed(node)
    assert recording == set(fleet.homed(node))
    reloaded = time.time()
    with fleet.nodes[node].client("admin") as admin:
        answer = admin.post("/api/v1/server/reload", timeout=30)
    assert answer.status_code == 200, answer.text
    # The node's own file lists no camera: a reload that ran it would stop them all.
    assert answer.json()["cameras_removed"] == [], answer.json()
    assert fleet.listed(node) == recording
    later = reloaded + 3 * SEGMENT
    wait_for(
        lambda: all(any(s >= later for s, _ in fleet.spans(node, c)) for c in recording),
        20,
        what=f"{node} recording on after the reload",
    )
    for camera in recording:
        gaps = find_gaps(fleet.spans(node, camera), reloaded - SEGMENT, later, tolerance=SEAM)
        assert gaps.gaps == [], (camera, gaps)


def test_a_node_without_store_or_cache_records_its_own_files_cameras(
    site_factory: Callable[..., Site],
    sim_factory: Callable[[Site], RunningSim],
    server_factory: Callable[..., ServerProcess],
) -> None:
    site = site_factory(SiteSpec(cameras=2, kecamatan=("Bengalon",), segment_seconds=SEGMENT))
    sim_factory(site)
    nobody = f"postgresql://cctv@127.0.0.1:{free_port()}/cctv"  # nothing listens there
    text = site.config.read_text().replace("[server]\n", '[server]\nnode = "node-x"\n', 1)
    site.config.write_text(text + f'\n[fleet]\ndsn = "{nobody}"\nlease_seconds = {LEASE}\n')
    server = server_factory(site)
    wait_for(
        lambda: all(segment_spans(site.storage, c) for c in site.camera_ids),
        20,
        what="the local file's cameras recorded",
    )
    time.sleep(2 * LEASE / 3)  # two more ticks that cannot reach the store
    log = server.log_text()
    assert "no cached fleet inventory" in log
    # Once, not per tick (the sync thread says it once for its own duties too).
    assert len(re.findall(r"fleet store unreachable: .*; recording on without it", log)) == 1
    assert not (site.storage / CACHE_NAME).exists()  # nothing from the store to cache


def _holders(fleet: Fleet) -> dict[str, str]:
    return {lease.camera: lease.node for lease in fleet.store.leases()}


def _renewed(fleet: Fleet, *, after: float) -> dict[str, str] | None:
    """Camera -> node once every lease runs out later than a renewal after ``after``."""
    leases = fleet.store.leases()
    if len(leases) == len(fleet.home) and all(
        lease.expires.timestamp() > after + LEASE for lease in leases
    ):
        return {lease.camera: lease.node for lease in leases}
    return None
