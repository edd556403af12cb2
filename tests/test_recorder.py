"""The recorder against the real simulator: segments on disk, the index, faults, status.

Two small sites run in this module: one records four healthy cameras for about 20 s and
checks the footage; the other holds one camera per fault (drop, offline, stall, wrong
password) and is shared by the fault tests, each of which only touches its own camera.
Everything is real: the simulator's RTSP server, PyAV, the files and SQLite.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import pytest
from harness import RunningSim, Site, SiteSpec, start_sim, wait_for, write_site
from pydantic import SecretStr

from cctvctl.config import Inventory, load_inventory
from cctvctl.models import Camera, CameraStatus, OfflineCause
from cctvctl.recorder.ingest import Backoff, scrub, url_with_credentials
from cctvctl.recorder.manager import Recorder
from cctvctl.recorder.stats import CameraStats, StatsSnapshot
from cctvctl.storage.database import Database
from cctvctl.storage.event_store import EventStore
from cctvctl.storage.events import CAMERA_STATUS, EventBus
from cctvctl.storage.gaps import find_gaps

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
FAR = datetime(2100, 1, 1, tzinfo=UTC)


class _Records(logging.Handler):
    """Keeps every record of the recorder's logger, formatted, for leak and count checks."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self._lock_ = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        with self._lock_:
            self.lines.append(f"{record.levelname} {text}")


@dataclass
class Rig:
    site: Site
    sim: RunningSim
    inventory: Inventory
    index: Database
    recorder: Recorder
    log: _Records
    wrong_passwords: dict[str, str]

    def stats(self, camera_id: str) -> CameraStats:
        stats = self.recorder.stats(camera_id)
        assert stats is not None
        return stats

    def status(self, camera_id: str) -> CameraStatus:
        cam = self.recorder.camera(camera_id)
        assert cam is not None
        return cam.status


def _rig(site: Site, sim_cache: Path, wrong_password: dict[str, str] | None = None) -> Rig:
    sim = start_sim(site, sim_cache)
    inventory = load_inventory(site.config)
    if wrong_password:
        # The simulator keeps the right password; the recorder is handed a wrong one.
        passwords = {**inventory.passwords}
        passwords.update({c: SecretStr(p) for c, p in wrong_password.items()})
        inventory = dataclasses.replace(inventory, passwords=passwords)
    index = Database(inventory.storage)
    handler = _Records()
    logger = logging.getLogger("cctvctl.recorder")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    recorder = Recorder(inventory, index, EventBus(EventStore(index)))
    return Rig(site, sim, inventory, index, recorder, handler, dict(wrong_password or {}))


def _teardown(rig: Rig) -> None:
    try:
        rig.recorder.stop()
    finally:
        logging.getLogger("cctvctl.recorder").removeHandler(rig.log)
        rig.sim.stop()
        rig.index.close()


def _decode_all(path: Path) -> tuple[int, float, bool]:
    """(frames decoded, seconds of media by packet durations, first frame is a keyframe)."""
    frames = 0
    ticks = 0
    first_key = False
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        tb = stream.time_base
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            if frames == 0:
                first_key = packet.is_keyframe
            ticks += packet.duration or 0
            for _ in packet.decode():
                frames += 1
        # Decoders may hold a frame or two back until flushed.
        frames += len(list(stream.codec_context.decode(None)))
    return frames, float(ticks * tb), first_key


# ------------------------------------------------------------------------- recording


