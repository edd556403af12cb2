"""One thread per camera: pull its RTSP stream and remux it into fMP4 segments.

libavformat's RTSP client does the protocol work (RTP over the RTSP TCP connection,
digest auth, keep-alives) and hands out whole access units; PyAV releases the GIL while
it reads, so dozens of these threads share one process cheaply. A connection feeds
exactly one :class:`~cctvctl.recorder.segmenter.SegmentWriter`; when the connection
ends for any reason the writer is closed, which indexes its last segment, and the
thread reconnects. When the device is still there (:mod:`cctvctl.recorder.liveness`: it
answers, or takes the connection and hangs), the stream is what failed and the thread
waits a capped exponential back-off with jitter; when the camera is gone, the thread
probes it every ``probe_fast_interval``/``probe_interval`` seconds and reconnects as soon
as it is back, so footage resumes within seconds of a camera's return instead of after
up to 30 s of back-off.

Time-outs (PyAV 18 / FFmpeg 8):

- Reads: the RTSP demuxer's ``timeout`` option (microseconds) bounds every socket
  operation. The demuxer retries a read once after the first time-out, so a stalled
  camera is noticed after about ``2 * read_timeout``; that is also the longest a stop
  request waits for a thread blocked in a read.
- Open: ``av.open(..., timeout=(open_timeout, None))`` installs PyAV's interrupt callback
  with a deadline for the whole handshake and probe, and none while reading. A read
  deadline there (``timeout=(open, read)``) works too, but the callback takes the GIL
  every time libav checks it, several times per RTP packet: with 16 cameras it doubled
  the recorder's CPU time. Without a read deadline the callback returns before taking
  the GIL.

Opening: a recorder's ingests take turns at one :class:`~cctvctl.recorder.open_gate.OpenGate`
for the auth check, the handshake and the probe, up to the first packet (at start-up, on
reconnects and after reloads alike), so a large site does not open every camera at once.
The open time-out counts from the turn; the wait is not held against the camera.

Pacing: a thread that has caught up with its camera sleeps up to a second and then reads
what arrived meanwhile in one go (see :class:`_Pacer` and ``IngestSettings.batch_*``).
Waking once per frame cost more CPU than everything else the recorder does; footage is
timed by the stream's clock, so only live figures and thumbnails lag, by the sleep.

The password is put into the URL only for libavformat. Every error text that leaves
this module goes through :func:`scrub`, because libav error strings quote the URL.
"""

from __future__ import annotations

import errno
import logging
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, urlsplit, urlunsplit

import av

from cctvctl.models import CameraMedia, OfflineCause
from cctvctl.recorder.audio import AacConverter, AudioOutput, plan_audio
from cctvctl.recorder.causes import classify
from cctvctl.recorder.liveness import Presence, probe_cause
from cctvctl.recorder.media_clock import DEFAULT_THRESHOLD, Reanchor
from cctvctl.recorder.open_gate import OpenGate
from cctvctl.recorder.rtsp_auth import BASIC_REFUSED, is_private_host, offered_schemes
from cctvctl.recorder.segmenter import SegmentRecord, SegmentWriter
from cctvctl.recorder.stats_feed import StatsFeed
from cctvctl.recorder.thumbnails import Keyframe
from cctvctl.storage.modes import DEFAULT_MODES, FileModes

__all__ = [
    "Backoff",
    "CameraIngest",
    "IngestSettings",
    "scrub",
    "url_with_credentials",
]

log = logging.getLogger("cctvctl.recorder")

BACKOFF_MIN: Final = 1.0
BACKOFF_MAX: Final = 30.0
# A connection that delivered packets this long was healthy: the next failure starts
# the back-off from the bottom again.
HEALTHY_SECONDS: Final = 30.0
PROBE_INTERVAL: Final = 2.0
PROBE_FAST_INTERVAL: Final = 0.5
PROBE_FAST_SECONDS: Final = 30.0
PROBE_TIMEOUT: Final = 1.0
UDP_BUFFER_BYTES: Final = 1 << 20
#: ``transport`` in the inventory -> what libavformat is asked for, in order.
TRANSPORT_ATTEMPTS: Final = {"tcp": ("tcp",), "udp": ("udp",), "auto": ("tcp", "udp")}

_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s'\"]*@")


