"""Gap computation over a camera's segment spans: a pure function, many edge cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from cctvctl.storage.gaps import DEFAULT_TOLERANCE, camera_gaps, expected_from, find_gaps


def test_no_segments_means_the_whole_window_is_missing() -> None:
    r = find_gaps([], 100.0, 200.0)
    assert r.gaps == [(100.0, 200.0)]
    assert r.missing_seconds == 100.0
    assert r.recorded_seconds == 0.0


def test_abutting_segments_leave_no_gap() -> None:
    spans = [(100.0, 160.0), (160.0, 220.0), (220.0, 280.0)]
    r = find_gaps(spans, 100.0, 280.0)
    assert r.gaps == []
    assert r.missing_seconds == 0.0
    assert r.recorded_seconds == 180.0


def test_gap_between_segments_and_at_both_edges() -> None:
    r = find_gaps([(110.0, 150.0), (170.0, 180.0)], 100.0, 200.0)
    assert r.gaps == [(100.0, 110.0), (150.0, 170.0), (180.0, 200.0)]
    assert r.missing_seconds == pytest.approx(50.0)


def test_rounding_holes_below_tolerance_are_merged() -> None:
    # Consecutive segments of one connection, with sub-second rounding between them.
    spans = [(100.0, 159.6), (160.0, 219.9), (220.3, 280.0)]
    assert find_gaps(spans, 100.0, 280.0).gaps == []
    assert DEFAULT_TOLERANCE == 1.0


def test_hole_of_exactly_the_tolerance_is_reported() -> None:
    r = find_gaps([(100.0, 150.0), (151.0, 200.0)], 100.0, 200.0, tolerance=1.0)
    assert r.gaps == [(150.0, 151.0)]


def test_edge_holes_below_tolerance_are_ignored() -> None:
    r = find_gaps([(100.4, 199.5)], 100.0, 200.0)
    assert r.gaps == []


def test_zero_tolerance_reports_every_hole_but_not_empty_ones() -> None:
    r = find_gaps([(100.0, 150.0), (150.0, 160.0), (160.5, 200.0)], 100.0, 200.0, tolerance=0.0)
    assert r.gaps == [(160.0, 160.5)]


def test_overlapping_and_contained_intervals_in_any_order() -> None:
    spans = [(150.0, 160.0), (100.0, 140.0), (120.0, 130.0), (135.0, 145.0), (170.0, 175.0)]
    r = find_gaps(spans, 100.0, 180.0)
    assert r.gaps == [(145.0, 150.0), (160.0, 170.0), (175.0, 180.0)]


def test_interval_containing_the_whole_window() -> None:
    assert find_gaps([(0.0, 1000.0)], 100.0, 200.0).gaps == []


def test_window_entirely_inside_a_gap() -> None:
    r = find_gaps([(0.0, 50.0), (300.0, 400.0)], 100.0, 200.0)
    assert r.gaps == [(100.0, 200.0)]
    assert r.missing_seconds == 100.0


def test_intervals_outside_the_window_are_clipped_away() -> None:
    r = find_gaps([(50.0, 120.0), (190.0, 260.0)], 100.0, 200.0)
    assert r.gaps == [(120.0, 190.0)]


def test_long_interval_after_short_ones_extends_coverage() -> None:
    # A contained interval must not pull the covered edge back.
    r = find_gaps([(100.0, 190.0), (110.0, 120.0), (192.0, 200.0)], 100.0, 200.0)
    assert r.gaps == [(190.0, 192.0)]


def test_empty_and_inverted_intervals_are_ignored() -> None:
    r = find_gaps([(120.0, 120.0), (150.0, 140.0)], 100.0, 200.0)
    assert r.gaps == [(100.0, 200.0)]


def test_not_before_clamps_the_window_start() -> None:
    # The recorder started at 150: the time before it is not missing footage.
    r = find_gaps([(160.0, 200.0)], 100.0, 200.0, not_before=150.0)
    assert r.gaps == [(150.0, 160.0)]
    assert r.lo == 150.0
    assert r.window_seconds == 50.0


def test_now_clamps_the_window_end() -> None:
    r = find_gaps([(100.0, 150.0)], 100.0, 300.0, now=170.0)
    assert r.gaps == [(150.0, 170.0)]
    assert r.hi == 170.0


def test_window_emptied_by_clamps() -> None:
    assert find_gaps([], 100.0, 200.0, not_before=250.0).gaps == []
    assert find_gaps([], 100.0, 200.0, now=50.0).missing_seconds == 0.0
    r = find_gaps([], 200.0, 100.0)
    assert (r.gaps, r.lo, r.hi, r.window_seconds) == ([], None, None, 0.0)


def test_negative_tolerance_is_refused() -> None:
    with pytest.raises(ValueError):
        find_gaps([], 0.0, 1.0, tolerance=-1.0)


@dataclass
class Span:
    start: datetime
    end: datetime


def test_camera_gaps_speaks_wire_models() -> None:
    t0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    segs = [
        Span(t0, t0 + timedelta(minutes=1)),
        Span(t0 + timedelta(minutes=3), t0 + timedelta(minutes=4)),
    ]
    gaps, report = camera_gaps(segs, t0, t0 + timedelta(minutes=5))
    assert [(g.start, g.end, g.seconds) for g in gaps] == [
        (t0 + timedelta(minutes=1), t0 + timedelta(minutes=3), 120.0),
        (t0 + timedelta(minutes=4), t0 + timedelta(minutes=5), 60.0),
    ]
    assert gaps[0].start.tzinfo is not None
    assert report.missing_seconds == 180.0


def test_camera_gaps_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        camera_gaps([], datetime(2024, 5, 1), datetime(2024, 5, 2))


def test_footage_counts_from_the_first_connect_only_on_a_fresh_index() -> None:
    created = 1_000.0
    # Connected 1.5 s after the index was created: that start-up is no footage lost.
    assert expected_from(created, created + 1.5, grace=10) == created + 1.5
    # Slower than the grace: the camera was reported offline, so its wait counts.
    assert expected_from(created, created + 30, grace=10) == created
    # Never recorded, or footage older than the index (restored): from the creation.
    assert expected_from(created, None, grace=10) == created
    assert expected_from(created, created - 5, grace=10) == created