@pytest.mark.timeout(90)
def test_records_decodable_segments_that_match_the_index(tmp_path: Path, sim_cache: Path) -> None:
    # 3 s segments and 14 s of recording: at least 4 segments per camera (each 3-4.1 s),
    # which is what the checks below need.
    spec = SiteSpec(cameras=4, segment_seconds=3, offline_after=5, fps=10, gop_seconds=1.0)
    rig = _rig(write_site(tmp_path / "site", spec), sim_cache)
    rec = rig.recorder
    ids = rig.site.camera_ids
    try:
        rec.start()
        first: dict[str, datetime] = {}

        def all_started() -> bool:
            for cam in ids:
                snap = rig.stats(cam).snapshot()
                if snap.connection_started is not None:
                    first.setdefault(cam, snap.connection_started)
            return len(first) == len(ids)

        wait_for(all_started, 20, interval=0.05, what="first packets from every camera")
        time.sleep(14)
        live = {c.id: c for c in rec.cameras()}
        kbps = rec.inbound_kbps_by_kecamatan()
        began = time.monotonic()
        rec.stop()
        stopped_in = time.monotonic() - began
        ended = datetime.now(UTC)
        _check_recording(rig, spec, live, kbps, first, ended)
    finally:
        _teardown(rig)
    assert stopped_in < 10


def _check_recording(
    rig: Rig,
    spec: SiteSpec,
    live: dict[str, Camera],
    kbps: dict[str, float],
    first: dict[str, datetime],
    ended: datetime,
) -> None:
    ids = rig.site.camera_ids
    # Live figures while it was recording.
    for cam in ids:
        c = live[cam]
        assert c.status is CameraStatus.ONLINE, c
        assert c.recording
        assert 8 <= c.fps <= 12, c.fps
        assert c.expected_fps == 10
        assert c.kbps > 10
        assert c.reconnects_1h == 0
        assert c.rtt_ms is not None and c.rtt_ms < 1000
        assert c.last_error is None
        # Only the second or so between the index's creation and the first keyframe.
        assert c.missing_seconds_24h < 4, c.missing_seconds_24h
    assert set(kbps) == set(rig.site.kecamatan)
    for slug in rig.site.kecamatan:
        expected = sum(live[c].kbps for c in rig.site.cameras_in(slug))
        assert kbps[slug] == pytest.approx(expected, abs=1)

    # The index and the disk agree, file for file and byte for byte.
    on_disk = {p for p in rig.site.storage.rglob("*.mp4")}
    rows = {cam: rig.index.segments(cam, EPOCH, FAR) for cam in ids}
    indexed = {r.path for rs in rows.values() for r in rs}
    assert indexed == on_disk
    for rs in rows.values():
        for r in rs:
            assert r.bytes == r.path.stat().st_size

    gop = spec.gop_seconds
    frame = 1 / spec.fps
    for cam in ids:
        segs = rows[cam]
        assert len(segs) >= 4, [(s.start, s.end) for s in segs]
        kec = rig.site.camera_kecamatan[cam]
        for s in segs:
            assert s.path.parent.parent.name == cam and s.path.parts[-4] == kec
            frames, media, first_key = _decode_all(s.path)
            assert first_key, s.path
            assert frames == s.frames and frames > 0, (s.path, frames, s.frames)
            assert media == pytest.approx(s.seconds, abs=2 * frame), s.path
        for a, b in itertools.pairwise(segs):
            # One connection: segments tile the timeline with no hole and no overlap.
            assert abs((b.start - a.end).total_seconds()) < 0.01
            # Rolled at the first keyframe after segment_seconds.
            assert spec.segment_seconds <= a.seconds <= spec.segment_seconds + gop + frame
        total = sum(s.seconds for s in segs)
        wall = (ended - first[cam]).total_seconds()
        assert abs(total - wall) <= gop, (cam, total, wall)
        assert abs((segs[0].start - first[cam]).total_seconds()) <= gop


# ------------------------------------------------------------------------- faults


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory, sim_cache: Path) -> Iterator[Rig]:
    """One camera per fault: [0] drop, [1] offline, [2] stall, [3] wrong password."""
    spec = SiteSpec(cameras=4, segment_seconds=3, offline_after=3, fps=10, gop_seconds=1.0)
    site = write_site(tmp_path_factory.mktemp("faults"), spec)
    wrong = {site.camera_ids[3]: f"wrong-{random.getrandbits(48):012x}"}
    rig = _rig(site, sim_cache, wrong)
    rig.recorder.start()
    try:
        yield rig
    finally:
        _teardown(rig)
    for line in rig.log.lines:
        for secret in (*rig.site.passwords.values(), *wrong.values()):
            assert secret not in line


