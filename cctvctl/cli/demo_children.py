"""The demo's children: ``python -m cctvctl ...`` in sessions of their own, logs in files.

A Ctrl-C typed into the console reaches only the console, so the demo decides the order
of shutdown. On Linux a child also asks the kernel for SIGTERM when the demo dies
(``PR_SET_PDEATHSIG``), which covers a SIGKILL of the demo as well.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Final

__all__ = ["STOP_SECONDS", "Child"]

STOP_SECONDS: Final = 10.0
LOG_TAIL_LINES: Final = 15
PR_SET_PDEATHSIG: Final = 1  # <linux/prctl.h>


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux for SIGTERM when the demo dies, even by SIGKILL."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the demo died before prctl took effect
            os._exit(1)

    return preexec


class Child:
    """A ``python -m cctvctl ...`` child in a session of its own, its output in a log file."""

    def __init__(self, name: str, args: list[str], log: Path, *, outlive: bool = False) -> None:
        import subprocess

        self.name = name
        self.log = log
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cctvctl", *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                # No other thread runs here (loops are encoded before), so it is safe.
                # A child meant to outlive the demo (--keep) must not die with it.
                preexec_fn=None if outlive else _die_with_parent(),
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = LOG_TAIL_LINES) -> list[str]:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return []
        return text.splitlines()[-lines:]

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """SIGTERM to its process group, up to ``timeout`` s, then SIGKILL."""
        import subprocess

        if self.alive():
            self._signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.proc.wait()
        # Anything the child started and left in its group goes too.
        self._signal_group(signal.SIGKILL)

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)
