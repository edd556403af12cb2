"""Live fps and degraded from the stream's timestamps, not from how ingest reads them."""

from __future__ import annotations

import pytest

from cctvctl.models import CameraStatus
from cctvctl.recorder.fps_window import MediaRate
from cctvctl.recorder.stats import CameraStats


def _feed(
    stats: CameraStats,
    now: list[float],
    media: list[float],
    fps: float,
    seconds: float,
    batch: float,
) -> None:
    """``seconds`` of a camera at ``fps``, read in bursts every ``batch`` seconds of wall."""
    frames = round(seconds * fps)
    pending: list[float] = []
    next_read = now[0] + batch
    for _ in range(frames):
        media[0] += 1 / fps
        pending.append(media[0])
        now[0] += 1 / fps
        if now[0] >= next_read:
            for m in pending:  # a batch arrives all at once, dated by the read
                stats.packet(1000, now[0], m)
            stats.settled(now[0])
            pending.clear()
            next_read = now[0] + batch
            stats.evaluate()


def test_rate_over_the_window_and_learned_maximum() -> None:
    rate = MediaRate(window=10.0)
    for n in range(150):  # 15 s at 10 fps
        rate.add(n / 10)
    assert rate.rate() == pytest.approx(10.0)
    assert rate.learned == 10.0
    for n in range(100):  # then 10 s at 5 fps
        rate.add(15 + n / 5)
    assert rate.rate() == pytest.approx(5.0, abs=0.3)
    assert rate.learned == 10.0  # slower than it used to be


def test_a_jump_starts_the_window_over() -> None:
    rate = MediaRate(window=10.0)
    for n in range(50):
        rate.add(n / 10)
    rate.add(3600.0)  # the camera's clock jumped an hour
    assert rate.rate() is None
    for n in range(1, 21):
        rate.add(3600 + n / 10)
    assert rate.rate() == pytest.approx(10.0)
    rate.add(3601.0 - 7200)  # and back two hours
    assert rate.span == 0.0


def test_batched_reads_under_load_stay_online() -> None:
    now, media = [1000.0], [50.0]
    stats = CameraStats("cam", offline_after=10, clock=lambda: now[0])
    stats.connected(15.0)
    # Reads every 1.3 s, one of them 2.5 s late: an arrival count swings well under 80 %.
    _feed(stats, now, media, 15, 20, 1.3)
    _feed(stats, now, media, 15, 2.5, 2.5)
    _feed(stats, now, media, 15, 20, 1.3)
    assert stats.status is CameraStatus.ONLINE
    snap = stats.snapshot()
    assert snap.fps == pytest.approx(15, abs=0.2)
    assert snap.expected_fps == 15


def test_honest_12_fps_with_a_claim_of_25_is_online() -> None:
    now, media = [1000.0], [0.0]
    stats = CameraStats("cam", offline_after=10, clock=lambda: now[0])
    stats.connected(25.0)  # the SDP's claim
    _feed(stats, now, media, 12, 30, 1.0)
    assert stats.status is CameraStatus.ONLINE
    assert stats.snapshot().expected_fps == 12


def test_halved_rate_is_degraded_within_seconds() -> None:
    now, media = [1000.0], [0.0]
    stats = CameraStats("cam", offline_after=10, clock=lambda: now[0])
    stats.connected(None)
    _feed(stats, now, media, 10, 20, 1.0)
    assert stats.status is CameraStatus.ONLINE
    halved_at = now[0]
    while stats.status is CameraStatus.ONLINE and now[0] - halved_at < 30:
        _feed(stats, now, media, 5, 1, 1.0)
    assert stats.status is CameraStatus.DEGRADED
    assert now[0] - halved_at < 8
    change_reason = stats.snapshot()
    assert change_reason.fps < 8
