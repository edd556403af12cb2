"""The event bus: persist an event, then hand it to every live subscriber.

Publishers are plain threads (camera ingest, retention); subscribers are coroutines on
the API server's event loop feeding ``/api/v1/events``. Each subscription buffers at
most ``maxsize`` events. When a consumer falls behind, its oldest events are dropped and
an :class:`EventGap` takes their place, so a stuck SSE client can never hold up an
ingest thread or grow memory; the missed events are still in the event store for replay.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Protocol

from cctvctl.models import Event
from cctvctl.storage.event_store import EventStore

__all__ = [
    "ARCHIVE_UNARCHIVED_DELETED",
    "CAMERA_REANCHOR",
    "CAMERA_STATUS",
    "JOB_PROGRESS",
    "STORAGE_DELETED",
    "EventBus",
    "EventGap",
    "Subscription",
    "SubscriptionClosed",
]

CAMERA_STATUS: Final = "camera.status"
STORAGE_DELETED: Final = "storage.deleted"
JOB_PROGRESS: Final = "job.progress"
#: Retention deleted footage the archive did not hold yet (a quota or the disk guard).
ARCHIVE_UNARCHIVED_DELETED: Final = "archive.unarchived_deleted"
#: A camera's media time re-anchored to the wall clock (recorder/media_clock.py).
CAMERA_REANCHOR: Final = "camera.reanchor"

DEFAULT_MAXSIZE: Final = 1000


class EventPublisher(Protocol):
    """Where backend parts announce events; :class:`EventBus` is the one the server runs.

    Recorder, retention and reboots depend on this rather than on the bus itself, so their
    tests can hand in anything that records what was published.
    """

    def publish(
        self,
        type: str,
        camera: str | None = None,
        kecamatan: str | None = None,
        data: Mapping[str, object] | None = None,
    ) -> Event: ...


class SubscriptionClosed(Exception):
    """The subscription (or the whole bus) was closed and every queued event taken."""


@dataclass(frozen=True, slots=True)
class EventGap:
    """Events a subscriber did not get because it was too slow.

    The missing ones have ids in ``(after_id, before_id)``; ``after_id`` is None when the
    gap starts before anything this subscription delivered or replayed. A consumer can
    fetch them with ``EventBus.recent(after_id)`` or tell its client to reload state.
    """

    after_id: int | None
    before_id: int
    missed: int


class Subscription:
    """One consumer's bounded feed of events; iterate it on the loop that created it."""

    def __init__(
        self, bus: EventBus, loop: asyncio.AbstractEventLoop, maxsize: int, after_id: int | None
    ) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self._bus = bus
        self._loop = loop
        self._maxsize = maxsize
        self._lock = threading.Lock()
        self._items: deque[Event] = deque()
        self._missed = 0
        self._last_taken = after_id  # id of the last event handed to the consumer
        self._wake_pending = False
        self._wakeup = asyncio.Event()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._items)

    # -- producer side (any thread) ----------------------------------------------------

    def _offer(self, event: Event) -> bool:
        """Queue an event; False once this subscription is dead and should be dropped."""
        with self._lock:
            if self._closed:
                return False
            if len(self._items) >= self._maxsize:
                self._items.popleft()
                self._missed += 1
            self._items.append(event)
        return self._wake()

    def _wake(self) -> bool:
        # At most one wake-up callback is queued on the loop per subscription, so a
        # burst of events costs one loop callback rather than one per event.
        with self._lock:
            if self._wake_pending:
                return True
            self._wake_pending = True
        try:
            self._loop.call_soon_threadsafe(self._on_wake)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self._closed = True
            return False
        return True

    def _on_wake(self) -> None:
        with self._lock:
            self._wake_pending = False
        self._wakeup.set()

    # -- consumer side (the loop) ------------------------------------------------------

    def _take(self) -> Event | EventGap | None:
        with self._lock:
            if self._missed:
                head = self._items[0].id if self._items else self._last_taken or 0
                gap = EventGap(self._last_taken, head, self._missed)
                self._missed = 0
                return gap
            if self._items:
                event = self._items.popleft()
                self._last_taken = event.id
                return event
            self._wakeup.clear()
            return None

    async def get(self) -> Event | EventGap:
        """The next event or gap; raises :class:`SubscriptionClosed` once closed and drained."""
        while True:
            item = self._take()
            if item is not None:
                return item
            if self._closed:
                raise SubscriptionClosed
            await self._wakeup.wait()

    def get_nowait(self) -> Event | EventGap | None:
        return self._take()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event | EventGap:
        try:
            return await self.get()
        except SubscriptionClosed:
            raise StopAsyncIteration from None

    def close(self) -> None:
        """Stop receiving; a consumer waiting in :meth:`get` finishes after draining."""
        with self._lock:
            already = self._closed
            self._closed = True
        if not already:
            self._bus._forget(self)
            self._wake()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def _start_with_gap(self, missed: int) -> None:
        with self._lock:
            self._missed = missed


class EventBus:
    """Persist-then-fan-out; :meth:`publish` is safe from any thread."""

    def __init__(self, store: EventStore, *, maxsize: int = DEFAULT_MAXSIZE) -> None:
        self.store = store
        self.maxsize = maxsize
        # Held across the insert and the fan-out, so every subscriber sees events in id
        # order and a subscription opened with replay neither misses nor repeats one.
        self._lock = threading.Lock()
        self._subs: list[Subscription] = []

    def publish(
        self,
        type: str,
        camera: str | None = None,
        kecamatan: str | None = None,
        data: Mapping[str, object] | None = None,
    ) -> Event:
        with self._lock:
            event = self.store.add(type, camera=camera, kecamatan=kecamatan, data=dict(data or {}))
            self._subs = [sub for sub in self._subs if sub._offer(event)]
        return event

    def subscribe(
        self,
        *,
        since_id: int | None = None,
        maxsize: int | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> Subscription:
        """A feed of events published from now on, on the running loop (or ``loop``).

        With ``since_id`` (an SSE client's Last-Event-ID) the feed starts with the stored
        events after that id; if there are more than fit, it starts with an
        :class:`EventGap` followed by the newest ones.
        """
        size = self.maxsize if maxsize is None else maxsize
        target = loop if loop is not None else asyncio.get_running_loop()
        sub = Subscription(self, target, size, since_id)
        with self._lock:
            if since_id is not None:
                backlog = self.store.read(since_id=since_id, limit=size, latest=True)
                if len(backlog) == size:
                    sub._start_with_gap(self.store.count_after(since_id) - size)
                for event in backlog:
                    sub._offer(event)
            self._subs.append(sub)
        return sub

    def recent(self, since_id: int | None = None, limit: int = 500) -> list[Event]:
        """Stored events after ``since_id``, oldest first (the latest ones without it)."""
        return self.store.read(since_id=since_id, limit=limit)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subs)

    def _forget(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def close(self) -> None:
        """End every subscription (server shutdown): their iterators stop after draining."""
        with self._lock:
            subs, self._subs = self._subs, []
        for sub in subs:
            sub.close()
