"""Wire models shared by the server and its clients: the API contract.

Nothing else of cctvctl is imported here, so both sides can depend on it freely.
"""

from __future__ import annotations

import enum
import re
from datetime import datetime
from typing import Annotated, Final

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
)

#: C0 controls (tab and newline included), DEL, C1 controls, and the Unicode line and
#: paragraph separators. Nobody types these into a one-line field on purpose, and stored
#: verbatim they reach an admin's terminal later as escape sequences.
CONTROL_CHARACTERS: Final = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")

ONE_LINE_ACCEPTED: Final = (
    "accepted: printable text on one line (no tabs, newlines or other control characters)"
)


def _refuse_control_characters(value: str) -> str:
    found = CONTROL_CHARACTERS.search(value)
    if found is not None:
        raise ValueError(
            f"contains the control character U+{ord(found.group()):04X} at position "
            f"{found.start() + 1}; {ONE_LINE_ACCEPTED}"
        )
    return value


def _refuse_control_characters_in_text(value: object) -> object:
    return _refuse_control_characters(value) if isinstance(value, str) else value


#: A free-text field a person types on one line: a name, a case number, a reason. The
#: pattern only documents the rule in the OpenAPI schema (for clients and schema-driven
#: fuzzers); the validator enforces it with a message that names the character.
OneLine = Annotated[
    str,
    AfterValidator(_refuse_control_characters),
    Field(json_schema_extra={"pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029]*$"}),
]


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


# --- wire models -------------------------------------------------------------------------
# Times are timezone-aware UTC datetimes; pydantic writes them as RFC 3339.


class Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


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


# --- audit and exports -------------------------------------------------------------------


class AuditEntry(Wire):
    """One audited action: who did what to which target, and how it ended."""

    id: int
    time: datetime
    actor: str = Field(description="name of the API token that acted")
    role: str
    action: str = Field(description="e.g. export.request, export.download, reboot")
    target: str | None = None
    reason: str | None = None
    case_id: str | None = None
    result: str = Field(description="ok, accepted, refused, failed, ...")
    detail: str | None = None


class ExportState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # done once, files removed after export_keep_days
    DELETED = "deleted"  # done once, files removed on request

    @property
    def final(self) -> bool:
        return self not in (ExportState.QUEUED, ExportState.RUNNING)


class ExportRequest(Wire):
    """Body of ``POST /api/v1/exports``: one camera over one window."""

    camera: OneLine = Field(min_length=1, max_length=200)
    start: AwareDatetime
    end: AwareDatetime
    case_id: OneLine | None = Field(None, max_length=200, description="e.g. LP/123/XI/2026")
    note: OneLine | None = Field(None, max_length=2000)


class ExportWait(Wire):
    """Why a running export copies nothing yet: the segment holding its end is still open.

    Only closed segments are copied, so a window ending "now" waits for the camera's open
    segment to roll, at most ``segment_seconds`` (and a margin for a long GOP).
    """

    holds: datetime = Field(description="the time in the window the open segment holds")
    open_since: datetime = Field(description="start of the open segment")
    expected_close: datetime = Field(description="when it should close: start + segment length")
    segment_seconds: float = Field(description="the segment length, which bounds the wait")


class ExportJob(Wire):
    """An export job and, once done, what it produced."""

    id: str
    camera: str
    start: datetime
    end: datetime
    case_id: str | None = None
    note: str | None = None
    requester: str
    state: ExportState
    created: datetime
    started: datetime | None = None
    finished: datetime | None = None
    attempts: int = 0
    percent: float = 0.0
    bytes_done: int = Field(0, description="source bytes read so far")
    bytes_total: int = Field(0, description="source bytes to read")
    eta_seconds: float | None = None
    first_frame: datetime | None = None
    last_frame: datetime | None = None
    gaps: list[Gap] = Field(
        default_factory=list,
        description="missing footage in the window: from the index while queued, "
        "measured from the clip's frames once done",
    )
    size: int | None = Field(None, description="clip size in bytes, once done")
    sha256: str | None = None
    expires: datetime | None = None
    error: str | None = None
    waiting: ExportWait | None = Field(
        None, description="set while a running job waits for an open segment to close"
    )


class ExportManifest(Wire):
    """The JSON written next to an exported clip: what it holds and where it came from."""

    manifest_version: int = 1
    job: str
    file: str
    camera: str
    camera_name: str
    kecamatan: str
    site: str
    requested_start: datetime
    requested_end: datetime
    first_frame: datetime
    last_frame: datetime = Field(description="start time of the last frame in the clip")
    timeline: str = Field(
        description="how clip time maps to wall time: clip time 0 is first_frame and "
        "gaps are kept as gaps in the timestamps"
    )
    gaps: list[Gap]
    missing_seconds: float
    frames: int
    codec: str
    sha256: str
    size: int
    sources: list[str] = Field(description="segment files read, relative to the storage root")
    requester: str
    case_id: str | None = None
    note: str | None = None
    created: datetime
    finished: datetime
    server_version: str


