"""A server as a fleet node: heartbeat, the fleet inventory, camera leases, failover, handback.

One background thread (never the event loop: a store call may block for the connect
time-out) ticks every third of a lease:

1. ``heartbeat`` (URL, version, kecamatan served, capacity);
2. ``renew`` every lease the node holds (one statement);
3. the placement rules (:mod:`cctvctl.fleet.placement`) over the latest inventory version
   and the nodes' heartbeats: ``claim`` the cameras this node is the first live candidate
   of, ``release`` the ones an earlier candidate is alive again for (handback);
4. record exactly the cameras it holds, through :func:`~cctvctl.server.reload.apply_inventory`
   (added start, dropped stop and keep their footage, the others are not touched).

A handed-back camera keeps recording until the node it went back to holds the lease, then
for :data:`HANDOVER_GRACE` (its connect), then until its open segment closes: the camera is
recorded twice for at most about one segment, and by nobody not at all.

New inventory versions are heard over LISTEN (and read again whenever the listening
connection is new, since a notice sent while away is lost). The version applied last and
the cameras recorded are cached in the storage folder, so a node that starts while the
store is unreachable records what it recorded before.

A clean stop (SIGTERM, Ctrl-C: the app's shutdown) leaves the fleet: the thread ends,
then ``FleetStore.leave`` releases every lease and marks the node stopped in one
transaction and tells the other nodes (LISTEN/NOTIFY), which count it out at once and
claim its cameras without waiting for the leases to run out. The recorder stops after it
and closes its open segments, so the cameras are recorded twice for that moment rather
than by nobody. The call is bounded (:data:`LEAVE_SECONDS`): with the store out of reach
the leases simply expire, as after a crash.

The edge never waits: with the store down the node keeps recording every camera it had,
says so once per outage, and renews once the store is back. A lease another node took
meanwhile makes it stop that camera. After an outage (and at start-up) a node waits one
lease before it takes over anyone's cameras, so nodes whose heartbeats went stale with the
store are not mistaken for dead ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from cctvctl import __version__
from cctvctl.config import ConfigError, Inventory, InventoryDiff, fleet_inventory
from cctvctl.fleet.listen import InventoryListener
from cctvctl.fleet.placement import (
    candidates,
    capacity,
    homes,
    live_nodes,
    owner,
    served_kecamatan,
)
from cctvctl.fleet.store import FleetStore, StoreUnavailable
from cctvctl.server.reload import apply_inventory
from cctvctl.server.runtime import Runtime
from cctvctl.storage.modes import FileModes
from cctvctl.units import counted

__all__ = ["CACHE_NAME", "HANDOVER_GRACE", "LEAVE_SECONDS", "FleetNode", "joined"]

log = logging.getLogger("cctvctl.server")

#: The node's last applied inventory version and the cameras it recorded, in its storage.
CACHE_NAME: Final = "fleet-node.json"
#: Seconds a handed-back camera is still recorded after the new holder took its lease,
#: before the next segment boundary ends it: the new holder's RTSP connect.
HANDOVER_GRACE: Final = 2.0
#: How often a pending handback looks for its lease being taken and its segment closing.
HANDBACK_POLL: Final = 0.5
#: The longest one LISTEN wait, so a stop is noticed within it.
LISTEN_SLICE: Final = 1.0
#: Seconds a stopping node waits for its thread (a tick may be in a store call).
STOP_SECONDS: Final = 4.0
#: Seconds a stopping node gives the store to release its leases before it goes anyway.
LEAVE_SECONDS: Final = 3.0
#: Seconds a stopping node that released its leases records on, waiting for failover
#: nodes to take them (then :data:`HANDOVER_GRACE` for their connect); none may live.
STAND_IN_WAIT: Final = 2.0


@dataclass
class _Handback:
    """A camera given back: released in the store, still recorded until its boundary."""

    taken: float | None = None  # monotonic: when another node was seen holding it
    segment: datetime | None = None  # the open segment once the grace had passed
    armed: bool = False


class FleetNode:
    """The fleet side of a running server; :func:`joined` runs it."""

    def __init__(
        self, rt: Runtime, store: FleetStore, loop: asyncio.AbstractEventLoop, url: str
    ) -> None:
        assert rt.node is not None and rt.inventory.fleet is not None
        self._rt = rt
        self._store = store
        self._loop = loop
        self._url = url
        self._me: str = rt.node
        self._lease_seconds = rt.inventory.fleet.lease_seconds
        self._lease = timedelta(seconds=self._lease_seconds)
        self._listener = InventoryListener(rt.inventory.fleet.dsn)
        self._local = rt.inventory  # the node's own file: its [server], [sim], [fleet]
        self._fleet = rt.inventory  # the cameras of the fleet (the local file's until a version)
        self._version: int | None = None
        self._toml: str | None = None
        self._held: set[str] = set()
        self._recording = {e.camera.id for e in rt.inventory.cameras()}
        self._applied = rt.inventory
        self._running = rt.inventory  # what the last apply left running
        self._handbacks: dict[str, _Handback] = {}
        self._down_since: float | None = None
        self._settled_at = time.monotonic() + self._lease_seconds
        self._modes = FileModes.for_file_mode(rt.inventory.server.file_mode_bits)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fleet-node", daemon=True)

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        self._rt.fleet_view = self.view
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking, then leave the fleet: release the leases, marked stopped (bounded
        in time; if the store does not answer, the leases expire as after a crash)."""
        self._rt.fleet_view = None
        self._stop.set()
        self._thread.join(STOP_SECONDS)
        if self._thread.is_alive():
            # Stuck in a store call: a leave would queue behind it on the one connection.
            log.warning(
                "fleet node %s: the store did not answer within %g s; leaving without "
                "releasing leases (they expire within %g s)",
                self._me,
                STOP_SECONDS,
                self._lease_seconds,
            )
        else:
            self._leave()
        self._listener.close()

    def _leave(self) -> None:
        outcome: list[list[str] | BaseException] = []

        def leave() -> None:
            try:
                released = self._store.leave(self._me)
            except BaseException as error:  # reported below, on the stopping thread
                outcome.append(error)
                return
            outcome.append(released)
            with contextlib.suppress(Exception):  # the stop goes on whatever this says
                self._await_stand_ins(set(released))

        worker = threading.Thread(target=leave, name="fleet-leave", daemon=True)
        worker.start()
        worker.join(LEAVE_SECONDS)
        result = outcome[0] if outcome else None
        if isinstance(result, list):
            log.info(
                "fleet node %s left the fleet: %s released",
                self._me,
                counted(len(result), "lease"),
            )
            # Recording on while the failover nodes take the cameras, within a bound.
            worker.join(STAND_IN_WAIT + HANDOVER_GRACE + 1.0)
            return
        why = f"no answer within {LEAVE_SECONDS:g} s" if result is None else str(result)
        log.warning(
            "fleet node %s: could not leave the fleet (%s); its leases expire within %g s",
            self._me,
            why,
            self._lease_seconds,
        )

    def _await_stand_ins(self, released: set[str]) -> None:
        """Until another node holds each released camera's lease (at most
        :data:`STAND_IN_WAIT`), then its connect time: as at a handback, so the segments
        this node closes next overlap the stand-in's first ones instead of leaving the
        camera's last GOP to nobody."""
        deadline = time.monotonic() + STAND_IN_WAIT
        while released and time.monotonic() < deadline:
            holders = {lease.camera: lease.node for lease in self._store.leases()}
            if all(holders.get(cam) not in (None, self._me) for cam in released):
                time.sleep(HANDOVER_GRACE)
                return
            time.sleep(HANDBACK_POLL / 2)

    def _run(self) -> None:
        if not self._tick():
            self._record_from_cache()
        due = time.monotonic() + self._lease_seconds / 3
        while not self._stop.is_set():
            if time.monotonic() >= due:
                self._tick()
                due = time.monotonic() + self._lease_seconds / 3
            self._guarded(self._hand_back_at_boundaries)
            wait = min(due - time.monotonic(), LISTEN_SLICE)
            if self._handbacks:
                wait = min(wait, HANDBACK_POLL)
            if self._listen(max(wait, 0.0)):
                due = time.monotonic()  # a new version: place its cameras now

    def _guarded(self, step: Callable[[], None]) -> bool:
        """Run one step; False when the store could not be reached. Never ends the thread."""
        try:
            step()
        except StoreUnavailable as error:
            self._outage(error)
            return False
        except Exception:
            log.exception("fleet node %s: a tick failed; trying again next tick", self._me)
            return False
        return True

    # ------------------------------------------------------------------ the store up or down

    def _outage(self, error: StoreUnavailable) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning(
                "%s; recording on without it (%s now), renewing once it is back",
                error,
                counted(len(self._recording), "camera"),
            )

    def _reached(self) -> None:
        if self._down_since is not None:
            log.info(
                "fleet store reachable again after %.0f s; renewing leases",
                time.monotonic() - self._down_since,
            )
            self._down_since = None
            # Every node's heartbeat went stale with the store: give them a lease to
            # send one before anyone is taken for dead.
            self._settled_at = time.monotonic() + self._lease_seconds

    # ------------------------------------------------------------------ the tick

    def _tick(self) -> bool:
        return self._guarded(self._tick_once)

    def _tick_once(self) -> None:
        self._store.heartbeat(
            self._me,
            url=self._url,
            version=__version__,
            kecamatan=served_kecamatan(self._fleet, self._me),
            capacity=capacity(self._fleet, self._me),
        )
        self._reached()
        if self._version is None:
            self._read_inventory()
        self._place()

    def _place(self) -> None:
        """Renew, then claim and release by the placement rules; record what is held."""
        held = set(self._store.renew(self._me, self._lease))
        nodes = self._store.nodes()
        live = live_nodes(nodes, self._store.now(), self._lease) | {self._me}
        stopped = {n.name for n in nodes if n.stopped is not None} - {self._me}
        want, give_back = self._sort(held, live, stopped, [n.name for n in nodes])
        got = set(self._store.claim(self._me, sorted(want), self._lease)) if want else set()
        if give_back:
            self._store.release(self._me, sorted(give_back))
            for cam in sorted(give_back):
                self._handbacks[cam] = _Handback()
            log.info("handing back %s at the next segment boundary", ", ".join(sorted(give_back)))
        cameras = {e.camera.id for e in self._fleet.cameras()}
        for cam in set(self._handbacks) - cameras:
            del self._handbacks[cam]  # gone from the inventory: nothing to hand back
        if held - cameras:
            self._store.release(self._me, sorted(held - cameras))
            held &= cameras
        lost = (self._held - held - give_back) & cameras
        if lost:
            log.warning("leases taken by another node: %s", ", ".join(sorted(lost)))
        self._held = (held - give_back) | got
        self._record(self._held | set(self._handbacks))

    def _sort(
        self, held: set[str], live: set[str], stopped: set[str], registered: list[str]
    ) -> tuple[set[str], set[str]]:
        """The cameras to claim and the ones to give back, by the placement rules.
        ``stopped``: the nodes that left cleanly, out even before the node has settled."""
        home_of = homes(self._fleet)
        settled = time.monotonic() >= self._settled_at
        own_file = self._toml is None  # no fleet version yet: the node's own file's cameras
        want: set[str] = set()
        give_back: set[str] = set()
        for entry in self._fleet.cameras():
            cam = entry.camera.id
            rightful: str | None
            if own_file and entry.camera.node is None:
                rightful = self._me  # a camera of its own file with no home is its own
            elif settled:
                rightful = owner(entry, live, registered, home_of)
            else:
                # Nobody is taken for dead yet, but a node that said it left is gone: its
                # own cameras, and those whose every candidate before it has left.
                before = candidates(entry, registered, home_of)
                first = next((n for n in before if n == self._me or n not in stopped), None)
                rightful = self._me if first == self._me else None
            if rightful == self._me:
                self._handbacks.pop(cam, None)  # the node it went back to died again
                if cam not in held:
                    want.add(cam)
            elif cam in held:
                if rightful is not None:
                    give_back.add(cam)
            elif cam in self._recording and cam not in self._handbacks:
                # Recorded without a lease (started offline, or lost in an outage): kept
                # only if the lease is free; another node's live lease stops it here.
                want.add(cam)
        return want, give_back

    def _hand_back_at_boundaries(self) -> None:
        """Stop each handed-back camera at its first segment boundary once it is taken."""
        if not self._handbacks:
            return
        if any(h.taken is None for h in self._handbacks.values()):
            holders = {lease.camera: lease.node for lease in self._store.leases()}
            for cam, h in self._handbacks.items():
                if h.taken is None and holders.get(cam) not in (None, self._me):
                    h.taken = time.monotonic()
        done: list[str] = []
        for cam, h in self._handbacks.items():
            if h.taken is None or time.monotonic() - h.taken < HANDOVER_GRACE:
                continue
            segment = self._rt.open_since(cam)
            if not h.armed:
                h.armed, h.segment = True, segment
                if segment is not None:
                    continue
            if segment != h.segment or segment is None:
                done.append(cam)
        if done:
            for cam in done:
                del self._handbacks[cam]
            log.info("handed back %s at a segment boundary", ", ".join(done))
            self._record(self._held | set(self._handbacks))

    # ------------------------------------------------------------------ the inventory

    def _listen(self, timeout: float) -> bool:
        """Wait for a notice; True when a new version was read (or the connection is new)."""
        fresh = not self._listener.connected
        try:
            heard = self._listener.wait(timeout)
        except StoreUnavailable:
            self._stop.wait(timeout)
            return False
        if self._listener.take_left() - {self._me}:
            # A node left cleanly: its cameras are free now; place them at once. (A new
            # version heard with it is read by that tick.)
            if fresh or (heard is not None and heard != self._version):
                self._guarded(self._read_inventory)
            return True
        if fresh or (heard is not None and heard != self._version):
            return self._guarded(self._read_inventory)
        return False

    def _read_inventory(self) -> None:
        latest = self._store.inventory()
        if latest is None or latest.version == self._version:
            return
        self._version = latest.version
        source = f"fleet inventory version {latest.version}"
        try:
            fleet = fleet_inventory(self._local, latest.toml, source=source)
        except ConfigError as exc:
            for line in exc.lines():
                log.warning("refused: %s", line)
            log.warning("%s refused; recording on from the inventory before it", source)
            return
        cameras = counted(len(list(fleet.cameras())), "camera")
        log.info("%s by %s: %s", source, latest.author, cameras)
        self._fleet, self._toml = fleet, latest.toml
        self._record(self._recording)

    def view(self, local: Inventory) -> Inventory:
        """What a reload of the node's own file runs: the file's ``[server]`` (tokens,
        limits) with the fleet's cameras this node records now, so a reload never drops
        them. Raises ConfigError when the fleet's version no longer validates with the
        file (a secrets file that lost a password), and the reload is refused."""
        if self._toml is None:
            self._local = self._fleet = local  # the local file's cameras are the fleet's
            return local.only(self._recording & {e.camera.id for e in local.cameras()})
        source = f"fleet inventory version {self._version}"
        fleet = fleet_inventory(local, self._toml, source=source)
        self._local, self._fleet = local, fleet
        return fleet.only(self._recording)

    # ------------------------------------------------------------------ recording

    def _record(self, cameras: set[str]) -> None:
        """Record exactly ``cameras`` of the fleet inventory (in place, no gap elsewhere)."""
        cameras = cameras & {e.camera.id for e in self._fleet.cameras()}
        if (
            cameras == self._recording
            and self._applied is self._fleet
            and self._rt.inventory is self._running
        ):
            return  # (a reload from the local file would have replaced rt.inventory)
        target = self._fleet.only(cameras)
        diff = asyncio.run_coroutine_threadsafe(self._apply(target), self._loop).result()
        self._recording, self._applied = cameras, self._fleet
        for line in diff.lines():
            log.info("fleet node %s: %s", self._me, line)
        self._save_cache()

    async def _apply(self, target: Inventory) -> InventoryDiff:
        async with self._rt.reload_lock:
            diff = await apply_inventory(self._rt, target)
            self._running = self._rt.inventory
            return diff

    @property
    def _cache(self) -> Path:
        return self._local.storage / CACHE_NAME

    def _save_cache(self) -> None:
        if self._toml is None:
            return  # the local file's cameras: the file itself is their cache
        body = {"version": self._version, "toml": self._toml, "recording": sorted(self._recording)}
        partial = self._cache.with_name(CACHE_NAME + ".part")
        try:
            self._modes.write_text(partial, json.dumps(body))
            os.replace(partial, self._cache)
        except OSError as exc:
            log.warning("cannot cache the fleet inventory in %s: %s", self._cache, exc)

    def _record_from_cache(self) -> None:
        """Start-up with the store unreachable: record what was recorded before, if known."""
        try:
            body = json.loads(self._cache.read_text(encoding="utf-8"))
            version, text = int(body["version"]), str(body["toml"])
            recording = {str(c) for c in body["recording"]}
        except FileNotFoundError:
            log.warning(
                "no cached fleet inventory in %s: recording the %s of %s",
                self._cache.parent,
                counted(len(self._recording), "camera"),
                self._local.path,
            )
            return
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("cached fleet inventory %s unusable (%s); ignored", self._cache, exc)
            return
        try:
            fleet = fleet_inventory(self._local, text, source=f"cached inventory version {version}")
        except ConfigError as exc:
            for line in exc.lines():
                log.warning("refused: %s", line)
            return
        self._fleet, self._version, self._toml = fleet, version, text
        log.warning(
            "recording %s from the cached fleet inventory version %d",
            counted(len(recording), "camera"),
            version,
        )
        self._record(recording)


@asynccontextmanager
async def joined(rt: Runtime, url: str) -> AsyncIterator[FleetNode | None]:
    """Run ``rt`` as a fleet node while the context is open (nothing on a single node)."""
    if rt.fleet_store is None:
        yield None
        return
    node = FleetNode(rt, rt.fleet_store, asyncio.get_running_loop(), url)
    node.start()
    try:
        yield node
    finally:
        await asyncio.to_thread(node.stop)
