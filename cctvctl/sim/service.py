"""The whole simulator: scene loops, RTSP server, ONVIF services and fault control together."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from cctvctl.sim.control import FaultControl
from cctvctl.sim.model import SimCamera, SimSettings
from cctvctl.sim.state import CameraState

ProgressFn = Callable[[int, int, str], None]
"""Called as (done, total, camera_id) while scene loops are prepared."""


class Simulator:
    """Serves a set of simulated cameras on loopback until stopped."""

    def __init__(self, cameras: list[SimCamera], settings: SimSettings) -> None:
        if not cameras:
            raise ValueError("the simulator needs at least one camera")
        self.cameras = cameras
        self.settings = settings
        self.states = {
            c.id: CameraState(camera=c, flap_period=settings.flap_period) for c in cameras
        }
        self.control = FaultControl(self.states, settings.host, settings.control_port, settings)
        self._stoppers: list[Callable[[], object]] = []

    async def start(self, progress: ProgressFn | None = None) -> None:
        from cctvctl.sim.loop import load_loops
        from cctvctl.sim.onvif import OnvifService
        from cctvctl.sim.rtsp import RtspServer

        loops = await asyncio.to_thread(load_loops, self.cameras, self.settings, progress)
        rtsp = RtspServer(self.cameras, self.states, loops, self.settings)
        onvif = OnvifService(self.cameras, self.states, self.settings, snapshot=rtsp.snapshot_jpeg)
        try:
            await rtsp.start()
            self._stoppers.append(rtsp.stop)
            await onvif.start()
            self._stoppers.append(onvif.stop)
            await self.control.start()
            self._stoppers.append(self.control.stop)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        while self._stoppers:
            result = self._stoppers.pop()()
            if asyncio.iscoroutine(result):
                await result


class SimulatorThread:
    """Runs a :class:`Simulator` on its own event loop in a background thread.

    Used where the caller is synchronous or owns another loop (tests, `cctvctl demo`).
    """

    def __init__(self, cameras: list[SimCamera], settings: SimSettings) -> None:
        self.sim = Simulator(cameras, settings)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sim", daemon=True)

    def start(self, progress: ProgressFn | None = None, timeout: float = 600) -> Simulator:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self.sim.start(progress), self._loop)
        future.result(timeout)
        return self.sim

    def stop(self, timeout: float = 10) -> None:
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self.sim.stop(), self._loop).result(timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        self._loop.close()

    def call(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` on the simulator's loop (state changes must happen there)."""
        self._loop.call_soon_threadsafe(fn)
