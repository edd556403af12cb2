"""`cctvctl sim` as a user runs it: a real process serving an inventory, broken on purpose."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import psutil
import pytest
from harness import camera_toml, free_port

from cctvctl.sim.scene import scene_colour


def _inventory(rtsp: int, control: int, onvif: int) -> str:
    head = f"""
[server]
secrets = "secrets.toml"

[sim]
control = "127.0.0.1:{control}"
width = 320
height = 180
fps = 10
loop_seconds = 4
gop_seconds = 1
reboot_seconds = 2

[[kecamatan]]
name = "Kaubun"
"""
    camat = camera_toml(
        "kbn-camat-01",
        "Halaman depan",
        f"rtsp://127.0.0.1:{rtsp}/kbn-camat-01",
        onvif=f"http://127.0.0.1:{onvif}/onvif/device_service",
    )
    pkm = camera_toml("kbn-pkm-01", "Pintu masuk", f"rtsp://127.0.0.1:{rtsp}/kbn-pkm-01")
    return (
        f'{head}  [[kecamatan.site]]\n  name = "Kantor Camat Kaubun"\n  kind = "kantor_kecamatan"\n'
        f'{camat}  [[kecamatan.site]]\n  name = "Puskesmas Kaubun"\n  kind = "puskesmas"\n{pkm}'
    )


def cctvctl(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cctvctl", *args], capture_output=True, text=True, timeout=timeout
    )


class RunningSim:
    def __init__(self, proc: subprocess.Popen[str], config: Path, rtsp: int, control: int):
        self.proc, self.config, self.rtsp, self.control = proc, config, rtsp, control

    def state(self, camera: str) -> dict[str, object]:
        res = cctvctl("sim", "status", "--config", str(self.config), "--json")
        assert res.returncode == 0, res.stderr
        states = {s["id"]: s for s in json.loads(res.stdout)}
        return dict(states[camera])


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSim]:
    tmp = tmp_path_factory.mktemp("simcli")
    rtsp, control, onvif = free_port(), free_port(), free_port()
    config = tmp / "site.toml"
    config.write_text(_inventory(rtsp, control, onvif))
    (tmp / "secrets.toml").write_text(
        '[passwords]\nkbn-camat-01 = "pw-one"\nkbn-pkm-01 = "pw-two"\n'
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "cctvctl", "sim", "--config", str(config), "--no-color",
         "--cache-dir", str(tmp / "cache")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "COLUMNS": "120"},
    )  # fmt: skip
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Fault control:" in line:
            break
    assert any("Fault control:" in line for line in lines), "".join(lines)
    running = RunningSim(proc, config, rtsp, control)
    running.banner = "".join(lines)  # type: ignore[attr-defined]
    yield running
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_banner_lists_exactly_the_inventory(sim: RunningSim) -> None:
    banner: str = sim.banner  # type: ignore[attr-defined]
    assert "kbn-camat-01" in banner and "kbn-pkm-01" in banner
    assert "Serving 2 cameras at 320x180 10 fps" in banner
    # The defaults: H.264 without sound, interleaved TCP, Digest.
    assert banner.count("h264 tcp digest") == 2
    assert f"rtsp://127.0.0.1:{sim.rtsp}" in banner
    assert "pw-one" not in banner and "pw-two" not in banner


def test_cold_start_encodes_in_a_pool_that_leaves_nothing_running(sim: RunningSim) -> None:
    # The module's cache started empty: both loops were encoded before the banner, in
    # processes forked before the event loop's thread, so no worker and no multiprocessing
    # resource tracker (what a spawned pool leaves for the process's life) is left.
    assert len(list((sim.config.parent / "cache").glob("*.h264"))) == 2
    children = psutil.Process(sim.proc.pid).children(recursive=True)
    assert [c.cmdline() for c in children] == []


def test_pyav_plays_a_camera_and_sees_its_scene(sim: RunningSim) -> None:
    url = f"rtsp://admin:pw-two@127.0.0.1:{sim.rtsp}/kbn-pkm-01"
    with av.open(url, options={"rtsp_transport": "tcp"}, timeout=(10, 5)) as container:
        stream = container.streams.video[0]
        frame = next(iter(container.decode(stream)))
        rgb = frame.to_ndarray(format="rgb24")
    assert rgb.shape == (180, 320, 3)
    # Between the title and clock bands the background dominates (the moving box and stripe
    # are a minority), so the median colour there must be this camera's own colour.
    middle = np.median(rgb[60:150].reshape(-1, 3), axis=0)
    expected = scene_colour("kbn-pkm-01")
    assert max(abs(float(c) - e) for c, e in zip(middle, expected, strict=True)) < 25
    other = scene_colour("kbn-camat-01")
    assert max(abs(float(c) - e) for c, e in zip(middle, other, strict=True)) > 25


def test_flap_alternates_and_recover_ends_it(sim: RunningSim) -> None:
    res = cctvctl("sim", "fault", "kbn-camat-01", "flap", "--period", "1", "-c", str(sim.config))
    assert res.returncode == 0, res.stderr
    seen = set()
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline and seen != {"up", "dark"}:
        seen.add(str(sim.state("kbn-camat-01")["availability"]))
        time.sleep(0.2)
    assert seen == {"up", "dark"}
    res = cctvctl("sim", "fault", "kbn-camat-01", "recover", "-c", str(sim.config), "--json")
    assert res.returncode == 0
    assert json.loads(res.stdout)["fault"] == "none"
    assert sim.state("kbn-camat-01")["availability"] == "up"


def test_fault_errors_are_one_line_with_exit_codes(sim: RunningSim) -> None:
    bad_mode = cctvctl("sim", "fault", "kbn-camat-01", "explode", "-c", str(sim.config))
    assert bad_mode.returncode == 2
    assert (
        "accepted: drop, stall, flap, offline, unauthorized, not_found, recover" in bad_mode.stderr
    )
    unknown = cctvctl("sim", "fault", "nope-01", "drop", "-c", str(sim.config))
    assert unknown.returncode == 2 and "nope-01" in unknown.stderr
    closed = free_port()
    gone = cctvctl("sim", "fault", "kbn-camat-01", "drop", "--control", f"127.0.0.1:{closed}")
    assert gone.returncode == 5 and "unreachable" in gone.stderr
    assert len(gone.stderr.strip().splitlines()) == 1


def test_ctrl_c_stops_cleanly(sim: RunningSim) -> None:
    sim.proc.send_signal(signal.SIGINT)
    assert sim.proc.wait(timeout=15) == 0
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", sim.rtsp)) != 0
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", sim.control)) != 0


def test_sim_without_config_is_a_usage_error() -> None:
    res = cctvctl("sim")
    assert res.returncode == 2
    assert "--config" in res.stderr
