"""The simulator's RTSP server, exercised with libavformat's RTSP client (PyAV) and a raw socket.

The real server runs on the test's event loop on a free 127.0.0.1 port; PyAV's blocking calls
run in worker threads. Loops are short (4 s, 2 s GOP, 320x180) so the whole file stays fast.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from aiortc.rtp import RtpPacket

from cctvctl.sim.loop import CLOCK_RATE, Loop, cache_paths, load_loop, load_loops
from cctvctl.sim.model import SimCamera, SimSettings
from cctvctl.sim.rtsp import RtspServer
from cctvctl.sim.scene import scene_colour
from cctvctl.sim.state import CameraState

FPS = 15
LOOP_SECONDS = 4.0
FRAME_TICKS = CLOCK_RATE // FPS
CLIENT_IO_TIMEOUT_US = "10000000"  # long, so only the server ends a read in fault tests


# --- fixtures ------------------------------------------------------------------------------


@dataclass
class Env:
    settings: SimSettings
    cameras: list[SimCamera]
    loops: dict[str, Loop]


@dataclass
class Sim:
    server: RtspServer
    cameras: dict[str, SimCamera]
    states: dict[str, CameraState]
    port: int

    def url(self, camera_id: str, credentials: bool = True) -> str:
        return self.server.url(camera_id, credentials=credentials)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    settings = SimSettings(
        width=320,
        height=180,
        fps=FPS,
        loop_seconds=LOOP_SECONDS,
        gop_seconds=2.0,
        cache_dir=tmp_path_factory.mktemp("sim-cache"),
    )
    cameras = [
        SimCamera(
            id=f"kt-test-{n}",
            name=f"Test camera {n}",
            kecamatan="Sangatta Utara",
            site=f"Kantor Desa {n}",
            rtsp_port=0,  # set per test; the loop does not depend on it
            path=f"/kt-test-{n}",
            username="operator",
            password=f"pw-{n}",
        )
        for n in ("a", "b")
    ]
    return Env(settings, cameras, load_loops(cameras, settings))


@pytest.fixture
async def sim(env: Env) -> AsyncIterator[Sim]:
    port = _free_port()
    cameras = [replace(c, rtsp_port=port) for c in env.cameras]
    states = {c.id: CameraState(camera=c) for c in cameras}
    server = RtspServer(cameras, states, env.loops, env.settings)
    await server.start()
    try:
        yield Sim(server, {c.id: c for c in cameras}, states, port)
    finally:
        await server.stop()
    # stop() must leave nothing of its own running on the loop.
    leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
    assert not [t for t in leftovers if "rtsp" in t.get_name() or "_serve" in repr(t)]


# --- PyAV client helpers (blocking, run in threads) ----------------------------------------


def _open(url: str) -> Any:
    # Tiny probe: the SDP's sprop-parameter-sets already describe the stream, so the client
    # need not wait for a keyframe before av.open returns.
    options = {
        "rtsp_transport": "tcp",
        "timeout": CLIENT_IO_TIMEOUT_US,
        "analyzeduration": "0",
        "probesize": "32",
    }
    return av.open(url, options=options, timeout=15.0)


@dataclass
class Reader:
    """Demuxes a stream in a thread, recording when each packet arrived."""

    url: str
    arrivals: list[tuple[float, int | None, bool]] = field(default_factory=list)
    opened: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    ended_at: float | None = None
    error: BaseException | None = None
    thread: threading.Thread | None = None

    def start(self) -> Reader:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            container = _open(self.url)
            self.opened.set()
            with container:
                for packet in container.demux(video=0):
                    if packet.size:
                        self.arrivals.append(
                            (time.monotonic(), packet.dts, bool(packet.is_keyframe))
                        )
                    if self.stop.is_set():
                        return
        except (av.error.FFmpegError, OSError) as exc:
            self.error = exc
        finally:
            self.ended_at = time.monotonic()
            self.opened.set()

    def received_after(self, moment: float) -> int:
        return sum(1 for t, _, _ in self.arrivals if t > moment)

    async def wait_packets(self, count: int, timeout: float = 8.0) -> None:
        await _until(lambda: len(self.arrivals) >= count, timeout, f"{count} packets")

    async def finish(self, timeout: float = 8.0) -> None:
        self.stop.set()
        assert self.thread is not None
        await asyncio.to_thread(self.thread.join, timeout)
        assert not self.thread.is_alive(), "client thread did not end"


async def _until(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def _read_for(url: str, media_seconds: float) -> tuple[list[tuple[float, int | None]], Any]:
    """Demux and decode until ``media_seconds`` of video arrived; returns packets, last frame."""
    packets: list[tuple[float, int | None]] = []
    last_frame = None
    with _open(url) as container:
        stream = container.streams.video[0]
        first_dts: int | None = None
        for packet in container.demux(stream):
            if not packet.size:
                continue
            packets.append((time.monotonic(), packet.dts))
            for frame in stream.codec_context.decode(packet):
                last_frame = frame
            if packet.dts is not None:
                first_dts = packet.dts if first_dts is None else first_dts
                if (packet.dts - first_dts) * stream.time_base >= media_seconds:
                    break
    return packets, last_frame


def _open_error(url: str) -> str:
    try:
        with _open(url) as container:
            next(container.demux(video=0))
    except (av.error.FFmpegError, OSError) as exc:
        return str(exc)
    return "no error"


# --- raw RTSP client, for what libavformat hides -------------------------------------------


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


class RawRtsp:
    """A minimal RTSP/TCP client: digest auth, requests, and interleaved frames."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.cseq = 0
        self.frames: list[tuple[int, bytes]] = []  # interleaved frames met while reading

    @classmethod
    async def connect(cls, port: int) -> RawRtsp:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    def close(self) -> None:
        self.writer.close()

    def send(self, method: str, url: str, headers: dict[str, str] | None = None) -> None:
        self.cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self.cseq}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())

    async def response(self) -> tuple[int, dict[str, str], bytes]:
        while (first := await self.reader.readexactly(1)) == b"$":
            prefix = await self.reader.readexactly(3)
            frame = await self.reader.readexactly(int.from_bytes(prefix[1:], "big"))
            self.frames.append((prefix[0], frame))
        head = (first + await self.reader.readuntil(b"\r\n\r\n")).decode()
        lines = head.split("\r\n")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = await self.reader.readexactly(length) if length else b""
        assert headers.get("cseq") == str(self.cseq)
        return int(lines[0].split()[1]), headers, body

    async def request(
        self, method: str, url: str, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        self.send(method, url, headers)
        return await asyncio.wait_for(self.response(), 5)

    async def authed(
        self, method: str, url: str, user: str, password: str, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        status, got, body = await self.request(method, url, headers)
        if status != 401:
            return status, got, body
        params = dict(part.strip().split("=", 1) for part in got["www-authenticate"][7:].split(","))
        realm, nonce = params["realm"].strip('"'), params["nonce"].strip('"')
        cnonce, nc = secrets.token_hex(4), "00000001"
        ha1 = _md5(f"{user}:{realm}:{password}")
        digest = _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{_md5(f'{method}:{url}')}")
        auth = (
            f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{url}", '
            f'response="{digest}", qop=auth, nc={nc}, cnonce="{cnonce}"'
        )
        return await self.request(method, url, {**(headers or {}), "Authorization": auth})

    async def frame(self) -> tuple[int, bytes]:
        if self.frames:
            return self.frames.pop(0)
        head = await self.reader.readexactly(4)
        assert head[:1] == b"$", head
        return head[1], await self.reader.readexactly(int.from_bytes(head[2:], "big"))


async def _raw_play(sim: Sim, cam: SimCamera) -> tuple[RawRtsp, dict[str, str], dict[str, str]]:
    """DESCRIBE, SETUP (TCP) and PLAY; returns the client and the SETUP and PLAY headers."""
    raw = await RawRtsp.connect(sim.port)
    base = f"rtsp://127.0.0.1:{sim.port}{cam.path}"
    status, _, _ = await raw.authed("DESCRIBE", base, cam.username, cam.password)
    assert status == 200
    transport = {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"}
    status, setup, _ = await raw.authed(
        "SETUP", f"{base}/trackID=0", cam.username, cam.password, transport
    )
    assert status == 200
    session = {"Session": setup["session"].split(";")[0]}
    status, play, _ = await raw.authed("PLAY", base, cam.username, cam.password, session)
    assert status == 200
    return raw, setup, play


# --- tests ---------------------------------------------------------------------------------


async def test_streams_live_at_fps_across_loop_wrap(sim: Sim, env: Env) -> None:
    cam_id = env.cameras[0].id
    packets, frame = await asyncio.to_thread(_read_for, sim.url(cam_id), 5.5)

    assert all(dts is not None for _, dts in packets[1:]), "only the first may lack a dts"
    dts = [d for _, d in packets if d is not None]
    assert all(b > a for a, b in itertools.pairwise(dts)), "DTS must rise strictly"
    span = (dts[-1] - dts[0]) / CLOCK_RATE
    assert span > LOOP_SECONDS + 1, "must have crossed a loop boundary"
    assert span >= 5.0
    assert (len(dts) - 1) / span == pytest.approx(FPS, rel=0.02)
    # Live pacing: after the burst the client buffered while opening, packets arrive in
    # real time, not as fast as the socket allows.
    (t0, d0), (t1, d1) = packets[FPS], packets[-1]
    assert d0 is not None and d1 is not None
    assert t1 - t0 == pytest.approx((d1 - d0) / CLOCK_RATE, abs=0.4)

    assert frame is not None, "nothing decoded"
    picture = frame.to_ndarray(format="rgb24")
    assert picture.shape == (env.settings.height, env.settings.width, 3)
    # The decoded picture is this camera's scene: the play area is mostly its colour.
    play_area = picture[picture.shape[0] // 5 : picture.shape[0] * 4 // 5]
    median = np.median(play_area.reshape(-1, 3), axis=0)
    assert np.abs(median - np.array(scene_colour(cam_id))).max() <= 12


@pytest.mark.parametrize("password", [None, "wrong-password"])
async def test_bad_or_missing_credentials_get_401(sim: Sim, password: str | None) -> None:
    cam = next(iter(sim.cameras.values()))
    url = sim.url(cam.id, credentials=False)
    if password is not None:
        url = url.replace("rtsp://", f"rtsp://{cam.username}:{password}@")
    message = await asyncio.to_thread(_open_error, url)
    assert "401" in message
    assert sim.states[cam.id].rtsp_clients == 0


async def test_unknown_path_gets_404(sim: Sim) -> None:
    cam = next(iter(sim.cameras.values()))
    url = f"rtsp://{cam.username}:{cam.password}@127.0.0.1:{sim.port}/no-such-camera"
    message = await asyncio.to_thread(_open_error, url)
    assert "404" in message


async def test_concurrent_clients_all_receive(sim: Sim) -> None:
    cam_a, cam_b = sim.cameras.values()
    readers = [Reader(sim.url(cam_a.id)).start() for _ in range(3)]
    other = Reader(sim.url(cam_b.id)).start()
    try:
        for r in [*readers, other]:
            await r.wait_packets(FPS * 2)
        assert sim.states[cam_a.id].rtsp_clients == 3
        assert sim.states[cam_b.id].rtsp_clients == 1
        for r in [*readers, other]:
            assert r.error is None
            assert r.arrivals[0][2], "a new client starts at a keyframe"
    finally:
        for r in [*readers, other]:
            await r.finish()
    await _until(lambda: sim.states[cam_a.id].rtsp_clients == 0, 3, "sessions to close")


async def test_drop_closes_sessions(sim: Sim) -> None:
    cam = next(iter(sim.cameras.values()))
    state = sim.states[cam.id]
    reader = Reader(sim.url(cam.id)).start()
    await reader.wait_packets(5)
    dropped_at = time.monotonic()
    state.apply("drop")
    await _until(lambda: reader.ended_at is not None, 5, "the dropped client to end")
    assert reader.ended_at is not None and reader.ended_at - dropped_at < 2.0
    assert state.rtsp_clients == 0
    await reader.finish()
    # A drop is momentary: the camera answers the next connection.
    raw = await RawRtsp.connect(sim.port)
    status, _, _ = await raw.request("OPTIONS", sim.url(cam.id, credentials=False))
    raw.close()
    assert status == 200


async def test_frames_sent_counts_the_frames_a_client_received(sim: Sim) -> None:
    # Benchmarks compare this counter with the frames a recorder wrote to disk.
    cam = next(iter(sim.cameras.values()))
    state = sim.states[cam.id]
    assert state.frames_sent == 0
    raw, _, _ = await _raw_play(sim, cam)
    try:
        frames = 0
        while frames < FPS:
            _, data = await asyncio.wait_for(raw.frame(), 5)
            frames += RtpPacket.parse(data).marker
        state.apply("stall")
        # What was queued before the stall still arrives; then nothing more is sent.
        while True:
            try:
                _, data = await asyncio.wait_for(raw.frame(), 1.0)
            except TimeoutError:
                break
            frames += RtpPacket.parse(data).marker
        assert state.frames_sent == frames
        assert state.snapshot()["frames_sent"] == frames
    finally:
        raw.close()


async def test_stall_freezes_then_recover_resumes(sim: Sim) -> None:
    cam = next(iter(sim.cameras.values()))
    state = sim.states[cam.id]
    reader = Reader(sim.url(cam.id)).start()
    probe = await RawRtsp.connect(sim.port)
    try:
        await reader.wait_packets(5)
        state.apply("stall")
        stalled_at = time.monotonic()
        probe.send("OPTIONS", sim.url(cam.id, credentials=False))
        # No answer, but the connection stays open (a closed socket would return at once).
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(probe.reader.read(1), 1.5)
        await asyncio.sleep(0.5)
        assert reader.received_after(stalled_at + 0.3) == 0, "RTP kept flowing in a stall"
        assert reader.ended_at is None, "a stall must not close the client"
        assert state.rtsp_clients == 1

        state.apply("recover")
        recovered_at = time.monotonic()
        await _until(lambda: reader.received_after(recovered_at) >= 3, 5, "RTP after recover")
        # The client's parser holds one frame until the next one starts, so the frame sent
        # just before the stall surfaces now; what matters is the packet after the gap.
        pairs = itertools.pairwise(reader.arrivals)
        before, resumed = next(
            (a, b)
            for a, b in pairs
            if b[0] > recovered_at and (b[1] or 0) - (a[1] or 0) > FRAME_TICKS
        )
        assert resumed[2], "the stream resumes at a keyframe"
        assert before[1] is not None and resumed[1] is not None
        gap = (resumed[1] - before[1]) / CLOCK_RATE
        assert gap >= recovered_at - stalled_at, "live position kept moving during the stall"
        status, _, _ = await asyncio.wait_for(probe.response(), 2)
        assert status == 200, "the request held during the stall is answered"
    finally:
        probe.close()
        await reader.finish()


async def test_offline_refuses_then_recover(sim: Sim) -> None:
    cam = next(iter(sim.cameras.values()))
    state = sim.states[cam.id]
    reader = Reader(sim.url(cam.id)).start()
    await reader.wait_packets(3)
    state.apply("offline")
    await _until(lambda: reader.ended_at is not None, 3, "the session to close")
    message = await asyncio.to_thread(_open_error, sim.url(cam.id))
    assert message != "no error"
    raw = await RawRtsp.connect(sim.port)
    raw.send("OPTIONS", sim.url(cam.id, credentials=False))
    assert await asyncio.wait_for(raw.reader.read(1), 2) == b"", "closed without an answer"
    raw.close()
    await reader.finish()

    state.apply("recover")
    back = Reader(sim.url(cam.id)).start()
    try:
        await back.wait_packets(3)
        assert back.error is None
    finally:
        await back.finish()


async def test_rtsp_wire_details(sim: Sim, env: Env) -> None:
    cam = next(iter(sim.cameras.values()))
    loop = env.loops[cam.id]
    base = f"rtsp://127.0.0.1:{sim.port}{cam.path}"
    raw = await RawRtsp.connect(sim.port)
    try:
        status, headers, _ = await raw.request("OPTIONS", base)
        assert status == 200 and "GET_PARAMETER" in headers["public"]
        status, headers, _ = await raw.request("DESCRIBE", base)
        assert status == 401 and 'realm="cctvctl-sim"' in headers["www-authenticate"]
        status, headers, sdp = await raw.authed("DESCRIBE", base, cam.username, cam.password)
        text = sdp.decode()
        assert status == 200 and headers["content-type"] == "application/sdp"
        assert "a=rtpmap:96 H264/90000" in text
        assert (
            f"a=fmtp:96 packetization-mode=1;profile-level-id={loop.profile_level_id};"
            f"sprop-parameter-sets={loop.sprop_parameter_sets}"
        ) in text
        assert f"a=framerate:{FPS}" in text and f"a=control:{base}/trackID=0" in text
        udp = {"Transport": "RTP/AVP;unicast;client_port=5000-5001"}
        status, _, _ = await raw.authed(
            "SETUP", f"{base}/trackID=0", cam.username, cam.password, udp
        )
        assert status == 461
    finally:
        raw.close()

    raw, setup, play = await _raw_play(sim, cam)
    second, setup2, _ = await _raw_play(sim, cam)
    try:
        assert "interleaved=0-1" in setup["transport"]
        assert setup["session"].endswith(";timeout=60")
        assert setup["transport"] != setup2["transport"], "each client has its own SSRC"
        info = dict(p.split("=", 1) for p in play["rtp-info"].split(";")[1:])
        # RTCP from the client and a keep-alive, mixed on the same socket.
        raw.writer.write(b"$\x01\x00\x08" + bytes(8))
        session = {"Session": setup["session"].split(";")[0]}
        status, _, _ = await raw.authed("GET_PARAMETER", base, cam.username, cam.password, session)
        assert status == 200
        await _check_rtp(raw, int(info["seq"]), int(info["rtptime"]), loop)
        assert sim.states[cam.id].rtsp_clients == 2
    finally:
        raw.close()
        second.close()
    await _until(lambda: sim.states[cam.id].rtsp_clients == 0, 3, "sessions to close")


async def _check_rtp(raw: RawRtsp, seq0: int, ts0: int, loop: Loop) -> None:
    """RTP as promised by RTP-Info, continuous across the loop wrap."""
    first = RtpPacket.parse((await asyncio.wait_for(raw.frame(), 5))[1])
    assert (first.sequence_number, first.timestamp) == (seq0, ts0)
    assert first.payload_type == 96 and first.payload[0] & 0x1F in (7, 24), "starts at SPS"
    prev, ssrc, frames = first, first.ssrc, 1
    # Enough frames that the session sees the end of one pass and the start of the next.
    while frames < len(loop.units) + FPS:
        channel, data = await asyncio.wait_for(raw.frame(), 5)
        assert channel == 0
        pkt = RtpPacket.parse(data)
        assert pkt.ssrc == ssrc
        assert pkt.sequence_number == (prev.sequence_number + 1) & 0xFFFF
        step = (pkt.timestamp - prev.timestamp) & 0xFFFFFFFF
        if step:
            assert prev.marker == 1, "marker on the last packet of a frame"
            assert step == FRAME_TICKS, "timestamps continue across the loop wrap"
            frames += 1
        prev = pkt


def test_cache_hit_does_not_reencode(env: Env) -> None:
    cam, settings = env.cameras[0], env.settings
    data_path, index_path = cache_paths(cam, settings)
    before = (data_path.stat().st_mtime_ns, index_path.stat().st_mtime_ns)
    again = load_loop(cam, settings)
    assert again.from_cache and again.encode_seconds == 0.0
    assert (data_path.stat().st_mtime_ns, index_path.stat().st_mtime_ns) == before
    assert again.data == env.loops[cam.id].data
    assert len(again.units) == round(LOOP_SECONDS * FPS)
    assert [u.keyframe for u in again.units].count(True) == 2


def test_cache_key_covers_parameters_and_rejects_damage(env: Env, tmp_path: Path) -> None:
    cam = env.cameras[0]
    settings = replace(env.settings, cache_dir=tmp_path)
    first = load_loop(cam, settings)
    assert not first.from_cache
    assert cache_paths(replace(cam, site="Elsewhere"), settings) != cache_paths(cam, settings)
    assert cache_paths(cam, replace(settings, fps=10)) != cache_paths(cam, settings)
    # The other codec is another loop, whether the camera or [sim] asks for it...
    other = "h265" if (cam.codec or settings.codec) == "h264" else "h264"
    assert cache_paths(replace(cam, codec=other), settings) != cache_paths(cam, settings)
    assert cache_paths(cam, replace(settings, codec=other)) != cache_paths(cam, settings)
    # ...while sound (encoded at start, apart), transport and auth leave the video's bytes.
    for change in ({"audio": "aac"}, {"transport": "udp"}, {"auth": "basic"}):
        assert cache_paths(replace(cam, **change), settings) == cache_paths(cam, settings)
    # Damaged data no longer matches the digest in the index, so it is re-encoded.
    data_path, _ = cache_paths(cam, settings)
    data_path.write_bytes(b"\x00" * 100)
    healed = load_loop(cam, settings)
    assert not healed.from_cache and healed.data == first.data
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


async def test_snapshot_shows_the_camera_scene(sim: Sim, env: Env) -> None:
    from io import BytesIO

    from PIL import Image

    for cam_id in sim.cameras:
        jpeg = await asyncio.to_thread(sim.server.snapshot_jpeg, cam_id)
        picture = np.asarray(Image.open(BytesIO(jpeg)).convert("RGB"))
        assert picture.shape == (env.settings.height, env.settings.width, 3)
        median = np.median(picture.reshape(-1, 3), axis=0)
        assert np.abs(median - np.array(scene_colour(cam_id))).max() <= 8
