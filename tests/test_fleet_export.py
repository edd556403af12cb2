"""An export across a failover: two real `cctvctl server` nodes, the simulator and a real
PostgreSQL. node-a records the camera, is killed with SIGKILL, node-b takes the camera
over, node-a returns and takes it back. An export of the whole story, asked of node-a with
`cctvctl export`, is one clip with footage from both nodes and one manifest naming them;
with node-b gone, the same export fails naming node-b and its sub-window.

The tests run in file order over one story (a module fixture); the second kills node-b.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import pytest
from cli_process import node_env, run_cctvctl
from fleet_sites import running_fleet
from harness import (
    ServerProcess,
    Site,
    SiteSpec,
    SseEvent,
    segment_spans,
    wait_for,
)
from pg_harness import PgDatabase

from cctvctl.fleet.store import FleetStore

LEASE = 6
SEGMENT = 2
FPS = 10
SPEC = SiteSpec(
    cameras=1, kecamatan=("Sangatta Utara",), segment_seconds=SEGMENT, offline_after=3, fps=FPS
)


@dataclass
class Story:
    site: Site
    store: FleetStore
    a: ServerProcess
    b: ServerProcess
    camera: str
    start: float  # the window: node-a, then node-b after the kill, then node-a again
    killed: float
    end: float


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _ts(when: str) -> float:
    return datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp()


def _spans(server: ServerProcess, camera: str) -> list[tuple[float, float]]:
    return segment_spans(server.site.storage, camera)


@pytest.fixture(scope="module")
def story(
    tmp_path_factory: pytest.TempPathFactory, sim_cache: Path, pg: PgDatabase
) -> Iterator[Story]:
    with running_fleet(
        tmp_path_factory.mktemp("fleet-export"),
        sim_cache,
        pg.dsn,
        SPEC,
        ("node-a", "node-b"),
        LEASE,
    ) as fleet:
        site, store = fleet.site, fleet.store
        a, b = fleet.nodes["node-a"], fleet.nodes["node-b"]
        camera = site.camera_ids[0]
        start = time.time()
        wait_for(lambda: _spans(a, camera)[-1][1] >= start + SEGMENT, 15, what="node-a footage")
        killed = time.time()
        a.kill()
        wait_for(
            lambda: any(s >= killed for s, _ in _spans(b, camera)),
            LEASE + 15 + SEGMENT,
            what="node-b recording after the kill",
        )
        taken = time.time()
        wait_for(lambda: _spans(b, camera)[-1][1] >= taken + SEGMENT, 15, what="node-b footage")
        returned = time.time()
        a.start()
        wait_for(
            lambda: (
                any(s >= returned for s, _ in _spans(a, camera))
                and not b.get("/api/v1/cameras").json()
            ),
            30,
            what="node-a taking the camera back",
        )
        wait_for(lambda: _spans(a, camera)[-1][1] >= time.time() - 1, 15, what="node-a footage")
        end = _spans(a, camera)[-1][1]
        b_end = _spans(b, camera)[-1][1]
        # The catalogue has node-b's run to its last segment (a sync pass, 2 s).
        wait_for(
            lambda: any(
                r.node == "node-b" and r.end is not None and r.end.timestamp() >= b_end - 0.01
                for r in store.runs(camera, datetime.fromtimestamp(start, UTC), datetime.now(UTC))
            ),
            15,
            what="node-b's run in the catalogue",
        )
        yield Story(site, store, a, b, camera, start, killed, end)


def _export(story: Story, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = node_env(story.a.url, story.site.tokens["operator"], columns=200)
    return run_cctvctl(
        "export",
        story.camera,
        "--from",
        _iso(story.start),
        "--to",
        _iso(story.end),
        "--case",
        "LP/12/XII/2026",
        "-o",
        str(out),
        *extra,
        env=env,
        timeout=120,
    )


def _clip_times(path: Path) -> list[float]:
    """Presentation times (seconds from the clip's start) of every video packet."""
    with av.open(str(path)) as clip:
        stream = clip.streams.video[0]
        tb = float(stream.time_base)
        return sorted(p.pts * tb for p in clip.demux(stream) if p.pts is not None and p.size)


def test_an_export_across_a_failover_is_one_clip_from_both_nodes(
    story: Story, tmp_path: Path
) -> None:
    out = tmp_path / "evidence.mp4"
    done = _export(story, out)
    assert done.returncode == 0, done.stderr
    manifest: dict[str, Any] = json.loads(Path(f"{out}.manifest.json").read_text())

    # The file on disk is what the manifest vouches for.
    digest = subprocess.run(
        ["sha256sum", str(out)], capture_output=True, text=True, check=True
    ).stdout.split()[0]
    assert digest == manifest["sha256"]
    assert f"sha256    {digest}" in done.stdout
    assert out.stat().st_size == manifest["size"]
    # The operator reads which node gave what, in WITA.
    said = re.search(r"^nodes     (.*)$", done.stdout, re.MULTILINE)
    assert said is not None, done.stdout
    assert re.fullmatch(
        r"node-a \S+ WITA to \S+ WITA \(\d+ frames\), node-b .*, node-a .*", said[1]
    ), said[1]

    # Every node that recorded the window, in time order, each part hashed.
    parts = manifest["nodes"]
    assert [p["node"] for p in parts] == ["node-a", "node-b", "node-a"]
    for part in parts:
        assert len(part["sha256"]) == 64 and part["frames"] > 0 and part["sources"]
    assert parts[0]["job"] is None  # node-a's own footage
    assert parts[1]["job"]  # node-b's export job
    for before, after in itertools.pairwise(parts):
        assert _ts(before["end"]) <= _ts(after["start"])  # sub-windows never overlap
    assert all(s.startswith(("node-a:", "node-b:")) for s in manifest["sources"])
    assert any(s.startswith("node-b:") for s in manifest["sources"])

    # node-b's part covers the time after the kill, node-a's the rest.
    assert _ts(parts[1]["start"]) > story.killed
    assert _ts(parts[0]["end"]) <= story.killed + 1

    # The clip's frames: its own timestamps against the window and the manifest.
    times = _clip_times(out)
    assert len(times) == manifest["frames"]
    first, last = _ts(manifest["first_frame"]), _ts(manifest["last_frame"])
    assert first <= story.start < first + 1.5  # the keyframe at or before the start
    assert last >= story.end - 3 / FPS
    assert abs((times[-1] - times[0]) - (last - first)) < 2 / FPS
    assert len(set(times)) == len(times)  # no instant shown twice at the seams
    # nor nearly: at the handback both nodes recorded the seam's frame, each stamping it
    # from its own clock; it is shown once
    assert all(b - a > 0.5 / FPS for a, b in itertools.pairwise(times))
    # One hole, the failover (lease, tick, connect): the clip's own timestamps show it.
    holes = [(a, b) for a, b in itertools.pairwise(times) if b - a > 0.5]
    assert len(holes) == 1, holes
    hole = holes[0][1] - holes[0][0]
    assert [g["seconds"] for g in manifest["gaps"]] == [pytest.approx(hole, abs=0.3)]
    print(
        f"{len(times)} frames over {times[-1] - times[0]:.1f} s, a {hole:.1f} s hole after "
        "kill -9; parts: "
        + ", ".join(f"{p['node']} {p['frames']} frames ({p['size']} bytes)" for p in parts)
    )
    assert hole <= LEASE + 15
    # Frames everywhere else: FPS a second over the footage, the hole aside.
    covered = (times[-1] - times[0]) - hole
    assert abs(len(times) - covered * FPS) <= 2 * FPS

    # The job's percent moved on as each part arrived (a third, two thirds, all).
    percents: list[float] = []
    with story.a.events("since=0&types=job.progress", role="operator") as stream:

        def job_done(event: SseEvent) -> bool:
            data = event.json()["data"]
            if data.get("job") == manifest["job"] and data.get("state") == "running":
                percents.append(data["percent"])
            return bool(data.get("job") == manifest["job"] and data.get("state") == "done")

        stream.wait_for(job_done, 10)
    assert [p for p in percents if p > 0] == [30.0, 60.0, 90.0]

    # node-b made its part for node-a's own token, and keeps no copy.
    with story.b.client("admin") as admin:
        rows = admin.get("/api/v1/audit", params={"limit": 100}).json()
    requests = [r for r in rows if r["action"] == "export.request" and r["result"] == "accepted"]
    assert [r["actor"] for r in requests] == ["node:node-a"]
    with story.b.client("operator") as operator:
        jobs = operator.get("/api/v1/exports").json()
    assert [j["state"] for j in jobs] == ["deleted"]


def test_a_peer_that_cannot_be_reached_fails_the_export_naming_it(
    story: Story, tmp_path: Path
) -> None:
    story.b.kill()
    out = tmp_path / "evidence.mp4"
    done = _export(story, out, "--json")
    assert done.returncode == 1, done.stdout
    assert "node node-b" in done.stderr and "did not answer" in done.stderr
    assert not out.exists()
    with story.a.client("operator") as operator:
        failed = [j for j in operator.get("/api/v1/exports").json() if j["state"] == "failed"]
    assert len(failed) == 1
    error = failed[0]["error"]
    # The sub-window node-b holds, in the job's words (UTC on the wire).
    said = re.search(r"node node-b \(http://[^)]+\) for (\S+Z) to (\S+Z)", error)
    assert said is not None, error
    assert story.killed < _ts(said[1]) < _ts(said[2]) < story.end
    # Nothing half-made is left on node-a.
    assert not (story.a.site.storage / ".exports" / failed[0]["id"]).exists()
