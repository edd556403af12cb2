"""Wire models shared by the server and its clients: the API contract.

Nothing else of cctvctl is imported here, so both sides can depend on it freely.
"""

from __future__ import annotations

import enum
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


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


# --- wire models -------------------------------------------------------------------------
# Times are timezone-aware UTC datetimes; pydantic writes them as RFC 3339.


class Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
    missing_minutes_24h: float
    worst_rtt_ms: float | None


class Health(Wire):
    generated: datetime
    server_version: str
    volumes: list[Volume]
    host: Host
    kecamatan: list[KecamatanSummary]


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

    model_config = ConfigDict(extra="allow")
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
