"""The export queue: worker threads that claim jobs, copy, hash and finish them.

Jobs persist in the ``export_jobs`` table (:class:`~cctvctl.storage.exports.ExportStore`),
which is the queue: a job is claimed in one write transaction, and a job that was running
when the server stopped or crashed is queued again at the next start.

Workers are threads because the work is libav demuxing and muxing plus file I/O, which
release the GIL; a process pool would buy nothing but start-up time.

The segment being written is not read. Only closed (indexed) segments are copied; a window
reaching into the open segment makes the job wait (``running``, 0 %, with ``waiting`` saying
which segment and when it should close) until that segment closes, at most a segment
length and a margin. Reading a file another thread is appending
to would race its last fragment, and the wait is bounded by ``segment_seconds``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from cctvctl.archive.cache import ArchiveCache, ArchiveFetchError
from cctvctl.config import Inventory
from cctvctl.exports.by_size import SizedClip, combined, remux_by_size, runs_of_one_size
from cctvctl.exports.files import MANIFEST_NAME, ExportFiles, sha256_file, sized_clip_name
from cctvctl.exports.joined import FleetExports, JoinedClip
from cctvctl.exports.manifest import build_manifest
from cctvctl.exports.remux import ClipResult, ExportCancelled, Source, remux_clip
from cctvctl.models import ExportClip, ExportJob, ExportState, ExportWait
from cctvctl.storage.database import Database, SegmentRow, from_ts, to_ts
from cctvctl.storage.device_checks import DeviceChecks
from cctvctl.storage.exports import ExportStore, clips_to_json, gaps_to_json
from cctvctl.storage.job_trail import JobTrail

__all__ = ["DEFAULT_CONCURRENCY", "PROGRESS_INTERVAL", "ExportQueue", "publish_job"]

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY: Final = 2
#: Seconds between progress events for one job; each one is a row in the event table.
PROGRESS_INTERVAL: Final = 0.5


def publish_job(trail: JobTrail, job: ExportJob) -> None:
    """One ``job.progress`` event with the job's state and progress."""
    trail.progress(
        job.id,
        job.camera,
        {
            "state": job.state.value,
            "percent": job.percent,
            "bytes_done": job.bytes_done,
            "bytes_total": job.bytes_total,
            "eta_seconds": job.eta_seconds,
            "waiting": None if job.waiting is None else job.waiting.model_dump(mode="json"),
        },
    )


