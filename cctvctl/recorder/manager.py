"""The recorder: every camera's ingest, their live health, thumbnails and housekeeping.

:class:`Recorder` is what the API server holds. It owns one ingest thread per enabled
camera, a round-trip prober for all of them, a monitor that turns live figures into
status changes (one ``camera.status`` event and one log line each), and a retention
thread. Its read methods are cheap and safe from any thread.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from cctvctl.config import CameraEntry, Inventory, InventoryDiff
from cctvctl.models import Camera, CameraStatus
from cctvctl.recorder.ingest import CameraIngest, IngestSettings
from cctvctl.recorder.ingest_pool import IngestPool, RemoteIngest, processes_for
from cctvctl.recorder.ingest_worker import CameraSpec, WorkerSetup, make_ingest
from cctvctl.recorder.media_clock import Reanchor
from cctvctl.recorder.open_gate import OPEN_LIMIT, OpenGate
from cctvctl.recorder.rtt import RttProber, rtsp_target
from cctvctl.recorder.segmenter import SegmentRecord
from cctvctl.recorder.stats import CameraStats, StatusChange
from cctvctl.recorder.thumbnails import Keyframe, Thumbnail, ThumbnailService
from cctvctl.storage.database import Database
from cctvctl.storage.events import CAMERA_REANCHOR, CAMERA_STATUS, EventPublisher
from cctvctl.storage.gaps import expected_from, find_gaps
from cctvctl.storage.reconcile import reconcile_camera_since

__all__ = ["EventPublisher", "Recorder"]

log = logging.getLogger("cctvctl.recorder")

MONITOR_INTERVAL: Final = 0.5
RETENTION_INTERVAL: Final = 30.0
DAY: Final = 86400.0
# How long a camera's "missing in 24 h" figure is reused before the index is asked again.
COVERAGE_TTL: Final = 5.0
# Between full re-reads a camera's coverage is extended with new segments only; the full
# re-read picks up what retention or an operator removed in the meantime.
COVERAGE_REBUILD: Final = 600.0
STOP_TIMEOUT: Final = 10.0


class _Coverage:
    """One camera's recorded spans over the last day, kept in step with the index.

    Reading a day of minute segments for 54 cameras costs about half a second, too much
    for every API poll; so spans are fetched once, then only newer segments are added.
    The recorder refreshes every due camera together (Recorder._refresh_coverage), in a few
    index queries whatever the number of cameras.
    """

    def __init__(self, camera_id: str, rebuild_offset: float) -> None:
        self.camera_id = camera_id
        self.spans: list[tuple[float, float]] = []
        self.last_start: float | None = None
        self.next_rebuild = rebuild_offset  # monotonic; 0 rebuilds on first use
        self.value = 0.0
        self.valid_until = 0.0  # monotonic

    def needs_rebuild(self, mono: float) -> bool:
        return mono >= self.next_rebuild or self.last_start is None

    def rebuild(self, spans: list[tuple[float, float]], mono: float) -> None:
        """Take the day's spans as the index has them now (a full re-read)."""
        self.spans = list(spans)
        self.next_rebuild = mono + COVERAGE_REBUILD

    def extend(self, spans: Iterable[tuple[float, float]]) -> None:
        """Add the segments that started since the last one known."""
        last = self.last_start
        added = [span for span in spans if last is None or span[0] > last]
        if added:
            self.spans.extend(added)
            self.spans.sort()

    def trim(self, lo: float) -> None:
        """Drop what ended a day ago or earlier, and note where to read on from."""
        drop = 0
        while drop < len(self.spans) and self.spans[drop][1] <= lo:
            drop += 1
        if drop:
            del self.spans[:drop]
        if self.spans:
            self.last_start = self.spans[-1][0]
        elif self.last_start is None:
            self.last_start = lo

    def missing(self, now: float, open_start: float | None, created: float, grace: float) -> float:
        spans = self.spans
        if open_start is not None:
            spans = [*spans, (open_start, now)]
        # The spans cover a day: on an index younger than that, the first is the camera's first.
        first = spans[0][0] if spans else None
        not_before = expected_from(created, first, grace)
        return find_gaps(spans, now - DAY, now, not_before=not_before, now=now).missing_seconds


