"""Audit entries, evidence exports and reboots: the jobs people ask for and their trail."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
)

from cctvctl.models.devices import CameraClock
from cctvctl.models.status import Gap
from cctvctl.models.wire import OneLine, Wire, refuse_control_characters_in_text

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


class VaultState(enum.StrEnum):
    """Where an export's copy in the evidence vault is."""

    PENDING = "pending"  # not in the vault yet (the store was unreachable); retried
    STORED = "stored"  # clip and manifest are in the vault under Object Lock


class VaultObject(Wire):
    """One object of the evidence vault: its key and the version this export wrote."""

    key: str
    version_id: str | None = Field(None, description="None until the object is stored")
    sha256: str | None = Field(None, description="SHA-256 (hex) of the object's bytes")


class VaultCopy(Wire):
    """An export's copy in the evidence vault (an S3 bucket with Object Lock)."""

    state: VaultState
    bucket: str
    mode: str = Field(description="Object Lock mode: compliance or governance")
    retain_until: datetime = Field(description="nobody can delete the objects before this")
    legal_hold: bool = Field(description="a legal hold on the export's case holds them too")
    clip: VaultObject
    manifest: VaultObject = Field(
        description="the manifest as stored in the vault; it names the clip's version, "
        "and its own version id is recorded here, in the job and in the audit log"
    )
    attempts: int = 0
    error: str | None = Field(None, description="why the last attempt failed (pending)")
    stored: datetime | None = None


class ManifestVault(Wire):
    """The manifest's own record of the vault copy (the manifest cannot name its own
    version; the job and the audit log do)."""

    bucket: str
    clip_key: str
    clip_version: str
    manifest_key: str
    mode: str
    retain_until: datetime


class ExportClip(Wire):
    """One clip of an export whose window spans a change of the camera's picture size: an
    MP4 file holds one size, so each size is a clip of its own, in time order."""

    file: str = Field(description="file name, in the export's folder")
    width: int | None = None
    height: int | None = None
    first_frame: datetime
    last_frame: datetime
    frames: int
    sha256: str
    size: int
    vault: VaultObject | None = Field(
        None,
        description="where this clip lies in the evidence vault (key, version, SHA-256), "
        "once stored; in the vault's manifest and in the job",
    )


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
    vault: VaultCopy | None = Field(
        None, description="the copy in the evidence vault; None where no vault is configured"
    )
    clips: list[ExportClip] = Field(
        default_factory=list,
        description="once done, when the window spans a change of picture size: one clip "
        "per size in time order, as in the manifest (the first is the job's file, the "
        "others by `?clip=N`), each with its vault copy once stored; empty for one size",
    )


class ExportPartClip(Wire):
    """One clip of a fleet part whose sub-window spans a change of picture size, as the
    node made it (a part, like any export, is one clip per size)."""

    width: int | None = None
    height: int | None = None
    first_frame: datetime
    last_frame: datetime
    frames: int
    sha256: str
    size: int


class ExportPart(Wire):
    """One node's share of a clip joined from several fleet nodes (a failover)."""

    node: str
    start: datetime = Field(description="start of the sub-window this node's footage covers")
    end: datetime = Field(description="end of that sub-window")
    first_frame: datetime
    last_frame: datetime
    frames: int
    sha256: str = Field(description="SHA-256 of the part clip as this node made or received it")
    size: int
    job: str | None = Field(None, description="the export job on that node (None: this node)")
    sources: list[str] = Field(description="segment files read on that node")
    clips: list[ExportPartClip] = Field(
        default_factory=list,
        description="the sub-window spans a change of picture size: each of the part's "
        "clips in time order, each hashed (the first is `sha256` and `size`); empty for "
        "one size",
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
    sources: list[str] = Field(
        description="segment files read, relative to the storage root; in a clip joined "
        "from several nodes each one starts with its node's name and a colon"
    )
    nodes: list[ExportPart] = Field(
        default_factory=list,
        description="a clip joined from several fleet nodes: each node's part in time "
        "order; empty when every frame came from this node's own segments",
    )
    requester: str
    case_id: str | None = None
    note: str | None = None
    created: datetime
    finished: datetime
    server_version: str
    camera_clock: CameraClock | None = Field(
        None,
        description="the camera's clock as last read before the export (its offset from "
        "the server's clock, when it was read): the clip's times are the server's, and "
        "this says how far the camera's own overlay clock was from them; None when the "
        "camera's clock was never read (no ONVIF)",
    )
    clips: list[ExportClip] = Field(
        default_factory=list,
        description="the window spans a change of picture size: one clip per size in time "
        "order, the first being `file` (the job's download; the others by "
        "`?clip=N`); empty when the whole window has one size",
    )
    vault: ManifestVault | None = Field(
        None, description="where the clip lies in the evidence vault, once it is stored"
    )


class VaultClipCheck(Wire):
    """One clip of an export of several, as ``exports verify`` read it back."""

    clip: int = Field(description="its place in the manifest's `clips`, from 0")
    file: str
    key: str
    ok: bool
    version: str | None = Field(None, description="the version the manifest names")
    latest_version: str | None = Field(None, description="the version the key serves now")
    sha256_expected: str | None = None
    sha256_found: str | None = None


class VaultCheck(Wire):
    """``exports verify``: the clip re-read from the vault and checked against its manifest."""

    job: str
    case_id: str | None = None
    ok: bool
    state: str = Field(description="verified, failed, or pending (not in the vault yet)")
    problems: list[str] = Field(default_factory=list, description="one line per finding")
    bucket: str
    clip_key: str
    clip_version: str | None = Field(None, description="the version the manifest names")
    latest_version: str | None = Field(None, description="the version the key serves now")
    sha256_expected: str | None = None
    sha256_found: str | None = Field(None, description="of the bytes read back from the vault")
    manifest_version: str | None = None
    mode: str | None = None
    retain_until: datetime | None = None
    legal_hold: bool | None = None
    checked: datetime
    clips: list[VaultClipCheck] = Field(
        default_factory=list,
        description="an export of several clips (a change of picture size): each clip "
        "read back and checked, the first being `clip_key`; empty for one clip",
    )


class CaseHoldRequest(Wire):
    """Body of ``POST /api/v1/cases/hold`` and ``/release``."""

    case_id: OneLine = Field(min_length=1, max_length=200, description="e.g. LP/123/XI/2026")
    reason: OneLine | None = Field(None, max_length=2000)

    @field_validator("case_id")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        # A hold on "" or " " would hold nothing anyone could name again.
        if not value.strip():
            raise ValueError("a case id, e.g. LP/123/XI/2026, not blank")
        return value


class CaseHold(Wire):
    """A case's legal hold and the vault objects it covers."""

    case_id: str
    held: bool
    since: datetime | None = None
    by: str | None = None
    reason: str | None = None
    jobs: list[str] = Field(default_factory=list, description="the case's exports in the vault")
    objects: int = Field(0, description="vault objects (clips and manifests) of the case")
    applied: int = Field(0, description="objects whose hold the store has as asked")
    pending: int = Field(
        0, description="objects the store has not confirmed yet (unreachable, or not stored)"
    )


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
        AfterValidator(refuse_control_characters_in_text),
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
