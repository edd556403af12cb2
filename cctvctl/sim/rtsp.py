"""RTSP 1.0 server for the simulator: live-paced replay of pre-encoded loops over TCP.

Each camera behaves like a live device: its stream position follows the monotonic clock, so
two clients that connect at different times see the same moment, and a client that connects
mid-loop starts at the next keyframe. Media goes only interleaved on the RTSP connection
(RTP/AVP/TCP): that is what a recorder behind NAT uses, and it keeps the simulator to one
port. Per frame the server does no encoding; per client it packs a 16-byte header per RTP
packet and hands the frame to the transport in one call.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import secrets
import struct
import time
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar
from urllib.parse import urlsplit

from cctvctl.sim import rtp_h265
from cctvctl.sim.audio import AudioLoop, encode_audio_loop
from cctvctl.sim.basic_auth import BasicAuth
from cctvctl.sim.digest import DigestAuth
from cctvctl.sim.loop import CLOCK_RATE, Loop
from cctvctl.sim.model import SimCamera, SimMedia, SimSettings, media_of
from cctvctl.sim.rtp_udp import UdpPair, client_ports
from cctvctl.sim.scene import render_frame
from cctvctl.sim.state import Availability, CameraState

REALM = "cctvctl-sim"
SERVER_NAME = "cctvctl-sim"
SESSION_TIMEOUT = 60
TRACK = "trackID=0"
AUDIO_TRACK = "trackID=1"
PAYLOAD_TYPE = 96
PUBLIC = "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER"
MAX_WRITE_BUFFER = 4 * 1024 * 1024  # a client this far behind is not going to catch up
MAX_HEADER_BYTES = 16 * 1024
MAX_BODY_BYTES = 64 * 1024
WATCH_INTERVAL = 0.1  # how fast faults (drop, offline) reach open connections
MAX_LAG = 1.0  # seconds behind schedule before the ticker skips ahead instead of bursting

# '$', channel, length, then the RTP fixed header: V=2, M+PT, sequence, timestamp, SSRC.
_FRAME_HEADER = struct.Struct(">BBHBBHII")
_RTP_HEADER = struct.Struct(">BBHII")  # the same without the interleaving prefix (UDP)
_RTP_VERSION_BYTE = 0x80
_MARKER = 0x80

REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    454: "Session Not Found",
    455: "Method Not Valid in This State",
    459: "Aggregate Operation Not Allowed",
    461: "Unsupported Transport",
    501: "Not Implemented",
}


class _Closed(Exception):
    """The peer went away or sent something we will not parse."""


@dataclass
class _Request:
    method: str
    url: str
    headers: dict[str, str]  # lower-cased names

    @property
    def path(self) -> str:
        path = urlsplit(self.url).path if "://" in self.url else self.url.partition("?")[0]
        return path.rstrip("/") or "/"


@dataclass
class _Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    # Runs right after the response is queued, before the loop can run the ticker.
    then: Callable[[], None] | None = None


# Packet of an access unit: (interleaved length, marker|payload type, RTP payload).
_Packet = tuple[int, int, bytes]


class _AudioTrack:
    """A session's audio track: its RTP numbering and where its packets go."""

    def __init__(self, channel: int, url: str, udp: UdpPair | None) -> None:
        self.channel = channel
        self.url = url
        self.udp = udp
        self.ssrc = secrets.randbits(32)
        self.seq = secrets.randbits(16)
        self.ts_base = secrets.randbits(32)


