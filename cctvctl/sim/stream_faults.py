"""Stream faults: what a real camera's stream does wrong while it stays reachable.

The availability faults (:mod:`cctvctl.sim.state`) make a camera unreachable; these keep it
streaming but change what it sends, as cameras in the field do:

- ``tsjump``: the RTP timestamps jump by a given time (a reboot, an NTP step), forwards or
  backwards, once; frames keep coming at their pace;
- ``resize WxH``: someone changes the resolution; a new SPS/PPS arrives with the next IDR,
  in band (the SDP a client already read is stale);
- ``nosps``: the SDP carries no sprop-parameter-sets; parameter sets travel in band only;
- ``fpslie``: the SDP and the SPS say 25 fps while 12 frames a second are sent, honestly
  timestamped;
- ``drift PPM``: the camera's RTP clock runs fast (positive) or slow against the wall;
- ``rate FPS``: the camera sends FPS frames a second, honestly timestamped, while SDP and SPS
  say what they said (an overloaded encoder, a camera whose rate an installer lowered).

``recover`` ends drift, nosps, fpslie, rate and resize (the original loop returns at the next
keyframe); a timestamp jump that happened stays, as a camera's clock does not jump back by
itself. Variant loops (another size, the 25 fps claim) are encoded and cached like the
camera's own (:func:`cctvctl.sim.loop.load_loop`), so asking twice costs nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from cctvctl.sim.model import SimCamera, SimSettings

if TYPE_CHECKING:
    from cctvctl.sim.loop import Loop

# RTP clock for video (RFC 6184), as sim.loop has it; not imported from there, because fault
# state is loaded by `cctvctl sim fault`, which must not load the encoder's modules.
CLOCK_RATE: Final = 90_000

STREAM_MODES: Final = ("tsjump", "resize", "nosps", "fpslie", "drift", "rate")
FPSLIE_CLAIMED: Final = 25  # what the SDP and the SPS say
FPSLIE_SENT: Final = 12  # what arrives
MAX_JUMP_SECONDS: Final = 7 * 86400.0  # a week either way; more wraps the 32-bit clock often
MAX_DRIFT_PPM: Final = 200_000  # 20 %: real cameras drift tens of ppm; tests want seconds
DEFAULT_JUMP_SECONDS: Final = 3 * 3600.0


class StreamFaultError(ValueError):
    """A stream fault asked for with a value that is not accepted; the text says why."""


@dataclass
class StreamFaults:
    """One camera's stream faults; read by the RTSP ticker, written by fault control.

    Both run on the simulator's event loop, so no lock is needed.
    """

    jumped: int = 0  # 90 kHz ticks added to every RTP timestamp by tsjump (cumulative)
    jumps: int = 0
    drift_ppm: float = 0.0
    drift_since: float = field(default_factory=time.monotonic)
    drifted: int = 0  # ticks gained or lost under earlier drift settings
    nosps: bool = False
    fpslie: bool = False
    size: tuple[int, int] | None = None  # resize; None: the camera's own size
    rate: int | None = None  # frames sent a second; None: the loop's own
    pending: Loop | None = None  # the loop to switch to at the next keyframe
    switches: int = 0  # loops switched to since start (resize, fpslie, recover)
    active: bool = False  # whether the ticker must add anything to the timestamps

    def rtp_offset(self, now: float) -> int:
        """Ticks to add to the honest RTP timestamp of a frame sent at ``now``."""
        drift = self.drifted
        if self.drift_ppm:
            drift += round((now - self.drift_since) * CLOCK_RATE * self.drift_ppm / 1e6)
        return self.jumped + drift

    def jump(self, seconds: float) -> None:
        self.jumped += round(seconds * CLOCK_RATE)
        self.jumps += 1
        self._update_active()

    def drift(self, ppm: float) -> None:
        now = time.monotonic()
        self.drifted = self.rtp_offset(now) - self.jumped
        self.drift_ppm = ppm
        self.drift_since = now
        self._update_active()

    def _update_active(self) -> None:
        self.active = bool(self.jumped or self.drifted or self.drift_ppm)

    def snapshot(self) -> dict[str, object]:
        return {
            "tsjump_seconds": self.jumped / CLOCK_RATE,
            "tsjumps": self.jumps,
            "drift_ppm": self.drift_ppm,
            "drift_seconds": round(self.rtp_offset(time.monotonic()) - self.jumped) / CLOCK_RATE,
            "nosps": self.nosps,
            "fpslie": self.fpslie,
            "size": None if self.size is None else f"{self.size[0]}x{self.size[1]}",
            "rate": self.rate,
            "switch_pending": self.pending is not None,
            "switches": self.switches,
        }


# --- values as fault control receives them -----------------------------------------------


def parse_size(value: object) -> tuple[int, int]:
    """``"WxH"`` -> (W, H); the same bounds as ``cctvctl sim --size``."""
    text = str(value).strip().lower() if isinstance(value, str) else ""
    width, sep, height = text.partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise StreamFaultError(f"size {value!r} is not WIDTHxHEIGHT; accepted e.g. 1280x720")
    w, h = int(width), int(height)
    if not (64 <= w <= 1920 and 64 <= h <= 1080) or w % 2 or h % 2:
        raise StreamFaultError(
            f"size {value!r} is out of range; accepted: even sizes from 64x64 to 1920x1080"
        )
    return w, h


def parse_jump(value: object) -> float:
    if value is None:
        return DEFAULT_JUMP_SECONDS
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StreamFaultError(f"by {value!r} is not a number of seconds (e.g. 10800 or -10800)")
    if value == 0 or abs(value) > MAX_JUMP_SECONDS:
        raise StreamFaultError(
            f"by {value!r} s is not accepted; accepted: non-zero, at most a week either way"
        )
    return float(value)


def parse_rate(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 60:
        raise StreamFaultError(f"fps {value!r} is not accepted; accepted: a whole number 1-60")
    return value


def parse_ppm(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StreamFaultError(f"ppm {value!r} is not a number (e.g. 50 or -50000)")
    if abs(value) > MAX_DRIFT_PPM:
        raise StreamFaultError(
            f"ppm {value!r} is out of range; accepted: -{MAX_DRIFT_PPM} to {MAX_DRIFT_PPM} "
            "(0 ends the drift)"
        )
    return float(value)


# --- loops ------------------------------------------------------------------------------


def retime(loop: Loop, fps: int) -> Loop:
    """The same pictures sent ``fps`` a second, timestamps honest, the SPS untouched."""
    units = tuple(
        dataclasses.replace(u, pts=round(i * CLOCK_RATE / fps)) for i, u in enumerate(loop.units)
    )
    return dataclasses.replace(loop, units=units, duration=round(len(units) * CLOCK_RATE / fps))


def wanted_loop(camera: SimCamera, settings: SimSettings, faults: StreamFaults) -> Loop:
    """The loop the camera should send under its resize and fpslie faults (blocking)."""
    from cctvctl.sim.loop import load_loop

    overrides: dict[str, int] = {}
    if faults.size is not None:
        overrides["width"], overrides["height"] = faults.size
    if faults.fpslie:
        overrides["fps"] = FPSLIE_CLAIMED
    loop = load_loop(camera, dataclasses.replace(settings, **overrides))  # type: ignore[arg-type]
    sent = FPSLIE_SENT if faults.fpslie else faults.rate
    return loop if sent is None else retime(loop, sent)


async def apply(
    faults: StreamFaults,
    camera: SimCamera,
    settings: SimSettings,
    mode: str,
    payload: dict[str, object],
) -> None:
    """Apply one stream fault (or ``recover``); StreamFaultError for a bad value."""
    if mode == "tsjump":
        faults.jump(parse_jump(payload.get("by")))
        return
    if mode == "drift":
        faults.drift(parse_ppm(payload.get("ppm")))
        return
    if mode == "nosps":
        faults.nosps = True
        return
    if mode == "resize":
        size = parse_size(payload.get("size"))
        faults.size = None if size == (settings.width, settings.height) else size
    elif mode == "fpslie":
        faults.fpslie = True
    elif mode == "rate":
        faults.rate = parse_rate(payload.get("fps"))
    elif mode == "recover":
        faults.nosps = False
        if faults.drift_ppm:
            faults.drift(0.0)
        if faults.size is None and not faults.fpslie and faults.rate is None:
            return
        faults.size = None
        faults.fpslie = False
        faults.rate = None
    else:
        raise StreamFaultError(f"{mode!r} is not a stream fault; accepted: {STREAM_MODES}")
    # Encoding a new size takes seconds: off the event loop, which keeps streaming.
    faults.pending = await asyncio.to_thread(wanted_loop, camera, settings, faults)
