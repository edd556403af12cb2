"""Planning a reboot: which cameras, and which of them must be skipped or refused.

Everything here is decided without touching a device: the selection (cameras, a
kecamatan, ``offline_for``), the guards (disabled, no ONVIF URL, a reboot in flight, the
10-minute guard that ``force`` lifts) and the 20-target limit of a bulk job. Time comes
from an injected clock, so the guards can be tested by moving it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

from cctvctl.config import CameraEntry, Inventory
from cctvctl.models import Camera, CameraStatus, RebootError, RebootPlan, RebootResult, RebootState
from cctvctl.storage.reboot_log import RebootRow

__all__ = [
    "BULK_LIMIT",
    "GUARD",
    "Actor",
    "BulkVerdict",
    "Check",
    "RebootHistory",
    "RebootPlanner",
    "RebootRefused",
    "StatusView",
    "rfc3339",
]

#: A camera rebooted this recently is skipped unless the request says ``force``.
GUARD: Final = timedelta(minutes=10)
#: More cameras than this in one job need ``force``.
BULK_LIMIT: Final = 20


class StatusView(Protocol):
    """A camera's live view as the recorder keeps it (for ``offline_for``)."""

    def camera(self, camera_id: str) -> Camera | None: ...


class RebootHistory(Protocol):
    """The reboot log as the guard reads it."""

    def last_reboot(self, camera: str, since: datetime) -> RebootRow | None: ...


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asked: the token's name and role, as the audit log records them."""

    name: str
    role: str


