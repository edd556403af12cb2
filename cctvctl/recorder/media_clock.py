"""Keeping a camera's media time on the wall clock: when to re-anchor, and by how much.

A segment's wall times come from the stream's timestamps, anchored to the wall clock when
the connection starts. Cameras break that: their timestamps jump after a reboot or an NTP
step, and their clocks drift against ours. Left alone, a jump makes 13-second files that
claim three hours, or phantom gaps; a drift moves footage away from when it happened.

Arrival times are a noisy witness: ingest reads in batches (up to a second late) and a
thread under load can be seconds behind. So the departure is measured from the *live edge*:
the smallest lag (arrival minus media-derived wall time) over a window of arrivals, which
the freshest packets reach whatever the batching. Media time running *ahead* of arrival is
impossible for a true clock, so one packet suffices; *behind* must hold for the whole
window before it counts, so a backlog that is caught up is never mistaken for drift.

:class:`MediaClock` only decides; :class:`cctvctl.recorder.segmenter.SegmentWriter` moves
its anchor and closes the segment, and ingest reports each :class:`Reanchor` as an event.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final

__all__ = [
    "BEHIND_WINDOW",
    "DEFAULT_THRESHOLD",
    "SETTLE_SECONDS",
    "SETTLE_TOLERANCE",
    "MediaClock",
    "Reanchor",
]

#: Seconds media time may depart from the wall clock before it is re-anchored.
DEFAULT_THRESHOLD: Final = 2.0
#: Seconds of arrivals a "media behind the wall" departure must hold for. Drift is slow (a
#: camera 100 ppm off departs by 2 s in five and a half hours); a backlog is not, but under
#: load one can last: 512 cameras on the shared 2-core VM had threads 2.5 s behind for 30 s
#: (18 false re-anchors in a 60 s run with a 30 s window).
BEHIND_WINDOW: Final = 120.0
#: Seconds of media at the start of a connection in which media time running ahead of
#: arrival only means the first packet was read late (see the module's text).
SETTLE_SECONDS: Final = 10.0
#: Seconds ahead that are let be while settling: the burst drains a few ms at a time.
SETTLE_TOLERANCE: Final = 0.05

JUMPED: Final = "timestamps jumped"
DRIFTED: Final = "clock drifted"


@dataclass(frozen=True, slots=True)
class Reanchor:
    """One re-anchor of a camera's media time to the wall clock."""

    at: float  # POSIX seconds, when it was decided
    jump: float  # seconds the camera's timestamps stepped (jump) or had departed (drift)
    shift: float  # seconds added to the wall time of the footage that follows
    cause: str  # JUMPED | DRIFTED


class MediaClock:
    """Follows one connection's lag of media time behind arrival. Not thread-safe."""

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        window: float = BEHIND_WINDOW,
        settle: float = SETTLE_SECONDS,
    ) -> None:
        if threshold <= 0 or window <= 0 or settle < 0:
            raise ValueError("threshold and window must be positive, settle not negative")
        self.threshold = threshold
        self.window = window
        self._lags: deque[tuple[float, float]] = deque()  # (arrival, lag), lags increasing
        self._since: float | None = None
        self._settle = settle
        # Media wall time where settling ends: the first packet's plus ``settle``, moved
        # with every shift given since, so it stays ``settle`` seconds of the stream.
        self._settle_end: float | None = None
        #: True until the connection's first ``settle`` seconds of media have passed;
        #: :meth:`settle` has nothing to say after that (callers may skip it).
        self.settling = settle > 0

    def settle(self, media_wall: float, arrival: float) -> float:
        """In the connection's first ``settle`` seconds of media: the shift (< 0) that dates
        the footage so far back to this packet's arrival when its media time is ahead of
        it, else 0.0. Call before :meth:`observe`, with the same packet."""
        end = self._settle_end
        if end is None:
            end = self._settle_end = media_wall + self._settle
        if media_wall >= end:
            self.settling = False
            return 0.0
        ahead = media_wall - arrival
        if ahead <= SETTLE_TOLERANCE:
            return 0.0
        self._settle_end = end - ahead
        return -ahead

    def _shifted(self, shift: float) -> None:
        if self._settle_end is not None:
            self._settle_end += shift

    def _restart(self) -> None:
        self._lags.clear()
        self._since = None

    def edge(self) -> float:
        """The live edge's lag in the window (0.0 before any packet)."""
        return self._lags[0][1] if self._lags else 0.0

    def observe(self, media_wall: float, arrival: float) -> float | None:
        """A packet whose media time maps to ``media_wall`` arrived at ``arrival``.

        Returns the shift to add to the wall times (negative: back) once the departure is
        over the threshold, else None.
        """
        lag = arrival - media_wall
        if lag < -self.threshold:
            self._restart()
            self._shifted(lag)
            return lag
        lags = self._lags
        while lags and lags[-1][1] >= lag:
            lags.pop()
        lags.append((arrival, lag))
        while arrival - lags[0][0] > self.window:
            lags.popleft()
        if self._since is None:
            self._since = arrival
        edge = lags[0][1]
        if arrival - self._since >= self.window and edge > self.threshold:
            self._restart()
            self._shifted(edge)
            return edge
        return None

    def step(self, media_wall: float, arrival: float) -> float:
        """At a jump of the timestamps, spliced out so ``media_wall`` continues the footage:
        the shift that dates this packet right (0.0 when it arrived on time, the pause's
        length when the camera paused before it). Measured against the live edge, so a
        packet read late in a batch is not taken for a pause."""
        pause = (arrival - media_wall) - self.edge()
        self._restart()
        shift = pause if pause > self.threshold else 0.0
        self._shifted(shift)
        return shift