def url_with_credentials(url: str, username: str, password: str) -> str:
    """``url`` with percent-encoded user and password in its authority (none without a user)."""
    if not username:
        return url
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    auth = f"{quote(username, safe='')}:{quote(password, safe='')}@"
    return urlunsplit((parts.scheme, auth + host, parts.path, parts.query, parts.fragment))


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove credentials from ``text``: URL user-info and every literal secret.

    Both forms of a secret are removed, since libav quotes the URL it was given, where
    the password is percent-encoded.
    """
    text = _USERINFO.sub(r"\1", text)
    for secret in secrets:
        if not secret:
            continue
        for form in {secret, quote(secret, safe=""), quote(secret)}:
            text = text.replace(form, "***")
    return text


def describe_error(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """A short, credential-free description of an ingest failure."""
    if isinstance(exc, av.FFmpegError):
        # strerror is libav's message without the file name (the URL) appended.
        detail = exc.strerror or str(exc)
        text = f"{type(exc).__name__}: {detail}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return scrub(text, secrets)


@dataclass(frozen=True, slots=True)
class IngestSettings:
    segment_seconds: float = 60.0
    open_timeout: float = 10.0
    read_timeout: float = 2.5  # per socket operation; a stall is noticed after twice this
    # Probing reads packets that libavformat then hands out in one burst; the writer
    # would date that burst "now" and shift the whole connection's footage later by the
    # probe's length. Cameras describe their stream in the SDP (sprop-parameter-sets),
    # so one packet of probing is enough; a stream that is still not described after it
    # is reopened once with ``full_probe_*``.
    probe_bytes: int = 32
    full_probe_bytes: int = 1_000_000
    full_probe_seconds: float = 2.0
    # Waking a thread for every frame (15-30 times a second per camera) costs more CPU
    # than the remux itself. Once caught up, a thread sleeps up to ``batch_seconds`` and
    # then reads what arrived meanwhile in one go. The sleep is shortened so that about
    # ``batch_bytes`` wait in the kernel: a small socket buffer must not push back on a
    # high-bitrate camera, some of which drop frames or clients they cannot send to.
    # Recording is unaffected (footage is timed by the stream's clock); live figures and
    # thumbnails lag by at most the sleep. 0: off. Live rates expect a batch at least
    # every 1.5 s (stats._FRESH).
    batch_seconds: float = 1.0
    batch_bytes: int = 64 * 1024
    backoff_min: float = BACKOFF_MIN
    backoff_max: float = BACKOFF_MAX
    healthy_seconds: float = HEALTHY_SECONDS
    # While a camera does not answer at all, it is asked this often whether it is back
    # (one small RTSP exchange); 0: never probe, always back off. For the first
    # ``probe_fast_seconds`` of an outage it is asked every ``probe_fast_interval``: most
    # outages are short (a flap, a switch or camera reboot) and every second spent
    # noticing the camera's return is footage lost, while a camera gone for long is not
    # worth more than a probe every couple of seconds.
    probe_interval: float = PROBE_INTERVAL
    probe_fast_interval: float = PROBE_FAST_INTERVAL
    probe_fast_seconds: float = PROBE_FAST_SECONDS
    probe_timeout: float = PROBE_TIMEOUT
    # How far media time may depart from the wall clock before it is re-anchored
    # (recorder/media_clock.py); None: never, as for replays faster than real time.
    reanchor_seconds: float | None = DEFAULT_THRESHOLD

    def av_options(self, *, full_probe: bool = False, transport: str = "tcp") -> dict[str, str]:
        options = {
            "rtsp_transport": transport,
            "timeout": str(round(self.read_timeout * 1_000_000)),
            "probesize": str(self.full_probe_bytes if full_probe else self.probe_bytes),
        }
        if full_probe:
            options["analyzeduration"] = str(round(self.full_probe_seconds * 1_000_000))
        if transport == "udp":
            # Datagrams wait in the kernel while the thread sleeps between batches.
            options["buffer_size"] = str(UDP_BUFFER_BYTES)
        return options


class Backoff:
    """Capped exponential back-off with jitter: about 1, 2, 4 ... 30 s.

    Each delay is drawn from the top fifth below the exponential value, so many cameras
    that failed together (a switch rebooted) do not reconnect in lock-step, and the
    delay never exceeds the cap.
    """

    def __init__(
        self,
        minimum: float = BACKOFF_MIN,
        maximum: float = BACKOFF_MAX,
        rng: random.Random | None = None,
    ) -> None:
        if not 0 < minimum <= maximum:
            raise ValueError("back-off needs 0 < minimum <= maximum")
        self.minimum = minimum
        self.maximum = maximum
        self._rng = rng or random.Random()
        self.failures = 0

    def next_delay(self) -> float:
        ceiling = min(self.maximum, self.minimum * 2.0 ** min(self.failures, 32))
        self.failures += 1
        return ceiling * self._rng.uniform(0.8, 1.0)

    def reset(self) -> None:
        self.failures = 0


class _ConnectionEnded(Exception):
    """The stream ended without an error from libav (the camera closed it)."""


class _Undescribed(Exception):
    """A short probe left the stream without size or parameter sets."""


class _RateFromTimestamps:
    """The frame interval a stream's timestamps declare: the median step of its DTS.

    Used when the SDP announces no frame rate. Frames lost on the way make some steps
    longer, but the median stays at the camera's nominal interval, which is what
    "expected" means for the degraded test.
    """

    SAMPLES: Final = 25

    def __init__(self, time_base: Fraction | None) -> None:
        self._tb = time_base
        self._last: int | None = None
        self._steps: list[int] = []
        self.fps: float | None = None

    def add(self, dts: int | None) -> bool:
        """Feed one packet's DTS; True once the rate is known (or cannot be)."""
        if self._tb is None or self._tb <= 0:
            return True
        if dts is not None:
            if self._last is not None and dts > self._last:
                self._steps.append(dts - self._last)
            self._last = dts
        if len(self._steps) < self.SAMPLES:
            return False
        step = sorted(self._steps)[len(self._steps) // 2]
        self.fps = 1.0 / float(step * self._tb)
        return True


class _Pacer:
    """Decides when an ingest thread has caught up with its camera and may sleep.

    The stream's clock tells how far behind a packet is: its arrival minus its media
    time, against the lowest such offset seen (the live edge). A packet read straight
    off the live edge is the newest there is, so the thread sleeps at once. Until the
    clock has proven steady, or when network jitter keeps packets off the edge, a second
    sign is required: the read that returned the packet had to wait, i.e. the socket was
    empty (alone that misleads, when the wait was for the GIL). Sleeping while behind
    would let a backlog grow until the camera gives up on us.

    Under load the clock alone misjudges: every packet then arrives late by the wait for
    the GIL, so the offsets stay above the lucky lowest one (the edge) and a thread that
    has read all there is never counts as caught up. It reads on packet by packet, each
    read waiting for the network, which costs far more than a batch; at a few hundred
    cameras on two cores the extra work made every thread later still, until none slept
    (benchmarks/README.md, "a quiet machine, and pacing under load"). So a third sign:
    the last packets came at about the camera's own pace. A backlog drains many times
    faster than real time, however busy the process, so a read that waited and a pace
    near the stream's is the live edge, however far the clock says it is.
    """

    BLOCKED: Final = 0.005  # a read slower than this waited for something
    EDGE: Final = 0.1  # this close to the live edge: the newest packet
    NEAR: Final = 0.25  # this close, and the read waited: nothing newer has arrived
    STEADY: Final = 50  # sane timestamp steps in a row before the clock alone is trusted
    CREEP: Final = 0.001  # lets the live edge follow a camera clock slower than ours
    MAX_STEP: Final = 10.0  # a timestamp jump beyond this restarts the live edge
    MIN_PAUSE: Final = 0.02
    PACE_PACKETS: Final = 8  # the recent packets whose arrival pace is judged
    PACE: Final = 0.5  # arriving at least this fast against the media clock: live
    STALL: Final = 0.5  # arrivals this much slower than the media clock: a stall

    def __init__(self, time_base: Fraction | None, batch: float, budget: int) -> None:
        self._tb = float(time_base) if time_base else 0.0
        self._batch = batch
        self._budget = budget
        self._edge: float | None = None  # lowest (arrival - media time) seen
        self._edge_at = 0.0
        self._steady = 0
        self._last_dts: int | None = None
        self._cycle_began: float | None = None
        self._cycle_bytes = 0
        # (arrival, media seconds) of the last PACE_PACKETS timestamped packets
        self._recent: deque[tuple[float, float]] = deque(maxlen=self.PACE_PACKETS)

    def _behind(self, dts: int | None, arrived: float) -> float | None:
        """Seconds this packet is behind the live edge; None when it cannot be told."""
        if dts is None or not self._tb:
            return None
        last, self._last_dts = self._last_dts, dts
        if last is not None:
            if 0 < (dts - last) * self._tb <= self.MAX_STEP:
                self._steady += 1
            else:
                self._edge = None  # the stream's clock jumped: the old edge means nothing
                self._steady = 0
        offset = arrived - dts * self._tb
        edge = self._edge
        if edge is None:
            self._edge, self._edge_at = offset, arrived
            return 0.0
        edge += self.CREEP * (arrived - self._edge_at)
        if offset < edge:
            edge = offset
        self._edge, self._edge_at = edge, arrived
        return offset - edge

    def _at_camera_pace(self, dts: int | None, arrived: float) -> bool:
        """The last packets arrived about as fast as the camera sends them (not a
        backlog read in a burst)."""
        if dts is None or not self._tb:
            return False
        recent = self._recent
        now_media = dts * self._tb
        recent.append((arrived, now_media))
        if len(recent) < self.PACE_PACKETS or self._steady < self.PACE_PACKETS:
            return False
        first_arrived, first_media = recent[0]
        media = now_media - first_media
        spread = arrived - first_arrived
        # Much slower than the camera is a stall (the network's, or a wait for the GIL)
        # that a burst of backlog follows, not a pace.
        return media > 0 and self.PACE * media <= spread <= 2 * media + self.STALL

    def pause(self, dts: int | None, size: int, arrived: float, read_wait: float) -> float:
        """Seconds to sleep after this packet (0: read on)."""
        if self._cycle_began is None:
            self._cycle_began = arrived - read_wait
        self._cycle_bytes += size
        behind = self._behind(dts, arrived)
        paced = self._at_camera_pace(dts, arrived)
        blocked = read_wait > self.BLOCKED
        if behind is None:
            caught_up = blocked  # nothing to judge by but the read itself
        elif self._steady >= self.STEADY and behind < self.EDGE:
            caught_up = True
        else:
            caught_up = blocked and (behind < self.NEAR or paced)
        if not caught_up:
            return 0.0
        # Sleep at most as long as it takes the camera to send ``budget`` bytes.
        rate = self._cycle_bytes / max(arrived - self._cycle_began, 1e-3)
        self._cycle_began, self._cycle_bytes = arrived, 0
        pause = min(self._batch, self._budget / rate) if rate > 0 else self._batch
        if pause < self.MIN_PAUSE:
            return 0.0
        # The pace is judged afresh after a sleep: the sleep itself is a gap in the
        # arrivals that would make the backlog it leaves look like a live stream.
        self._recent.clear()
        return pause


class CameraIngest:
    """Records one camera until :meth:`stop`; all work happens on its own thread."""

    def __init__(
        self,
        camera_id: str,
        *,
        kecamatan_slug: str,
        url: str,
        username: str,
        password: str,
        storage: Path,
        stats: StatsFeed,
        on_segment: Callable[[SegmentRecord], None],
        settings: IngestSettings | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        modes: FileModes = DEFAULT_MODES,
        transport: str = "tcp",
        audio: str = "drop",
        on_reanchor: Callable[[Reanchor], None] | None = None,
        gate: OpenGate | None = None,
    ) -> None:
        if transport not in TRANSPORT_ATTEMPTS:
            raise ValueError(f"transport {transport!r}; accepted: tcp, udp, auto")
        self.camera_id = camera_id
        self._on_reanchor = on_reanchor
        self.kecamatan_slug = kecamatan_slug
        self.stats = stats
        self.settings = settings or IngestSettings()
        self._url = url_with_credentials(url, username, password)
        self._bare_url = url  # for the liveness probe, which sends no credentials
        self._secrets = (password,)
        self._storage = Path(storage)
        self._modes = modes
        self._on_segment = on_segment
        self._clock = clock
        self._backoff = Backoff(self.settings.backoff_min, self.settings.backoff_max, rng)
        self._stop = threading.Event()
        # Shared with the recorder's other ingests: bounds how many open at once.
        self._gate = gate
        self._in_gate = False
        #: Waiting now for a turn to open the stream (the gate is full).
        self.queued = False
        self._thread = threading.Thread(target=self._run, name=f"ingest-{camera_id}", daemon=True)
        self._keyframe: Keyframe | None = None
        self._keyframe_seq = 0
        self._open_segment_start: float | None = None
        # (wall start, file) of the segment being written, published as one pair once a
        # roll has settled both: a picture of the last minute is read from it.
        self._open_file: tuple[float, Path] | None = None
        self._delivered = False
        self._full_probe = False
        self.connections = 0  # successful opens
        self.attempts = 0
        self._transport = transport
        self._audio_choice = audio
        self._has_user = bool(username)
        self._host = urlsplit(url).hostname or ""
        self._auth_scheme: str | None = None  # what the camera asked for, once known
        self._warned_basic = False
        self._told_audio: str | None = None
        #: What the last connection carried and how it was taken (the camera's detail).
        self.media: CameraMedia | None = None
        self._transport_used = transport

    # ------------------------------------------------------------------ control

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to finish; :meth:`join` waits for it."""
        self._stop.set()
        if self._gate is not None:
            self._gate.interrupt(self._stop)  # a thread waiting to open ends at once

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True once it has finished (its segment is indexed)."""
        if self._thread.ident is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # ------------------------------------------------------------------ readers

    def keyframe(self) -> Keyframe | None:
        """The newest keyframe seen (kept across reconnects, for an offline thumbnail)."""
        return self._keyframe

    @property
    def open_segment_start(self) -> float | None:
        """Wall time at which the segment being written began, if one is open."""
        return self._open_segment_start

    @property
    def open_file(self) -> tuple[float, Path] | None:
        """Wall start and path of the segment being written, if one is open."""
        return self._open_file

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        while not self._stop.is_set():
            self.attempts += 1
            if self.attempts > 1:
                self.stats.reconnecting(self._clock())
            began = time.monotonic()
            try:
                delivered = self._connect_once()
            except Exception as exc:
                # A bug must not end the camera's recording for good: report, retry.
                text = describe_error(exc, self._secrets)
                log.error("%s: ingest failed: %s", self.camera_id, text)
                self.stats.failed(text)
                delivered = False
            if self._stop.is_set():
                break
            if delivered and time.monotonic() - began >= self.settings.healthy_seconds:
                self._backoff.reset()
            self._wait_to_retry()

    def _wait_to_retry(self) -> None:
        """Back off while the camera is there; while it is gone, wait until it is back."""
        s = self.settings
        gone = Presence.GONE
        if s.probe_interval <= 0:
            self._stop.wait(self._backoff.next_delay())
            return
        presence, cause = probe_cause(self._bare_url, s.probe_timeout)
        if presence is not gone:
            self._stop.wait(self._backoff.next_delay())
            return
        log.debug("%s: the camera is gone; waiting for it to answer", self.camera_id)
        since = time.monotonic()
        while True:
            if cause is not None:
                # What failed (a stream that just ended says nothing of why) gives way to
                # what the probe finds now: refused, or no answer.
                self.stats.gone(cause)
            fast = time.monotonic() - since < s.probe_fast_seconds
            if self._stop.wait(s.probe_fast_interval if fast else s.probe_interval):
                return
            presence, cause = probe_cause(self._bare_url, s.probe_timeout)
            if presence is not gone:
                return

    def _basic_refused(self) -> str | None:
        """Why credentials must not be sent (Basic to a public address), or None.

        A public address is asked before every connection (the password must never go
        out as Basic); a private one until the camera's scheme is known, for the log.
        """
        if not self._has_user:
            self._auth_scheme = "none"
            return None
        private = is_private_host(self._host)
        if private and self._auth_scheme is not None:
            return None
        schemes = offered_schemes(self._bare_url, self.settings.probe_timeout * 2)
        if schemes is None:
            # No readable answer: a public camera gets no credentials until it gives one.
            return None if private else f"no answer to an auth check of {self._host}"
        basic_only = "basic" in schemes and "digest" not in schemes
        self._auth_scheme = "basic" if basic_only else ("digest" if schemes else "none")
        if not basic_only:
            return None
        if not private:
            return BASIC_REFUSED.format(host=self._host)
        if not self._warned_basic:
            self._warned_basic = True
            log.warning(
                "%s: the camera asks for Basic auth: its password crosses the network "
                "readable; accepted because %s is a private address",
                self.camera_id,
                self._host,
            )
        return None

    def _open(self) -> tuple[Any, str]:
        """Open the stream over the configured transport(s); (container, transport used)."""
        s = self.settings
        attempts = TRANSPORT_ATTEMPTS[self._transport]
        for n, transport in enumerate(attempts):
            try:
                container = av.open(
                    self._url,
                    options=s.av_options(full_probe=self._full_probe, transport=transport),
                    timeout=(s.open_timeout, None),
                )
            except Exception as exc:
                # 461 Unsupported Transport reads as EPROTONOSUPPORT: try the next one.
                if n + 1 < len(attempts) and getattr(exc, "errno", None) == errno.EPROTONOSUPPORT:
                    log.debug(
                        "%s: %s refused by the camera; trying the next", self.camera_id, transport
                    )
                    continue
                raise
            return container, transport
        raise AssertionError("unreachable")

    def _enter_gate(self) -> bool:
        """Wait for a turn to open (the recorder's :class:`OpenGate`); False on stop.

        The auth check and the open both talk to the camera and are what a crowd of
        cameras starting together times out in, so both happen inside the gate.
        """
        gate = self._gate
        if gate is None:
            return not self._stop.is_set()
        passed = gate.enter(self._stop, self._queue_up)
        if self.queued:
            self.queued = False
            self.stats.admitted(self._clock())
        self._in_gate = passed
        return passed

    def _queue_up(self) -> None:
        self.queued = True
        self.stats.queued(self._clock())

    def _leave_gate(self) -> None:
        """Give the slot back: at the first packet, or when the attempt ends before it."""
        if self._in_gate:
            self._in_gate = False
            assert self._gate is not None
            self._gate.leave()

    def _connect_once(self) -> bool:
        """Open, record until the connection ends; True if any packet arrived."""
        if not self._enter_gate():
            return False
        try:
            return self._connect_in_gate()
        finally:
            self._leave_gate()

    def _connect_in_gate(self) -> bool:
        refused = self._basic_refused()
        if refused is not None:
            log.warning("%s: not connecting: %s", self.camera_id, refused)
            self.stats.failed(refused, OfflineCause.AUTH_FAILED)
            return False
        try:
            container, transport = self._open()
        except Exception as exc:  # av.FFmpegError, OSError, and anything libav invents
            self.stats.failed(
                self._failure("cannot open stream", exc), classify(exc, streaming=False)
            )
            return False
        self._transport_used = transport
        error: str | None = None
        cause: OfflineCause | None = None
        self._delivered = False
        try:
            self._record(container)
        except _Undescribed:
            error = "stream parameters not in the SDP; probing the stream"
            cause = OfflineCause.OTHER
            self._full_probe = True
            self._backoff.reset()
        except _ConnectionEnded:
            error = "stream ended by the camera"
            cause = OfflineCause.ENDED
            log.debug("%s: %s", self.camera_id, error)
        except Exception as exc:
            error = self._failure("stream lost", exc)
            cause = classify(exc, streaming=True)
        finally:
            self._open_segment_start = None
            self._open_file = None
            try:
                container.close()
            except Exception as exc:  # closing a broken session may fail; nothing to do
                log.debug("%s: close: %s", self.camera_id, describe_error(exc, self._secrets))
            self.stats.disconnected(None if self._stop.is_set() else error, cause)
        return self._delivered

    def _failure(self, what: str, exc: BaseException) -> str:
        text = describe_error(exc, self._secrets)
        if isinstance(exc, av.ExitError | TimeoutError):
            text = f"no data within the time-out ({text})"
        log.debug("%s: %s: %s", self.camera_id, what, text)
        return text

    def _record(self, container: Any) -> None:
        if not container.streams.video:
            raise ValueError("the stream has no video track")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        if not self._full_probe and (not ctx.width or not ctx.extradata):
            raise _Undescribed
        # Read everything needed from the stream now: PyAV objects of a closed
        # container must not be touched.
        extradata = bytes(ctx.extradata) if ctx.extradata else None
        codec = ctx.name
        sound = container.streams.audio[0] if container.streams.audio else None
        plan = plan_audio(sound, self._audio_choice)
        self._describe_media(codec, plan)
        converter = AacConverter(sound) if plan.handling == "converted" else None
        audio_out = AudioOutput(sound, converter is not None) if plan.stored else None
        video_index = stream.index
        time_base = stream.time_base
        announced = stream.average_rate
        self.connections += 1
        self.stats.connected(float(announced) if announced else None)
        declared = _RateFromTimestamps(time_base) if announced is None else None
        seconds_per_tick = float(time_base) if time_base else 0.0

        writer: SegmentWriter | None = None
        stats = self.stats
        clock = self._clock
        stop = self._stop
        current: Path | None = None
        try:
            pacer = (
                _Pacer(time_base, self.settings.batch_seconds, self.settings.batch_bytes)
                if self.settings.batch_seconds > 0
                else None
            )
            monotonic = time.monotonic
            stopped = stop.is_set
            # Bound once the writer exists: an audio packet's way stays a call or two.
            write_audio: Callable[[Any], None] | None = None
            mark = monotonic()
            # Sound that is not stored is not demuxed into Python: PyAV's demux() skips
            # the packets of streams it was not given before it makes objects of them.
            for packet in container.demux(stream, *([sound] if audio_out else [])):
                if stopped():
                    break
                if packet.stream_index != video_index:
                    # As many audio packets as frames: the shortest way through.
                    if write_audio is not None and packet.size:
                        if converter is None:
                            write_audio(packet)
                        else:
                            for kept in converter.convert(packet):
                                write_audio(kept)
                    continue
                arrived = monotonic()
                size = packet.size
                if not size:
                    continue  # the flush packet demux() yields when the stream ends
                now = clock()
                dts = packet.dts
                media = None if dts is None or not seconds_per_tick else dts * seconds_per_tick
                stats.packet(size, now, media)
                self._delivered = True
                if declared is not None and declared.add(packet.dts):
                    stats.stream_rate(declared.fps)
                    declared = None
                if packet.is_keyframe:
                    # The muxer rewrites the packet in place; copy its bytes first.
                    self._keyframe_seq += 1
                    self._keyframe = Keyframe(
                        bytes(packet), codec, extradata, now, self._keyframe_seq
                    )
                if writer is None:
                    # The connection delivers: its open is over, the next camera may open.
                    self._leave_gate()
                    # Dated by this packet's arrival rather than by the writer's first
                    # timestamped one: a session's first packet often carries none.
                    writer = SegmentWriter(
                        stream,
                        storage=self._storage,
                        kecamatan_slug=self.kecamatan_slug,
                        camera_id=self.camera_id,
                        on_segment=self._segment_closed,
                        segment_seconds=self.settings.segment_seconds,
                        wall_start=datetime.fromtimestamp(now, UTC),
                        clock=clock,
                        modes=self._modes,
                        audio=audio_out,
                        reanchor_seconds=self.settings.reanchor_seconds,
                        on_reanchor=self._reanchored,
                    )
                    write_audio = writer.write_audio
                writer.write(packet, now)
                path = writer.current_path
                if path is not current:
                    if current is None or path is None:
                        stats.set_recording(path is not None)
                    if path is None:
                        self._open_segment_start = None
                    elif current is None:
                        self._open_segment_start = now
                    # On a roll the new file starts where the closed one ended, which
                    # _segment_closed has already recorded.
                    current = path
                    start = self._open_segment_start
                    self._open_file = None if path is None or start is None else (start, path)
                if pacer is not None:
                    pause = pacer.pause(packet.dts, size, arrived, arrived - mark)
                    if pause:
                        stats.settled(clock())
                        if stop.wait(pause):
                            break
                mark = monotonic()
            else:
                if not stop.is_set():
                    raise _ConnectionEnded
        finally:
            # Always close: this finishes and indexes the open segment, including on stop.
            try:
                if writer is not None:
                    writer.close()
            finally:
                stats.set_recording(False)

    def _describe_media(self, codec: str, plan: Any) -> None:
        self.media = CameraMedia(
            video=codec,
            audio=plan.description,
            audio_handling=plan.handling,
            audio_detail=plan.detail,
            transport=self._transport_used,
            auth=self._auth_scheme,
        )
        if plan.codec is not None and self._told_audio != plan.detail:
            # Once per camera and state: sound that is not stored is said so, never lost
            # without a word.
            self._told_audio = plan.detail
            level = logging.WARNING if plan.handling == "unsupported" else logging.INFO
            log.log(level, "%s: audio %s", self.camera_id, plan.detail)

    def _reanchored(self, reanchor: Reanchor) -> None:
        if self._on_reanchor is None:
            return
        try:
            self._on_reanchor(reanchor)
        except Exception:
            log.exception("%s: could not report a re-anchor", self.camera_id)

    def _segment_closed(self, record: SegmentRecord) -> None:
        self._open_segment_start = record.end.timestamp()
        try:
            self._on_segment(record)
        except Exception:
            # The file is on disk; start-up reconciliation indexes it if we could not.
            log.exception("%s: could not index segment %s", self.camera_id, record.path)
