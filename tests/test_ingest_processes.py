"""Ingest in worker processes (``[server] ingest_processes``): the streams are read by the
server's worker processes, and everything the recorder shows or does still works.

A real server subprocess, the real simulator and the real index. Which process reads a
stream is seen from outside: the TCP connections each process holds to the simulator's
RTSP port.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from harness import (
    Live,
    RunningSim,
    ServerProcess,
    Site,
    SiteSpec,
    live_site,
    segment_spans,
    wait_for,
    without_camera,
)
from media import decoded

from cctvctl.config import ConfigError, load_inventory
from cctvctl.recorder.ingest_pool import processes_for

SPEC = SiteSpec(
    cameras=4,
    segment_seconds=3,
    fps=10,
    server_lines=("ingest_processes = 2",),
    # Sound that is dropped is said so once, by the worker: its log reaches the server's.
    camera_lines={3: ('sim = { audio = "pcma" }',)},
)


def _workers(server: ServerProcess) -> list[psutil.Process]:
    """The server's ingest worker processes, by the name they give themselves (top and
    `ps -e` show it; multiprocessing's resource tracker is another child)."""
    assert server.proc is not None
    children = psutil.Process(server.proc.pid).children()
    return sorted(
        (p for p in children if p.name().startswith("cctvctl-ingest")), key=lambda p: p.name()
    )


def _streams_held(pid: int, rtsp_port: int) -> int:
    return sum(
        1
        for c in psutil.Process(pid).net_connections(kind="tcp")
        if c.raddr and c.raddr.port == rtsp_port and c.status == psutil.CONN_ESTABLISHED
    )


def _frame_time(live: Live, camera: str) -> float:
    """When the keyframe behind the camera's thumbnail arrived (POSIX seconds)."""
    resp = live.server.get(f"/api/v1/cameras/{camera}/thumbnail", params={"width": 16})
    assert resp.status_code == 200, resp.text
    return datetime.fromisoformat(resp.headers["x-frame-time"]).timestamp()


def _cameras(live: Live) -> list[dict[str, Any]]:
    cams: list[dict[str, Any]] = live.server.get("/api/v1/cameras").json()
    return cams


def _indexed(storage: Path) -> set[str]:
    db = storage / "index.sqlite3"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return {path for (path,) in conn.execute("SELECT path FROM segments")}


def _on_disk(root: Path) -> set[str]:
    return {
        str(p.relative_to(root))
        for p in root.rglob("*.mp4")
        if ".exports" not in p.parts and ".quarantine" not in p.parts
    }


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, sim_cache: Path) -> Iterator[Live]:
    with live_site(tmp_path_factory.mktemp("workers"), sim_cache, SPEC) as running:
        wait_for(
            lambda: all(c["status"] == "online" for c in _cameras(running)),
            60,
            what="every camera online",
        )
        yield running


def test_auto_is_one_process_per_250_cameras() -> None:
    assert [processes_for("auto", n) for n in (0, 1, 250, 251, 500, 1000)] == [1, 1, 1, 2, 2, 4]
    assert processes_for(3, 10) == 3


