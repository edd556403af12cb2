"""`cctvctl … | head`: a reader that goes away early ends the command quietly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cli_process import clean_env

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "kutim.toml"


def test_a_closed_pipe_ends_the_command_without_a_traceback() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cctvctl", "config", "check", str(EXAMPLE)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(),
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.read(20)  # what `head -c 20` would take, then it leaves
    proc.stdout.close()
    err = proc.stderr.read().decode()
    code = proc.wait(30)
    assert first.startswith(str(EXAMPLE).encode()[:20])
    assert "Traceback" not in err and "AttributeError" not in err, err
    assert code in (0, 1), (code, err)
