"""MediaClock: a connection's first seconds of media, read late in a burst, date
its anchor back silently instead of counting as a camera's drift."""

from __future__ import annotations

import pytest

from cctvctl.recorder.media_clock import BEHIND_WINDOW, MediaClock


def test_media_ahead_of_arrival_at_the_start_dates_the_footage_back() -> None:
    clock = MediaClock(threshold=2.0, settle=10.0)
    # The first packet anchors media time to its arrival: nothing to settle.
    assert clock.settle(1000.0, 1000.0) == 0.0
    # The probe's burst drains: a packet 1.5 s of media later was read 0.2 s later.
    assert clock.settle(1001.5, 1000.2) == pytest.approx(-1.3)
    # A few ms ahead is read jitter, let be.
    assert clock.settle(1001.0, 1000.97) == 0.0
    # Behind arrival is never settled (a backlog is observe()'s business).
    assert clock.settle(1002.0, 1003.0) == 0.0
    assert clock.settling


def test_settling_ends_after_its_seconds_of_media_counted_across_the_shifts() -> None:
    clock = MediaClock(threshold=2.0, settle=10.0)
    clock.settle(1000.0, 1000.0)
    # Dated back 1 s: the same instant of the stream is now media wall 1000 + t - 1,
    # so settling lasts until media wall 1009 (10 s of the stream after the first packet).
    assert clock.settle(1002.0, 1001.0) == pytest.approx(-1.0)
    assert clock.settle(1008.9, 1008.0) == pytest.approx(-0.9)
    # ...moved again by 0.9 s: ends at 1008.1.
    assert clock.settling
    assert clock.settle(1008.1, 1003.0) == 0.0
    assert not clock.settling
    # After it, media 3 s ahead of arrival is the camera's clock: a re-anchor back.
    assert clock.observe(1008.1, 1005.1) == pytest.approx(-3.0)


def test_a_jump_moves_the_end_of_settling_with_the_footage() -> None:
    clock = MediaClock(threshold=2.0, settle=10.0)
    clock.settle(1000.0, 1000.0)
    clock.observe(1000.0, 1000.0)
    # The camera paused 5 s, then its timestamps jumped: the footage after it is dated
    # 5 s later, and so is the end of settling (media wall 1015 for the same instant).
    assert clock.step(1001.0, 1006.0) == pytest.approx(5.0)
    assert clock.settle(1014.9, 1014.0) == pytest.approx(-0.9)
    assert clock.settle(1014.1, 1000.0) == 0.0
    assert not clock.settling


def test_no_settling_when_told_so_and_a_negative_one_is_refused() -> None:
    clock = MediaClock(settle=0.0)
    assert not clock.settling
    assert clock.settle(1005.0, 1000.0) == 0.0
    with pytest.raises(ValueError, match="settle"):
        MediaClock(settle=-1.0)


def _slow_camera(clock: MediaClock, ppm: float, seconds: float, fps: int = 15) -> list[float]:
    """Feed a camera whose clock runs ``ppm`` slow, read at its pace; the shifts given."""
    shifts: list[float] = []
    offset = 0.0  # what the re-anchors have added to the media wall time so far
    for n in range(int(seconds * fps)):
        arrival = 1000.0 + n / fps
        media_wall = 1000.0 + (n / fps) * (1 - ppm / 1e6) + offset
        shift = clock.observe(media_wall, arrival)
        if shift is not None:
            shifts.append(shift)
            offset += shift
    return shifts


def test_a_slow_clock_is_reanchored_once_behind_for_the_whole_window() -> None:
    clock = MediaClock(threshold=2.0, window=BEHIND_WINDOW, settle=0.0)
    # 20 % slow: 2 s behind after 10 s, but behind counts only once it held for the
    # window (a backlog can last that long): first at window + 10 s, by just over 2 s.
    shifts = _slow_camera(clock, 200_000, BEHIND_WINDOW + 9)
    assert shifts == []
    shifts = _slow_camera(clock, 200_000, BEHIND_WINDOW + 12)
    assert len(shifts) == 1 and 2.0 < shifts[0] < 2.5, shifts


def test_a_backlog_caught_up_is_not_drift() -> None:
    clock = MediaClock(threshold=2.0, window=BEHIND_WINDOW, settle=0.0)
    # Three minutes at 15 fps: a thread 2.5 s behind for a minute (an overloaded node),
    # then caught up. The packets read on time within the window keep the edge low.
    for n in range(15 * 180):
        t = n / 15
        late = 2.5 if 10 <= t < 70 else 0.0
        assert clock.observe(1000.0 + t, 1000.0 + t + late) is None, t
