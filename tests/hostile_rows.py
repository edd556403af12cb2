"""Hostile text written straight into a server's database, where the API would refuse it.

The terminal-safety tests put it in through the storage layer: one refused export request
in the audit log and one export job with a case and a note, as a viewer and an operator
would have left them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from harness import Site

from cctvctl.storage.audit import AuditLog
from cctvctl.storage.database import Database
from cctvctl.storage.exports import ExportStore

__all__ = ["store_hostile_rows"]


def store_hostile_rows(
    site: Site, *, target: str, case: str, note: str, job: str, detail: str | None = None
) -> None:
    with Database(site.storage) as index:
        AuditLog(index).record(
            "viewer-desk",
            "viewer",
            "export.request",
            target=target,
            reason=note,
            case_id=case,
            result="forbidden",
            detail=detail,
        )
        # A window years before the server started: the worker fails it at once, which
        # leaves case and note as they were stored.
        ExportStore(index).create(
            job,
            camera=site.camera_ids[0],
            start=datetime(2020, 1, 1, tzinfo=UTC),
            end=datetime(2020, 1, 1, 0, 5, tzinfo=UTC),
            requester="operator",
            role="operator",
            case_id=case,
            note=note,
        )
