"""The ``reboots`` table (migration 2): one row per camera per reboot job.

A job is the set of rows sharing a ``batch`` id (a single-camera reboot is a batch of one),
so the table alone can answer "what happened to job X" after a restart. The error code of a
row and its human text share the ``detail`` column as a small JSON object: the code is what
clients branch on, the text is what people read.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from cctvctl.models import RebootError, RebootState
from cctvctl.storage.database import Database, from_ts, to_ts
from cctvctl.storage.where import Where

__all__ = ["GUARD_STATES", "RebootLog", "RebootRow"]

_COLUMNS: Final = "id, camera, requested, actor, reason, state, detail, finished, batch"

#: States in which a camera has, or may have, been sent SystemReboot; only these count
#: for the "rebooted in the last 10 minutes" guard. A refused login or an unreachable
#: device was not rebooted, and the engineer who just fixed the password may retry.
GUARD_STATES: Final = frozenset(
    {
        RebootState.QUEUED,
        RebootState.REBOOTING,
        RebootState.WAITING,
        RebootState.BACK_ONLINE,
        RebootState.DID_NOT_RETURN,
        RebootState.INTERRUPTED,
    }
)


@dataclass(frozen=True, slots=True)
class RebootRow:
    id: str
    camera: str
    requested: datetime
    actor: str
    reason: str | None
    state: RebootState
    batch: str
    error: RebootError | None = None
    detail: str | None = None
    finished: datetime | None = None

    @property
    def counts_for_guard(self) -> bool:
        # A time-out may have reached the device: counted, to be safe.
        return self.state in GUARD_STATES or (
            self.state is RebootState.FAILED and self.error is RebootError.TIMEOUT
        )


def _encode(error: RebootError | None, detail: str | None) -> str | None:
    if error is None and detail is None:
        return None
    return json.dumps({"error": None if error is None else error.value, "detail": detail})


def _decode(text: str | None) -> tuple[RebootError | None, str | None]:
    if not text:
        return None, None
    try:
        data = json.loads(text)
    except ValueError:
        return None, text  # written by hand or by an older build: keep it as text
    if not isinstance(data, dict):
        return None, text
    code = data.get("error")
    try:
        error = RebootError(code) if code else None
    except ValueError:
        error = RebootError.ERROR
    detail = data.get("detail")
    return error, None if detail is None else str(detail)


def _row(r: Sequence[Any]) -> RebootRow:
    error, detail = _decode(r[6])
    return RebootRow(
        id=r[0],
        camera=r[1],
        requested=from_ts(r[2]),
        actor=r[3],
        reason=r[4],
        state=RebootState(r[5]),
        detail=detail,
        error=error,
        finished=None if r[7] is None else from_ts(r[7]),
        batch=r[8] or r[0],
    )


class RebootLog:
    """Reboot rows over a :class:`Database`; every method may be called from any thread."""

    def __init__(self, index: Database, *, clock: Callable[[], float] = time.time) -> None:
        self.index = index
        self._clock = clock

    def add(self, rows: Iterable[RebootRow]) -> None:
        """Insert the rows of a new job in one transaction (all or none)."""
        params = [
            (
                r.id,
                r.camera,
                to_ts(r.requested),
                r.actor,
                r.reason,
                r.state.value,
                _encode(r.error, r.detail),
                None if r.finished is None else to_ts(r.finished),
                r.batch,
            )
            for r in rows
        ]
        if not params:
            return
        with self.index._write() as conn:
            conn.executemany(
                f"INSERT INTO reboots ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                params,
            )

    def update(
        self,
        row_id: str,
        state: RebootState,
        *,
        error: RebootError | None = None,
        detail: str | None = None,
    ) -> RebootRow | None:
        """Move a row to ``state``; a final state stamps ``finished``. Returns the new row."""
        finished = self._clock() if state.final else None
        with self.index._write() as conn:
            row = conn.execute(
                "UPDATE reboots SET state = ?, detail = ?, finished = ? WHERE id = ? "  # noqa: S608
                f"RETURNING {_COLUMNS}",
                (state.value, _encode(error, detail), finished, row_id),
            ).fetchone()
        return None if row is None else _row(row)

    def get(self, row_id: str) -> RebootRow | None:
        rows = self.index._query(
            f"SELECT {_COLUMNS} FROM reboots WHERE id = ?",  # noqa: S608
            (row_id,),
        )
        return _row(rows[0]) if rows else None

    def last_reboot(self, camera: str, since: datetime) -> RebootRow | None:
        """The newest row at or after ``since`` that counts for the reboot guard."""
        rows = self.index._query(
            f"SELECT {_COLUMNS} FROM reboots "  # noqa: S608
            "WHERE camera = ? AND requested >= ? ORDER BY requested DESC",
            (camera, to_ts(since)),
        )
        return next((r for r in map(_row, rows) if r.counts_for_guard), None)

    def batch(self, batch_id: str) -> list[RebootRow]:
        """The rows of one job in the order they were added."""
        rows = self.index._query(
            f"SELECT {_COLUMNS} FROM reboots WHERE batch = ? ORDER BY rowid",  # noqa: S608
            (batch_id,),
        )
        return [_row(r) for r in rows]

    def recent_batches(self, limit: int = 20, camera: str | None = None) -> list[list[RebootRow]]:
        """The newest ``limit`` jobs (optionally only those touching ``camera``), newest first."""
        where = Where()
        where.equals("camera", camera)
        ids = self.index._query(
            f"SELECT batch, MAX(requested) AS t FROM reboots {where.sql}"  # noqa: S608
            "GROUP BY batch ORDER BY t DESC LIMIT ?",
            where.params(max(0, int(limit))),
        )
        return [self.batch(b) for b, _ in ids]

    def unfinished(self) -> list[RebootRow]:
        where = Where()
        where.among("state", [s.value for s in RebootState if not s.final])
        rows = self.index._query(
            f"SELECT {_COLUMNS} FROM reboots {where.sql}ORDER BY rowid",  # noqa: S608
            where.params(),
        )
        return [_row(r) for r in rows]
