"""Live, in-memory health of one camera's ingest: rates, last packet, status.

The ingest thread writes (once per packet, so the hot path is one lock and a deque
append); the monitor thread and API handlers read. Nothing here touches the disk.

Status rules (docs/ARCHITECTURE.md, Recording):

- ``disabled`` when the inventory disables the camera;
- ``offline`` before the first packet and once ``offline_after`` seconds pass without one;
  time spent waiting for a turn to open the stream (:mod:`cctvctl.recorder.open_gate`)
  does not count: a camera waiting there is connecting, not failing;
- ``degraded`` when the measured rate is under 80 % of the expected one, judged only once a
  full window of the current connection has been seen, so a fresh connection never reads as
  degraded. Where ingest gives each packet its media time, rate and expected rate come from
  the stream's timestamps (:mod:`cctvctl.recorder.fps_window`: the read batching does not
  move them; the expected rate is the inventory's ``fps``, else the highest rate the camera
  has shown, never the SDP's claim). Without media times the rate is counted by arrival
  and the expected one is the inventory's, else the announced;
- ``online`` otherwise.

``last_error`` is what went wrong most recently while the camera is not delivering. It is
cleared once a new connection delivers again, so a recovered camera does not go on showing
yesterday's failure; the error stays in the history, carried by the status change that
reports the outage and by the one that reports the recovery (``StatusChange.error``). Its
``cause`` (:mod:`cctvctl.recorder.causes`) goes with it.

Flapping: every time the stream goes down (a connection that delivered is lost) or comes
back (the first packet after that) is a change; :data:`FLAP_CHANGES` of them within
:data:`FLAP_WINDOW_SECONDS` make the camera ``flapping``. Counted on the stream rather than
on the status, because a camera back within ``offline_after`` never changes status and
would flap unseen.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from cctvctl.models import FLAP_CHANGES, FLAP_WINDOW_SECONDS, CameraStatus, OfflineCause
from cctvctl.recorder.fps_window import MediaRate

__all__ = [
    "DEGRADED_RATIO",
    "RECONNECT_WINDOW",
    "WINDOW_SECONDS",
    "CameraStats",
    "StatsSnapshot",
    "StatusChange",
]

WINDOW_SECONDS: Final = 5.0
DEGRADED_RATIO: Final = 0.8
RECONNECT_WINDOW: Final = 3600.0
# A last packet older than this is a camera going quiet, not the gap between two batches
# of reads: the rate window then ends now and empties as time passes.
_FRESH: Final = 1.5
# A camera retried every second for an hour makes 3600 attempts; more cannot fit the window.
_MAX_RECONNECTS: Final = 4096
# Two changes a second for ten minutes is more than any stream can make.
_MAX_CHANGES: Final = 1200


@dataclass(frozen=True, slots=True)
class StatsSnapshot:
    """A consistent copy of one camera's live figures at ``at`` (POSIX seconds)."""

    at: float
    status: CameraStatus
    status_since: datetime | None
    last_packet: datetime | None
    fps: float
    kbps: float
    expected_fps: float | None
    reconnects_1h: int
    recording: bool
    connected: bool
    connection_started: datetime | None  # first packet of the current connection
    last_error: str | None
    last_error_at: datetime | None
    cause: OfflineCause | None = None
    changes_10m: int = 0

    @property
    def flapping(self) -> bool:
        return self.changes_10m >= FLAP_CHANGES


@dataclass(frozen=True, slots=True)
class StatusChange:
    """What the monitor announces: ``previous`` is None for a camera's first verdict.

    ``error`` (with ``error_at``, POSIX seconds) is the failure behind the change: the
    current one when the camera goes down, the one just cleared when it comes back.
    """

    status: CameraStatus
    previous: CameraStatus | None
    reason: str
    at: float
    error: str | None = None
    error_at: float | None = None
    cause: OfflineCause | None = None


