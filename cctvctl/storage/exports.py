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

from cctvctl.models import ExportClip, ExportJob, ExportState, ExportWait, Gap
from cctvctl.storage.columns import Columns
from cctvctl.storage.database import Database, from_ts, to_ts
from cctvctl.storage.vault_log import VaultClipRow, VaultLog, VaultRow
from cctvctl.storage.where import Where

__all__ = ["ExportStore", "clips_to_json", "gaps_from_json", "gaps_to_json"]

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
        "clips",
    }
)


def gaps_to_json(gaps: Iterable[tuple[float, float]]) -> str:
    return json.dumps([[round(s, 3), round(e, 3)] for s, e in gaps])


def gaps_from_json(text: str) -> list[Gap]:
    return [
        Gap(start=from_ts(s), end=from_ts(e), seconds=round(e - s, 3)) for s, e in json.loads(text)
    ]


def clips_to_json(clips: Sequence[ExportClip]) -> str | None:
    """The job's clips as stored (None for one clip); their vault copies are kept apart."""
    if not clips:
        return None
    return json.dumps([c.model_dump(mode="json", exclude={"vault"}) for c in clips])


def _clips_from_json(text: str) -> list[ExportClip]:
    return [ExportClip.model_validate(c) for c in json.loads(text)]


_COLUMNS: Final = Columns(
    "id camera start end case_id note requester role created state attempts started finished "
    "percent bytes_done bytes_total eta_seconds first_frame last_frame gaps size sha256 "
    "expires error clips",
    **dict.fromkeys(
        ("start", "end", "created", "started", "finished", "first_frame", "last_frame", "expires"),
        from_ts,
    ),
    state=ExportState,
    gaps=gaps_from_json,
    clips=_clips_from_json,
)

_CLAIM: Final = (
    "UPDATE export_jobs SET state = 'running', attempts = attempts + 1, started = ?, "  # noqa: S608
    "error = NULL WHERE id = (SELECT id FROM export_jobs WHERE state = 'queued' "
    f"ORDER BY created, id LIMIT 1) RETURNING {_COLUMNS.sql}"
)


def _job(row: Sequence[Any]) -> tuple[ExportJob, str]:
    """The job, and the role of its requester (kept for the audit, not part of the job)."""
    fields = _COLUMNS.read(row)
    role = fields.pop("role")
    fields["clips"] = fields["clips"] or []
    return ExportJob(**fields), role


class ExportStore:
    """CRUD over the ``export_jobs`` table; safe from any thread (see :class:`Database`)."""

    def __init__(self, index: Database, *, clock: Callable[[], float] = time.time) -> None:
        self.index = index
        self._clock = clock
        self._waits: dict[str, ExportWait] = {}  # job id -> why it waits (worker threads)
        self.vault = VaultLog(index, clock=clock)

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
            f"SELECT {_COLUMNS.sql} FROM export_jobs WHERE id = ?",  # noqa: S608
            (job_id,),
        )
        if not rows:
            return None
        job, role = _job(rows[0])
        clips = self.vault.clips(job.id) if job.clips else []
        return self._with_vault(self._with_wait(job), self.vault.get(job.id), clips), role

    def set_waiting(self, job_id: str, wait: ExportWait | None) -> None:
        """Say why a running job copies nothing yet (None: it no longer waits).

        Kept in memory, not in the table: a wait lasts at most a segment, and a job cut
        off by a restart is queued again and waits anew.
        """
        if wait is None:
            self._waits.pop(job_id, None)
        else:
            self._waits[job_id] = wait

    def _with_vault(
        self, job: ExportJob, row: VaultRow | None, clips: Sequence[VaultClipRow] = ()
    ) -> ExportJob:
        if row is None:
            return job
        copy = self.vault.wire_of(row)
        update: dict[str, Any] = {"vault": copy}
        if job.clips:
            # Each clip with its own copy: the first is the copy's clip, the rest their rows.
            where = {c.n: c.wire() for c in clips} | {0: copy.clip}
            update["clips"] = [
                c.model_copy(update={"vault": where.get(n)}) for n, c in enumerate(job.clips)
            ]
        return job.model_copy(update=update)

    def _with_wait(self, job: ExportJob) -> ExportJob:
        wait = self._waits.get(job.id)
        if wait is None or job.state is not ExportState.RUNNING:
            return job
        return job.model_copy(update={"waiting": wait})

    def jobs(
        self,
        *,
        states: Iterable[ExportState] | None = None,
        camera: str | None = None,
        limit: int = 200,
        case_id: str | None = None,
    ) -> list[ExportJob]:
        """Jobs, newest first."""
        where = Where()
        where.among("state", None if states is None else [s.value for s in states])
        where.equals("camera", camera)
        where.equals("case_id", case_id)
        rows = self.index._query(
            f"SELECT {_COLUMNS.sql} FROM export_jobs {where.sql}ORDER BY created DESC, id LIMIT ?",  # noqa: S608
            where.params(limit),
        )
        jobs = [self._with_wait(_job(r)[0]) for r in rows]
        copies = self.vault.of_jobs(j.id for j in jobs)
        clips = self.vault.clips_of_jobs(j.id for j in jobs if j.clips and j.id in copies)
        return [self._with_vault(j, copies.get(j.id), clips.get(j.id, ())) for j in jobs]

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
        """Done jobs whose keep time has passed.

        Never one whose vault copy is pending: its local files are the only copy until the
        vault has them.
        """
        at = self._clock() if now is None else now
        rows = self.index._query(
            "SELECT id FROM export_jobs "
            "WHERE state = 'done' AND expires IS NOT NULL AND expires <= ? "
            "AND id NOT IN (SELECT job FROM vault_copies WHERE state = 'pending')",
            (at,),
        )
        return [r[0] for r in rows]
