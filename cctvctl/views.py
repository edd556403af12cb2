"""Each resource turned into its cells once, for every view (as k9s renders a resource).

The CLI's rich tables and the TUI's DataTables show an export job or an audit entry from
the same cells: :func:`export_cells`, :func:`audit_cells`. The TUI's event list reads
server events and audit entries as one kind of row, :class:`EventRow`
(:func:`event_row`, :func:`audit_row`). A front end only lays the cells out: widths,
clipping, colour, bars.

Every text here comes from a server or a camera (case ids, reasons, names), so the cells
are made inert for a terminal (:func:`cctvctl.termsafe.for_terminal`) where they are
built. No rich, no Textual: strings, numbers and a severity.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from cctvctl.models import (
    FLAP_WINDOW_SECONDS,
    AuditEntry,
    Camera,
    CameraStatus,
    Event,
    ExportJob,
    ExportState,
    ExportWait,
    VaultState,
)
from cctvctl.termsafe import for_terminal
from cctvctl.timeparse import WITA, format_time, localize
from cctvctl.units import bytes_text

__all__ = [
    "AuditCells",
    "EventRow",
    "ExportCells",
    "Severity",
    "audit_cells",
    "audit_fields",
    "audit_row",
    "camera_problem",
    "event_fields",
    "event_row",
    "export_cells",
    "export_state_text",
    "flap_text",
    "media_rows",
    "vault_text",
    "waiting_text",
    "window_text",
]

JOB_PROGRESS: Final = "job.progress"  # as cctvctl.client names it; no client here


class Severity(enum.IntEnum):
    INFO = 0
    OK = 1
    WARN = 2
    BAD = 3


def window_text(
    start: datetime, end: datetime, now: datetime | None = None, *, utc: bool = False
) -> str:
    """``14:00-14:05`` today (WITA, or UTC), ``28/11 14:00-14:05`` otherwise; seconds
    only when the window has them, ``+1d`` when it runs past midnight."""
    zone = UTC if utc else WITA
    a, b = start.astimezone(zone), end.astimezone(zone)
    today = (now or datetime.now(UTC)).astimezone(zone).date()
    form = "%H:%M:%S" if a.second or b.second else "%H:%M"
    text = f"{a.strftime(form)}-{b.strftime(form)}"
    if a.date() != today:
        text = f"{a.strftime('%d/%m')} {text}"
    if b.date() != a.date():
        text += "+1d" if (b.date() - a.date()).days == 1 else f" {b.strftime('%d/%m')}"
    return text


# --------------------------------------------------------------------------- exports


@dataclass(frozen=True)
class ExportCells:
    id: str
    camera: str
    case: str  # "-" without one
    window: str
    state: ExportState
    percent: float  # 100 once done
    size: str  # "-" until known
    requester: str
    created: datetime
    vault: str  # the evidence-vault copy in a word or two (vault_text)


def vault_text(job: ExportJob, *, compact: bool = False, utc: bool = False) -> str:
    """The job's copy in the evidence vault: ``pending`` (not landed yet), ``held`` (a
    legal hold on its case), ``stored until 2027-12-06`` (``until 2027-12-06`` compact:
    the day nobody can delete it before, WITA or UTC), ``none`` (a finished job with no
    copy), ``-`` (not finished)."""
    copy = job.vault
    if copy is None:
        return "none" if job.state is ExportState.DONE else "-"
    if copy.state is VaultState.PENDING:
        return "pending"  # before a hold: the local files are still the only copy
    if copy.legal_hold:
        return "held"
    day = copy.retain_until.astimezone(UTC if utc else WITA).strftime("%Y-%m-%d")
    return f"until {day}" if compact else f"stored until {day}"


def _size_text(job: ExportJob, compact: bool) -> str:
    """The clip's size; for a window that spans a change of picture size, all the clips'
    and how many (``2 clips, 4.1 MB``; ``4.1M x2`` compact)."""
    if job.size is None:
        return "-"
    if not job.clips:
        return bytes_text(job.size, compact=compact)
    total = bytes_text(sum(c.size for c in job.clips), compact=compact)
    return f"{total} x{len(job.clips)}" if compact else f"{len(job.clips)} clips, {total}"


def export_cells(
    job: ExportJob, now: datetime | None = None, *, utc: bool = False, compact: bool = False
) -> ExportCells:
    """An export job's cells; ``compact`` sizes for the TUI's narrow columns."""
    job = for_terminal(job)  # case ids, camera ids: typed by other people
    return ExportCells(
        id=job.id,
        camera=job.camera,
        case=job.case_id or "-",
        window=window_text(job.start, job.end, now, utc=utc),
        state=job.state,
        percent=100.0 if job.state is ExportState.DONE else job.percent,
        size=_size_text(job, compact),
        requester=job.requester,
        created=job.created,
        vault=vault_text(job, compact=compact, utc=utc),
    )


def export_state_text(job: ExportJob) -> str:
    """A job's state as people read it: ``waiting`` for a running job held by an open
    segment (it reads 0 % for up to a segment), else the state itself."""
    if job.state is ExportState.RUNNING and job.waiting is not None:
        return "waiting"
    return job.state.value


def waiting_text(wait: ExportWait, *, utc: bool = False) -> str:
    """Why a running export is at 0 %: ``waiting for the segment that holds 22:45 to close
    (≤ 60 s), ETA 22:45:40 WITA``."""
    holds = wait.holds.astimezone(UTC if utc else WITA)
    shown = holds.strftime("%H:%M:%S" if holds.second else "%H:%M")
    eta = format_time(wait.expected_close, utc=utc, date_too=False)
    return (
        f"waiting for the segment that holds {shown} to close "
        f"(≤ {wait.segment_seconds:.0f} s), ETA {eta}"
    )


# --------------------------------------------------------------------------- audit


_AUDIT_KIND: Final = {
    "export.request": "export",
    "export.download": "download",
    "export.cancel": "cancel",
    # A short kind keeps the event list's Kind column narrow, so the detail has the room.
    "reboot.bulk": "reboot",
    "reboot.result": "reboot",
    "reboot.dry_run": "dry run",
}


#: Audit actions whose target is a job id rather than a camera.
_JOB_TARGETS: Final = frozenset({"export.download"})


@dataclass(frozen=True)
class AuditCells:
    id: int
    time: datetime
    actor: str
    role: str
    action: str  # as the server names it: export.request
    kind: str  # as a person says it: export
    target: str  # "-" without one
    reason: str | None
    case: str | None
    why: str  # case and reason together, "-" without either
    result: str  # REFUSED in capitals when it went wrong
    severity: Severity
    detail: str | None


def audit_cells(entry: AuditEntry, *, utc: bool = False) -> AuditCells:
    """The cells of an audit entry; a refusal's detail ("no footage between <UTC>
    and <UTC>") reads WITA, or UTC."""
    entry = for_terminal(entry)
    result = entry.result.lower()
    if result in ("refused", "failed", "error", "denied"):
        severity, shown = Severity.BAD, entry.result.upper()
    elif result in ("ok", "accepted", "done", "back_online"):
        severity, shown = Severity.OK, entry.result
    else:
        severity, shown = Severity.INFO, entry.result
    return AuditCells(
        id=entry.id,
        time=entry.time,
        actor=entry.actor,
        role=entry.role,
        action=entry.action,
        kind=_AUDIT_KIND.get(entry.action, entry.action),
        target=entry.target or "-",
        reason=entry.reason,
        case=entry.case_id,
        why=" · ".join(x for x in (entry.case_id, entry.reason) if x) or "-",
        result=shown,
        severity=severity,
        detail=None if entry.detail is None else localize(entry.detail, utc=utc),
    )