def _wait_online(rig: Rig, cam: str, timeout: float = 20) -> None:
    def ready() -> bool:
        snap = rig.stats(cam).snapshot()
        return (
            snap.status is CameraStatus.ONLINE
            and snap.connection_started is not None
            and time.time() - snap.connection_started.timestamp() > 1.5
        )

    wait_for(ready, timeout, interval=0.1, what=f"{cam} online")


def _fault_until_offline(rig: Rig, cam: str, fault: str) -> tuple[int, float]:
    """Once ``cam`` is steadily online, the simulator applies ``fault``; returns when the
    monitor calls the camera offline (at most offline_after + 5 s later), with the number of
    status events before the fault and the time it began."""
    _wait_online(rig, cam)
    before = len(_status_events(rig, cam))
    rig.sim.fault(cam, fault)
    began = time.time()
    wait_for(
        lambda: rig.status(cam) is CameraStatus.OFFLINE,
        rig.inventory.server.offline_after + 5,
        interval=0.05,
        what=f"{cam} offline",
    )
    return before, began


def _recover(rig: Rig, cam: str) -> None:
    """Lifts the simulator's fault; returns once ``cam`` is online with its event written."""
    rig.sim.fault(cam, "recover")
    wait_for(
        lambda: rig.status(cam) is CameraStatus.ONLINE, 30, interval=0.1, what=f"{cam} back online"
    )
    wait_for(lambda: _last_status(rig, cam) == "online", 5, interval=0.05, what="online event")


def _when(stats: CameraStats, test: Callable[[StatsSnapshot], bool]) -> StatsSnapshot | None:
    snap = stats.snapshot()
    return snap if test(snap) else None


def _status_events(rig: Rig, cam: str) -> list[dict[str, object]]:
    return [
        e.data for e in EventStore(rig.index).read(types=[CAMERA_STATUS], camera=cam, limit=1000)
    ]


def _last_status(rig: Rig, cam: str) -> object:
    events = _status_events(rig, cam)
    return events[-1]["status"] if events else None


def _change_lines(rig: Rig, cam: str) -> list[str]:
    return [line for line in rig.log.lines if f"camera {cam} (" in line and " -> " in line]


@pytest.mark.timeout(60)
def test_drop_reconnects_and_the_gap_has_the_real_length(faults: Rig) -> None:
    cam = faults.site.camera_ids[0]
    stats = faults.stats(cam)
    _wait_online(faults, cam)

    faults.sim.fault(cam, "drop")
    dropped = time.time()
    # The last packet before the drop is the last one seen while disconnected.
    snap = wait_for(
        lambda: _when(stats, lambda s: not s.connected),
        10,
        interval=0.005,
        what="the drop to be noticed",
    )
    last = snap.last_packet
    assert last is not None
    snap = wait_for(
        lambda: _when(stats, lambda s: s.connection_started is not None),
        15,
        interval=0.005,
        what="a new connection's first packet",
    )
    first = snap.connection_started
    assert first is not None
    # First failure after a healthy connection: at most one 1 s back-off, plus the
    # handshake and the wait for the next keyframe (1 s GOP).
    assert first.timestamp() - dropped < 1.0 + 3.0
    assert snap.reconnects_1h >= 1
    assert faults.status(cam) is CameraStatus.ONLINE  # a quick reconnect is no outage
    real = (first - last).total_seconds()

    # The new connection's first segment is indexed once it rolls (3 s segments).
    wait_for(
        lambda: any(
            r.start >= first - timedelta(seconds=0.5)
            for r in faults.index.segments(cam, first - timedelta(seconds=1), FAR)
        ),
        15,
        what="a segment of the new connection in the index",
    )
    rows = faults.index.segments(cam, last - timedelta(seconds=30), FAR)
    lo, hi = rows[0].start.timestamp(), rows[-1].end.timestamp()
    report = find_gaps(
        [(r.start.timestamp(), r.end.timestamp()) for r in rows], lo, hi, tolerance=0.05
    )
    assert len(report.gaps) == 1, (report.gaps, real)
    start, end = report.gaps[0]
    assert abs((end - start) - real) <= 1.0, (end - start, real)
    assert abs(start - last.timestamp()) <= 1.0
    assert abs(end - first.timestamp()) <= 1.0


