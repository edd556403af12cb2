"""Clip export jobs (stream copy) and their manifests.

An export turns the fMP4 segments of one camera over a window into ONE progressive MP4
(``+faststart``: the index sits in front, which the players police use need), without
decoding a frame. :func:`remux_clip` does the media work; :class:`Exporter` runs jobs
from the ``export_jobs`` table with a few worker threads and writes the manifest.

Decisions, in one place:

* Timeline. Clip time 0 is the first frame (the keyframe at or before the requested
  start) and every frame keeps its real offset from it, so a gap in the footage is a gap
  in the timestamps (players hold the last frame). Closing gaps would make "12 s into
  the clip" mean nothing in wall-clock terms, which is exactly what an investigator
  needs to read off; the manifest lists the gaps as wall-clock intervals besides.
* Gaps are measured from the frames actually copied (a hole of at least
  :data:`GAP_TOLERANCE` between one frame's end and the next frame), not only from the
  index, so a pause inside one segment is listed too. While a job is queued it shows the
  gaps the index predicts.
* The segment being written is not read. Only closed (indexed) segments are copied; a
  window reaching into the open segment makes the job wait (``running``, 0 %) until that
  segment closes, at most a segment length and a margin. Reading a file another thread
  is appending to would race its last fragment, and the wait is bounded by
  ``segment_seconds``.
* The end: frames whose presentation time is before ``end`` are kept, so the last frame
  is the one showing at ``end``; later packets are dropped.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

from cctvctl import __version__
from cctvctl.config import Inventory
from cctvctl.models import ExportJob, ExportManifest, ExportRequest, ExportState, Gap
from cctvctl.storage.database import Database, SegmentRow, from_ts, to_ts
from cctvctl.storage.events import JOB_PROGRESS, EventBus
from cctvctl.storage.exports import ExportStore, gaps_from_json, gaps_to_json
from cctvctl.storage.gaps import DEFAULT_TOLERANCE, find_gaps
from cctvctl.untrusted import quoted

__all__ = [
    "EXPORTS_DIR",
    "GAP_TOLERANCE",
    "ClipResult",
    "ExportCancelled",
    "ExportRefused",
    "Exporter",
    "Source",
    "remux_clip",
]

log = logging.getLogger(__name__)

EXPORTS_DIR: Final = ".exports"
GAP_TOLERANCE: Final = DEFAULT_TOLERANCE
DEFAULT_CONCURRENCY: Final = 2
#: Seconds between progress events for one job; each one is a row in the event table.
PROGRESS_INTERVAL: Final = 0.5
#: How far past "now" a window may end: clocks of the caller and the server differ a bit.
FUTURE_SLACK: Final = timedelta(seconds=5)
MANIFEST_NAME: Final = "manifest.json"
_PARTIAL: Final = ".partial.mp4"
_CHECK_EVERY: Final = 64  # packets between progress/cancel checks: time.monotonic() is not free


class ExportCancelled(Exception):
    """The job was cancelled (or the server is stopping) while it ran."""


class ExportRefused(Exception):
    """A request the caller must fix; ``status`` 404 or 422, ``parameter`` names the field."""

    def __init__(self, status: int, parameter: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.parameter = parameter
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Source:
    """One closed segment: its file, wall-clock start (POSIX seconds) and size."""

    path: Path
    start: float
    bytes: int

    @classmethod
    def of(cls, row: SegmentRow) -> Source:
        return cls(row.path, to_ts(row.start), row.bytes)


@dataclass(frozen=True, slots=True)
class ClipResult:
    first_frame: float  # wall time of the first frame's presentation
    last_frame: float  # wall time of the last frame's presentation
    frames: int
    gaps: list[tuple[float, float]]
    codec: str
    sources: list[Path] = field(default_factory=list)


def remux_clip(
    sources: Sequence[Source],
    start: float,
    end: float,
    out_path: Path,
    *,
    on_progress: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    gap_tolerance: float = GAP_TOLERANCE,
) -> ClipResult:
    """Copy the packets of ``sources`` between ``start`` and ``end`` into one MP4.

    ``on_progress`` gets the source bytes consumed so far; ``should_stop`` is polled and
    raises :class:`ExportCancelled` when it answers True. Raises ValueError when no frame
    falls in the window.
    """
    import av  # heavy; only the export worker and the benchmark need it

    out = av.open(str(out_path), "w", format="mp4", options={"movflags": "+faststart"})
    try:
        result = _copy(av, sources, start, end, out, on_progress, should_stop, gap_tolerance)
    except BaseException:
        with contextlib.suppress(Exception):
            out.close()
        raise
    # Closing writes the moov and, for +faststart, rewrites the file with it in front.
    out.close()
    return result


def _copy(
    av: Any,
    sources: Sequence[Source],
    start: float,
    end: float,
    out: Any,
    on_progress: Callable[[int], None] | None,
    should_stop: Callable[[], bool] | None,
    gap_tolerance: float,
) -> ClipResult:
    ost: Any = None
    tb0: Fraction | None = None
    origin: int | None = None  # global tick of the clip's first packet (its dts)
    last_out_dts = -1
    pending: list[tuple[Any, int, int, float, float]] = []  # held GOP before `start`
    started = False
    frames = 0
    first_wall: float | None = None
    last_wall = start
    covered_to = start  # wall time up to which the window is covered by copied frames
    gaps: list[tuple[float, float]] = []
    used: list[Path] = []
    done_bytes = 0
    codec = ""
    counter = 0

    def emit(pkt: Any, g_dts: int, g_pts: int, wall: float, wall_end: float) -> None:
        nonlocal origin, last_out_dts, frames, first_wall, last_wall, covered_to
        if origin is None:
            origin = g_dts
            first_wall = wall
        out_dts = g_dts - origin
        if out_dts <= last_out_dts:
            # Segments are stamped to tile the timeline, but rounding can make two
            # neighbours overlap by a tick; the muxer needs strictly increasing DTS.
            out_dts = last_out_dts + 1
        out_pts = max(g_pts - origin, out_dts)
        pkt.dts = out_dts
        pkt.pts = out_pts
        pkt.time_base = tb0
        pkt.stream = ost
        out.mux_one(pkt)
        last_out_dts = out_dts
        frames += 1
        last_wall = max(last_wall, wall)
        if wall - covered_to >= gap_tolerance and wall > start:
            gaps.append((max(covered_to, start), min(wall, end)))
        covered_to = max(covered_to, wall_end)

    for src in sources:
        if should_stop is not None and should_stop():
            raise ExportCancelled
        try:
            inp = av.open(str(src.path))
        except (OSError, av.FFmpegError) as exc:
            # A segment deleted by retention or damaged on disk: the clip holds what
            # is left, and the hole shows up as a gap.
            log.warning("export: skipping unreadable segment %s: %s", src.path, exc)
            done_bytes += src.bytes
            continue
        try:
            if not inp.streams.video:
                done_bytes += src.bytes
                continue
            ist = inp.streams.video[0]
            tb = ist.time_base
            if ost is None:
                ost = out.add_stream_from_template(ist, opaque=True)
                tb0 = tb
                codec = ist.codec_context.name
            assert tb0 is not None
            same_tb = tb == tb0
            seg_base = round(Fraction(src.start) / tb0)
            step_tb = float(tb)
            dts0: int | None = None
            last_dur = 0
            stop_segment = False
            used.append(src.path)
            for pkt in inp.demux(ist):
                dts = pkt.dts
                if dts is None or not pkt.size:
                    continue
                pts = pkt.pts if pkt.pts is not None else dts
                if dts0 is None:
                    dts0 = dts
                rel_dts = dts - dts0
                rel_pts = pts - dts0
                wall_dts = src.start + rel_dts * step_tb
                wall = src.start + rel_pts * step_tb
                if wall_dts >= end:
                    # DTS never decreases, so no later packet can show before `end`.
                    stop_segment = True
                    break
                counter += 1
                if counter % _CHECK_EVERY == 0:
                    if should_stop is not None and should_stop():
                        raise ExportCancelled
                    if on_progress is not None and pkt.pos is not None and pkt.pos >= 0:
                        on_progress(done_bytes + int(pkt.pos))
                if wall >= end:
                    continue
                dur = pkt.duration or last_dur
                last_dur = dur
                wall_end = wall + dur * step_tb
                if same_tb:
                    g_dts, g_pts = seg_base + rel_dts, seg_base + rel_pts
                else:
                    g_dts = seg_base + round(rel_dts * tb / tb0)
                    g_pts = seg_base + round(rel_pts * tb / tb0)
                if not started:
                    if pkt.is_keyframe and wall <= start:
                        pending = [(pkt, g_dts, g_pts, wall, wall_end)]
                        continue
                    if wall < start:
                        if pending:
                            pending.append((pkt, g_dts, g_pts, wall, wall_end))
                        continue
                    if not pending and not pkt.is_keyframe:
                        continue  # nothing decodes before a keyframe
                    started = True
                    for held in pending:
                        emit(*held)
                    pending = []
                emit(pkt, g_dts, g_pts, wall, wall_end)
            done_bytes += src.bytes
            if on_progress is not None:
                on_progress(done_bytes)
            if stop_segment:
                break
        finally:
            inp.close()

    if not started and pending:
        # The window ends before any frame at or after `start`: the held GOP is the clip.
        for held in pending:
            emit(*held)
    if origin is None or first_wall is None:
        raise ValueError("no frame of the recorded footage falls inside the window")
    if end - covered_to >= gap_tolerance:
        gaps.append((max(covered_to, start), end))
    return ClipResult(
        first_frame=first_wall,
        last_frame=last_wall,
        frames=frames,
        gaps=gaps,
        codec=codec,
        sources=used,
    )


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def clip_name(job: ExportJob) -> str:
    """The clip's file name: camera and window, so a folder of evidence sorts itself."""
    return f"{job.camera}_{_stamp(job.start)}_{_stamp(job.end)}.mp4"


