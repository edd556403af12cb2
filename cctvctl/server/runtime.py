"""The running backend: every service of a server, built once and stopped in order.

Start-up order matters: the database is reconciled with the disk *before* any ingest
thread opens a file, so a segment cut by a crash is repaired rather than raced; the
exporter starts after the recorder (a job waits on the recorder's open segments), and the
reboot service last (it watches the recorder). Shutdown runs the other way round: reboot
jobs in flight are marked interrupted (which needs the database), the exporter stops, the
recorder closes and indexes every open segment, and only then are the event bus and the
database closed.

Routes get the :class:`Runtime` through the one dependency :func:`get_runtime`; nothing
else of the server reads ``app.state``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

from fastapi import FastAPI, Request

from cctvctl.config import Inventory
from cctvctl.devicecheck import DeviceChecker
from cctvctl.exports import Exporter, FleetExports, PeerExports
from cctvctl.exports.vault import VaultSettings, VaultSetup
from cctvctl.health import HostProbe
from cctvctl.reboots import RebootManager
from cctvctl.recorder.manager import Recorder
from cctvctl.server.credentials import Redactor, TokenStore
from cctvctl.storage.audit import AuditLog
from cctvctl.storage.database import Database, SegmentLike
from cctvctl.storage.event_store import EventStore
from cctvctl.storage.events import EventBus
from cctvctl.storage.layout import parse_segment_path
from cctvctl.storage.modes import FileModes
from cctvctl.storage.reconcile import reconcile
from cctvctl.units import counted

if TYPE_CHECKING:
    from cctvctl.archive.cache import ArchiveCache
    from cctvctl.archive.uploader import Uploader
    from cctvctl.fleet.store import FleetStore

__all__ = [
    "DEFAULT_RETENTION_INTERVAL",
    "CountingDatabase",
    "Runtime",
    "get_runtime",
    "install",
    "redactor_for",
    "running",
    "runtime_of",
    "signal_stopping",
]

log = logging.getLogger(__name__)

#: Seconds between retention passes (the recorder runs them). A pass with nothing to
#: delete is a statvfs and a few indexed queries, and the disk guard's reserve always
#: holds two intervals of writes (retention.guard_seconds); a short one keeps a kecamatan
#: close to its quota and a small volume well used.
DEFAULT_RETENTION_INTERVAL: Final = 10.0
#: Seconds the shutdown waits for a fleet store call in flight before it closes anyway.
STORE_CLOSE_SECONDS: Final = 2.0


class CountingDatabase(Database):
    """The database, counting segments indexed since start-up for ``/metrics``.

    Counting at the database rather than in the recorder catches every writer that
    indexes a segment; only counting after :meth:`start_counting` keeps start-up
    reconciliation (old files) out of a "segments written" counter.
    """

    def __init__(self, root: Path | str, modes: FileModes) -> None:
        super().__init__(root, modes=modes)
        #: Called after each segment is indexed (the archive's uploader looks at once).
        self.on_segment: Callable[[], None] | None = None
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
        if self.on_segment is not None:
            self.on_segment()
        return row_id

    def written_snapshot(self) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], int]]:
        with self._count_lock:
            return dict(self.written), dict(self.written_bytes)


@dataclass(eq=False)
class Runtime:
    """Everything a request handler may need; :func:`running` builds it.

    Every field is built once, except ``inventory``, which a reload replaces
    (:mod:`cctvctl.server.reload`, under ``reload_lock``) after moving each service to it.
    """

    inventory: Inventory
    tokens: TokenStore
    redact: Redactor
    db: CountingDatabase
    events: EventBus
    recorder: Recorder
    audit: AuditLog
    exporter: Exporter
    reboots: RebootManager
    host: HostProbe
    started: datetime
    #: Set first at shutdown (and by the CLI on a signal): open event streams end on it.
    stopping: threading.Event
    #: One reload at a time (a SIGHUP and an API call may arrive together).
    reload_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: The fleet store of ``[fleet]``, None on a single node. It connects on first use, so
    #: a node whose store is down still starts and records (the edge never waits).
    fleet_store: FleetStore | None = None
    #: On a fleet node, what a reload of the node's own file runs instead of that file's
    #: cameras: its ``[server]`` with the fleet's cameras the node records now (set by
    #: ``server/fleet_node.py``, which stands above this module).
    fleet_view: Callable[[Inventory], Inventory] | None = None
    #: The S3 archive's uploader and read-back cache (``[archive]``); None without one.
    uploader: Uploader | None = None
    archive_cache: ArchiveCache | None = None
    #: Every ONVIF camera's clock and identity, read on a schedule (devicecheck/).
    devices: DeviceChecker | None = None

    @property
    def node(self) -> str | None:
        """This node's name in the fleet; None on a single node."""
        return self.inventory.server.node if self.fleet_store is not None else None

    def open_since(self, camera_id: str) -> datetime | None:
        """Start of the segment the camera is writing now, if any (not indexed yet)."""
        return _open_since(self.recorder, camera_id)

    def open_file(self, camera_id: str) -> tuple[datetime, Path] | None:
        """Start and file of the segment the camera is writing now, if any."""
        ingest = self.recorder.ingest(camera_id)
        opened = ingest.open_file if ingest is not None else None
        return None if opened is None else (datetime.fromtimestamp(opened[0], UTC), opened[1])