# --------------------------------------------------------------------------- cameras


def flap_text(camera: Camera) -> str:
    """``FLAP 14`` for a flapping camera (changes in the last 10 min), else empty.

    The figure and the verdict are the server's (``changes_10m``, ``flapping``), so the
    grid, the camera screen and ``cctvctl cameras`` all read the same one.
    """
    return f"FLAP {camera.changes_10m}" if camera.flapping else ""


_AUDIO_SHORT: Final = {
    "none": "none",
    "dropped": "dropped",
    "kept": "kept",
    "converted": "to AAC",
    "unsupported": "dropped!",
}
_CODEC_SHORT: Final = {"G.711 A-law": "PCMA", "G.711 µ-law": "PCMU"}


def media_rows(camera: Camera, *, compact: bool = False) -> list[tuple[str, str]]:
    """What the camera's stream carries and how it is taken, as (label, text) rows: the
    video codec with transport and auth, and what the camera's audio is and what is done
    with it. None before the camera's first connection (the recorder does not know yet).
    ``compact`` (the console's stats column, 17 cells at 80x24): the audio's codec
    without its rate (G.711 as PCMA/PCMU), and a word for what is done with it.
    """
    media = camera.media
    if media is None:
        return []
    media = for_terminal(media)
    parts = [media.video or "?"]
    if media.transport:
        parts.append(media.transport.upper() if compact else f"over {media.transport.upper()}")
    if media.auth:
        parts.append(
            "no auth" if media.auth == "none" else media.auth if compact else f"{media.auth} auth"
        )
    audio = media.audio_detail
    if compact:
        what = re.sub(r" \d+ Hz.*$", "", media.audio or "")
        what = _CODEC_SHORT.get(what, what)
        done = _AUDIO_SHORT.get(media.audio_handling, media.audio_handling)
        audio = f"{what}: {done}" if what else done
    return [("video", " ".join(parts)), ("audio", audio)]