class _Session:
    """One client's RTP session: its own SSRC, sequence and timestamp base."""

    def __init__(self, conn: _Connection, stream: _CameraStream, channel: int, url: str) -> None:
        self.id = secrets.token_hex(8)
        self.conn = conn
        self.stream = stream
        self.channel = channel
        self.track_url = url
        self.ssrc = secrets.randbits(32)
        self.seq = secrets.randbits(16)
        self.ts_base = secrets.randbits(32)
        self.start_index = 0
        self.start_time = 0.0  # monotonic time of the first frame sent (audio starts there)
        self.playing = False
        self.udp: UdpPair | None = None  # video over UDP; None: interleaved on the connection
        self.audio: _AudioTrack | None = None

    def close(self) -> None:
        for pair in (self.udp, self.audio.udp if self.audio else None):
            if pair is not None:
                pair.close()
        self.udp = None
        if self.audio is not None:
            self.audio.udp = None

    def send(self, packets: Sequence[_Packet], media_ts: int) -> bool:
        """Queue one access unit. False when the client has fallen too far behind."""
        transport = self.conn.transport
        if transport.is_closing():
            return True  # the connection handler cleans up
        ts = (self.ts_base + media_ts) & 0xFFFFFFFF
        if self.udp is not None:
            return self._send_udp(self.udp, packets, ts)
        seq, ch, ssrc = self.seq, self.channel, self.ssrc
        pack = _FRAME_HEADER.pack
        parts: list[bytes] = []
        for length, mpt, payload in packets:
            parts.append(pack(0x24, ch, length, _RTP_VERSION_BYTE, mpt, seq, ts, ssrc))
            parts.append(payload)
            seq = (seq + 1) & 0xFFFF
        self.seq = seq
        transport.writelines(parts)
        self.stream.state.frames_sent += 1
        return transport.get_write_buffer_size() <= self.conn.max_write_buffer

    def _send_udp(self, pair: UdpPair, packets: Sequence[_Packet], ts: int) -> bool:
        seq, ssrc = self.seq, self.ssrc
        pack = _RTP_HEADER.pack
        for _, mpt, payload in packets:
            pair.send(pack(_RTP_VERSION_BYTE, mpt, seq, ts, ssrc) + payload)
            seq = (seq + 1) & 0xFFFF
        self.seq = seq
        self.stream.state.frames_sent += 1
        return True

    def send_audio(self, payload_type: int, payload: bytes, media_ts: int) -> None:
        track = self.audio
        if track is None or self.conn.transport.is_closing():
            return
        ts = (track.ts_base + media_ts) & 0xFFFFFFFF
        if track.udp is not None:
            header = _RTP_HEADER.pack(_RTP_VERSION_BYTE, payload_type, track.seq, ts, track.ssrc)
            track.udp.send(header + payload)
        else:
            self.conn.transport.writelines(
                (
                    _FRAME_HEADER.pack(
                        0x24,
                        track.channel,
                        len(payload) + 12,
                        _RTP_VERSION_BYTE,
                        payload_type,
                        track.seq,
                        ts,
                        track.ssrc,
                    ),
                    payload,
                )
            )
        track.seq = (track.seq + 1) & 0xFFFF


