"""Disk, network and host probes; per-kecamatan roll-up; recording gaps.

Everything here is computed on demand from the recorder's live camera list, the segment
index and psutil, so a health poll costs a few indexed queries and syscalls. Write rates
come from the index's write log (every closed segment's bytes, also those retention has
deleted since; see :meth:`Database.write_rate`), which lags the truth by at most one
segment but needs no state in the recorder.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import psutil

from cctvctl.archive.figures import UploadFigures
from cctvctl.config import ArchiveConfig, Inventory
from cctvctl.models import (
    ArchiveFigures,
    ArchiveHealth,
    Camera,
    Gap,
    Host,
    KecamatanSummary,
    Nic,
    Volume,
    status_counts,
)
from cctvctl.storage.archive import ArchiveIndex
from cctvctl.storage.database import Database
from cctvctl.storage.gaps import GapReport, HasSpan, camera_gaps, expected_from
from cctvctl.storage.retention import DEFAULT_GUARD_SECONDS, disk_reserve, quota_bytes

__all__ = [
    "RATE_WINDOW",
    "HostProbe",
    "kecamatan_summaries",
    "recording_gaps",
    "volume",
    "worst_first",
    "write_rate",
]

RATE_WINDOW: Final = timedelta(hours=1)
DAY: Final = 86_400.0


def write_rate(index: Database, now: datetime, kecamatan: str | None = None) -> float:
    """Bytes per second written over the last hour (or since recording began)."""
    return index.write_rate(now, RATE_WINDOW, kecamatan)


def _days(room: float, rate: float) -> float | None:
    if rate <= 0:
        return None
    return max(0.0, room) / rate / DAY


def volume(
    path: Path,
    index: Database,
    now: datetime,
    *,
    floor_seconds: float = DEFAULT_GUARD_SECONDS,
) -> Volume:
    """The volume holding ``path``; ``days_to_full`` counts down to the disk-guard reserve.

    ``floor_seconds`` is the server's :func:`~cctvctl.storage.retention.guard_seconds`.
    """
    usage = psutil.disk_usage(str(path))
    rate = write_rate(index, now)
    # The same reserve the disk guard defends: once free space reaches it, old footage
    # goes, so that is when the volume is "full" for the NOC's purposes.
    hour = index.bytes_written_since(now - RATE_WINDOW)
    reserve = disk_reserve(int(usage.total), hour, rate, floor_seconds)
    return Volume(
        path=str(path),
        total_bytes=int(usage.total),
        used_bytes=int(usage.used),
        free_bytes=int(usage.free),
        reserve_bytes=reserve,
        write_bps=rate,
        days_to_full=_days(usage.free - reserve, rate),
    )


class HostProbe:
    """CPU, memory, load, uptime and per-NIC rates; rates are deltas between calls.

    Keep one instance for the life of the server: the first call can only prime the
    counters, so it reports zero rates.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_time = time.monotonic()
        self._last_nics = self._counters()
        # Not psutil.cpu_percent(): it remembers its last reading per thread, and API
        # handlers run on whichever pool thread is free, so most calls would read 0.
        self._last_cpu = self._cpu_times()

    @staticmethod
    def _cpu_times() -> tuple[float, float]:
        """(total, busy) CPU seconds since boot, all CPUs together."""
        t = psutil.cpu_times()
        # Linux counts guest time inside user time as well; do not count it twice.
        total = sum(t) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)
        idle = t.idle + getattr(t, "iowait", 0.0)
        return total, total - idle

    @staticmethod
    def _counters() -> dict[str, tuple[int, int]]:
        counters = psutil.net_io_counters(pernic=True)
        try:
            stats = psutil.net_if_stats()
        except OSError:
            stats = {}
        return {
            name: (c.bytes_recv, c.bytes_sent)
            for name, c in counters.items()
            if name not in stats or stats[name].isup
        }

    def sample(self) -> Host:
        with self._lock:
            now = time.monotonic()
            nics = self._counters()
            elapsed = now - self._last_time
            rates: list[Nic] = []
            for name, (rx, tx) in sorted(nics.items()):
                prev = self._last_nics.get(name)
                if prev is None or elapsed <= 0:
                    rx_bps = tx_bps = 0.0
                else:
                    # Counters can wrap or reset (a NIC re-plugged): never report negative.
                    rx_bps = max(0, rx - prev[0]) * 8 / elapsed
                    tx_bps = max(0, tx - prev[1]) * 8 / elapsed
                rates.append(Nic(name=name, rx_bps=rx_bps, tx_bps=tx_bps))
            self._last_time, self._last_nics = now, nics
            total, busy = self._cpu_times()
            d_total, d_busy = total - self._last_cpu[0], busy - self._last_cpu[1]
            cpu = min(100.0, max(0.0, 100.0 * d_busy / d_total)) if d_total > 0 else 0.0
            self._last_cpu = (total, busy)
        load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
        return Host(
            hostname=socket.gethostname(),
            cpu_percent=cpu,
            memory_percent=float(psutil.virtual_memory().percent),
            load=(float(load[0]), float(load[1]), float(load[2])),
            uptime_seconds=max(0.0, time.time() - psutil.boot_time()),
            nics=rates,
        )


@dataclass(frozen=True, slots=True)
class _Span:
    start: datetime
    end: datetime


