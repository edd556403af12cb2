"""Plain data the simulator runs on.

The simulator stands alone: the CLI turns the site inventory into these objects, so nothing in
``cctvctl.sim`` imports the rest of the package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cctvctl.sim.device_clock import DeviceIdentity


def default_cache_dir() -> Path:
    import os

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cctvctl" / "sim"


@dataclass(frozen=True)
class SimCamera:
    """One simulated camera, as the inventory describes it."""

    id: str
    name: str
    kecamatan: str
    site: str
    rtsp_port: int
    path: str  # RTSP path, with leading slash, e.g. "/sgu-camat-01"
    username: str
    password: str
    onvif_port: int | None = None
    #: Seconds the camera's clock is ahead of the wall (negative: behind); None: [sim]'s.
    clock_offset: float | None = None
    #: What GetDeviceInformation answers.
    device: DeviceIdentity = field(default_factory=DeviceIdentity)
    # None: SimSettings' default. codec h264|h265, audio none|pcma|pcmu|aac,
    # transport tcp|udp|both, auth digest|basic (see media_of).
    codec: str | None = None
    audio: str | None = None
    transport: str | None = None
    auth: str | None = None


@dataclass(frozen=True)
class SimSettings:
    """How the simulator serves its cameras."""

    host: str = "127.0.0.1"
    control_port: int = 8560
    width: int = 640
    height: int = 360
    fps: int = 15
    loop_seconds: float = 4.0  # as [sim]'s default: short, since a cold start encodes them all
    gop_seconds: float = 2.0
    reboot_seconds: float = 20.0
    flap_period: float = 10.0
    cache_dir: Path = field(default_factory=default_cache_dir)
    #: Clock offset of every camera that names none (seconds ahead of the wall).
    clock_offset: float = 0.0
    # Defaults for cameras that do not say (SimCamera's fields of the same names).
    codec: str = "h264"
    audio: str = "none"
    transport: str = "tcp"
    auth: str = "digest"
    #: "camera": every camera draws (and encodes) its own scene; "shared": the cameras of
    #: one codec send one shared loop, so a large site starts and runs on one encode a codec.
    scenes: str = "camera"


@dataclass(frozen=True)
class SimMedia:
    """What one camera sends and how it is reached, its own choices over the defaults."""

    codec: str
    audio: str
    transport: str
    auth: str


def media_of(camera: SimCamera, settings: SimSettings) -> SimMedia:
    return SimMedia(
        codec=camera.codec or settings.codec,
        audio=camera.audio or settings.audio,
        transport=camera.transport or settings.transport,
        auth=camera.auth or settings.auth,
    )
