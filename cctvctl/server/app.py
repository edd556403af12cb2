"""The FastAPI application: factory, start-up and shutdown of the recording backend.

Start-up order matters: the index is reconciled with the disk *before* any ingest thread
opens a file, so a segment cut by a crash is repaired rather than raced. Shutdown runs
the other way round: the recorder stops first, closing and indexing every open segment,
and only then are the event bus and the index closed.

uvicorn only starts listening once the lifespan start-up has finished, so ``/healthz``
answering means the recorder is running.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from cctvctl import __version__
from cctvctl.config import Inventory
from cctvctl.exporter import Exporter
from cctvctl.health import HostProbe
from cctvctl.models import Role
from cctvctl.recorder.manager import Recorder
from cctvctl.server import openapi, problems
from cctvctl.server.auth import Redactor, TokenStore, require
from cctvctl.storage.audit import AuditLog
from cctvctl.storage.database import Database, SegmentLike
from cctvctl.storage.events import EventBus
from cctvctl.storage.layout import parse_segment_path
from cctvctl.storage.modes import FileModes
from cctvctl.storage.reconcile import reconcile

__all__ = ["DEFAULT_RETENTION_INTERVAL", "Runtime", "create_app", "runtime"]

log = logging.getLogger(__name__)

#: Seconds between retention passes (the recorder runs them). A pass with nothing to
#: delete is a statvfs and a few indexed queries, and the disk guard's reserve (an hour
#: of writes) dwarfs this interval; a short one keeps a kecamatan close to its quota.
DEFAULT_RETENTION_INTERVAL: Final = 10.0

API_DESCRIPTION: Final = """\
Recording backend of the Kutai Timur CCTV network.

