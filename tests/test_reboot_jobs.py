"""Reboot planning, guards and watching with a fake clock: no server, no simulator.

The end-to-end behaviour (a real ONVIF simulator, a real server) is in test_reboots.py;
these pin the rules that depend on time and counting, where a real clock would make a
test either slow (a 10-minute guard) or flaky (slots under load).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from still_clock import StillClock

from cctvctl.config import Inventory, InventoryFile
from cctvctl.devices.onvif import OnvifTarget
from cctvctl.models import Camera, CameraStatus, RebootError, RebootState, SiteKind
from cctvctl.reboots.plan import RebootPlanner
from cctvctl.reboots.run import POLL_SECONDS, RebootRunner, watch
from cctvctl.recorder.stats import CameraStats
from cctvctl.storage.audit import AuditLog
from cctvctl.storage.database import Database
from cctvctl.storage.event_store import EventStore
from cctvctl.storage.events import EventBus
from cctvctl.storage.job_trail import JobTrail
from cctvctl.storage.reboot_log import RebootLog, RebootRow

T0 = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
NONE_BUSY: dict[str, RebootRow] = {}


def _inventory(count: int) -> Inventory:
    cameras: list[dict[str, Any]] = [
        {
            "id": f"cam-{n:02d}",
            "name": f"Kamera {n}",
            "rtsp": f"rtsp://127.0.0.1:8554/cam-{n:02d}",
            "onvif": f"http://127.0.0.1:1/cam-{n:02d}/onvif/device_service",
            "username": "admin",
        }
        for n in range(1, count + 1)
    ]
    cameras.append(
        {"id": "cam-off", "name": "Mati", "rtsp": "rtsp://127.0.0.1:8554/off", "username": "a"}
        | {"onvif": "http://127.0.0.1:1/off/onvif/device_service", "enabled": False}
    )
    cameras.append(
        {"id": "cam-noonvif", "name": "Tanpa", "rtsp": "rtsp://127.0.0.1:8554/x", "username": "a"}
    )
    data = InventoryFile.model_validate(
        {
            "kecamatan": [
                {
                    "name": "Sangatta Utara",
                    "site": [
                        {"name": "Kantor Camat", "kind": "kantor_kecamatan", "camera": cameras}
                    ],
                }
            ]
        }
    )
    ids = [c["id"] for c in cameras]
    return Inventory(
        path=Path("kutim.toml"), data=data, passwords={c: SecretStr("pw") for c in ids}
    )


class NoStatus:
    def camera(self, camera_id: str) -> None:
        return None


def _row(
    row_id: str, camera: str, requested: datetime, reason: str, state: RebootState
) -> RebootRow:
    """A reboot noc-ani asked for; its batch is the id up to the dot."""
    return RebootRow(
        id=row_id,
        camera=camera,
        requested=requested,
        actor="noc-ani",
        reason=reason,
        state=state,
        batch=row_id.split(".", 1)[0],
    )


def _rebooted(log: RebootLog, camera: str, at: datetime, state: RebootState) -> None:
    log.add([_row(f"rb-old.{camera}", camera, at, "stream hung", state)])


def test_the_ten_minute_guard_expires_and_force_lifts_it(index: Database) -> None:
    clock = StillClock(T0)
    log = RebootLog(index, clock=clock)
    planner = RebootPlanner(_inventory(3), NoStatus(), log, clock=clock)
    _rebooted(log, "cam-01", T0, RebootState.BACK_ONLINE)

    clock.now = (T0 + timedelta(minutes=9, seconds=59)).timestamp()
    held = planner.check("cam-01", False, NONE_BUSY)
    assert held.error is RebootError.RECENTLY_REBOOTED
    assert "allowed again after 2026-12-04T02:10:00Z" in (held.detail or "")
    assert planner.check("cam-01", True, NONE_BUSY).error is None  # force
    assert planner.check("cam-02", False, NONE_BUSY).error is None  # other cameras

    clock.now = (T0 + timedelta(minutes=10, seconds=1)).timestamp()
    assert planner.check("cam-01", False, NONE_BUSY).error is None


def test_a_reboot_in_flight_blocks_even_force(index: Database) -> None:
    clock = StillClock(T0)
    planner = RebootPlanner(_inventory(2), NoStatus(), RebootLog(index, clock=clock), clock=clock)
    running = _row("rb-x.1", "cam-02", T0, "r", RebootState.WAITING)
    check = planner.check("cam-02", True, {"cam-02": running})
    assert check.error is RebootError.RECENTLY_REBOOTED
    assert "in progress (job rb-x, waiting)" in (check.detail or "")


def test_disabled_and_no_onvif_are_skipped_before_anything_is_sent(index: Database) -> None:
    clock = StillClock(T0)
    planner = RebootPlanner(_inventory(1), NoStatus(), RebootLog(index, clock=clock), clock=clock)
    assert planner.check("cam-off", True, NONE_BUSY).error is RebootError.DISABLED
    assert planner.check("cam-noonvif", True, NONE_BUSY).error is RebootError.NO_ONVIF
    # A kecamatan selection takes enabled cameras only; an explicit list keeps them.
    assert "cam-off" not in planner.select(None, "sangatta-utara", None)
    assert planner.select(["cam-off", "cam-01", "cam-01"], None, None) == ["cam-01", "cam-off"]


def test_the_twenty_target_limit_counts_only_cameras_that_would_go(
    index: Database,
) -> None:
    clock = StillClock(T0)
    planner = RebootPlanner(_inventory(21), NoStatus(), RebootLog(index, clock=clock), clock=clock)
    everything = [*planner.entries]  # 21 rebootable, one disabled, one without ONVIF

    over = planner.bulk(everything, False, NONE_BUSY)
    assert len(over.go) == 21 and len(over.skip) == 2
    assert over.refused is not None and over.refused.startswith("21 cameras would be rebooted")
    assert "more than 20 at once needs force" in over.refused
    assert planner.bulk(everything, True, NONE_BUSY).refused is None

    at_limit = planner.bulk([c for c in everything if c != "cam-21"], False, NONE_BUSY)
    assert len(at_limit.go) == 20 and at_limit.refused is None

    plan = planner.dry_run(over)
    assert (plan.would_reboot, plan.skipped, plan.limit) == (21, 2, 20)
    assert plan.refused == over.refused
    states = {t.camera: t.state for t in plan.targets}
    assert states["cam-01"] is RebootState.PLANNED
    assert states["cam-off"] is RebootState.SKIPPED
    assert all(t.requested == T0 for t in plan.targets)


class Dark:
    """cam-01 dark since T0 (its last packet), cam-02 since T0 + 10 min, cam-03 online."""

    def camera(self, camera_id: str) -> Camera | None:
        last = {"cam-01": T0, "cam-02": T0 + timedelta(minutes=10), "cam-03": None}
        if camera_id not in last:
            return None
        online = camera_id == "cam-03"
        return Camera(
            id=camera_id,
            name=camera_id,
            kecamatan="Sangatta Utara",
            kecamatan_slug="sangatta-utara",
            site="Kantor Camat",
            site_kind=SiteKind.KANTOR_KECAMATAN,
            enabled=True,
            has_onvif=True,
            status=CameraStatus.ONLINE if online else CameraStatus.OFFLINE,
            status_since=T0,
            last_packet=last[camera_id],
        )


def test_offline_for_counts_from_the_last_packet_on_the_clock(index: Database) -> None:
    clock = StillClock(T0 + timedelta(minutes=20))
    planner = RebootPlanner(_inventory(3), Dark(), RebootLog(index, clock=clock), clock=clock)
    assert planner.select(None, None, 15 * 60) == ["cam-01"]
    assert planner.select(None, None, 10 * 60) == ["cam-01", "cam-02"]
    clock.now += 6 * 60  # cam-02 now dark for 16 minutes
    assert planner.select(None, "sangatta-utara", 15 * 60) == ["cam-01", "cam-02"]
    assert planner.select(["cam-03"], None, 0) == []  # online is never "offline for"


# --------------------------------------------------------------------------- watching


class Device:
    """A camera's stream as the recorder sees it, moved by the fake clock."""

    def __init__(self, clock: StillClock) -> None:
        self.clock = clock
        self.stats = CameraStats("cam-01", configured_fps=25.0, clock=clock)
        self.plan: dict[float, str] = {}  # time -> "down" | "up"
        self.live = False

    def stream(self, now: float) -> None:
        self.stats.connected(25.0)
        self.live = True
        self._frames(now - 1, now)

    def _frames(self, start: float, end: float) -> None:
        n = 0
        while start + n / 25 < end:
            self.stats.packet(1000, start + n / 25)
            n += 1
        self.stats.evaluate(end)

    async def sleep(self, seconds: float) -> None:
        if self.live:  # the old connection keeps delivering frames meanwhile
            self._frames(self.clock.now, self.clock.now + seconds)
        self.clock.now += seconds
        for at, what in sorted(self.plan.items()):
            if at <= self.clock.now:
                del self.plan[at]
                if what == "down":
                    self.live = False
                    self.stats.disconnected("connection refused")
                else:
                    self.stream(self.clock.now)
        self.stats.evaluate(self.clock.now)

    def watch(self, sent: float, reboot_wait: float) -> Any:
        return watch(
            lambda camera: self.stats,
            "cam-01",
            sent,
            reboot_wait,
            clock=self.clock,
            sleep=self.sleep,
        )


