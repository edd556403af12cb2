"""Exports of footage that is only in the archive: the same clip, byte for byte, as the
export made while the footage was on the node's disk. Real files, a real index, the real
exporter (PyAV stream copy) and a real S3 endpoint (moto's server over HTTP on loopback)."""

from __future__ import annotations

import hashlib
import shutil
from datetime import timedelta
from pathlib import Path

from archive_sites import KEYS, add_footage, archive_config, hours_ago
from harness import SiteSpec, wait_for, write_site
from s3_harness import S3Engine

from cctvctl.archive.cache import CACHE_DIR, ArchiveCache
from cctvctl.archive.s3 import make_client
from cctvctl.archive.uploader import Uploader
from cctvctl.config import load_inventory
from cctvctl.exports import Exporter
from cctvctl.models import ExportJob, ExportRequest, ExportState
from cctvctl.storage.database import Database
from cctvctl.storage.retention import ArchiveRules, DiskUsage, Retention


def _finished(exporter: Exporter, job: ExportJob) -> ExportJob:
    def done() -> bool:
        now = exporter.store.get(job.id)
        return now is not None and now.state in (ExportState.DONE, ExportState.FAILED)

    wait_for(done, timeout=60, what=f"export {job.id}")
    final = exporter.store.get(job.id)
    assert final is not None
    return final


def test_an_export_of_archived_footage_matches_the_export_made_while_local(
    s3: S3Engine, tmp_path: Path
) -> None:
    site = write_site(tmp_path / "site", SiteSpec(cameras=1, kecamatan=("Sangatta Utara",)))
    inventory = load_inventory(site.config)
    cam = site.camera_ids[0]
    kec = site.camera_kecamatan[cam]
    bucket = s3.make_bucket()
    config = archive_config(s3, bucket)
    client = make_client(config, KEYS, connect_timeout=1, max_attempts=1)
    index = Database(inventory.storage)
    cache = ArchiveCache(index, bucket, client)
    exporter = Exporter(index=index, inventory=inventory, archive=cache)
    exporter.start()
    try:
        base = hours_ago(2)
        ids = [
            add_footage(index, base + timedelta(seconds=2 * i), camera=cam, kecamatan=kec)
            for i in range(5)
        ]
        request = ExportRequest(
            camera=cam, start=base + timedelta(seconds=1), end=base + timedelta(seconds=8.5)
        )

        local = _finished(exporter, exporter.submit(request, "tester", "operator"))
        assert local.state is ExportState.DONE, local.error
        local_clip = exporter.clip_path(local).read_bytes()

        # The footage moves to the archive and its local copies go (local_days).
        assert Uploader(index, config, client).run_once() == 5
        retention = Retention(
            index,
            retention_days=30,
            disk_usage=lambda p: DiskUsage(10**15, 0, 10**15),
            archive=ArchiveRules(local_days=0.01, archive_days=30),
        )
        assert len(retention.run_once()) == 5
        rows = [index.get(i) for i in ids]
        assert all(r is not None and r.location == "archived" for r in rows)
        assert all(r is not None and not r.path.exists() for r in rows)

        archived = _finished(exporter, exporter.submit(request, "tester", "operator"))
        assert archived.state is ExportState.DONE, archived.error
        archived_clip = exporter.clip_path(archived).read_bytes()
        assert hashlib.sha256(archived_clip).hexdigest() == hashlib.sha256(local_clip).hexdigest()
        assert archived.sha256 == local.sha256
        assert cache.fetched == 5  # read back through the cache, not found on disk
        manifest = (exporter.job_dir(archived.id) / "manifest.json").read_text()
        assert CACHE_DIR not in manifest  # the manifest names the segments, not the cache

        # With the archive out of reach and nothing cached, the job fails and says why.
        shutil.rmtree(index.root / CACHE_DIR)
        s3.stop()
        try:
            cut = _finished(exporter, exporter.submit(request, "tester", "operator"))
        finally:
            s3.start()
        assert cut.state is ExportState.FAILED
        assert cut.error is not None and "could not be fetched from the archive" in cut.error
    finally:
        exporter.stop()
        index.close()
