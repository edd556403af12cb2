"""The ingest pool's own edges (recorder/ingest_pool.py): a worker that dies while a camera
is being stopped, and a tick in which one camera's callback fails.

The camera of the first test is a refused RTSP port: its ingest only retries, which is
all a stop needs to act on.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest

import cctvctl
from cctvctl.recorder.ingest import IngestSettings
from cctvctl.recorder.ingest_pool import IngestPool, RemoteIngest
from cctvctl.recorder.ingest_worker import CameraSpec, WorkerSetup
from cctvctl.recorder.media_clock import Reanchor
from cctvctl.recorder.segmenter import SegmentRecord
from cctvctl.recorder.stats import CameraStats
from cctvctl.storage.modes import DEFAULT_MODES


def _setup(number: int = 1) -> WorkerSetup:
    return WorkerSetup(number, IngestSettings(), DEFAULT_MODES, 4, logging.INFO)


def _spec(camera_id: str, storage: Path) -> CameraSpec:
    return CameraSpec(camera_id, "kec", "rtsp://127.0.0.1:9/none", "", "", storage, "tcp", "drop")


@pytest.fixture
def pool() -> Iterator[IngestPool]:
    running = IngestPool([_setup()], on_orphans=lambda paths: None)
    running.start()
    yield running
    running.stop(5)


def test_a_camera_being_stopped_when_its_worker_dies_is_not_started_again(
    pool: IngestPool, tmp_path: Path
) -> None:
    ingest = pool.ingest(_spec("cam-1", tmp_path), CameraStats("cam-1"), print, print)
    ingest.start()
    (victim,) = pool.pids
    # Frozen, the worker cannot answer the stop; then it dies with the stop unanswered.
    os.kill(victim, signal.SIGSTOP)
    ingest.stop()
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and pool.pids in ([victim], []):
        time.sleep(0.05)
    assert pool.pids and pool.pids != [victim], "the worker was not started again"
    # The stop is done (nothing of the camera is left to index), and the new worker was
    # not handed the camera: a reload would otherwise start a second ingest of it.
    assert ingest.join(5)
    assert not ingest.alive


def test_one_failing_callback_keeps_the_rest_of_the_tick(tmp_path: Path) -> None:
    pool = IngestPool([_setup()], on_orphans=lambda paths: None)  # not started: no process
    indexed: list[SegmentRecord] = []
    reanchored: list[Reanchor] = []

    def refuse(record: SegmentRecord) -> None:
        raise OSError("database or disk is full")

    ingests: list[RemoteIngest] = [
        pool.ingest(_spec("cam-1", tmp_path), CameraStats("cam-1"), refuse, reanchored.append),
        pool.ingest(
            _spec("cam-2", tmp_path), CameraStats("cam-2"), indexed.append, reanchored.append
        ),
    ]
    worker = ingests[0]._worker
    for ingest in ingests:
        worker.cams[ingest.key] = ingest  # as start() does, without a process to tell
    now = datetime.now(UTC)

    def record(camera_id: str) -> SegmentRecord:
        path = tmp_path / f"{camera_id}.mp4"
        return SegmentRecord(camera_id, path, now - timedelta(seconds=3), now, 10, 30, 1, True)

    jump = Reanchor(now.timestamp(), 3600.0, 0.0, "jumped")
    segments = [(ingests[0].key, record("cam-1")), (ingests[1].key, record("cam-2"))]
    worker._handle(("tick", [], segments, [(ingests[1].key, jump)], []))
    assert worker._in_order.drain(5)
    assert [r.path for r in indexed] == [tmp_path / "cam-2.mp4"]
    assert reanchored == [jump]


EXITS_WITHOUT_STOP = """
import logging, sys, time
from pathlib import Path
from cctvctl.recorder.ingest import IngestSettings
from cctvctl.recorder.ingest_pool import IngestPool
from cctvctl.recorder.ingest_worker import WorkerSetup
from cctvctl.storage.modes import DEFAULT_MODES

