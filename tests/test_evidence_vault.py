"""The evidence vault against a real S3 endpoint (moto's server on 127.0.0.1) and a real
`cctvctl server` subprocess recording the simulator.

One site for the module, its vault a bucket with Object Lock enabled, in governance mode:
in governance a delete that bypasses the retention is allowed, so only a legal hold can be
what refuses one (the test of the hold); compliance, the default, is checked in
``test_default_mode_is_compliance`` through the same code against the same store.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
from cli_process import last_error, node_env, run_cctvctl
from harness import Live, SiteSpec, serving, start_sim, wait_for, write_site
from s3_harness import ACCESS_KEY, SECRET_KEY, S3Engine, archive_table
from tui_pilot import opened_by, screen_text, until

from cctvctl.archive.evidence import EvidenceBucket
from cctvctl.archive.s3 import make_client
from cctvctl.archive.vault_errors import VaultRefused
from cctvctl.config import ArchiveConfig, ArchiveKeys
from cctvctl.exports.files import ExportFiles
from cctvctl.exports.vault import EvidenceVault, VaultSettings
from cctvctl.models import ExportState
from cctvctl.storage.audit import AuditLog
from cctvctl.storage.database import Database
from cctvctl.storage.exports import ExportStore
from cctvctl.storage.job_trail import JobTrail
from cctvctl.tui.app import CctvApp
from cctvctl.tui.screens.exports import ExportsScreen

PROBLEM = "application/problem+json"
SPEC = SiteSpec(cameras=1, kecamatan=("Sangatta Utara",), segment_seconds=2, fps=10)
DAYS = 30
WITA_ZONE = timezone(timedelta(hours=8))  # as people read dates: Asia/Makassar, no DST


@dataclass
class Vault:
    live: Live
    s3: S3Engine
    bucket: str

    @property
    def camera(self) -> str:
        return self.live.site.camera_ids[0]

    def cli(self, *args: str, role: str = "operator") -> Any:
        env = node_env(self.live.server.url, self.live.site.tokens[role], columns=200)
        return run_cctvctl(*args, env=env)

    def versions(self, key: str) -> list[dict[str, Any]]:
        answer = self.s3.client().list_object_versions(Bucket=self.bucket, Prefix=key)
        return [v for v in answer.get("Versions", []) if v["Key"] == key]


def _with_vault(site_config: Path, secrets: Path, s3: S3Engine, bucket: str) -> None:
    footage = s3.make_bucket()
    table = archive_table(
        s3, footage, evidence_bucket=bucket, evidence_days=DAYS, evidence_mode="governance"
    )
    site_config.write_text(site_config.read_text() + "\n" + table)
    keys = f'\n[archive]\naccess_key = "{ACCESS_KEY}"\nsecret_key = "{SECRET_KEY}"\n'
    secrets.write_text(secrets.read_text() + keys)


@pytest.fixture(scope="module")
def vault(
    tmp_path_factory: pytest.TempPathFactory, sim_cache: Path, s3_engine: S3Engine
) -> Iterator[Vault]:
    s3_engine.start()
    bucket = s3_engine.make_bucket(object_lock=True)
    # The vault must be in the file before the server reads it.
    site = write_site(tmp_path_factory.mktemp("vault"), SPEC)
    _with_vault(site.config, site.dir / "secrets.toml", s3_engine, bucket)
    with serving(site, start_sim(site, sim_cache)) as live:
        yield Vault(live, s3_engine, bucket)


def _closed_window(v: Vault) -> tuple[str, str]:
    """A window of the camera's closed footage (the latest closed segment)."""

    def rows() -> list[dict[str, Any]] | None:
        resp = v.live.server.get(f"/api/v1/cameras/{v.camera}/recordings")
        segs: list[dict[str, Any]] = resp.json()["segments"]
        return segs or None

    last = wait_for(rows, 40, what="a closed segment")[-1]
    return last["start"], last["end"]


def _export(v: Vault, case: str) -> dict[str, Any]:
    """Queue an export of closed footage for ``case`` and wait until it is done."""
    start, end = _closed_window(v)
    with v.live.server.client("operator") as api:
        resp = api.post(
            "/api/v1/exports",
            json={"camera": v.camera, "start": start, "end": end, "case_id": case},
        )
        assert resp.status_code == 202, resp.text
        job_id = resp.json()["id"]

        def done() -> dict[str, Any] | None:
            job: dict[str, Any] = api.get(f"/api/v1/exports/{job_id}").json()
            return job if job["state"] == "done" else None

        return wait_for(done, 60, what=f"export {job_id} done")