def recording_gaps(
    index: Database,
    camera_id: str,
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    open_since: datetime | None = None,
    grace: float = 0.0,
) -> tuple[list[Gap], GapReport]:
    """Footage missing for a camera over ``[start, end)``, from the segment index.

    Nothing before the index existed counts as missing, nor a fresh index's first
    ``grace`` seconds before the camera's first footage (:func:`expected_from`), nor
    anything after ``now``. The segment a camera is writing is not indexed until it
    closes; pass its start as ``open_since`` so the footage being recorded right now
    does not count as a hole.
    """
    spans: list[HasSpan] = list(index.segments(camera_id, start, end))
    if open_since is not None and open_since < now:
        spans.append(_Span(open_since, now))
    first = index.first_segment_start(camera_id) or open_since
    created = index.created().timestamp()
    since = expected_from(created, None if first is None else first.timestamp(), grace)
    not_before = datetime.fromtimestamp(since, UTC)
    return camera_gaps(spans, start, end, not_before=not_before, now=now)


def kecamatan_summaries(
    inventory: Inventory,
    cameras: Sequence[Camera],
    index: Database,
    inbound_kbps: Mapping[str, float],
    now: datetime,
    archive: Mapping[str, ArchiveFigures] | None = None,
) -> list[KecamatanSummary]:
    """One summary per kecamatan of the inventory, in inventory order; ``archive``: each
    kecamatan's archive figures (:func:`archive_health`), None without ``[archive]``."""
    by_kec: dict[str, list[Camera]] = {k.key: [] for k in inventory.kecamatan}
    for cam in cameras:
        by_kec.setdefault(cam.kecamatan_slug, []).append(cam)
    stored = index.bytes_by_kecamatan()
    out: list[KecamatanSummary] = []
    for kec in inventory.kecamatan:
        cams = by_kec.get(kec.key, [])
        quota = quota_bytes(kec.quota_gb)
        used = stored.get(kec.key, 0)
        rate = write_rate(index, now, kec.key)
        rtts = [c.rtt_ms for c in cams if c.rtt_ms is not None]
        missing = [c.missing_seconds_24h for c in cams if c.enabled]
        out.append(
            KecamatanSummary(
                slug=kec.key,
                name=kec.name,
                **status_counts(cams),
                inbound_kbps=float(inbound_kbps.get(kec.key, 0.0)),
                bytes_stored=used,
                quota_bytes=quota,
                write_bps=rate,
                days_to_full=None if quota is None else _days(quota - used, rate),
                missing_minutes_24h=sum(missing) / 60.0,
                worst_missing_seconds_24h=max(missing, default=0.0),
                worst_rtt_ms=max(rtts) if rtts else None,
                archive=None if archive is None else archive.get(kec.key, _NO_ARCHIVE),
            )
        )
    return out


_NO_ARCHIVE: Final = ArchiveFigures(
    backlog_bytes=0,
    backlog_segments=0,
    uploaded_bytes=0,
    failures=0,
    archived_bytes=0,
    archived_segments=0,
)


def archive_health(
    config: ArchiveConfig, index: Database, upload: UploadFigures, now: datetime
) -> tuple[ArchiveHealth, dict[str, ArchiveFigures]]:
    """The node's archive tier, and each kecamatan's part of it (by slug)."""
    archive = ArchiveIndex(index)
    stored = archive.figures(kept_after=now - timedelta(days=config.archive_days))
    per_kec: dict[str, ArchiveFigures] = {}
    for kec in sorted({*stored, *upload.uploaded_bytes, *upload.failures}):
        f = stored.get(kec)
        per_kec[kec] = ArchiveFigures(
            backlog_bytes=f.backlog_bytes if f else 0,
            backlog_segments=f.backlog_segments if f else 0,
            oldest_unarchived=f.oldest_unarchived if f else None,
            uploaded_bytes=upload.uploaded_bytes.get(kec, 0),
            failures=upload.failures.get(kec, 0),
            archived_bytes=f.archived_bytes if f else 0,
            archived_segments=f.archived_segments if f else 0,
        )
    oldest = [k.oldest_unarchived for k in per_kec.values() if k.oldest_unarchived is not None]
    lost_segments, lost_bytes = archive.lost()
    node = ArchiveHealth(
        backlog_bytes=sum(k.backlog_bytes for k in per_kec.values()),
        backlog_segments=sum(k.backlog_segments for k in per_kec.values()),
        oldest_unarchived=min(oldest, default=None),
        uploaded_bytes=sum(upload.uploaded_bytes.values()),
        failures=sum(upload.failures.values()),
        archived_bytes=sum(k.archived_bytes for k in per_kec.values()),
        archived_segments=sum(k.archived_segments for k in per_kec.values()),
        endpoint=config.endpoint,
        bucket=config.bucket,
        state=upload.state,
        upload_bps=upload.rate_bps,
        upload_cap_bps=config.upload_kbps * 1000 / 8 if config.upload_kbps else None,
        upload_window=config.upload_window,
        last_error=upload.last_error,
        last_error_at=upload.last_error_at,
        lost_segments=lost_segments,
        lost_bytes=lost_bytes,
    )
    return node, per_kec


def worst_first(summaries: Iterable[KecamatanSummary]) -> list[KecamatanSummary]:
    """Most offline cameras first, then most minutes missing, then degraded; ties by name."""
    return sorted(
        summaries,
        key=lambda k: (-k.offline, -k.missing_minutes_24h, -k.degraded, k.name.lower()),
    )