@pytest.mark.timeout(60)
def test_offline_camera_goes_offline_with_an_event_and_comes_back(faults: Rig) -> None:
    cam = faults.site.camera_ids[1]
    offline_after = faults.inventory.server.offline_after
    before, _ = _fault_until_offline(faults, cam, "offline")
    # Packets stop at once; the monitor ticks every 0.5 s. Timed by the recorder's clock
    # (last packet to the verdict), so a loaded machine delays the test, not the verdict.
    snap = faults.stats(cam).snapshot()
    assert snap.last_packet is not None and snap.status_since is not None
    silent = (snap.status_since - snap.last_packet).total_seconds()
    assert offline_after <= silent <= offline_after + 1.0, silent
    # Status flips in memory a moment before its event is written: wait for the event.
    wait_for(lambda: _last_status(faults, cam) == "offline", 5, interval=0.05, what="offline event")
    events = _status_events(faults, cam)[before:]
    assert events[-1]["status"] == "offline"
    assert events[-1]["previous"] in ("online", "degraded")
    assert "no packet" in str(events[-1]["reason"])

    _recover(faults, cam)
    events = _status_events(faults, cam)
    assert events[-1]["status"] == "online" and events[-1]["previous"] == "offline"
    model = faults.recorder.camera(cam)
    assert model is not None and model.reconnects_1h >= 1
    # One log line per state change, no more.
    assert len(_change_lines(faults, cam)) == len(events)


@pytest.mark.timeout(60)
def test_stalled_camera_times_out_goes_offline_and_recovers(faults: Rig) -> None:
    cam = faults.site.camera_ids[2]
    stats = faults.stats(cam)
    read_timeout = faults.recorder.ingest_settings.read_timeout
    before, _ = _fault_until_offline(faults, cam, "stall")
    # The socket stays open: only the read time-out can end the connection.
    snap = wait_for(
        lambda: _when(stats, lambda s: not s.connected),
        2 * read_timeout + 5,
        interval=0.05,
        what="the read time-out",
    )
    # Timed by the recorder's own clock (last packet to the time-out), not by when this
    # thread got to look: a loaded machine delays the test, not the verdict.
    assert snap.last_packet is not None and snap.last_error_at is not None
    waited = (snap.last_error_at - snap.last_packet).total_seconds()
    assert 0 < waited <= 2 * read_timeout + 2
    assert snap.last_error is not None and "time-out" in snap.last_error
    # The offline verdict was announced. (Once, under load, a late batch of packets drained
    # after the stall began briefly turned it into 'degraded' before this check; the stall
    # must still have been reported as offline, which is what the NOC needs to see.)
    # Status flips in memory a moment before its event is written: wait for the event.
    events = wait_for(
        lambda: [e for e in _status_events(faults, cam)[before:] if e["status"] == "offline"],
        5,
        interval=0.05,
        what="the offline event",
    )
    assert "no packet" in str(events[-1]["reason"]), events

    _recover(faults, cam)
    assert _status_events(faults, cam)[-1]["previous"] in ("offline", "degraded")


