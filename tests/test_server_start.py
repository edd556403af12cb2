"""`cctvctl server` refuses an unusable inventory with one line and exit 2, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from harness import REPO, ServerProcess, Site, SiteSpec


def run_server(site: Site) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cctvctl", "server", "--config", str(site.config)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=os.environ.copy(),
        timeout=60,
    )


def one_error_line(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    return lines[0]


def test_storage_that_cannot_be_made_exits_2(site_factory: Callable[..., Site]) -> None:
    site = site_factory(SiteSpec(cameras=1, kecamatan=("Bengalon",)))
    text = site.config.read_text().replace('storage = "recordings"', 'storage = "/dev/null/x"')
    site.config.write_text(text)
    line = one_error_line(run_server(site))
    assert str(site.config) in line and "server.storage" in line and "/dev/null" in line


def test_deeply_nested_inventory_exits_2(site_factory: Callable[..., Site]) -> None:
    site = site_factory(SiteSpec(cameras=1, kecamatan=("Bengalon",)))
    site.config.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    line = one_error_line(run_server(site))
    assert str(site.config) in line and "nested too deeply" in line


def _main_thread_wakeups(pid: int) -> int:
    """Voluntary context switches of a process's main thread so far (each a wake-up)."""
    status = Path(f"/proc/{pid}/task/{pid}/status").read_text()
    return int(next(ln for ln in status.splitlines() if ln.startswith("voluntary_ctxt"))[24:])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_an_idle_server_wakes_its_event_loop_about_once_a_second_and_stops_at_once(
    site_factory: Callable[..., Site],
) -> None:
    # uvicorn's own loop wakes ten times a second; each wake-up costs CPU on a small
    # machine whatever it finds to do (about 2.4 ms a second on the 2-core VM).
    site = site_factory(SiteSpec(cameras=1, kecamatan=("Bengalon",), disabled=(0,)))
    server = ServerProcess(site).start()
    try:
        assert server.proc is not None
        pid = server.proc.pid
        assert httpx.get(f"{server.url}/healthz", timeout=5).headers.get("date")
        time.sleep(1.0)  # start-up work done
        before = _main_thread_wakeups(pid)
        time.sleep(4.0)
        woke = _main_thread_wakeups(pid) - before
        assert woke <= 15, f"the main thread woke {woke} times in 4 s"
        began = time.monotonic()
        assert server.stop(timeout=30) == 0
        # A signal wakes the loop at once, not at its next tick.
        assert time.monotonic() - began < 5.0
    finally:
        if server.proc is not None and server.proc.poll() is None:
            server.proc.kill()