@dataclass(eq=False, kw_only=True)
class ExportQueue:
    """Worker threads over the job table; a cancel flag per running job."""

    index: Database
    inventory: Inventory
    store: ExportStore
    files: ExportFiles
    trail: JobTrail
    open_since: Callable[[str], datetime | None]
    concurrency: int
    clock: Callable[[], float]
    #: A fleet node's reach for other nodes' footage; None on a single node.
    fleet: FleetExports | None = None
    #: Where footage held only by the archive is read back from; None without [archive].
    archive: ArchiveCache | None = None
    #: Called with a job's id once it is done, before its last event: the evidence vault
    #: stores the clip there (the manifest a client fetches next names the vault copy).
    on_done: Callable[[str], None] | None = None
    stopping: threading.Event = field(init=False, default_factory=threading.Event)
    _wake: threading.Condition = field(init=False, repr=False, default_factory=threading.Condition)
    _cancel: dict[str, threading.Event] = field(init=False, repr=False, default_factory=dict)
    _cancel_lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._keep = float(self.inventory.server.export_keep_days) * 86400.0
        self._segment_seconds = float(self.inventory.server.segment_seconds)

    def use_inventory(self, inventory: Inventory) -> None:
        """A reload: jobs started from now on use ``inventory`` (and its keep days)."""
        self.inventory = inventory
        self._keep = float(inventory.server.export_keep_days) * 86400.0

    def requeue_running(self) -> None:
        """Jobs cut off by the last shutdown or crash go back to the queue."""
        requeued = self.store.requeue_running()
        if requeued:
            log.info("export: retrying %d job(s) cut off by the last shutdown", len(requeued))

    def threads(self) -> list[threading.Thread]:
        """The worker threads, started."""
        started = []
        for n in range(self.concurrency):
            t = threading.Thread(target=self._worker, name=f"export-{n + 1}", daemon=True)
            t.start()
            started.append(t)
        return started

    def stop(self) -> None:
        self.stopping.set()
        with self._wake:
            self._wake.notify_all()

    def wake(self) -> None:
        """A job was queued: one idle worker takes it now rather than at its next look."""
        with self._wake:
            self._wake.notify()

    def cancel_running(self, job_id: str) -> None:
        """Tell the worker running ``job_id`` (if any) to stop at its next check."""
        with self._cancel_lock:
            flag = self._cancel.get(job_id)
        if flag is not None:
            flag.set()

    def _publish_id(self, job_id: str) -> None:
        job = self.store.get(job_id)
        if job is not None:
            publish_job(self.trail, job)

    def _worker(self) -> None:
        while not self.stopping.is_set():
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
        publish_job(self.trail, job)
        job_dir = self.files.job_dir(job.id)
        shutil.rmtree(job_dir, ignore_errors=True)  # a retried job starts clean
        modes = self.index.modes
        modes.make_dirs(job_dir)
        partial = self.files.partial_path(job.id)
        # The muxer opens an existing file without changing its mode; the rename to the
        # clip's name keeps it too.
        modes.create_empty(partial)

        def should_stop() -> bool:
            return flag.is_set() or self.stopping.is_set()

        try:
            self._wait_for_open_segment(job, should_stop)
            joined = self._join(job, partial, should_stop)
            sized: list[SizedClip] = []
            if joined is None:
                result, sources, sized = self._make_clip(job, partial, should_stop)
                source_bytes = sum(s.bytes for s in sources)
            else:
                # One clip per run of one picture size, named and listed as a single
                # node's are; the first is at `partial`.
                result, source_bytes, sized = joined.result, joined.source_bytes, joined.clips
            if should_stop():
                raise ExportCancelled
            size = partial.stat().st_size
            digest = sha256_file(partial)
            final = self.files.clip_path(job)
            finished = self.clock()
            clips = self._finish_sized(job, final, sized, digest, size)
            manifest = build_manifest(
                job,
                inventory=self.inventory,
                file_name=final.name,
                result=result,
                digest=digest,
                size=size,
                finished=finished,
                stored_path=self.index.stored_path,
                joined=joined,
                clock=DeviceChecks(self.index).get(job.camera),
                clips=clips,
            )
            os.replace(partial, final)
            tmp = job_dir / (MANIFEST_NAME + ".tmp")
            modes.write_text(tmp, manifest.model_dump_json(indent=2) + "\n")
            os.replace(tmp, self.files.manifest_path(job))
        except ExportCancelled:
            if self.stopping.is_set() and not flag.is_set():
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
                finished=self.clock(),
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
            bytes_done=source_bytes,
            eta_seconds=0.0,
            first_frame=result.first_frame,
            last_frame=result.last_frame,
            gaps=gaps_to_json(result.gaps),
            size=size,
            sha256=digest,
            expires=finished + self._keep,
            clips=clips_to_json(clips),
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
        if self.on_done is not None:
            try:
                self.on_done(job.id)
            except Exception:
                log.exception("export %s: after-export step failed; retried later", job.id)
        self._publish_id(job.id)

    def _wait_for_open_segment(self, job: ExportJob, should_stop: Callable[[], bool]) -> None:
        # The roll happens at the first keyframe after segment_seconds; the margin covers
        # a long GOP and the index write.
        deadline = time.monotonic() + self._segment_seconds * 1.5 + 10.0
        said: datetime | None = None
        try:
            while time.monotonic() < deadline:
                if should_stop():
                    raise ExportCancelled
                open_since = self.open_since(job.camera)
                if open_since is None or open_since >= job.end:
                    return
                if open_since != said:  # a new open segment: say which one, once
                    said = open_since
                    self._say_waiting(job, open_since)
                time.sleep(0.25)
            log.info(
                "export %s: the open segment did not close in time; using what is closed", job.id
            )
        finally:
            if said is not None:
                self.store.set_waiting(job.id, None)
                self._publish_id(job.id)

    def _say_waiting(self, job: ExportJob, open_since: datetime) -> None:
        wait = ExportWait(
            holds=job.end,
            open_since=open_since,
            expected_close=open_since + timedelta(seconds=self._segment_seconds),
            segment_seconds=self._segment_seconds,
        )
        self.store.set_waiting(job.id, wait)
        self._publish_id(job.id)

    def _join(
        self, job: ExportJob, partial: Path, should_stop: Callable[[], bool]
    ) -> JoinedClip | None:
        """On a fleet node, the clip joined from every node holding part of the window."""
        if self.fleet is None:
            return None

        def on_part(done: int, total: int) -> None:
            # The parts are most of the work; the join and the hash are the rest.
            self.store.update(job.id, percent=round(90.0 * done / total, 1))
            self._publish_id(job.id)

        return self.fleet.join(
            job,
            index=self.index,
            out=partial,
            part_path=lambda n, k: self.files.part_path(job.id, n, k),
            size_path=lambda n: self._size_path(job.id, n),
            wait_seconds=self._segment_seconds * 1.5 + 10.0,
            should_stop=should_stop,
            stored_path=self.index.stored_path,
            on_part=on_part,
            readable=self._readable,
        )

    def _size_path(self, job_id: str, n: int) -> Path:
        """Clip ``n`` (from 1) of another picture size, made with the folder's mode (the
        muxer keeps an existing file's)."""
        path = self.files.size_path(job_id, n)
        self.index.modes.create_empty(path)
        return path

    def _finish_sized(
        self, job: ExportJob, final: Path, sized: list[SizedClip], digest: str, size: int
    ) -> list[ExportClip]:
        """Name, hash and list the clips of a window that spans a change of picture size
        (the first is the job's file); [] for a window of one size."""
        if len(sized) < 2:
            return []
        entries = []
        for n, clip in enumerate(sized):
            path = final
            if n:
                path = final.with_name(sized_clip_name(final.name, n, clip.width, clip.height))
                os.replace(clip.path, path)
            entries.append(
                ExportClip(
                    file=path.name,
                    width=clip.width,
                    height=clip.height,
                    first_frame=from_ts(clip.result.first_frame),
                    last_frame=from_ts(clip.result.last_frame),
                    frames=clip.result.frames,
                    sha256=digest if n == 0 else sha256_file(path),
                    size=size if n == 0 else path.stat().st_size,
                )
            )
        return entries

    def _make_clip(
        self, job: ExportJob, partial: Path, should_stop: Callable[[], bool]
    ) -> tuple[ClipResult, list[Source], list[SizedClip]]:
        rows = self.index.segments(job.camera, job.start, job.end)
        total = sum(r.bytes for r in rows)
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
        if not rows:
            raise ValueError("the footage of this window was deleted before the export ran")
        sources = [Source.of(r) for r in rows]
        sized: list[SizedClip] = []
        with self._readable(rows) as paths:
            readable = [dataclasses.replace(r, path=paths[r.path]) for r in rows]
            runs = runs_of_one_size(readable)
            if len(runs) > 1:
                # One clip per picture size (exports/by_size.py); the first is the job's file.
                outputs = [partial] + [self._size_path(job.id, n) for n in range(1, len(runs))]
                sized = remux_by_size(
                    runs,
                    to_ts(job.start),
                    to_ts(job.end),
                    outputs,
                    on_progress=progress,
                    should_stop=should_stop,
                )
                if sized[0].path != partial:  # the first size had no frame in the window
                    os.replace(sized[0].path, partial)
                result = combined(sized)
            else:
                result = remux_clip(
                    [Source.of(r) for r in readable],
                    to_ts(job.start),
                    to_ts(job.end),
                    partial,
                    on_progress=progress,
                    should_stop=should_stop,
                )
        # The manifest names the segments, wherever they were read from.
        back = {read: row_path for row_path, read in paths.items()}
        result = dataclasses.replace(result, sources=[back.get(p, p) for p in result.sources])
        return result, sources, sized

    @contextlib.contextmanager
    def _readable(self, rows: list[SegmentRow]) -> Iterator[dict[Path, Path]]:
        """Each row's file readable for the block: local, or fetched from the archive."""
        if all(r.local for r in rows):
            yield {r.path: r.path for r in rows}
            return
        if self.archive is None:
            raise ValueError(
                "part of this window is only in the archive, and this server has no "
                "[archive] to read it from"
            )
        try:
            with self.archive.pinned(rows) as paths:
                yield paths
        except ArchiveFetchError as exc:
            raise ValueError(str(exc)) from None
