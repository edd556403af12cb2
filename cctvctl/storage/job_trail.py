"""A job's trail: its audit rows and its ``job.progress`` events, written in one place.

Exports and reboots both leave the same two kinds of trace. Having one object write them
keeps the audit columns and the event's shape (``kind``, ``job``, the camera's kecamatan)
the same for both, and keeps ``AuditLog.record`` calls out of the services.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Protocol, Unpack

from cctvctl.models import AuditEntry
from cctvctl.storage.audit import AuditFields, AuditLog
from cctvctl.storage.events import JOB_PROGRESS, EventPublisher

__all__ = ["JobTrail", "Requester"]


class Requester(Protocol):
    """Who asked, as an audit row records them: a token's name and role.

    The server's ``Principal`` and the reboot service's ``Actor`` both are one.
    """

    @property
    def name(self) -> str: ...

    @property
    def role(self) -> str: ...


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

    def audit(self, requester: Requester, action: str, **row: Unpack[AuditFields]) -> AuditEntry:
        """Append one audit row (blocking: on the event loop use :meth:`audit_off_loop`)."""
        return self.audit_log.record(requester.name, requester.role, action, **row)

    async def audit_off_loop(
        self, requester: Requester, action: str, **row: Unpack[AuditFields]
    ) -> AuditEntry:
        """:meth:`audit` in a worker thread, so the event loop never waits on SQLite."""
        return await asyncio.to_thread(self.audit, requester, action, **row)

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
