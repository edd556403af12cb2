"""The simulator's stream faults, as libavformat's RTSP client (PyAV) sees them.

A real simulator (RTSP + fault control over HTTP) in a background thread; the stream is read
and decoded by PyAV, the faults are asked for over fault control and with `cctvctl sim fault`.
The faults that touch the bitstream or its timestamps (resize, tsjump, nosps, fpslie) are read from
an H.264 and an H.265 camera (``codec``: h264 unless a test asks for both).
"""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from harness import free_port
from test_sim_rtsp import RawRtsp

from cctvctl.sim.model import SimCamera, SimSettings
from cctvctl.sim.service import Simulator, SimulatorThread

CAM = "kt-faults-1"
FPS = 10
CODECS = ("h264", "h265")
# What a DESCRIBE carries of each codec's parameter sets (RFC 6184, RFC 7798).
SPROP = {"h264": ("sprop-parameter-sets=",), "h265": ("sprop-vps=", "sprop-sps=", "sprop-pps=")}
LIBAV_NAME = {"h264": "h264", "h265": "hevc"}


@pytest.fixture
def codec() -> str:
    return "h264"


@pytest.fixture
def sim(sim_cache: Path, codec: str) -> Iterator[Simulator]:
    port = free_port()
    camera = SimCamera(
        id=CAM,
        name="Faults",
        kecamatan="Sangatta Utara",
        site="Kantor Camat",
        rtsp_port=port,
        path=f"/{CAM}",
        username="operator",
        password="pw-faults",
        codec=codec,
    )
    settings = SimSettings(
        control_port=free_port(),
        width=320,
        height=180,
        fps=FPS,
        loop_seconds=4.0,
        gop_seconds=1.0,
        cache_dir=sim_cache,
    )
    thread = SimulatorThread([camera], settings)
    simulator = thread.start()
    try:
        yield simulator
    finally:
        thread.stop()


def _url(sim: Simulator) -> str:
    cam = sim.cameras[0]
    return f"rtsp://{cam.username}:{cam.password}@127.0.0.1:{cam.rtsp_port}{cam.path}"


def _fault(sim: Simulator, body: dict[str, Any]) -> httpx.Response:
    url = f"http://127.0.0.1:{sim.control.port}/cameras/{CAM}/fault"
    return httpx.post(url, json=body, timeout=120)


def _open(url: str) -> Any:
    options = {"rtsp_transport": "tcp", "timeout": "10000000", "probesize": "32"}
    return av.open(url, options=options, timeout=15.0)


def _frames(container: Any, seconds: float) -> list[tuple[float, int, int]]:
    """(pts in seconds, width, height) of each frame decoded for ``seconds``."""
    stream = container.streams.video[0]
    out: list[tuple[float, int, int]] = []
    end = time.monotonic() + seconds
    for packet in container.demux(stream):
        for frame in packet.decode():
            if frame.pts is None:
                continue  # the session's first packet, dated only once RTCP arrives
            out.append((float(frame.pts * stream.time_base), frame.width, frame.height))
        if time.monotonic() > end:
            break
    return out


@pytest.mark.parametrize("codec", CODECS)
def test_resize_switches_size_at_a_keyframe_without_a_timestamp_step(sim: Simulator) -> None:
    with _open(_url(sim)) as container:
        before = _frames(container, 1.5)
        resp = _fault(sim, {"mode": "resize", "size": "160x90"})
        assert resp.status_code == 200, resp.text
        assert resp.json()["stream"]["size"] == "160x90"
        after = _frames(container, 2.5)
    assert {(w, h) for _, w, h in before} == {(320, 180)}
    sizes = [(w, h) for _, w, h in after]
    assert (160, 90) in sizes and sizes[-1] == (160, 90)
    # Once switched it stays switched, and time runs on one frame at a time across it.
    first_new = sizes.index((160, 90))
    assert set(sizes[first_new:]) == {(160, 90)}
    times = [t for t, _, _ in before + after]
    steps = [b - a for a, b in itertools.pairwise(times)]
    assert all(abs(s - 1 / FPS) < 0.02 for s in steps), [s for s in steps if abs(s - 0.1) > 0.02]