def _utc(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def plausible_fps(rate: object) -> float | None:
    """A stream's announced frame rate, or None when it is missing or nonsense.

    Demuxers fall back to field rates or the 90 kHz clock when they cannot tell; a value
    outside 0.5–120 would turn every healthy camera ``degraded``.
    """
    if rate is None:
        return None
    try:
        value = float(rate)  # type: ignore[arg-type]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return value if 0.5 <= value <= 120.0 else None


class CameraStats:
    """Thread-safe live statistics of one camera."""

    def __init__(
        self,
        camera_id: str,
        *,
        enabled: bool = True,
        configured_fps: float | None = None,
        offline_after: float = 10.0,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if window <= 0 or offline_after <= 0:
            raise ValueError("window and offline_after must be positive")
        self.camera_id = camera_id
        self.enabled = enabled
        self.configured_fps = configured_fps
        self.offline_after = offline_after
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._packets: deque[tuple[float, int]] = deque()
        self._marks: deque[float] = deque()  # ends of read batches inside the window
        self._last_packet: float | None = None
        self._connected_at: float | None = None  # first packet of the current connection
        self._connected = False
        self._stream_fps: float | None = None
        self._media = MediaRate()
        self._media_seen = False  # the current connection's packets carry media times
        self._reconnects: deque[float] = deque(maxlen=_MAX_RECONNECTS)
        self._recording = False
        self._last_error: str | None = None
        self._last_error_at: float | None = None
        self._cause: OfflineCause | None = None
        self._changes: deque[float] = deque(maxlen=_MAX_CHANGES)
        self._down = False  # a delivering connection was lost and none delivers yet
        self._started = clock()
        self._status = CameraStatus.OFFLINE if enabled else CameraStatus.DISABLED
        self._status_since = self._started
        self._announced = not enabled  # a disabled camera has nothing to announce
        self._device_problem: str | None = None
        # Waiting at the recorder's open gate: since when (None: not waiting), and the
        # seconds waited there since the last packet (or since the start), which the
        # offline clock leaves out.
        self._queued_since: float | None = None
        self._waited = 0.0

    def begin(self, now: float | None = None) -> None:
        """Recording starts now: the start-up grace and ``status_since`` count from here."""
        with self._lock:
            self._started = self._clock() if now is None else now
            self._status_since = self._started
            self._waited = 0.0

    # ------------------------------------------------------------------ ingest side

    def packet(self, size: int, now: float, media: float | None = None) -> None:
        """Count one received packet of ``size`` payload bytes (called per packet), at
        ``media`` seconds of the stream's clock when it has a timestamp."""
        with self._lock:
            if media is not None:
                self._media.add(media)
                self._media_seen = True
            packets = self._packets
            packets.append((now, size))
            horizon = now - self.window
            while packets[0][0] <= horizon:
                packets.popleft()
            self._last_packet = now
            if self._connected_at is None:
                self._connected_at = now
                self._waited = 0.0
                if self._down:
                    self._down = False
                    self._changes.append(now)

    def settled(self, now: float) -> None:
        """Ingest has read everything that arrived up to ``now`` and pauses."""
        with self._lock:
            marks = self._marks
            marks.append(now)
            horizon = now - self.window
            # One mark older than the window stays: it opens the window's first batch.
            while len(marks) > 1 and marks[1] <= horizon:
                marks.popleft()

    def connected(self, stream_fps: float | None) -> None:
        """A connection is open and its stream described; packets may follow."""
        with self._lock:
            self._marks.clear()
            self._media.reset()
            self._media_seen = False
            self._connected = True
            self._connected_at = None
            self._stream_fps = plausible_fps(stream_fps)

    def stream_rate(self, fps: float | None) -> None:
        """The frame rate the stream's timestamps declare, when it did not announce one."""
        with self._lock:
            if self._stream_fps is None:
                self._stream_fps = plausible_fps(fps)

    def disconnected(self, error: str | None, cause: OfflineCause | None = None) -> None:
        with self._lock:
            if self._connected_at is not None and not self._down:
                self._down = True
                self._changes.append(self._clock())
            self._connected = False
            self._connected_at = None
            self._recording = False
            if error is not None:
                self._set_error(error, cause)

    def failed(self, error: str, cause: OfflineCause = OfflineCause.OTHER) -> None:
        """A connection attempt failed before any packet (credential-free ``error``)."""
        with self._lock:
            self._set_error(error, cause)

    def gone(self, cause: OfflineCause) -> None:
        """The camera no longer answers at all (a probe after the failure): ``cause``."""
        with self._lock:
            if self._cause is not cause and self._connected_at is None:
                text = {
                    OfflineCause.REFUSED: "connection refused",
                    OfflineCause.NO_ANSWER: "no answer to an RTSP OPTIONS probe",
                }.get(cause, cause.label)
                self._set_error(text, cause)

    def _set_error(self, error: str, cause: OfflineCause | None) -> None:
        self._last_error, self._last_error_at = error, self._clock()
        self._cause = cause or OfflineCause.OTHER

    def device_problem(self, reason: str | None) -> None:
        """What the device itself gets wrong (its clock: devicecheck/); None once right.

        A camera that streams well but has such a problem is ``degraded`` for ``reason``.
        """
        with self._lock:
            self._device_problem = reason

    def queued(self, now: float) -> None:
        """The camera waits for its turn to open (the recorder's open gate)."""
        with self._lock:
            if self._queued_since is None:
                self._queued_since = now

    def admitted(self, now: float) -> None:
        """The wait at the gate is over (its turn came, or a stop ended it)."""
        with self._lock:
            since = self._queued_since
            if since is not None:
                self._queued_since = None
                self._waited += max(0.0, now - since)

    def _excused(self, now: float) -> float:
        """Seconds since the last packet (or the start) spent waiting at the gate; lock held."""
        since = self._queued_since
        return self._waited + (max(0.0, now - since) if since is not None else 0.0)

    def reconnecting(self, now: float) -> None:
        """Count one connection attempt after the first."""
        with self._lock:
            self._reconnects.append(now)

    def set_recording(self, recording: bool) -> None:
        with self._lock:
            self._recording = recording

    # ------------------------------------------------------------------ readers

    def _rates(self, now: float) -> tuple[float, float, float]:
        """(fps, kbps, seconds of the current connection inside the window); lock held.

        Ingest reads in batches (see ``IngestSettings.batch_seconds``) and marks the end
        of each with :meth:`settled`. The packets of a batch stand for the time since
        the previous mark, so the rate is what arrived between the first and the last
        mark in the window over the time between them: exact, where a plain count over
        the window would swing by a batch (20 % for 1 s batches in a 5 s window).
        Without recent marks (reads not batched) it is the packets after the first over
        the time from the first to the last.
        """
        last = self._last_packet
        if last is None:
            return 0.0, 0.0, 0.0
        marks = self._marks
        batched = bool(marks) and now - marks[-1] <= _FRESH
        if batched:
            end = marks[-1]
        elif now - last <= _FRESH:
            end = last
        else:
            end = now
        start = self._connected_at
        seen = 0.0 if start is None else min(self.window, max(end - start, 0.0))
        horizon = end - self.window
        if start is not None and start > horizon:
            # A young connection is measured over its own packets only; mixing in the
            # previous connection's would overstate its rate.
            horizon = start - 1e-6
        if batched:
            lo = next((m for m in marks if m > horizon), end)
        else:
            lo = next((ts for ts, _ in self._packets if ts > horizon), end)
        frames = 0
        size = 0
        if end - lo >= 1.0:
            for ts, n in reversed(self._packets):
                if ts <= lo:
                    break
                if ts <= end:
                    frames += 1
                    size += n
            span = end - lo
        else:
            # Too little to measure an interval; report what the window holds.
            for ts, n in reversed(self._packets):
                if ts <= horizon:
                    break
                frames += 1
                size += n
            span = self.window
        return frames / span, size * 8 / 1000 / span, seen

    def _expected(self) -> float | None:
        return self.configured_fps if self.configured_fps is not None else self._stream_fps

    def _shown_expected(self) -> float | None:
        """What the API shows: the rate the verdict holds the camera to, or until one is
        learned, the rate the stream announces."""
        if self.configured_fps is None and self._media.learned is not None:
            return self._media.learned
        return self._expected()

    def _verdict(self, now: float) -> tuple[CameraStatus, str]:
        if not self.enabled:
            return CameraStatus.DISABLED, "disabled in the inventory"
        last = self._last_packet
        # The reason is read by people: the cause in their words (the raw text stays in
        # last_error and the event's error).
        error = f": {self._cause.label}" if self._last_error and self._cause else ""
        if last is None:
            return CameraStatus.OFFLINE, f"no packet received yet{error}"
        idle = now - last - self._excused(now)
        if idle > self.offline_after:
            if not error and self._connected:
                error = f": {OfflineCause.STALLED.label}"  # before the read times out
            return CameraStatus.OFFLINE, f"no packet for {idle:.0f} s{error}"
        if not self._connected:
            # Between a lost connection and the next one the rate says nothing; keep the
            # verdict so a quick reconnect does not flap the status.
            if self._status in (CameraStatus.ONLINE, CameraStatus.DEGRADED):
                return self._status, f"reconnecting{error}"
            return CameraStatus.ONLINE, f"reconnecting{error}"
        if self._media_seen:
            return self._media_verdict()
        fps, _, seen = self._rates(now)
        expected = self._expected()
        if expected is not None and seen >= self.window and fps < DEGRADED_RATIO * expected:
            return (
                CameraStatus.DEGRADED,
                f"{fps:.1f} fps, under {DEGRADED_RATIO:.0%} of the expected {expected:g}",
            )
        if seen < 1.0:
            return CameraStatus.ONLINE, "stream connected, receiving"
        return CameraStatus.ONLINE, f"receiving {fps:.1f} fps"

    def _media_verdict(self) -> tuple[CameraStatus, str]:
        """The verdict from the stream's timestamps (lock held, camera connected)."""
        media = self._media
        fps = media.rate()
        if fps is None:
            # The camera's clock just jumped (or the connection is young): no rate to judge
            # by for a second; what was true a moment ago stays.
            keep = self._status if self._status is CameraStatus.DEGRADED else CameraStatus.ONLINE
            return keep, "stream connected, receiving"
        expected = self.configured_fps if self.configured_fps is not None else media.learned
        if expected is not None and media.full and fps < DEGRADED_RATIO * expected:
            return (
                CameraStatus.DEGRADED,
                f"{fps:.1f} fps, under {DEGRADED_RATIO:.0%} of the expected {expected:g}",
            )
        return CameraStatus.ONLINE, f"receiving {fps:.1f} fps"

    def evaluate(self, now: float | None = None) -> StatusChange | None:
        """Recompute the status; returns the change to announce, if any.

        A camera's first verdict is announced when it first gets a packet or once
        ``offline_after`` has passed since start without one, so start-up yields exactly
        one line per camera rather than an ``offline`` for every camera still connecting.
        Time spent waiting at the open gate is not part of that grace, nor of the time
        without a packet: a camera waiting there keeps its status.
        """
        now = self._clock() if now is None else now
        with self._lock:
            status, reason = self._verdict(now)
            if status is CameraStatus.ONLINE and self._device_problem:
                status, reason = CameraStatus.DEGRADED, self._device_problem
            error, error_at, cause = self._last_error, self._last_error_at, self._cause
            if self._connected and self._connected_at is not None:
                # Delivering again: the error is history now, kept in this change only.
                self._last_error = self._last_error_at = None
                self._cause = None
            if not self._announced:
                grace = now - self._started - self._excused(now)
                if status is CameraStatus.OFFLINE and grace <= self.offline_after:
                    return None
                self._announced = True
                self._status = status
                self._status_since = now
                return StatusChange(status, None, reason, now, error, error_at, cause)
            if status is self._status:
                return None
            previous = self._status
            self._status = status
            self._status_since = now
            return StatusChange(status, previous, reason, now, error, error_at, cause)

    def snapshot(self, now: float | None = None) -> StatsSnapshot:
        now = self._clock() if now is None else now
        with self._lock:
            fps, kbps, _ = self._rates(now)
            media_fps = self._media.rate() if self._media_seen else None
            if media_fps is not None:
                fps = media_fps
            horizon = now - RECONNECT_WINDOW
            reconnects = sum(1 for ts in self._reconnects if ts > horizon)
            recent = now - FLAP_WINDOW_SECONDS
            changes = sum(1 for ts in self._changes if ts > recent)
            since = self._status_since
            if not self._announced:
                # Not judged yet: the grace began at the start, shifted by the wait at the
                # gate, so a client reads a waiting camera as just started ("connecting").
                since += self._excused(now)
            return StatsSnapshot(
                at=now,
                status=self._status,
                status_since=_utc(since),
                last_packet=_utc(self._last_packet),
                fps=round(fps, 2),
                kbps=round(kbps, 1),
                expected_fps=self._shown_expected(),
                reconnects_1h=reconnects,
                recording=self._recording,
                connected=self._connected,
                connection_started=_utc(self._connected_at),
                last_error=self._last_error,
                last_error_at=_utc(self._last_error_at),
                cause=self._cause_now(now),
                changes_10m=changes,
            )

    def _cause_now(self, now: float) -> OfflineCause | None:
        if self._last_error:
            return self._cause
        last = self._last_packet
        if self._connected and last is not None and now - last > self.offline_after:
            return OfflineCause.STALLED  # the read has not timed out yet
        return None

    @property
    def status(self) -> CameraStatus:
        with self._lock:
            return self._status
