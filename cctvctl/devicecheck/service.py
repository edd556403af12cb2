"""Reads every ONVIF camera's clock and identity on a schedule, and keeps what they said.

One asyncio task on the server's event loop (the ONVIF calls are async and mostly wait on
the network). Every ``tick`` it asks each camera that is due (``schedule.is_due``): the
clock at connect and every ``[server] clock_check_minutes`` (15), the identity at connect
and every ``device_info_hours`` (24). At most ``parallel`` cameras are asked at once, so a
kecamatan whose link is down costs time-outs in parallel, not in a row.

A clock off by more than ``clock_tolerance_seconds`` (5) makes the camera ``degraded`` with
the reason "clock off by N s" (``CameraStats.device_problem``); a clock that cannot be read
leaves the last verdict as it was (an unreachable ONVIF port is not a right clock).
Readings are written to ``device_checks`` (migration 5), so a restarted server and an
export's manifest have the last one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Final

from cctvctl.config import Inventory
from cctvctl.devicecheck.readings import clock_problem
from cctvctl.devicecheck.schedule import Attempt, is_due
from cctvctl.devices.clock import ClockReading, read_clock
from cctvctl.devices.onvif import DeviceInfo, OnvifError, OnvifTarget, device_info
from cctvctl.recorder.manager import Recorder
from cctvctl.storage.database import Database
from cctvctl.storage.device_checks import DeviceChecks, DeviceRecord

__all__ = ["DEFAULT_PARALLEL", "DEFAULT_TICK", "DeviceChecker"]

log = logging.getLogger(__name__)

DEFAULT_TICK: Final = 5.0
DEFAULT_PARALLEL: Final = 16
CLOCK_TIMEOUT: Final = 5.0
#: A reading is good to half its round trip. A slower one is taken again, up to
#: CLOCK_SAMPLES in all, and the quickest kept (as NTP filters its samples): a congested
#: link or a busy camera must not make a clock look seconds off.
CLOCK_GOOD_ROUND_TRIP: Final = 1.0
CLOCK_SAMPLES: Final = 3
#: Longest text kept of what a device says about itself: a camera's firmware string is
#: untrusted input, shown in every camera list.
MAX_DEVICE_TEXT: Final = 128
INFO_TIMEOUT: Final = 10.0

ClockReader = Callable[[OnvifTarget], Awaitable[ClockReading]]
InfoReader = Callable[[OnvifTarget], Awaitable[DeviceInfo]]


def _cap(text: str | None) -> str | None:
    return None if text is None else text[:MAX_DEVICE_TEXT]


async def _read_clock(target: OnvifTarget) -> ClockReading:
    best = await read_clock(target, timeout=CLOCK_TIMEOUT)
    for _ in range(CLOCK_SAMPLES - 1):
        if best.round_trip <= CLOCK_GOOD_ROUND_TRIP:
            break
        again = await read_clock(target, timeout=CLOCK_TIMEOUT)
        if again.round_trip < best.round_trip:
            best = again
    return best


async def _read_info(target: OnvifTarget) -> DeviceInfo:
    return await device_info(target, timeout=INFO_TIMEOUT)


class DeviceChecker:
    """The schedule, the readings in memory, and their rows in ``device_checks``."""

    def __init__(
        self,
        inventory: Inventory,
        db: Database,
        recorder: Recorder,
        *,
        redact: Callable[[str], str] = str,
        tick: float = DEFAULT_TICK,
        parallel: int = DEFAULT_PARALLEL,
        clock: Callable[[], float] = time.time,
        read_clock: ClockReader = _read_clock,
        read_info: InfoReader = _read_info,
    ) -> None:
        self.inventory = inventory
        self.store = DeviceChecks(db)
        self.recorder = recorder
        self.redact = redact
        self.tick = tick
        self.clock = clock
        self._read_clock = read_clock
        self._read_info = read_info
        self._slots = asyncio.Semaphore(parallel)
        self._records: dict[str, DeviceRecord] = {}
        self._clock_tries: dict[str, Attempt] = {}
        self._info_tries: dict[str, Attempt] = {}
        self._busy: set[tuple[str, str]] = set()
        self._task: asyncio.Task[None] | None = None

    # -- life cycle ----------------------------------------------------------------------

    async def start(self) -> None:
        self._records = await asyncio.to_thread(self.store.all)
        self._task = asyncio.create_task(self._run(), name="device-check")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def use_inventory(self, inventory: Inventory) -> None:
        """A reload: cameras gone are forgotten in memory (their rows stay for manifests)."""
        self.inventory = inventory
        kept = {e.camera.id for e in inventory.cameras()}
        for tries in (self._clock_tries, self._info_tries):
            for camera_id in [c for c in tries if c not in kept]:
                del tries[camera_id]

    # -- what it knows -------------------------------------------------------------------

    def record(self, camera_id: str) -> DeviceRecord | None:
        return self._records.get(camera_id)

    def target(self, camera_id: str) -> OnvifTarget | None:
        entry = self.inventory.camera(camera_id)
        if entry is None:
            return None
        cam = entry.camera
        return OnvifTarget(cam.id, cam.onvif, cam.username or "", self.inventory.password(cam.id))

    # -- the schedule --------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                await self.check_due()
            except Exception:
                log.exception("device check pass failed; trying again in %g s", self.tick)
            await asyncio.sleep(self.tick)

    def _connected_at(self, camera_id: str) -> float | None:
        stats = self.recorder.stats(camera_id)
        started = None if stats is None else stats.snapshot().connection_started
        return None if started is None else started.timestamp()

    async def check_due(self) -> int:
        """Read every clock and identity that is due; returns how many readings were made."""
        server = self.inventory.server
        now = self.clock()
        work: list[Awaitable[object]] = []
        for entry in self.inventory.cameras():
            cam = entry.camera
            if not cam.enabled or cam.onvif is None:
                continue
            connected = self._connected_at(cam.id)
            clock_every = server.clock_check_minutes * 60
            if (cam.id, "clock") not in self._busy and is_due(
                self._clock_tries.get(cam.id), now, clock_every, connected
            ):
                work.append(self._guarded(cam.id, "clock", self.check_clock(cam.id)))
            info_every = server.device_info_hours * 3600
            if (cam.id, "info") not in self._busy and is_due(
                self._info_tries.get(cam.id), now, info_every, connected
            ):
                work.append(self._guarded(cam.id, "info", self.check_info(cam.id)))
        await asyncio.gather(*work)
        return len(work)

    async def _guarded(self, camera_id: str, kind: str, reading: Awaitable[object]) -> None:
        self._busy.add((camera_id, kind))
        try:
            async with self._slots:
                await reading
        finally:
            self._busy.discard((camera_id, kind))

    # -- readings ------------------------------------------------------------------------

    async def _save(self, record: DeviceRecord) -> None:
        self._records[record.camera] = record
        await asyncio.to_thread(self.store.put, record)

    def _base(self, camera_id: str) -> DeviceRecord:
        return self._records.get(camera_id) or DeviceRecord(camera=camera_id)

    async def check_clock(self, camera_id: str) -> ClockReading | OnvifError:
        """Read one camera's clock now, store it and judge it; the reading or the error."""
        target = self.target(camera_id)
        if target is None:
            return OnvifError("error", f"camera {camera_id!r} is not in the inventory")
        try:
            reading = await self._read_clock(target)
        except OnvifError as exc:
            at = self.clock()
            self._clock_tries[camera_id] = Attempt(at, ok=False)
            error = self.redact(exc.message)
            await self._save(replace(self._base(camera_id), clock_error=error, clock_error_at=at))
            log.info("camera %s: clock not read: %s", camera_id, error)
            return exc
        at = reading.at.timestamp()
        self._clock_tries[camera_id] = Attempt(at, ok=True)
        record = replace(
            self._base(camera_id),
            clock_offset=reading.offset,
            clock_at=at,
            clock_tz=_cap(reading.tz),
            clock_type=_cap(reading.date_time_type),
            clock_error=None,
            clock_error_at=None,
        )
        await self._save(record)
        problem = clock_problem(reading.offset, self.inventory.server.clock_tolerance_seconds)
        stats = self.recorder.stats(camera_id)
        if stats is not None:
            stats.device_problem(problem)
        if problem:
            log.warning("camera %s: %s", camera_id, problem)
        return reading

    async def check_info(self, camera_id: str) -> DeviceInfo | OnvifError:
        """Read one camera's identity now and store it; the reading or the error."""
        target = self.target(camera_id)
        if target is None:
            return OnvifError("error", f"camera {camera_id!r} is not in the inventory")
        try:
            info = await self._read_info(target)
        except OnvifError as exc:
            at = self.clock()
            self._info_tries[camera_id] = Attempt(at, ok=False)
            error = self.redact(exc.message)
            await self._save(replace(self._base(camera_id), info_error=error, info_error_at=at))
            log.info("camera %s: device information not read: %s", camera_id, error)
            return exc
        at = self.clock()
        self._info_tries[camera_id] = Attempt(at, ok=True)
        before = self._records.get(camera_id)
        record = replace(
            self._base(camera_id),
            manufacturer=_cap(info.manufacturer),
            model=_cap(info.model),
            firmware=_cap(info.firmware),
            serial=_cap(info.serial),
            hardware_id=_cap(info.hardware_id),
            info_at=at,
            info_error=None,
            info_error_at=None,
        )
        await self._save(record)
        if before is not None and before.firmware and before.firmware != info.firmware:
            log.info(
                "camera %s: firmware changed from %s to %s",
                camera_id,
                before.firmware,
                info.firmware,
            )
        return info