def _stored(v: Vault, job_id: str, timeout: float = 30) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        job: dict[str, Any] = v.live.server.get(f"/api/v1/exports/{job_id}", "operator").json()
        vault = job.get("vault")
        return job if vault and vault["state"] == "stored" else None

    return wait_for(probe, timeout, what=f"the vault copy of {job_id}")


def _audit(v: Vault, action: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = v.live.server.get(
        "/api/v1/audit", "admin", params={"action": action}
    ).json()
    return rows


def test_export_is_stored_locked_and_nobody_deletes_it(vault: Vault) -> None:
    job = _stored(vault, _export(vault, "LP/101/XI/2026")["id"])
    copy = job["vault"]
    clip, manifest_obj = copy["clip"], copy["manifest"]
    # One version each, exactly the bytes the job made.
    [clip_v] = vault.versions(clip["key"])
    [man_v] = vault.versions(manifest_obj["key"])
    assert clip_v["VersionId"] == clip["version_id"]
    assert man_v["VersionId"] == manifest_obj["version_id"]
    s3 = vault.s3.client()
    body = s3.get_object(Bucket=vault.bucket, Key=clip["key"])["Body"].read()
    assert hashlib.sha256(body).hexdigest() == job["sha256"]
    # The manifest in the vault names the clip's version, and is the one a client gets.
    stored_manifest = s3.get_object(
        Bucket=vault.bucket, Key=manifest_obj["key"], VersionId=manifest_obj["version_id"]
    )["Body"].read()
    assert hashlib.sha256(stored_manifest).hexdigest() == manifest_obj["sha256"]
    in_vault = json.loads(stored_manifest)
    assert in_vault["vault"]["clip_version"] == clip["version_id"]
    assert in_vault["vault"]["clip_key"] == clip["key"]
    served = vault.live.server.get(f"/api/v1/exports/{job['id']}/manifest", "operator").json()
    assert served == in_vault
    # Retention: the store has the mode and the date the job says, evidence_days on.
    head = s3.head_object(Bucket=vault.bucket, Key=clip["key"], VersionId=clip["version_id"])
    assert head["ObjectLockMode"] == "GOVERNANCE"
    until = head["ObjectLockRetainUntilDate"].astimezone(UTC)
    finished = datetime.fromisoformat(job["finished"].replace("Z", "+00:00"))
    assert abs(until - (finished + timedelta(days=DAYS))) < timedelta(seconds=2)
    # The manifest's own version is in the audit row of the copy.
    [row] = [r for r in _audit(vault, "export.vault") if r["target"] == job["id"]]
    assert manifest_obj["version_id"] in row["detail"] and row["result"] == "ok"

    # The store itself refuses to delete the locked versions.
    for key, version in (
        (clip["key"], clip["version_id"]),
        (manifest_obj["key"], man_v["VersionId"]),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            s3.delete_object(Bucket=vault.bucket, Key=key, VersionId=version)
        assert refused.value.response["Error"]["Code"] == "AccessDenied"

    # And so does cctvctl: a 409 naming the date, audited, nothing deleted.
    with vault.live.server.client("operator") as api:
        resp = api.delete(f"/api/v1/exports/{job['id']}")
        assert resp.status_code == 409, resp.text
        assert resp.headers["content-type"].startswith(PROBLEM)
        problem = resp.json()
        assert problem["type"] == "urn:cctvctl:problem:evidence-locked"
        assert until.date().isoformat() in problem["detail"]
        assert api.get(f"/api/v1/exports/{job['id']}").json()["state"] == "done"
        assert api.get(f"/api/v1/exports/{job['id']}/file").status_code == 200
    refused_rows = [
        r
        for r in _audit(vault, "export.cancel")
        if r["result"] == "refused" and job["id"] in (r["detail"] or "")
    ]
    assert len(refused_rows) == 1 and "retained under Object Lock" in refused_rows[0]["detail"]
    shown = vault.cli("exports", "show", job["id"], "--utc")
    assert shown.returncode == 0, shown.stderr
    flat = shown.stdout.replace("\n", "")  # a long line folds at the terminal's width
    assert f"stored: {vault.bucket}/{clip['key']} version {clip['version_id']}" in flat
    assert f"governance until {until.date().isoformat()}" in flat
    proc = vault.cli("exports", "cancel", job["id"])
    assert proc.returncode == 2
    assert "cannot be deleted before" in last_error(proc)
    assert len(vault.versions(clip["key"])) == 1


def test_legal_hold_holds_past_a_governance_bypass(vault: Vault) -> None:
    case = "LP/123/XI/2026"
    job = _stored(vault, _export(vault, case)["id"])
    clip = job["vault"]["clip"]
    s3 = vault.s3.client()

    # An operator may not; the attempt is audited.
    proc = vault.cli("case", "hold", case)
    assert proc.returncode == 4, proc.stderr
    assert [r for r in _audit(vault, "case.hold") if r["result"] == "refused"]

    proc = vault.cli("case", "hold", case, "--reason", "court order 7/2026", "--json", role="admin")
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["held"] and answer["jobs"] == [job["id"]]
    assert answer["applied"] == 2 and answer["pending"] == 0
    hold = s3.get_object_legal_hold(
        Bucket=vault.bucket, Key=clip["key"], VersionId=clip["version_id"]
    )
    assert hold["LegalHold"]["Status"] == "ON"
    [row] = [r for r in _audit(vault, "case.hold") if r["result"] == "ok"]
    assert row["actor"] == "test-admin" and row["case_id"] == case
    assert row["reason"] == "court order 7/2026"

    # Governance lets a privileged caller bypass the retention: the hold still refuses.
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        s3.delete_object(
            Bucket=vault.bucket,
            Key=clip["key"],
            VersionId=clip["version_id"],
            BypassGovernanceRetention=True,
        )
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    job_now = vault.live.server.get(f"/api/v1/exports/{job['id']}", "operator").json()
    assert job_now["vault"]["legal_hold"] is True

    proc = vault.cli("case", "release", case, "--reason", "case closed", role="admin")
    assert proc.returncode == 0, proc.stderr
    assert "not held" in proc.stdout
    [released] = _audit(vault, "case.release")
    assert released["result"] == "ok" and released["actor"] == "test-admin"
    hold = s3.get_object_legal_hold(
        Bucket=vault.bucket, Key=clip["key"], VersionId=clip["version_id"]
    )
    assert hold["LegalHold"]["Status"] == "OFF"
    # Released, governance's bypass goes through: it was the hold that refused it above.
    s3.delete_object(
        Bucket=vault.bucket,
        Key=clip["key"],
        VersionId=clip["version_id"],
        BypassGovernanceRetention=True,
    )
    assert vault.versions(clip["key"]) == []


def test_verify_catches_a_clip_replaced_in_the_bucket(vault: Vault) -> None:
    case = "LP/200/XII/2026"
    job = _stored(vault, _export(vault, case)["id"])
    clip = job["vault"]["clip"]

    proc = vault.cli("exports", "verify", job["id"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "VERIFIED" in proc.stdout and clip["version_id"] in proc.stdout

    # The lock keeps the old version; a writer can still put a new one over the key.
    forged = vault.s3.client().put_object(Bucket=vault.bucket, Key=clip["key"], Body=b"not it")
    proc = vault.cli("exports", "verify", "--case", case, "--json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    [check] = json.loads(proc.stdout)
    assert check["state"] == "failed" and not check["ok"]
    assert check["latest_version"] == forged["VersionId"]
    assert check["sha256_found"] == hashlib.sha256(b"not it").hexdigest()
    assert check["sha256_expected"] == job["sha256"]
    assert any("was replaced" in p for p in check["problems"])
    assert any("locked original" in p for p in check["problems"])
    listed = vault.cli("exports", "ls", "--case", case, "--json")
    assert [j["id"] for j in json.loads(listed.stdout)] == [job["id"]]
    failed = [r for r in _audit(vault, "export.verify") if r["result"] == "failed"]
    assert len(failed) == 1 and failed[0]["target"] == job["id"]
    assert failed[0]["actor"] == "test-operator"


def test_store_down_during_an_export_the_copy_lands_once(vault: Vault) -> None:
    start, end = _closed_window(vault)
    vault.s3.stop()
    try:
        with vault.live.server.client("operator") as api:
            resp = api.post(
                "/api/v1/exports",
                json={"camera": vault.camera, "start": start, "end": end, "case_id": "LP/9/2026"},
            )
            job_id = resp.json()["id"]

            def pending() -> dict[str, Any] | None:
                job: dict[str, Any] = api.get(f"/api/v1/exports/{job_id}").json()
                ok = job["state"] == "done" and job["vault"] and job["vault"]["error"]
                return job if ok else None

            job = wait_for(pending, 60, what="a done export whose vault copy is pending")
            assert job["vault"]["state"] == "pending"
            # Its files are the only copy: neither a delete nor expiry removes them.
            resp = api.delete(f"/api/v1/exports/{job_id}")
            assert resp.status_code == 409
            assert resp.json()["vault_pending"] is True
            assert "cctv_evidence_vault_pending 1.0" in api.get("/metrics").text
            shown = vault.cli("exports", "show", job_id)
            assert "vault     PENDING (attempt" in shown.stdout, shown.stdout
            time.sleep(3)  # a retry or two fail meanwhile
    finally:
        vault.s3.start()
    job = _stored(vault, job_id, timeout=90)
    assert job["vault"]["attempts"] >= 1
    [clip_v] = vault.versions(job["vault"]["clip"]["key"])
    [man_v] = vault.versions(job["vault"]["manifest"]["key"])
    assert clip_v["VersionId"] == job["vault"]["clip"]["version_id"]
    assert man_v["VersionId"] == job["vault"]["manifest"]["version_id"]
    rows = [r for r in _audit(vault, "export.vault") if r["target"] == job_id]
    assert [r["result"] for r in rows] == ["pending", "ok"]
    assert "cctv_evidence_vault_pending 0.0" in vault.live.server.get("/metrics").text


def _wita_day(text: str) -> str:
    return datetime.fromisoformat(text).astimezone(WITA_ZONE).strftime("%Y-%m-%d")


async def test_exports_ls_and_the_exports_screen_show_each_jobs_vault_copy(vault: Vault) -> None:
    stored = _stored(vault, _export(vault, "LP/31/XI/2026")["id"])
    held_case = "LP/32/XI/2026"
    held = _stored(vault, _export(vault, held_case)["id"])
    proc = vault.cli("case", "hold", held_case, "--reason", "court order", role="admin")
    assert proc.returncode == 0, proc.stderr
    until_day = _wita_day(stored["vault"]["retain_until"])
    finished = datetime.fromisoformat(stored["finished"])
    assert _wita_day((finished + timedelta(days=DAYS)).isoformat()) == until_day

    vault.s3.stop()  # the next copy cannot land: pending
    try:
        start, end = _closed_window(vault)
        with vault.live.server.client("operator") as api:
            resp = api.post(
                "/api/v1/exports",
                json={"camera": vault.camera, "start": start, "end": end, "case_id": "LP/33/2026"},
            )
            pending_id = resp.json()["id"]

            def is_pending() -> bool:
                job = api.get(f"/api/v1/exports/{pending_id}").json()
                return bool(job["state"] == "done" and job["vault"] and job["vault"]["error"])

            wait_for(is_pending, 60, what="a done export whose vault copy is pending")

        words = {stored["id"]: f"stored until {until_day}", held["id"]: "held"}
        words[pending_id] = "pending"
        listed = vault.cli("exports", "ls", "--limit", "1000")
        assert listed.returncode == 0, listed.stderr
        assert "VAULT" in listed.stdout.splitlines()[0]
        for job_id, word in words.items():
            [line] = [ln for ln in listed.stdout.splitlines() if ln.startswith(job_id)]
            assert word in line, line

        # The console at 80x24: the Vault column beside the state, a word per job.
        app = CctvApp(
            vault.live.server.url, vault.live.site.tokens["operator"], "vault", refresh=0.5
        )
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await opened_by(pilot, "x", ExportsScreen)
            await until(pilot, lambda: all(j in screen.table.rows for j in words), timeout=30)
            text = screen_text(app)
            assert "Vault" in text
            compact = {**words, stored["id"]: f"until {until_day}"}
            for job_id, word in compact.items():
                [line] = [ln for ln in text.splitlines() if job_id[:8] in ln]
                assert word in line, line
            assert max(len(line) for line in text.splitlines()) <= 80
    finally:
        vault.s3.start()
    _stored(vault, pending_id, timeout=90)  # lands once the store is back


# --------------------------------------------------------------------------- in process


def _keys() -> ArchiveKeys:
    from pydantic import SecretStr

    return ArchiveKeys(access_key=SecretStr(ACCESS_KEY), secret_key=SecretStr(SECRET_KEY))


def _local_vault(
    tmp_path: Path,
    s3: S3Engine,
    bucket: str,
    mode: str,
    clock: Callable[[], float] = time.time,
) -> tuple[EvidenceVault, Database]:
    db = Database(tmp_path / "storage")
    store = ExportStore(db)
    files = ExportFiles(db.root)
    config = ArchiveConfig(endpoint=s3.endpoint, bucket=bucket, evidence_bucket=bucket)
    client = make_client(config, _keys(), max_attempts=1)
    vault = EvidenceVault(
        bucket=EvidenceBucket(client, bucket),
        settings=VaultSettings(bucket=bucket, days=config.evidence_days, mode=mode),
        store=store,
        files=files,
        trail=JobTrail("export", AuditLog(db), None, lambda camera: None),
        clock=clock,
    )
    return vault, db


def _done_job(
    vault: EvidenceVault,
    clip: bytes,
    *,
    job_id: str = "a1b2c3d4e5f60718",
    requester: str = "test-operator",
    case_id: str = "LP/1/2026",
) -> str:
    """A finished job with real files, as the export queue leaves one."""
    from cctvctl.models import ExportManifest

    now = datetime.now(UTC)
    store = vault.store
    job = store.create(
        job_id,
        camera="cam-1",
        start=now - timedelta(minutes=2),
        end=now - timedelta(minutes=1),
        requester=requester,
        role="operator",
        case_id=case_id,
        note=None,
    )
    digest = hashlib.sha256(clip).hexdigest()
    folder = vault.files.job_dir(job.id)
    folder.mkdir(parents=True)
    vault.files.clip_path(job).write_bytes(clip)
    manifest = ExportManifest(
        job=job.id,
        file=vault.files.clip_path(job).name,
        camera="cam-1",
        camera_name="c",
        kecamatan="k",
        site="s",
        requested_start=job.start,
        requested_end=job.end,
        first_frame=job.start,
        last_frame=job.end,
        timeline="t",
        gaps=[],
        missing_seconds=0,
        frames=1,
        codec="h264",
        sha256=digest,
        size=len(clip),
        sources=[],
        requester="test-operator",
        created=job.created,
        finished=now,
        server_version="test",
    )
    vault.files.manifest_path(job).write_text(manifest.model_dump_json(indent=2) + "\n")
    store.update(
        job.id, state=ExportState.DONE, sha256=digest, size=len(clip), finished=now.timestamp()
    )
    return job.id


def test_default_mode_is_compliance(tmp_path: Path, s3: S3Engine) -> None:
    bucket = s3.make_bucket(object_lock=True)
    default_mode = ArchiveConfig(endpoint=s3.endpoint, bucket=bucket).evidence_mode
    assert default_mode == "compliance"
    vault, db = _local_vault(tmp_path, s3, bucket, default_mode)
    try:
        job_id = _done_job(vault, b"clip bytes" * 100)
        vault.finished(job_id)
        row = vault.log.get(job_id)
        assert row is not None and row.state.value == "stored" and row.clip_version
        head = s3.client().head_object(Bucket=bucket, Key=row.clip_key, VersionId=row.clip_version)
        assert head["ObjectLockMode"] == "COMPLIANCE"
        with pytest.raises(botocore.exceptions.ClientError):
            s3.client().delete_object(
                Bucket=bucket,
                Key=row.clip_key,
                VersionId=row.clip_version,
                BypassGovernanceRetention=True,
            )
    finally:
        db.close()


def test_a_retry_adopts_the_version_whose_answer_was_lost(tmp_path: Path, s3: S3Engine) -> None:
    """The put landed but the node never heard (link cut on the way back, or a crash before
    the version was written down): the retry finds it by its SHA-256 and stores nothing."""
    bucket = s3.make_bucket(object_lock=True)
    vault, db = _local_vault(tmp_path, s3, bucket, "governance")
    try:
        clip = b"evidence" * 500
        job_id = _done_job(vault, clip)
        job = vault.store.get(job_id)
        assert job is not None
        row = vault.record(job)
        assert row is not None
        landed = vault.bucket.put_locked(
            row.clip_key,
            clip,
            sha256=row.clip_sha256,
            mode="governance",
            retain_until=datetime.now(UTC) + timedelta(days=1),
            legal_hold=False,
            metadata={},
        )
        # The attempt that stored it began (and was counted) before the crash.
        vault.log.update(job_id, attempts=1)
        assert vault.log.get(job_id).clip_version is None  # type: ignore[union-attr]
        vault.store_copy(job_id)
        after = vault.log.get(job_id)
        assert after is not None and after.state.value == "stored"
        assert after.clip_version == landed
        answer = s3.client().list_object_versions(Bucket=bucket, Prefix=row.clip_key)
        assert [v["VersionId"] for v in answer["Versions"]] == [landed]
    finally:
        db.close()


def test_a_hold_asked_while_the_store_is_down_lands_when_it_is_back(
    tmp_path: Path, s3: S3Engine
) -> None:
    bucket = s3.make_bucket(object_lock=True)
    vault, db = _local_vault(tmp_path, s3, bucket, "governance")
    admin = _Who("test-admin", "admin")
    try:
        job_id = _done_job(vault, b"x" * 1000, case_id="LP/77/2026")
        vault.finished(job_id)
        row = vault.log.get(job_id)
        assert row is not None and row.clip_version is not None
        s3.stop()
        try:
            answer = vault.hold("LP/77/2026", admin, "court order")
        finally:
            s3.start()
        assert answer.held and answer.pending == 2 and answer.applied == 0
        client = s3.client()
        status = client.get_object_legal_hold(
            Bucket=bucket, Key=row.clip_key, VersionId=row.clip_version
        )
        assert status["LegalHold"]["Status"] == "OFF"  # the store never heard
        vault.pass_once()  # the keeper's next pass
        for key, version in (
            (row.clip_key, row.clip_version),
            (row.manifest_key, row.manifest_version),
        ):
            status = client.get_object_legal_hold(Bucket=bucket, Key=key, VersionId=version)
            assert status["LegalHold"]["Status"] == "ON"
        assert vault.case("LP/77/2026").pending == 0
        [entry] = AuditLog(db).entries(action="case.hold")
        assert entry.actor == "test-admin" and "2 pending" in (entry.detail or "")
    finally:
        db.close()


def test_the_keeper_stores_done_jobs_it_never_heard_of_but_not_fleet_parts(
    tmp_path: Path, s3: S3Engine
) -> None:
    """A crash between the job's done and its vault row, or a vault configured later: the
    keeper's pass stores the job. A part another fleet node asked for is not evidence."""
    bucket = s3.make_bucket(object_lock=True)
    vault, db = _local_vault(tmp_path, s3, bucket, "governance")
    try:
        mine = _done_job(vault, b"m" * 800, job_id="b1b2c3d4e5f60718")
        part = _done_job(vault, b"p" * 800, job_id="c1b2c3d4e5f60718", requester="node:sgs-1")
        vault.finished(part)
        assert vault.log.get(part) is None
        vault.pass_once()
        row = vault.log.get(mine)
        assert row is not None and row.state.value == "stored"
        assert vault.log.get(part) is None
        keys = s3.keys(bucket)
        assert keys == sorted([row.clip_key, row.manifest_key])
    finally:
        db.close()


@dataclass(frozen=True)
class _Who:
    name: str
    role: str


def test_bad_requests_get_one_clear_line(vault: Vault) -> None:
    proc = vault.cli("exports", "verify")
    assert proc.returncode == 2 and "give one export JOB or --case CASE" in last_error(proc)
    proc = vault.cli("exports", "verify", "abc", "--case", "LP/1")
    assert proc.returncode == 2 and "not both" in last_error(proc)
    proc = vault.cli("exports", "verify", "0000000000000000")
    assert proc.returncode == 2 and "no export job" in last_error(proc)
    proc = vault.cli("exports", "verify", "--case", "LP/none/2026")
    assert proc.returncode == 2 and "no export of this case is in the vault" in last_error(proc)
    proc = vault.cli("case", "hold", " ", role="admin")
    assert proc.returncode == 2 and "case_id" in last_error(proc)
    with vault.live.server.client("viewer") as api:
        resp = api.post("/api/v1/exports/0000000000000000/verify")
        assert resp.status_code == 403
        assert resp.headers["content-type"].startswith(PROBLEM)
        resp = api.get("/api/v1/cases/hold", params={"case_id": "LP/1"})
        assert resp.status_code == 403
    with vault.live.server.client("admin") as api:
        resp = api.post("/api/v1/cases/hold", content=b"{not json")
        assert resp.status_code == 422 and resp.headers["content-type"].startswith(PROBLEM)
        resp = api.get("/api/v1/cases/hold", params={"case_id": "LP/never/held"})
        assert resp.status_code == 200 and resp.json()["held"] is False


def test_a_server_without_a_vault_says_so(live_factory: Any) -> None:
    live = live_factory(SiteSpec(cameras=1, kecamatan=("Bengalon",)))
    env = node_env(live.server.url, live.site.tokens["admin"], columns=200)
    proc = run_cctvctl("case", "hold", "LP/1/2026", env=env)
    assert proc.returncode == 2
    assert "no evidence vault: [archive] evidence_bucket is not set" in last_error(proc)
    with live.server.client("operator") as api:
        resp = api.post("/api/v1/exports/0000000000000000/verify")
        assert resp.status_code == 404
        assert resp.json()["type"] == "urn:cctvctl:problem:no-evidence-vault"
        # The role is checked before the vault is looked for: the same refusal (and, for a
        # hold, the same audit row) as on a node with a vault.
        resp = api.post("/api/v1/cases/hold", json={"case_id": "LP/2/2026"})
        assert resp.status_code == 403 and "a legal hold needs 'admin'" in resp.json()["detail"]
    with live.server.client("viewer") as api:
        resp = api.post("/api/v1/exports/0000000000000000/verify")
        assert resp.status_code == 403
        resp = api.get("/api/v1/cases/hold", params={"case_id": "LP/2/2026"})
        assert resp.status_code == 403
    rows = live.server.get("/api/v1/audit", "admin", params={"action": "case.hold"}).json()
    # Refused before its body was read: the row names who, not which case.
    assert [(r["actor"], r["case_id"], r["result"]) for r in rows] == [
        ("test-operator", None, "refused")
    ]


def test_verify_fails_a_clip_hidden_by_a_delete_marker(tmp_path: Path, s3: S3Engine) -> None:
    """A delete without a version id only hides the locked version behind a marker: the
    key serves nothing, verify fails and says the original is still there."""
    bucket = s3.make_bucket(object_lock=True)
    vault, db = _local_vault(tmp_path, s3, bucket, "compliance")
    who = _Who("test-operator", "operator")
    try:
        job_id = _done_job(vault, b"d" * 2000)
        vault.finished(job_id)
        assert vault.verify(job_id, who).ok
        row = vault.log.get(job_id)
        assert row is not None
        s3.client().delete_object(Bucket=bucket, Key=row.clip_key)  # a marker, allowed
        check = vault.verify(job_id, who)
        assert not check.ok and check.state == "failed"
        assert any("delete marker" in p for p in check.problems)
        assert any("locked original" in p for p in check.problems)
        results = [e.result for e in AuditLog(db).entries(action="export.verify")]
        assert results == ["ok", "failed"]
    finally:
        db.close()


def test_a_pass_with_the_store_down_stops_at_the_first_copy(tmp_path: Path, s3: S3Engine) -> None:
    """Each call to a dead store costs its time-outs; the keeper does not pay them for the
    whole queue on every pass. Both copies land, once each, when the store is back."""
    bucket = s3.make_bucket(object_lock=True)
    vault, db = _local_vault(tmp_path, s3, bucket, "governance")
    try:
        first = _done_job(vault, b"1" * 900, job_id="d1b2c3d4e5f60718")
        second = _done_job(vault, b"2" * 900, job_id="e1b2c3d4e5f60718")
        s3.stop()
        try:
            vault.pass_once()
        finally:
            s3.start()
        tried = {j: vault.log.get(j) for j in (first, second)}
        assert sorted(r.attempts for r in tried.values() if r is not None) == [0, 1]
        for job_id in (first, second):
            vault.log.update(job_id, next_try=0)
        vault.pass_once()
        for job_id in (first, second):
            row = vault.log.get(job_id)
            assert row is not None and row.state.value == "stored"
        assert len(s3.keys(bucket)) == 4
    finally:
        db.close()


def test_a_hold_outlasts_the_retention_date_for_a_delete(tmp_path: Path, s3: S3Engine) -> None:
    """Past its date a copy may go, unless its case is held: then the refusal names the
    hold, not a date that has passed."""
    bucket = s3.make_bucket(object_lock=True)
    now = [time.time()]
    vault, db = _local_vault(tmp_path, s3, bucket, "governance", clock=lambda: now[0])
    who = _Who("test-admin", "admin")
    try:
        job_id = _done_job(vault, b"h" * 700, case_id="LP/5/2026")
        vault.finished(job_id)
        job = vault.store.get(job_id)
        assert job is not None
        locked = vault.locked(job)
        assert locked is not None and "cannot be deleted before then" in locked.detail
        now[0] += 366 * 86400.0  # past evidence_days (365)
        assert vault.locked(job) is None
        vault.hold("LP/5/2026", who, None)
        locked = vault.locked(job)
        assert locked is not None and locked.legal_hold
        assert locked.detail.endswith(
            "under the legal hold of case LP/5/2026; it cannot be deleted until released"
        )
        vault.release("LP/5/2026", who, None)
        assert vault.locked(job) is None
    finally:
        db.close()


def test_a_bucket_without_object_lock_is_said_loudly_and_stores_nothing(
    tmp_path: Path, s3: S3Engine, caplog: pytest.LogCaptureFixture
) -> None:
    bucket = s3.make_bucket()  # no Object Lock: a bucket that would protect nothing
    vault, db = _local_vault(tmp_path, s3, bucket, "compliance")
    try:
        with caplog.at_level(logging.ERROR, logger="cctvctl.exports.vault"):
            vault._check_bucket()
        assert any("has no Object Lock" in r.getMessage() for r in caplog.records)
        job_id = _done_job(vault, b"n" * 600)
        vault.finished(job_id)
        row = vault.log.get(job_id)
        assert row is not None and row.state.value == "pending" and row.error
        assert s3.keys(bucket) == []
    finally:
        db.close()


def test_a_clip_above_the_threshold_is_a_multipart_upload_born_locked(
    tmp_path: Path, s3: S3Engine
) -> None:
    bucket = s3.make_bucket(object_lock=True)
    vault, db = _local_vault(tmp_path, s3, bucket, "compliance")
    # S3's least part is 5 MiB (the last excepted): 12 MiB is three parts.
    vault.bucket.multipart_threshold = 6 << 20
    vault.bucket.part_size = 5 << 20
    # What cctvctl asks of the store, seen where the request leaves (botocore's own hook).
    created: list[dict[str, Any]] = []
    vault.bucket.client.meta.events.register(
        "provide-client-params.s3.CreateMultipartUpload",
        lambda params, **_: created.append(dict(params)),
    )
    sent: list[dict[str, Any]] = []
    vault.bucket.client.meta.events.register(
        "provide-client-params.s3.UploadPart",
        lambda params, **_: sent.append({k: v for k, v in params.items() if k != "Body"}),
    )
    try:
        vault.hold("LP/44/2026", _Who("test-admin", "admin"), "court order")
        clip = os.urandom(12 << 20)
        job_id = _done_job(vault, clip, case_id="LP/44/2026")
        vault.finished(job_id)
        row = vault.log.get(job_id)
        assert row is not None and row.state.value == "stored" and row.clip_version
        client = s3.client()
        head = client.head_object(Bucket=bucket, Key=row.clip_key, VersionId=row.clip_version)
        assert head["ETag"].strip('"').endswith("-3")  # three parts, not one PUT
        # Born locked: the lock and the hold are asked at CreateMultipartUpload, and are on
        # the version (moto applies only the bucket's default there, so cctvctl read the
        # version back and set them; a real store has them from creation).
        [asked] = created
        assert asked["ObjectLockMode"] == "COMPLIANCE"
        assert asked["ObjectLockLegalHoldStatus"] == "ON"
        assert abs(asked["ObjectLockRetainUntilDate"].timestamp() - row.retain_until) < 1
        assert asked["ChecksumAlgorithm"] == "SHA256"
        assert head["ObjectLockMode"] == "COMPLIANCE"
        assert abs(head["ObjectLockRetainUntilDate"].timestamp() - row.retain_until) < 1
        assert head["ObjectLockLegalHoldStatus"] == "ON"
        assert head["Metadata"]["sha256"] == hashlib.sha256(clip).hexdigest()
        # Each part went with its own SHA-256, the store's to verify.
        mib5 = 5 << 20
        slices = [clip[i : i + mib5] for i in range(0, len(clip), mib5)]
        assert [(p["PartNumber"], p["ChecksumSHA256"]) for p in sent] == [
            (n, base64.b64encode(hashlib.sha256(b).digest()).decode())
            for n, b in enumerate(slices, 1)
        ]
        body = client.get_object(Bucket=bucket, Key=row.clip_key, VersionId=row.clip_version)
        assert hashlib.sha256(body["Body"].read()).hexdigest() == row.clip_sha256
        small = client.head_object(
            Bucket=bucket, Key=row.manifest_key, VersionId=row.manifest_version
        )
        assert "-" not in small["ETag"]  # the manifest, under the threshold: one PUT
        with pytest.raises(botocore.exceptions.ClientError):
            client.delete_object(Bucket=bucket, Key=row.clip_key, VersionId=row.clip_version)
        # A retry recognises the multipart version by its SHA-256, as a PUT's.
        assert vault.bucket.find_version(row.clip_key, row.clip_sha256) == row.clip_version
        assert not client.list_multipart_uploads(Bucket=bucket).get("Uploads")

        # A file that is not what the export recorded is refused before a byte goes.
        job = vault.store.get(job_id)
        assert job is not None
        with pytest.raises(VaultRefused, match=r"not the 0+ the export recorded"):
            vault.bucket.put_locked(
                "cam-1/other/clip.mp4",
                vault.files.clip_path(job),
                sha256="0" * 64,
                mode="compliance",
                retain_until=datetime.now(UTC) + timedelta(days=1),
                legal_hold=False,
                metadata={},
            )
        assert s3.keys(bucket, "cam-1/other/") == []
        assert not client.list_multipart_uploads(Bucket=bucket).get("Uploads")
    finally:
        db.close()
