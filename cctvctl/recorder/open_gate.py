"""How many cameras may be opening their stream at once (one gate per recorder).

Opening a camera is the expensive part of its life for the recorder's machine: the RTSP
handshake, libav's stream probe and, for the first packets, a burst of reads, all while
the thread holds the GIL more than it will once streaming. When every ingest thread of a
large site starts at once (512 on 2 cores, benchmarks/README.md), the handshakes time out
in the crowd, cameras are called offline before their first packet and the readers fall so
far behind that the cameras drop them. The gate lets ``limit`` opens run at a time; the
others wait their turn in arrival order, and the open time-out of each counts from when it
passes the gate. A slot is held from the camera's auth check to its first packet (or to
the failure), never while it streams, so a site with fewer cameras than ``limit`` never
waits.

A waiting camera is "connecting", not failing: :class:`~cctvctl.recorder.stats.CameraStats`
leaves its wait out of the offline clock. A stop wakes a waiter at once
(:meth:`OpenGate.interrupt`): waiting is never what delays a shutdown.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

__all__ = ["OPEN_LIMIT", "OpenGate"]

#: Opens at a time by default, chosen from 512-camera runs on 2 cores (benchmarks/README.md,
#: "Start-up gate"). A slot is held until the first packet, and a camera (like the
#: simulator) may send nothing before its next keyframe: an open holds its slot up to a GOP
#: (2 s there) while using almost no CPU. 16 then let 16 cameras on every 2 s (the last of
#: 512 after more than a minute), 32 was not better; 64 started most cameras soonest and no
#: handshake timed out, still a bounded crowd.
OPEN_LIMIT: Final = 64


class _Waiter:
    __slots__ = ("admitted", "wake")

    def __init__(self) -> None:
        self.wake = threading.Event()
        self.admitted = False


class OpenGate:
    """At most ``limit`` holders at a time; the rest wait in arrival order.

    Each waiter sleeps on an event of its own and a leaving holder hands its slot straight
    to the first waiter, so 500 waiters cost nothing while they wait and one wake-up per
    slot (a shared condition would wake them all on every release).
    """

    def __init__(self, limit: int = OPEN_LIMIT) -> None:
        if limit < 1:
            raise ValueError("the open gate needs a limit of at least 1")
        self.limit = limit
        self._lock = threading.Lock()
        self._busy = 0
        # Keyed by the waiter's stop event: one wait per ingest at a time, and a stop finds
        # its waiter without a scan.
        self._queue: OrderedDict[threading.Event, _Waiter] = OrderedDict()

    @property
    def busy(self) -> int:
        """Slots held now (opens in flight)."""
        return self._busy

    @property
    def waiting(self) -> int:
        """Cameras waiting for a slot now."""
        return len(self._queue)

    def enter(self, stop: threading.Event, on_wait: Callable[[], None] | None = None) -> bool:
        """Take a slot, waiting for one if need be; False (and no slot) once ``stop`` is set.

        ``on_wait`` is called, outside the gate's lock, when the caller has to wait.
        """
        with self._lock:
            if stop.is_set():
                return False
            if self._busy < self.limit and not self._queue:
                self._busy += 1
                return True
            waiter = _Waiter()
            self._queue[stop] = waiter
        if on_wait is not None:
            on_wait()
        waiter.wake.wait()
        with self._lock:
            if not waiter.admitted:
                self._queue.pop(stop, None)
                return False
            if stop.is_set():
                # Admitted as the stop came: pass the slot on rather than hold it unused.
                self._leave_locked()
                return False
            return True

    def leave(self) -> None:
        """Give back a slot taken by :meth:`enter`."""
        with self._lock:
            self._leave_locked()

    def _leave_locked(self) -> None:
        if self._queue:
            # Handed over: the count of held slots does not change.
            _, waiter = self._queue.popitem(last=False)
            waiter.admitted = True
            waiter.wake.set()
        else:
            self._busy -= 1

    def interrupt(self, stop: threading.Event) -> None:
        """Wake the waiter of ``stop`` (set it first): it returns False from :meth:`enter`."""
        with self._lock:
            waiter = self._queue.pop(stop, None)
        if waiter is not None:
            waiter.wake.set()