def test_a_stream_that_never_drops_did_not_return_at_reboot_wait() -> None:
    clock = StillClock(T0)
    device = Device(clock)
    device.stream(clock.now)
    sent = clock.now
    state, error, detail = asyncio.run(device.watch(sent, 120.0))
    assert (state, error) == (RebootState.DID_NOT_RETURN, RebootError.NOT_SEEN_DOWN)
    assert "never dropped in 120 s" in detail
    # Given up at the deadline, not a poll earlier, and not long after.
    assert sent + 120.0 <= clock.now < sent + 120.0 + POLL_SECONDS + 1e-9


def test_a_stream_that_drops_and_stays_down_did_not_return() -> None:
    clock = StillClock(T0)
    device = Device(clock)
    device.stream(clock.now)
    sent = clock.now
    device.plan = {sent + 5: "down"}
    state, error, detail = asyncio.run(device.watch(sent, 60.0))
    assert (state, error) == (RebootState.DID_NOT_RETURN, RebootError.NOT_BACK)
    assert "did not return within 60 s" in detail
    assert clock.now >= sent + 60.0


def test_a_new_connection_after_the_command_is_back_online() -> None:
    clock = StillClock(T0)
    device = Device(clock)
    device.stream(clock.now)
    sent = clock.now
    device.plan = {sent + 3: "down", sent + 40: "up"}
    state, error, detail = asyncio.run(device.watch(sent, 120.0))
    assert (state, error) == (RebootState.BACK_ONLINE, None)
    assert detail.startswith("stream back 39 s after SystemReboot (went dark")
    assert clock.now < sent + 41