def _gap_models(gaps: Sequence[tuple[float, float]]) -> list[Gap]:
    # Through the job table's encoding, so the job and the manifest agree to the digit.
    return gaps_from_json(gaps_to_json(gaps))


class _Stopping(Exception):
    """The server is shutting down; the job goes back to the queue."""


class Exporter:
    """The export queue: validation, worker threads, cancellation and expiry.

    Workers are threads because the work is libav demuxing and muxing plus file I/O,
    which release the GIL; a process pool would buy nothing but start-up time.
    """

    def __init__(
        self,
        *,
        index: Database,
        inventory: Inventory,
        events: EventBus | None = None,
        open_since: Callable[[str], datetime | None] = lambda camera: None,
        concurrency: int = DEFAULT_CONCURRENCY,
        cleanup_interval: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.index = index
        self.inventory = inventory
        self.events = events
        self.store = ExportStore(index, clock=clock)
        self.root = index.root / EXPORTS_DIR
        self._open_since = open_since
        self._concurrency = concurrency
        self._cleanup_interval = cleanup_interval
        self._clock = clock
        self._keep = float(inventory.server.export_keep_days) * 86400.0
        self._max_window = timedelta(minutes=float(inventory.server.export_max_minutes))
        self._segment_seconds = float(inventory.server.segment_seconds)
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self._cancel: dict[str, threading.Event] = {}
        self._cancel_lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        self.index.modes.make_dirs(self.root)
        requeued = self.store.requeue_running()
        if requeued:
            log.info("export: retrying %d job(s) cut off by the last shutdown", len(requeued))
        self._sweep_orphans()
        for n in range(self._concurrency):
            t = threading.Thread(target=self._worker, name=f"export-{n + 1}", daemon=True)
            t.start()
            self._threads.append(t)
        t = threading.Thread(target=self._cleanup_loop, name="export-cleanup", daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the workers; a job they were running goes back to the queue."""
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()

    # ------------------------------------------------------------------ requests

    def plan(self, req: ExportRequest, now: datetime | None = None) -> list[tuple[float, float]]:
        """Check a request against the inventory and the footage; returns predicted gaps.

        Raises :class:`ExportRefused` for anything the caller must change.
        """
        at = datetime.now(UTC) if now is None else now
        if self.inventory.camera(req.camera) is None:
            raise ExportRefused(
                404,
                "camera",
                f"no camera {quoted(req.camera)} on this server; "
                "list them with GET /api/v1/cameras",
            )
        start, end = req.start.astimezone(UTC), req.end.astimezone(UTC)
        if end <= start:
            raise ExportRefused(
                422,
                "end",
                f"end ({end:%Y-%m-%dT%H:%M:%SZ}) must be after start ({start:%Y-%m-%dT%H:%M:%SZ})",
            )
        if end - start > self._max_window:
            minutes = (end - start).total_seconds() / 60
            raise ExportRefused(
                422,
                "end",
                f"the window is {minutes:.1f} minutes; accepted: at most "
                f"{self._max_window.total_seconds() / 60:g} minutes (export_max_minutes); "
                "split it into several exports",
            )
        if end > at + FUTURE_SLACK:
            raise ExportRefused(
                422,
                "end",
                f"end ({end:%Y-%m-%dT%H:%M:%SZ}) is in the future; the server's time is "
                f"{at:%Y-%m-%dT%H:%M:%SZ}",
            )
        spans = [
            (to_ts(r.start), to_ts(r.end)) for r in self.index.segments(req.camera, start, end)
        ]
        open_since = self._open_since(req.camera)
        if open_since is not None and open_since < end:
            spans.append((to_ts(open_since), max(to_ts(end), to_ts(at))))
        if not any(s < to_ts(end) and e > to_ts(start) for s, e in spans):
            raise ExportRefused(
                422,
                "start",
                f"camera {quoted(req.camera)} has no footage between "
                f"{start:%Y-%m-%dT%H:%M:%SZ} and "
                f"{end:%Y-%m-%dT%H:%M:%SZ}; see GET /api/v1/cameras/{req.camera}/recordings",
            )
        return find_gaps(spans, to_ts(start), to_ts(end), tolerance=GAP_TOLERANCE).gaps

    def submit(self, req: ExportRequest, requester: str, role: str) -> ExportJob:
        """Validate and queue; raises :class:`ExportRefused`."""
        gaps = self.plan(req)
        job = self.store.create(
            secrets.token_hex(8),
            camera=req.camera,
            start=req.start.astimezone(UTC),
            end=req.end.astimezone(UTC),
            requester=requester,
            role=role,
            case_id=req.case_id,
            note=req.note,
            gaps=gaps,
        )
        self._publish(job)
        with self._wake:
            self._wake.notify()
        return job

    def cancel(self, job_id: str) -> ExportJob | None:
        """Cancel a queued or running job, or delete a finished one's files."""
        job = self.store.get(job_id)
        if job is None:
            return None
        now = self._clock()
        if job.state in (ExportState.QUEUED, ExportState.RUNNING):
            if self.store.set_state_if(
                job_id,
                (ExportState.QUEUED, ExportState.RUNNING),
                state=ExportState.CANCELLED,
                finished=now,
                eta_seconds=None,
            ):
                with self._cancel_lock:
                    flag = self._cancel.get(job_id)
                if flag is not None:
                    flag.set()
                if job.state is ExportState.QUEUED:
                    self._remove_files(job_id)
            else:
                return self.cancel(job_id)  # it finished meanwhile: delete instead
        elif job.state is ExportState.DONE:
            self.store.set_state_if(
                job_id, (ExportState.DONE,), state=ExportState.DELETED, expires=None
            )
            self._remove_files(job_id)
        updated = self.store.get(job_id)
        if updated is not None:
            self._publish(updated)
        return updated

    # ------------------------------------------------------------------ files

    def job_dir(self, job_id: str) -> Path:
        return self.root / job_id

    def clip_path(self, job: ExportJob) -> Path:
        return self.job_dir(job.id) / clip_name(job)

    def manifest_path(self, job: ExportJob) -> Path:
        return self.job_dir(job.id) / MANIFEST_NAME

    def _remove_files(self, job_id: str) -> None:
        # Job ids are hex from secrets.token_hex; still, never rmtree outside our folder.
        target = self.job_dir(job_id)
        if target.parent == self.root and target.name and target.exists():
            shutil.rmtree(target, ignore_errors=True)

    def _sweep_orphans(self) -> None:
        """Folders whose job is gone or no longer holds files (a crash mid-delete)."""
        try:
            entries = list(self.root.iterdir())
        except OSError:
            return
        for entry in entries:
            job = self.store.get(entry.name)
            if job is None or job.state in (
                ExportState.CANCELLED,
                ExportState.EXPIRED,
                ExportState.DELETED,
                ExportState.FAILED,
            ):
                self._remove_files(entry.name)

    def expire(self) -> int:
        """Remove finished exports past their keep time; returns how many."""
        n = 0
        for job_id in self.store.expired():
            if self.store.set_state_if(job_id, (ExportState.DONE,), state=ExportState.EXPIRED):
                self._remove_files(job_id)
                n += 1
                log.info("export %s expired; files removed", job_id)
        return n

    def _cleanup_loop(self) -> None:
        while not self._stop.wait(self._cleanup_interval):
            try:
                self.expire()
            except Exception:
                log.exception("export cleanup failed; retrying later")

    # ------------------------------------------------------------------ workers

    def _publish(self, job: ExportJob) -> None:
        if self.events is None:
            return
        entry = self.inventory.camera(job.camera)
        self.events.publish(
            JOB_PROGRESS,
            camera=job.camera,
            kecamatan=entry.kecamatan.key if entry is not None else None,
            data={
                "kind": "export",
                "job": job.id,
                "state": job.state.value,
                "percent": job.percent,
                "bytes_done": job.bytes_done,
                "bytes_total": job.bytes_total,
                "eta_seconds": job.eta_seconds,
            },
        )

    def _worker(self) -> None:
        while not self._stop.is_set():
            try:
                claimed = self.store.claim_next()
            except Exception:
                log.exception("export: could not read the queue")
                claimed = None
            if claimed is None:
                with self._wake:
                    self._wake.wait(1.0)
                continue
            job, _role = claimed
            flag = threading.Event()
            with self._cancel_lock:
                self._cancel[job.id] = flag
            try:
                self._run(job, flag)
            except Exception:
                log.exception("export %s: unexpected failure", job.id)
            finally:
                with self._cancel_lock:
                    self._cancel.pop(job.id, None)

    def _run(self, job: ExportJob, flag: threading.Event) -> None:
        self._publish(job)
        job_dir = self.job_dir(job.id)
        shutil.rmtree(job_dir, ignore_errors=True)  # a retried job starts clean
        modes = self.index.modes
        modes.make_dirs(job_dir)
        partial = job_dir / _PARTIAL
        # The muxer opens an existing file without changing its mode; the rename to the
        # clip's name keeps it too.
        modes.create_empty(partial)

        def should_stop() -> bool:
            return flag.is_set() or self._stop.is_set()

        try:
            self._wait_for_open_segment(job, should_stop)
            result, sources = self._make_clip(job, partial, should_stop)
            if should_stop():
                raise ExportCancelled
            size = partial.stat().st_size
            digest = sha256_file(partial)
            final = self.clip_path(job)
            finished = self._clock()
            manifest = self._manifest(job, final.name, result, digest, size, finished)
            os.replace(partial, final)
            tmp = job_dir / (MANIFEST_NAME + ".tmp")
            modes.write_text(tmp, manifest.model_dump_json(indent=2) + "\n")
            os.replace(tmp, self.manifest_path(job))
        except ExportCancelled:
            if self._stop.is_set() and not flag.is_set():
                # Shutdown, not a cancel: leave it for the next start (it is retried).
                self.store.set_state_if(
                    job.id, (ExportState.RUNNING,), state=ExportState.QUEUED, percent=0.0
                )
                log.info("export %s interrupted by shutdown; queued again", job.id)
            else:
                log.info("export %s cancelled", job.id)
            shutil.rmtree(job_dir, ignore_errors=True)
            return
        except Exception as exc:
            reason = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
            log.warning("export %s failed: %s", job.id, reason)
            shutil.rmtree(job_dir, ignore_errors=True)
            if self.store.set_state_if(
                job.id,
                (ExportState.RUNNING,),
                state=ExportState.FAILED,
                finished=self._clock(),
                error=reason,
                eta_seconds=None,
            ):
                self._publish_id(job.id)
            return
        ok = self.store.set_state_if(
            job.id,
            (ExportState.RUNNING,),
            state=ExportState.DONE,
            finished=finished,
            percent=100.0,
            bytes_done=sum(s.bytes for s in sources),
            eta_seconds=0.0,
            first_frame=result.first_frame,
            last_frame=result.last_frame,
            gaps=gaps_to_json(result.gaps),
            size=size,
            sha256=digest,
            expires=finished + self._keep,
        )
        if not ok:
            shutil.rmtree(job_dir, ignore_errors=True)  # cancelled at the last moment
            return
        log.info(
            "export %s done: %s, %d frames, %d bytes, %d gap(s)",
            job.id,
            job.camera,
            result.frames,
            size,
            len(result.gaps),
        )
        self._publish_id(job.id)

    def _publish_id(self, job_id: str) -> None:
        job = self.store.get(job_id)
        if job is not None:
            self._publish(job)

    def _wait_for_open_segment(self, job: ExportJob, should_stop: Callable[[], bool]) -> None:
        # The roll happens at the first keyframe after segment_seconds; the margin covers
        # a long GOP and the index write.
        deadline = time.monotonic() + self._segment_seconds * 1.5 + 10.0
        while time.monotonic() < deadline:
            if should_stop():
                raise ExportCancelled
            open_since = self._open_since(job.camera)
            if open_since is None or open_since >= job.end:
                return
            time.sleep(0.25)
        log.info("export %s: the open segment did not close in time; using what is closed", job.id)

    def _make_clip(
        self, job: ExportJob, partial: Path, should_stop: Callable[[], bool]
    ) -> tuple[ClipResult, list[Source]]:
        rows = self.index.segments(job.camera, job.start, job.end)
        sources = [Source.of(r) for r in rows]
        total = sum(s.bytes for s in sources)
        began = time.monotonic()
        last_sent = 0.0

        def progress(done: int) -> None:
            nonlocal last_sent
            now = time.monotonic()
            if now - last_sent < PROGRESS_INTERVAL:
                return
            last_sent = now
            done = min(done, total)
            elapsed = now - began
            # The last 1 % is the faststart rewrite and the hash.
            percent = round(99.0 * done / total, 1) if total else 0.0
            eta = elapsed * (total - done) / done if done else None
            self.store.update(
                job.id,
                percent=percent,
                bytes_done=done,
                bytes_total=total,
                eta_seconds=None if eta is None else round(eta, 1),
            )
            self._publish_id(job.id)

        self.store.update(job.id, bytes_total=total)
        if not sources:
            raise ValueError("the footage of this window was deleted before the export ran")
        result = remux_clip(
            sources,
            to_ts(job.start),
            to_ts(job.end),
            partial,
            on_progress=progress,
            should_stop=should_stop,
        )
        return result, sources

    def _manifest(
        self,
        job: ExportJob,
        file_name: str,
        result: ClipResult,
        digest: str,
        size: int,
        finished: float,
    ) -> ExportManifest:
        entry = self.inventory.camera(job.camera)
        return ExportManifest(
            job=job.id,
            file=file_name,
            camera=job.camera,
            camera_name=entry.camera.name if entry is not None else job.camera,
            kecamatan=entry.kecamatan.name if entry is not None else "",
            site=entry.site.name if entry is not None else "",
            requested_start=job.start,
            requested_end=job.end,
            first_frame=from_ts(result.first_frame),
            last_frame=from_ts(result.last_frame),
            timeline=(
                "clip time 0 is first_frame; every frame keeps its real offset from it, "
                "so gaps in the footage are gaps in the timestamps"
            ),
            gaps=_gap_models(result.gaps),
            missing_seconds=round(sum(e - s for s, e in result.gaps), 3),
            frames=result.frames,
            codec=result.codec,
            sha256=digest,
            size=size,
            sources=[self.index.stored_path(p) for p in result.sources],
            requester=job.requester,
            case_id=job.case_id,
            note=job.note,
            created=job.created,
            finished=from_ts(finished),
            server_version=__version__,
        )
