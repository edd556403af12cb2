"""Which node's footage fills which part of an export window: the fleet catalogue, cut up.

Pure: runs in, pieces out. A piece is a sub-window one node is asked for, and pieces never
overlap, so a clip joined from them never shows two nodes' frames of the same instant.
Where two nodes' runs overlap (a handback records a camera twice for about a segment),
the node asking is preferred (its footage needs no network), then the node of the piece
before (one seam fewer), then names in order, so every node cuts a window the same way.
Time nobody covers is left out: it becomes a gap of the clip.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["Piece", "Span", "split_window"]


@dataclass(frozen=True, slots=True)
class Span:
    """A node holding a camera's footage from ``start`` to ``end`` (one catalogue run)."""

    node: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Piece:
    """The sub-window ``start`` to ``end`` of an export, taken from ``node``."""

    node: str
    start: datetime
    end: datetime

    @property
    def window(self) -> str:
        """``2026-12-05T04:00:00Z to 2026-12-05T04:01:00Z``: UTC, as on the wire."""
        return f"{_z(self.start)} to {_z(self.end)}"


def _z(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def split_window(
    spans: Iterable[Span], start: datetime, end: datetime, *, here: str
) -> list[Piece]:
    """The pieces of ``start`` to ``end`` that ``spans`` cover, in time order."""
    inside = [
        Span(s.node, max(s.start, start), min(s.end, end))
        for s in spans
        if s.start < end and s.end > start
    ]
    cuts = sorted({start, end} | {s.start for s in inside} | {s.end for s in inside})
    pieces: list[Piece] = []
    for a, b in itertools.pairwise(cuts):
        holders = sorted({s.node for s in inside if s.start <= a and s.end >= b})
        if not holders:
            continue
        before = pieces[-1] if pieces and pieces[-1].end == a else None
        if here in holders:
            node = here
        elif before is not None and before.node in holders:
            node = before.node
        else:
            node = holders[0]
        if before is not None and before.node == node:
            pieces[-1] = Piece(node, before.start, b)
        else:
            pieces.append(Piece(node, a, b))
    return pieces
