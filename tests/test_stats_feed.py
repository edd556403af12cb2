"""An ingest worker's stats calls, replayed in the server, make the same camera status."""

from __future__ import annotations

import pickle

import pytest

from cctvctl.models import CameraStatus, OfflineCause
from cctvctl.recorder.stats import CameraStats
from cctvctl.recorder.stats_feed import StatsFeed, StatsRelay, replay


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _a_connection(feed: StatsFeed, clock: _Clock, fps: float, seconds: float) -> None:
    """A camera queued at the gate, let in, connected and sending ``fps`` for ``seconds``."""
    feed.queued(clock.now)
    clock.now += 2
    feed.admitted(clock.now)
    feed.connected(15.0)
    feed.set_recording(True)
    for n in range(int(seconds * fps)):
        clock.now += 1 / fps
        feed.packet(4000, clock.now, n / fps)
        if n % int(fps) == 0:
            feed.settled(clock.now)


def _stats(clock: _Clock) -> CameraStats:
    stats = CameraStats("cam", configured_fps=15.0, offline_after=10.0, clock=clock)
    stats.begin(clock.now)
    return stats


@pytest.mark.parametrize("fps", [15.0, 6.0])
def test_replayed_calls_give_the_status_direct_calls_give(fps: float) -> None:
    direct_clock, relayed_clock = _Clock(), _Clock()
    direct = _stats(direct_clock)
    relayed = _stats(relayed_clock)
    relay = StatsRelay()
    _a_connection(direct, direct_clock, fps, 12)
    _a_connection(relay, relayed_clock, fps, 12)
    # Over the pipe, as a worker sends them; the server's clock has reached the same time.
    calls = pickle.loads(pickle.dumps(relay.take()))
    assert relay.take() == []  # taken once
    replay(relayed, calls)

    change = relayed.evaluate()
    assert change is not None and change == direct.evaluate()
    assert change.status is (CameraStatus.ONLINE if fps == 15.0 else CameraStatus.DEGRADED)
    assert relayed.snapshot() == direct.snapshot()


def test_a_failure_replayed_keeps_its_cause() -> None:
    clock = _Clock()
    stats = _stats(clock)
    relay = StatsRelay()
    relay.failed("401 Unauthorized", OfflineCause.AUTH_FAILED)
    relay.reconnecting(clock.now)
    replay(stats, relay.take())
    clock.now += 11
    snap = stats.snapshot()
    assert snap.last_error == "401 Unauthorized" and snap.cause is OfflineCause.AUTH_FAILED
    assert snap.reconnects_1h == 1


def test_only_the_feed_calls_are_replayed() -> None:
    stats = _stats(_Clock())
    with pytest.raises(ValueError, match="not a stats feed call: 'device_problem'"):
        replay(stats, [("device_problem", ("clock off",))])
