"""Export jobs persisted in the index database (table ``export_jobs``, migration 2).

The table is the queue: a job is claimed by flipping its state from ``queued`` to
``running`` in one write transaction, so two workers can never take the same job, and a
restart finds every unfinished job where the last process left it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Final

from cctvctl.models import ExportJob, ExportState, Gap
from cctvctl.storage.database import Database, from_ts, to_ts

__all__ = ["ExportStore", "gaps_from_json", "gaps_to_json"]

_COLUMNS: Final = (
    'id, camera, start, "end", case_id, note, requester, role, created, state, attempts, '
    "started, finished, percent, bytes_done, bytes_total, eta_seconds, first_frame, "
    "last_frame, gaps, size, sha256, expires, error"
)

_CLAIM: Final = (
    "UPDATE export_jobs SET state = 'running', attempts = attempts + 1, started = ?, "  # noqa: S608
    "error = NULL WHERE id = (SELECT id FROM export_jobs WHERE state = 'queued' "
    f"ORDER BY created, id LIMIT 1) RETURNING {_COLUMNS}"
)

# Columns update() may set; anything else is a programming error, not a silent no-op.
_UPDATABLE: Final = frozenset(
    {
        "state",
        "attempts",
        "started",
        "finished",
        "percent",
        "bytes_done",
        "bytes_total",
        "eta_seconds",
        "first_frame",
        "last_frame",
        "gaps",
        "size",
        "sha256",
        "expires",
        "error",
    }
)


def gaps_to_json(gaps: Iterable[tuple[float, float]]) -> str:
    return json.dumps([[round(s, 3), round(e, 3)] for s, e in gaps])


def gaps_from_json(text: str) -> list[Gap]:
    return [
        Gap(start=from_ts(s), end=from_ts(e), seconds=round(e - s, 3)) for s, e in json.loads(text)
    ]


def _opt_time(value: float | None) -> datetime | None:
    return None if value is None else from_ts(value)


def _job(r: Sequence[Any]) -> tuple[ExportJob, str]:
    job = ExportJob(
        id=r[0],
        camera=r[1],
        start=from_ts(r[2]),
        end=from_ts(r[3]),
        case_id=r[4],
        note=r[5],
        requester=r[6],
        created=from_ts(r[8]),
        state=ExportState(r[9]),
        attempts=r[10],
        started=_opt_time(r[11]),
        finished=_opt_time(r[12]),
        percent=r[13],
        bytes_done=r[14],
        bytes_total=r[15],
        eta_seconds=r[16],
        first_frame=_opt_time(r[17]),
        last_frame=_opt_time(r[18]),
        gaps=gaps_from_json(r[19]),
        size=r[20],
        sha256=r[21],
        expires=_opt_time(r[22]),
        error=r[23],
    )
    return job, r[7]


class ExportStore:
    """CRUD over the ``export_jobs`` table; safe from any thread (see :class:`Database`)."""

    def __init__(self, index: Database, *, clock: Callable[[], float] = time.time) -> None:
        self.index = index
        self._clock = clock

    def create(
        self,
        job_id: str,
        *,
        camera: str,
        start: datetime,
        end: datetime,
        requester: str,
        role: str,
        case_id: str | None,
        note: str | None,
        gaps: Iterable[tuple[float, float]] = (),
    ) -> ExportJob:
        with self.index._write() as conn:
            conn.execute(
                'INSERT INTO export_jobs (id, camera, start, "end", case_id, note, requester, '
                "role, created, state, gaps) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job_id,
                    camera,
                    to_ts(start),
                    to_ts(end),
                    case_id,
                    note,
                    requester,
                    str(role),
                    self._clock(),
                    ExportState.QUEUED.value,
                    gaps_to_json(gaps),
                ),
            )
        job = self.get(job_id)
        assert job is not None
        return job

    def short_id_taken(self, head: str) -> bool:
        """Whether a job's id begins with ``head`` (see :mod:`~cctvctl.storage.job_ids`)."""
        return bool(
            self.index._query(
                "SELECT 1 FROM export_jobs WHERE substr(id, 1, ?) = ? LIMIT 1",
                (len(head), head),
            )
        )

    def get(self, job_id: str) -> ExportJob | None:
        found = self.get_with_role(job_id)
        return None if found is None else found[0]

    def get_with_role(self, job_id: str) -> tuple[ExportJob, str] | None:
        rows = self.index._query(
            f"SELECT {_COLUMNS} FROM export_jobs WHERE id = ?",  # noqa: S608
            (job_id,),
        )
        return _job(rows[0]) if rows else None

    def jobs(
        self,
        *,
        states: Iterable[ExportState] | None = None,
        camera: str | None = None,
        limit: int = 200,
    ) -> list[ExportJob]:
        """Jobs, newest first."""
        where: list[str] = []
        params: list[Any] = []
        if states is not None:
            wanted = [s.value for s in states]
            where.append(f"state IN ({', '.join('?' * len(wanted))})" if wanted else "0")
            params += wanted
        if camera is not None:
            where.append("camera = ?")
            params.append(camera)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = self.index._query(
            f"SELECT {_COLUMNS} FROM export_jobs {clause}ORDER BY created DESC, id LIMIT ?",  # noqa: S608
            (*params, limit),
        )
        return [_job(r)[0] for r in rows]

    def update(self, job_id: str, **fields: Any) -> None:
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        if not fields:
            return
        values = [v.value if isinstance(v, ExportState) else v for v in fields.values()]
        sets = ", ".join(f"{name} = ?" for name in fields)
        with self.index._write() as conn:
            conn.execute(f"UPDATE export_jobs SET {sets} WHERE id = ?", (*values, job_id))  # noqa: S608

    def claim_next(self) -> tuple[ExportJob, str] | None:
        """Take the oldest queued job: it becomes ``running``, its attempts grow by one."""
        now = self._clock()
        with self.index._write() as conn:
            row = conn.execute(
                _CLAIM,
                (now,),
            ).fetchone()
        return None if row is None else _job(row)

    def set_state_if(self, job_id: str, expected: Iterable[ExportState], **fields: Any) -> bool:
        """Update only while the job is in one of ``expected``; True if it was.

        Cancelling races with the worker finishing; this makes whichever comes second
        a no-op instead of, say, reviving a cancelled job as done.
        """
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        allowed = [s.value for s in expected]
        values = [v.value if isinstance(v, ExportState) else v for v in fields.values()]
        sets = ", ".join(f"{name} = ?" for name in fields)
        with self.index._write() as conn:
            cur = conn.execute(
                f"UPDATE export_jobs SET {sets} WHERE id = ? "  # noqa: S608
                f"AND state IN ({', '.join('?' * len(allowed))})",
                (*values, job_id, *allowed),
            )
            return cur.rowcount == 1

    def requeue_running(self) -> list[str]:
        """At start-up: jobs a previous process was running go back to the queue."""
        with self.index._write() as conn:
            rows = conn.execute(
                "UPDATE export_jobs SET state = 'queued', percent = 0, bytes_done = 0, "
                "eta_seconds = NULL WHERE state = 'running' RETURNING id"
            ).fetchall()
        return [r[0] for r in rows]

    def expired(self, now: float | None = None) -> list[str]:
        """Done jobs whose keep time has passed."""
        at = self._clock() if now is None else now
        rows = self.index._query(
            "SELECT id FROM export_jobs "
            "WHERE state = 'done' AND expires IS NOT NULL AND expires <= ?",
            (at,),
        )
        return [r[0] for r in rows]