def camera_problem(camera: Camera) -> str:
    """What is wrong with a camera beyond its status, in an operator's words, or empty:
    ``FLAP 14 in 10m · connection refused``."""
    parts = []
    if camera.flapping:
        parts.append(f"{flap_text(camera)} in {FLAP_WINDOW_SECONDS / 60:.0f}m")
    if camera.cause is not None and camera.status is not CameraStatus.ONLINE:
        parts.append(camera.cause.label)
    clock = camera.clock
    if clock is not None and clock.off and clock.offset_seconds is not None:
        parts.append(f"clock off by {abs(clock.offset_seconds):.0f} s")
    return " · ".join(parts)


# --------------------------------------------------------------------------- events


@dataclass(frozen=True)
class EventRow:
    """A line of the event list: a server event or an audit entry."""

    key: str
    time: datetime
    kind: str
    severity: Severity
    target: str
    kecamatan: str  # slug as the server sent it; a view shows the name
    detail: str

    def matches(self, needle: str, kecamatan_name: str) -> bool:
        hay = f"{self.kind} {self.target} {self.kecamatan} {kecamatan_name} {self.detail}"
        return needle in hay.lower()


# Export progress is a stream of percentages; only these states are worth a row.
EXPORT_STATES: Final = frozenset({"queued", "done", "failed", "cancelled"})
_STATUS_SEVERITY: Final = {
    CameraStatus.ONLINE: Severity.OK,
    CameraStatus.DEGRADED: Severity.WARN,
    CameraStatus.OFFLINE: Severity.BAD,
    CameraStatus.DISABLED: Severity.INFO,
}
_STATUS_KIND: Final = {
    CameraStatus.ONLINE: "cam UP",
    CameraStatus.DEGRADED: "cam DEG",
    CameraStatus.OFFLINE: "cam DOWN",
    CameraStatus.DISABLED: "cam OFF",
}
_DELETE_REASON: Final = {
    "disk_guard": "disk guard",
    "age": "retention",
    "quota": "quota",
    "local_days": "archived, local copy",
}