@pytest.mark.parametrize("value", ["0", "65", '"many"', "2.5", '"2"', "true"])
def test_a_bad_process_count_is_named_with_what_is_accepted(tmp_path: Path, value: str) -> None:
    path = tmp_path / "site.toml"
    path.write_text(f"[server]\ningest_processes = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_inventory(path)
    text = str(info.value)
    assert f"server.ingest_processes: {value} is not accepted" in text, text
    assert '"auto"' in text and "1 to 64" in text, text


def test_auto_divides_by_cameras_per_process() -> None:
    assert [processes_for("auto", n, 2) for n in (0, 2, 3, 4, 5)] == [1, 1, 2, 2, 3]


def test_a_bad_cameras_per_process_is_named(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text("[server]\ncameras_per_process = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_inventory(path)
    assert "server.cameras_per_process" in str(info.value), str(info.value)
    assert "\n" not in str(info.value).strip(), str(info.value)


def test_the_workers_read_the_streams_and_the_server_reports_them(live: Live) -> None:
    workers = _workers(live.server)
    assert len(workers) == 2
    assert live.server.proc is not None
    held = [_streams_held(w.pid, live.site.rtsp_port) for w in workers]
    assert held == [2, 2], held  # dealt evenly, each stream read once
    cams = wait_for(
        lambda: (cs := _cameras(live)) and all(c["fps"] >= 8 for c in cs) and cs,
        30,
        what="live frame rates from the workers",
    )
    for cam in cams:
        assert cam["status"] == "online" and cam["recording"], cam
        assert 8 <= cam["fps"] <= 12, cam
        assert cam["media"]["video"] == "h264" and cam["media"]["transport"] == "tcp", cam
    with_sound = live.site.camera_ids[3]
    assert f"{with_sound}: audio G.711" in live.server.log_text()
    for camera in live.site.camera_ids:
        wait_for(
            lambda camera=camera: len(segment_spans(live.site.storage, camera)) >= 2,
            30,
            what=f"{camera}'s segments indexed",
        )


def test_a_thumbnail_and_an_export_of_the_open_segment(live: Live, tmp_path: Path) -> None:
    camera = live.site.camera_ids[1]
    resp = live.server.get(
        f"/api/v1/cameras/{camera}/thumbnail", params={"width": 64, "height": 36}
    )
    assert resp.status_code == 200, resp.text
    assert len(resp.content) == 64 * 36 * 3 and len(set(resp.content)) > 8
    # Newer keyframes keep coming from the worker (GOP 1 s, pictures cached for 2 s).
    first = _frame_time(live, camera)
    wait_for(lambda: _frame_time(live, camera) > first, 10, what="a newer picture")

    end = time.time() - 0.5
    start = end - 4  # segments are 3 s: part of this is still being written
    with live.server.client("operator") as api:
        made = api.post(
            "/api/v1/exports",
            json={
                "camera": camera,
                "start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start)),
                "end": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(end)),
            },
        )
    assert made.status_code == 202, made.text
    job_id = made.json()["id"]

    def done() -> dict[str, Any] | None:
        job: dict[str, Any] = live.server.get(f"/api/v1/exports/{job_id}", "operator").json()
        assert job["state"] in ("queued", "running", "done"), job
        return job if job["state"] == "done" else None

    wait_for(done, 60, what="the export")
    with live.server.client("operator") as api:
        clip = tmp_path / "clip.mp4"
        clip.write_bytes(api.get(f"/api/v1/exports/{job_id}/file").content)
    frames, _ = decoded(clip)
    assert frames >= 3 * SPEC.fps, frames  # 4 s at 10 fps, cut at keyframes


def test_a_timestamp_jump_in_a_worker_is_a_reanchor_event(live: Live) -> None:
    camera = live.site.camera_ids[2]
    url = f"http://127.0.0.1:{live.site.control_port}/cameras/{camera}/fault"
    resp = httpx.post(url, json={"mode": "tsjump", "by": 3600}, timeout=30)
    assert resp.status_code == 200, resp.text

    def reanchors() -> list[dict[str, Any]]:
        db = live.site.storage / "index.sqlite3"
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            rows = conn.execute(
                "SELECT data FROM events WHERE camera = ? AND type = 'camera.reanchor'",
                (camera,),
            )
            return [json.loads(data) for (data,) in rows]

    event = wait_for(reanchors, 20, what="the re-anchor event")[0]
    assert event["cause"] == "timestamps jumped"
    assert event["jump_seconds"] == pytest.approx(3600, abs=0.5)
    assert "re-anchored: timestamps jumped by +3600" in live.server.log_text()


def test_a_killed_worker_is_started_again_with_its_cameras(live: Live) -> None:
    before = _workers(live.server)
    victim = before[0]
    # Mid-segment, so the open files most likely hold a whole fragment (a GOP) to keep.
    camera = live.site.camera_ids[0]
    # Its first segment may not be closed yet when this test runs first (alone, or first on
    # an xdist worker): the module's fixture waits for "online" only.
    wait_for(lambda: segment_spans(live.site.storage, camera), 20, what="a first segment")
    wait_for(
        lambda: 1.9 < time.time() - segment_spans(live.site.storage, camera)[-1][1] < 2.6,
        10,
        interval=0.05,
        what="an open segment two seconds old",
    )
    killed_at = time.time()
    os.kill(victim.pid, signal.SIGKILL)
    wait_for(
        lambda: "ended unexpectedly" in live.server.log_text(),
        15,
        what="the server to notice the dead worker",
    )
    after = wait_for(
        lambda: len(w := _workers(live.server)) == 2 and victim.pid not in {p.pid for p in w} and w,
        30,
        what="a new worker",
    )
    assert before[1].pid in {p.pid for p in after}  # the other worker kept running
    for camera in live.site.camera_ids:  # the dead worker's and the other's
        wait_for(
            lambda camera=camera: any(
                s >= killed_at for s, _ in segment_spans(live.site.storage, camera)
            ),
            40,
            what=f"{camera} to record after the kill",
        )
    assert sorted(_streams_held(w.pid, live.site.rtsp_port) for w in after) == [2, 2]
    for camera in live.site.camera_ids:  # pictures from the new worker, not the dead one's
        wait_for(
            lambda camera=camera: _frame_time(live, camera) > killed_at,
            15,
            what=f"{camera}'s picture after the kill",
        )
    # The files the dead worker was writing are dealt with at once, as start-up would:
    # repaired and indexed, or quarantined when not one fragment was whole (a file cut in
    # its first GOP). What stays unindexed is only each camera's newest file, being written.
    said = re.search(
        r"indexed (\d+) of the (\d+) segment files the ingest worker left unindexed",
        live.server.log_text(),
    )
    assert said is not None, live.server.log_text()
    quarantined = list((live.site.storage / ".quarantine").rglob("*.mp4"))
    assert int(said[2]) >= 2  # at least the file each of its two cameras had open
    assert int(said[1]) + len(quarantined) == int(said[2]), quarantined
    first = _not_newest_unindexed(live)
    time.sleep(1)  # a segment closed a moment ago is indexed at the worker's next tick
    assert not first & _not_newest_unindexed(live)


def _not_newest_unindexed(live: Live) -> set[str]:
    """Files on disk the index does not hold, each camera's newest left out."""
    unindexed = _on_disk(live.site.storage) - _indexed(live.site.storage)
    newest = {}
    for path in sorted(_on_disk(live.site.storage)):
        newest[Path(path).parent.parent] = path  # camera folder -> its latest day/time
    return unindexed - set(newest.values())


def test_a_stop_indexes_every_segment_and_ends_every_worker(
    live_factory: Callable[..., Live],
) -> None:
    live = live_factory(SPEC)
    wait_for(
        lambda: all(segment_spans(live.site.storage, c) for c in live.site.camera_ids),
        60,
        what="first segments",
    )
    workers = _workers(live.server)
    assert len(workers) == 2
    time.sleep(2)  # into the next segment: something is open at the stop
    stopped_at = time.time()
    assert live.server.stop() == 0
    assert not any(psutil.pid_exists(w.pid) and w.status() != "zombie" for w in workers)
    on_disk = _on_disk(live.site.storage)
    assert on_disk and on_disk == _indexed(live.site.storage), on_disk ^ _indexed(live.site.storage)
    for camera in live.site.camera_ids:
        last_end = segment_spans(live.site.storage, camera)[-1][1]
        assert stopped_at - 2 <= last_end <= stopped_at + 2, (camera, last_end, stopped_at)


GROWING = SiteSpec(cameras=4, segment_seconds=3, fps=10)


def _holes(spans: list[tuple[float, float]]) -> list[float]:
    return [start - end for (_, end), (start, _) in itertools.pairwise(spans)]


def _held(server: ServerProcess, port: int) -> tuple[int, list[int]]:
    """RTSP streams held by the server process itself and by each of its workers."""
    assert server.proc is not None
    workers = [_streams_held(w.pid, port) for w in _workers(server)]
    return _streams_held(server.proc.pid, port), workers


@pytest.mark.parametrize(
    ("per_process", "before", "after"),
    [
        # Started alone: the new cameras go to a first worker; the server keeps its two.
        (2, (2, []), (2, [2])),
        # Started with a worker per camera: two more workers, one new camera each.
        (1, (0, [1, 1]), (0, [1, 1, 1, 1])),
    ],
    ids=["server-alone-gets-a-worker", "workers-get-more-workers"],
)
def test_a_reload_past_cameras_per_process_starts_workers_for_the_new_cameras(
    site_factory: Callable[..., Site],
    sim_factory: Callable[[Site], RunningSim],
    server_factory: Callable[..., ServerProcess],
    per_process: int,
    before: tuple[int, list[int]],
    after: tuple[int, list[int]],
) -> None:
    """A fleet node taking over a dead neighbour's cameras gets them by a reload: under
    "auto", they must not all land in a process already reading its share."""
    site = site_factory(replace(GROWING, server_lines=(f"cameras_per_process = {per_process}",)))
    sim_factory(site)
    first, second, third, fourth = site.camera_ids
    full = site.config.read_text()
    site.config.write_text(without_camera(without_camera(full, third), fourth))
    server = server_factory(site)
    wait_for(
        lambda: all(segment_spans(site.storage, c) for c in (first, second)), 30, what="segments"
    )
    assert _held(server, site.rtsp_port) == before
    workers_before = _workers(server)

    site.config.write_text(full)
    with server.client("admin") as api:
        answer = api.post("/api/v1/server/reload", timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["cameras_added"] == [third, fourth]
    wait_for(
        lambda: _held(server, site.rtsp_port) == after,
        30,
        what="the new cameras read by new workers",
    )
    workers = _workers(server)
    assert [w.name() for w in workers] == [f"cctvctl-ingest{n + 1}" for n in range(len(after[1]))]
    # The first two were left where they were, never cut off.
    assert [w.pid for w in workers[: len(workers_before)]] == [w.pid for w in workers_before]
    processes = len(after[1]) + (after[0] > 0)
    assert f"reading them in {processes} processes now" in server.log_text()
    for camera in (third, fourth):
        wait_for(
            lambda camera=camera: len(segment_spans(site.storage, camera)) >= 2,
            30,
            what=f"{camera} recording in the worker",
        )

    assert server.stop() == 0
    assert not any(psutil.pid_exists(w.pid) and w.status() != "zombie" for w in workers)
    for camera in (first, second):
        holes = _holes(segment_spans(site.storage, camera))
        assert len(holes) >= 3 and max(holes) < 1.0, (camera, holes)
    on_disk = _on_disk(site.storage)
    assert on_disk and on_disk == _indexed(site.storage), on_disk ^ _indexed(site.storage)
