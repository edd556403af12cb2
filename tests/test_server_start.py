"""`cctvctl server` refuses an unusable inventory with one line and exit 2, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

from harness import REPO, Site, SiteSpec


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
