"""Fixtures shared by the tests; the integration machinery lives in ``tests/harness.py``."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from harness import (
    Live,
    RunningSim,
    ServerProcess,
    Site,
    SiteSpec,
    live_site,
    start_sim,
    wait_for,
    write_site,
)
from pg_harness import FLEET_TABLES, PgDatabase, PgEngine, find_pg_bin, sql, temporary_root
from s3_harness import S3Engine

from cctvctl.storage.database import Database

if TYPE_CHECKING:
    from cctvctl.fleet.store import FleetStore

# The modules that take longest, longest first: each file's tests summed from one whole
# run (`pytest --durations=0`, 3 workers on 2 busy cores), except the disk guard's file,
# first because it waits about 90 s whatever the load. `make test` hands whole files to
# its workers in collection order (--dist loadfile --no-loadscope-reorder), so these start
# first and no long one starts last while the other workers sit idle; xdist's own order
# (most tests first) ran the single-test files of 60-90 s at the very end.
SLOW_FIRST = (
    "test_stream_quirks.py",
    "test_disk_guard_volume.py",
    "test_fleet_outage.py",
    "test_cli_commands.py",
    "test_api.py",
    "test_cli_reboot.py",
    "test_recovery.py",
    "test_fleet_failover.py",
    "test_fleet_export.py",
    "test_fleet_export_sizes.py",
    "test_tui_fleet_grid.py",
    "test_fleet_stop.py",
    "test_archive_server.py",
    "test_archive_cap.py",
    "test_tui.py",
    "test_cli_exit_codes.py",
    "test_tui_exports.py",
    "test_cli_export.py",
    "test_openapi_contract.py",
    "test_tui_camera.py",
    "test_tui_snapshots.py",
    "test_client.py",
    "test_cli_terminal_safety.py",
    "test_reboots.py",
    "test_demo.py",
    "test_exports.py",
    "test_camera_time.py",
    "test_evidence_vault.py",
    "test_export_multisize.py",
    "test_file_modes.py",
    "test_recorder.py",
    "test_hostile_api.py",
    "test_contexts.py",
    "test_sim_rtsp.py",
    "test_cli_startup.py",
    "test_cli_job_follow.py",
    "test_connection_guard.py",
    "test_tui_nodes.py",
    "test_tui_fleet_live.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: n for n, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: file order kept


@pytest.fixture(scope="session")
def sim_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Encoded scene loops, shared by every simulator of the session (encoded once)."""
    return tmp_path_factory.mktemp("sim-cache")


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[PgEngine]:
    """One PostgreSQL per xdist worker, started on first use (a few seconds), for the session."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        pytest.fail("PostgreSQL not found under /usr/lib/postgresql/*/bin: run `make sysdeps`")
    engine = PgEngine(bin_dir, temporary_root()).init().start()
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def s3_engine() -> Iterator[S3Engine]:
    """One S3 server (moto, over HTTP on 127.0.0.1) per xdist worker, for the session.

    Tests take a bucket of their own (``s3_engine.make_bucket()``); ``stop()``/``start()``
    cut the link and restore it, and the store keeps its objects across them.
    """
    engine = S3Engine().start()
    yield engine
    engine.stop()


@pytest.fixture
def s3(s3_engine: S3Engine) -> S3Engine:
    """The session's S3 server, running (a test that cut the link and failed is undone)."""
    s3_engine.start()
    return s3_engine


@pytest.fixture(scope="module")
def pg(pg_engine: PgEngine) -> Iterator[PgDatabase]:
    """A fresh database per test module; ``pg.stop()``/``pg.start()`` stop the engine."""
    database = PgDatabase(pg_engine.create_database(), pg_engine)
    yield database
    if not pg_engine.running:  # a test that stopped the engine and failed before restarting
        pg_engine.start()


@pytest.fixture
def fleet_store(pg: PgDatabase) -> Iterator[FleetStore]:
    """The fleet store on the module's database, emptied for each test."""
    from cctvctl.fleet.store import FleetStore  # psycopg: only for the tests that use it

    with FleetStore.open(pg.dsn) as opened:
        sql(pg.dsn, f"TRUNCATE {FLEET_TABLES}")
        yield opened


@pytest.fixture
def index(tmp_path: Path) -> Iterator[Database]:
    """A fresh storage index (SQLite) under ``tmp_path``, closed after the test."""
    idx = Database(tmp_path / "storage")
    yield idx
    idx.close()


@pytest.fixture
def site_factory(tmp_path: Path) -> Callable[..., Site]:
    """``site_factory(SiteSpec(...))`` writes a site inventory under ``tmp_path``."""
    count = 0

    def make(spec: SiteSpec | None = None) -> Site:
        nonlocal count
        count += 1
        return write_site(tmp_path / f"site-{count}", spec or SiteSpec())

    return make


@pytest.fixture
def sim_factory(sim_cache: Path) -> Iterator[Callable[[Site], RunningSim]]:
    """``sim_factory(site)`` serves the site's cameras until the test ends."""
    sims: list[RunningSim] = []

    def make(site: Site) -> RunningSim:
        sim = start_sim(site, sim_cache)
        sims.append(sim)
        return sim

    yield make
    for sim in reversed(sims):
        sim.stop()


@pytest.fixture
def server_factory() -> Iterator[Callable[..., ServerProcess]]:
    """``server_factory(site)`` starts `cctvctl server` for the site; stopped at teardown."""
    servers: list[ServerProcess] = []

    def make(site: Site, *, start: bool = True, args: tuple[str, ...] = ()) -> ServerProcess:
        server = ServerProcess(site, args=args)
        servers.append(server)
        return server.start() if start else server

    yield make
    for server in reversed(servers):
        if server.running:
            server.stop()


@pytest.fixture
def live_factory(
    site_factory: Callable[..., Site],
    sim_factory: Callable[[Site], RunningSim],
    server_factory: Callable[..., ServerProcess],
) -> Callable[..., Live]:
    """``live_factory(SiteSpec(...), args=...)``: a site of the test's own, served by the
    simulator and a running server (started with ``args``); all stopped at teardown."""

    def make(spec: SiteSpec | None = None, *, args: tuple[str, ...] = ()) -> Live:
        site = site_factory(spec)
        sim = sim_factory(site)
        return Live(site, sim, server_factory(site, args=args))

    return make


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, sim_cache: Path) -> Iterator[Live]:
    """The default site (4 cameras, 2 kecamatan) with sim and server, shared by a module."""
    with live_site(tmp_path_factory.mktemp("live"), sim_cache) as running:
        yield running


@pytest.fixture(scope="module")
def ready(live: Live) -> Live:
    """The module's live site once every camera has delivered a frame."""

    def has_frame(camera: str) -> bool:
        return live.server.get(f"/api/v1/cameras/{camera}/thumbnail").status_code == 200

    for camera in live.site.camera_ids:
        wait_for(functools.partial(has_frame, camera), 30, what=f"a thumbnail of {camera}")
    return live


@pytest.fixture(scope="module")
def stopped(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of a server that ran and was stopped: nothing listens there any more."""
    site = write_site(tmp_path_factory.mktemp("stopped"), SiteSpec(cameras=1, kecamatan=("A",)))
    server = ServerProcess(site).start()
    assert server.stop() == 0
    return server.url


@pytest.fixture
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The console's clock stopped at the fixed site's NOW (``tests/tui_fixture.py``)."""
    # Imported here so sessions without a TUI test never load Textual.
    from tui_fixture import NOW

    from cctvctl.tui import clock

    monkeypatch.setattr(clock, "now", lambda: NOW)