def _rfc3339(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat()


def _enabled(inventory: Inventory) -> int:
    return sum(1 for e in inventory.cameras() if e.camera.enabled)


#: A camera's ingest: a thread here, or one in an ingest worker process.
Ingest = CameraIngest | RemoteIngest


def _stop_all(ingests: list[Ingest], timeout: float) -> None:
    """Stop every ingest at once, then wait (``timeout`` for all): each open segment is
    closed and indexed by then."""
    deadline = time.monotonic() + timeout
    for ingest in ingests:
        ingest.stop()
    for ingest in ingests:
        if not ingest.join(max(0.0, deadline - time.monotonic())):
            log.warning("camera %s: ingest did not stop in time", ingest.camera_id)


@dataclass
class _Cam:
    entry: CameraEntry
    stats: CameraStats
    coverage: _Coverage
    ingest: Ingest | None = None

    @property
    def id(self) -> str:
        return self.entry.camera.id


class Recorder:
    """Records every enabled camera of ``inventory`` and reports how each one is doing."""

    def __init__(
        self,
        inventory: Inventory,
        index: Database,
        events: EventPublisher,
        *,
        now: Callable[[], float] = time.time,
        ingest_settings: IngestSettings | None = None,
        rtt_interval: float = 30.0,
        retention_interval: float = RETENTION_INTERVAL,
        monitor_interval: float = MONITOR_INTERVAL,
        open_limit: int = OPEN_LIMIT,
    ) -> None:
        self.inventory = inventory
        self.index = index
        self.events = events
        self._now = now
        server = inventory.server
        self.ingest_settings = ingest_settings or IngestSettings(
            segment_seconds=float(server.segment_seconds),
            reanchor_seconds=server.reanchor_seconds,
        )
        self.retention_interval = retention_interval
        #: How many cameras may be opening their stream at once (start-up, reconnects
        #: and reloads alike): every ingest of this recorder takes its turn here.
        self.open_gate = OpenGate(open_limit)
        self._open_limit = open_limit
        processes = self._processes_wanted(inventory)
        #: The ingest worker processes, or None while every camera is read in this one.
        self.pool: IngestPool | None = None
        #: This process reads cameras too: it started alone, and workers came with the
        #: cameras of later reloads. A node started with workers leaves all to them.
        self._reads_here = processes == 1
        if processes > 1:
            self.pool = IngestPool(
                self._worker_setups(1, processes, processes), on_orphans=self._index_left_open
            )
        self.monitor_interval = monitor_interval
        #: Frees bytes of a cache on the recording volume, which the disk guard empties
        #: before it deletes footage; the server sets it to the archive's fetch cache.
        self.cache_release: Callable[[int], int] | None = None
        self._cams: dict[str, _Cam] = {}
        entries = list(inventory.cameras())
        for n, entry in enumerate(entries):
            # Spread the cameras' full re-reads over the rebuild period.
            offset = n * COVERAGE_REBUILD / max(1, len(entries))
            self._cams[entry.camera.id] = self._new_cam(entry, offset)
        self.rtt = RttProber(self._rtt_targets(), interval=rtt_interval)
        self.thumbnails = ThumbnailService(self._keyframe, cache_seconds=server.thumbnail_seconds)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._started = False
        self._stopped = False
        self._not_before: float | None = None
        self._coverage_lock = threading.Lock()
        self._mono_origin = time.monotonic()
        # One reload at a time; readers never take it (they read a dict swapped whole).
        self._apply_lock = threading.Lock()

    def _new_cam(self, entry: CameraEntry, rebuild_offset: float) -> _Cam:
        cam = entry.camera
        stats = CameraStats(
            cam.id,
            enabled=cam.enabled,
            configured_fps=cam.fps,
            offline_after=self.inventory.server.offline_after,
            clock=self._now,
        )
        return _Cam(entry, stats, _Coverage(cam.id, rebuild_offset))

    def _processes_wanted(self, inventory: Inventory) -> int:
        server = inventory.server
        return processes_for(
            server.ingest_processes, _enabled(inventory), server.cameras_per_process
        )

    def _worker_setups(self, first: int, count: int, processes: int) -> list[WorkerSetup]:
        """Workers numbered from ``first``; each takes its share of the open gate."""
        level = logging.getLogger("cctvctl").getEffectiveLevel()
        return [
            WorkerSetup(
                number=first + n,
                settings=self.ingest_settings,
                modes=self.index.modes,
                open_limit=max(1, self._open_limit // processes),
                log_level=level,
            )
            for n in range(count)
        ]

    def _rtt_targets(self) -> dict[str, tuple[str, int]]:
        targets = {}
        for c in self._cams.values():
            target = rtsp_target(c.entry.camera.rtsp)
            if target is not None and c.entry.camera.enabled:
                targets[c.id] = target
        return targets

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start recording every enabled camera, the prober, the monitor and retention."""
        if self._started:
            raise RuntimeError("Recorder.start() called twice")
        self._started = True
        self._not_before = self.index.created().timestamp()
        storage = self.inventory.storage
        began = self._now()
        if self.pool is not None:
            self.pool.start()
            log.info("reading the cameras in %d ingest processes", self.pool.size)
        for c in self._cams.values():
            c.stats.begin(began)
        self._start_ingests(list(self._cams.values()), self._cams)
        self.rtt.start()
        self._spawn("recorder-monitor", self._monitor)
        self._spawn("recorder-retention", self._retention)
        enabled = sum(1 for c in self._cams.values() if c.ingest is not None)
        log.info("recording %d of %d cameras into %s", enabled, len(self._cams), storage)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop every thread; each open segment is closed and indexed before this returns.

        A thread still blocked opening a stream when ``timeout`` runs out has written
        nothing yet; it is left to finish on its own and exits without recording.
        """
        if not self._started or self._stopped:
            return
        self._stopped = True
        deadline = time.monotonic() + timeout
        self._stop.set()
        with self._apply_lock:
            ingests = [c.ingest for c in self._cams.values() if c.ingest is not None]
        self.rtt.stop(timeout=0)
        _stop_all(ingests, timeout)
        if self.pool is not None:
            self.pool.stop(max(1.0, deadline - time.monotonic()))
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        log.info("recorder stopped")

    def _start_ingests(self, fresh: list[_Cam], cams: dict[str, _Cam]) -> None:
        """Start ``fresh`` (of ``cams``, the whole inventory), each in the process that
        reads the fewest cameras: this one when it reads any, else the least loaded
        worker."""
        here = sum(1 for c in cams.values() if isinstance(c.ingest, CameraIngest))
        for c in fresh:
            if not c.entry.camera.enabled:
                continue
            in_here = self.pool is None or (self._reads_here and here <= self.pool.least_load)
            self._start_ingest(c, in_here)
            here += in_here

    def _start_ingest(self, c: _Cam, in_here: bool) -> None:
        cam = c.entry.camera
        spec = CameraSpec(
            cam.id,
            kecamatan_slug=c.entry.kecamatan.key,
            url=cam.rtsp,
            username=cam.username or "",
            password=self.inventory.password(cam.id),
            storage=self.inventory.storage,
            transport=self.inventory.transport(c.entry),
            audio=self.inventory.audio(c.entry),
        )
        on_segment = self._segment_closed(c.entry.kecamatan.key)
        on_reanchor = functools.partial(self._reanchored, c)
        if not in_here and self.pool is not None:
            c.ingest = self.pool.ingest(spec, c.stats, on_segment, on_reanchor)
        else:
            c.ingest = make_ingest(
                spec,
                stats=c.stats,
                on_segment=on_segment,
                on_reanchor=on_reanchor,
                settings=self.ingest_settings,
                modes=self.index.modes,
                gate=self.open_gate,
                clock=self._now,
            )
        c.ingest.start()

    def apply(self, inventory: Inventory, diff: InventoryDiff) -> None:
        """Move to ``inventory`` in place (a reload): ``diff`` says which cameras to touch.

        Removed and reconnected cameras are stopped first, each open segment closed and
        indexed; then reconnected and added cameras start. Every other camera keeps its
        ingest, so its recording has no gap; its description (name, site) is updated.
        The restart-only ``[server]`` keys of ``inventory`` must be the running ones
        (:func:`cctvctl.config.running_settings_kept`).
        """
        with self._apply_lock:
            old = self._cams
            stopping = [old[cid].ingest for cid in (*diff.removed, *diff.reconnect)]
            _stop_all([i for i in stopping if i is not None], STOP_TIMEOUT)
            self.inventory = inventory
            offline_after = inventory.server.offline_after
            cams: dict[str, _Cam] = {}
            fresh: list[_Cam] = []
            for entry in inventory.cameras():
                cid = entry.camera.id
                kept = old.get(cid)
                if kept is None or kept.entry.camera.enabled != entry.camera.enabled:
                    # New, enabled or disabled: a status history of its own.
                    c = self._new_cam(entry, 0.0)
                    c.stats.begin(self._now())
                    if kept is not None and not entry.camera.enabled:
                        self._announce_disabled(c, kept)
                else:
                    c = kept
                    c.entry = entry
                    c.stats.configured_fps = entry.camera.fps
                    c.stats.offline_after = offline_after
                cams[cid] = c
                if cid in diff.added or cid in diff.reconnect:
                    c.ingest = None
                    fresh.append(c)
            self._grow_for(inventory)
            if self.running:
                self._start_ingests(fresh, cams)
            self._cams = cams
            self.rtt.targets = self._rtt_targets()
            if self.running:
                self.rtt.start()
        for cid in diff.removed:
            log.info("camera %s: removed from the inventory; its footage is kept", cid)

    def _grow_for(self, inventory: Inventory) -> None:
        """Under ``"auto"``, a reload that takes the enabled cameras past what the running
        processes read well (a fleet node taking over a dead neighbour's, cameras added)
        starts more workers, and the new cameras go to them. The cameras already recording
        stay where they are, without a gap; the processes never shrink."""
        if inventory.server.ingest_processes != "auto":
            return
        wanted = self._processes_wanted(inventory)
        workers = 0 if self.pool is None else self.pool.size
        running = workers + self._reads_here  # this process counts when it reads cameras
        if wanted <= running:
            return
        setups = self._worker_setups(workers + 1, wanted - running, wanted)
        if self.pool is None:
            self.pool = IngestPool(setups, on_orphans=self._index_left_open)
            if self.running:
                self.pool.start()
        else:
            self.pool.grow(setups)
        log.info(
            "%d enabled cameras: reading them in %d processes now (%d more ingest workers)",
            _enabled(inventory),
            wanted,
            len(setups),
        )

    def _announce_disabled(self, c: _Cam, previous: _Cam) -> None:
        was = previous.stats.status
        if was is CameraStatus.DISABLED:
            return
        now = self._now()
        self._announce(c, StatusChange(CameraStatus.DISABLED, was, "disabled by a reload", now))

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    # ------------------------------------------------------------------ callbacks

    def _segment_closed(self, kecamatan: str) -> Callable[[SegmentRecord], None]:
        def index_it(record: SegmentRecord) -> None:
            self.index.add_segment(record, kecamatan=kecamatan)

        return index_it

    def _index_left_open(self, left: list[tuple[CameraSpec, float]]) -> None:
        """Index what an ingest worker that died left unindexed of its cameras' files (its
        reader thread, before the worker starts again)."""
        found = indexed = repaired = 0
        for spec, since in left:
            report = reconcile_camera_since(
                self.index,
                spec.kecamatan_slug,
                spec.camera_id,
                datetime.fromtimestamp(since, UTC),
            )
            found += report.files
            indexed += report.added
            repaired += report.repaired
        log.warning(
            "indexed %d of the %d segment files the ingest worker left unindexed (%d cut "
            "back to their last whole fragment)",
            indexed,
            found,
            repaired,
        )

    def _reanchored(self, c: _Cam, reanchor: Reanchor) -> None:
        """One line and one ``camera.reanchor`` event per re-anchor (an ingest thread)."""
        log.warning(
            "camera %s (%s): media time re-anchored: %s by %+.1f s; footage dated %+.1f s",
            c.id,
            c.entry.kecamatan.key,
            reanchor.cause,
            reanchor.jump,
            reanchor.shift,
        )
        self.events.publish(
            CAMERA_REANCHOR,
            camera=c.id,
            kecamatan=c.entry.kecamatan.key,
            data={
                "cause": reanchor.cause,
                "jump_seconds": round(reanchor.jump, 3),
                "shift_seconds": round(reanchor.shift, 3),
                "at": _rfc3339(reanchor.at),
            },
        )

    def _keyframe(self, camera_id: str) -> Keyframe | None:
        c = self._cams.get(camera_id)
        if c is None or c.ingest is None:
            return None
        return c.ingest.keyframe()

    # ------------------------------------------------------------------ threads

    def _monitor(self) -> None:
        while not self._stop.wait(self.monitor_interval):
            try:
                self.check_status()
                self.thumbnails.release_if_idle()
            except Exception:
                log.exception("status monitor failed")

    def check_status(self) -> list[tuple[str, StatusChange]]:
        """Re-evaluate every camera; announce and return the changes (the monitor's tick)."""
        now = self._now()
        changes = []
        for c in self._cams.values():
            change = c.stats.evaluate(now)
            if change is not None:
                self._announce(c, change)
                changes.append((c.id, change))
        return changes

    def _announce(self, c: _Cam, change: StatusChange) -> None:
        previous = None if change.previous is None else change.previous.value
        level = logging.INFO if change.status is CameraStatus.ONLINE else logging.WARNING
        log.log(
            level,
            "camera %s (%s): %s -> %s: %s",
            c.id,
            c.entry.kecamatan.key,
            previous or "start",
            change.status.value,
            change.reason,
        )
        try:
            self.events.publish(
                CAMERA_STATUS,
                camera=c.id,
                kecamatan=c.entry.kecamatan.key,
                data={
                    "status": change.status.value,
                    "previous": previous,
                    "reason": change.reason,
                    # The failure behind the change, also on recovery: the API's
                    # last_error is cleared then, and this keeps it in the history.
                    "error": change.error,
                    "error_at": _rfc3339(change.error_at),
                    "cause": None if change.cause is None else change.cause.value,
                },
            )
        except Exception:
            log.exception("camera %s: could not publish status event", c.id)

    def _free_cache(self, need: int) -> int:
        release = self.cache_release
        return 0 if release is None else release(need)

    def _retention(self) -> None:
        from cctvctl.storage.retention import Retention

        retention: Retention | None = None
        rules_of: Inventory | None = None
        # First pass soon after start: a disk that filled while we were down matters now.
        delay = min(1.0, self.retention_interval)
        while not self._stop.wait(delay):
            delay = self.retention_interval
            inventory = self.inventory
            try:
                if inventory is not rules_of:  # at start, and after a reload
                    retention = Retention.from_inventory(
                        inventory,
                        self.index,
                        events=self.events,
                        check_interval=self.retention_interval,
                        free_cache=self._free_cache,
                    )
                    rules_of = inventory
                if retention is not None:
                    retention.run_once(datetime.fromtimestamp(self._now(), UTC))
            except Exception:
                log.exception("retention pass failed")

    # ------------------------------------------------------------------ reads

    def _refresh_coverage(self, cams: Iterable[_Cam], now: float) -> None:
        """Bring the "missing in 24 h" figure of every camera of ``cams`` whose figure is
        older than COVERAGE_TTL up to date: one index query for the new segments of all of
        them, and one per 500 cameras due a full re-read, rather than one per camera (a
        thousand cameras made a thousand queries, each giving the GIL up and waiting behind
        the ingest threads to get it back)."""
        if self._not_before is None:
            return
        mono = time.monotonic() - self._mono_origin
        with self._coverage_lock:
            due = [c for c in cams if c.entry.camera.enabled and mono >= c.coverage.valid_until]
            if not due:
                return
            lo, hi = now - DAY, now + 1
            rebuild = [c for c in due if c.coverage.needs_rebuild(mono)]
            extend = [c for c in due if not c.coverage.needs_rebuild(mono)]
            try:
                full = (
                    self.index.spans(
                        [c.id for c in rebuild],
                        datetime.fromtimestamp(lo, UTC),
                        datetime.fromtimestamp(hi, UTC),
                    )
                    if rebuild
                    else {}
                )
                since = min((c.coverage.last_start or lo) for c in extend) if extend else hi
                new = (
                    self.index.spans_started(
                        datetime.fromtimestamp(since, UTC), datetime.fromtimestamp(hi, UTC)
                    )
                    if extend
                    else {}
                )
            except Exception:
                log.exception("cannot read the cameras' segments")
                return
            grace = self.inventory.server.offline_after
            rebuilt = {c.id for c in rebuild}
            for c in due:
                cov = c.coverage
                if c.id in rebuilt:
                    cov.rebuild(full.get(c.id, []), mono)
                else:
                    cov.extend(new.get(c.id, ()))
                cov.trim(lo)
                open_start = c.ingest.open_segment_start if c.ingest is not None else None
                cov.value = round(cov.missing(now, open_start, self._not_before, grace), 1)
                cov.valid_until = mono + COVERAGE_TTL

    def _missing_24h(self, c: _Cam, now: float) -> float:
        if not c.entry.camera.enabled or self._not_before is None:
            return 0.0
        self._refresh_coverage((c,), now)
        return c.coverage.value

    def _model(self, c: _Cam, now: float) -> Camera:
        entry = c.entry
        cam = entry.camera
        snap = c.stats.snapshot(now)
        return Camera(
            id=cam.id,
            name=cam.name,
            kecamatan=entry.kecamatan.name,
            kecamatan_slug=entry.kecamatan.key,
            site=entry.site.name,
            site_kind=entry.site.kind,
            enabled=cam.enabled,
            has_onvif=cam.onvif is not None,
            status=snap.status,
            status_since=snap.status_since,
            last_packet=snap.last_packet,
            fps=snap.fps,
            expected_fps=snap.expected_fps,
            kbps=snap.kbps,
            reconnects_1h=snap.reconnects_1h,
            rtt_ms=self.rtt.rtt_ms(cam.id),
            recording=snap.recording,
            missing_seconds_24h=self._missing_24h(c, now),
            last_error=snap.last_error,
            last_error_at=snap.last_error_at,
            cause=snap.cause,
            changes_10m=snap.changes_10m,
            flapping=snap.flapping,
            media=c.ingest.media if c.ingest is not None else None,
        )

    def cameras(self) -> list[Camera]:
        """Every camera of the inventory, in inventory order."""
        now = self._now()
        cams = list(self._cams.values())
        self._refresh_coverage(cams, now)  # all due cameras at once, before each asks alone
        return [self._model(c, now) for c in cams]

    def camera(self, camera_id: str) -> Camera | None:
        c = self._cams.get(camera_id)
        return None if c is None else self._model(c, self._now())

    def thumbnail(
        self,
        camera_id: str,
        width: int | None = None,
        height: int | None = None,
        fmt: str = "rgb",
    ) -> Thumbnail | None:
        """The camera's latest picture; None for an unknown camera or one never seen.

        Raises ValueError for a bad size or format.
        """
        if camera_id not in self._cams:
            return None
        return self.thumbnails.get(camera_id, width, height, fmt)

    def inbound_kbps_by_kecamatan(self) -> dict[str, float]:
        """Sum of the cameras' live bit rates per kecamatan slug (every kecamatan listed)."""
        now = self._now()
        totals = {k.key: 0.0 for k in self.inventory.kecamatan}
        for c in self._cams.values():
            if c.ingest is None:
                continue
            key = c.entry.kecamatan.key
            totals[key] = totals.get(key, 0.0) + c.stats.snapshot(now).kbps
        return {key: round(kbps, 1) for key, kbps in totals.items()}

    def stats(self, camera_id: str) -> CameraStats | None:
        """The live statistics object of a camera (for tests and diagnostics)."""
        c = self._cams.get(camera_id)
        return None if c is None else c.stats

    def ingest(self, camera_id: str) -> Ingest | None:
        c = self._cams.get(camera_id)
        return None if c is None else c.ingest

    @property
    def running(self) -> bool:
        return self._started and not self._stopped
