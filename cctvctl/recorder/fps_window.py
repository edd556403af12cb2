"""Frame rate from the stream's own timestamps, and the rate a camera is expected to keep.

Ingest reads in batches (up to a second asleep, then everything that arrived), and under
load a thread can fall seconds behind and catch up: a rate counted by arrival follows that
rhythm, not the camera's. Under load 229 of 512 cameras were logged "online -> degraded:
~11.9 fps" with no frame lost. The camera's timestamps do not move with our reading: the
frames whose media time lies in the last ``window`` seconds of media time, over the time
they span, is the rate the camera sends, however late we read them.

The expected rate is learned from the stream, not taken from the SDP or the SPS, which can
claim 25 fps while 12 are sent: it is the highest rate a full window of this camera has
shown since the server started. A camera that honestly sends 12 fps is online; degraded
means slower than it used to be. (The inventory's ``fps``, where given, still wins: an
operator's statement of what the camera should do.)
"""

from __future__ import annotations

from collections import deque
from typing import Final

__all__ = ["MAX_STEP_SECONDS", "MEDIA_WINDOW_SECONDS", "MediaRate"]

#: Media seconds the rate is measured over: ten read batches, so a batch's edge moves the
#: figure by a frame in ten seconds' worth, and short enough that a camera whose rate
#: halves is degraded within about five seconds of it.
MEDIA_WINDOW_SECONDS: Final = 10.0
#: A step between frames' timestamps outside (0, this] is a jump of the camera's clock, not
#: frames: the window starts over from the frame after it.
MAX_STEP_SECONDS: Final = 5.0


class MediaRate:
    """Frames per second over the last ``window`` seconds of media time. Not thread-safe:
    :class:`~cctvctl.recorder.stats.CameraStats` calls it under its lock."""

    def __init__(
        self, window: float = MEDIA_WINDOW_SECONDS, max_step: float = MAX_STEP_SECONDS
    ) -> None:
        if window <= 0 or max_step <= 0:
            raise ValueError("window and max_step must be positive")
        self.window = window
        self.max_step = max_step
        self._times: deque[float] = deque()
        self.learned: float | None = None  # the highest rate a full window has shown

    def reset(self) -> None:
        """A new connection: its timestamps have nothing to do with the last one's."""
        self._times.clear()

    def add(self, media: float) -> None:
        """One frame, at ``media`` seconds of the stream's clock."""
        times = self._times
        if times:
            step = media - times[-1]
            if step <= 0:
                if step > -1e-6:
                    return  # a second packet of the same frame (or a duplicate)
                times.clear()
            elif step > self.max_step:
                times.clear()
        times.append(media)
        horizon = media - self.window
        while times[0] < horizon:
            times.popleft()
        # full and _rate() spelt out: this runs for every frame of every camera.
        span = media - times[0]
        if span >= self.window * 0.95:
            rate = (len(times) - 1) / span
            if self.learned is None or rate > self.learned:
                self.learned = round(rate, 2)

    @property
    def span(self) -> float:
        """Media seconds the window holds now."""
        times = self._times
        return times[-1] - times[0] if len(times) > 1 else 0.0

    @property
    def full(self) -> bool:
        # A hair under the window: frame times rarely land exactly on its edge.
        return self.span >= self.window * 0.95

    def _rate(self) -> float:
        times = self._times
        return (len(times) - 1) / (times[-1] - times[0])

    def rate(self) -> float | None:
        """The rate over the window; None until it spans a second of media time."""
        return self._rate() if self.span >= 1.0 else None
