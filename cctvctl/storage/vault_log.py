"""The evidence vault's bookkeeping (tables ``vault_copies``, ``vault_clips`` and
``case_holds``).

What the node knows of each export's copy in the vault: the keys, the versions the store
gave, the retention, and whether the case's legal hold is applied. The vault itself is the
S3 store (``exports/vault.py``); these rows are what lets a retry after an outage or a
crash adopt what already landed, and what the API answers from without asking the store.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from cctvctl.models import VaultCopy, VaultObject, VaultState
from cctvctl.storage.columns import Columns
from cctvctl.storage.database import Database, from_ts

__all__ = ["CaseHoldRow", "VaultClipRow", "VaultLog", "VaultRow"]

_COLUMNS: Final = Columns(
    "job case_id bucket mode retain_until clip_key clip_sha256 clip_version manifest_key "
    "manifest_sha256 manifest_version state hold_applied attempts error next_try stored",
    state=VaultState,
    hold_applied=bool,
)

_UPDATABLE: Final = frozenset(
    {
        "clip_sha256",
        "clip_version",
        "manifest_sha256",
        "manifest_version",
        "state",
        "hold_applied",
        "attempts",
        "error",
        "next_try",
        "stored",
    }
)


@dataclass(frozen=True, slots=True)
class VaultRow:
    """One export's vault copy as the node recorded it (times as epoch seconds)."""

    job: str
    case_id: str | None
    bucket: str
    mode: str
    retain_until: float
    clip_key: str
    clip_sha256: str
    clip_version: str | None
    manifest_key: str
    manifest_sha256: str | None
    manifest_version: str | None
    state: VaultState
    hold_applied: bool
    attempts: int
    error: str | None
    next_try: float
    stored: float | None

    def wire(self, *, held: bool) -> VaultCopy:
        """The copy as jobs show it; ``held``: whether the case's hold is asked for."""
        return VaultCopy(
            state=self.state,
            bucket=self.bucket,
            mode=self.mode,
            retain_until=from_ts(self.retain_until),
            legal_hold=held,
            clip=VaultObject(
                key=self.clip_key, version_id=self.clip_version, sha256=self.clip_sha256
            ),
            manifest=VaultObject(
                key=self.manifest_key,
                version_id=self.manifest_version,
                sha256=self.manifest_sha256,
            ),
            attempts=self.attempts,
            error=self.error,
            stored=None if self.stored is None else from_ts(self.stored),
        )


@dataclass(frozen=True, slots=True)
class VaultClipRow:
    """A clip after the first of an export of several (``n`` from 1, as in the
    manifest's ``clips``); the first is the copy's own ``clip_*``."""

    job: str
    n: int
    file: str
    key: str
    sha256: str
    version: str | None

    def wire(self) -> VaultObject:
        return VaultObject(key=self.key, version_id=self.version, sha256=self.sha256)


_CLIP_COLUMNS: Final = Columns("job n file key sha256 version")


@dataclass(frozen=True, slots=True)
class CaseHoldRow:
    case_id: str
    since: float
    actor: str
    reason: str | None


def _row(row: Sequence[Any]) -> VaultRow:
    return VaultRow(**_COLUMNS.read(row))


