"""The ``[server]`` and ``[sim]`` tables: how the recording server and the simulator run."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from cctvctl.config.fields import (
    DEFAULT_FILE_MODE,
    DEFAULT_LISTEN,
    TOKEN_HASH_RE,
    FileMode,
    FilePath,
    FleetDsn,
    FolderPath,
    HostPort,
    Slug,
    StrictModel,
)
from cctvctl.models import Role

#: How far a simulated clock may be set off, either way: ten years, in seconds.
SIM_CLOCK_RANGE = 10 * 366 * 86400


class TokenConfig(StrictModel):
    name: str = Field(min_length=1)
    role: Role = Field(strict=False)
    hash: str

    @field_validator("hash")
    @classmethod
    def _hash_form(cls, value: str) -> str:
        if not TOKEN_HASH_RE.match(value):
            raise ValueError(
                "token hash must look like 'sha256:<64 hex digits>'; "
                "make one with `cctvctl token create`"
            )
        return value


class ServerConfig(StrictModel):
    #: This node's name in a fleet (``cctvctl server --node`` overrides it); unused alone.
    node: Slug | None = None
    listen: HostPort = DEFAULT_LISTEN
    storage: FolderPath = Path("recordings")
    file_mode: FileMode = DEFAULT_FILE_MODE
    segment_seconds: int = Field(default=60, ge=2, le=3600)
    retention_days: float = Field(default=30, gt=0)
    offline_after: float = Field(default=10, gt=0)
    #: Seconds a camera's media time may depart from the wall clock (a timestamp jump, a
    #: drifting clock) before the recorder re-anchors it (recorder/media_clock.py).
    reanchor_seconds: float = Field(default=2, ge=0.5, le=3600)
    thumbnail_seconds: float = Field(default=2, gt=0)
    export_keep_days: float = Field(default=7, gt=0)
    export_max_minutes: float = Field(default=120, gt=0)
    reboot_wait: float = Field(default=180, gt=0)
    # Connection guards (see server/connections.py). A NOC of ~50 consoles, each with an
    # event stream and up to httpx's 20 pooled connections for a grid's thumbnails, needs
    # about 1,100 at once; 2,000 leaves room for scripts and Prometheus and stays far
    # below a 20,000 open-file limit. Keep-alive outlives httpx's own 5 s pool expiry, so
    # a client never reuses a connection the server is just closing.
    header_timeout: float = Field(default=10, gt=0, le=300)
    keep_alive_timeout: int = Field(default=10, ge=1, le=300)
    max_connections: int = Field(default=2000, ge=10, le=100_000)
    # Camera time and identity over ONVIF (devicecheck/): the clock is read at connect and
    # this often, the identity at connect and this often; a clock further off than the
    # tolerance makes the camera degraded. ntp_server is what `cctvctl time sync` pushes
    # when none is named.
    clock_check_minutes: float = Field(default=15, gt=0, le=1440)
    device_info_hours: float = Field(default=24, gt=0, le=24 * 30)
    clock_tolerance_seconds: float = Field(default=5, ge=1, le=3600)
    ntp_server: str | None = Field(
        default=None, min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.:\[\]-]+$"
    )
    secrets: FilePath | None = None
    token: list[TokenConfig] = Field(default_factory=list)

    @property
    def file_mode_bits(self) -> int:
        """Mode of every file the server writes, e.g. 0o640."""
        return int(self.file_mode, 8)

    @property
    def dir_mode_bits(self) -> int:
        """Mode of every folder the server makes: searchable wherever the file is readable."""
        bits = self.file_mode_bits
        return bits | (bits & 0o444) >> 2


class FleetConfig(StrictModel):
    """The ``[fleet]`` table: the PostgreSQL fleet store this node shares with the others.

    Without it a server is a single node (SQLite only), exactly as before the fleet.
    """

    dsn: FleetDsn
    #: How long a camera's lease lasts unrenewed; a node renews at a third of it, and a
    #: failover node takes a dead node's cameras once their leases have run out.
    lease_seconds: float = Field(default=30, ge=5, le=600)


class SimConfig(StrictModel):
    """Simulator settings; only `cctvctl sim` reads them."""

    control: HostPort = "127.0.0.1:8560"
    width: int = Field(default=640, ge=64, le=1920)
    height: int = Field(default=360, ge=64, le=1080)
    fps: int = Field(default=15, ge=1, le=60)
    loop_seconds: float = Field(default=20, ge=2, le=120)
    gop_seconds: float = Field(default=2, gt=0, le=10)
    reboot_seconds: float = Field(default=20, ge=0)
    #: Seconds every simulated camera's clock is ahead of the wall (negative: behind),
    #: unless the camera's ``sim_device`` names its own.
    clock_offset: float = Field(default=0, ge=-SIM_CLOCK_RANGE, le=SIM_CLOCK_RANGE)


class SimDeviceConfig(StrictModel):
    """A camera's ``sim_device`` table: what the simulated device reports about itself.

    Only ``cctvctl sim`` reads it; a real camera reports its own over ONVIF.
    """

    manufacturer: str | None = Field(default=None, min_length=1, max_length=64)
    model: str | None = Field(default=None, min_length=1, max_length=64)
    firmware: str | None = Field(default=None, min_length=1, max_length=64)
    serial: str | None = Field(default=None, min_length=1, max_length=64)
    hardware_id: str | None = Field(default=None, min_length=1, max_length=64)
    clock_offset: float | None = Field(default=None, ge=-SIM_CLOCK_RANGE, le=SIM_CLOCK_RANGE)
