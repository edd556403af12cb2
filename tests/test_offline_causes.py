"""Why a camera is offline, in an operator's words, from the real simulator's faults.

One site, one camera per fault, all broken at once through the simulator's fault control
and recorded by a real :class:`Recorder` (PyAV, SQLite, files): each camera must end up
with the cause an operator can act on, the raw libav text kept in ``last_error``, and
the cause in its ``camera.status`` event. Stopping the simulator last leaves nothing
listening: every camera is then refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import pytest
from harness import RunningSim, Site, SiteSpec, start_sim, wait_for, write_site

from cctvctl.config import load_inventory
from cctvctl.health import recording_gaps
from cctvctl.models import Camera, CameraStatus, OfflineCause
from cctvctl.recorder.causes import classify
from cctvctl.recorder.manager import Recorder
from cctvctl.storage.database import Database
from cctvctl.storage.event_store import EventStore
from cctvctl.storage.events import CAMERA_STATUS, EventBus

FAULTS = ("unauthorized", "not_found", "offline", "stall", "drop")


class Rig:
    def __init__(self, site: Site, sim: RunningSim, index: Database, recorder: Recorder) -> None:
        self.site, self.sim, self.index, self.recorder = site, sim, index, recorder

    def camera(self, camera_id: str) -> Camera:
        cam = self.recorder.camera(camera_id)
        assert cam is not None
        return cam

    def status_events(self, camera_id: str) -> list[dict[str, object]]:
        rows = EventStore(self.index).read(types=[CAMERA_STATUS], camera=camera_id, limit=100)
        return [e.data for e in rows]


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory, sim_cache: Path) -> Iterator[Rig]:
    # offline_after is also the start-up grace of a fresh index (storage.gaps.expected_from):
    # 5 s lets five cameras connect on a loaded machine.
    spec = SiteSpec(cameras=len(FAULTS), segment_seconds=3, offline_after=5)
    site = write_site(tmp_path_factory.mktemp("causes"), spec)
    sim = start_sim(site, sim_cache)
    index = Database(load_inventory(site.config).storage)
    inventory = load_inventory(site.config)
    recorder = Recorder(inventory, index, EventBus(EventStore(index)))
    recorder.start()
    try:
        yield Rig(site, sim, index, recorder)
    finally:
        recorder.stop()
        sim.stop()
        index.close()


def _cam_for(rig: Rig, fault: str) -> str:
    return rig.site.camera_ids[FAULTS.index(fault)]


def _online(rig: Rig, cam: str) -> bool:
    return rig.camera(cam).status is CameraStatus.ONLINE


@pytest.mark.timeout(120)
def test_a_fresh_index_misses_nothing_before_the_cameras_first_connect(rig: Rig) -> None:
    # The index is created a moment before the cameras connect; that moment is no
    # footage lost (it read "17 s missing" for a 12-camera kecamatan started in 1.5 s).
    for cam in rig.site.camera_ids:
        wait_for(lambda cam=cam: _online(rig, cam), 30, interval=0.1, what=f"{cam} online")
        wait_for(
            lambda cam=cam: rig.camera(cam).missing_seconds_24h == 0.0,
            15,
            interval=0.2,
            what=f"{cam}: nothing missing",
        )
        now = datetime.now(UTC)
        ingest = rig.recorder.ingest(cam)
        assert ingest is not None
        start = ingest.open_segment_start
        open_since = None if start is None else datetime.fromtimestamp(start, UTC)
        _, report = recording_gaps(
            rig.index, cam, now - timedelta(hours=24), now, now, open_since=open_since, grace=5
        )
        assert report.missing_seconds == 0.0, report
        first = rig.index.first_segment_start(cam) or open_since
        # There was a moment to forgive: footage began after the index was created.
        assert first is not None and first > rig.index.created()


@pytest.mark.timeout(120)
def test_each_fault_reads_as_its_cause_and_keeps_the_raw_text(rig: Rig) -> None:
    for cam in rig.site.camera_ids:
        wait_for(lambda cam=cam: _online(rig, cam), 30, interval=0.1, what=f"{cam} online")
    ended = _cam_for(rig, "drop")
    stats = rig.recorder.stats(ended)
    assert stats is not None
    for fault in FAULTS:
        rig.sim.fault(_cam_for(rig, fault), fault)

    # A drop is over within a second: catch the cause while the camera is away.
    snap = wait_for(
        lambda: ((s := stats.snapshot()).cause is not None and s) or None,
        10,
        interval=0.005,
        what="the drop to be noticed",
    )
    assert snap.cause is OfflineCause.ENDED and snap.last_error is not None

    expected = {
        "unauthorized": (OfflineCause.AUTH_FAILED, "401"),
        "not_found": (OfflineCause.NOT_FOUND, "404"),
        "offline": (OfflineCause.NO_ANSWER, ""),
        "stall": (OfflineCause.STALLED, ""),
    }
    for fault, (cause, raw) in expected.items():
        cam = _cam_for(rig, fault)
        wait_for(
            lambda cam=cam, cause=cause: (
                rig.camera(cam).cause is cause and rig.camera(cam).status is CameraStatus.OFFLINE
            ),
            30,
            interval=0.1,
            what=f"{cam} ({fault}) offline with cause {cause}",
        )
        model = rig.camera(cam)
        assert model.last_error, model
        assert raw in model.last_error  # libav's own words stay for the detail view
        wait_for(
            lambda cam=cam: rig.status_events(cam)[-1].get("status") == "offline",
            5,
            what=f"{cam}'s offline event",
        )
        event = rig.status_events(cam)[-1]
        assert event["cause"] == cause.value, event
        assert cause.label in str(event["reason"]), event
        assert "InvalidDataError" not in str(event["reason"])

    # Nothing listens once the simulator stops: every camera is refused.
    rig.sim.stop()
    for cam in rig.site.camera_ids:
        wait_for(
            lambda cam=cam: rig.camera(cam).cause is OfflineCause.REFUSED,
            30,
            interval=0.1,
            what=f"{cam} refused",
        )


def test_classify_reads_the_exception_not_its_text() -> None:
    # The classes PyAV raises, as the simulator test above meets them; the text is noise.
    refused = av.error.ConnectionRefusedError(111, "whatever")
    assert classify(refused, streaming=False) is OfflineCause.REFUSED
    invalid = av.error.InvalidDataError(1094995529, "Invalid data found")
    assert classify(invalid, streaming=False) is OfflineCause.NO_ANSWER
    assert classify(invalid, streaming=True) is OfflineCause.OTHER
    stalled = av.error.TimeoutError(110, "Connection timed out")
    assert classify(stalled, streaming=True) is OfflineCause.STALLED
    assert classify(stalled, streaming=False) is OfflineCause.NO_ANSWER
    assert classify(ConnectionResetError(), streaming=True) is OfflineCause.ENDED
    assert classify(ValueError("no video track"), streaming=True) is OfflineCause.OTHER
    denied = av.error.HTTPUnauthorizedError(825242872, "Server returned 401")
    assert classify(denied, streaming=False) is OfflineCause.AUTH_FAILED
    missing = av.error.HTTPNotFoundError(875574520, "Server returned 404 Not Found")
    assert classify(missing, streaming=False) is OfflineCause.NOT_FOUND
