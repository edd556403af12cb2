"""server/runtime.py: every service built once, stopped in reverse, on a real site.

The server's routes are covered over HTTP elsewhere; these tests drive ``running`` itself
with the real simulator, recorder, exporter and SQLite, to pin what only its order
guarantees: segments still open at shutdown are indexed before the database closes, and
a service that fails to start does not leave the ones before it running.
"""

from __future__ import annotations

import ast
import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from harness import REPO, RunningSim, Site, SiteSpec, wait_for

from cctvctl.config import load_inventory
from cctvctl.server.runtime import running
from cctvctl.storage.database import INDEX_FILENAME, Database
from cctvctl.storage.events import SubscriptionClosed

SERVER = REPO / "cctvctl" / "server"


def _backend_threads() -> set[threading.Thread]:
    """Live camera ingest and export worker threads (the ones a stop joins)."""
    return {t for t in threading.enumerate() if t.name.startswith(("ingest-", "export-"))}


def test_running_stops_everything_in_reverse_and_indexes_open_segments(
    site_factory: Callable[..., Site],
    sim_factory: Callable[[Site], RunningSim],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="cctvctl.server")
    site = site_factory(SiteSpec(cameras=2, segment_seconds=60))
    sim_factory(site)
    inventory = load_inventory(site.config)
    # One token, so the start-up line's count has to agree with its noun.
    server = inventory.server.model_copy(update={"token": inventory.server.token[:1]})
    inventory = replace(inventory, data=inventory.data.model_copy(update={"server": server}))
    before = _backend_threads()

    async def scenario() -> tuple[int, bool]:
        async with running(inventory, retention_interval=3600) as rt:
            sub = rt.events.subscribe()
            await asyncio.to_thread(
                wait_for,
                lambda: all(c.recording for c in rt.recorder.cameras()),
                30,
                what="both cameras recording",
            )
            # A 60 s segment is still open: nothing of it is indexed yet.
            indexed_while_running = rt.db.segment_count()
            stopping = rt.stopping
            assert not stopping.is_set()
        with pytest.raises(SubscriptionClosed):
            while True:  # what was queued, then the end the closed bus gave it
                await asyncio.wait_for(sub.get(), 5)
        return indexed_while_running, stopping.is_set()

    indexed_while_running, stopped = asyncio.run(scenario())
    assert "1 API token configured" in caplog.text
    assert indexed_while_running == 0
    assert stopped
    assert _backend_threads() - before == set()
    # The recorder stopped before the database closed, so the open segments are rows.
    files = sorted(site.storage.rglob("*.mp4"))
    assert len(files) >= 2  # one per camera, more only if a camera reconnected
    with Database(site.storage) as db:
        assert db.all_paths() == set(files)


def test_a_service_that_fails_to_start_stops_the_ones_before_it(
    site_factory: Callable[..., Site], sim_factory: Callable[[Site], RunningSim]
) -> None:
    site = site_factory(SiteSpec(cameras=1))
    sim_factory(site)
    inventory = load_inventory(site.config)
    site.storage.mkdir(parents=True, exist_ok=True)
    # The exporter keeps its clips in {storage}/.exports: a file there stops it starting,
    # after the database is open and the recorder running.
    (site.storage / ".exports").write_text("in the way")
    before = _backend_threads()

    async def scenario() -> None:
        async with running(inventory, retention_interval=3600):
            raise AssertionError("the runtime started without its exporter")

    with pytest.raises(OSError, match="exports"):
        asyncio.run(scenario())
    assert _backend_threads() - before == set()
    # SQLite removes the write-ahead log when the last connection closes.
    assert (site.storage / INDEX_FILENAME).exists()
    assert not (site.storage / f"{INDEX_FILENAME}-wal").exists()


def _reads_app_state(path: Path) -> list[int]:
    """Lines of ``path`` that read ``<something>.app.state`` or ``app.state``."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and node.attr == "state":
            owner = node.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if name == "app":
                lines.append(node.lineno)
    return lines


def test_only_the_runtime_module_touches_app_state() -> None:
    offenders = {
        str(path.relative_to(REPO)): lines
        for path in sorted(SERVER.rglob("*.py"))
        if path.name != "runtime.py" and (lines := _reads_app_state(path))
    }
    assert offenders == {}
