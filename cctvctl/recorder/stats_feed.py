"""What an ingest tells its camera's live statistics, in this process or from another.

:class:`~cctvctl.recorder.ingest.CameraIngest` reports to a :class:`StatsFeed`. In the
server process that is the camera's :class:`~cctvctl.recorder.stats.CameraStats` itself.
In an ingest worker process (recorder/ingest_worker.py) it is a :class:`StatsRelay`, which
keeps every call in order; the server replays them on the real ``CameraStats``
(:func:`replay`), so status, fps and every figure are worked out in one place, whichever
process read the packets.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Final, Protocol, TypeVar

from cctvctl.models import OfflineCause

__all__ = ["FEED_CALLS", "StatsFeed", "StatsRelay", "replay", "take_all"]

T = TypeVar("T")

#: Every call an ingest makes on its stats; nothing else is replayed.
FEED_CALLS: Final = frozenset(
    {
        "packet",
        "settled",
        "connected",
        "stream_rate",
        "disconnected",
        "failed",
        "gone",
        "queued",
        "admitted",
        "reconnecting",
        "set_recording",
    }
)

Call = tuple[str, tuple[Any, ...]]


def take_all(items: deque[T]) -> list[T]:
    """What ``items`` holds now, oldest first, taken out. Other threads may append
    meanwhile (what they add stays for the next take): a deque's append and popleft need
    no lock, where swapping the deque for a new one could lose an append."""
    return [items.popleft() for _ in range(len(items))]


class StatsFeed(Protocol):
    """The ingest side of a camera's statistics (see CameraStats for each call's meaning)."""

    def packet(self, size: int, now: float, media: float | None = None) -> None: ...
    def settled(self, now: float) -> None: ...
    def connected(self, stream_fps: float | None) -> None: ...
    def stream_rate(self, fps: float | None) -> None: ...
    def disconnected(self, error: str | None, cause: OfflineCause | None = None) -> None: ...
    def failed(self, error: str, cause: OfflineCause = OfflineCause.OTHER) -> None: ...
    def gone(self, cause: OfflineCause) -> None: ...
    def queued(self, now: float) -> None: ...
    def admitted(self, now: float) -> None: ...
    def reconnecting(self, now: float) -> None: ...
    def set_recording(self, recording: bool) -> None: ...


class StatsRelay:
    """A :class:`StatsFeed` that keeps its calls for :meth:`take` (an ingest worker's).

    Ingest threads append and one sender takes; a deque's append and popleft need no lock.
    """

    def __init__(self) -> None:
        self._calls: deque[Call] = deque()

    def take(self) -> list[Call]:
        """The calls made since the last take, oldest first."""
        return take_all(self._calls)

    def packet(self, size: int, now: float, media: float | None = None) -> None:
        self._calls.append(("packet", (size, now, media)))

    def settled(self, now: float) -> None:
        self._calls.append(("settled", (now,)))

    def connected(self, stream_fps: float | None) -> None:
        self._calls.append(("connected", (stream_fps,)))

    def stream_rate(self, fps: float | None) -> None:
        self._calls.append(("stream_rate", (fps,)))

    def disconnected(self, error: str | None, cause: OfflineCause | None = None) -> None:
        self._calls.append(("disconnected", (error, cause)))

    def failed(self, error: str, cause: OfflineCause = OfflineCause.OTHER) -> None:
        self._calls.append(("failed", (error, cause)))

    def gone(self, cause: OfflineCause) -> None:
        self._calls.append(("gone", (cause,)))

    def queued(self, now: float) -> None:
        self._calls.append(("queued", (now,)))

    def admitted(self, now: float) -> None:
        self._calls.append(("admitted", (now,)))

    def reconnecting(self, now: float) -> None:
        self._calls.append(("reconnecting", (now,)))

    def set_recording(self, recording: bool) -> None:
        self._calls.append(("set_recording", (recording,)))


def replay(stats: StatsFeed, calls: list[Call]) -> None:
    """Make ``calls`` (a relay's, from another process) on ``stats``, in order.

    Raises ValueError for a call that is not part of the feed: the names come over a pipe.
    """
    for name, args in calls:
        if name not in FEED_CALLS:
            raise ValueError(f"not a stats feed call: {name!r}")
        getattr(stats, name)(*args)
