"""Cameras, sites, footage, health and events: what the NOC reads about its network."""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Final, TypedDict

from pydantic import (
    ConfigDict,
    Field,
)

from cctvctl.models.devices import CameraClock, CameraDevice
from cctvctl.models.wire import Wire


class SiteKind(enum.StrEnum):
    """What kind of place a site is; the NOC groups and prioritises by it."""

    KANTOR_KECAMATAN = "kantor_kecamatan"
    KANTOR_DESA = "kantor_desa"
    KELURAHAN = "kelurahan"
    PUSKESMAS = "puskesmas"
    SEKOLAH = "sekolah"
    POS_RT = "pos_rt"
    FASILITAS_UMUM = "fasilitas_umum"


class Role(enum.StrEnum):
    """API roles, ordered: each one may do everything the ones before it may."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


class CameraStatus(enum.StrEnum):
    ONLINE = "online"
    DEGRADED = "degraded"
    OFFLINE = "offline"
    DISABLED = "disabled"


class OfflineCause(enum.StrEnum):
    """Why a camera is not delivering, in terms an operator can act on.

    The recorder derives it from libav's error (``Camera.last_error`` keeps that text for
    the detail view): "InvalidDataError: Invalid data found when processing input" says
    nothing at 02:00, "no answer" says go and look at the camera or its switch.
    """

    REFUSED = "refused"  # nothing listens on the RTSP port
    NO_ANSWER = "no_answer"  # took no connection, or took it and never answered
    STALLED = "stalled"  # connected, then packets stopped
    AUTH_FAILED = "auth_failed"  # the camera refused the credentials (401)
    NOT_FOUND = "not_found"  # no stream at the inventory's path (404)
    ENDED = "ended"  # the camera closed a stream it was sending
    OTHER = "other"  # anything else: last_error says what

    @property
    def label(self) -> str:
        return _CAUSE_LABELS[self]


_CAUSE_LABELS: Final = {
    OfflineCause.REFUSED: "connection refused",
    OfflineCause.NO_ANSWER: "timed out (no answer)",
    OfflineCause.STALLED: "stalled (connected, no packets)",
    OfflineCause.AUTH_FAILED: "authentication failed",
    OfflineCause.NOT_FOUND: "not found (404)",
    OfflineCause.ENDED: "stream ended",
    OfflineCause.OTHER: "stream error",
}

#: Status changes within :data:`FLAP_WINDOW_SECONDS` that make a camera ``FLAP``: three
#: outages and their recoveries in ten minutes.
FLAP_CHANGES: Final = 6
FLAP_WINDOW_SECONDS: Final = 600.0


class Camera(Wire):
    """A camera as the NOC sees it: where it is and how it is doing right now."""

    id: str
    name: str
    kecamatan: str
    kecamatan_slug: str
    site: str
    site_kind: SiteKind
    enabled: bool
    has_onvif: bool
    status: CameraStatus
    status_since: datetime | None = None
    last_packet: datetime | None = None
    fps: float = 0.0
    expected_fps: float | None = None
    kbps: float = 0.0
    reconnects_1h: int = 0
    rtt_ms: float | None = None
    recording: bool = False
    missing_seconds_24h: float = 0.0
    last_error: str | None = None
    last_error_at: datetime | None = None  # when last_error happened
    cause: OfflineCause | None = Field(
        None, description="why the camera is not delivering (last_error in an operator's words)"
    )
    changes_10m: int = Field(
        0, description="times the stream went down or came back in the last 10 minutes"
    )
    flapping: bool = Field(
        False, description=f"changes_10m is at least {FLAP_CHANGES}: the camera is flapping"
    )
    clock: CameraClock | None = Field(
        None, description="the camera's clock as last read over ONVIF (None: never read)"
    )
    device: CameraDevice | None = Field(
        None, description="the camera's identity over ONVIF (None: never read)"
    )


class Segment(Wire):
    start: datetime
    end: datetime
    bytes: int
    frames: int | None = None


class Gap(Wire):
    start: datetime
    end: datetime
    seconds: float


class Recordings(Wire):
    """Footage for one camera over a window: what exists and what is missing."""

    camera: str
    start: datetime
    end: datetime
    segments: list[Segment]
    gaps: list[Gap]
    recorded_seconds: float
    missing_seconds: float


class Volume(Wire):
    path: str
    total_bytes: int
    used_bytes: int
    free_bytes: int
    reserve_bytes: int
    write_bps: float
    days_to_full: float | None = Field(None, description="None when the volume is not filling")


class Nic(Wire):
    name: str
    rx_bps: float
    tx_bps: float


class Host(Wire):
    hostname: str
    cpu_percent: float
    memory_percent: float
    load: tuple[float, float, float]
    uptime_seconds: float
    nics: list[Nic]


class StatusCounts(TypedDict):
    """How many of some cameras are in each state, under the names the summaries use."""

    cameras_total: int
    online: int
    degraded: int
    offline: int
    disabled: int


def status_counts(cameras: Iterable[Camera]) -> StatusCounts:
    counts = Counter(c.status for c in cameras)
    return StatusCounts(
        cameras_total=counts.total(),
        online=counts[CameraStatus.ONLINE],
        degraded=counts[CameraStatus.DEGRADED],
        offline=counts[CameraStatus.OFFLINE],
        disabled=counts[CameraStatus.DISABLED],
    )


class KecamatanSummary(Wire):
    slug: str
    name: str
    cameras_total: int
    online: int
    degraded: int
    offline: int
    disabled: int
    inbound_kbps: float
    bytes_stored: int
    quota_bytes: int | None
    write_bps: float
    days_to_full: float | None
    missing_minutes_24h: float = Field(
        description="camera-minutes: footage missing in 24 h, summed over the cameras"
    )
    worst_missing_seconds_24h: float = Field(
        0.0, description="footage missing in 24 h on the kecamatan's worst camera"
    )
    worst_rtt_ms: float | None


class Health(Wire):
    generated: datetime
    server_version: str
    volumes: list[Volume]
    host: Host
    kecamatan: list[KecamatanSummary]


class ReloadResult(Wire):
    """What a reload of the server's inventory file changed (``POST /api/v1/server/reload``)."""

    file: str = Field(description="the inventory file the server was started with")
    cameras: int = Field(description="cameras in the inventory now")
    cameras_added: list[str] = Field(description="recording within seconds")
    cameras_removed: list[str] = Field(description="stopped; their footage is kept")
    cameras_reconnected: list[str] = Field(
        description="URL, user, password, enabled or kecamatan changed"
    )
    cameras_updated: list[str] = Field(description="name, site, fps or ONVIF: not reconnected")
    tokens_added: list[str]
    tokens_removed: list[str]
    settings_applied: list[str] = Field(description="[server] keys in effect now")
    needs_restart: list[str] = Field(
        description="[server] keys changed in the file that only a restart applies; "
        "their running values are kept until then"
    )
    changes: list[str] = Field(description="the above as lines for people, as the log has them")


class Identity(Wire):
    """Who the presented token is: lets a console grey out what the role may not do."""

    name: str
    role: Role


class Event(Wire):
    """One server-sent event: camera status change, disk-guard deletion, job progress."""

    id: int
    time: datetime
    type: str  # camera.status | storage.deleted | job.progress | ...
    camera: str | None = None
    kecamatan: str | None = None
    data: dict[str, object] = Field(default_factory=dict)


class Problem(Wire):
    """RFC 9457 problem details; every 4xx and 5xx body has this shape."""

    model_config = ConfigDict(extra="allow", defer_build=True)
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