@pytest.mark.timeout(60)
def test_wrong_password_is_offline_with_a_401_and_never_leaks(faults: Rig) -> None:
    cam = faults.site.camera_ids[3]
    wrong = faults.wrong_passwords[cam]
    right = faults.site.passwords[cam]
    wait_for(
        lambda: faults.stats(cam).snapshot().last_error,
        20,
        what="an error for the camera with the wrong password",
    )
    wait_for(
        lambda: _status_events(faults, cam),
        faults.inventory.server.offline_after + 5,
        what="the first status event",
    )
    model = faults.recorder.camera(cam)
    assert model is not None
    assert model.status is CameraStatus.OFFLINE
    assert model.last_error is not None
    text = model.last_error.lower()
    assert "401" in text or "unauthorized" in text, model.last_error
    event = _status_events(faults, cam)[0]
    assert event["status"] == "offline" and event["previous"] is None
    # The reason is in the operator's words; libav's own text stays in the event's error.
    assert "authentication failed" in str(event["reason"]), event
    assert event["cause"] == "auth_failed" and "401" in str(event["error"]), event
    dumped = [c.model_dump_json() for c in faults.recorder.cameras()]
    stored = [str(e.data) for e in EventStore(faults.index).read(limit=1000)]
    for secret in (wrong, right):
        assert secret not in model.last_error
        assert not any(secret in d for d in dumped)
        assert not any(secret in s for s in stored)
        assert not any(secret in line for line in faults.log.lines)
    assert not faults.recorder.stats(cam).snapshot().recording  # type: ignore[union-attr]


# ------------------------------------------------------------------------- units


def test_status_rules_with_a_manual_clock() -> None:
    now = [1000.0]
    stats = CameraStats("cam", configured_fps=10, offline_after=10, clock=lambda: now[0])
    assert stats.evaluate() is None  # still within the start-up grace
    stats.connected(25.0)  # the configured rate wins over the announced one
    for _ in range(60):  # 6 s at 10 fps
        stats.packet(1000, now[0])
        now[0] += 0.1
    change = stats.evaluate()
    assert change is not None and change.status is CameraStatus.ONLINE
    assert change.previous is None
    snap = stats.snapshot()
    assert snap.fps == pytest.approx(10, abs=0.3)
    assert snap.kbps == pytest.approx(80, abs=3)
    assert snap.expected_fps == 10
    for _ in range(60):  # 6 s at 5 fps: under 80 %
        stats.packet(1000, now[0])
        now[0] += 0.2
    change = stats.evaluate()
    assert change is not None and change.status is CameraStatus.DEGRADED
    assert change.previous is CameraStatus.ONLINE
    now[0] += 11
    change = stats.evaluate()
    assert change is not None and change.status is CameraStatus.OFFLINE
    assert stats.evaluate() is None  # no repeats
    assert CameraStats("off", enabled=False).status is CameraStatus.DISABLED


def test_never_seen_camera_is_announced_offline_after_the_grace() -> None:
    now = [0.0]
    stats = CameraStats("cam", offline_after=10, clock=lambda: now[0])
    stats.failed(
        "HTTPUnauthorizedError: Server returned 401 Unauthorized", OfflineCause.AUTH_FAILED
    )
    now[0] = 9.0
    assert stats.evaluate() is None
    now[0] = 10.5
    change = stats.evaluate()
    assert change is not None and change.status is CameraStatus.OFFLINE
    assert change.previous is None and "authentication failed" in change.reason
    assert change.error is not None and "401" in change.error


def test_backoff_doubles_to_the_cap_with_jitter_and_resets() -> None:
    backoff = Backoff(1.0, 30.0, random.Random(7))
    delays = [backoff.next_delay() for _ in range(8)]
    for n, delay in enumerate(delays):
        ceiling = min(30.0, 2.0**n)
        assert 0.8 * ceiling <= delay <= ceiling
    assert max(delays) <= 30.0 and delays[-1] >= 24.0
    assert len({round(d, 6) for d in delays[-3:]}) == 3  # jittered, not lock-step
    backoff.reset()
    assert backoff.next_delay() <= 1.0


def test_credentials_are_encoded_for_libav_and_scrubbed_from_text() -> None:
    url = url_with_credentials("rtsp://10.0.0.5:554/Streaming/101", "admin", "p@ss:w/rd%")
    assert url == "rtsp://admin:p%40ss%3Aw%2Frd%25@10.0.0.5:554/Streaming/101"
    message = f"Server returned 401 Unauthorized: '{url}'"
    clean = scrub(message, ["p@ss:w/rd%"])
    assert "p@ss" not in clean and "p%40ss" not in clean and "admin" not in clean
    assert "rtsp://10.0.0.5:554/Streaming/101" in clean
    assert scrub("bad p@ss:w/rd% here", ["p@ss:w/rd%"]) == "bad *** here"


