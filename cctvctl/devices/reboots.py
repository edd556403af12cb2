"""Reboot jobs: deliberate, limited and recorded ONVIF reboots, singly or in bulk.

A job is one or more cameras, each with its own result. Per camera::

    queued -> rebooting -> waiting -> back_online | did_not_return
                        \\-> failed (unreachable, not_authorized, timeout, error)
    skipped (recently_rebooted, no_onvif, disabled) is decided before anything is sent.
    interrupted: the server stopped while the reboot was in flight.

"Back online" needs proof that the camera restarted, not just that it streams: the
recorder must hold a *new* connection whose first packet came after SystemReboot was
sent. A camera that accepts the command but never drops its stream (firmware that
ignores the reboot, or one that only restarts its web server) still has its old
connection, and ends ``did_not_return`` with ``not_seen_down`` once ``reboot_wait`` has
passed, rather than being reported as rebooted. Watching the connection rather than the
online/offline status also works when a reboot is shorter than ``offline_after``, where
the status never flips.

A parallel slot (``max_parallel``) is held from sending the command until the camera is
back or given up on, so at most that many cameras of a job are dark because of us at any
moment: rebooting a kecamatan's cameras must not black it out all at once.

Every request (single, bulk, dry run, refusal) and every camera's outcome is written to
the audit log; every state change is a ``job.progress`` event with ``kind: reboot``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

from cctvctl.config import CameraEntry, Inventory
from cctvctl.devices import onvif
from cctvctl.models import (
    Camera,
    CameraStatus,
    RebootError,
    RebootJob,
    RebootPlan,
    RebootResult,
    RebootState,
)
from cctvctl.recorder.stats import CameraStats
from cctvctl.storage.audit import AuditLog
from cctvctl.storage.database import Database
from cctvctl.storage.events import JOB_PROGRESS, EventPublisher
from cctvctl.storage.reboot_log import RebootLog, RebootRow
from cctvctl.untrusted import quoted

__all__ = [
    "BULK_LIMIT",
    "DURATION_TEXT",
    "GUARD",
    "REBOOT",
    "REBOOT_BULK",
    "REBOOT_DRY_RUN",
    "REBOOT_RESULT",
    "Actor",
    "RebootManager",
    "RebootRefused",
    "parse_duration",
]

log = logging.getLogger(__name__)

#: A camera rebooted this recently is skipped unless the request says ``force``.
GUARD: Final = timedelta(minutes=10)
#: More cameras than this in one job need ``force``.
BULK_LIMIT: Final = 20
#: Seconds between looks at a rebooting camera's stream (the recorder's monitor ticks at 0.5).
POLL_SECONDS: Final = 0.5

# Audit actions.
REBOOT: Final = "reboot"
REBOOT_BULK: Final = "reboot.bulk"
REBOOT_DRY_RUN: Final = "reboot.dry_run"
REBOOT_RESULT: Final = "reboot.result"

# ASCII digits only (\d would take '٣', which float() reads as 3), and few enough of them
# that float() stays finite: the schema's pattern can then say exactly what is accepted.
_NUMBER: Final = r"[0-9]{1,12}(?:\.[0-9]{1,9})?"
_DURATION_PART: Final = re.compile(rf"({_NUMBER}) *([smhd])")
_DURATION: Final = re.compile(rf"{_NUMBER}|(?:{_NUMBER} *[smhd] *)+")
#: What :func:`parse_duration` accepts as text once stripped, as a regex (no anchors).
DURATION_TEXT: Final = rf"{_NUMBER}|(?:{_NUMBER} *[smhdSMHD] *)+"
_UNIT: Final = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: float | str) -> float:
    """Seconds from ``900``, ``"900"``, ``"90s"``, ``"15m"``, ``"1h30m"``; ValueError if not."""
    if isinstance(value, bool):
        raise ValueError("expected seconds or a duration such as '15m'")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip().lower()
        if not _DURATION.fullmatch(text):
            raise ValueError(
                f"{quoted(value)} is not a duration; accepted: seconds, or e.g. '90s', '15m', "
                "'2h', '1h30m'"
            )
        parts = _DURATION_PART.findall(text)
        seconds = sum(float(n) * _UNIT[u] for n, u in parts) if parts else float(text)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{quoted(value)} is not a duration of zero or more seconds")
    return seconds


class StreamWatch(Protocol):
    """What the manager needs of the recorder: a camera's live view and its connection."""

    def camera(self, camera_id: str) -> Camera | None: ...
    def stats(self, camera_id: str) -> CameraStats | None: ...


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asked: the token's name and role, as the audit log records them."""

    name: str
    role: str