# --------------------------------------------------------------------------- slots


class Fleet:
    """Every camera reboots: dark 2 s after the command, streaming again at 6 s."""

    def __init__(self, clock: StillClock, ids: list[str]) -> None:
        self.clock = clock
        self.cams = {c: CameraStats(c, configured_fps=25.0, clock=clock) for c in ids}
        self.plan: list[tuple[float, str, str]] = []
        self.sent: list[str] = []
        for c in ids:
            self._up(c)

    def _up(self, camera: str) -> None:
        st = self.cams[camera]
        st.connected(25.0)
        for n in range(25):
            st.packet(1000, self.clock.now - 1 + n / 25)
        st.evaluate(self.clock.now)

    def camera(self, camera_id: str) -> None:
        return None

    def stats(self, camera_id: str) -> CameraStats | None:
        return self.cams.get(camera_id)

    async def send(self, target: OnvifTarget, timeout: float) -> str:
        self.sent.append(target.camera_id)
        now = self.clock.now
        self.plan += [(now + 2, target.camera_id, "down"), (now + 6, target.camera_id, "up")]
        return "Rebooting in 5 s"

    async def sleep(self, seconds: float) -> None:
        # Each watcher's poll moves the shared clock a little; time only goes forward.
        self.clock.now += seconds / len(self.cams)
        due = [p for p in self.plan if p[0] <= self.clock.now]
        self.plan = [p for p in self.plan if p[0] > self.clock.now]
        for _, camera, what in due:
            if what == "down":
                self.cams[camera].disconnected("connection refused")
            else:
                self._up(camera)
        await asyncio.sleep(0)


def test_max_parallel_holds_a_slot_until_the_camera_is_back(index: Database) -> None:
    clock = StillClock(T0)
    ids = [f"cam-{n:02d}" for n in range(1, 6)]
    fleet = Fleet(clock, ids)
    inventory = _inventory(5)
    log = RebootLog(index, clock=clock)
    bus = EventBus(EventStore(index))
    trail = JobTrail("reboot", AuditLog(index, clock=clock), bus, lambda c: "sangatta-utara")
    runner = RebootRunner(
        inventory,
        fleet,
        log,
        trail,
        reboot_wait=60.0,
        clock=clock,
        sleep=fleet.sleep,
        send=fleet.send,
    )
    rows = [_row(f"rb-t.{n}", c, T0, "bulk", RebootState.QUEUED) for n, c in enumerate(ids, 1)]
    log.add(rows)

    async def run() -> None:
        runner.launch(rows, max_parallel=2)
        await runner.wait()

    asyncio.run(run())

    # What the bus published, oldest first, as the event stream's clients read it.
    events = [
        {"type": e.type, "camera": e.camera, **e.data} for e in EventStore(index).read(limit=1000)
    ]
    dark, most = set(), 0
    for event in events:
        if event["state"] == RebootState.REBOOTING.value:
            dark.add(event["camera"])
        elif event["state"] == RebootState.BACK_ONLINE.value:
            dark.discard(event["camera"])
        most = max(most, len(dark))
    assert most == 2
    assert sorted(fleet.sent) == ids
    finals = [log.batch("rb-t")[n].state for n in range(5)]
    assert finals == [RebootState.BACK_ONLINE] * 5
    assert all(e["kind"] == "reboot" and e["job"] == "rb-t" for e in events)
    results = AuditLog(index).entries(action="reboot.result")
    assert sorted(r.target or "" for r in results) == ids
    assert {r.result for r in results} == {"ok"}
