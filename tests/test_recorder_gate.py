"""The recorder's open gate: how many cameras open their stream at once.

The concurrency is observed from outside the recorder: the TCP connections this process
holds to the simulator's RTSP port while every camera is stalled (the simulator answers
nothing, so each connection is a handshake in flight). The simulator, PyAV and the
recorder are real; the gate's own counters are not what is checked.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from harness import RunningSim, Site, SiteSpec, start_sim, wait_for, write_site

from cctvctl.config import load_inventory
from cctvctl.models import CameraStatus
from cctvctl.recorder.ingest import CameraIngest
from cctvctl.recorder.manager import Recorder
from cctvctl.recorder.open_gate import OpenGate
from cctvctl.recorder.stats import CameraStats
from cctvctl.storage.database import Database
from cctvctl.storage.event_store import EventStore
from cctvctl.storage.events import CAMERA_STATUS, EventBus


@dataclass
class _Rig:
    site: Site
    sim: RunningSim
    index: Database
    recorder: Recorder
    lines: list[str]

    def ingest(self, camera_id: str) -> CameraIngest:
        ingest = self.recorder.ingest(camera_id)
        assert ingest is not None
        return ingest


class _Lines(logging.Handler):
    def __init__(self, lines: list[str]) -> None:
        super().__init__(logging.INFO)
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextmanager
def _rig(directory: Path, sim_cache: Path, spec: SiteSpec, limit: int) -> Iterator[_Rig]:
    site = write_site(directory, spec)
    sim = start_sim(site, sim_cache)
    index = Database(load_inventory(site.config).storage)
    lines: list[str] = []
    handler = _Lines(lines)
    logger = logging.getLogger("cctvctl.recorder")
    logger.addHandler(handler)
    recorder = Recorder(
        load_inventory(site.config),
        index,
        EventBus(EventStore(index)),
        open_limit=limit,
        # The prober's connects would be counted as handshakes; one round at start only.
        rtt_interval=3600,
    )
    try:
        yield _Rig(site, sim, index, recorder, lines)
    finally:
        try:
            for cam in site.camera_ids:
                sim.fault(cam, "recover")  # a stalled open must not hold the stop up
            recorder.stop()
        finally:
            logger.removeHandler(handler)
            sim.stop()
            index.close()


def _handshakes(rtsp_port: int) -> int:
    """This process's established client connections to the simulator's RTSP port."""
    return sum(
        1
        for c in psutil.Process().net_connections(kind="tcp")
        if c.raddr and c.raddr.port == rtsp_port and c.status == psutil.CONN_ESTABLISHED
    )


def _stall_all(rig: _Rig) -> None:
    for cam in rig.site.camera_ids:
        rig.sim.fault(cam, "stall")


@pytest.mark.timeout(90)
def test_at_most_n_cameras_open_at_once_and_none_is_called_offline_for_waiting(
    tmp_path: Path, sim_cache: Path
) -> None:
    # offline_after 10: the stall below (3 s) stays inside the start-up grace of the
    # cameras that are opening; the four that wait get through the gate only after it.
    spec = SiteSpec(cameras=6, segment_seconds=3, offline_after=10, fps=10)
    with _rig(tmp_path / "site", sim_cache, spec, limit=2) as rig:
        ids = rig.site.camera_ids
        _stall_all(rig)
        rig.recorder.start()
        time.sleep(0.3)  # past the round-trip prober's connects at start
        seen = []
        until = time.monotonic() + 3.0
        while time.monotonic() < until:
            seen.append(_handshakes(rig.site.rtsp_port))
            time.sleep(0.05)
        # Without the gate all six connect at once.
        assert max(seen) == 2, seen
        waiting = sum(1 for cam in ids if rig.ingest(cam).queued)
        assert waiting == 4

        for cam in ids:
            rig.sim.fault(cam, "recover")

        def all_recording() -> bool:
            return all(
                (s := rig.recorder.stats(cam)) is not None and s.snapshot().recording for cam in ids
            )

        wait_for(all_recording, 40, interval=0.1, what="every camera recording")
        time.sleep(4)  # a segment closes (3 s) on every camera
        cameras = {c.id: c for c in rig.recorder.cameras()}
        rig.recorder.stop()
        for cam in ids:
            assert cameras[cam].status is CameraStatus.ONLINE, cameras[cam]
            assert cameras[cam].reconnects_1h == 0, cameras[cam]
            statuses = [
                e.data["status"]
                for e in EventStore(rig.index).read(types=[CAMERA_STATUS], camera=cam)
            ]
            assert statuses == ["online"], (cam, statuses)
            assert list((rig.site.storage).rglob(f"{cam}/**/*.mp4")), cam
        assert not [line for line in rig.lines if "-> offline" in line]


@pytest.mark.timeout(60)
def test_a_stop_ends_the_cameras_waiting_at_the_gate_at_once(
    tmp_path: Path, sim_cache: Path
) -> None:
    spec = SiteSpec(cameras=3, segment_seconds=3, offline_after=10, fps=10)
    with _rig(tmp_path / "site", sim_cache, spec, limit=1) as rig:
        ids = rig.site.camera_ids
        _stall_all(rig)
        rig.recorder.start()

        def two_waiting() -> list[str] | None:
            queued = [c for c in ids if rig.ingest(c).queued]
            return queued if len(queued) == 2 else None

        queued = wait_for(two_waiting, 10, interval=0.05, what="two cameras waiting")
        # One camera stopped while it waits: its thread ends without waiting for a turn.
        one = rig.ingest(queued[0])
        began = time.monotonic()
        one.stop()
        assert one.join(1.0)
        assert time.monotonic() - began < 1.0
        # The recorder stopped: the other waiter ends as quickly. The camera that holds
        # the slot is blocked in its stalled handshake, which the stop cannot cut short.
        other = rig.ingest(queued[1])
        began = time.monotonic()
        rig.recorder.stop(timeout=1.0)
        assert time.monotonic() - began < 2.0
        assert other.join(0.5)
        assert not [line for line in rig.lines if "-> offline" in line]


def test_waiting_at_the_gate_is_left_out_of_the_offline_clock() -> None:
    now = [1000.0]
    stats = CameraStats("c", offline_after=10, clock=lambda: now[0])
    stats.begin()
    stats.queued(now[0])
    now[0] += 60
    assert stats.evaluate() is None  # a minute at the gate: not judged, not offline
    snap = stats.snapshot()
    assert snap.status_since is not None and snap.status_since.timestamp() == 1060.0
    stats.admitted(now[0])
    now[0] += 9
    assert stats.evaluate() is None  # its own grace counts from the gate
    now[0] += 2
    change = stats.evaluate()
    assert change is not None and change.status is CameraStatus.OFFLINE

    # A camera that delivered, lost its stream and waits: its silence stops growing.
    stats.packet(100, now[0], 0.0)
    assert stats.evaluate() is not None  # online
    stats.disconnected("stream lost")
    now[0] += 5
    stats.queued(now[0])
    now[0] += 30
    assert stats.evaluate() is None
    stats.admitted(now[0])
    now[0] += 4
    assert stats.evaluate() is None
    now[0] += 2
    change = stats.evaluate()
    assert change is not None and change.status is CameraStatus.OFFLINE


def test_the_gate_hands_slots_over_in_order_and_a_stop_frees_a_waiter() -> None:
    gate = OpenGate(1)
    stops = [threading.Event() for _ in range(3)]
    assert gate.enter(stops[0])
    order: list[int] = []
    results: dict[int, bool] = {}

    def wait(n: int) -> None:
        results[n] = gate.enter(stops[n])
        order.append(n)

    threads = []
    for n in (1, 2):
        t = threading.Thread(target=wait, args=(n,))
        t.start()
        threads.append(t)
        wait_for(lambda: gate.waiting == len(threads), 5, interval=0.01, what="a waiter")
    stops[1].set()
    gate.interrupt(stops[1])
    threads[0].join(1)
    assert results == {1: False} and gate.busy == 1
    gate.leave()
    threads[1].join(1)
    assert results[2] is True and gate.busy == 1 and gate.waiting == 0
    gate.leave()
    assert gate.busy == 0
    assert not gate.enter(stops[1])  # stopped already: no slot taken
    assert gate.busy == 0
