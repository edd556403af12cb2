"""The whole simulator: an ONVIF reboot from a third-party client takes the RTSP stream dark
and it comes back; ffprobe (a third-party RTSP client) plays a camera."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from onvif import ONVIFCamera

from cctvctl.sim.model import SimCamera, SimSettings
from cctvctl.sim.service import Simulator, SimulatorThread

REBOOT_SECONDS = 3.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    rtsp = free_port()
    camera = SimCamera(
        id="mwh-camat-01", name="Halaman depan", kecamatan="Muara Wahau",
        site="Kantor Camat Muara Wahau", rtsp_port=rtsp, path="/mwh-camat-01",
        username="admin", password="pw-mwh", onvif_port=free_port(),
    )  # fmt: skip
    settings = SimSettings(
        control_port=free_port(), width=320, height=180, fps=10, loop_seconds=4,
        gop_seconds=1, reboot_seconds=REBOOT_SECONDS,
        cache_dir=tmp_path_factory.mktemp("cache"),
    )  # fmt: skip
    runner = SimulatorThread([camera], settings)
    simulator = runner.start()
    yield simulator
    runner.stop()


def url(sim: Simulator, password: str = "pw-mwh") -> str:
    cam = sim.cameras[0]
    return f"rtsp://admin:{password}@127.0.0.1:{cam.rtsp_port}{cam.path}"


def stream_alive(sim: Simulator) -> bool:
    try:
        with av.open(url(sim), options={"rtsp_transport": "tcp"}, timeout=(3, 3)) as c:
            return next(iter(c.demux(c.streams.video[0])), None) is not None
    except av.error.FFmpegError:
        return False


async def reboot(sim: Simulator) -> None:
    cam = sim.cameras[0]
    client = ONVIFCamera("127.0.0.1", cam.onvif_port, cam.username, cam.password)
    try:
        await client.update_xaddrs()
        device = await client.create_devicemgmt_service()
        info = await device.GetDeviceInformation()
        assert cam.id in info.SerialNumber or info.Model
        await device.SystemReboot()
    finally:
        await client.close()


def test_onvif_reboot_takes_the_stream_dark_and_back(sim: Simulator) -> None:
    container = av.open(url(sim), options={"rtsp_transport": "tcp"}, timeout=(5, 5))
    packets = container.demux(container.streams.video[0])
    assert next(packets) is not None
    asyncio.run(reboot(sim))
    rebooted = time.monotonic()
    # The open session ends: the demuxer stops (EOF or an error) within a couple of seconds.
    ended = False
    try:
        while time.monotonic() - rebooted < 5:
            if next(packets).size == 0:
                ended = True
                break
    except (StopIteration, av.error.FFmpegError):
        ended = True
    container.close()
    assert ended, "the RTSP session outlived the reboot"
    assert not stream_alive(sim), "new sessions must be refused while the camera reboots"
    assert sim.states["mwh-camat-01"].reboots == 1
    assert sim.states["mwh-camat-01"].onvif_calls["SystemReboot"] == 1
    deadline = rebooted + REBOOT_SECONDS + 10
    while time.monotonic() < deadline and not stream_alive(sim):
        time.sleep(0.5)
    back_after = time.monotonic() - rebooted
    assert stream_alive(sim)
    assert back_after >= REBOOT_SECONDS - 0.5


def test_wrong_rtsp_password_is_401(sim: Simulator) -> None:
    with pytest.raises(av.error.FFmpegError) as info:
        av.open(url(sim, "wrong"), options={"rtsp_transport": "tcp"}, timeout=(5, 5))
    assert "401" in str(info.value) or "Unauthorized" in str(info.value)


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe not installed")
def test_ffprobe_plays_a_camera(sim: Simulator, tmp_path: Path) -> None:
    res = subprocess.run(
        ["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-select_streams", "v:0",
         "-show_entries", "stream=codec_name,width,height,avg_frame_rate,nb_read_packets",
         "-count_packets", "-read_intervals", "%+3", "-of", "json", url(sim)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    stream = json.loads(res.stdout)["streams"][0]
    assert stream["codec_name"] == "h264"
    assert (stream["width"], stream["height"]) == (320, 180)
    assert int(stream["nb_read_packets"]) >= 20
