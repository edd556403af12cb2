"""Server text never runs as terminal commands in the CLI (issue 9, item 1).

A viewer's refused export stores its ``case_id`` verbatim in the audit log, and an export
job keeps its case and note; an admin then lists them. The hostile rows go into the
server's database through the storage layer (the API itself may refuse such text), and the
real server hands them to the real CLI, run as a subprocess with a pipe and with a pty
(where rich knows it writes to a terminal and styles its output).
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from cli_process import STYLE_VARS, drain_pty, node_env
from harness import REPO, ServerProcess, Site, SiteSpec, write_site
from hostile_rows import store_hostile_rows

# Clear screen + home, window title, clipboard write (OSC 52), a bell, rich markup that
# would become a hyperlink (OSC 8), and the 8-bit CSI/OSC forms.
CASE = "LP/9\x1b[2J\x1b[H\x1b]0;owned\x07\x1b]52;c;cm0gLXJmIH4=\x07[link=http://x]y[/link]\x9b5m\x9d2;t\x9c"
NOTE = "see \x1b[31mred\x1b[0m"
JOB = "f00dfeed0badc0de"
RAW = (b"\x1b", b"\x07", b"\x9b", b"\x9d", "\x9b".encode(), "\x9d".encode())


@dataclass
class Rig:
    site: Site
    server: ServerProcess

    def env(self) -> dict[str, str]:
        token = self.site.tokens["admin"]
        return node_env(self.server.url, token, columns=400, drop=(*STYLE_VARS, "TERM"))

    def cli(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "cctvctl", *args],
            capture_output=True,
            env=self.env(),
            cwd=REPO,
            timeout=60,
        )

    def cli_on_a_terminal(self, *args: str) -> tuple[int, bytes]:
        """Runs the CLI with stdout and stderr on a pty, as an admin's shell would."""
        master, slave = pty.openpty()
        env = self.env() | {"TERM": "xterm-256color"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "cctvctl", *args],
            stdin=subprocess.DEVNULL,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=REPO,
        )
        os.close(slave)
        out = bytearray()
        try:
            drain_pty(master, out)
        finally:
            os.close(master)
        return proc.wait(timeout=60), bytes(out)


def assert_inert(output: bytes, *, styled: bool = False) -> None:
    """No raw control from the data; the escapes show as text instead."""
    text = output
    if styled:
        # rich's own styling is the one allowed kind of ESC: SGR ("\x1b[...m") with no
        # other control next to it. Drop those and nothing may be left.
        text = re.sub(rb"\x1b\[[0-9;]*m", b"", output)
    for raw in RAW:
        assert raw not in text, (raw, output)
    assert b"\\x1b[2J" in output and b"\\x1b]52;c;" in output and b"\\x9b5m" in output


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    # No simulator: the rows are what matters, and an offline camera still has an id.
    site = write_site(tmp_path_factory.mktemp("cli-termsafe"), SiteSpec(cameras=1))
    server = ServerProcess(site)
    server.start()
    try:
        store_hostile_rows(
            site,
            target=site.camera_ids[0],
            case=CASE,
            note=NOTE,
            job=JOB,
            detail="needs operator\x1b]0;x\x07",
        )
        yield Rig(site, server)
    finally:
        server.stop()


@pytest.mark.parametrize(
    "args",
    [("audit", "--wide"), ("exports", "ls"), ("exports", "show", JOB)],
    ids=["audit", "exports-ls", "exports-show"],
)
def test_hostile_text_is_shown_escaped_in_a_pipe(rig: Rig, args: tuple[str, ...]) -> None:
    proc = rig.cli(*args)
    assert proc.returncode == 0, proc.stderr
    assert_inert(proc.stdout)
    # Markup in the data is text: the brackets are there, no hyperlink was made.
    assert b"[link=http://x]y[/link]" in proc.stdout


@pytest.mark.parametrize(
    ("args", "table"),
    [(("audit", "--wide"), True), (("exports", "ls"), True), (("exports", "show", JOB), False)],
    ids=["audit", "exports-ls", "exports-show"],
)
def test_hostile_text_is_shown_escaped_on_a_terminal(
    rig: Rig, args: tuple[str, ...], table: bool
) -> None:
    code, out = rig.cli_on_a_terminal(*args)
    assert code == 0, out
    if table:  # bold headers: rich saw a terminal
        assert b"\x1b[1m" in out, "rich did not style: not seen as a terminal"
    assert_inert(out, styled=True)
    assert b"[link=http://x]y[/link]" in out
    assert b"\x1b]8;" not in out


def test_json_keeps_the_exact_text_without_raw_controls(rig: Rig) -> None:
    proc = rig.cli("audit", "--json")
    assert proc.returncode == 0, proc.stderr
    for raw in RAW:
        assert raw not in proc.stdout
    rows = json.loads(proc.stdout)
    assert [r["case_id"] for r in rows if r["case_id"]] == [CASE]
    job = json.loads(rig.cli("exports", "show", JOB, "--json").stdout)
    assert (job["case_id"], job["note"]) == (CASE, NOTE)


def test_an_error_line_quoting_hostile_input_stays_one_inert_line(rig: Rig) -> None:
    code, out = rig.cli_on_a_terminal("exports", "show", "x\x1b]0;owned\x07\x1b[2J")
    assert code == 2, out
    lines = out.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cctvctl: error: "), out
    assert b"\x1b" not in out and b"\x07" not in out
    assert "x\\x1b]0;owned\\x07\\x1b[2J" in lines[0]
