"""A camera going up and down: counted by the recorder, marked FLAP by the API and the CLI.

The rules are checked with a manual clock; then the simulator's ``flap`` fault drives a
real camera through a real server, and ``cctvctl cameras`` is run against it as an
operator would, reading the same figure the API reports.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable

from cli_process import node_env, run_cctvctl
from harness import RunningSim, ServerProcess, Site, SiteSpec, wait_for

from cctvctl.models import FLAP_CHANGES, FLAP_WINDOW_SECONDS, Camera, OfflineCause
from cctvctl.recorder.stats import CameraStats


def _bounce(stats: CameraStats, now: list[float], times: int) -> None:
    """``times`` outages of 2 s, each followed by 2 s of packets."""
    for _ in range(times):
        stats.disconnected("stream ended by the camera", OfflineCause.ENDED)
        now[0] += 2
        stats.connected(10.0)
        stats.packet(1000, now[0])
        now[0] += 2


def test_changes_are_counted_on_the_stream_and_age_out() -> None:
    now = [0.0]
    stats = CameraStats("cam", offline_after=10, clock=lambda: now[0])
    stats.connected(10.0)
    stats.packet(1000, now[0])  # the first connection is no change
    assert stats.snapshot().changes_10m == 0

    _bounce(stats, now, 2)
    snap = stats.snapshot()
    # Quick outages never change the status (under offline_after), yet each is two changes.
    assert snap.changes_10m == 4 and not snap.flapping
    _bounce(stats, now, 1)
    snap = stats.snapshot()
    assert snap.changes_10m == FLAP_CHANGES and snap.flapping

    # Failed attempts while down add nothing: only going down and coming back count.
    stats.disconnected("stream ended by the camera", OfflineCause.ENDED)
    for _ in range(5):
        stats.failed("InvalidDataError: Invalid data", OfflineCause.NO_ANSWER)
    assert stats.snapshot().changes_10m == FLAP_CHANGES + 1

    now[0] += FLAP_WINDOW_SECONDS + 1
    snap = stats.snapshot()
    assert snap.changes_10m == 0 and not snap.flapping


def test_a_camera_that_never_connected_does_not_flap() -> None:
    now = [0.0]
    stats = CameraStats("cam", offline_after=10, clock=lambda: now[0])
    for _ in range(20):
        stats.failed("ConnectionRefusedError: Connection refused", OfflineCause.REFUSED)
        now[0] += 1
    assert stats.snapshot().changes_10m == 0


def _cli(site: Site, server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = node_env(server.url, site.tokens["viewer"], columns=120) | {"NO_COLOR": "1"}
    return run_cctvctl(*args, env=env)


def test_a_flapping_camera_reads_flap_in_the_api_and_the_cli(
    site_factory: Callable[..., Site],
    sim_factory: Callable[[Site], RunningSim],
    server_factory: Callable[..., ServerProcess],
) -> None:
    site = site_factory(SiteSpec(cameras=2, offline_after=3))
    sim = sim_factory(site)
    server = server_factory(site)
    flapper, steady = site.camera_ids

    def camera(cid: str) -> Camera:
        return Camera.model_validate(server.get(f"/api/v1/cameras/{cid}").json())

    wait_for(lambda: camera(flapper).status == "online", 30, what=f"{flapper} online")
    sim.fault(flapper, "flap", period=2.0)
    flapping = wait_for(
        lambda: ((c := camera(flapper)).flapping and c) or None,
        60,
        interval=0.2,
        what=f"{flapper} flapping",
    )
    assert flapping.changes_10m >= FLAP_CHANGES

    proc = _cli(site, server, "cameras")
    assert proc.returncode == 0, proc.stderr
    after = camera(flapper).changes_10m
    rows = {line.split()[0]: line for line in proc.stdout.splitlines() if line.strip()}
    shown = re.search(r"FLAP (\d+) in 10m", rows[flapper])
    assert shown is not None, proc.stdout
    # The CLI shows the server's figure: the one read just before or just after it.
    assert flapping.changes_10m <= int(shown.group(1)) <= after, (shown.group(0), after)
    assert "FLAP" not in rows[steady]

    data = json.loads(_cli(site, server, "cameras", "--json").stdout)
    [entry] = [Camera.model_validate(c) for c in data if c["id"] == flapper]
    assert entry.flapping and entry.changes_10m >= FLAP_CHANGES
