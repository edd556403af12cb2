"""A fleet export across a failover AND changes of the camera's picture size: two real
`cctvctl server` nodes, the simulator and a real PostgreSQL.

node-a records the camera at 320x180, the camera is resized to 160x96 (the simulator's
`resize` fault), node-a is killed with SIGKILL, node-b takes over at 160x96, the camera is
resized back to 320x180, node-a returns and takes it back. So node-a's first part and
node-b's part each span a change of size (two clips each: node-b's are two clips of its
export job there, both downloaded), and node-a's last part is of one size. An MP4 track
holds one size: the export asked of node-a must be one clip per run of one size, across
the nodes (320x180 | 160x96 from node-a and node-b | 320x180 from node-b and node-a),
each saved by `cctvctl export`, each verified by SHA-256 against the manifest, and every
frame of the window in exactly one of them.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from cli_process import node_env, run_cctvctl
from fleet_sites import running_fleet
from harness import (
    ServerProcess,
    Site,
    SiteSpec,
    sized_segment_spans,
    wait_for,
)
from pg_harness import PgDatabase

LEASE = 6
SEGMENT = 2
FPS = 10
SPEC = SiteSpec(
    cameras=1, kecamatan=("Sangatta Utara",), segment_seconds=SEGMENT, offline_after=3, fps=FPS
)
BIG = (SPEC.width, SPEC.height)
SMALL = (160, 96)


@dataclass
class Story:
    site: Site
    a: ServerProcess
    b: ServerProcess
    camera: str
    start: float
    killed: float
    end: float


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _ts(when: str) -> float:
    return datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp()


def _segments(server: ServerProcess, camera: str) -> list[tuple[float, float, int, int]]:
    """The node's closed segments: start, end, width, height (none before its index exists)."""
    if not (server.site.storage / "index.sqlite3").exists():
        return []
    return sized_segment_spans(server.site.storage, camera)


def _recorded(server: ServerProcess, camera: str, size: tuple[int, int], since: float) -> float:
    """Seconds of closed footage of ``size`` the node recorded from ``since`` on."""
    return sum(
        e - max(s, since)
        for s, e, w, h in _segments(server, camera)
        if (w, h) == size and e > since
    )


def _resize(site: Site, camera: str, size: tuple[int, int]) -> float:
    """The camera's picture size changed (answered once the simulator encoded it)."""
    resp = httpx.post(
        f"http://127.0.0.1:{site.control_port}/cameras/{camera}/fault",
        json={"mode": "resize", "size": f"{size[0]}x{size[1]}"},
        timeout=120,
    )
    assert resp.status_code == 200, resp.text
    return time.time()


@pytest.fixture(scope="module")
def story(
    tmp_path_factory: pytest.TempPathFactory, sim_cache: Path, pg: PgDatabase
) -> Iterator[Story]:
    with running_fleet(
        tmp_path_factory.mktemp("fleet-sizes"), sim_cache, pg.dsn, SPEC, ("node-a", "node-b"), LEASE
    ) as fleet:
        site, store = fleet.site, fleet.store
        a, b = fleet.nodes["node-a"], fleet.nodes["node-b"]
        camera = site.camera_ids[0]
        start = time.time()
        wait_for(lambda: _recorded(a, camera, BIG, start) >= SEGMENT, 15, what="node-a, big")
        small_at = _resize(site, camera, SMALL)
        wait_for(lambda: _recorded(a, camera, SMALL, small_at) >= SEGMENT, 20, what="node-a, small")
        killed = time.time()
        a.kill()
        wait_for(
            lambda: _recorded(b, camera, SMALL, killed) >= SEGMENT,
            LEASE + 15 + SEGMENT,
            what="node-b recording, small, after the kill",
        )
        big_at = _resize(site, camera, BIG)
        wait_for(lambda: _recorded(b, camera, BIG, big_at) >= SEGMENT, 20, what="node-b, big")
        returned = time.time()
        a.start()
        wait_for(
            lambda: _recorded(a, camera, BIG, returned) > 0 and not b.get("/api/v1/cameras").json(),
            30,
            what="node-a taking the camera back",
        )
        wait_for(lambda: _segments(a, camera)[-1][1] >= time.time() - 1, 15, what="node-a")
        end = _segments(a, camera)[-1][1]
        b_end = _segments(b, camera)[-1][1]
        wait_for(
            lambda: any(
                r.node == "node-b" and r.end is not None and r.end.timestamp() >= b_end - 0.01
                for r in store.runs(camera, datetime.fromtimestamp(start, UTC), datetime.now(UTC))
            ),
            15,
            what="node-b's run in the catalogue",
        )
        yield Story(site, a, b, camera, start, killed, end)


def _frames(path: Path) -> tuple[list[float], set[tuple[int, int]]]:
    """Every video frame's presentation time (seconds from the clip's start) and the
    picture sizes the decoder sees."""
    with av.open(str(path)) as clip:
        stream = clip.streams.video[0]
        tb = float(stream.time_base)
        times = sorted(p.pts * tb for p in clip.demux(stream) if p.pts is not None and p.size)
    with av.open(str(path)) as clip:
        sizes = {(f.width, f.height) for f in clip.decode(video=0)}
    return times, sizes


