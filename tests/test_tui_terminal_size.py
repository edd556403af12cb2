"""The console fills the terminal it runs in, whatever COLUMNS and LINES say.

A login shell or a script may export COLUMNS/LINES; Python's terminal size (and so
Textual's) believes them before the terminal. A real `cctvctl tui` on a real pty of
100x30 with COLUMNS=60 LINES=15 exported, against a real server, replayed into a
terminal emulator (pyte): the screen uses all 30 rows, and a resize to 80x24 reaches it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import Iterator

import pyte
import pytest
from cli_process import clean_env
from harness import REPO, ServerProcess, Site, SiteSpec, wait_for, write_site


def _set_size(fd: int, cols: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class _Terminal:
    """What a terminal of ``cols`` x ``rows`` shows of everything the child wrote."""

    def __init__(self, fd: int, cols: int, rows: int) -> None:
        self.fd = fd
        self.screen = pyte.Screen(cols, rows)
        self._stream = pyte.ByteStream(self.screen)
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._done.is_set():
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if not ready:
                continue
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                return
            if not data:
                return
            with self._lock:
                self._stream.feed(data)

    def resize(self, cols: int, rows: int) -> None:
        with self._lock:
            self.screen.resize(rows, cols)

    def lines(self) -> list[str]:
        with self._lock:
            return list(self.screen.display)

    def close(self) -> None:
        self._done.set()
        self._thread.join(2)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, ServerProcess]]:
    site = write_site(tmp_path_factory.mktemp("tui-size"), SiteSpec(cameras=1))
    server = ServerProcess(site).start()
    try:
        yield site, server
    finally:
        server.stop()


def _used_rows(lines: list[str]) -> int:
    """1 + the last row with anything on it."""
    return max((n + 1 for n, line in enumerate(lines) if line.strip()), default=0)


def test_exported_columns_and_lines_do_not_shrink_the_console(
    server: tuple[Site, ServerProcess],
) -> None:
    site, running = server
    master, slave = os.openpty()
    _set_size(slave, 100, 30)
    env = clean_env() | {"TERM": "xterm-256color", "COLUMNS": "60", "LINES": "15"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cctvctl", "tui", "--url", running.url],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=REPO,
        env=env | {"CCTVCTL_TOKEN": site.tokens["viewer"]},
        start_new_session=True,
    )
    os.close(slave)
    terminal = _Terminal(master, 100, 30)
    kecamatan = next(iter(site.kecamatan.values()))
    try:
        lines = wait_for(
            lambda: (ls := terminal.lines()) and any(kecamatan in line for line in ls) and ls,
            60,
            what="the overview",
        )
        lines = wait_for(
            lambda: (ls := terminal.lines()) and _used_rows(ls) == 30 and ls,
            10,
            what=f"all 30 rows in use; shown: {lines}",
        )
        assert max(len(line.rstrip()) for line in lines) > 60, lines

        _set_size(master, 80, 24)
        terminal.resize(80, 24)
        proc.send_signal(signal.SIGWINCH)
        wait_for(
            lambda: (ls := terminal.lines()) and _used_rows(ls) == 24 and ls,
            15,
            what="the console redrawn at 80x24",
        )
    finally:
        with contextlib.suppress(OSError):
            os.write(master, b"q")
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        terminal.close()
        os.close(master)
    assert proc.returncode == 0
