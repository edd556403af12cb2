"""The simulator's real-camera modes on the wire: SDP, transports, Basic auth, RFC 7798.

Raw RTSP over a socket (what a camera answers, byte for byte where it matters) and
libavformat (PyAV) as the client that must make sense of it.
"""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from harness import free_port

from cctvctl.sim import rtp_h265
from cctvctl.sim.model import SimCamera, SimSettings
from cctvctl.sim.service import SimulatorThread

CAMERAS = {
    "h265-aac": {"codec": "h265", "audio": "aac"},
    "pcmu-both": {"audio": "pcmu", "transport": "both"},
    "udp-only": {"transport": "udp"},
    "basic": {"auth": "basic"},
}


@pytest.fixture(scope="module")
def sim(sim_cache: Path) -> Iterator[int]:
    port = free_port()
    cameras = [
        SimCamera(cid, cid, "K", "S", port, f"/{cid}", "admin", "pw", **modes)
        for cid, modes in CAMERAS.items()
    ]
    settings = SimSettings(
        control_port=free_port(),
        width=320,
        height=180,
        fps=10,
        loop_seconds=4,
        gop_seconds=1,
        cache_dir=sim_cache,
    )
    thread = SimulatorThread(cameras, settings)
    thread.start()
    try:
        yield port
    finally:
        thread.stop()


def _ask(port: int, lines: list[str]) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(("\r\n".join([*lines, "", ""])).encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(4096)
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            (
                int(h.split(b":")[1])
                for h in head.split(b"\r\n")
                if h.lower().startswith(b"content-length")
            ),
            0,
        )
        while len(body) < length:
            body += sock.recv(4096)
        return (head + b"\r\n\r\n" + body).decode("latin-1")


def _describe(port: int, cid: str) -> str:
    auth = base64.b64encode(b"admin:pw").decode()
    # A Basic answer is refused by a Digest camera, so ask the camera that takes it.
    return _ask(
        port,
        [
            f"DESCRIBE rtsp://127.0.0.1:{port}/{cid} RTSP/1.0",
            "CSeq: 1",
            *([f"Authorization: Basic {auth}"] if cid == "basic" else []),
        ],
    )


def test_digest_cameras_challenge_with_digest_and_basic_with_basic(sim: int) -> None:
    digest = _describe(sim, "h265-aac")
    assert digest.startswith("RTSP/1.0 401")
    assert 'WWW-Authenticate: Digest realm="cctvctl-sim"' in digest
    basic = _ask(sim, [f"DESCRIBE rtsp://127.0.0.1:{sim}/basic RTSP/1.0", "CSeq: 1"])
    assert basic.startswith("RTSP/1.0 401")
    assert 'WWW-Authenticate: Basic realm="cctvctl-sim"' in basic
    answered = _describe(sim, "basic")
    assert answered.startswith("RTSP/1.0 200"), answered
    assert "a=rtpmap:96 H264/90000" in answered


def _open(port: int, cid: str, transport: str) -> av.container.InputContainer:
    return av.open(
        f"rtsp://admin:pw@127.0.0.1:{port}/{cid}",
        options={"rtsp_transport": transport, "timeout": "5000000"},
        timeout=(10, None),
    )


def test_h265_and_aac_as_libav_reads_them(sim: int) -> None:
    with _open(sim, "h265-aac", "tcp") as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert video.codec_context.name == "hevc"
        assert (video.codec_context.width, video.codec_context.height) == (320, 180)
        assert audio.codec_context.name == "aac"
        assert audio.codec_context.sample_rate == 16000
        kinds = [p.stream.type for _, p in zip(range(80), container.demux(), strict=False)]
    assert "video" in kinds and "audio" in kinds


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_both_serves_either_transport(sim: int, transport: str) -> None:
    with _open(sim, "pcmu-both", transport) as container:
        assert container.streams.audio[0].codec_context.name == "pcm_mulaw"
        frames = [p for _, p in zip(range(40), container.demux(), strict=False) if p.size]
    assert frames


def test_a_camera_refuses_the_transport_it_does_not_speak(sim: int) -> None:
    with pytest.raises(OSError) as info:
        _open(sim, "udp-only", "tcp")
    assert "Protocol not supported" in str(info.value)
    with pytest.raises(OSError):
        _open(sim, "h265-aac", "udp")
    with _open(sim, "udp-only", "udp") as container:
        assert container.streams.video[0].codec_context.name == "h264"


def test_h265_packets_single_nal_and_fragments() -> None:
    small = bytes([0x40, 0x01]) + b"\x0c" * 20  # a VPS: type 32, fits one packet
    large = bytes([0x26, 0x01]) + bytes(range(256)) * 12  # IDR_W_RADL (19), 3,074 bytes
    payloads = rtp_h265.packetize([small, large], size=1200)
    assert payloads[0] == small
    fragments = payloads[1:]
    assert len(fragments) == 3
    for n, fu in enumerate(fragments):
        assert len(fu) <= 1200
        assert rtp_h265.nal_type(fu) == 49
        assert fu[1] == 0x01  # layer and TID kept
        assert fu[2] & 0x3F == 19
        assert bool(fu[2] & 0x80) is (n == 0)  # S
        assert bool(fu[2] & 0x40) is (n == len(fragments) - 1)  # E
    rebuilt = bytes([(fragments[0][0] & 0x81) | (19 << 1), fragments[0][1]]) + b"".join(
        fu[3:] for fu in fragments
    )
    assert rebuilt == large