class _CameraStream:
    """A camera's live position, its sessions, and the ticker that feeds them."""

    def __init__(
        self, camera: SimCamera, state: CameraState, loop: Loop, epoch: float, media: SimMedia
    ) -> None:
        self.camera = camera
        self.state = state
        self.loop = loop
        self.media = media
        self.auth: DigestAuth | BasicAuth | None = None
        if camera.username:
            auth = BasicAuth if media.auth == "basic" else DigestAuth
            self.auth = auth(REALM, camera.username, camera.password)
        self.audio = _audio_loop(media.audio, loop.duration / CLOCK_RATE)
        self.audio_next = 0  # global index of the next audio packet due
        self.epoch = epoch
        self.ts_origin = 0  # media time of frame 0 (moves when a stream fault swaps the loop)
        self._use(loop)
        self.sessions: set[_Session] = set()
        self.playing: set[_Session] = set()
        self.ticker: asyncio.Task[None] | None = None
        self.next_index = 0

    def _use(self, loop: Loop) -> None:
        self.loop = loop
        self.units = len(loop.units)
        self.loop_seconds = loop.duration / CLOCK_RATE
        self.unit_seconds = [u.pts / CLOCK_RATE for u in loop.units]
        self.keyframes = loop.keyframe_indices
        self.packets = [_frame_packets(u.payloads) for u in loop.units]

    def switch_pending(self, index: int | None = None) -> int:
        """Send the loop a stream fault asked for from keyframe ``index`` on (default: the
        next one due); returns the index that keyframe has in the new loop's numbering.

        The new loop starts when and where the old keyframe would have: the same due time,
        the same media time, so the timeline goes on without a step.
        """
        loop = self.state.stream.pending
        if index is None:
            index = self.next_keyframe(self.index_at(time.monotonic()))
        if loop is None:
            return index
        self.state.stream.pending = None
        due, origin = self.frame_time(index), self.media_ts(index)
        self._use(loop)
        self.epoch, self.ts_origin = due, origin
        for session in self.sessions:
            session.start_index = 0
        self.state.stream.switches += 1
        return 0

    # -- the live clock; frame indices are global, counted from the epoch across passes --

    def frame_time(self, index: int) -> float:
        passes, i = divmod(index, self.units)
        return self.epoch + passes * self.loop_seconds + self.unit_seconds[i]

    def index_at(self, now: float) -> int:
        """The first frame due at or after ``now``."""
        passes, offset = divmod(max(0.0, now - self.epoch), self.loop_seconds)
        i = bisect_left(self.unit_seconds, offset)
        return int(passes) * self.units + i

    def next_keyframe(self, index: int) -> int:
        passes, i = divmod(index, self.units)
        k = bisect_left(self.keyframes, i)
        if k == len(self.keyframes):
            return (passes + 1) * self.units + self.keyframes[0]
        return passes * self.units + self.keyframes[k]

    def media_ts(self, index: int) -> int:
        """90 kHz time of a frame, continuous across passes (before the session's base)."""
        passes, i = divmod(index, self.units)
        return self.ts_origin + passes * self.loop.duration + self.loop.units[i].pts

    # -- sessions --

    def add_session(self, session: _Session) -> None:
        self.sessions.add(session)
        self.state.rtsp_clients = len(self.sessions)

    def remove_session(self, session: _Session) -> None:
        self.pause(session)
        session.close()
        self.sessions.discard(session)
        self.state.rtsp_clients = len(self.sessions)

    def plan_start(self, session: _Session) -> tuple[int, int]:
        """Fix where a session starts; returns (first seq, first rtptime) for RTP-Info."""
        upcoming = self.next_index if self.ticker else self.index_at(time.monotonic())
        if self.ticker is None and self.state.stream.pending is not None:
            upcoming = self.switch_pending()
        session.start_index = self.next_keyframe(upcoming)
        session.start_time = self.frame_time(session.start_index)
        rtptime = (session.ts_base + self.media_ts(session.start_index)) & 0xFFFFFFFF
        return session.seq, rtptime

    # -- audio: its own packet clock from the same epoch --

    def audio_time(self, n: int) -> float:
        assert self.audio is not None
        return self.epoch + n * self.audio.packet_seconds

    def audio_rtptime(self, session: _Session) -> int:
        """RTP time of the audio track at the session's first frame (for RTP-Info)."""
        assert self.audio is not None and session.audio is not None
        samples = round((session.start_time - self.epoch) * self.audio.clock_rate)
        return (session.audio.ts_base + samples) & 0xFFFFFFFF

    def _send_audio(self, until: float) -> None:
        audio = self.audio
        if audio is None:
            return
        step = audio.packet_seconds
        # After a stall or a resync the audio follows the clock, as the video does.
        self.audio_next = max(self.audio_next, int((until - MAX_LAG - self.epoch) / step))
        count = len(audio.payloads)
        while self.audio_time(self.audio_next) <= until:
            n = self.audio_next
            due = self.audio_time(n)
            payload = audio.payloads[n % count]
            ts = n * audio.samples_per_packet
            for session in self.playing:
                if session.audio is not None and due >= session.start_time:
                    session.send_audio(audio.payload_type, payload, ts)
            self.audio_next = n + 1

    def play(self, session: _Session) -> None:
        session.playing = True
        self.playing.add(session)
        if self.ticker is None:
            # Never past the frame promised in RTP-Info, even if it fell due meanwhile.
            self.next_index = min(self.index_at(time.monotonic()), session.start_index)
            if self.audio is not None:
                start = self.frame_time(self.next_index) - self.epoch
                self.audio_next = max(0, int(start / self.audio.packet_seconds))
            self.ticker = asyncio.get_running_loop().create_task(
                self._tick(), name=f"rtsp-ticker-{self.camera.id}"
            )
            self.ticker.add_done_callback(self._ticker_done)

    def pause(self, session: _Session) -> None:
        session.playing = False
        self.playing.discard(session)

    def _ticker_done(self, task: asyncio.Task[None]) -> None:
        if self.ticker is task:
            self.ticker = None

    async def _tick(self) -> None:
        resync = False
        while self.playing:
            index = self.next_index
            delay = self.frame_time(index) - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
                continue  # clients and faults may have changed while asleep
            if self.state.stream.pending is not None and self.next_keyframe(index) == index:
                index = self.switch_pending(index)
            self.next_index = index + 1
            up = self.state.availability() is Availability.UP
            if delay < -MAX_LAG or not up:
                # Frames that were not sent leave decoders without references, so the
                # stream resumes at a keyframe; the position keeps following the clock.
                self.next_index = max(self.next_index, self.index_at(time.monotonic()))
                if up:  # behind, not broken on purpose: the camera sends fewer frames
                    self.state.frames_skipped += self.next_index - index
                resync = True
                continue
            if resync:
                resync = False
                if self.next_keyframe(index) != index:
                    self.next_index = self.next_keyframe(index)
                    if up:
                        self.state.frames_skipped += self.next_index - index
                    continue
            self._send(index)
        self.ticker = None

    def _send(self, index: int) -> None:
        packets = self.packets[index % self.units]
        media_ts = self.media_ts(index)
        if self.state.stream.active:
            media_ts += self.state.stream.rtp_offset(time.monotonic())
        if self.audio is not None:
            self._send_audio(self.frame_time(index))
        for session in list(self.playing):
            if session.start_index <= index and not session.send(packets, media_ts):
                session.conn.close()  # slow reader: drop rather than buffer without bound


