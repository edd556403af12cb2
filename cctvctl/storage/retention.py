"""Retention: delete old footage by age, by kecamatan quota, and before the disk fills.

Three passes, in this order, each over the closed segments in the index (the segment a
camera is writing is not indexed yet, so it is never touched):

1. age: segments that ended more than ``retention_days`` ago (per-camera overrides);
2. quota: a kecamatan's oldest segments until its bytes fit its ``quota_gb``;
3. disk guard: the oldest segments of the whole volume until free space is back above
   the reserve (:func:`disk_reserve`).

The disk guard is why recording never stops for a full disk: it gives up old footage
first. Every run publishes one ``storage.deleted`` event per reason and camera. A run
with nothing to delete costs a statvfs and a few indexed queries, so the server can call
:meth:`Retention.run_once` every few seconds; the interval bounds how far the disk can
fill between checks, and the reserve always covers it (see :func:`guard_seconds`).

With an ``[archive]`` (storage/archive.py) a local file is deleted only once the archive
holds it: after ``local_days`` (or ``retention_days``, whichever is shorter), and the quota
and the disk guard take archived copies first. Footage the archive does not hold yet is
kept until ``retention_days`` and ``archive_days`` have both passed; only a quota or the
disk guard that has no archived copy left deletes it, and each time says so loudly: an
``archive.unarchived_deleted`` event, an error in the log and the lost-footage counter
of ``/metrics`` (recording never stops because a disk filled). Before any footage, the
disk guard empties what ``free_cache`` frees: the archive's fetch cache on the same
volume, copies that can be fetched again.

Write rates come from the index's write log (bytes of every segment indexed, including
those deleted since), not from the footage that survives: on a volume the guard keeps
pruning, the survivors are a small part of what was written.
"""

from __future__ import annotations

import enum
import logging
import shutil
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, NamedTuple

from cctvctl.config import Inventory
from cctvctl.storage.archive import ArchiveIndex
from cctvctl.storage.database import Database, SegmentRow
from cctvctl.storage.event_store import EventStore
from cctvctl.storage.events import ARCHIVE_UNARCHIVED_DELETED, STORAGE_DELETED, EventPublisher
from cctvctl.storage.layout import prune_empty_dirs

__all__ = [
    "GB",
    "ArchiveRules",
    "DeleteReason",
    "Deletion",
    "DiskUsage",
    "Retention",
    "disk_reserve",
    "guard_seconds",
    "quota_bytes",
]

log = logging.getLogger(__name__)

#: Quotas are decimal gigabytes, as disks are sold and as `df -H` shows them.
GB: Final = 1_000_000_000
RESERVE_FRACTION: Final = 0.05
#: An hour of writes never reserves more than this share of the volume; see disk_reserve.
RESERVE_CAP_FRACTION: Final = 0.25
RATE_WINDOW: Final = timedelta(hours=1)
#: The write log is kept this long: longer than any rate window anyone asks for.
WRITES_KEPT: Final = 2 * RATE_WINDOW
BATCH: Final = 500


class DeleteReason(enum.StrEnum):
    AGE = "age"
    QUOTA = "quota"
    DISK_GUARD = "disk_guard"
    #: The local copy of archived footage, after local_days (the archive still holds it).
    LOCAL_DAYS = "local_days"


@dataclass(frozen=True, slots=True)
class ArchiveRules:
    """The ``[archive]`` settings retention applies on this disk."""

    local_days: float | None
    archive_days: float


class DiskUsage(NamedTuple):
    total: int
    used: int
    free: int


@dataclass(frozen=True, slots=True)
class Deletion:
    reason: DeleteReason
    segment: SegmentRow
    error: str | None = None  # the file could not be removed (its row is gone anyway)
    #: With an archive: footage the archive did not hold, now lost.
    unarchived: bool = False


def quota_bytes(quota_gb: float | None) -> int | None:
    return None if quota_gb is None else int(quota_gb * GB)


def guard_seconds(segment_seconds: float, check_interval: float) -> float:
    """Seconds of writes the disk guard must always keep free, whatever the volume.

    Between two passes the cameras write ``check_interval`` seconds more (counted twice:
    a pass can run late on a busy host, and keyframe bursts beat the hour's average);
    and a segment length more, because the guard can only delete closed segments and the
    bytes of the segments being written only become deletable when they close.
    """
    return 2 * check_interval + segment_seconds