def _sha256(path: Path) -> str:
    out = subprocess.run(["sha256sum", str(path)], capture_output=True, text=True, check=True)
    return out.stdout.split()[0]


def test_an_export_across_a_failover_and_resizes_loses_no_clip(
    story: Story, tmp_path: Path
) -> None:
    out = tmp_path / "evidence.mp4"
    env = node_env(story.a.url, story.site.tokens["operator"], columns=200)
    done = run_cctvctl(
        "export",
        story.camera,
        "--from",
        _iso(story.start),
        "--to",
        _iso(story.end),
        "--case",
        "LP/17/XII/2026",
        "-o",
        str(out),
        "--json",
        env=env,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    manifest = answer["manifest"]

    # One clip per run of one size, across the nodes, in time order.
    clips = manifest["clips"]
    assert [(c["width"], c["height"]) for c in clips] == [BIG, SMALL, BIG]
    files = [Path(c["file"]) for c in answer["clips"]]
    assert files == [
        out,
        tmp_path / f"evidence_2_{SMALL[0]}x{SMALL[1]}.mp4",
        tmp_path / f"evidence_3_{BIG[0]}x{BIG[1]}.mp4",
    ]
    assert (manifest["sha256"], manifest["size"]) == (clips[0]["sha256"], clips[0]["size"])

    # Every node's part is named, and a part that spans a change of size lists its clips.
    parts = manifest["nodes"]
    assert [p["node"] for p in parts] == ["node-a", "node-b", "node-a"]
    assert [[(c["width"], c["height"]) for c in p["clips"]] for p in parts] == [
        [BIG, SMALL],
        [SMALL, BIG],
        [],
    ]
    assert parts[0]["job"] is None and parts[1]["job"]
    assert _ts(parts[1]["start"]) > story.killed
    for part in parts[:2]:
        assert part["frames"] == sum(c["frames"] for c in part["clips"])
        assert (part["sha256"], part["size"]) == (
            part["clips"][0]["sha256"],
            part["clips"][0]["size"],
        )
        assert all(len(c["sha256"]) == 64 and c["frames"] > 0 for c in part["clips"])

    # Each file is the server's clip (sha256sum, size), holds one picture size, and its
    # frames are the ones the manifest counts for it.
    walls: list[float] = []
    for path, clip in zip(files, clips, strict=True):
        assert _sha256(path) == clip["sha256"]
        assert path.stat().st_size == clip["size"]
        times, sizes = _frames(path)
        assert sizes == {(clip["width"], clip["height"])}, path
        assert len(times) == clip["frames"]
        first = _ts(clip["first_frame"])
        assert abs(times[-1] - times[0] - (_ts(clip["last_frame"]) - first)) < 2 / FPS
        walls += [first + t - times[0] for t in times]
    assert sum(c["frames"] for c in clips) == manifest["frames"]
    # The parts gave them all, less a seam's frame both nodes recorded (shown once).
    seams = len(parts) - 1
    assert 0 <= sum(p["frames"] for p in parts) - manifest["frames"] <= seams

    # The frames of the window, accounted for: in time order across the clips, no instant
    # twice, the window covered from the keyframe at its start to its end, and one hole
    # (the failover), which the manifest lists as the one gap.
    assert walls == sorted(walls)
    # (a handback seam: both nodes recorded the frame there; it is shown once)
    assert all(b - a > 0.5 / FPS for a, b in itertools.pairwise(walls))
    assert walls[0] <= story.start < walls[0] + 1.5
    assert walls[-1] >= story.end - 3 / FPS
    holes = [(a, b) for a, b in itertools.pairwise(walls) if b - a > 0.5]
    assert len(holes) == 1, holes
    hole = holes[0][1] - holes[0][0]
    # (node-a's last frame before the kill: its open segment is repaired at its restart)
    assert story.killed - SEGMENT - 1 < holes[0][0] < story.killed + 1
    assert [g["seconds"] for g in manifest["gaps"]] == [pytest.approx(hole, abs=0.3)]
    covered = walls[-1] - walls[0] - hole
    assert abs(len(walls) - covered * FPS) <= 2 * FPS
    print(
        f"{len(walls)} frames over {walls[-1] - walls[0]:.1f} s in "
        + ", ".join(f"{c['width']}x{c['height']} {c['frames']}" for c in clips)
        + f"; a {hole:.1f} s hole after kill -9"
    )

    # node-b's part was two clips there, and node-a downloaded both (then forgot the job).
    with story.b.client("admin") as admin:
        rows = admin.get("/api/v1/audit", params={"limit": 100}).json()
    downloads = [r for r in rows if r["action"] == "export.download"]
    assert {r["actor"] for r in downloads} == {"node:node-a"}
    assert all(r["target"] == parts[1]["job"] for r in downloads)
    assert len({r["detail"].split(",")[0] for r in downloads}) == 2
    with story.b.client("operator") as operator:
        assert [j["state"] for j in operator.get("/api/v1/exports").json()] == ["deleted"]
