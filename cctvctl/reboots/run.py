"""Running a reboot: the ONVIF call, then watching the recorder until the camera is back.

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

Clock, sleep and the ONVIF call are injected, so watching and slots are tested with a
fake clock and a fake device.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import KW_ONLY, dataclass, field, replace
from typing import Final, Protocol

from cctvctl.config import CameraEntry, Inventory
from cctvctl.devices import onvif
from cctvctl.models import CameraStatus, RebootError, RebootState
from cctvctl.reboots.plan import Actor
from cctvctl.recorder.stats import CameraStats
from cctvctl.storage.job_trail import JobTrail
from cctvctl.storage.reboot_log import RebootLog, RebootRow

__all__ = ["POLL_SECONDS", "REBOOT_RESULT", "Outcome", "RebootRunner", "StatsView", "watch"]

log = logging.getLogger(__name__)

#: Seconds between looks at a rebooting camera's stream (the recorder's monitor ticks at 0.5).
POLL_SECONDS: Final = 0.5
#: The audit action of one camera's outcome.
REBOOT_RESULT: Final = "reboot.result"

Outcome = tuple[RebootState, RebootError | None, str]
SendReboot = Callable[[onvif.OnvifTarget, float], Awaitable[str]]


class StatsView(Protocol):
    """A camera's connection as the recorder keeps it."""

    def stats(self, camera_id: str) -> CameraStats | None: ...


def _requester(row: RebootRow) -> Actor:
    # A row keeps only the requester's name: only admins can start a reboot.
    return Actor(row.actor, "admin")


async def _onvif_reboot(target: onvif.OnvifTarget, timeout: float) -> str:
    return await onvif.reboot(target, timeout=timeout)


async def watch(
    stats_of: Callable[[str], CameraStats | None],
    camera_id: str,
    sent: float,
    reboot_wait: float,
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Outcome:
    """Wait for a connection that started after ``sent``, or give up at ``reboot_wait``."""
    deadline = sent + reboot_wait
    saw_down = False
    while True:
        stats = stats_of(camera_id)
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
        if clock() >= deadline:
            if saw_down or stats is None:
                return (
                    RebootState.DID_NOT_RETURN,
                    RebootError.NOT_BACK,
                    f"the stream went down and did not return within {reboot_wait:g} s",
                )
            return (
                RebootState.DID_NOT_RETURN,
                RebootError.NOT_SEEN_DOWN,
                "the device accepted SystemReboot but its stream never dropped in "
                f"{reboot_wait:g} s; it may not have rebooted",
            )
        await sleep(POLL_SECONDS)


@dataclass
class _Pending:
    """In-flight rows, so shutdown can mark exactly those as interrupted."""

    rows: dict[str, RebootRow] = field(default_factory=dict)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


def _as_is(text: str) -> str:
    return text


@dataclass(eq=False)
class RebootRunner:
    """Runs queued rows on the event loop: slots, the ONVIF call, the watch, the outcome."""

    inventory: Inventory
    stats: StatsView
    log: RebootLog
    trail: JobTrail
    _: KW_ONLY
    reboot_wait: float
    onvif_timeout: float = onvif.DEFAULT_TIMEOUT
    redact: Callable[[str], str] = _as_is
    clock: Callable[[], float]
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    send: SendReboot = _onvif_reboot
    stopping: bool = field(init=False, default=False)
    _entries: dict[str, CameraEntry] = field(init=False, repr=False)
    _pending: _Pending = field(init=False, repr=False, default_factory=_Pending)

    def __post_init__(self) -> None:
        self._entries = {e.camera.id: e for e in self.inventory.cameras()}

    def use_inventory(self, inventory: Inventory) -> None:
        """Reboots started from now on use ``inventory``; one in flight keeps its camera."""
        self.inventory = inventory
        self._entries = {e.camera.id: e for e in inventory.cameras()}
        self.reboot_wait = inventory.server.reboot_wait

    def busy(self) -> dict[str, RebootRow]:
        """Cameras with a reboot in flight; taken on the loop, which owns the rows."""
        return {r.camera: r for r in self._pending.rows.values()}

    def launch(self, rows: Sequence[RebootRow], max_parallel: int) -> None:
        """Start a task per row; at most ``max_parallel`` of them hold a camera down."""
        if not rows:
            return
        slots = asyncio.Semaphore(max_parallel)
        for row in rows:
            self._pending.rows[row.id] = row
            task = asyncio.create_task(self._run(row, slots), name=f"reboot-{row.id}")
            self._pending.tasks.add(task)
            task.add_done_callback(self._pending.tasks.discard)

    async def wait(self) -> None:
        """Until every launched row has finished (for tests and shutdown)."""
        while self._pending.tasks:
            await asyncio.gather(*list(self._pending.tasks), return_exceptions=True)

    async def stop(self) -> list[RebootRow]:
        """Cancel the watches; returns the rows that were still in flight."""
        self.stopping = True
        tasks = list(self._pending.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        rows = list(self._pending.rows.values())
        self._pending.rows.clear()
        return rows

    def interrupt(self, rows: Iterable[RebootRow], why: str) -> None:
        """Close out rows nobody watches any more (blocking)."""
        for row in rows:
            detail = f"{why} while this reboot was {row.state.value}; check the camera"
            self.log.update(row.id, RebootState.INTERRUPTED, detail=detail)
            self.trail.audit(
                _requester(row),
                REBOOT_RESULT,
                target=row.camera,
                reason=row.reason,
                result=RebootState.INTERRUPTED.value,
                detail=f"job {row.batch}: {detail}",
            )

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
        data = {
            "id": row.id,
            "state": state.value,
            "error": None if error is None else error.value,
            "detail": detail,
        }
        try:
            await asyncio.to_thread(self.trail.progress, row.batch, row.camera, data)
        except Exception:
            log.exception("reboot %s: could not publish progress", row.id)
        return new

    async def _finish(
        self, row: RebootRow, state: RebootState, error: RebootError | None, detail: str
    ) -> None:
        await self._set(row, state, error=error, detail=detail)
        outcome = "ok" if state is RebootState.BACK_ONLINE else state.value
        await self.trail.audit_off_loop(
            _requester(row),
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
            if not self.stopping:
                await self._finish(row, RebootState.FAILED, RebootError.ERROR, type(exc).__name__)

    async def _reboot(self, row: RebootRow) -> None:
        entry = self._entries[row.camera]
        row = await self._set(row, RebootState.REBOOTING, detail="sending SystemReboot")
        target = onvif.OnvifTarget(
            camera_id=row.camera,
            url=entry.camera.onvif,
            username=entry.camera.username or "",
            password=self.inventory.password(row.camera),
        )
        sent = self.clock()
        try:
            message = await self.send(target, self.onvif_timeout)
        except onvif.OnvifError as exc:
            await self._finish(
                row, RebootState.FAILED, RebootError(exc.code), self.redact(exc.message)
            )
            return
        said = f"device said: {message}; " if message else ""
        row = await self._set(
            row,
            RebootState.WAITING,
            detail=f"{said}waiting up to {self.reboot_wait:g} s for the stream to return",
        )
        state, error, detail = await watch(
            self.stats.stats,
            row.camera,
            sent,
            self.reboot_wait,
            clock=self.clock,
            sleep=self.sleep,
        )
        await self._finish(row, state, error, detail)