def _open_since(recorder: Recorder, camera_id: str) -> datetime | None:
    ingest = recorder.ingest(camera_id)
    start = ingest.open_segment_start if ingest is not None else None
    return None if start is None else datetime.fromtimestamp(start, UTC)


def get_runtime(request: Request) -> Runtime:
    """FastAPI dependency: the running backend (the lifespan put it on the app)."""
    rt: Runtime = request.app.state.runtime
    return rt


def redactor_for(inventory: Inventory) -> Redactor:
    """The redactor that masks every camera password of ``inventory``."""
    return Redactor(inventory.password(e.camera.id) for e in inventory.cameras())


def _open_database(inventory: Inventory) -> CountingDatabase:
    root = inventory.storage
    db = CountingDatabase(root, FileModes.for_file_mode(inventory.server.file_mode_bits))
    try:
        report = reconcile(root, db)
    except BaseException:
        db.close()
        raise
    log.info("storage %s: %s", db.root, report.summary())
    return db


def _archive(inventory: Inventory, db: Database) -> tuple[Uploader | None, ArchiveCache | None]:
    """The archive's uploader and read-back cache when ``[archive]`` is set."""
    config, keys = inventory.archive, inventory.archive_keys
    if config is None or keys is None:
        return None, None
    # Here, not at the top: a node without [archive] never loads boto3.
    from cctvctl.archive.cache import ArchiveCache
    from cctvctl.archive.s3 import make_client
    from cctvctl.archive.uploader import Uploader

    client = make_client(config, keys)
    log.info(
        "archive: %s bucket %s (cap %s, window %s)",
        config.endpoint,
        config.bucket,
        f"{config.upload_kbps} kbps" if config.upload_kbps else "none",
        config.upload_window or "always",
    )
    # Fleet nodes share the bucket: a fleet node's keys carry its name, so two nodes
    # recording one camera in a handover never replace each other's objects.
    node = inventory.server.node if inventory.fleet is not None else None
    return Uploader(db, config, client, node=node), ArchiveCache(db, config.bucket, client)


def _close_store(store: FleetStore) -> None:
    # Last of all, after the sync thread's bounded flush: a call still stuck on a dead
    # link must not hold the shutdown for TCP keepalive's time, or for ever.
    if not store.close(timeout=STORE_CLOSE_SECONDS):
        log.warning(
            "fleet store: a call still waits on the link after %g s; closing without it",
            STORE_CLOSE_SECONDS,
        )


def _evidence_vault(inventory: Inventory) -> VaultSetup | None:
    """The evidence bucket of ``[archive]``, or None; boto3 loads only when there is one."""
    archive = inventory.archive
    if archive is None or archive.evidence_bucket is None or inventory.archive_keys is None:
        return None
    from cctvctl.archive.evidence import EvidenceBucket
    from cctvctl.archive.s3 import make_client

    # Short: a finished export tries its copy once on the worker's thread before it is
    # reported done; a dead link must leave it pending quickly, not hold the worker.
    client = make_client(archive, inventory.archive_keys, connect_timeout=3.0, max_attempts=2)
    log.info(
        "evidence vault: bucket %s, %s mode, %d days",
        archive.evidence_bucket,
        archive.evidence_mode,
        archive.evidence_days,
    )
    return VaultSetup(
        bucket=EvidenceBucket(client, archive.evidence_bucket),
        settings=VaultSettings(
            bucket=archive.evidence_bucket,
            days=archive.evidence_days,
            mode=archive.evidence_mode,
        ),
    )


