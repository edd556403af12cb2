"""A job's trail: its audit rows and its ``job.progress`` events, written in one place.

Exports and reboots both leave the same two kinds of trace. Having one object write them
keeps the audit columns and the event's shape (``kind``, ``job``, the camera's kecamatan)
the same for both, and keeps ``AuditLog.record`` calls out of the services.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from cctvctl.models import AuditEntry
from cctvctl.storage.audit import AuditLog
from cctvctl.storage.events import JOB_PROGRESS, EventPublisher

__all__ = ["JobTrail"]


class JobTrail:
    """Audit rows and progress events of one kind of job (``export``, ``reboot``).

    ``kecamatan_of`` names a camera's kecamatan for the event (None when unknown);
    without ``events`` progress goes nowhere, which suits tests of the queue alone.
    """

    def __init__(
        self,
        kind: str,
        audit: AuditLog,
        events: EventPublisher | None,
        kecamatan_of: Callable[[str], str | None],
    ) -> None:
        self.kind = kind
        self.audit_log = audit
        self._events = events
        self._kecamatan_of = kecamatan_of

    def audit(
        self,
        actor: str,
        role: str,
        action: str,
        *,
        target: str | None = None,
        reason: str | None = None,
        case_id: str | None = None,
        result: str = "ok",
        detail: str | None = None,
    ) -> AuditEntry:
        """Append one audit row (blocking: call it from a thread on the event loop)."""
        return self.audit_log.record(
            actor,
            role,
            action,
            target=target,
            reason=reason,
            case_id=case_id,
            result=result,
            detail=detail,
        )

    def progress(self, job: str, camera: str, data: Mapping[str, object]) -> None:
        """Publish one ``job.progress`` event: ``kind`` and ``job`` first, then ``data``."""
        if self._events is None:
            return
        self._events.publish(
            JOB_PROGRESS,
            camera=camera,
            kecamatan=self._kecamatan_of(camera),
            data={"kind": self.kind, "job": job, **data},
        )
