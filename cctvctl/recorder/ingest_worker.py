"""An ingest worker process: records its share of the cameras for the server process.

Past about 250 cameras one interpreter lock, not the cores, limits a recorder: its CPU per
packet doubles and it tops out near 1.4 cores (benchmarks/README.md). A large node then
runs its ingest threads in several worker processes (recorder/ingest_pool.py). A worker
runs :class:`~cctvctl.recorder.ingest.CameraIngest` threads and nothing else; status,
events, the index, thumbnails and retention stay in the server, fed over one pipe.

Server to worker: ``("start", key, spec)``, ``("stop", key)``, ``("keyframe", request,
key)`` and ``("exit",)``. Worker to server, every :data:`TICK`: ``("tick", cameras,
segments, reanchors, logs)``, where each camera carries its stats calls (replayed on the
real ``CameraStats``) and its state when that changed; at once: ``("keyframe", request, keyframe)``,
``("stopped", key)`` once a camera's last segment has gone in a tick, and ``("exited",)``.

A worker ignores SIGINT and SIGTERM: the server stops it, so that every open segment is
closed and indexed in order. When the server goes away (the pipe ends) the worker closes
every segment and exits; start-up reconciliation indexes what it wrote.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Final

from cctvctl.models import CameraMedia
from cctvctl.recorder import malloc
from cctvctl.recorder.ingest import CameraIngest, IngestSettings
from cctvctl.recorder.media_clock import Reanchor
from cctvctl.recorder.open_gate import OpenGate
from cctvctl.recorder.segmenter import SegmentRecord
from cctvctl.recorder.stats_feed import StatsFeed, StatsRelay, take_all
from cctvctl.storage.modes import FileModes

__all__ = ["CameraSpec", "CameraState", "WorkerSetup", "make_ingest", "serve"]

log = logging.getLogger("cctvctl.recorder")

#: How often a worker sends what its cameras did: live figures lag by at most this.
TICK: Final = 0.25
#: How long the worker waits for its ingests to close their segments on "exit".
EXIT_TIMEOUT: Final = 10.0


@dataclass(frozen=True, slots=True)
class WorkerSetup:
    """What every camera of one worker shares."""

    number: int  # 1..N, for its log lines
    settings: IngestSettings
    modes: FileModes
    open_limit: int  # this worker's share of the recorder's open gate
    log_level: int


@dataclass(frozen=True, slots=True)
class CameraSpec:
    """Everything a worker needs to record one camera (CameraIngest's arguments)."""

    camera_id: str
    kecamatan_slug: str
    url: str
    username: str
    password: str
    storage: Path
    transport: str
    audio: str


def make_ingest(
    spec: CameraSpec,
    *,
    stats: StatsFeed,
    on_segment: Callable[[SegmentRecord], None],
    on_reanchor: Callable[[Reanchor], None],
    settings: IngestSettings,
    modes: FileModes,
    gate: OpenGate,
    clock: Callable[[], float] = time.time,
) -> CameraIngest:
    """The ingest of ``spec``, in whichever process records it."""
    return CameraIngest(
        spec.camera_id,
        kecamatan_slug=spec.kecamatan_slug,
        url=spec.url,
        username=spec.username,
        password=spec.password,
        storage=spec.storage,
        stats=stats,
        on_segment=on_segment,
        settings=settings,
        clock=clock,
        modes=modes,
        transport=spec.transport,
        audio=spec.audio,
        on_reanchor=on_reanchor,
        gate=gate,
    )


@dataclass(frozen=True, slots=True)
class CameraState:
    """What the server reads of a remote ingest between ticks."""

    open_segment_start: float | None = None
    open_file: tuple[float, Path] | None = None
    media: CameraMedia | None = None
    queued: bool = False
    keyframe_seq: int = 0  # the newest keyframe's: the server asks for it only when it moved


class _PipeGone(Exception):
    """The pipe to the server is closed or broken: the server is gone."""


class _Logs(logging.Handler):
    """Keeps the worker's log records for the next tick; the server logs them as its own,
    through its redacting handler."""

    def __init__(self) -> None:
        super().__init__()
        self.records: deque[tuple[int, str, str]] = deque()

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
        self.records.append((record.levelno, record.name, text))

    def take(self) -> list[tuple[int, str, str]]:
        return take_all(self.records)


class _Running:
    def __init__(self, ingest: CameraIngest, relay: StatsRelay) -> None:
        self.ingest = ingest
        self.relay = relay
        self.sent: CameraState | None = None


class _Worker:
    def __init__(self, conn: Connection, setup: WorkerSetup, logs: _Logs) -> None:
        self._conn = conn
        self._setup = setup
        self._logs = logs
        self._gate = OpenGate(setup.open_limit)
        self._send_lock = threading.Lock()
        self._cams: dict[int, _Running] = {}
        self._cams_lock = threading.Lock()
        self._segments: deque[tuple[int, SegmentRecord]] = deque()
        self._reanchors: deque[tuple[int, Reanchor]] = deque()
        self._done = threading.Event()

    def _send(self, message: tuple[Any, ...]) -> None:
        with self._send_lock:
            self._post(message)

    def _post(self, message: tuple[Any, ...]) -> None:
        """Send with the send lock held; a broken pipe is :class:`_PipeGone`, told apart
        from a command's own errors (a ValueError from a bad camera spec, say)."""
        try:
            self._conn.send(message)
        except (OSError, ValueError) as exc:
            raise _PipeGone from exc

    # ------------------------------------------------------------------ commands

    def run(self) -> None:
        ticker = threading.Thread(target=self._tick, name="worker-tick", daemon=True)
        ticker.start()
        try:
            while True:
                try:
                    message = self._conn.recv()
                except (EOFError, OSError):
                    log.warning(
                        "ingest worker %d: the server went away; closing every segment",
                        self._setup.number,
                    )
                    self._stop_all()
                    return
                try:
                    if not self._obey(message):
                        return
                except _PipeGone:
                    self._stop_all()  # the pipe broke while answering: the server is gone
                    return
                except Exception:
                    # One camera's command failing (a thread limit, say) must not take the
                    # worker's other cameras down with it: said, and the next one read.
                    log.exception("ingest worker %d: %s failed", self._setup.number, message[0])
        finally:
            self._done.set()

    def _obey(self, message: tuple[Any, ...]) -> bool:
        """Carry out one command; False once the worker is to end."""
        kind = message[0]
        if kind == "start":
            self._start(message[1], message[2])
        elif kind == "stop":
            self._stop_one(message[1])
        elif kind == "keyframe":
            running = self._cams.get(message[2])
            frame = None if running is None else running.ingest.keyframe()
            self._send(("keyframe", message[1], frame))
        elif kind == "exit":
            self._stop_all()
            self._send(("exited",))
            return False
        return True

    def _start(self, key: int, spec: CameraSpec) -> None:
        relay = StatsRelay()
        ingest = make_ingest(
            spec,
            stats=relay,
            on_segment=lambda record: self._segments.append((key, record)),
            on_reanchor=lambda reanchor: self._reanchors.append((key, reanchor)),
            settings=self._setup.settings,
            modes=self._setup.modes,
            gate=self._gate,
        )
        with self._cams_lock:
            self._cams[key] = _Running(ingest, relay)
        ingest.start()

    def _stop_one(self, key: int) -> None:
        running = self._cams.get(key)
        if running is None:
            self._send(("stopped", key))
            return
        running.ingest.stop()

        def finish() -> None:
            running.ingest.join()
            with contextlib.suppress(_PipeGone):  # the server is gone; run() sees it too
                self._flush(final=key)

        threading.Thread(target=finish, name=f"stop-{key}", daemon=True).start()

    def _stop_all(self) -> None:
        with self._cams_lock:
            cams = list(self._cams.items())
        deadline = time.monotonic() + EXIT_TIMEOUT
        for _, running in cams:
            running.ingest.stop()
        for _, running in cams:
            if not running.ingest.join(max(0.0, deadline - time.monotonic())):
                log.warning("camera %s: ingest did not stop in time", running.ingest.camera_id)
        try:
            self._flush()
            for key, _ in cams:
                self._send(("stopped", key))
        except _PipeGone:
            pass  # the server is gone: the files are on disk for reconciliation

    # ------------------------------------------------------------------ ticks

    def _tick(self) -> None:
        while not self._done.wait(TICK):
            try:
                self._flush()
            except _PipeGone:
                return  # the pipe is closed; run() sees it too
            except Exception:
                # Ticks that stopped would leave the cameras recording but their figures
                # frozen, until the server called them offline: said, and the next one tried.
                log.exception("ingest worker %d: a tick failed", self._setup.number)

    def _flush(self, final: int | None = None) -> None:
        """Send what happened since the last tick; with ``final``, that camera's last
        calls and segments, then ``("stopped", final)``."""
        with self._send_lock:
            with self._cams_lock:
                cams = list(self._cams.items())
                if final is not None:
                    self._cams.pop(final, None)
            updates = []
            for key, running in cams:
                ingest = running.ingest
                keyframe = ingest.keyframe()
                state = CameraState(
                    ingest.open_segment_start,
                    ingest.open_file,
                    ingest.media,
                    ingest.queued,
                    0 if keyframe is None else keyframe.seq,
                )
                calls = running.relay.take()
                changed = state != running.sent
                if calls or changed:
                    # The state only when it changed: most ticks carry packets alone.
                    updates.append((key, calls, state if changed else None))
                    running.sent = state
            segments = take_all(self._segments)
            reanchors = take_all(self._reanchors)
            logs = self._logs.take()
            if updates or segments or reanchors or logs:
                self._post(("tick", updates, segments, reanchors, logs))
            if final is not None:
                self._post(("stopped", final))


def serve(conn: Connection, setup: WorkerSetup) -> None:
    """The worker process's entry point (multiprocessing's ``target``)."""
    # Ctrl-C and a service stop reach the whole process group: the server decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    malloc.limit_arenas(malloc.ARENAS)
    # top and `ps -e` then name the worker rather than a bare "python" (15 bytes at most);
    # elsewhere than Linux only the name is lost.
    with contextlib.suppress(OSError):
        Path("/proc/self/comm").write_text(f"cctvctl-ingest{setup.number}"[:15])
    logs = _Logs()
    root = logging.getLogger()
    root.handlers[:] = [logs]
    root.setLevel(setup.log_level)
    # A thread's uncaught error goes to the server's log (and its redactor) like any line,
    # not to the inherited stderr, where a libav message quoting a URL would be unmasked.
    threading.excepthook = _log_thread_error
    try:
        _Worker(conn, setup, logs).run()
    finally:
        conn.close()


def _log_thread_error(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    log.error(
        "thread %s failed",
        name,
        exc_info=(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback),
    )