class VaultLog:
    """CRUD over the vault's two tables; safe from any thread (see :class:`Database`)."""

    def __init__(self, index: Database, *, clock: Callable[[], float] = time.time) -> None:
        self.index = index
        self._clock = clock

    # ------------------------------------------------------------------ copies

    def add(
        self,
        job: str,
        *,
        case_id: str | None,
        bucket: str,
        mode: str,
        retain_until: float,
        clip_key: str,
        clip_sha256: str,
        manifest_key: str,
    ) -> VaultRow:
        """The pending row of a finished export; an existing row is kept (a retried job
        whose clip came out different starts its copy over)."""
        with self.index._write() as conn:
            conn.execute(
                "INSERT INTO vault_copies (job, case_id, bucket, mode, retain_until, clip_key, "
                "clip_sha256, manifest_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (job) DO UPDATE SET clip_sha256 = excluded.clip_sha256, "
                "clip_version = NULL, manifest_sha256 = NULL, manifest_version = NULL, "
                "state = 'pending', stored = NULL, next_try = 0 "
                "WHERE vault_copies.clip_sha256 != excluded.clip_sha256",
                (job, case_id, bucket, mode, retain_until, clip_key, clip_sha256, manifest_key),
            )
        found = self.get(job)
        assert found is not None
        return found

    def get(self, job: str) -> VaultRow | None:
        rows = self.index._query(
            f"SELECT {_COLUMNS.sql} FROM vault_copies WHERE job = ?",  # noqa: S608
            (job,),
        )
        return _row(rows[0]) if rows else None

    def of_jobs(self, jobs: Iterable[str]) -> dict[str, VaultRow]:
        ids = list(jobs)
        found: dict[str, VaultRow] = {}
        for at in range(0, len(ids), 500):
            chunk = ids[at : at + 500]
            rows = self.index._query(
                f"SELECT {_COLUMNS.sql} FROM vault_copies "  # noqa: S608
                f"WHERE job IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
            found.update((r.job, r) for r in map(_row, rows))
        return found

    def of_case(self, case_id: str) -> list[VaultRow]:
        rows = self.index._query(
            f"SELECT {_COLUMNS.sql} FROM vault_copies WHERE case_id = ? ORDER BY job",  # noqa: S608
            (case_id,),
        )
        return [_row(r) for r in rows]

    def due(self, now: float | None = None) -> list[VaultRow]:
        """Pending copies whose next attempt is due, oldest first."""
        at = self._clock() if now is None else now
        rows = self.index._query(
            f"SELECT {_COLUMNS.sql} FROM vault_copies "  # noqa: S608
            "WHERE state = 'pending' AND next_try <= ? ORDER BY next_try, job",
            (at,),
        )
        return [_row(r) for r in rows]

    def hold_drift(self) -> list[VaultRow]:
        """Stored copies whose applied legal hold differs from what their case asks."""
        rows = self.index._query(
            f"SELECT {_COLUMNS.sql} FROM vault_copies v "  # noqa: S608
            "WHERE state = 'stored' AND hold_applied != "
            "(case_id IS NOT NULL AND case_id IN (SELECT case_id FROM case_holds))",
        )
        return [_row(r) for r in rows]

    def unrecorded_done_jobs(self, *, skip_requesters: str) -> list[str]:
        """Finished exports with no vault row (a crash between the two writes, or a vault
        configured after they were made), but for requesters starting ``skip_requesters``."""
        rows = self.index._query(
            "SELECT id FROM export_jobs WHERE state = 'done' "
            "AND substr(requester, 1, ?) != ? "
            "AND id NOT IN (SELECT job FROM vault_copies) ORDER BY created",
            (len(skip_requesters), skip_requesters),
        )
        return [r[0] for r in rows]

    def update(self, job: str, **fields: Any) -> None:
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        if not fields:
            return
        values = [v.value if isinstance(v, VaultState) else v for v in fields.values()]
        sets = ", ".join(f"{name} = ?" for name in fields)
        with self.index._write() as conn:
            conn.execute(f"UPDATE vault_copies SET {sets} WHERE job = ?", (*values, job))  # noqa: S608

    def pending_count(self) -> int:
        rows = self.index._query("SELECT count(*) FROM vault_copies WHERE state = 'pending'")
        return int(rows[0][0])

    # ------------------------------------------------------------------ further clips

    def set_clips(self, job: str, clips: Sequence[tuple[int, str, str, str]]) -> None:
        """The job's clips after the first as ``(n, file, key, sha256)``: a clip whose
        bytes changed (a retried job) loses its recorded version, one no longer listed
        goes."""
        with self.index._write() as conn:
            keep = [n for n, *_ in clips]
            conn.execute(
                "DELETE FROM vault_clips WHERE job = ? "  # noqa: S608
                + (f"AND n NOT IN ({', '.join('?' * len(keep))})" if keep else ""),
                (job, *keep),
            )
            conn.executemany(
                "INSERT INTO vault_clips (job, n, file, key, sha256) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (job, n) DO UPDATE SET file = excluded.file, key = excluded.key, "
                "sha256 = excluded.sha256, version = NULL "
                "WHERE vault_clips.sha256 != excluded.sha256 OR vault_clips.key != excluded.key",
                [(job, n, file, key, sha) for n, file, key, sha in clips],
            )

    def clips(self, job: str) -> list[VaultClipRow]:
        return self.clips_of_jobs([job]).get(job, [])

    def clips_of_jobs(self, jobs: Iterable[str]) -> dict[str, list[VaultClipRow]]:
        ids = list(jobs)
        found: dict[str, list[VaultClipRow]] = {}
        for at in range(0, len(ids), 500):
            chunk = ids[at : at + 500]
            rows = self.index._query(
                f"SELECT {_CLIP_COLUMNS.sql} FROM vault_clips "  # noqa: S608
                f"WHERE job IN ({', '.join('?' * len(chunk))}) ORDER BY job, n",
                chunk,
            )
            for r in rows:
                clip = VaultClipRow(**_CLIP_COLUMNS.read(r))
                found.setdefault(clip.job, []).append(clip)
        return found

    def set_clip_version(self, job: str, n: int, version: str) -> None:
        with self.index._write() as conn:
            conn.execute(
                "UPDATE vault_clips SET version = ? WHERE job = ? AND n = ?", (version, job, n)
            )

    # ------------------------------------------------------------------ holds

    def hold(self, case_id: str, actor: str, reason: str | None) -> CaseHoldRow:
        """Ask for the case's legal hold (kept as first set if it is already held)."""
        with self.index._write() as conn:
            conn.execute(
                "INSERT INTO case_holds (case_id, since, actor, reason) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (case_id) DO NOTHING",
                (case_id, self._clock(), actor, reason),
            )
        found = self.case_hold(case_id)
        assert found is not None
        return found

    def release(self, case_id: str) -> bool:
        """Lift the case's hold; False if it was not held."""
        with self.index._write() as conn:
            cur = conn.execute("DELETE FROM case_holds WHERE case_id = ?", (case_id,))
            return cur.rowcount == 1

    def case_hold(self, case_id: str) -> CaseHoldRow | None:
        rows = self.index._query(
            "SELECT case_id, since, actor, reason FROM case_holds WHERE case_id = ?",
            (case_id,),
        )
        return CaseHoldRow(*rows[0]) if rows else None

    def is_held(self, case_id: str | None) -> bool:
        return case_id is not None and self.case_hold(case_id) is not None

    def wire_of(self, row: VaultRow) -> VaultCopy:
        return row.wire(held=self.is_held(row.case_id))