@functools.lru_cache(maxsize=16)
def _audio_loop(codec: str, seconds: float) -> AudioLoop | None:
    # One loop per codec and length: every camera sending it shares the same bytes.
    return None if codec == "none" else encode_audio_loop(codec, seconds)


def _frame_packets(payloads: Sequence[bytes]) -> tuple[_Packet, ...]:
    last = len(payloads) - 1
    return tuple(
        (len(p) + 12, (_MARKER if i == last else 0) | PAYLOAD_TYPE, p)
        for i, p in enumerate(payloads)
    )


class _Connection:
    """One RTSP/TCP connection; bound to a camera by its first request naming one."""

    def __init__(self, writer: asyncio.StreamWriter, port: int, max_write_buffer: int) -> None:
        self.writer = writer
        self.transport = writer.transport
        self.port = port
        self.max_write_buffer = max_write_buffer
        self.stream: _CameraStream | None = None
        self.generation = 0
        self.session: _Session | None = None
        self.closed = False

    def bind(self, stream: _CameraStream) -> None:
        self.stream = stream
        self.generation = stream.state.drop_generation

    def send(self, data: bytes) -> None:
        self.transport.write(data)
        if self.transport.get_write_buffer_size() > self.max_write_buffer:
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.session is not None:
            self.session.stream.remove_session(self.session)
            self.session = None
        # abort, not close: a dropped or dark camera does not flush what it had queued.
        self.transport.abort()


# --- wire format ---------------------------------------------------------------------------


