"""`sim.loop.load_loops`: missing loops are encoded in worker processes, then read back.

The demo calls it with no other thread running (forked workers); the simulator's service
calls it from a thread beside its event loop (spawned workers). Both are run here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import psutil
import pytest
from harness import REPO, wait_for

from cctvctl.sim import loop as loop_mod
from cctvctl.sim.loop import Loop, cache_paths, load_loops
from cctvctl.sim.model import SimCamera, SimSettings


def _settings(cache: Path) -> SimSettings:
    return SimSettings(width=320, height=180, fps=10, loop_seconds=2.0, gop_seconds=1.0,
                       cache_dir=cache)  # fmt: skip


def _cameras() -> list[SimCamera]:
    return [
        SimCamera(
            id=f"pool-{n}",
            name=f"Pool camera {n}",
            kecamatan="Sangatta Utara",
            site="Kantor Camat",
            rtsp_port=0,
            path=f"/pool-{n}",
            username="",
            password="",
            codec=codec,
        )
        for n, codec in enumerate(["h265", "h264", "h265"])
    ]


def _check_fresh(loops: dict[str, Loop], cameras: list[SimCamera], s: SimSettings) -> None:
    assert sorted(loops) == sorted(c.id for c in cameras)
    for cam in cameras:
        got = loops[cam.id]
        assert not got.from_cache and got.encode_seconds > 0
        assert got.codec == cam.codec
        assert len(got.units) == 20 and [u.keyframe for u in got.units].count(True) == 2
        assert all(path.exists() for path in cache_paths(cam, s))


def test_missing_loops_are_encoded_by_worker_processes_and_cached(tmp_path: Path) -> None:
    if threading.active_count() != 1 and not os.environ.get("CCTVCTL_POOL_TEST_ALONE"):
        # Tests run before this one in this worker left threads (servers, the S3 engine),
        # and the fork path is taken only with none: run this test alone in a fresh process.
        here = (
            f"{Path(__file__).name}::test_missing_loops_are_encoded_by_worker_processes_and_cached"
        )
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider",
             f"tests/{here}"],
            cwd=REPO,
            env={**os.environ, "CCTVCTL_POOL_TEST_ALONE": "1"},
            capture_output=True,
            text=True,
            timeout=300,
        )  # fmt: skip
        assert proc.returncode == 0 and "1 passed" in proc.stdout, proc.stdout[-3000:]
        return
    assert threading.active_count() == 1, "the fork path is the one taken with no other thread"
    assert loop_mod._pool_context().get_start_method() == "fork"
    settings, cameras = _settings(tmp_path), _cameras()
    seen: list[tuple[int, int, str]] = []
    loops = load_loops(cameras, settings, lambda *a: seen.append(a), workers=2)

    _check_fresh(loops, cameras, settings)
    assert [(done, total) for done, total, _ in seen] == [(1, 3), (2, 3), (3, 3)]
    assert sorted(cam for *_, cam in seen) == sorted(loops)
    # A second load reads every loop back from the cache, byte for byte, in this process.
    again = load_loops(cameras, settings)
    assert all(again[c].from_cache and again[c].data == loops[c].data for c in loops)
    assert psutil.Process(os.getpid()).children() == []  # the workers are gone


def test_from_a_thread_beside_an_event_loop_workers_are_spawned(tmp_path: Path) -> None:
    settings, cameras = _settings(tmp_path), _cameras()

    async def as_the_simulator_does() -> tuple[str, dict[str, Loop]]:
        method = await asyncio.to_thread(lambda: loop_mod._pool_context().get_start_method())
        loops = await asyncio.to_thread(load_loops, cameras, settings, None, 2)
        return method, loops

    method, loops = asyncio.run(as_the_simulator_does())
    assert method == "spawn"
    _check_fresh(loops, cameras, settings)


def test_shared_scenes_encode_one_loop_per_codec_for_every_camera(tmp_path: Path) -> None:
    shared = replace(_settings(tmp_path / "shared"), scenes="shared")
    cameras = [*_cameras(), replace(_cameras()[1], id="pool-3", path="/pool-3")]
    seen: list[tuple[int, int, str]] = []
    loops = load_loops(cameras, shared, lambda *a: seen.append(a), workers=2)

    assert sorted(loops) == sorted(c.id for c in cameras)
    # One loop object per codec, the same for every camera of it: one encode, one copy held.
    h265, h264 = loops["pool-0"], loops["pool-1"]
    assert loops["pool-2"] is h265 and loops["pool-3"] is h264 and h265 is not h264
    assert (h265.codec, h264.codec) == ("h265", "h264")
    assert (h265.camera_id, h264.camera_id) == ("shared-h265", "shared-h264")
    assert len(list((tmp_path / "shared").glob("*.json"))) == 2
    assert sorted(cam for *_, cam in seen) == sorted(loops)
    assert [done for done, *_ in seen] == [1, 2, 3, 4] and {t for _, t, _ in seen} == {4}
    # Each scene is still a whole loop with the usual contract.
    assert len(h265.units) == 20 and [u.keyframe for u in h265.units].count(True) == 2
    # The default draws each camera's own scene: two cameras of one codec, two loops.
    own = load_loops(cameras[1:4:2], _settings(tmp_path / "own"), workers=2)
    assert own["pool-1"].data != own["pool-3"].data
    assert own["pool-1"].camera_id == "pool-1" and own["pool-1"].data != h264.data
    # A second load reads the shared ones back from the cache, still one object per codec.
    again = load_loops(cameras, shared)
    assert again["pool-0"] is again["pool-2"] and again["pool-0"].from_cache
    assert again["pool-0"].data == h265.data


def test_a_worker_that_cannot_write_the_cache_fails_the_load(tmp_path: Path) -> None:
    # The cache "folder" is a file: the worker's write fails, and the caller gets that
    # error rather than a hang or a loop it never stored.
    blocker = tmp_path / "not-a-folder"
    blocker.write_bytes(b"")
    with pytest.raises(OSError) as caught:
        load_loops(_cameras()[:2], _settings(blocker), workers=2)
    assert "not-a-folder" in str(caught.value)
    assert blocker.read_bytes() == b""


KILLED_CALLER = """
import sys
from pathlib import Path
from cctvctl.sim.loop import load_loops
from cctvctl.sim.model import SimCamera, SimSettings
settings = SimSettings(width=640, height=360, fps=15, loop_seconds=60.0, codec="h265",
                       cache_dir=Path(sys.argv[1]))
cams = [SimCamera(id=f"k-{n}", name="k", kecamatan="k", site="k", rtsp_port=0,
                  path=f"/k-{n}", username="", password="") for n in range(4)]
load_loops(cams, settings, workers=2)
"""


def test_workers_end_when_their_caller_is_killed(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", KILLED_CALLER, str(tmp_path)], cwd=REPO)
    workers: list[psutil.Process] = []
    try:
        caller = psutil.Process(proc.pid)
        workers = wait_for(lambda: caller.children() or None, 30, what="the encoding workers")
        proc.kill()  # SIGKILL: no clean-up of its own runs
        proc.wait(10)
        _, alive = psutil.wait_procs(workers, timeout=10)
        assert not alive, f"workers left behind: {[p.pid for p in alive]}"
    finally:
        # Only this test's processes: the session's other children (PostgreSQL, a
        # resource tracker) are not ours to end.
        if proc.poll() is None:
            proc.kill()
        for worker in workers:
            with contextlib.suppress(psutil.Error):
                worker.kill()
    assert not list(tmp_path.glob("*.json"))  # 60 s loops: none was finished, none stored