def test_pacer_sleeps_only_once_caught_up() -> None:
    from fractions import Fraction

    from cctvctl.recorder.ingest import _Pacer

    tb = Fraction(1, 90000)
    step = 6000  # 15 fps
    pacer = _Pacer(tb, batch=1.0, budget=64 * 1024)
    # Live packets that never made a read wait (as if the GIL hid it): only once the
    # stream's clock has proven steady is the newest packet enough to sleep on, then for
    # the whole batch (a small bit rate).
    pauses = [pacer.pause(n * step, 2000, 100 + n / 15, 0.0001) for n in range(60)]
    assert pauses[: _Pacer.STEADY] == [0.0] * _Pacer.STEADY
    assert pauses[-1] == pytest.approx(1.0)
    # A backlog read in a burst (packets 1.5 s behind, no read waits): never sleep on it.
    base = 100 + 60 / 15 + 1.5
    burst = [pacer.pause((60 + n) * step, 2000, base + n * 0.0005, 0.0001) for n in range(20)]
    assert burst == [0.0] * 20
    # A big bit rate shortens the sleep, so no more than the budget waits in the kernel.
    fast = _Pacer(tb, batch=1.0, budget=64 * 1024)
    pauses = [fast.pause(n * step, 60_000, 200 + n / 15, 0.06) for n in range(60)]
    assert 0.05 < pauses[-1] < 0.1  # 64 KiB at 900 kB/s
    # A stream clock that jumps is not trusted until it is steady again: only a read that
    # had to wait (socket empty) allows a sleep.
    jumpy = _Pacer(tb, batch=1.0, budget=64 * 1024)
    assert jumpy.pause(10**9, 100, 300.0, 0.0001) == 0.0
    assert jumpy.pause(10**9 + step, 100, 300.07, 0.0001) == 0.0
    assert jumpy.pause(10**9 + 2 * step, 100, 300.13, 0.06) > 0
    # No timestamps at all: the waited-for read alone decides.
    blind = _Pacer(tb, batch=1.0, budget=64 * 1024)
    assert blind.pause(None, 100, 1.0, 0.0001) == 0.0
    assert blind.pause(None, 100, 1.1, 0.06) > 0


def test_pacer_under_load_sleeps_at_the_camera_pace_not_on_a_backlog() -> None:
    """A busy process delivers every packet late (the wait for the GIL), so the clock
    puts a thread far behind its lucky best; a thread that reads at the camera's pace and
    waits for each read has still read all there is, and sleeps. A backlog read in a
    burst, even with reads slowed by the GIL, does not."""
    from fractions import Fraction

    from cctvctl.recorder.ingest import _Pacer

    tb = Fraction(1, 90000)
    step = 6000  # 15 fps
    pacer = _Pacer(tb, batch=1.0, budget=64 * 1024)
    # One lucky packet sets the edge; then the load adds 0.4 to 0.6 s to every arrival.
    assert pacer.pause(0, 2000, 100.0, 0.0001) == 0.0
    late = [
        pacer.pause(n * step, 2000, 100 + n / 15 + 0.4 + 0.2 * (n % 3) / 3, 0.03)
        for n in range(1, 80)
    ]
    # Caught up: it sleeps for a batch, and judges the pace afresh after each sleep.
    sleeps = [p for p in late if p > 0]
    assert len(sleeps) >= 5 and min(sleeps) > 0.5
    # A 2 s backlog read in a burst: each read waited 10 ms (for the GIL), far quicker
    # than the 67 ms a frame spans.
    at = 100 + 80 / 15 + 2.5
    burst = [pacer.pause((80 + n) * step, 2000, at + n * 0.01, 0.01 + 0.001) for n in range(30)]
    assert burst == [0.0] * 30
