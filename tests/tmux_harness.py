"""A tmux server of our own (``tmux -L``, so no other tmux server is touched) with one
session of a given size: a real terminal to run the console in, send keys to, and read."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

__all__ = ["Tmux"]


class Tmux:
    """One session, ``width`` x ``height`` (80x24 unless told)."""

    def __init__(self, width: int = 80, height: int = 24) -> None:
        self.socket = f"cctvctl-test-{uuid.uuid4().hex[:8]}"
        self.session = "demo"
        self.width, self.height = width, height
        self.socket_path: Path | None = None

    def run(self, *args: str) -> str:
        proc = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10
        )
        return proc.stdout

    def start(self, command: str) -> None:
        size = ("-x", str(self.width), "-y", str(self.height))
        self.run("new-session", "-d", "-s", self.session, *size, command)
        self.socket_path = Path(self.run("display-message", "-p", "#{socket_path}").strip())

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.session)

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", self.session, *keys)

    def pane_pid(self) -> int:
        return int(self.run("display-message", "-p", "-t", self.session, "#{pane_pid}"))

    def kill_session(self) -> None:
        self.run("kill-session", "-t", self.session)

    def kill_server(self) -> None:
        self.run("kill-server")
        if self.socket_path is not None and self.socket_path.name == self.socket:
            self.socket_path.unlink(missing_ok=True)
