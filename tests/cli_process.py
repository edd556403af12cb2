"""``python -m cctvctl`` as a subprocess, the way an operator's shell runs it.

The environment starts from the test runner's own with every ``CCTVCTL_*`` variable
removed, so a developer's context or token can never leak into a test, and points
``CCTVCTL_CONFIG`` at a file that does not exist unless a test names one.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
from collections.abc import Iterable
from typing import IO

from harness import REPO

__all__ = [
    "NO_CONFIG",
    "STYLE_VARS",
    "clean_env",
    "drain_pty",
    "last_error",
    "node_env",
    "run_cctvctl",
]

NO_CONFIG = "/nonexistent/cctvctl-test-config.toml"
#: Variables that would switch rich's colour on or off behind a test's back.
STYLE_VARS = ("NO_COLOR", "FORCE_COLOR")


def clean_env(*, drop: Iterable[str] = ()) -> dict[str, str]:
    """The runner's environment without ``CCTVCTL_*`` and without the names in ``drop``."""
    gone = set(drop)
    return {k: v for k, v in os.environ.items() if not k.startswith("CCTVCTL_") and k not in gone}


def node_env(
    url: str, token: str, *, columns: int | None, drop: Iterable[str] = STYLE_VARS
) -> dict[str, str]:
    """A clean environment that talks to one node (``--url``/``--token`` by environment)."""
    env = clean_env(drop=drop) | {
        "CCTVCTL_CONFIG": NO_CONFIG,
        "CCTVCTL_URL": url,
        "CCTVCTL_TOKEN": token,
    }
    if columns is not None:
        env["COLUMNS"] = str(columns)
    return env


def run_cctvctl(
    *args: str,
    env: dict[str, str],
    stdin: int | IO[str] | None = None,
    input: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Runs the CLI from the repository root; stdout and stderr captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "cctvctl", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        stdin=stdin,
        input=input,
        timeout=timeout,
    )


def last_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The CLI's closing ``cctvctl: error: ...`` line (asserted to be there)."""
    lines = proc.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("cctvctl: error: "), proc.stderr
    return lines[-1]


def drain_pty(fd: int, screen: bytearray, *, idle: float = 60) -> None:
    """Reads a pty's output into ``screen`` until the child closes the terminal."""
    while True:
        ready, _, _ = select.select([fd], [], [], idle)
        assert ready, f"the CLI wrote nothing for {idle:.0f} s; screen so far: {bytes(screen)!r}"
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            return
        if not chunk:
            return
        screen += chunk