#: What the server uses when a caller does not say (segment 60 s, a pass every 10 s).
DEFAULT_GUARD_SECONDS: Final = guard_seconds(60.0, 10.0)


def disk_reserve(total: int, hour_bytes: int, rate_bps: float, floor_seconds: float) -> int:
    """Free bytes the disk guard defends on a volume of ``total`` bytes.

    The larger of 5 % of the volume and the last hour's writes (``hour_bytes``), so a
    big volume keeps an hour of headroom for a stalled pass or a burst. On a small volume
    an hour of writes can be most of the volume or more than all of it, and reserving it
    would leave the volume mostly empty (on 150 MB it kept 15-37 s per camera), so that
    term is capped at a quarter of the volume. Whatever the cap, the reserve never falls
    under ``floor_seconds`` of writes at ``rate_bps`` (:func:`guard_seconds`): the room
    the cameras need until the next pass can free more.
    """
    hour = min(hour_bytes, int(total * RESERVE_CAP_FRACTION))
    return max(int(total * RESERVE_FRACTION), hour, int(rate_bps * floor_seconds))


def _disk_usage(path: Path) -> DiskUsage:
    u = shutil.disk_usage(path)
    return DiskUsage(u.total, u.used, u.free)


class Retention:
    """Applies the retention rules to one storage root; :meth:`run_once` is thread-safe."""

    def __init__(
        self,
        index: Database,
        *,
        retention_days: float,
        camera_retention_days: Mapping[str, float] | None = None,
        quotas: Mapping[str, int | None] | None = None,
        events: EventPublisher | None = None,
        disk_usage: Callable[[Path], DiskUsage] = _disk_usage,
        floor_seconds: float = DEFAULT_GUARD_SECONDS,
        archive: ArchiveRules | None = None,
        free_cache: Callable[[int], int] | None = None,
    ) -> None:
        """``quotas`` maps kecamatan slug to bytes (None: no quota); see :func:`quota_bytes`.

        ``disk_usage`` measures the volume holding the index's root; tests pass a fake to
        play a nearly full disk. ``floor_seconds`` is the least the reserve holds, in
        seconds of writes (:func:`guard_seconds`). Without ``events`` deletions are still
        logged to the index's event table, just not fanned out to live subscribers.
        ``free_cache(need)`` frees up to ``need`` bytes of a cache on the volume and says
        how many it freed; the disk guard asks it before it deletes footage.
        """
        if retention_days <= 0:
            raise ValueError("retention_days must be positive")
        self.index = index
        self.root = index.root
        self.retention_days = retention_days
        self.camera_retention_days = dict(camera_retention_days or {})
        self.quotas = {k: q for k, q in (quotas or {}).items() if q is not None}
        self._events = events
        self._event_store = EventStore(index)
        self._disk_usage = disk_usage
        self.floor_seconds = floor_seconds
        self.archive = archive
        self.free_cache = free_cache
        self._archive_index = ArchiveIndex(index)
        self._lock = threading.Lock()

    @classmethod
    def from_inventory(
        cls,
        inventory: Inventory,
        index: Database,
        *,
        events: EventPublisher | None = None,
        camera_retention_days: Mapping[str, float] | None = None,
        disk_usage: Callable[[Path], DiskUsage] = _disk_usage,
        check_interval: float = 10.0,
        free_cache: Callable[[int], int] | None = None,
    ) -> Retention:
        """Rules from the inventory; ``check_interval`` is the seconds between passes."""
        return cls(
            index,
            retention_days=inventory.server.retention_days,
            camera_retention_days=camera_retention_days,
            quotas={k.key: quota_bytes(k.quota_gb) for k in inventory.kecamatan},
            events=events,
            disk_usage=disk_usage,
            floor_seconds=guard_seconds(inventory.server.segment_seconds, check_interval),
            archive=None
            if inventory.archive is None
            else ArchiveRules(inventory.archive.local_days, inventory.archive.archive_days),
            free_cache=free_cache,
        )

    # ------------------------------------------------------------------ measures

    def reserve_bytes(self, now: datetime, total: int | None = None) -> int:
        """Free space the disk guard defends (:func:`disk_reserve`)."""
        if total is None:
            total = self._disk_usage(self.root).total
        return disk_reserve(
            total,
            self.index.bytes_written_since(now - RATE_WINDOW),
            self.index.write_rate(now, RATE_WINDOW),
            self.floor_seconds,
        )

    def disk_usage(self) -> DiskUsage:
        return self._disk_usage(self.root)

    # ------------------------------------------------------------------ run

    def run_once(self, now: datetime | None = None) -> list[Deletion]:
        """Apply all three rules once; returns what was deleted, in deletion order."""
        now = datetime.now(UTC) if now is None else now
        done: list[Deletion] = []
        with self._lock:
            try:
                for rule in (self._by_age, self._by_quota, self._disk_guard):
                    done += rule(now)
                self._prune_events(now)
            finally:
                # Even if a later rule failed, what is gone must be on the record.
                self._announce(done)
        return done

    def _by_age(self, now: datetime) -> list[Deletion]:
        done: list[Deletion] = []
        overrides = self.camera_retention_days
        done += self._age_rule(now, self.retention_days, exclude=overrides.keys())
        for camera, days in overrides.items():
            done += self._age_rule(now, days, camera=camera)
        return done

    def _age_rule(
        self, now: datetime, days: float, *, camera: str | None = None, exclude: Iterable[str] = ()
    ) -> list[Deletion]:
        if self.archive is None:
            return self._drain(
                now,
                DeleteReason.AGE,
                before=now - timedelta(days=days),
                camera=camera,
                exclude=exclude,
            )
        # Archived copies go after local_days (or the camera's retention, if shorter);
        # footage not archived yet waits for the archive, until archive_days is past too.
        local = days if self.archive.local_days is None else min(days, self.archive.local_days)
        reason = DeleteReason.AGE if local == days else DeleteReason.LOCAL_DAYS
        done = self._drain(
            now,
            reason,
            before=now - timedelta(days=local),
            camera=camera,
            exclude=exclude,
            archived=True,
        )
        done += self._drain(
            now,
            DeleteReason.AGE,
            before=now - timedelta(days=max(days, self.archive.archive_days)),
            camera=camera,
            exclude=exclude,
            archived=False,
        )
        return done

    def _drain(
        self,
        now: datetime,
        reason: DeleteReason,
        *,
        before: datetime,
        camera: str | None = None,
        exclude: Iterable[str] = (),
        archived: bool | None = None,
    ) -> list[Deletion]:
        done: list[Deletion] = []
        excluded = frozenset(exclude)
        while rows := self.index.oldest(
            BATCH, camera=camera, before=before, exclude_cameras=excluded, archived=archived
        ):
            done += self._delete(rows, reason, now)
        return done

    def _pressure_order(self) -> tuple[bool | None, ...]:
        """What a quota or the disk guard takes: everything, oldest first; with an
        archive, the archived copies first and footage not archived only after them."""
        return (None,) if self.archive is None else (True, False)

    def _by_quota(self, now: datetime) -> list[Deletion]:
        done: list[Deletion] = []
        used = self.index.bytes_by_kecamatan()
        for kecamatan, quota in self.quotas.items():
            over = used.get(kecamatan, 0) - quota
            for archived in self._pressure_order():
                while over > 0 and (
                    rows := self.index.oldest(BATCH, kecamatan=kecamatan, archived=archived)
                ):
                    chosen = _enough(rows, over)
                    done += self._delete(chosen, DeleteReason.QUOTA, now)
                    over -= sum(r.bytes for r in chosen)
        return done

    def _disk_guard(self, now: datetime) -> list[Deletion]:
        done: list[Deletion] = []
        order = list(self._pressure_order())
        cache_tried = self.free_cache is None
        while True:
            usage = self._disk_usage(self.root)
            short = self.reserve_bytes(now, usage.total) - usage.free
            if short <= 0:
                return done
            if not cache_tried:
                # A cached copy of archived footage can be fetched again; footage cannot.
                cache_tried = True
                assert self.free_cache is not None
                freed = self.free_cache(short)
                if freed > 0:
                    log.info(
                        "disk guard: %d bytes short of the reserve on %s; freed %d bytes "
                        "of cached archive copies first",
                        short,
                        self.root,
                        freed,
                    )
                    continue
            rows: list[SegmentRow] = []
            while order and not (rows := self.index.oldest(BATCH, archived=order[0])):
                order.pop(0)
            if not rows:
                log.error(
                    "disk guard: %d bytes short of the reserve on %s and no footage left "
                    "to delete; something else is filling the volume",
                    short,
                    self.root,
                )
                return done
            # Re-measure after each batch: the volume is shared with the open segments
            # that keep growing, so our own byte counts are only an estimate.
            done += self._delete(_enough(rows, short), DeleteReason.DISK_GUARD, now)

    # ------------------------------------------------------------------ deleting

    def _delete(
        self, rows: list[SegmentRow], reason: DeleteReason, now: datetime
    ) -> list[Deletion]:
        done: list[Deletion] = []
        # Keep today's and yesterday's day folders: a segmenter may be about to use them.
        keep_from = (now.astimezone(UTC) - timedelta(days=1)).date()
        for row in rows:
            error: str | None = None
            unarchived = self.archive is not None and row.archived is None
            try:
                row.path.unlink()
            except FileNotFoundError:
                pass  # already gone: the goal is reached either way
            except OSError as exc:
                # Dropping the row anyway keeps the loops moving; the next start-up's
                # reconcile indexes the file again if it is still there.
                error = str(exc)
                log.warning("retention: cannot delete %s: %s", row.path, exc)
            else:
                prune_empty_dirs(self.root, row.path, keep_from=keep_from)
            done.append(Deletion(reason, row, error, unarchived))
        self.index.drop_local(r.id for r in rows)
        lost = [d.segment for d in done if d.unarchived]
        if lost:
            self._archive_index.record_lost(len(lost), sum(r.bytes for r in lost))
        return done

    def _announce(self, done: list[Deletion]) -> None:
        batches: dict[tuple[DeleteReason, str], list[Deletion]] = {}
        for d in done:
            batches.setdefault((d.reason, d.segment.camera), []).append(d)
        for (reason, camera), items in batches.items():
            segs = [d.segment for d in items]
            data = _summary(segs)
            data["reason"] = reason.value
            errors = sum(d.error is not None for d in items)
            if errors:
                data["errors"] = errors
            kecamatan = segs[0].kecamatan
            if self.archive is not None:
                data["archived"] = sum(not d.unarchived for d in items)
            self._publish(STORAGE_DELETED, camera, kecamatan, data)
            lost = [d.segment for d in items if d.unarchived]
            if lost:
                # Footage that exists nowhere else any more: never silent.
                alarm = _summary(lost)
                alarm["reason"] = reason.value
                log.error(
                    "retention (%s): deleted %d segments of %s (%d bytes, %s to %s) that the "
                    "archive does not hold yet: the disk is too small for the upload backlog",
                    reason.value,
                    len(lost),
                    camera,
                    alarm["bytes"],
                    alarm["start"],
                    alarm["end"],
                )
                self._publish(ARCHIVE_UNARCHIVED_DELETED, camera, kecamatan, alarm)

    def _publish(self, kind: str, camera: str, kecamatan: str, data: dict[str, object]) -> None:
        if self._events is not None:
            self._events.publish(kind, camera, kecamatan, data)
        else:
            self._event_store.add(kind, camera=camera, kecamatan=kecamatan, data=data)

    def _prune_events(self, now: datetime) -> None:
        days = max([self.retention_days, *self.camera_retention_days.values()])
        self._event_store.prune(now - timedelta(days=days))
        self.index.prune_writes(now - WRITES_KEPT)


def _summary(segs: list[SegmentRow]) -> dict[str, object]:
    return {
        "count": len(segs),
        "bytes": sum(s.bytes for s in segs),
        "start": min(s.start for s in segs).isoformat(),
        "end": max(s.end for s in segs).isoformat(),
    }


def _enough(rows: list[SegmentRow], need: int) -> list[SegmentRow]:
    """The shortest prefix of ``rows`` (oldest first) whose bytes add up to ``need``."""
    chosen: list[SegmentRow] = []
    total = 0
    for row in rows:
        if total >= need:
            break
        chosen.append(row)
        total += row.bytes
    return chosen
