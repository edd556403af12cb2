"""``/metrics``: Prometheus text exposition, computed at scrape time.

It needs a viewer token like every other read: camera names and per-kecamatan volumes
are operational detail. Prometheus sends one with ``authorization: {credentials: ...}``
in its scrape config.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from cctvctl.health import archive_health
from cctvctl.models import CameraStatus, Problem
from cctvctl.server.routes._shared import RT, VIEWER
from cctvctl.server.runtime import Runtime

__all__ = ["RecorderCollector", "router"]

router = APIRouter(
    tags=["metrics"],
    dependencies=[VIEWER],
    responses={401: {"model": Problem}},
)

_UP = (CameraStatus.ONLINE, CameraStatus.DEGRADED)


class RecorderCollector(Collector):
    """Reads the recorder and the index on each scrape; keeps no state of its own."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        rt = self._rt
        cams = rt.recorder.cameras()
        labels = ["camera", "kecamatan"]
        up = GaugeMetricFamily("cctv_camera_up", "1 when the camera delivers video", labels=labels)
        status = GaugeMetricFamily(
            "cctv_camera_status", "1 for the camera's current status", labels=[*labels, "status"]
        )
        recording = GaugeMetricFamily(
            "cctv_camera_recording", "1 while a segment is being written", labels=labels
        )
        fps = GaugeMetricFamily("cctv_camera_fps", "Frames per second received", labels=labels)
        kbps = GaugeMetricFamily("cctv_camera_kbps", "Kilobits per second received", labels=labels)
        reconnects = GaugeMetricFamily(
            "cctv_camera_reconnects_1h", "Reconnects in the last hour", labels=labels
        )
        rtt = GaugeMetricFamily(
            "cctv_camera_rtt_seconds", "TCP round trip to the camera's RTSP port", labels=labels
        )
        for cam in cams:
            key = [cam.id, cam.kecamatan_slug]
            up.add_metric(key, 1.0 if cam.status in _UP else 0.0)
            for st in CameraStatus:
                status.add_metric([*key, st.value], 1.0 if cam.status is st else 0.0)
            recording.add_metric(key, 1.0 if cam.recording else 0.0)
            fps.add_metric(key, cam.fps)
            kbps.add_metric(key, cam.kbps)
            reconnects.add_metric(key, float(cam.reconnects_1h))
            if cam.rtt_ms is not None:
                rtt.add_metric(key, cam.rtt_ms / 1000.0)
        yield from (up, status, recording, fps, kbps, reconnects, rtt)

        stored = rt.db.bytes_by_kecamatan()
        kec_bytes = GaugeMetricFamily(
            "cctv_kecamatan_bytes_stored", "Bytes of closed segments kept", labels=["kecamatan"]
        )
        kec_quota = GaugeMetricFamily(
            "cctv_kecamatan_quota_bytes", "Configured quota", labels=["kecamatan"]
        )
        for kec in rt.inventory.kecamatan:
            kec_bytes.add_metric([kec.key], float(stored.get(kec.key, 0)))
            if kec.quota_gb is not None:
                kec_quota.add_metric([kec.key], kec.quota_gb * 1e9)
        yield from (kec_bytes, kec_quota)

        written, written_bytes = rt.db.written_snapshot()
        segs = CounterMetricFamily(
            "cctv_segments_written", "Segments closed and indexed since start", labels=labels
        )
        seg_bytes = CounterMetricFamily(
            "cctv_segment_bytes_written", "Bytes of segments indexed since start", labels=labels
        )
        for (kec_slug, camera), n in sorted(written.items()):
            segs.add_metric([camera, kec_slug], float(n))
            seg_bytes.add_metric(
                [camera, kec_slug], float(written_bytes.get((kec_slug, camera), 0))
            )
        yield from (segs, seg_bytes)

        inbound = GaugeMetricFamily(
            "cctv_kecamatan_inbound_kbps",
            "Video received, kilobits per second",
            labels=["kecamatan"],
        )
        for slug, value in sorted(rt.recorder.inbound_kbps_by_kecamatan().items()):
            inbound.add_metric([slug], float(value))
        yield inbound

        stored_total = GaugeMetricFamily("cctv_segments_stored", "Closed segments kept")
        stored_total.add_metric([], float(rt.db.segment_count()))
        subscribers = GaugeMetricFamily("cctv_event_subscribers", "Open /api/v1/events streams")
        subscribers.add_metric([], float(rt.events.subscribers))
        uptime = GaugeMetricFamily("cctv_server_uptime_seconds", "Seconds since the server started")
        uptime.add_metric([], (datetime.now(UTC) - rt.started).total_seconds())
        yield from (stored_total, subscribers, uptime)

        vault = rt.exporter.vault
        if vault is not None:
            pending = GaugeMetricFamily(
                "cctv_evidence_vault_pending",
                "Finished exports whose evidence vault copy has not landed yet",
            )
            pending.add_metric([], float(vault.log.pending_count()))
            yield pending

        disk = shutil.disk_usage(rt.db.root)
        vol_labels = ["path"]
        total = GaugeMetricFamily(
            "cctv_volume_total_bytes", "Storage volume size", labels=vol_labels
        )
        free = GaugeMetricFamily("cctv_volume_free_bytes", "Storage volume free", labels=vol_labels)
        total.add_metric([str(rt.db.root)], float(disk.total))
        free.add_metric([str(rt.db.root)], float(disk.free))
        yield from (total, free)
        yield from self._archive()

    def _archive(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        """The S3 archive tier, when the node has one. Alert on
        ``increase(cctv_archive_unarchived_deleted_bytes_total[1h]) > 0`` (footage lost)
        and on ``cctv_archive_oldest_unarchived_age_seconds`` past a link's worst day."""
        rt = self._rt
        config = rt.inventory.archive
        if rt.uploader is None or config is None:
            return
        now = datetime.now(UTC)
        node, per_kec = archive_health(config, rt.db, rt.uploader.figures(), now)
        kec = ["kecamatan"]
        backlog = GaugeMetricFamily(
            "cctv_archive_backlog_bytes", "Closed footage not in the archive yet", labels=kec
        )
        backlog_n = GaugeMetricFamily(
            "cctv_archive_backlog_segments", "Segments not in the archive yet", labels=kec
        )
        age = GaugeMetricFamily(
            "cctv_archive_oldest_unarchived_age_seconds",
            "Age of the oldest footage not in the archive yet",
            labels=kec,
        )
        stored = GaugeMetricFamily(
            "cctv_archive_stored_bytes", "Bytes of footage the archive holds", labels=kec
        )
        uploaded = CounterMetricFamily(
            "cctv_archive_uploaded_bytes", "Bytes the archive confirmed since start", labels=kec
        )
        failures = CounterMetricFamily(
            "cctv_archive_upload_failures", "Failed uploads since start", labels=kec
        )
        for slug, f in sorted(per_kec.items()):
            backlog.add_metric([slug], float(f.backlog_bytes))
            backlog_n.add_metric([slug], float(f.backlog_segments))
            age.add_metric(
                [slug],
                0.0 if f.oldest_unarchived is None else (now - f.oldest_unarchived).total_seconds(),
            )
            stored.add_metric([slug], float(f.archived_bytes))
            uploaded.add_metric([slug], float(f.uploaded_bytes))
            failures.add_metric([slug], float(f.failures))
        yield from (backlog, backlog_n, age, stored, uploaded, failures)
        rate = GaugeMetricFamily(
            "cctv_archive_upload_bytes_per_second", "Upload rate over the last 30 s"
        )
        rate.add_metric([], node.upload_bps)
        reachable = GaugeMetricFamily(
            "cctv_archive_up", "0 while the last upload failed to reach the store"
        )
        reachable.add_metric([], 0.0 if node.state == "store unreachable" else 1.0)
        lost = CounterMetricFamily(
            "cctv_archive_unarchived_deleted_bytes",
            "Footage retention deleted before the archive held it (lost)",
        )
        lost.add_metric([], float(node.lost_bytes))
        lost_n = CounterMetricFamily(
            "cctv_archive_unarchived_deleted_segments",
            "Segments retention deleted before the archive held them (lost)",
        )
        lost_n.add_metric([], float(node.lost_segments))
        yield from (rate, reachable, lost, lost_n)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
def metrics(rt: RT) -> Response:
    """Prometheus text format (needs a viewer token)."""
    # A registry per scrape, not the global one (it would mix in other apps' metrics) nor
    # one kept on the app: the collector holds no state, so building it costs nothing.
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RecorderCollector(rt))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
