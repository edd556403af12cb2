"""The ``[server]`` and ``[sim]`` tables: how the recording server and the simulator run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from cctvctl.config.fields import (
    DEFAULT_FILE_MODE,
    DEFAULT_LISTEN,
    TOKEN_HASH_RE,
    ArchiveEndpoint,
    Bucket,
    EnvName,
    FileMode,
    FilePath,
    FleetDsn,
    FolderPath,
    HostPort,
    Slug,
    StrictModel,
    UploadWindow,
    parse_upload_window,
)
from cctvctl.models import Role

#: How far a simulated clock may be set off, either way: ten years, in seconds.
SIM_CLOCK_RANGE = 10 * 366 * 86400
#: How the recorder reaches a camera: interleaved on the RTSP connection, RTP over UDP, or
#: TCP first and UDP when TCP fails (cameras that only speak UDP).
RecorderTransport = Literal["tcp", "udp", "auto"]
#: What the recorder does with a camera's sound: drop it (the default: the network's aim is
#: public order, not listening to people) or keep it (AAC as sent, G.711 converted to AAC).
AudioHandling = Literal["drop", "keep"]
#: Processes that read the cameras' streams: "auto" is one per 250 enabled cameras (one
#: interpreter lock serves about that many: recorder/ingest_pool.py); 1 reads them in the
#: server process itself.
IngestProcesses = Literal["auto"] | int
MAX_INGEST_PROCESSES = 64
#: What a simulated camera sends and how it is reached (``[sim]`` defaults, per camera too).
SimCodec = Literal["h264", "h265"]
SimAudio = Literal["none", "pcma", "pcmu", "aac"]
SimTransport = Literal["tcp", "udp", "both"]
SimAuth = Literal["digest", "basic"]


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
    ingest_processes: IngestProcesses = "auto"
    #: What one process reads well ("auto" starts one per this many enabled cameras, and
    #: another when a reload passes a multiple): 250 on the 2-core machine it was measured
    #: on (benchmarks/README.md); a faster or slower CPU may say otherwise.
    cameras_per_process: int = Field(default=250, ge=1, le=100_000)
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
    #: Defaults for every camera; a site or a camera may say otherwise.
    transport: RecorderTransport = "tcp"
    audio: AudioHandling = "drop"

    @field_validator("ingest_processes", mode="before")
    @classmethod
    def _processes(cls, value: object) -> object:
        if value == "auto" or (
            type(value) is int and 1 <= value <= MAX_INGEST_PROCESSES  # not True, not 2.0
        ):
            return value
        raise ValueError(
            f'{json.dumps(value, default=str)} is not accepted; accepted: "auto" (one '
            f"per cameras_per_process cameras, 250 unless set) or a whole number from 1 "
            f"to {MAX_INGEST_PROCESSES}"
        )

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


class ArchiveConfig(StrictModel):
    """The ``[archive]`` table: the S3-compatible store that footage moves to, and the
    evidence vault beside it.

    Without it a node keeps its footage on its own disk only, exactly as before. The keys
    never stand here: they come from the environment variables named below, or from the
    ``[archive]`` table of the secrets file.
    """

    endpoint: ArchiveEndpoint
    bucket: Bucket
    region: str = Field(default="us-east-1", min_length=1, max_length=64)
    access_key_env: EnvName = "CCTVCTL_ARCHIVE_ACCESS_KEY"
    secret_key_env: EnvName = "CCTVCTL_ARCHIVE_SECRET_KEY"  # noqa: S105 (a name, not a key)
    #: Seconds after a segment closes before it is uploaded (0: at once).
    archive_after: float = Field(default=0, ge=0, le=30 * 86400)
    #: Days a local copy stays once the archive holds it; None: until the usual retention.
    local_days: float | None = Field(default=None, gt=0)
    #: Days the archive keeps footage (cctvctl deletes older objects; a lifecycle rule may too).
    archive_days: float = Field(default=30, gt=0)
    #: Upload cap in kilobits per second for the node's whole link; 0: no cap.
    upload_kbps: int = Field(default=0, ge=0)
    #: When uploads may run, "HH:MM-HH:MM" in WITA (may run over midnight); None: always.
    upload_window: UploadWindow | None = None
    evidence_bucket: Bucket | None = None
    evidence_days: int = Field(default=365, ge=1, le=36500)
    evidence_mode: Literal["compliance", "governance"] = "compliance"

    @property
    def window_minutes(self) -> tuple[int, int] | None:
        """The upload window as minutes of the WITA day (start, end exclusive), or None."""
        return None if self.upload_window is None else parse_upload_window(self.upload_window)


class SimConfig(StrictModel):
    """Simulator settings; only `cctvctl sim` reads them."""

    control: HostPort = "127.0.0.1:8560"
    width: int = Field(default=640, ge=64, le=1920)
    height: int = Field(default=360, ge=64, le=1080)
    fps: int = Field(default=15, ge=1, le=60)
    #: Two GOPs of motion: every loop is encoded before the simulator serves, and a cold
    #: start of a network of H.265 cameras (x265 costs about 3.6x x264) waits for them all.
    loop_seconds: float = Field(default=4, ge=2, le=120)
    gop_seconds: float = Field(default=2, gt=0, le=10)
    reboot_seconds: float = Field(default=20, ge=0)
    #: Seconds every simulated camera's clock is ahead of the wall (negative: behind),
    #: unless the camera's ``sim_device`` names its own.
    clock_offset: float = Field(default=0, ge=-SIM_CLOCK_RANGE, le=SIM_CLOCK_RANGE)
    codec: SimCodec = "h264"
    audio: SimAudio = "none"
    transport: SimTransport = "tcp"
    auth: SimAuth = "digest"
    #: "camera": each camera draws its own scene (its id, its colours) and has it encoded;
    #: "shared": the cameras of one codec share one loop, one encode (large sites, benchmarks).
    scenes: Literal["camera", "shared"] = "camera"


class CameraSimConfig(StrictModel):
    """A camera's own ``sim`` table: what the simulator does for it beyond ``[sim]``."""

    codec: SimCodec | None = None
    audio: SimAudio | None = None
    transport: SimTransport | None = None
    auth: SimAuth | None = None


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