class RebootRefused(Exception):
    """The request is refused as a whole; nothing was sent to any camera.

    ``status`` is the HTTP status to answer with; ``extra`` holds problem members such as
    ``error`` (a :class:`RebootError` value) and ``targets``.
    """

    def __init__(
        self, status: int, detail: str, *, extra: Mapping[str, object] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.extra = dict(extra or {})


@dataclass(frozen=True, slots=True)
class _Check:
    camera: str
    error: RebootError | None = None
    detail: str | None = None


@dataclass
class _Pending:
    """In-flight rows, so shutdown can mark exactly those as interrupted."""

    rows: dict[str, RebootRow] = field(default_factory=dict)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


def _rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _new_id() -> str:
    # Time first, so ids sort roughly by age in a listing; random tail for uniqueness.
    return f"rb-{int(time.time()):x}-{secrets.token_hex(3)}"


def _short_list(items: Sequence[str], limit: int = 30) -> str:
    text = ", ".join(items[:limit])
    return text + (f", … ({len(items) - limit} more)" if len(items) > limit else "")


class RebootManager:
    """Plans, runs, watches and records reboots; lives on the API server's event loop."""

    def __init__(
        self,
        inventory: Inventory,
        index: Database,
        recorder: StreamWatch,
        events: EventPublisher,
        *,
        reboot_wait: float | None = None,
        guard: timedelta = GUARD,
        bulk_limit: int = BULK_LIMIT,
        onvif_timeout: float = onvif.DEFAULT_TIMEOUT,
        redact: Callable[[str], str] = lambda text: text,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.inventory = inventory
        self.recorder = recorder
        self.events = events
        self.reboot_wait = inventory.server.reboot_wait if reboot_wait is None else reboot_wait
        self.guard = guard
        self.bulk_limit = bulk_limit
        self.onvif_timeout = onvif_timeout
        self.log = RebootLog(index, clock=clock)
        self.audit = AuditLog(index, clock=clock)
        self._redact = redact
        self._clock = clock
        self._entries = {e.camera.id: e for e in inventory.cameras()}
        self._pending = _Pending()
        # Held from the guard check to the insert, so two requests cannot both pass the
        # guard for the same camera.
        self._submit_lock = asyncio.Lock()
        self._stopping = False

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        """Close out rows a crash left in flight: nobody is watching those cameras now."""
        leftovers = await asyncio.to_thread(self.log.unfinished)
        if leftovers:
            await asyncio.to_thread(self._interrupt, leftovers, "the server restarted")
            log.warning("%d reboot(s) were in flight at the last shutdown", len(leftovers))

    async def stop(self) -> None:
        """Stop watching; in-flight cameras are recorded as interrupted."""
        self._stopping = True
        tasks = list(self._pending.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        rows = list(self._pending.rows.values())
        self._pending.rows.clear()
        if rows:
            self._interrupt(rows, "the server stopped")

    def _interrupt(self, rows: Iterable[RebootRow], why: str) -> None:
        for row in rows:
            detail = f"{why} while this reboot was {row.state.value}; check the camera"
            self.log.update(row.id, RebootState.INTERRUPTED, detail=detail)
            self.audit.record(
                row.actor,
                "admin",  # only admins can start a reboot
                REBOOT_RESULT,
                target=row.camera,
                reason=row.reason,
                result=RebootState.INTERRUPTED.value,
                detail=f"job {row.batch}: {detail}",
            )

    # ------------------------------------------------------------------ reading

    def _result(self, row: RebootRow) -> RebootResult:
        entry = self._entries.get(row.camera)
        return RebootResult(
            id=row.id,
            camera=row.camera,
            kecamatan=entry.kecamatan.key if entry is not None else None,
            state=row.state,
            error=row.error,
            detail=row.detail,
            requested=row.requested,
            finished=row.finished,
        )

    def _job(self, rows: Sequence[RebootRow]) -> RebootJob:
        first = rows[0]
        counts = Counter(r.state.value for r in rows)
        return RebootJob(
            id=first.batch,
            requested=min(r.requested for r in rows),
            actor=first.actor,
            reason=first.reason,
            done=all(r.state.final for r in rows),
            results=[self._result(r) for r in rows],
            counts=dict(counts),
        )

    def job(self, job_id: str) -> RebootJob | None:
        rows = self.log.batch(job_id)
        return self._job(rows) if rows else None

    def jobs(self, limit: int = 20, camera: str | None = None) -> list[RebootJob]:
        """Newest first."""
        return [self._job(rows) for rows in self.log.recent_batches(limit, camera)]

    # ------------------------------------------------------------------ choosing targets

    def offline_seconds(self, cam: Camera, now: float | None = None) -> float:
        """How long ``cam`` has been dark: since its last packet, else since it went offline."""
        if cam.status is not CameraStatus.OFFLINE:
            return 0.0
        since = cam.last_packet or cam.status_since
        if since is None:
            return 0.0
        now = self._clock() if now is None else now
        return max(0.0, now - since.timestamp())

    def unknown(self, camera_ids: Iterable[str]) -> list[str]:
        return [c for c in camera_ids if c not in self._entries]

    def select(
        self,
        camera_ids: Sequence[str] | None,
        kecamatan_slug: str | None,
        offline_for: float | None,
    ) -> list[str]:
        """Target ids in inventory order, duplicates removed.

        An explicit list keeps disabled cameras (they are reported as skipped); a
        kecamatan or server-wide selection takes enabled cameras only.
        """
        if camera_ids is not None:
            wanted = set(camera_ids)
            chosen = [c for c in self._entries if c in wanted]
        else:
            chosen = [
                cid
                for cid, e in self._entries.items()
                if e.camera.enabled
                and (kecamatan_slug is None or e.kecamatan.key == kecamatan_slug)
            ]
        if offline_for is not None:
            now = self._clock()
            kept = []
            for cid in chosen:
                cam = self.recorder.camera(cid)
                if (
                    cam is not None
                    and cam.status is CameraStatus.OFFLINE
                    and self.offline_seconds(cam, now) >= offline_for
                ):
                    kept.append(cid)
            chosen = kept
        return chosen

    def _busy(self) -> dict[str, RebootRow]:
        """Cameras with a reboot in flight; taken on the loop, which owns ``_pending``."""
        return {r.camera: r for r in self._pending.rows.values()}

    def _check(self, camera_id: str, force: bool, busy: Mapping[str, RebootRow]) -> _Check:
        """Why ``camera_id`` must be skipped, decided without touching the device."""
        entry: CameraEntry = self._entries[camera_id]
        cam = entry.camera
        if not cam.enabled:
            return _Check(
                camera_id,
                RebootError.DISABLED,
                "disabled in the inventory: the server could not watch it come back",
            )
        if cam.onvif is None:
            return _Check(
                camera_id,
                RebootError.NO_ONVIF,
                "no ONVIF URL in the inventory; add one to reboot this camera remotely",
            )
        running = busy.get(camera_id)
        if running is not None:
            # Not even force: a second SystemReboot would only restart the wait.
            return _Check(
                camera_id,
                RebootError.RECENTLY_REBOOTED,
                f"a reboot of this camera is in progress (job {running.batch}, "
                f"{running.state.value}); wait for it to finish",
            )
        if not force:
            since = datetime.fromtimestamp(self._clock(), UTC) - self.guard
            last = self.log.last_reboot(camera_id, since)
            if last is not None:
                again = last.requested + self.guard
                return _Check(
                    camera_id,
                    RebootError.RECENTLY_REBOOTED,
                    f"rebooted at {_rfc3339(last.requested)} by {last.actor} "
                    f"(job {last.batch}, {last.state.value}); allowed again after "
                    f"{_rfc3339(again)}, or now with force: true",
                )
        return _Check(camera_id)

    # ------------------------------------------------------------------ submitting

    def _row(self, job_id: str, n: int, check: _Check, actor: Actor, reason: str) -> RebootRow:
        now = datetime.fromtimestamp(self._clock(), UTC)
        skipped = check.error is not None
        return RebootRow(
            id=f"{job_id}.{n}",
            camera=check.camera,
            requested=now,
            actor=actor.name,
            reason=reason,
            state=RebootState.SKIPPED if skipped else RebootState.QUEUED,
            batch=job_id,
            error=check.error,
            detail=check.detail,
            finished=now if skipped else None,
        )

    async def reboot_one(
        self, camera_id: str, *, reason: str, force: bool, actor: Actor
    ) -> RebootJob:
        """Start rebooting one camera; :class:`RebootRefused` if it must not be."""
        if camera_id not in self._entries:
            raise KeyError(camera_id)
        async with self._submit_lock:
            check = await asyncio.to_thread(self._check, camera_id, force, self._busy())
            if check.error is not None:
                status = 409 if check.error is RebootError.RECENTLY_REBOOTED else 422
                await asyncio.to_thread(
                    self.audit.record,
                    actor.name,
                    actor.role,
                    REBOOT,
                    target=camera_id,
                    reason=reason,
                    result="refused",
                    detail=f"{check.error.value}: {check.detail}",
                )
                raise RebootRefused(
                    status,
                    f"camera {camera_id!r} was not rebooted: {check.detail}",
                    extra={"error": check.error.value, "camera": camera_id},
                )
            job_id = _new_id()
            row = self._row(job_id, 1, check, actor, reason)
            await asyncio.to_thread(self.log.add, [row])
            await asyncio.to_thread(
                self.audit.record,
                actor.name,
                actor.role,
                REBOOT,
                target=camera_id,
                reason=reason,
                result="accepted",
                detail=f"job {job_id}" + (" (force)" if force else ""),
            )
        self._launch([row], max_parallel=1)
        return self._job([row])

    async def reboot_many(
        self,
        camera_ids: Sequence[str],
        *,
        reason: str,
        force: bool,
        max_parallel: int,
        dry_run: bool,
        actor: Actor,
        selection: str,
    ) -> RebootJob | RebootPlan:
        """Reboot ``camera_ids`` (already selected), or plan it when ``dry_run``.

        Raises :class:`RebootRefused` for more than :data:`BULK_LIMIT` cameras without
        ``force``, or when nothing was selected (not for a dry run, which reports both).
        """
        async with self._submit_lock:
            busy = self._busy()
            checks = await asyncio.to_thread(
                lambda: [self._check(c, force, busy) for c in camera_ids]
            )
            go = [c.camera for c in checks if c.error is None]
            skip = [f"{c.camera} ({c.error.value})" for c in checks if c.error is not None]
            refused: str | None = None
            if len(go) > self.bulk_limit and not force:
                refused = (
                    f"{len(go)} cameras would be rebooted; more than {self.bulk_limit} at once "
                    "needs force: true (rebooting the wrong cameras at once is an outage)"
                )
            summary = f"{len(go)} to reboot" + (f": {_short_list(go)}" if go else "")
            if skip:
                summary += f"; {len(skip)} skipped: {_short_list(skip)}"
            if dry_run:
                now = datetime.fromtimestamp(self._clock(), UTC)
                plan = RebootPlan(
                    targets=[
                        RebootResult(
                            camera=c.camera,
                            kecamatan=self._entries[c.camera].kecamatan.key,
                            state=RebootState.PLANNED if c.error is None else RebootState.SKIPPED,
                            error=c.error,
                            detail=c.detail,
                            requested=now,
                        )
                        for c in checks
                    ],
                    would_reboot=len(go),
                    skipped=len(skip),
                    limit=self.bulk_limit,
                    refused=refused,
                )
                await asyncio.to_thread(
                    self.audit.record,
                    actor.name,
                    actor.role,
                    REBOOT_DRY_RUN,
                    target=selection,
                    reason=reason,
                    result="ok" if refused is None else "would_refuse",
                    detail=summary,
                )
                return plan
            if not checks:
                refused = f"no camera matches {selection}; nothing to reboot"
            if refused is not None:
                await asyncio.to_thread(
                    self.audit.record,
                    actor.name,
                    actor.role,
                    REBOOT_BULK,
                    target=selection,
                    reason=reason,
                    result="refused",
                    detail=f"{refused}; {summary}",
                )
                raise RebootRefused(
                    422, refused, extra={"targets": [c.camera for c in checks], "would_reboot": go}
                )
            job_id = _new_id()
            rows = [self._row(job_id, n, c, actor, reason) for n, c in enumerate(checks, 1)]
            await asyncio.to_thread(self.log.add, rows)
            await asyncio.to_thread(
                self.audit.record,
                actor.name,
                actor.role,
                REBOOT_BULK,
                target=selection,
                reason=reason,
                result="accepted",
                detail=f"job {job_id}, max_parallel {max_parallel}"
                + (", force" if force else "")
                + f": {summary}",
            )
        self._launch([r for r in rows if r.state is RebootState.QUEUED], max_parallel)
        return self._job(rows)

    # ------------------------------------------------------------------ running

    def _launch(self, rows: Sequence[RebootRow], max_parallel: int) -> None:
        if not rows:
            return
        slots = asyncio.Semaphore(max_parallel)
        for row in rows:
            self._pending.rows[row.id] = row
            task = asyncio.create_task(self._run(row, slots), name=f"reboot-{row.id}")
            self._pending.tasks.add(task)
            task.add_done_callback(self._pending.tasks.discard)

    async def _set(
        self,
        row: RebootRow,
        state: RebootState,
        *,
        error: RebootError | None = None,
        detail: str | None = None,
    ) -> RebootRow:
        updated = await asyncio.to_thread(
            self.log.update, row.id, state, error=error, detail=detail
        )
        new = updated or replace(row, state=state, error=error, detail=detail)
        if state.final:
            self._pending.rows.pop(row.id, None)
        else:
            self._pending.rows[row.id] = new
        entry = self._entries.get(row.camera)
        try:
            await asyncio.to_thread(
                self.events.publish,
                JOB_PROGRESS,
                camera=row.camera,
                kecamatan=entry.kecamatan.key if entry is not None else None,
                data={
                    "kind": "reboot",
                    "job": row.batch,
                    "id": row.id,
                    "state": state.value,
                    "error": None if error is None else error.value,
                    "detail": detail,
                },
            )
        except Exception:
            log.exception("reboot %s: could not publish progress", row.id)
        return new

    async def _finish(
        self,
        row: RebootRow,
        state: RebootState,
        error: RebootError | None,
        detail: str,
    ) -> None:
        await self._set(row, state, error=error, detail=detail)
        outcome = "ok" if state is RebootState.BACK_ONLINE else state.value
        await asyncio.to_thread(
            self.audit.record,
            row.actor,
            "admin",
            REBOOT_RESULT,
            target=row.camera,
            reason=row.reason,
            result=outcome,
            detail=f"job {row.batch}: " + (f"{error.value}: " if error else "") + detail,
        )
        level = logging.INFO if state is RebootState.BACK_ONLINE else logging.WARNING
        log.log(level, "reboot %s of camera %s: %s: %s", row.id, row.camera, state, detail)

    async def _run(self, row: RebootRow, slots: asyncio.Semaphore) -> None:
        try:
            async with slots:
                await self._reboot(row)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("reboot %s of camera %s failed unexpectedly", row.id, row.camera)
            if not self._stopping:
                await self._finish(row, RebootState.FAILED, RebootError.ERROR, type(exc).__name__)

    async def _reboot(self, row: RebootRow) -> None:
        entry = self._entries[row.camera]
        row = await self._set(row, RebootState.REBOOTING, detail="sending SystemReboot")
        target = onvif.OnvifTarget(
            camera_id=row.camera,
            url=entry.camera.onvif,
            username=entry.camera.username,
            password=self.inventory.password(row.camera),
        )
        sent = self._clock()
        try:
            message = await onvif.reboot(target, timeout=self.onvif_timeout)
        except onvif.OnvifError as exc:
            await self._finish(
                row, RebootState.FAILED, RebootError(exc.code), self._redact(exc.message)
            )
            return
        said = f"device said: {message}; " if message else ""
        row = await self._set(
            row,
            RebootState.WAITING,
            detail=f"{said}waiting up to {self.reboot_wait:g} s for the stream to return",
        )
        state, error, detail = await self._watch(row.camera, sent)
        await self._finish(row, state, error, detail)

    async def _watch(
        self, camera_id: str, sent: float
    ) -> tuple[RebootState, RebootError | None, str]:
        """Wait for a connection that started after ``sent``, or give up at reboot_wait."""
        deadline = sent + self.reboot_wait
        saw_down = False
        while True:
            stats = self.recorder.stats(camera_id)
            if stats is not None:
                snap = stats.snapshot()
                if not snap.connected or snap.status is CameraStatus.OFFLINE:
                    saw_down = True
                started = snap.connection_started
                if (
                    snap.connected
                    and started is not None
                    and started.timestamp() >= sent
                    and snap.status is not CameraStatus.OFFLINE
                ):
                    took = started.timestamp() - sent
                    return (
                        RebootState.BACK_ONLINE,
                        None,
                        f"stream back {took:.0f} s after SystemReboot "
                        f"({'went dark' if saw_down else 'reconnected'} in between)",
                    )
            if self._clock() >= deadline:
                if saw_down or stats is None:
                    return (
                        RebootState.DID_NOT_RETURN,
                        RebootError.NOT_BACK,
                        f"the stream went down and did not return within {self.reboot_wait:g} s",
                    )
                return (
                    RebootState.DID_NOT_RETURN,
                    RebootError.NOT_SEEN_DOWN,
                    "the device accepted SystemReboot but its stream never dropped in "
                    f"{self.reboot_wait:g} s; it may not have rebooted",
                )
            await asyncio.sleep(POLL_SECONDS)
