"""What the evidence vault costs on top of a plain upload: storing a finished export (look
for an earlier version, put the clip under Object Lock, rewrite and put the manifest) and
verifying it (read the manifest back, read the whole clip back and hash it), against one
boto3 ``put_object`` of the same file.

    python benchmarks/evidence_vault.py [--mb 50] [--runs 3]

Caveats: the store is moto's S3 server on 127.0.0.1 in this very process, so the CPU
figures (process time) include the server's parsing and storing, and loopback hides the
link; a real store on a real link is slower and the link, not cctvctl, sets the pace.
Figures are medians of ``--runs``. moto keeps objects in memory: keep ``--mb`` modest.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer
from pydantic import SecretStr

from cctvctl.archive.evidence import EvidenceBucket
from cctvctl.archive.s3 import make_client
from cctvctl.config import ArchiveConfig, ArchiveKeys
from cctvctl.exports.files import ExportFiles
from cctvctl.exports.vault import EvidenceVault, VaultSettings
from cctvctl.models import ExportManifest, ExportState
from cctvctl.storage.audit import AuditLog
from cctvctl.storage.database import Database
from cctvctl.storage.exports import ExportStore
from cctvctl.storage.job_trail import JobTrail


class _Who:
    name = "bench"
    role = "operator"


def _timed(work: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def _done_job(vault: EvidenceVault, clip: bytes, n: int) -> str:
    now = datetime.now(UTC)
    job = vault.store.create(
        f"{n:016x}",
        camera="cam-1",
        start=now - timedelta(minutes=2),
        end=now - timedelta(minutes=1),
        requester="bench",
        role="operator",
        case_id="LP/1/2026",
        note=None,
    )
    digest = hashlib.sha256(clip).hexdigest()
    vault.files.job_dir(job.id).mkdir(parents=True)
    path = vault.files.clip_path(job)
    path.write_bytes(clip)
    manifest = ExportManifest(
        job=job.id, file=path.name, camera="cam-1", camera_name="c", kecamatan="k", site="s",
        requested_start=job.start, requested_end=job.end, first_frame=job.start,
        last_frame=job.end, timeline="t", gaps=[], missing_seconds=0, frames=1, codec="h264",
        sha256=digest, size=len(clip), sources=[], requester="bench", created=job.created,
        finished=now, server_version="bench",
    )  # fmt: skip
    vault.files.manifest_path(job).write_text(manifest.model_dump_json(indent=2) + "\n")
    vault.store.update(
        job.id, state=ExportState.DONE, sha256=digest, size=len(clip), finished=now.timestamp()
    )
    return job.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=50, help="clip size in MB (default 50)")
    parser.add_argument("--runs", type=int, default=3, help="repetitions (default 3)")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    keys = ArchiveKeys(access_key=SecretStr("bench"), secret_key=SecretStr("bench"))
    plain = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(s3={"addressing_style": "path"}),
    )
    plain.create_bucket(Bucket="bench-plain")
    plain.create_bucket(Bucket="bench-vault", ObjectLockEnabledForBucket=True)
    clip = os.urandom(args.mb * 1_000_000)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "storage")
        config = ArchiveConfig(
            endpoint=endpoint, bucket="bench-plain", evidence_bucket="bench-vault"
        )
        vault = EvidenceVault(
            bucket=EvidenceBucket(make_client(config, keys), "bench-vault"),
            settings=VaultSettings(bucket="bench-vault", days=365, mode="compliance"),
            store=ExportStore(db),
            files=ExportFiles(db.root),
            trail=JobTrail("export", AuditLog(db), None, lambda camera: None),
        )
        source = Path(tmp) / "clip.mp4"
        source.write_bytes(clip)
        put, store, verify = [], [], []
        for n in range(args.runs):
            with source.open("rb") as fh:
                put.append(
                    _timed(
                        lambda fh=fh, key=f"c{n}": plain.put_object(
                            Bucket="bench-plain", Key=key, Body=fh
                        )
                    )
                )
            job_id = _done_job(vault, clip, n + 1)
            store.append(_timed(lambda job_id=job_id: vault.finished(job_id)))
            row = vault.log.get(job_id)
            assert row is not None and row.state.value == "stored", row
            verify.append(_timed(lambda job_id=job_id: vault.verify(job_id, _Who())))
        db.close()
    server.stop()

    mb = args.mb
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"clip {mb} MB, {args.runs} runs, medians; moto S3 on loopback in this process")
    print(f"load average {load} (CPU is the whole process: client and moto's server)")
    for name, rows in (
        ("plain boto3 put_object", put),
        ("vault store (clip + manifest)", store),
        ("vault verify (read back + hash)", verify),
    ):
        wall = statistics.median(w for w, _ in rows)
        cpu = statistics.median(c for _, c in rows)
        print(
            f"{name:34} {wall:6.2f} s  {mb / wall:7.1f} MB/s  CPU {cpu:5.2f} s "
            f"({cpu / mb * 1000:5.1f} CPU s per GB)"
        )


if __name__ == "__main__":
    main()
