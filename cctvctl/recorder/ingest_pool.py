"""The server's side of the ingest worker processes (recorder/ingest_worker.py).

:class:`IngestPool` starts N workers and deals cameras to the least loaded one. Each
camera recorded in a worker is a :class:`RemoteIngest` here, which the
:class:`~cctvctl.recorder.manager.Recorder` holds where it would hold a
:class:`~cctvctl.recorder.ingest.CameraIngest`: start, stop, join, the newest keyframe,
the open segment and the stream's description. Its camera's stats calls are replayed on
the real ``CameraStats`` as each tick arrives; closed segments and re-anchors go to the
same callbacks an in-process ingest calls.

A worker that dies (killed, out of memory) is started again and given its cameras back;
their stats say why they were cut off. What it left of their files is repaired and
indexed first, as start-up reconciliation would.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import multiprocessing
import queue
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Final

from cctvctl.models import CameraMedia, OfflineCause
from cctvctl.recorder.ingest_worker import CameraSpec, CameraState, WorkerSetup, serve
from cctvctl.recorder.media_clock import Reanchor
from cctvctl.recorder.segmenter import SegmentRecord
from cctvctl.recorder.stats import CameraStats
from cctvctl.recorder.stats_feed import replay
from cctvctl.recorder.thumbnails import Keyframe

__all__ = ["CAMERAS_PER_PROCESS", "IngestPool", "RemoteIngest", "processes_for"]

log = logging.getLogger("cctvctl.recorder")

#: Cameras one process records with nothing lost on 2 cores (benchmarks/README.md).
CAMERAS_PER_PROCESS: Final = 250
KEYFRAME_TIMEOUT: Final = 2.0
EXIT_TIMEOUT: Final = 20.0
RESPAWN_DELAY: Final = 1.0
#: A worker that died sooner than this after its start is failing, not unlucky: the wait
#: before the next start doubles, up to RESPAWN_MAX.
RESPAWN_HEALTHY: Final = 30.0
RESPAWN_MAX: Final = 30.0
DRAIN_TIMEOUT: Final = 30.0


class _InOrder:
    """One thread that runs what the pipe's reader hands it, in order: the index writes
    and events of a tick, then a camera's "stopped". The reader goes straight back to the
    pipe, so a slow index write (SQLite busy, retention deleting) never holds up the live
    figures of the worker's other cameras, nor fills the pipe behind it."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def put(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)

    def drain(self, timeout: float = DRAIN_TIMEOUT) -> bool:
        """Wait until everything handed in so far has run."""
        done = threading.Event()
        self._jobs.put(done.set)
        return done.wait(timeout)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job()
            except Exception:
                log.exception("ingest pool: a queued job failed")