# --- reboots -----------------------------------------------------------------------------


class RebootState(enum.StrEnum):
    """Where one camera's reboot is; the last five are final."""

    QUEUED = "queued"  # accepted, waiting for a free slot (max_parallel)
    REBOOTING = "rebooting"  # SystemReboot is being sent
    WAITING = "waiting"  # the device accepted; watching for the stream to come back
    BACK_ONLINE = "back_online"  # the stream dropped and a new connection is receiving
    DID_NOT_RETURN = "did_not_return"  # not back (or never dropped) within reboot_wait
    FAILED = "failed"  # the command did not get through; see `error`
    SKIPPED = "skipped"  # not attempted: recently rebooted, no ONVIF URL, disabled
    INTERRUPTED = "interrupted"  # the server stopped while this reboot was in flight
    PLANNED = "planned"  # dry run only: would be rebooted

    @property
    def final(self) -> bool:
        return self not in (RebootState.QUEUED, RebootState.REBOOTING, RebootState.WAITING)


class RebootError(enum.StrEnum):
    """Why one camera was not (or not provably) rebooted."""

    UNREACHABLE = "unreachable"  # no connection to the ONVIF service
    NOT_AUTHORIZED = "not_authorized"  # the device refused our credentials
    NO_ONVIF = "no_onvif"  # the inventory has no ONVIF URL for the camera
    TIMEOUT = "timeout"  # connected but no answer in time
    ERROR = "error"  # anything else the device reported
    RECENTLY_REBOOTED = "recently_rebooted"  # within the guard interval; `force` overrides
    DISABLED = "disabled"  # disabled in the inventory: nothing would watch it come back
    NOT_SEEN_DOWN = "not_seen_down"  # accepted the command but the stream never dropped
    NOT_BACK = "not_back"  # went down and stayed down for reboot_wait


def _not_bool(accepted: str) -> BeforeValidator:
    """JSON true/false where a number is expected: lax pydantic would read true as 1."""

    def check(value: object) -> object:
        if isinstance(value, bool):
            raise ValueError(f"true or false is not accepted; accepted: {accepted}")
        return value

    return BeforeValidator(check)


class RebootRequest(Wire):
    """Body of ``POST /api/v1/cameras/{id}/reboot``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)
    reason: OneLine = Field(
        min_length=1, max_length=500, description="why; written to the audit log"
    )
    force: bool = Field(False, description="reboot even if rebooted in the last 10 minutes")


class BulkRebootRequest(Wire):
    """Body of ``POST /api/v1/reboots``: pick cameras by list, kecamatan and/or outage."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)
    cameras: list[Annotated[OneLine, Field(min_length=1, max_length=200)]] | None = Field(
        None, max_length=1000, description="camera ids; or give kecamatan, or offline_for alone"
    )
    kecamatan: OneLine | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="every enabled camera of this kecamatan (slug or name)",
    )
    offline_for: Annotated[
        float | str | None,
        _not_bool("seconds as a number, or text like '15m'"),
        AfterValidator(_refuse_control_characters_in_text),
    ] = Field(
        None,
        description="only cameras offline at least this long: seconds, or text like "
        "'90s', '15m', '1h30m'",
        examples=["15m"],
    )
    dry_run: bool = Field(
        False, description="list the targets and what would be skipped; touch nothing"
    )
    max_parallel: Annotated[int, _not_bool("a whole number from 1 to 16")] = Field(
        4, ge=1, le=16, description="cameras rebooting at once"
    )
    force: bool = Field(
        False,
        description="include cameras rebooted in the last 10 minutes, and allow "
        "more than 20 targets",
    )
    reason: OneLine = Field(
        min_length=1, max_length=500, description="why; written to the audit log"
    )


class RebootResult(Wire):
    """One camera's part of a reboot job."""

    id: str | None = Field(None, description="None in a dry run")
    camera: str
    kecamatan: str | None = Field(None, description="the kecamatan's name, as people read it")
    state: RebootState
    error: RebootError | None = None
    detail: str | None = None
    requested: datetime
    finished: datetime | None = None


class RebootJob(Wire):
    """A reboot job (one camera, or a bulk batch); `results` fill in as devices finish."""

    id: str
    requested: datetime
    actor: str
    reason: str | None = None
    done: bool
    results: list[RebootResult]
    counts: dict[str, int] = Field(description="results per state")


class RebootPlan(Wire):
    """Answer to a dry run: what a real run with the same body would do."""

    dry_run: bool = True
    targets: list[RebootResult] = Field(description="state planned or skipped, with why")
    would_reboot: int
    skipped: int
    limit: int = Field(description="targets allowed without force")
    refused: str | None = Field(None, description="why the real run would be refused")
