"""Basic auth: answered on loopback and private addresses only (recorder/rtsp_auth.py).

The refusal is tested for real: the simulator and the ingest run in a network namespace
of their own (``unshare -n``, root), where 203.0.113.5 (TEST-NET-3, a public-type address)
is on the namespace's loopback device, so no packet leaves the machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cctvctl.recorder.rtsp_auth import is_private_host

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize(
    ("host", "private"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("10.20.30.40", True),
        ("172.16.0.1", True),
        ("172.31.255.254", True),
        ("192.168.1.64", True),
        ("::1", True),
        ("fd12:3456::1", True),
        ("::ffff:192.168.1.64", True),
        ("172.32.0.1", False),
        ("100.64.0.1", False),  # carrier-grade NAT: not ours
        ("169.254.1.1", False),
        ("203.0.113.5", False),
        ("8.8.8.8", False),
        ("2001:db8::1", False),
        ("localhost", True),
        ("no-such-host.invalid", False),
    ],
)
def test_private_addresses(host: str, private: bool) -> None:
    assert is_private_host(host) is private


@pytest.mark.timeout(60)
def test_basic_auth_to_a_public_address_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("needs root for a network namespace (unshare -n), as CI has")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent), str(HERE)])}
    result = subprocess.run(
        ["unshare", "-n", sys.executable, str(HERE / "public_address_basic.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=50,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    basic, digest = report["cam-basic"], report["cam-digest"]
    # Basic to a public address: never connected, so the password never went out.
    assert basic["connections"] == 0
    assert basic["segments"] == 0
    assert basic["cause"] == "auth_failed"
    assert "asks for Basic auth" in basic["last_error"]
    assert "203.0.113.5 is a public address" in basic["last_error"]
    assert "pw-public" not in result.stdout + result.stderr
    # Digest to the same address records: the refusal is Basic's, not the address's.
    assert digest["connections"] >= 1
    assert digest["segments"] >= 1
    assert digest["last_error"] is None
