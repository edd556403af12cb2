"""The export service the API server runs: one object over queue, cleanup and files."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cctvctl.archive.cache import ArchiveCache
from cctvctl.config import Inventory
from cctvctl.exports.cleanup import ExportCleanup
from cctvctl.exports.files import ExportFiles
from cctvctl.exports.joined import FleetExports
from cctvctl.exports.plan import plan_export
from cctvctl.exports.queue import DEFAULT_CONCURRENCY, ExportQueue, publish_job
from cctvctl.exports.vault import EvidenceVault, VaultSetup
from cctvctl.models import ExportJob, ExportRequest
from cctvctl.storage.audit import AuditLog
from cctvctl.storage.database import Database
from cctvctl.storage.events import EventBus
from cctvctl.storage.exports import ExportStore
from cctvctl.storage.job_ids import new_job_id
from cctvctl.storage.job_trail import JobTrail

__all__ = ["Exporter"]


class Exporter:
    """Export jobs: request checks, the worker queue, cancellation and expiry.

    ``trail`` writes the audit rows of export requests, cancels and downloads and the
    ``job.progress`` events of every state change. ``fleet``: on a fleet node, how a job
    reaches other nodes' footage of its window (:mod:`~cctvctl.exports.joined`).
    ``vault``: the evidence bucket, where ``[archive]`` names one: every finished export
    is stored there under Object Lock (:mod:`~cctvctl.exports.vault`).
    """

    def __init__(
        self,
        *,
        index: Database,
        inventory: Inventory,
        events: EventBus | None = None,
        open_since: Callable[[str], datetime | None] = lambda camera: None,
        concurrency: int = DEFAULT_CONCURRENCY,
        cleanup_interval: float = 60.0,
        clock: Callable[[], float] = time.time,
        fleet: FleetExports | None = None,
        archive: ArchiveCache | None = None,
        vault: VaultSetup | None = None,
    ) -> None:
        """``archive``: where footage held only by the S3 archive is read back from."""
        self.index = index
        self.fleet = fleet
        self.inventory = inventory
        self.store = ExportStore(index, clock=clock)
        self.files = ExportFiles(index.root)
        self.root = self.files.root

        def kecamatan_of(camera: str) -> str | None:
            entry = self.inventory.camera(camera)
            return entry.kecamatan.key if entry is not None else None

        self.trail = JobTrail("export", AuditLog(index, clock=clock), events, kecamatan_of)
        self._open_since = open_since
        self._cleanup_interval = cleanup_interval
        self.vault: EvidenceVault | None = None
        if vault is not None:
            self.vault = EvidenceVault(
                bucket=vault.bucket,
                settings=vault.settings,
                store=self.store,
                files=self.files,
                trail=self.trail,
                clock=clock,
            )
        self.queue = ExportQueue(
            index=index,
            inventory=inventory,
            store=self.store,
            files=self.files,
            trail=self.trail,
            open_since=open_since,
            concurrency=concurrency,
            clock=clock,
            fleet=fleet,
            archive=archive,
            on_done=None if self.vault is None else self.vault.finished,
        )
        self.cleanup = ExportCleanup(
            store=self.store,
            files=self.files,
            queue=self.queue,
            trail=self.trail,
            clock=clock,
            vault=self.vault,
        )
        self._threads: list[threading.Thread] = []
        self._new_ids = threading.Lock()  # an id's draw and its insert, one request at a time

    # ------------------------------------------------------------------ life cycle

    def use_inventory(self, inventory: Inventory) -> None:
        """A reload: later requests and jobs see ``inventory``'s cameras and limits."""
        self.inventory = inventory
        self.queue.use_inventory(inventory)

    def start(self) -> None:
        self.index.modes.make_dirs(self.root)
        self.queue.requeue_running()
        self.cleanup.sweep_orphans()
        self._threads = self.queue.threads()
        t = threading.Thread(
            target=self.cleanup.loop,
            args=(self.queue.stopping, self._cleanup_interval),
            name="export-cleanup",
            daemon=True,
        )
        t.start()
        self._threads.append(t)
        if self.vault is not None:
            keeper = threading.Thread(
                target=self.vault.loop,
                args=(self.queue.stopping,),
                name="evidence-vault",
                daemon=True,
            )
            keeper.start()
            self._threads.append(keeper)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the workers; a job they were running goes back to the queue."""
        self.queue.stop()
        if self.vault is not None:
            self.vault.wake()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()

    # ------------------------------------------------------------------ requests

    def plan(self, req: ExportRequest, now: datetime | None = None) -> list[tuple[float, float]]:
        """Check a request against the inventory and the footage; returns predicted gaps.

        Raises :class:`~cctvctl.exports.plan.ExportRefused` for anything the caller must
        change.
        """
        return plan_export(
            req,
            inventory=self.inventory,
            index=self.index,
            open_since=self._open_since,
            now=datetime.now(UTC) if now is None else now,
            fleet=self.fleet is not None,
        )

    def submit(self, req: ExportRequest, requester: str, role: str) -> ExportJob:
        """Validate and queue; raises :class:`~cctvctl.exports.plan.ExportRefused`."""
        gaps = self.plan(req)
        with self._new_ids:
            job = self.store.create(
                new_job_id("", 16, self.store.short_id_taken),
                camera=req.camera,
                start=req.start.astimezone(UTC),
                end=req.end.astimezone(UTC),
                requester=requester,
                role=role,
                case_id=req.case_id,
                note=req.note,
                gaps=gaps,
            )
        publish_job(self.trail, job)
        self.queue.wake()
        return job

    def cancel(self, job_id: str) -> ExportJob | None:
        """Cancel a queued or running job, or delete a finished one's files."""
        return self.cleanup.cancel(job_id)

    def expire(self) -> int:
        """Remove finished exports past their keep time; returns how many."""
        return self.cleanup.expire()

    # ------------------------------------------------------------------ files

    def job_dir(self, job_id: str) -> Path:
        return self.files.job_dir(job_id)

    def clip_path(self, job: ExportJob) -> Path:
        return self.files.clip_path(job)

    def manifest_path(self, job: ExportJob) -> Path:
        return self.files.manifest_path(job)