async def _read_request(reader: asyncio.StreamReader) -> _Request:
    """Next request; interleaved frames (client RTCP) in between are read and ignored."""
    try:
        while True:
            first = await reader.readexactly(1)
            if first == b"$":
                head = await reader.readexactly(3)
                await reader.readexactly(int.from_bytes(head[1:3], "big"))
                continue
            if first in (b"\r", b"\n"):
                continue
            head_bytes = first + await reader.readuntil(b"\r\n\r\n")
            request = _parse_head(head_bytes)
            length = int(request.headers.get("content-length", "0") or 0)
            if not 0 <= length <= MAX_BODY_BYTES:
                raise _Closed("body too large")
            if length:
                await reader.readexactly(length)  # GET/SET_PARAMETER bodies: not needed
            return request
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError) as exc:
        raise _Closed(str(exc)) from exc
    except ValueError as exc:
        raise _Closed(f"malformed request: {exc}") from exc


def _parse_head(head: bytes) -> _Request:
    if len(head) > MAX_HEADER_BYTES:
        raise ValueError("header too large")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split()
    if len(parts) != 3 or not parts[2].startswith("RTSP/"):
        raise ValueError(f"bad request line {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return _Request(parts[0].upper(), parts[1], headers)


def _encode_response(resp: _Response, cseq: str | None) -> bytes:
    lines = [f"RTSP/1.0 {resp.status} {REASONS.get(resp.status, 'Error')}"]
    if cseq is not None:
        lines.append(f"CSeq: {cseq}")
    lines.append(f"Server: {SERVER_NAME}")
    lines.append(f"Date: {email.utils.formatdate(usegmt=True)}")
    lines.extend(f"{k}: {v}" for k, v in resp.headers.items())
    if resp.body:
        lines.append(f"Content-Length: {len(resp.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + resp.body


def _base_url(req: _Request, camera: SimCamera, host: str, port: int) -> str:
    parts = urlsplit(req.url)
    if parts.hostname:
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        port = parts.port or port
    return f"rtsp://{host}:{port}{camera.path}"


def _video_format(loop: Loop, nosps: bool) -> tuple[str, str]:
    """(rtpmap encoding name, fmtp parameters) of the loop's codec; ``nosps``: without the
    parameter sets (a camera that sends them in band only)."""
    if loop.codec == "h265":
        return "H265", "" if nosps else rtp_h265.fmtp(loop.vps, loop.sps, loop.pps)
    fmtp = f"packetization-mode=1;profile-level-id={loop.profile_level_id}"
    if not nosps:
        fmtp += f";sprop-parameter-sets={loop.sprop_parameter_sets}"
    return "H264", fmtp


def _sdp(stream: _CameraStream, base_url: str, host: str) -> bytes:
    loop = stream.loop
    encoding, fmtp = _video_format(loop, stream.state.stream.nosps)
    lines = [
        "v=0",
        f"o=- {int(stream.epoch * 1000)} 1 IN IP4 {host}",
        f"s={stream.camera.name}",
        f"i={stream.camera.kecamatan} / {stream.camera.site}",
        "c=IN IP4 0.0.0.0",
        "t=0 0",
        "a=tool:cctvctl-sim",
        "a=control:*",
        f"m=video 0 RTP/AVP {PAYLOAD_TYPE}",
        f"b=AS:{max(1, round(loop.bitrate / 1000))}",
        f"a=rtpmap:{PAYLOAD_TYPE} {encoding}/{CLOCK_RATE}",
        *([f"a=fmtp:{PAYLOAD_TYPE} {fmtp}"] if fmtp else []),
        f"a=framerate:{loop.fps}",
        f"a=x-dimensions:{loop.width},{loop.height}",
        "a=recvonly",
        f"a=control:{base_url}/{TRACK}",
    ]
    audio = stream.audio
    if audio is not None:
        lines += [
            f"m=audio 0 RTP/AVP {audio.payload_type}",
            f"a=rtpmap:{audio.payload_type} {audio.rtpmap}",
            *([f"a=fmtp:{audio.payload_type} {audio.fmtp}"] if audio.fmtp else []),
            "a=recvonly",
            f"a=control:{base_url}/{AUDIO_TRACK}",
        ]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def _interleaved_channel(transport: str) -> int | None:
    """The RTP channel a client asks for, or None if it does not ask for TCP interleaving."""
    specs = [spec.strip() for spec in transport.split(",")]
    for spec in specs:
        params = [p.strip() for p in spec.split(";")]
        if params[0].upper() != "RTP/AVP/TCP":
            continue
        for p in params[1:]:
            name, _, value = p.partition("=")
            if name.lower() == "interleaved":
                first = value.split("-")[0]
                return int(first) if first.isdigit() and int(first) < 255 else None
        return 0
    return None


def _udp_ports(transport: str) -> tuple[int, int] | None:
    """The client's RTP/RTCP ports if it offers RTP/AVP over UDP unicast, else None."""
    for spec in transport.split(","):
        ports = client_ports(spec.strip())
        if ports is not None:
            return ports
    return None


_Handler = Callable[["RtspServer", _Connection, _CameraStream, _Request], _Response]


# --- the server ----------------------------------------------------------------------------


class RtspServer:
    """Serves every camera's loop on its ``rtsp_port`` at its ``path``."""

    def __init__(
        self,
        cameras: Sequence[SimCamera],
        states: dict[str, CameraState],
        loops: dict[str, Loop],
        settings: SimSettings,
        *,
        max_write_buffer: int = MAX_WRITE_BUFFER,
    ) -> None:
        self.settings = settings
        self.max_write_buffer = max_write_buffer
        epoch = time.monotonic()
        self._routes: dict[int, dict[str, _CameraStream]] = {}
        self._streams: dict[str, _CameraStream] = {}
        for cam in cameras:
            if cam.id not in loops or cam.id not in states:
                raise ValueError(f"camera {cam.id!r} has no encoded loop or no state")
            routes = self._routes.setdefault(cam.rtsp_port, {})
            path = cam.path.rstrip("/") or "/"
            if path in routes:
                raise ValueError(
                    f"cameras {routes[path].camera.id!r} and {cam.id!r} share "
                    f"rtsp://{settings.host}:{cam.rtsp_port}{path}"
                )
            media = media_of(cam, settings)
            stream = _CameraStream(cam, states[cam.id], loops[cam.id], epoch, media)
            routes[path] = stream
            self._streams[cam.id] = stream
        self._servers: list[asyncio.Server] = []
        self._conns: dict[_Connection, asyncio.Task[None]] = {}
        self._watchdog: asyncio.Task[None] | None = None

    def url(self, camera_id: str, *, credentials: bool = True) -> str:
        cam = self._streams[camera_id].camera
        auth = f"{cam.username}:{cam.password}@" if credentials else ""
        return f"rtsp://{auth}{self.settings.host}:{cam.rtsp_port}{cam.path}"

    def snapshot_jpeg(self, camera_id: str) -> bytes:
        """The picture the camera is showing now, as JPEG. Thread-safe; blocks ~ms."""
        import io

        from PIL import Image

        stream = self._streams[camera_id]
        index = stream.index_at(time.monotonic()) % stream.units
        frame = render_frame(stream.camera, index, self.settings)
        out = io.BytesIO()
        Image.fromarray(frame).save(out, format="JPEG", quality=85)
        return out.getvalue()

    async def start(self) -> None:
        for port in self._routes:
            server = await asyncio.start_server(
                functools.partial(self._serve, port=port),
                host=self.settings.host,
                port=port,
                limit=MAX_HEADER_BYTES,
            )
            self._servers.append(server)
        self._watchdog = asyncio.get_running_loop().create_task(self._watch(), name="rtsp-watchdog")

    async def stop(self) -> None:
        """Close listeners and every connection; returns when no task of ours is left."""
        for server in self._servers:
            server.close()
        if self._watchdog is not None:
            self._watchdog.cancel()
            await asyncio.gather(self._watchdog, return_exceptions=True)
            self._watchdog = None
        tickers = [s.ticker for s in self._streams.values() if s.ticker is not None]
        for stream in self._streams.values():
            stream.playing.clear()
        for task in tickers:
            task.cancel()
        # Connection handlers end by themselves once their socket is aborted; cancelling
        # them instead makes asyncio's stream callback log the CancelledError (3.11).
        handlers = list(self._conns.values())
        for conn in list(self._conns):
            conn.close()
        if handlers:
            _, stuck = await asyncio.wait(handlers, timeout=2.0)
            for task in stuck:
                task.cancel()
        await asyncio.gather(*tickers, *handlers, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()

    # -- connections --

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int
    ) -> None:
        conn = _Connection(writer, port, self.max_write_buffer)
        task = asyncio.current_task()
        assert task is not None
        self._conns[conn] = task
        try:
            while not conn.closed:
                request = await _read_request(reader)
                response = await self._dispatch(conn, request)
                if response is None or conn.closed:
                    break  # dark camera: close without an answer, as a dead device would
                conn.send(_encode_response(response, request.headers.get("cseq")))
                if response.then is not None and not conn.closed:
                    response.then()
        except _Closed:
            pass
        finally:
            conn.close()
            self._conns.pop(conn, None)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            now = time.monotonic()
            dark = {
                cid
                for cid, s in self._streams.items()
                if s.state.availability(now) is Availability.DARK
            }
            for conn in list(self._conns):
                stream = conn.stream
                if stream is None:
                    continue
                if stream.camera.id in dark or conn.generation < stream.state.drop_generation:
                    conn.close()

    async def _answerable(self, conn: _Connection, stream: _CameraStream) -> bool:
        """Wait out a stall; False if the camera goes dark or drops this connection."""
        while not conn.closed:
            availability = stream.state.availability()
            if availability is Availability.DARK:
                return False
            if conn.generation < stream.state.drop_generation:
                return False
            if availability is not Availability.STALLED:
                return True
            await asyncio.sleep(WATCH_INTERVAL)
        return False

    def _route(self, port: int, path: str) -> _CameraStream | None:
        routes = self._routes.get(port, {})
        while path:
            if path in routes:
                return routes[path]
            path = path.rpartition("/")[0]
        return None

    async def _dispatch(self, conn: _Connection, req: _Request) -> _Response | None:
        if req.method == "OPTIONS" and req.url == "*":
            return _Response(200, {"Public": PUBLIC})
        stream = self._route(conn.port, req.path)
        if stream is None:
            return _Response(404)
        if conn.stream is None:
            conn.bind(stream)
        elif conn.stream is not stream:
            return _Response(400, {"Content-Type": "text/plain"}, b"one camera per connection\n")
        if not await self._answerable(conn, stream):
            return None
        if req.method == "OPTIONS":
            return _Response(200, {"Public": PUBLIC})
        availability = stream.state.availability()
        if availability is Availability.NOT_FOUND:
            return _Response(404)
        auth = stream.auth
        if availability is Availability.UNAUTHORIZED:
            challenge = auth.challenge() if auth else DigestAuth(REALM, "-", "-").challenge()
            return _Response(401, {"WWW-Authenticate": challenge})
        if auth is not None and not auth.check(req.method, req.headers.get("authorization")):
            return _Response(401, {"WWW-Authenticate": auth.challenge()})
        handler = self._handlers.get(req.method)
        if handler is None:
            return _Response(501, {"Public": PUBLIC})
        return handler(self, conn, stream, req)

    # -- methods --

    def _describe(self, conn: _Connection, stream: _CameraStream, req: _Request) -> _Response:
        base = _base_url(req, stream.camera, self.settings.host, conn.port)
        if stream.ticker is None and stream.state.stream.pending is not None:
            stream.switch_pending()  # nobody watches: describe the camera as it is now
        body = _sdp(stream, base, self.settings.host)
        headers = {"Content-Type": "application/sdp", "Content-Base": f"{base}/"}
        return _Response(200, headers, body)

    def _setup(self, conn: _Connection, stream: _CameraStream, req: _Request) -> _Response:
        offered = req.headers.get("transport", "")
        allowed = stream.media.transport
        channel = _interleaved_channel(offered) if allowed in ("tcp", "both") else None
        udp_ports = _udp_ports(offered) if allowed in ("udp", "both") and channel is None else None
        if channel is None and udp_ports is None:
            return _Response(461)
        audio = req.path.rstrip("/").endswith(AUDIO_TRACK)
        if audio and stream.audio is None:
            return _Response(404)
        session = conn.session
        wanted = req.headers.get("session", "").split(";")[0].strip()
        if session is not None and wanted and wanted != session.id:
            return _Response(454)
        if session is None:
            session = _Session(conn, stream, channel or 0, req.url)
            conn.session = session
            stream.add_session(session)
        elif session.playing:
            return _Response(455)
        pair: UdpPair | None = None
        if udp_ports is not None:
            peer = conn.transport.get_extra_info("peername")
            try:
                pair = UdpPair(self.settings.host, peer[0], udp_ports[0])
            except OSError:
                return _Response(461)
        ssrc = session.ssrc
        if audio:
            if session.audio is not None and session.audio.udp is not None:
                session.audio.udp.close()
            session.audio = _AudioTrack(channel or 0, req.url, pair)
            ssrc = session.audio.ssrc
        else:
            if session.udp is not None:
                session.udp.close()
            session.udp = pair
            session.channel, session.track_url = channel or 0, req.url
        if pair is not None and udp_ports is not None:
            low, high = udp_ports
            transport = (
                f"RTP/AVP;unicast;client_port={low}-{high};"
                f"server_port={pair.port}-{pair.port + 1};ssrc={ssrc:08X}"
            )
        else:
            assert channel is not None
            transport = f"RTP/AVP/TCP;unicast;interleaved={channel}-{channel + 1};ssrc={ssrc:08X}"
        return _Response(200, {"Transport": transport, "Session": _session_header(session)})

    def _play(self, conn: _Connection, stream: _CameraStream, req: _Request) -> _Response:
        session = _own_session(conn, req)
        if isinstance(session, _Response):
            return session
        headers = {"Session": _session_header(session), "Range": "npt=0.000-"}
        if session.playing:
            return _Response(200, headers)
        seq, rtptime = stream.plan_start(session)
        headers["RTP-Info"] = f"url={session.track_url};seq={seq};rtptime={rtptime}"
        if session.audio is not None:
            track = session.audio
            headers["RTP-Info"] += (
                f",url={track.url};seq={track.seq};rtptime={stream.audio_rtptime(session)}"
            )
        return _Response(200, headers, then=lambda: stream.play(session))

    def _pause(self, conn: _Connection, stream: _CameraStream, req: _Request) -> _Response:
        session = _own_session(conn, req)
        if isinstance(session, _Response):
            return session
        stream.pause(session)
        return _Response(200, {"Session": _session_header(session)})

    def _teardown(self, conn: _Connection, stream: _CameraStream, req: _Request) -> _Response:
        session = _own_session(conn, req)
        if isinstance(session, _Response):
            return session
        stream.remove_session(session)
        conn.session = None
        return _Response(200)

    def _parameter(self, conn: _Connection, stream: _CameraStream, req: _Request) -> _Response:
        # Keep-alive: clients send these to keep the session; TCP already keeps it.
        headers = {"Session": _session_header(conn.session)} if conn.session else {}
        return _Response(200, headers)

    _handlers: ClassVar[Mapping[str, _Handler]] = {
        "DESCRIBE": _describe,
        "SETUP": _setup,
        "PLAY": _play,
        "PAUSE": _pause,
        "TEARDOWN": _teardown,
        "GET_PARAMETER": _parameter,
        "SET_PARAMETER": _parameter,
    }


def _session_header(session: _Session) -> str:
    return f"{session.id};timeout={SESSION_TIMEOUT}"


def _own_session(conn: _Connection, req: _Request) -> _Session | _Response:
    """The connection's session if the request names it, else the error to answer."""
    session = conn.session
    if session is None:
        return _Response(455)
    wanted = req.headers.get("session", "").split(";")[0].strip()
    return session if wanted == session.id else _Response(454)


__all__ = ["REALM", "RtspServer"]
