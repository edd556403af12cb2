"""When a camera's clock or identity is read again, and how a clock is judged (pure)."""

from __future__ import annotations

from cctvctl.config.settings import ServerConfig
from cctvctl.devicecheck import clock_problem
from cctvctl.devicecheck.schedule import RETRY_SECONDS, Attempt, is_due

INTERVAL = 900.0


def test_never_read_is_due() -> None:
    assert is_due(None, 1000.0, INTERVAL, None)


def test_a_good_reading_waits_for_the_interval() -> None:
    last = Attempt(at=1000.0, ok=True)
    assert not is_due(last, 1000.0 + INTERVAL - 1, INTERVAL, None)
    assert is_due(last, 1000.0 + INTERVAL, INTERVAL, None)


def test_a_failed_reading_is_tried_again_within_a_minute() -> None:
    last = Attempt(at=1000.0, ok=False)
    assert not is_due(last, 1000.0 + RETRY_SECONDS - 1, INTERVAL, None)
    assert is_due(last, 1000.0 + RETRY_SECONDS, INTERVAL, None)
    # An interval shorter than the retry delay is not stretched by a failure.
    assert is_due(last, 1003.0, 3.0, None)


def test_a_new_connection_makes_it_due_at_once() -> None:
    last = Attempt(at=1000.0, ok=True)
    assert is_due(last, 1010.0, INTERVAL, connected_at=1005.0)
    # The connection the last reading already saw does not.
    assert not is_due(last, 1010.0, INTERVAL, connected_at=995.0)


def test_clock_problem_names_size_and_side() -> None:
    assert clock_problem(90.4, 5) == "clock off by 90 s (ahead)"
    assert clock_problem(-30.0, 5) == "clock off by 30 s (behind)"
    assert clock_problem(5.0, 5) is None
    assert clock_problem(-4.9, 5) is None


def test_by_default_the_clock_is_read_every_15_minutes_and_the_identity_daily() -> None:
    # What the issue asks of a server that says nothing: a clock drifts in minutes, a
    # firmware changes in days.
    server = ServerConfig()
    clock_every = server.clock_check_minutes * 60
    info_every = server.device_info_hours * 3600
    read = Attempt(at=1000.0, ok=True)
    assert not is_due(read, 1000.0 + 14 * 60, clock_every, None)
    assert is_due(read, 1000.0 + 15 * 60, clock_every, None)
    assert not is_due(read, 1000.0 + 23 * 3600, info_every, None)
    assert is_due(read, 1000.0 + 24 * 3600, info_every, None)
