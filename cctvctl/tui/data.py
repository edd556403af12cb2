"""Live data: self-rescheduling one-shot polls and the latest view of the server.

A poll is one worker per tick that schedules the next tick only when it has finished, so a
slow server can never pile up overlapping requests; a failure stretches the delay instead.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from cctvctl.client import AsyncCctvClient, AuthError, CctvError
from cctvctl.termsafe import escape_controls
from cctvctl.tui import clock

if TYPE_CHECKING:
    from textual.dom import DOMNode
    from textual.timer import Timer

    from cctvctl.models import Camera, Event, Health, Identity, KecamatanSummary

__all__ = [
    "STALE_POLLS",
    "Connection",
    "NodeData",
    "Poller",
    "ServerTarget",
    "check_node",
    "describe_error",
    "fetch_node",
]

log = logging.getLogger(__name__)

MAX_BACKOFF = 30.0
KEPT_EVENTS = 500  # what the Events screen can scroll back through
SPARK_SAMPLES = 30  # inbound kbps history per kecamatan, one sample per stats tick
STALE_POLLS = 2  # data older than this many poll intervals is no longer shown as live


@dataclass(frozen=True)
class ServerTarget:
    """Which server the console watches (matches the client's TargetLike)."""

    url: str
    token: str | None
    name: str


class Connection(enum.StrEnum):
    CONNECTING = "connecting"
    ONLINE = "online"
    RETRYING = "retrying"
    DENIED = "denied"


@dataclass
class NodeData:
    """Latest answers of one server; replaced field by field as polls finish."""

    target: ServerTarget
    connection: Connection = Connection.CONNECTING
    error: str | None = None
    updated: datetime | None = None
    cameras: list[Camera] = field(default_factory=list)
    kecamatan: list[KecamatanSummary] = field(default_factory=list)
    health: Health | None = None
    identity: Identity | None = None  # who our token is; None until asked (or never known)
    # Newest last; filled from the server's event stream (with a short replay at start).
    events: deque[Event] = field(default_factory=lambda: deque(maxlen=KEPT_EVENTS))
    # Whether the event stream is up (an event came since it last failed): screens that
    # follow jobs poll slowly while it is, and fast when it is not.
    stream_up: bool = False
    # Inbound kbps per kecamatan slug, oldest first, for the overview's sparklines.
    kbps_history: dict[str, deque[float]] = field(default_factory=dict)
    # Seconds after which the figures are history rather than live (the app sets it from
    # its poll interval); None: never stale.
    stale_after: float | None = None

    def is_stale(self, now: datetime | None = None) -> bool:
        """Whether the last answer is too old to show as live (or none came yet but a
        poll already failed: an empty table must not pass for a quiet network)."""
        if self.stale_after is None:
            return False
        if self.updated is None:
            return self.error is not None
        return ((now or clock.now()) - self.updated).total_seconds() > self.stale_after

    def remember_kbps(self) -> None:
        for k in self.kecamatan:
            history = self.kbps_history.setdefault(k.slug, deque(maxlen=SPARK_SAMPLES))
            history.append(k.inbound_kbps)


async def fetch_node(client: AsyncCctvClient, data: NodeData) -> None:
    """One stats tick: cameras, kecamatan roll-up and host health."""
    cameras, kecamatan, health = await asyncio.gather(
        client.cameras(), client.kecamatan(), client.health()
    )
    data.cameras, data.kecamatan, data.health = cameras, kecamatan, health
    data.remember_kbps()
    data.connection, data.error = Connection.ONLINE, None
    data.updated = clock.now()


async def check_node(client: AsyncCctvClient, data: NodeData) -> None:
    """The light poll of a node that is not current: only whether it answers, and its host."""
    data.health = await client.health()
    data.connection, data.error = Connection.ONLINE, None
    data.updated = clock.now()


class Poller:
    """Runs ``job`` every ``interval`` seconds on ``owner``'s workers, one tick at a time."""

    def __init__(
        self,
        owner: DOMNode,
        job: Callable[[], Awaitable[None]],
        interval: float,
        *,
        on_error: Callable[[Exception], None] | None = None,
        name: str = "poll",
    ) -> None:
        self._owner = owner
        self._job = job
        self.interval = max(0.1, interval)
        self._on_error = on_error
        self._name = name
        self._timer: Timer | None = None
        self._running = False
        self._again = False  # a poke arrived mid-tick: tick again straight after
        self._stopped = True
        self.failures = 0

    def start(self) -> None:
        self._stopped = False
        self._schedule(0.0)

    def stop(self) -> None:
        self._stopped = True
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def poke(self) -> None:
        """Tick now (or right after the tick in flight) instead of waiting."""
        if self._stopped:
            return
        if self._running:
            self._again = True
            return
        self._schedule(0.0)

    def next_delay(self) -> float:
        if self.failures == 0:
            return self.interval
        return min(MAX_BACKOFF, self.interval * 2.0**self.failures)

    def _schedule(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if delay <= 0:
            # Textual timers reject a zero interval; a duplicate fire is harmless (see _fire).
            self._owner.call_later(self._fire)
        else:
            self._timer = self._owner.set_timer(delay, self._fire, name=self._name)

    def _fire(self) -> None:
        self._timer = None
        if self._stopped or self._running:
            return
        self._running = True
        # The function, not a coroutine object: a worker cancelled before it starts (the
        # app quitting) then leaves no "coroutine was never awaited" behind. Textual's
        # WorkType wants Coroutine[None, None, T] where async defs give Coroutine[Any, ...].
        self._owner.run_worker(
            self._tick,  # type: ignore[arg-type]
            name=self._name,
            group=self._name,
            exit_on_error=False,
        )

    async def _tick(self) -> None:
        try:
            await self._job()
            self.failures = 0
        except Exception as exc:  # the console must outlive any server trouble
            self.failures += 1
            log.debug("%s failed: %s", self._name, exc)
            if self._on_error is not None:
                self._on_error(exc)
        finally:
            self._running = False
        if not self._stopped:
            self._schedule(0.0 if self._again else self.next_delay())
            self._again = False


def describe_error(exc: Exception) -> tuple[Connection, str]:
    """Header state and one line of text for a failed poll (it quotes the server, so
    control characters come escaped)."""
    if isinstance(exc, AuthError):
        return Connection.DENIED, escape_controls(str(exc))
    if isinstance(exc, CctvError):
        # The header names the server already: "unreachable: connection refused" is enough.
        return Connection.RETRYING, escape_controls(str(exc).removeprefix(f"{exc.server}: "))
    return Connection.RETRYING, escape_controls(f"{type(exc).__name__}: {exc}")