def _num(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def event_row(event: Event, arrow: str = "→") -> EventRow | None:
    """The row for one server event, or None for noise (export percentages)."""
    data = event.data
    kind, severity, detail = event.type, Severity.INFO, ""
    if event.type == "camera.status":
        try:
            status = CameraStatus(str(data.get("status")))
        except ValueError:
            return None
        previous = data.get("previous") or "start"
        reason = data.get("reason")
        kind, severity = _STATUS_KIND[status], _STATUS_SEVERITY[status]
        detail = f"{previous} {arrow} {status.value}" + (f": {reason}" if reason else "")
    elif event.type == "storage.deleted":
        why = str(data.get("reason", ""))
        count = int(_num(data.get("count")))
        kind = "deleted"
        severity = Severity.WARN if why in ("disk_guard", "quota") else Severity.INFO
        detail = (
            f"{_DELETE_REASON.get(why, why)}: deleted {count} segment{'s' * (count != 1)} "
            f"({bytes_text(_num(data.get('bytes')), compact=True)})"
        )
        if data.get("errors"):
            severity = Severity.BAD
            detail += f", {data['errors']} could not be deleted"
    elif event.type == "archive.unarchived_deleted":
        # Footage that existed nowhere else: the loudest thing retention can say.
        why = str(data.get("reason", ""))
        count = int(_num(data.get("count")))
        kind, severity = "LOST", Severity.BAD
        detail = (
            f"{_DELETE_REASON.get(why, why)}: deleted {count} segment{'s' * (count != 1)} "
            f"({bytes_text(_num(data.get('bytes')), compact=True)}) not yet archived"
        )
    elif event.type == JOB_PROGRESS:
        state = str(data.get("state", ""))
        job = str(data.get("job", ""))[:8]
        if data.get("kind") == "export":
            if state not in EXPORT_STATES:
                return None
            kind = "export"
            severity = {"done": Severity.OK, "failed": Severity.BAD}.get(state, Severity.INFO)
            detail = f"job {job} {state}"
            if state == "done":
                detail += f" ({bytes_text(_num(data.get('bytes_total')), compact=True)} read)"
        elif data.get("kind") == "reboot":
            kind = "reboot"
            if state == "back_online":
                severity = Severity.OK
            elif state in ("did_not_return", "failed", "interrupted"):
                severity = Severity.BAD
            elif state == "skipped":
                severity = Severity.WARN
            detail = f"job {job} {state}"
            if data.get("error"):
                detail += f": {data['error']}"
            if data.get("detail"):
                detail += f" ({data['detail']})"
        else:
            detail = f"{data.get('kind', 'job')} {job} {state}"
    else:
        detail = ", ".join(f"{k}={v}" for k, v in data.items())
    return for_terminal(
        EventRow(
            f"e{event.id}",
            event.time,
            kind,
            severity,
            event.camera or "-",
            event.kecamatan or "",
            localize(detail),  # a job's note or error may carry the API's UTC times
        )
    )


def audit_row(entry: AuditEntry, kecamatan: str = "", arrow: str = "→") -> EventRow:
    """``reboot by admin: stuck → REFUSED (recently rebooted)``."""
    cells = audit_cells(entry)
    detail = f"{cells.kind} by {cells.actor}"
    if cells.reason:
        detail += f": {cells.reason}"
    detail += f" {arrow} {cells.result}"  # before the case and detail: it must survive clipping
    if cells.case:
        detail += f" [case {cells.case}]"
    if cells.detail:
        detail += f" ({cells.detail})"
    # A job, like everywhere in the console, by its first 8 characters (distinct on the
    # server), so the detail keeps its room; the dialog (enter) shows the whole id.
    target = cells.target[:8] if cells.action in _JOB_TARGETS else cells.target
    return EventRow(
        f"a{cells.id}", cells.time, cells.kind, cells.severity, target, kecamatan, detail
    )


# --------------------------------------------------------------------------- detail


def _when(time: datetime, utc: bool) -> str:
    if utc:
        return time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return time.astimezone(WITA).strftime("%Y-%m-%d %H:%M:%S WITA")


def event_fields(event: Event, *, utc: bool = False) -> list[tuple[str, str]]:
    """Every field of a server event as (label, text), its data keys included: what a
    list row cut short, in full."""
    event = for_terminal(event)
    fields = [
        ("event", str(event.id)),
        ("time", _when(event.time, utc)),
        ("type", event.type),
        ("camera", event.camera or "-"),
        ("kecamatan", event.kecamatan or "-"),
    ]
    # The event's data after its own fields, "-" for an empty one as in the tables.
    return fields + [(str(k), "-" if v is None else str(v)) for k, v in event.data.items()]


def audit_fields(entry: AuditEntry, *, utc: bool = False) -> list[tuple[str, str]]:
    """Every field of an audit entry as (label, text)."""
    entry = for_terminal(entry)
    return [
        ("audit row", str(entry.id)),
        ("time", _when(entry.time, utc)),
        ("actor", entry.actor),
        ("role", entry.role),
        ("action", entry.action),
        ("target", entry.target or "-"),
        ("reason", entry.reason or "-"),
        ("case", entry.case_id or "-"),
        ("result", entry.result),
        ("detail", entry.detail or "-"),
    ]