@pytest.mark.parametrize("codec", CODECS)
def test_tsjump_moves_timestamps_both_ways(sim: Simulator) -> None:
    with _open(_url(sim)) as container:
        stream = container.streams.video[0]
        tb: Fraction = stream.time_base
        dts: list[float] = []

        def read(n: int) -> None:
            for packet in container.demux(stream):
                if packet.dts is not None:
                    dts.append(float(packet.dts * tb))
                if len(dts) >= n:
                    return

        read(10)
        assert _fault(sim, {"mode": "tsjump", "by": 3600}).status_code == 200
        read(30)
        assert _fault(sim, {"mode": "tsjump", "by": -7200}).status_code == 200
        read(50)
    steps = [b - a for a, b in itertools.pairwise(dts)]
    jumps = [s for s in steps if abs(s) > 1]
    assert len(jumps) == 2, jumps
    assert abs(jumps[0] - 3600 - 1 / FPS) < 0.05
    # Back by two hours: libavformat reads the 32-bit RTP clock going backwards as a wrap,
    # so the client sees it forwards, by 2^32 ticks less two hours.
    wrapped = 2**32 / 90_000 - 7200
    assert abs(jumps[1] - wrapped - 1 / FPS) < 0.05, jumps


def _sdp(sim: Simulator) -> str:
    cam = sim.cameras[0]

    async def describe() -> bytes:
        raw = await RawRtsp.connect(cam.rtsp_port)
        try:
            url = f"rtsp://127.0.0.1:{cam.rtsp_port}{cam.path}"
            status, _, body = await raw.authed("DESCRIBE", url, cam.username, cam.password)
            assert status == 200
            return body
        finally:
            raw.close()

    return asyncio.run(describe()).decode()


@pytest.mark.parametrize("codec", CODECS)
def test_nosps_leaves_parameter_sets_out_of_the_sdp(sim: Simulator, codec: str) -> None:
    assert all(key in _sdp(sim) for key in SPROP[codec])
    assert _fault(sim, {"mode": "nosps"}).status_code == 200
    sdp = _sdp(sim)
    assert not any(key in sdp for key in SPROP[codec]), sdp
    with _open(_url(sim)) as container:
        assert (
            container.streams.video[0].codec_context.name == {"h264": "h264", "h265": "hevc"}[codec]
        )
        # In band they still come: the stream decodes from its first keyframe.
        assert _frames(container, 1.0)[-1][1:] == (320, 180)


@pytest.mark.parametrize("codec", CODECS)
def test_fpslie_claims_25_and_sends_12(sim: Simulator) -> None:
    assert _fault(sim, {"mode": "fpslie"}).status_code == 200
    with _open(_url(sim)) as container:
        stream = container.streams.video[0]
        assert stream.average_rate == 25 or stream.guessed_rate == 25
        times = [t for t, _, _ in _frames(container, 3.0)]
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert abs(rate - 12) < 0.5, rate


@pytest.mark.parametrize("ppm", [100_000, -100_000], ids=["fast", "slow"])
def test_drift_runs_the_rtp_clock_fast_or_slow(sim: Simulator, ppm: int) -> None:
    assert _fault(sim, {"mode": "drift", "ppm": ppm}).status_code == 200
    with _open(_url(sim)) as container:
        began = time.monotonic()
        times = [t for t, _, _ in _frames(container, 3.0)]
        wall = time.monotonic() - began
    media = times[-1] - times[0]
    # 10 % off: three seconds of wall carry about 3.3 s (fast) or 2.7 s (slow) of media.
    ratio = media / wall
    assert (ratio > 1.05) if ppm > 0 else (ratio < 0.95), (media, wall)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["resize"], "resize needs a value: WxH"),
        (["resize", "100"], "resize '100' is not WIDTHxHEIGHT"),
        (["drift", "fast"], "drift 'fast' is not a number of ppm"),
        (["tsjump", "--by", "3 hours"], "--by '3 hours' is not a duration"),
        (["nosps", "1"], "nosps takes no value"),
        (["rate", "0"], "rate '0' is not accepted; accepted: a whole number 1-60"),
        (["drop", "--by", "3h"], "--by is only for tsjump and clock, not 'drop'"),
    ],
)
def test_cli_refuses_bad_values(args: list[str], message: str) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "cctvctl", "sim", "fault", CAM, *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 2
    assert message in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_control_refuses_out_of_range(sim: Simulator) -> None:
    resp = _fault(sim, {"mode": "drift", "ppm": 5_000_000})
    assert resp.status_code == 422
    assert "out of range" in resp.json()["detail"]
    resp = _fault(sim, {"mode": "tsjump", "by": 0})
    assert resp.status_code == 422


def test_cli_tsjump_back(sim: Simulator) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "cctvctl",
            "sim",
            "fault",
            CAM,
            "tsjump",
            "--by",
            "-3h",
            "--control",
            f"127.0.0.1:{sim.control.port}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 0, run.stderr
    assert "tsjump=-10800s" in run.stdout
