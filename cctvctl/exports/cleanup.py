"""Ending exports: cancel a queued or running job, delete a finished one, expire old ones.

A finished export is kept ``export_keep_days`` and then expired: its files go, its row
stays (state ``expired``) so the job and its audit trail still say what was made.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from cctvctl.exports.files import ExportFiles
from cctvctl.exports.queue import ExportQueue, publish_job
from cctvctl.exports.vault import EvidenceVault, Locked
from cctvctl.models import ExportJob, ExportState
from cctvctl.storage.exports import ExportStore
from cctvctl.storage.job_trail import JobTrail

__all__ = ["EvidenceLocked", "ExportCleanup"]

log = logging.getLogger(__name__)

#: States whose job holds no files any more; a folder left for one is a crash mid-delete.
_NO_FILES = (ExportState.CANCELLED, ExportState.EXPIRED, ExportState.DELETED, ExportState.FAILED)


class EvidenceLocked(Exception):
    """A finished export whose vault copy is pending or locked: not deleted."""

    def __init__(self, locked: Locked) -> None:
        super().__init__(locked.detail)
        self.locked = locked


@dataclass(frozen=True, kw_only=True, slots=True)
class ExportCleanup:
    """Cancellation, deletion and expiry over the job table and the export folders."""

    store: ExportStore
    files: ExportFiles
    queue: ExportQueue
    trail: JobTrail
    clock: Callable[[], float]
    #: The evidence vault, where one is configured: its locks refuse a delete.
    vault: EvidenceVault | None = None

    def cancel(self, job_id: str) -> ExportJob | None:
        """Cancel a queued or running job, or delete a finished one's files.

        Raises :class:`EvidenceLocked` for a finished job whose vault copy is pending or
        still retained (or held): nothing is deleted.
        """
        job = self.store.get(job_id)
        if job is None:
            return None
        if job.state is ExportState.DONE and self.vault is not None:
            locked = self.vault.locked(job)
            if locked is not None:
                raise EvidenceLocked(locked)
        now = self.clock()
        if job.state in (ExportState.QUEUED, ExportState.RUNNING):
            if self.store.set_state_if(
                job_id,
                (ExportState.QUEUED, ExportState.RUNNING),
                state=ExportState.CANCELLED,
                finished=now,
                eta_seconds=None,
            ):
                self.queue.cancel_running(job_id)
                if job.state is ExportState.QUEUED:
                    self.files.remove(job_id)
            else:
                return self.cancel(job_id)  # it finished meanwhile: delete instead
        elif job.state is ExportState.DONE:
            self.store.set_state_if(
                job_id, (ExportState.DONE,), state=ExportState.DELETED, expires=None
            )
            self.files.remove(job_id)
        updated = self.store.get(job_id)
        if updated is not None:
            publish_job(self.trail, updated)
        return updated

    def sweep_orphans(self) -> None:
        """Folders whose job is gone or no longer holds files (a crash mid-delete)."""
        for job_id in self.files.job_ids():
            job = self.store.get(job_id)
            if job is None or job.state in _NO_FILES:
                self.files.remove(job_id)

    def expire(self) -> int:
        """Remove finished exports past their keep time; returns how many."""
        n = 0
        for job_id in self.store.expired():
            if self.store.set_state_if(job_id, (ExportState.DONE,), state=ExportState.EXPIRED):
                self.files.remove(job_id)
                n += 1
                log.info("export %s expired; files removed", job_id)
        return n

    def loop(self, stop: threading.Event, interval: float) -> None:
        """Expire every ``interval`` seconds until ``stop`` is set (a thread's target)."""
        while not stop.wait(interval):
            try:
                self.expire()
            except Exception:
                log.exception("export cleanup failed; retrying later")
