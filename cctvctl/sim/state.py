"""Per-camera fault state, shared by the RTSP server, the ONVIF service and fault control.

Servers poll :meth:`CameraState.availability` rather than being called back, so a fault is a
plain state change and there is no ordering between components to get wrong.
"""

from __future__ import annotations

import enum
import time
from collections import Counter
from dataclasses import dataclass, field

from cctvctl.sim.device_clock import DeviceClock
from cctvctl.sim.model import SimCamera
from cctvctl.sim.stream_faults import StreamFaults

FAULT_MODES = ("drop", "stall", "flap", "offline", "unauthorized", "not_found", "recover", "clock")


class Availability(enum.Enum):
    UP = "up"
    # The device answers but will not stream: every credential refused (401), or the
    # stream's path unknown (404), as after a password change or a firmware update.
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not_found"
    STALLED = "stalled"  # sockets stay open, nothing is sent or answered
    DARK = "dark"  # sessions closed, new connections refused


@dataclass
class CameraState:
    camera: SimCamera
    fault: str = "none"  # none | stall | flap | offline | unauthorized | not_found | rebooting
    flap_period: float = 10.0
    fault_since: float = field(default_factory=time.monotonic)
    reboot_until: float = 0.0
    # Sessions opened before the latest drop carry an older generation and must close.
    drop_generation: int = 0
    onvif_calls: Counter[str] = field(default_factory=Counter)
    reboots: int = 0
    rtsp_clients: int = 0
    # Frames (access units) queued to RTSP sessions since start, summed over sessions: what a
    # benchmark compares with the frames its recorder wrote to disk. A frame queued to a
    # connection later dropped as a slow reader counts; it was sent, and lost by the client.
    frames_sent: int = 0
    # Frames the simulator skipped because it fell over a second behind (a loaded machine):
    # for a client they are frames the camera never sent.
    frames_skipped: int = 0
    # The camera's own clock (ONVIF Get/SetSystemDateAndTime, SetNTP; the "clock" fault).
    clock: DeviceClock = field(default_factory=DeviceClock)
    # What the stream does wrong while the camera stays reachable (sim.stream_faults).
    stream: StreamFaults = field(default_factory=StreamFaults)

    def availability(self, now: float | None = None) -> Availability:
        now = time.monotonic() if now is None else now
        if self.fault == "rebooting":
            if now < self.reboot_until:
                return Availability.DARK
            self.fault = "none"
        if self.fault == "offline":
            return Availability.DARK
        if self.fault == "stall":
            return Availability.STALLED
        if self.fault == "unauthorized":
            return Availability.UNAUTHORIZED
        if self.fault == "not_found":
            return Availability.NOT_FOUND
        if self.fault == "flap":
            phase = int((now - self.fault_since) / self.flap_period) % 2
            return Availability.UP if phase == 0 else Availability.DARK
        return Availability.UP

    def apply(self, mode: str, period: float | None = None) -> None:
        """Apply a fault-control command (one of :data:`FAULT_MODES`)."""
        if mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {mode!r}; accepted: {', '.join(FAULT_MODES)}")
        if mode == "clock":
            raise ValueError("the clock fault sets an offset: use set_clock_offset")
        now = time.monotonic()
        if mode == "drop":
            self.drop_generation += 1
            return
        if mode == "recover":
            self.fault = "none"
        else:
            self.fault = mode
            if period is not None:
                if period <= 0:
                    raise ValueError("flap period must be a positive number of seconds")
                self.flap_period = period
        self.fault_since = now
        # Open sessions end with the fault, so the client's next attempt meets it.
        self.drop_generation += 1 if mode not in ("stall", "recover") else 0

    def set_clock_offset(self, seconds: float) -> None:
        """The "clock" fault: the camera's clock runs ``seconds`` ahead (negative: behind)."""
        self.clock.offset = seconds
        self.clock.date_time_type = "Manual"

    def reboot(self, seconds: float) -> None:
        self.reboots += 1
        self.fault = "rebooting"
        self.fault_since = time.monotonic()
        self.reboot_until = self.fault_since + seconds
        self.drop_generation += 1

    def snapshot(self) -> dict[str, object]:
        """What fault control reports for this camera."""
        return {
            "id": self.camera.id,
            "fault": self.fault,
            "availability": self.availability().value,
            "rtsp_clients": self.rtsp_clients,
            "frames_sent": self.frames_sent,
            "frames_skipped": self.frames_skipped,
            "reboots": self.reboots,
            "onvif_calls": dict(self.onvif_calls),
            "clock_offset": round(self.clock.offset, 3),
            "clock_type": self.clock.date_time_type,
            "clock_tz": self.clock.tz,
            "stream": self.stream.snapshot(),
        }