@asynccontextmanager
async def running(
    inventory: Inventory,
    *,
    retention_interval: float = DEFAULT_RETENTION_INTERVAL,
    redact: Redactor | None = None,
) -> AsyncIterator[Runtime]:
    """Start every service in order, yield the :class:`Runtime`, stop them in reverse.

    A service is stopped only if it was built; one that fails to stop does not keep the
    ones after it (the database last) from closing. ``redact``: the redactor the log
    handler uses too, so a camera added by a reload is masked in the log as well.
    """
    started = datetime.now(UTC)
    stopping = threading.Event()
    if redact is None:
        redact = redactor_for(inventory)
    async with AsyncExitStack() as stack:
        db = await asyncio.to_thread(_open_database, inventory)
        stack.callback(db.close)
        tokens = TokenStore(inventory.server.token)
        fleet_store = None
        fleet_exports: FleetExports | None = None
        if inventory.fleet is not None:
            # Here, not at the top: a single node never loads psycopg.
            from cctvctl.fleet.store import FleetStore
            from cctvctl.server.fleet_sync import FleetSync

            fleet_store = FleetStore(inventory.fleet.dsn)
            stack.callback(_close_store, fleet_store)
            sync = FleetSync.for_node(fleet_store, db, tokens, inventory)
            await asyncio.to_thread(sync.start)
            # Pushed before the recorder, so stopped after it: the last flush sends the
            # segments the recorder closed on its way out.
            stack.push_async_callback(asyncio.to_thread, sync.stop)
            fleet_exports = FleetExports(
                node=sync.node,
                catalogue=fleet_store,
                peers=PeerExports(token=lambda: sync.node_token),
            )
        bus = EventBus(EventStore(db))
        stack.callback(bus.close)
        recorder = Recorder(inventory, db, bus, retention_interval=retention_interval)

        async def stop_recorder() -> None:
            log.info("stopping: closing open segments")
            await asyncio.to_thread(recorder.stop)
            log.info("stopped; every open segment is closed and indexed")

        # Pushed before start: a recorder that fails half-way still closes what it opened.
        stack.push_async_callback(stop_recorder)
        db.start_counting()
        await asyncio.to_thread(recorder.start)
        uploader, archive_cache = _archive(inventory, db)
        if archive_cache is not None:
            recorder.cache_release = archive_cache.release
        if uploader is not None:
            await asyncio.to_thread(uploader.start)
            # Stopped before the recorder: an upload cut here resumes at the next start.
            stack.push_async_callback(asyncio.to_thread, uploader.stop)
            db.on_segment = uploader.kick
        exporter = Exporter(
            index=db,
            inventory=inventory,
            events=bus,
            open_since=functools.partial(_open_since, recorder),
            fleet=fleet_exports,
            archive=archive_cache,
            vault=_evidence_vault(inventory),
        )
        await asyncio.to_thread(exporter.start)
        stack.push_async_callback(asyncio.to_thread, exporter.stop)
        reboots = RebootManager(inventory, db, recorder, bus, redact=redact)
        await reboots.start()
        stack.push_async_callback(reboots.stop)
        devices = DeviceChecker(inventory, db, recorder, redact=redact)
        await devices.start()
        stack.push_async_callback(devices.stop)
        # Last pushed, so first run: event streams end before anything else stops.
        stack.callback(stopping.set)
        rt = Runtime(
            inventory=inventory,
            tokens=tokens,
            redact=redact,
            db=db,
            events=bus,
            recorder=recorder,
            audit=AuditLog(db),
            exporter=exporter,
            reboots=reboots,
            host=HostProbe(),
            started=started,
            stopping=stopping,
            fleet_store=fleet_store,
            uploader=uploader,
            archive_cache=archive_cache,
            devices=devices,
        )
        log.info(
            "serving %d kecamatan, %s configured",
            len(inventory.kecamatan),
            counted(len(inventory.server.token), "API token"),
        )
        yield rt


def install(app: FastAPI, rt: Runtime) -> None:
    """Make ``rt`` what :func:`get_runtime` answers for requests to ``app``."""
    app.state.runtime = rt


def runtime_of(app: FastAPI) -> Runtime | None:
    """The backend ``app`` serves, for signal handlers; None before start-up has finished."""
    rt: Runtime | None = getattr(app.state, "runtime", None)
    return rt


def signal_stopping(app: FastAPI) -> None:
    """Tell the open event streams of ``app`` to end (the CLI's signal handler calls it).

    uvicorn waits for open responses before it runs the lifespan shutdown, so the streams
    must end first; before start-up has finished there is nothing to tell.
    """
    rt = runtime_of(app)
    if rt is not None:
        rt.stopping.set()