def processes_for(setting: int | str, cameras: int, per_process: int = CAMERAS_PER_PROCESS) -> int:
    """How many ingest processes ``[server] ingest_processes`` means for ``cameras``.

    ``"auto"`` is one per ``per_process`` enabled cameras (``[server]
    cameras_per_process``); 1 records in the server process itself, as every node up to
    that size does.
    """
    if setting == "auto":
        return max(1, -(-cameras // per_process))
    return max(1, int(setting))


#: Indexes what a worker that died left of its cameras' files: (camera, wall time from
#: which to look) for each of them.
OnOrphans = Callable[[list[tuple[CameraSpec, float]]], None]


class RemoteIngest:
    """One camera recorded by a worker process, as the recorder sees it."""

    def __init__(
        self,
        worker: _Worker,
        key: int,
        spec: CameraSpec,
        stats: CameraStats,
        on_segment: Callable[[SegmentRecord], None],
        on_reanchor: Callable[[Reanchor], None],
    ) -> None:
        self._worker = worker
        self.key = key
        self.spec = spec
        self.camera_id = spec.camera_id
        self.stats = stats
        self.on_segment = on_segment
        self.on_reanchor = on_reanchor
        self.state = CameraState()
        self.stopped = threading.Event()
        #: stop() was asked: a worker that dies meanwhile must not get the camera back.
        self.stopping = False
        self._started = False
        self._keyframe: Keyframe | None = None  # kept across reconnects, as CameraIngest's
        self._same_worker = True  # the cached keyframe was numbered by the running worker

    def start(self) -> None:
        self._started = True
        self._worker.start_camera(self)

    def stop(self) -> None:
        """Ask the worker to finish this camera; :meth:`join` waits for its last segment."""
        if not self._started:
            self.stopped.set()
            return
        self._worker.stop_camera(self)

    def join(self, timeout: float | None = None) -> bool:
        """True once the worker has stopped the camera and its segments are indexed."""
        return not self._started or self.stopped.wait(timeout)

    @property
    def alive(self) -> bool:
        return self._started and not self.stopped.is_set()

    def keyframe(self) -> Keyframe | None:
        """The newest keyframe: asked of the worker only when the ticks say it changed (every
        thumbnail request asks, and a round trip waits for the worker's lock)."""
        cached = self._keyframe
        if cached is not None and self._same_worker and cached.seq == self.state.keyframe_seq:
            return cached
        fetched = self._worker.keyframe(self)
        if fetched is not None:
            self._keyframe, self._same_worker = fetched, True
        return fetched or cached

    def worker_died(self) -> None:
        """The worker recording this camera died: its numbering of keyframes starts over in
        the next one, and nothing it said about the camera holds any more."""
        self.state = CameraState()
        self._same_worker = False

    @property
    def open_segment_start(self) -> float | None:
        return self.state.open_segment_start

    @property
    def open_file(self) -> tuple[float, Path] | None:
        return self.state.open_file

    @property
    def media(self) -> CameraMedia | None:
        return self.state.media

    @property
    def queued(self) -> bool:
        return self.state.queued


class _Worker:
    """One worker process, its pipe and the thread that reads it."""

    def __init__(self, setup: WorkerSetup, on_orphans: OnOrphans) -> None:
        self.setup = setup
        self._on_orphans = on_orphans
        self.cams: dict[int, RemoteIngest] = {}
        self._lock = threading.Lock()  # cams and replies; never held while sending
        self._send_lock = threading.Lock()
        self._in_order = _InOrder(f"ingest-index-{setup.number}")
        self._started_at = 0.0
        self._started_wall = 0.0
        self._respawn_delay = RESPAWN_DELAY
        self._replies: dict[int, tuple[threading.Event, list[Keyframe | None]]] = {}
        self._requests = itertools.count(1)
        self._closing = False
        self._exited = threading.Event()
        self._process: Any = None
        self._conn: Connection | None = None
        self._reader: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else int(self._process.pid)

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        here, there = context.Pipe()
        process = context.Process(
            target=serve,
            args=(there, self.setup),
            name=f"cctvctl-ingest-{self.setup.number}",
            daemon=True,
        )
        process.start()
        there.close()
        self._process, self._conn = process, here
        self._started_at = time.monotonic()
        self._started_wall = time.time()
        self._exited.clear()
        self._reader = threading.Thread(
            target=self._read, args=(here,), name=f"ingest-worker-{self.setup.number}", daemon=True
        )
        self._reader.start()
        log.info("ingest worker %d started (pid %d)", self.setup.number, process.pid)

    def _send(self, message: tuple[Any, ...]) -> bool:
        """Send, never under ``_lock``: a full pipe blocks here until the worker reads, and
        the reader must be free to take ``_lock`` meanwhile."""
        with self._send_lock:
            conn = self._conn
            if conn is None:
                return False
            try:
                conn.send(message)
            except (OSError, ValueError):
                return False  # the worker died; the reader restarts it
            return True

    def start_camera(self, ingest: RemoteIngest) -> None:
        with self._lock:
            self.cams[ingest.key] = ingest
        self._send(("start", ingest.key, ingest.spec))

    def stop_camera(self, ingest: RemoteIngest) -> None:
        with self._lock:
            ingest.stopping = True
            known = ingest.key in self.cams
        if not known or not self._send(("stop", ingest.key)):
            with self._lock:
                self.cams.pop(ingest.key, None)
            ingest.stopped.set()

    def keyframe(self, ingest: RemoteIngest) -> Keyframe | None:
        done = threading.Event()
        answer: list[Keyframe | None] = []
        with self._lock:
            request = next(self._requests)
            self._replies[request] = (done, answer)
        sent = self._send(("keyframe", request, ingest.key))
        try:
            if not sent or not done.wait(KEYFRAME_TIMEOUT):
                return None
            return answer[0] if answer else None
        finally:
            with self._lock:
                self._replies.pop(request, None)

    def exit(self, timeout: float) -> None:
        """Stop every camera (their last segments indexed) and end the process."""
        with self._lock:
            self._closing = True
        if self._send(("exit",)):
            self._exited.wait(timeout)
        process = self._process
        if process is not None:
            process.join(max(1.0, timeout / 4))
            if process.is_alive():
                log.warning("ingest worker %d did not exit; killing it", self.setup.number)
                process.kill()
                process.join(5)
        if self._reader is not None:
            self._reader.join(5)
        if not self._in_order.drain():
            log.warning(
                "ingest worker %d: its last segments are still being indexed", self.setup.number
            )

    # ------------------------------------------------------------------ the pipe

    def _read(self, conn: Connection) -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
            try:
                self._handle(message)
            except Exception:
                log.exception("ingest worker %d: cannot handle %r", self.setup.number, message[0])
            if message[0] == "exited":
                break
        conn.close()
        self._exited.set()
        self._ended()

    def _handle(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "tick":
            _, updates, segments, reanchors, logs = message
            for levelno, name, text in logs:
                logging.getLogger(name).log(levelno, "%s", text)
            # Each item on its own, as each ingest thread does in-process: one camera's
            # failure (the index busy or full) must not drop the other cameras' segments,
            # re-anchors and figures of the same tick.
            for key, calls, state in updates:
                ingest = self.cams.get(key)
                if ingest is not None:
                    if state is not None:
                        ingest.state = state
                    self._guarded(ingest, "replay its stats", replay, ingest.stats, calls)
            for key, record in segments:
                ingest = self.cams.get(key)
                if ingest is not None:
                    what = f"index segment {record.path}"
                    self._later(ingest, what, ingest.on_segment, record)
            for key, reanchor in reanchors:
                ingest = self.cams.get(key)
                if ingest is not None:
                    self._later(ingest, "report a re-anchor", ingest.on_reanchor, reanchor)
        elif kind == "stopped":
            with self._lock:
                ingest = self.cams.pop(message[1], None)
            if ingest is not None:
                ingest.state = CameraState()
                # After its last segments: stop() returns with them indexed.
                self._in_order.put(ingest.stopped.set)
        elif kind == "keyframe":
            waiting = self._replies.get(message[1])
            if waiting is not None:
                waiting[1].append(message[2])
                waiting[0].set()

    def _guarded(
        self, ingest: RemoteIngest, what: str, call: Callable[..., None], *args: Any
    ) -> None:
        try:
            call(*args)
        except Exception:
            # A segment not indexed is on disk: start-up reconciliation indexes it.
            log.exception("%s: could not %s", ingest.camera_id, what)

    def _later(
        self, ingest: RemoteIngest, what: str, call: Callable[..., None], *args: Any
    ) -> None:
        self._in_order.put(lambda: self._guarded(ingest, what, call, *args))

    def _ended(self) -> None:
        """The pipe ended: a requested exit, or the worker died and is started again."""
        with self._lock:
            self._conn = None
            for waiting in self._replies.values():
                waiting[0].set()
            if self._closing:  # exit() joins the process
                self._finish_all()
                return
            cams = list(self.cams.values())
        self._in_order.drain()  # what it sent is indexed before its leftovers are looked at
        process = self._process
        if process is not None:
            process.join(5)
        born = self._started_wall
        # What it was writing is on disk, cut mid-fragment: repaired and indexed now, not at
        # the next start-up (no one writes those files any more). From the open file it last
        # named, or from its start: a file opened after its last tick was never named.
        left_open = [
            (ingest.spec, ingest.state.open_file[0] if ingest.state.open_file else born)
            for ingest in cams
        ]
        code = None if process is None else process.exitcode
        log.error(
            "ingest worker %d ended unexpectedly (exit code %s); restarting it with its %d cameras",
            self.setup.number,
            code,
            len(cams),
        )
        for ingest in cams:
            ingest.worker_died()
            if not ingest.stopping:
                ingest.stats.disconnected(
                    f"the ingest worker process ended (exit code {code})", OfflineCause.OTHER
                )
        try:
            self._on_orphans(left_open)
        except Exception:
            log.exception("ingest worker %d: cannot index the files it left", self.setup.number)
        # A camera whose stop was sent but not answered is finished here, once its files
        # are indexed: restarting it would leave a second ingest of a camera a reload
        # reconnects, or keep recording one it removed, and its stop() would never return.
        with self._lock:
            for key, ingest in list(self.cams.items()):
                if ingest.stopping:
                    del self.cams[key]
                    ingest.stopped.set()
        self._respawn()

    def _finish_all(self) -> None:
        """Every camera is done (an exit while the worker was gone); ``_lock`` held. Each
        stop returns once what was queued for the index before it has run."""
        for ingest in self.cams.values():
            self._in_order.put(ingest.stopped.set)
        self.cams.clear()

    def _respawn(self) -> None:
        """Start the worker again with its cameras, waiting longer each time it died young;
        a start that fails is retried, never left with its cameras unrecorded."""
        lived = time.monotonic() - self._started_at
        delay = RESPAWN_DELAY if lived >= RESPAWN_HEALTHY else self._respawn_delay
        while True:
            self._respawn_delay = min(RESPAWN_MAX, delay * 2)
            time.sleep(delay)
            with self._lock:
                if self._closing:
                    self._finish_all()
                    return
                try:
                    self.start()
                except Exception:
                    log.exception("ingest worker %d: cannot start it", self.setup.number)
                    delay = self._respawn_delay
                    continue
                cams = list(self.cams.values())
            for ingest in cams:
                self._send(("start", ingest.key, ingest.spec))
            return


class IngestPool:
    """N ingest worker processes; :meth:`ingest` places a camera on the least loaded."""

    def __init__(
        self,
        setups: list[WorkerSetup],
        on_orphans: OnOrphans,
    ) -> None:
        """``on_orphans``: indexes what a worker that died left of each camera's files,
        given (camera, wall time from which to look)."""
        self._on_orphans = on_orphans
        self._workers = [_Worker(setup, on_orphans) for setup in setups]
        self._keys = itertools.count(1)
        self._started = False

    @property
    def size(self) -> int:
        return len(self._workers)

    @property
    def least_load(self) -> int:
        """Cameras on the least loaded worker: where :meth:`ingest` would put the next."""
        return min(len(w.cams) for w in self._workers)

    @property
    def pids(self) -> list[int]:
        return [pid for w in self._workers if (pid := w.pid) is not None]

    def start(self) -> None:
        self._started = True
        for worker in self._workers:
            worker.start()
        # A process that exits without stop() (a start-up that failed half-way, a stop
        # that raised) would otherwise hang for ever: multiprocessing's own exit handler
        # sends the workers SIGTERM, which they ignore, then joins them, while they wait
        # on a pipe this process still holds open. Registered after multiprocessing's,
        # so it runs first.
        atexit.register(self.stop)

    def grow(self, setups: list[WorkerSetup]) -> None:
        """Add workers (started at once if the pool runs); the next cameras go to them,
        being the least loaded, and the cameras already placed stay where they are."""
        added = [_Worker(setup, self._on_orphans) for setup in setups]
        self._workers = [*self._workers, *added]  # swapped whole: stop() may be reading
        if self._started:
            for worker in added:
                worker.start()

    def ingest(
        self,
        spec: CameraSpec,
        stats: CameraStats,
        on_segment: Callable[[SegmentRecord], None],
        on_reanchor: Callable[[Reanchor], None],
    ) -> RemoteIngest:
        worker = min(self._workers, key=lambda w: len(w.cams))
        return RemoteIngest(worker, next(self._keys), spec, stats, on_segment, on_reanchor)

    def stop(self, timeout: float = EXIT_TIMEOUT) -> None:
        """End every worker; each closes and hands over its open segments first."""
        self._started = False
        atexit.unregister(self.stop)
        threads = [
            threading.Thread(target=w.exit, args=(timeout,), daemon=True) for w in self._workers
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