Every route except `/healthz` needs `Authorization: Bearer <token>` (make one with
`cctvctl token create`). Roles are ordered viewer < operator < admin; every read route,
`/metrics` included, needs viewer. Errors are RFC 9457 `application/problem+json`.
Times are RFC 3339 UTC.
"""


class CountingDatabase(Database):
    """The segment index, counting segments indexed since start-up for ``/metrics``.

    Counting at the index rather than in the recorder catches every writer that indexes
    a segment; only counting after :meth:`start_counting` keeps start-up reconciliation
    (old files) out of a "segments written" counter.
    """

    def __init__(self, root: Path | str, modes: FileModes) -> None:
        super().__init__(root, modes=modes)
        self._counting = False
        self._count_lock = threading.Lock()
        self.written: Counter[tuple[str, str]] = Counter()  # (kecamatan, camera) -> segments
        self.written_bytes: Counter[tuple[str, str]] = Counter()

    def start_counting(self) -> None:
        self._counting = True

    def add_segment(self, record: SegmentLike, *, kecamatan: str | None = None) -> int:
        row_id = super().add_segment(record, kecamatan=kecamatan)
        if self._counting:
            if kecamatan is None:
                key = parse_segment_path(self.root, record.path)
                kecamatan = key.kecamatan if key is not None else "unknown"
            with self._count_lock:
                self.written[(kecamatan, record.camera_id)] += 1
                self.written_bytes[(kecamatan, record.camera_id)] += int(record.bytes)
        return row_id

    def written_snapshot(self) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], int]]:
        with self._count_lock:
            return dict(self.written), dict(self.written_bytes)


@dataclass
class Runtime:
    """Everything a request handler may need, built by the lifespan start-up."""

    inventory: Inventory
    index: CountingDatabase
    events: EventBus
    recorder: Recorder
    host: HostProbe
    redact: Redactor
    started: datetime
    stopping: threading.Event = field(default_factory=threading.Event)

    def open_since(self, camera_id: str) -> datetime | None:
        """Start of the segment the camera is writing now, if any (not indexed yet)."""
        ingest = self.recorder.ingest(camera_id)
        start = ingest.open_segment_start if ingest is not None else None
        return None if start is None else datetime.fromtimestamp(start, UTC)


def runtime(request: Request) -> Runtime:
    """FastAPI dependency: the running backend."""
    rt: Runtime = request.app.state.runtime
    return rt


def _open_storage(inventory: Inventory) -> CountingDatabase:
    root = inventory.storage
    index = CountingDatabase(root, FileModes.for_file_mode(inventory.server.file_mode_bits))
    try:
        report = reconcile(root, index)
    except BaseException:
        index.close()
        raise
    log.info("storage %s: %s", index.root, report.summary())
    return index


def create_app(
    inventory: Inventory,
    *,
    retention_interval: float = DEFAULT_RETENTION_INTERVAL,
) -> FastAPI:
    """The API application for ``inventory``; the recorder runs while the app is served."""
    from cctvctl.server.routes import cameras, events, health, kecamatan, metrics, recordings

    redactor = Redactor(inventory.password(e.camera.id) for e in inventory.cameras())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        index = await asyncio.to_thread(_open_storage, inventory)
        bus = EventBus(index)
        recorder = Recorder(inventory, index, bus, retention_interval=retention_interval)
        rt = Runtime(
            inventory=inventory,
            index=index,
            events=bus,
            recorder=recorder,
            host=HostProbe(),
            redact=redactor,
            started=datetime.now(UTC),
        )
        try:
            index.start_counting()
            await asyncio.to_thread(recorder.start)
            app.state.runtime = rt
            app.state.audit = AuditLog(index)
            # After the recorder: a job waits on the recorder's open segments.
            exporter = Exporter(
                index=index, inventory=inventory, events=bus, open_since=rt.open_since
            )
            await asyncio.to_thread(exporter.start)
            app.state.exporter = exporter
            from cctvctl.devices.reboots import RebootManager

            reboots = RebootManager(inventory, index, recorder, bus, redact=redactor)
            await reboots.start()
            app.state.reboots = reboots
            metrics.register(app, rt)
            log.info(
                "serving %d kecamatan, %d tokens configured",
                len(inventory.kecamatan),
                len(inventory.server.token),
            )
            yield
        finally:
            rt.stopping.set()
            if getattr(app.state, "reboots", None) is not None:
                # First: it marks in-flight reboots interrupted, which needs the index.
                await app.state.reboots.stop()
            if getattr(app.state, "exporter", None) is not None:
                await asyncio.to_thread(app.state.exporter.stop)
            log.info("stopping: closing open segments")
            try:
                await asyncio.to_thread(recorder.stop)
            finally:
                bus.close()
                index.close()
            log.info("stopped; every open segment is closed and indexed")

    # FastAPI's own /openapi.json would be the one unauthenticated route besides /healthz;
    # it is served below behind a viewer token instead, and the browser UIs (which cannot
    # send one when they fetch it) are off.
    app = FastAPI(
        title="cctvctl",
        version=__version__,
        description=API_DESCRIPTION,
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        # Starlette's trailing-slash redirect builds its Location from the Host header,
        # so a forged Host would come back as a redirect to anywhere: a stray slash is a
        # 404 problem like any other unknown path.
        redirect_slashes=False,
    )
    app.state.tokens = TokenStore(inventory.server.token)
    app.state.inventory = inventory
    problems.install(app)
    openapi.install(app)
    app.include_router(health.router)
    app.include_router(cameras.router)
    app.include_router(recordings.router)
    app.include_router(kecamatan.router)
    app.include_router(events.router)
    app.include_router(metrics.router)
    from cctvctl.server.routes import audit as audit_routes
    from cctvctl.server.routes import exports as export_routes

    app.include_router(export_routes.router)
    app.include_router(audit_routes.router)
    from cctvctl.server.routes import reboots as reboot_routes

    app.include_router(reboot_routes.router)

    @app.get(
        "/openapi.json",
        include_in_schema=False,
        dependencies=[Depends(require(Role.VIEWER))],
    )
    def openapi_document() -> JSONResponse:
        return JSONResponse(app.openapi())

    return app