class RebootRefused(Exception):
    """The request is refused as a whole; nothing was sent to any camera.

    ``status`` is the HTTP status to answer with; ``extra`` holds problem members such as
    ``error`` (a :class:`RebootError` value) and ``targets``.
    """

    def __init__(
        self, status: int, detail: str, *, extra: Mapping[str, object] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.extra = dict(extra or {})


@dataclass(frozen=True, slots=True)
class Check:
    """One camera's verdict: no ``error`` means it may be rebooted."""

    camera: str
    error: RebootError | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class BulkVerdict:
    """A bulk request's checks, what would go, and why the whole would be refused."""

    checks: list[Check]
    go: list[str]
    skip: list[str]
    refused: str | None
    summary: str


def rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _short_list(items: Sequence[str], limit: int = 30) -> str:
    text = ", ".join(items[:limit])
    return text + (f", … ({len(items) - limit} more)" if len(items) > limit else "")


class RebootPlanner:
    """Selection and guards over the inventory, the live view and the reboot log."""

    def __init__(
        self,
        inventory: Inventory,
        status: StatusView,
        history: RebootHistory,
        *,
        guard: timedelta = GUARD,
        bulk_limit: int = BULK_LIMIT,
        clock: Callable[[], float],
    ) -> None:
        self.entries: dict[str, CameraEntry] = {e.camera.id: e for e in inventory.cameras()}
        self.status = status
        self.history = history
        self.guard = guard
        self.bulk_limit = bulk_limit
        self._clock = clock

    def use_inventory(self, inventory: Inventory) -> None:
        self.entries = {e.camera.id: e for e in inventory.cameras()}

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def kecamatan_of(self, camera_id: str) -> str | None:
        entry = self.entries.get(camera_id)
        return entry.kecamatan.name if entry is not None else None

    def offline_seconds(self, cam: Camera, now: float | None = None) -> float:
        """How long ``cam`` has been dark: since its last packet, else since it went offline."""
        if cam.status is not CameraStatus.OFFLINE:
            return 0.0
        since = cam.last_packet or cam.status_since
        if since is None:
            return 0.0
        now = self._clock() if now is None else now
        return max(0.0, now - since.timestamp())

    def unknown(self, camera_ids: Iterable[str]) -> list[str]:
        return [c for c in camera_ids if c not in self.entries]

    def select(
        self,
        camera_ids: Sequence[str] | None,
        kecamatan_slug: str | None,
        offline_for: float | None,
    ) -> list[str]:
        """Target ids in inventory order, duplicates removed.

        An explicit list keeps disabled cameras (they are reported as skipped); a
        kecamatan or server-wide selection takes enabled cameras only.
        """
        if camera_ids is not None:
            wanted = set(camera_ids)
            chosen = [c for c in self.entries if c in wanted]
        else:
            chosen = [
                cid
                for cid, e in self.entries.items()
                if e.camera.enabled
                and (kecamatan_slug is None or e.kecamatan.key == kecamatan_slug)
            ]
        if offline_for is not None:
            now = self._clock()
            kept = []
            for cid in chosen:
                cam = self.status.camera(cid)
                if (
                    cam is not None
                    and cam.status is CameraStatus.OFFLINE
                    and self.offline_seconds(cam, now) >= offline_for
                ):
                    kept.append(cid)
            chosen = kept
        return chosen

    def check(self, camera_id: str, force: bool, busy: Mapping[str, RebootRow]) -> Check:
        """Why ``camera_id`` must be skipped; ``busy`` maps cameras to reboots in flight."""
        cam = self.entries[camera_id].camera
        if not cam.enabled:
            return Check(
                camera_id,
                RebootError.DISABLED,
                "disabled in the inventory: the server could not watch it come back",
            )
        if cam.onvif is None:
            return Check(
                camera_id,
                RebootError.NO_ONVIF,
                "no ONVIF URL in the inventory; add one to reboot this camera remotely",
            )
        running = busy.get(camera_id)
        if running is not None:
            # Not even force: a second SystemReboot would only restart the wait.
            return Check(
                camera_id,
                RebootError.RECENTLY_REBOOTED,
                f"a reboot of this camera is in progress (job {running.batch}, "
                f"{running.state.value}); wait for it to finish",
            )
        if not force:
            last = self.history.last_reboot(camera_id, self.now() - self.guard)
            if last is not None:
                again = last.requested + self.guard
                return Check(
                    camera_id,
                    RebootError.RECENTLY_REBOOTED,
                    f"rebooted at {rfc3339(last.requested)} by {last.actor} "
                    f"(job {last.batch}, {last.state.value}); allowed again after "
                    f"{rfc3339(again)}, or now with force: true",
                )
        return Check(camera_id)

    def bulk(
        self, camera_ids: Sequence[str], force: bool, busy: Mapping[str, RebootRow]
    ) -> BulkVerdict:
        """Check every target; refuse more than ``bulk_limit`` without ``force``."""
        checks = [self.check(c, force, busy) for c in camera_ids]
        go = [c.camera for c in checks if c.error is None]
        skip = [f"{c.camera} ({c.error.value})" for c in checks if c.error is not None]
        refused: str | None = None
        if len(go) > self.bulk_limit and not force:
            refused = (
                f"{len(go)} cameras would be rebooted; more than {self.bulk_limit} at once "
                "needs force: true (rebooting the wrong cameras at once is an outage)"
            )
        summary = f"{len(go)} to reboot" + (f": {_short_list(go)}" if go else "")
        if skip:
            summary += f"; {len(skip)} skipped: {_short_list(skip)}"
        return BulkVerdict(checks, go, skip, refused, summary)

    def dry_run(self, verdict: BulkVerdict) -> RebootPlan:
        """What a bulk request would do, as the API reports a dry run."""
        now = self.now()
        return RebootPlan(
            targets=[
                RebootResult(
                    camera=c.camera,
                    kecamatan=self.kecamatan_of(c.camera),
                    state=RebootState.PLANNED if c.error is None else RebootState.SKIPPED,
                    error=c.error,
                    detail=c.detail,
                    requested=now,
                )
                for c in verdict.checks
            ],
            would_reboot=len(verdict.go),
            skipped=len(verdict.skip),
            limit=self.bulk_limit,
            refused=verdict.refused,
        )