if __name__ == "__main__":
    setup = WorkerSetup(1, IngestSettings(), DEFAULT_MODES, 4, logging.INFO)
    pool = IngestPool([setup], on_orphans=lambda paths: None)
    pool.start()
    (pid,) = pool.pids
    # Until the worker ignores SIGTERM (bit 15 of SigIgn), multiprocessing's SIGTERM ends it.
    for _ in range(600):
        status = Path(f"/proc/{pid}/status").read_text()
        ignored = int(status.split("SigIgn:")[1].split()[0], 16)
        if ignored & (1 << 14):
            break
        time.sleep(0.05)
    print(pid, flush=True)
    sys.exit("failed after the pool started, before anyone stopped it")
"""


def test_a_process_that_exits_without_stop_ends_its_workers(tmp_path: Path) -> None:
    script = tmp_path / "exits.py"
    script.write_text(EXITS_WITHOUT_STOP)
    # Without the pool's exit handler this never returns: multiprocessing joins a worker
    # that ignores SIGTERM and waits on a pipe the exiting process still holds.
    here = Path(cctvctl.__file__).parents[1]  # this checkout's code, not an installed one
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": str(here)},
    )
    assert done.returncode == 1, done.stderr
    worker = int(done.stdout.split()[0])
    assert not psutil.pid_exists(worker) or psutil.Process(worker).status() == "zombie"


def test_a_slow_index_holds_up_neither_the_figures_nor_the_pipe_but_does_hold_the_stop(
    tmp_path: Path,
) -> None:
    pool = IngestPool([_setup()], on_orphans=lambda paths: None)  # not started: no process
    index_free = threading.Event()
    indexed: list[SegmentRecord] = []

    def slow_index(record: SegmentRecord) -> None:
        index_free.wait(10)  # SQLite busy, a long retention delete
        indexed.append(record)

    stats = CameraStats("cam-1", configured_fps=10.0)
    stats.begin()
    ingest = pool.ingest(_spec("cam-1", tmp_path), stats, slow_index, print)
    worker = ingest._worker
    worker.cams[ingest.key] = ingest  # as start() does, without a process to tell
    ingest._started = True
    now = datetime.now(UTC)
    record = SegmentRecord(
        "cam-1", tmp_path / "a.mp4", now - timedelta(seconds=3), now, 10, 30, 1, True
    )

    began = time.monotonic()
    worker._handle(("tick", [], [(ingest.key, record)], [], []))
    packet = ("packet", (4000, now.timestamp() + 0.5, 0.0))
    worker._handle(("tick", [(ingest.key, [packet], None)], [], [], []))
    worker._handle(("stopped", ingest.key))
    assert time.monotonic() - began < 1.0  # the reader is back at the pipe at once
    # The next tick's figures are in while the segment still waits for the index...
    assert stats.snapshot().last_packet is not None
    assert indexed == []
    # ...and the stop is not done before the segment is indexed.
    assert not ingest.join(0.5)
    index_free.set()
    assert ingest.join(5)
    assert [r.path for r in indexed] == [tmp_path / "a.mp4"]


def test_a_command_that_fails_in_the_worker_is_logged_and_the_worker_goes_on(
    pool: IngestPool, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (pid,) = pool.pids
    bad = CameraSpec("cam-bad", "kec", "rtsp://127.0.0.1:9/x", "", "", tmp_path, "quic", "drop")
    good = _spec("cam-good", tmp_path)
    with caplog.at_level(logging.ERROR, logger="cctvctl.recorder"):
        refused = pool.ingest(bad, CameraStats("cam-bad"), print, print)
        refused.start()
        later = pool.ingest(good, CameraStats("cam-good"), print, print)
        later.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "start failed" not in caplog.text:
            time.sleep(0.05)
    # Said in the server's log, with the reason; the worker lives on and obeys the next one.
    assert "ingest worker 1: start failed" in caplog.text
    assert "transport 'quic'" in caplog.text
    assert pool.pids == [pid]
    later.stop()
    assert later.join(10)
