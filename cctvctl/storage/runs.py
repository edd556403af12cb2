"""This node's coarse footage catalogue, derived from its segment index.

A run is one camera recorded here without a break longer than ``gap`` seconds (the fleet
node passes twice the segment length: a reconnect of a few seconds is the same run, a
camera dark for longer starts a new one). Runs are derived from ``segments`` only, the
node's truth about its footage, so whatever the fleet store missed during an outage is
still here to send afterwards.

Each pass reads, per camera, only the segments that start after the last one it folded
(``last_start`` of the camera's latest run), using the (camera, start) index: the whole
index is read once, on the first pass. A run's end moves on as segments close, so a run's
end lags the camera by at most one segment; a node that dies leaves its runs ending where
its indexed footage ends. Segments indexed later with an earlier start than one already
folded (only reconcile adds such files) are not folded in. Retention deleting footage does
not shorten a run: the catalogue says where a camera was recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from cctvctl.storage.database import Database, from_ts, to_ts

__all__ = ["Run", "RunCatalogue"]

#: Runs acknowledged by the store are forgotten here a day after they ended (the
#: camera's latest run is always kept: the next segment may extend it).
KEEP_SENT_SECONDS: Final = 86_400.0


@dataclass(frozen=True, slots=True)
class Run:
    camera: str
    start: datetime
    end: datetime


def _run(row: Sequence[Any]) -> Run:
    return Run(row[0], from_ts(row[1]), from_ts(row[2]))


class RunCatalogue:
    """Table ``fleet_runs`` (migration 4): runs, where each camera was read up to, and
    what the fleet store has acknowledged."""

    def __init__(self, index: Database, *, gap: float) -> None:
        if gap <= 0:
            raise ValueError(f"the gap between runs must be positive, got {gap} s")
        self.index = index
        self.gap = gap

    def update(self, limit: int = 5000) -> int:
        """Fold the segments indexed since the last pass into runs (at most ``limit`` per
        camera, so a long history is caught up over several passes); returns how many."""
        changed: list[tuple[str, float, float, float]] = []
        read = 0
        for (camera,) in self.index._query("SELECT DISTINCT camera FROM usage ORDER BY camera"):
            latest = self.index._query(
                'SELECT start, "end", last_start FROM fleet_runs WHERE camera = ? '
                "ORDER BY start DESC LIMIT 1",
                (camera,),
            )
            after = latest[0][2] if latest else float("-inf")
            segments = self.index._query(
                'SELECT start, "end" FROM segments WHERE camera = ? AND start > ? '
                "ORDER BY start LIMIT ?",
                (camera, after, limit),
            )
            read += len(segments)
            run: list[float] | None = list(latest[0]) if latest else None
            for start, end in segments:
                if run is not None and start - run[1] <= self.gap:
                    run[1], run[2] = max(run[1], end), start
                    continue
                if run is not None:
                    changed.append((camera, run[0], run[1], run[2]))
                run = [start, end, start]
            if segments and run is not None:
                changed.append((camera, run[0], run[1], run[2]))
        with self.index._write() as conn:
            conn.executemany(
                'INSERT INTO fleet_runs (camera, start, "end", last_start) '
                "VALUES (?, ?, ?, ?) ON CONFLICT (camera, start) DO UPDATE SET "
                '"end" = MAX("end", excluded."end"), '
                "last_start = MAX(last_start, excluded.last_start)",
                changed,
            )
            conn.execute(
                'DELETE FROM fleet_runs WHERE sent_end >= "end" AND "end" < ? '
                "AND start < (SELECT MAX(l.start) FROM fleet_runs AS l "
                "WHERE l.camera = fleet_runs.camera)",
                (self.index.clock() - KEEP_SENT_SECONDS,),
            )
        return read

    def unsent(self, limit: int) -> list[Run]:
        """Runs new to the store or whose end moved on since it acknowledged them."""
        rows = self.index._query(
            'SELECT camera, start, "end" FROM fleet_runs '
            'WHERE sent_end IS NULL OR "end" > sent_end ORDER BY start, camera LIMIT ?',
            (limit,),
        )
        return [_run(r) for r in rows]

    def acknowledge(self, runs: Sequence[Run]) -> None:
        """The store holds each of ``runs`` up to its end."""
        with self.index._write() as conn:
            conn.executemany(
                "UPDATE fleet_runs SET sent_end = MAX(COALESCE(sent_end, start), ?) "
                "WHERE camera = ? AND start = ?",
                [(to_ts(run.end), run.camera, to_ts(run.start)) for run in runs],
            )

    def runs(self, camera: str) -> list[Run]:
        """The runs kept here for ``camera``, by start."""
        rows = self.index._query(
            'SELECT camera, start, "end" FROM fleet_runs WHERE camera = ? ORDER BY start',
            (camera,),
        )
        return [_run(r) for r in rows]
