"""Client commands never load the heavy parts (video, TUI, web server, SOAP).

Timing is measured by ``benchmarks/cli_startup.py``, not asserted here; what is asserted
is which modules a real run loads, read from ``python -X importtime`` (one line per
module imported, on stderr).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from harness import REPO, Live

HEAVY = (
    "av",
    "textual",
    "fastapi",
    "starlette",
    "uvicorn",
    "zeep",
    "onvif",
    "PIL",
    "psutil",
    "psycopg",
)
# The backend, which the CLI reaches only over HTTP.
BACKEND = (
    "cctvctl.server",
    "cctvctl.recorder",
    "cctvctl.storage",
    "cctvctl.health",
    "cctvctl.fleet",
)
_LINE = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|(\s*)(\S+)$")


def imported(
    args: list[str], env: dict[str, str]
) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cctvctl", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=REPO,
        timeout=60,
    )
    modules = {m[2] for line in proc.stderr.splitlines() if (m := _LINE.match(line))}
    return modules, proc


def top_levels(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


@pytest.mark.parametrize(
    "args",
    [
        ["status", "--json"],
        ["cameras", "--json"],
        ["health"],
        ["gaps", "--since", "5m", "--json"],
    ],
)
def test_client_commands_stay_light(live: Live, args: list[str]) -> None:
    env = {"CCTVCTL_URL": live.server.url, "CCTVCTL_TOKEN": live.site.tokens["viewer"]}
    modules, proc = imported(args, env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "cctvctl.client" in modules  # the control: the run was real and was traced
    assert top_levels(modules, HEAVY) == []
    assert top_levels(modules, BACKEND) == []
    # Only the picture needs numpy; the tables do not.
    assert top_levels(modules, ("numpy",)) == []


def test_help_loads_neither_http_nor_pydantic() -> None:
    modules, proc = imported(["--help"], {})
    assert proc.returncode == 0
    assert "typer" in modules
    assert top_levels(modules, ("httpx", "pydantic", "asyncio", "numpy", *HEAVY)) == []


def test_one_server_status_json_runs_without_an_event_loop(live: Live) -> None:
    """One node needs no asyncio or anyio (~60 ms), and JSON needs no rich (~20 ms)."""
    env = {"CCTVCTL_URL": live.server.url, "CCTVCTL_TOKEN": live.site.tokens["viewer"]}
    modules, proc = imported(["status", "--json"], env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "cctvctl.client" in modules
    assert top_levels(modules, ("asyncio", "rich", "pygments", "click")) == []
    assert "anyio._backends._asyncio" not in modules
