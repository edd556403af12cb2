"""The manifest that travels with a clip: what was asked for, what was copied, by whom."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from cctvctl import __version__
from cctvctl.config import Inventory
from cctvctl.exports.joined import JoinedClip
from cctvctl.exports.remux import ClipResult
from cctvctl.models import CameraClock, ExportClip, ExportJob, ExportManifest, Gap
from cctvctl.storage.database import from_ts
from cctvctl.storage.device_checks import DeviceRecord
from cctvctl.storage.exports import gaps_from_json, gaps_to_json

__all__ = ["TIMELINE", "build_manifest", "gap_models"]

TIMELINE = (
    "clip time 0 is first_frame; every frame keeps its real offset from it, "
    "so gaps in the footage are gaps in the timestamps"
)


def gap_models(gaps: Sequence[tuple[float, float]]) -> list[Gap]:
    # Through the job table's encoding, so the job and the manifest agree to the digit.
    return gaps_from_json(gaps_to_json(gaps))


def build_manifest(
    job: ExportJob,
    *,
    inventory: Inventory,
    file_name: str,
    result: ClipResult,
    digest: str,
    size: int,
    finished: float,
    stored_path: Callable[[Path], str],
    joined: JoinedClip | None = None,
    clock: DeviceRecord | None = None,
    clips: list[ExportClip] | None = None,
) -> ExportManifest:
    """``stored_path`` turns a segment's path into the one the manifest shows.

    ``joined``: the clip was joined from several fleet nodes' parts, which it names.
    """
    entry = inventory.camera(job.camera)
    return ExportManifest(
        job=job.id,
        file=file_name,
        camera=job.camera,
        camera_name=entry.camera.name if entry is not None else job.camera,
        kecamatan=entry.kecamatan.name if entry is not None else "",
        site=entry.site.name if entry is not None else "",
        requested_start=job.start,
        requested_end=job.end,
        first_frame=from_ts(result.first_frame),
        last_frame=from_ts(result.last_frame),
        timeline=TIMELINE,
        gaps=gap_models(result.gaps),
        missing_seconds=round(sum(e - s for s, e in result.gaps), 3),
        frames=result.frames,
        codec=result.codec,
        sha256=digest,
        size=size,
        sources=[stored_path(p) for p in result.sources] if joined is None else joined.sources,
        nodes=[] if joined is None else joined.parts,
        requester=job.requester,
        case_id=job.case_id,
        note=job.note,
        created=job.created,
        finished=from_ts(finished),
        server_version=__version__,
        clips=clips or [],
        camera_clock=_clock(clock, inventory.server.clock_tolerance_seconds),
    )


def _clock(record: DeviceRecord | None, tolerance: float) -> CameraClock | None:
    """The camera's last clock reading as the manifest keeps it."""
    if record is None or (record.clock_at is None and record.clock_error is None):
        return None
    offset = record.clock_offset
    return CameraClock(
        offset_seconds=None if offset is None else round(offset, 1),
        checked_at=None if record.clock_at is None else from_ts(record.clock_at),
        tz=record.clock_tz,
        mode=record.clock_type,
        off=offset is not None and abs(offset) > tolerance,
        error=record.clock_error,
        error_at=None if record.clock_error_at is None else from_ts(record.clock_error_at),
    )
