"""The reboot service the API server runs: requests in, jobs out, every step on record.

A job is one or more cameras, each with its own result. Per camera::

    queued -> rebooting -> waiting -> back_online | did_not_return
                        \\-> failed (unreachable, not_authorized, timeout, error)
    skipped (recently_rebooted, no_onvif, disabled) is decided before anything is sent.
    interrupted: the server stopped while the reboot was in flight.

:mod:`~cctvctl.reboots.plan` decides what may be rebooted, :mod:`~cctvctl.reboots.run`
does it. Every request (single, bulk, dry run, refusal) and every camera's outcome is
written to the audit log, and every state change is a ``job.progress`` event with
``kind: reboot``, both through one :class:`~cctvctl.storage.job_trail.JobTrail`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Final, Protocol

from cctvctl.config import Inventory
from cctvctl.devices import onvif
from cctvctl.models import RebootError, RebootJob, RebootPlan, RebootResult, RebootState
from cctvctl.reboots.plan import (
    BULK_LIMIT,
    GUARD,
    Actor,
    Check,
    RebootPlanner,
    RebootRefused,
    StatusView,
)
from cctvctl.reboots.run import RebootRunner, StatsView
from cctvctl.storage.audit import AuditLog
from cctvctl.storage.database import Database
from cctvctl.storage.events import EventPublisher
from cctvctl.storage.job_ids import new_job_id
from cctvctl.storage.job_trail import JobTrail
from cctvctl.storage.reboot_log import RebootLog, RebootRow

__all__ = ["REBOOT", "REBOOT_BULK", "REBOOT_DRY_RUN", "RebootManager", "StreamWatch"]

log = logging.getLogger(__name__)

# Audit actions (and run.REBOOT_RESULT for each camera's outcome).
REBOOT: Final = "reboot"
REBOOT_BULK: Final = "reboot.bulk"
REBOOT_DRY_RUN: Final = "reboot.dry_run"


class StreamWatch(StatusView, StatsView, Protocol):
    """What the service needs of the recorder: a camera's live view and its connection."""


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
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.inventory = inventory
        self.log = RebootLog(index, clock=clock)
        self.planner = RebootPlanner(
            inventory, recorder, self.log, guard=guard, bulk_limit=bulk_limit, clock=clock
        )
        self.trail = JobTrail(
            "reboot", AuditLog(index, clock=clock), events, self.planner.kecamatan_of
        )
        self.runner = RebootRunner(
            inventory,
            recorder,
            self.log,
            self.trail,
            reboot_wait=inventory.server.reboot_wait if reboot_wait is None else reboot_wait,
            onvif_timeout=onvif_timeout,
            redact=redact,
            clock=clock,
            sleep=sleep,
        )
        self._clock = clock
        # Held from the guard check to the insert, so two requests cannot both pass the
        # guard for the same camera.
        self._submit_lock = asyncio.Lock()

    # ------------------------------------------------------------------ life cycle

    def use_inventory(self, inventory: Inventory) -> None:
        """A reload: later plans and reboots see ``inventory``'s cameras and wait."""
        self.inventory = inventory
        self.planner.use_inventory(inventory)
        self.runner.use_inventory(inventory)

    async def start(self) -> None:
        """Close out rows a crash left in flight: nobody is watching those cameras now."""
        leftovers = await asyncio.to_thread(self.log.unfinished)
        if leftovers:
            await asyncio.to_thread(self.runner.interrupt, leftovers, "the server restarted")
            log.warning("%d reboot(s) were in flight at the last shutdown", len(leftovers))

    async def stop(self) -> None:
        """Stop watching; in-flight cameras are recorded as interrupted."""
        rows = await self.runner.stop()
        if rows:
            self.runner.interrupt(rows, "the server stopped")

    # ------------------------------------------------------------------ reading

    def _result(self, row: RebootRow) -> RebootResult:
        return RebootResult(
            id=row.id,
            camera=row.camera,
            kecamatan=self.planner.kecamatan_of(row.camera),
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

    # ------------------------------------------------------------------ submitting

    def _new_id(self) -> str:
        # Under the submit lock, so no other job takes the same first 8 characters.
        return new_job_id("rb-", 10, self.log.short_id_taken)

    def _row(self, job_id: str, n: int, check: Check, actor: Actor, reason: str) -> RebootRow:
        now = self.planner.now()
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
        if camera_id not in self.planner.entries:
            raise KeyError(camera_id)
        async with self._submit_lock:
            busy = self.runner.busy()
            check = await asyncio.to_thread(self.planner.check, camera_id, force, busy)
            if check.error is not None:
                status = 409 if check.error is RebootError.RECENTLY_REBOOTED else 422
                await self.trail.audit_off_loop(
                    actor,
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
            job_id = self._new_id()
            row = self._row(job_id, 1, check, actor, reason)
            await asyncio.to_thread(self.log.add, [row])
            await self.trail.audit_off_loop(
                actor,
                REBOOT,
                target=camera_id,
                reason=reason,
                result="accepted",
                detail=f"job {job_id}" + (" (force)" if force else ""),
            )
        self.runner.launch([row], max_parallel=1)
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

        Raises :class:`RebootRefused` for more than the bulk limit without ``force``, or
        when nothing was selected (not for a dry run, which reports both).
        """
        async with self._submit_lock:
            busy = self.runner.busy()
            verdict = await asyncio.to_thread(self.planner.bulk, camera_ids, force, busy)
            refused = verdict.refused
            if dry_run:
                await self.trail.audit_off_loop(
                    actor,
                    REBOOT_DRY_RUN,
                    target=selection,
                    reason=reason,
                    result="ok" if refused is None else "would_refuse",
                    detail=verdict.summary,
                )
                return self.planner.dry_run(verdict)
            if not verdict.checks:
                refused = f"no camera matches {selection}; nothing to reboot"
            if refused is not None:
                await self.trail.audit_off_loop(
                    actor,
                    REBOOT_BULK,
                    target=selection,
                    reason=reason,
                    result="refused",
                    detail=f"{refused}; {verdict.summary}",
                )
                raise RebootRefused(
                    422,
                    refused,
                    extra={
                        "targets": [c.camera for c in verdict.checks],
                        "would_reboot": verdict.go,
                    },
                )
            job_id = self._new_id()
            rows = [self._row(job_id, n, c, actor, reason) for n, c in enumerate(verdict.checks, 1)]
            await asyncio.to_thread(self.log.add, rows)
            await self.trail.audit_off_loop(
                actor,
                REBOOT_BULK,
                target=selection,
                reason=reason,
                result="accepted",
                detail=f"job {job_id}, max_parallel {max_parallel}"
                + (", force" if force else "")
                + f": {verdict.summary}",
            )
        self.runner.launch([r for r in rows if r.state is RebootState.QUEUED], max_parallel)
        return self._job(rows)
