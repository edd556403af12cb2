"""Cutting an export window by node from the footage catalogue (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cctvctl.exports.pieces import Span, split_window

T0 = datetime(2026, 12, 5, 4, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def cut(
    spans: list[tuple[str, float, float]], start: float, end: float, here: str
) -> list[tuple[str, float, float]]:
    pieces = split_window(
        [Span(n, at(s), at(e)) for n, s, e in spans], at(start), at(end), here=here
    )
    return [(p.node, (p.start - T0).total_seconds(), (p.end - T0).total_seconds()) for p in pieces]


def test_a_failover_and_handback_gives_three_pieces_and_leaves_the_outage_out() -> None:
    # a records, dies at 100; b takes over at 108; a returns at 150, b stops at 153.
    spans = [("a", 0, 100), ("b", 108, 153), ("a", 150, 300)]
    assert cut(spans, 90, 200, here="a") == [("a", 90, 100), ("b", 108, 150), ("a", 150, 200)]


def test_an_overlap_goes_to_the_node_asking_then_to_the_node_before() -> None:
    spans = [("a", 0, 100), ("b", 108, 153), ("a", 150, 300)]
    # Asked of c, which holds nothing: the seam stays with b, the node before.
    assert cut(spans, 90, 200, here="c") == [("a", 90, 100), ("b", 108, 153), ("a", 153, 200)]
    # Asked of b: its own footage wherever it has some.
    assert cut(spans, 90, 200, here="b") == [("a", 90, 100), ("b", 108, 153), ("a", 153, 200)]


def test_one_node_holding_everything_is_one_piece() -> None:
    assert cut([("a", 0, 50), ("a", 50, 300)], 10, 20, here="a") == [("a", 10, 20)]
    assert split_window([], at(0), at(10), here="a") == []


def test_two_nodes_at_once_without_the_asker_or_a_node_before_go_by_name() -> None:
    assert cut([("z", 0, 10), ("m", 0, 10)], 0, 10, here="x") == [("m", 0, 10)]
    assert split_window([Span("a", at(0), at(5))], at(5), at(9), here="a") == []
