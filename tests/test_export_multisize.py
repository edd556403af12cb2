"""An export across a change of the camera's picture size, end to end: the real recorder
records the simulator's `resize` fault, the server makes one clip per size, and every
clip goes the whole way: `cctvctl export` and `exports download` save and verify each,
`exports show` lists them, and the evidence vault (moto's S3 server, Object Lock) stores
each under lock, names each in its manifest, and `exports verify` catches one replaced.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from cli_process import node_env, run_cctvctl
from harness import (
    Live,
    SiteSpec,
    serving,
    sized_segment_spans,
    start_sim,
    wait_for,
    write_site,
)
from s3_harness import ACCESS_KEY, SECRET_KEY, S3Engine, archive_table

SPEC = SiteSpec(cameras=1, kecamatan=("Sangatta Utara",), segment_seconds=2, fps=10)
BEFORE = (SPEC.width, SPEC.height)
AFTER = (160, 96)


@dataclass
class Rig:
    live: Live
    s3: S3Engine
    bucket: str
    start: datetime  # a window of closed footage across the change of size
    end: datetime

    @property
    def camera(self) -> str:
        return self.live.site.camera_ids[0]

    def cli(self, *args: str, role: str = "operator") -> Any:
        env = node_env(self.live.server.url, self.live.site.tokens[role], columns=250)
        return run_cctvctl(*args, env=env, timeout=120)

    def versions(self, key: str) -> list[dict[str, Any]]:
        answer = self.s3.client().list_object_versions(Bucket=self.bucket, Prefix=key)
        return [v for v in answer.get("Versions", []) if v["Key"] == key]


@pytest.fixture(scope="module")
def rig(
    tmp_path_factory: pytest.TempPathFactory, sim_cache: Path, s3_engine: S3Engine
) -> Iterator[Rig]:
    s3_engine.start()
    bucket = s3_engine.make_bucket(object_lock=True)
    site = write_site(tmp_path_factory.mktemp("multisize"), SPEC)
    table = archive_table(
        s3_engine,
        s3_engine.make_bucket(),
        evidence_bucket=bucket,
        evidence_days=30,
        evidence_mode="governance",
    )
    site.config.write_text(site.config.read_text() + "\n" + table)
    secrets = site.dir / "secrets.toml"
    keys = f'\n[archive]\naccess_key = "{ACCESS_KEY}"\nsecret_key = "{SECRET_KEY}"\n'
    secrets.write_text(secrets.read_text() + keys)
    with serving(site, start_sim(site, sim_cache)) as live:
        camera = site.camera_ids[0]
        wait_for(
            lambda: len(sized_segment_spans(site.storage, camera)) >= 2,
            40,
            what="two closed segments before the change",
        )
        resp = httpx.post(
            f"http://127.0.0.1:{site.control_port}/cameras/{camera}/fault",
            json={"mode": "resize", "size": f"{AFTER[0]}x{AFTER[1]}"},
            timeout=120,
        )
        assert resp.status_code == 200, resp.text

        def across() -> tuple[float, float] | None:
            segs = sized_segment_spans(site.storage, camera)
            before = [s for s in segs if (s[2], s[3]) == BEFORE]
            after = [s for s in segs if (s[2], s[3]) == AFTER]
            if not before or len(after) < 2:
                return None
            # The recorder's own times: the last segment before, the first after.
            return before[-1][0] + 0.3, after[0][1] - 0.3

        lo, hi = wait_for(across, 40, what="closed segments of both sizes")
        yield Rig(
            live,
            s3_engine,
            bucket,
            datetime.fromtimestamp(lo, UTC),
            datetime.fromtimestamp(hi, UTC),
        )


def _frame_sizes(path: Path) -> set[tuple[int, int]]:
    with av.open(str(path)) as container:
        return {(f.width, f.height) for f in container.decode(video=0)}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_cli_saves_and_verifies_every_clip(rig: Rig, tmp_path: Path) -> None:
    out = tmp_path / "evidence.mp4"
    proc = rig.cli(
        "export",
        rig.camera,
        "--from",
        rig.start.isoformat(),
        "--to",
        rig.end.isoformat(),
        "--case",
        "LP/13/XII/2026",
        "-o",
        str(out),
        "--json",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    answer = json.loads(proc.stdout)
    manifest = answer["manifest"]
    assert [(c["width"], c["height"]) for c in manifest["clips"]] == [BEFORE, AFTER]
    second = tmp_path / f"evidence_2_{AFTER[0]}x{AFTER[1]}.mp4"
    assert [c["file"] for c in answer["clips"]] == [str(out), str(second)]
    # Each file on disk is the server's clip: its SHA-256, its size, its one picture size.
    for path, clip in zip((out, second), manifest["clips"], strict=True):
        assert _sha256(path) == clip["sha256"]
        assert path.stat().st_size == clip["size"]
        assert _frame_sizes(path) == {(clip["width"], clip["height"])}
    assert json.loads((tmp_path / "evidence.mp4.manifest.json").read_text()) == manifest
    assert not list(tmp_path.glob("*.part"))
    job_id = answer["job"]["id"]

    # Download again for people: one line per clip (file, size, span, SHA-256).
    again = tmp_path / "again.mp4"
    proc = rig.cli("exports", "download", job_id, "-o", str(again), "--utc")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    [one] = [line for line in lines if line.startswith("clip 1")]
    [two] = [line for line in lines if line.startswith("clip 2")]
    again_2 = tmp_path / f"again_2_{AFTER[0]}x{AFTER[1]}.mp4"
    assert str(again) in one and f"{BEFORE[0]}x{BEFORE[1]}" in one
    assert manifest["clips"][0]["sha256"] in one
    assert str(again_2) in two and f"{AFTER[0]}x{AFTER[1]}" in two
    assert manifest["clips"][1]["sha256"] in two
    assert _sha256(again_2) == manifest["clips"][1]["sha256"]
    assert "every clip's size and SHA-256 match the manifest" in proc.stdout

    # A further clip's file in the way: refused before a byte, named, exit 2.
    proc = rig.cli("exports", "download", job_id, "-o", str(tmp_path / "fresh.mp4"))
    assert proc.returncode == 0, proc.stderr
    blocked = tmp_path / "third.mp4"
    in_way = tmp_path / f"third_2_{AFTER[0]}x{AFTER[1]}.mp4"
    in_way.write_bytes(b"mine")
    proc = rig.cli("exports", "download", job_id, "-o", str(blocked))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert str(in_way) in proc.stderr and "--force" in proc.stderr
    assert in_way.read_bytes() == b"mine" and not blocked.exists()

    # `exports show` lists the clips.
    proc = rig.cli("exports", "show", job_id, "--utc")
    assert proc.returncode == 0, proc.stderr
    shown = proc.stdout
    assert "clips     2, one per picture size" in shown
    for n, clip in enumerate(manifest["clips"], start=1):
        [line] = [row for row in shown.splitlines() if row.startswith(f"clip {n}")]
        assert clip["file"] in line and clip["sha256"] in line
        assert f"{clip['width']}x{clip['height']}" in line


def _stored(rig: Rig, job_id: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        job: dict[str, Any] = rig.live.server.get(f"/api/v1/exports/{job_id}", "operator").json()
        vault = job.get("vault")
        return job if vault and vault["state"] == "stored" else None

    return wait_for(probe, 60, what=f"the vault copy of {job_id}")


def test_the_vault_stores_every_clip_and_verify_catches_the_second_replaced(rig: Rig) -> None:
    case = "LP/14/XII/2026"
    with rig.live.server.client("operator") as api:
        resp = api.post(
            "/api/v1/exports",
            json={
                "camera": rig.camera,
                "start": rig.start.isoformat(),
                "end": rig.end.isoformat(),
                "case_id": case,
            },
        )
        assert resp.status_code == 202, resp.text
        job = _stored(rig, resp.json()["id"])
        manifest_local = api.get(f"/api/v1/exports/{job['id']}/manifest").json()
    assert len(job["clips"]) == 2
    s3 = rig.s3.client()
    copy = job["vault"]
    # Every clip is in the vault, one version each, the bytes the job made.
    for n, clip in enumerate(job["clips"]):
        stored = clip["vault"]
        assert stored["key"] == f"{rig.camera}/{job['id']}/{clip['file']}"
        [version] = rig.versions(stored["key"])
        assert version["VersionId"] == stored["version_id"]
        body = s3.get_object(Bucket=rig.bucket, Key=stored["key"])["Body"].read()
        assert hashlib.sha256(body).hexdigest() == clip["sha256"] == stored["sha256"]
        head = s3.head_object(Bucket=rig.bucket, Key=stored["key"], VersionId=version["VersionId"])
        assert head["ObjectLockMode"] == "GOVERNANCE"
        if n == 0:
            assert stored["key"] == copy["clip"]["key"]
    # The manifest went last and names every clip's key and version.
    manifest_obj = copy["manifest"]
    body = s3.get_object(
        Bucket=rig.bucket, Key=manifest_obj["key"], VersionId=manifest_obj["version_id"]
    )["Body"].read()
    in_vault = json.loads(body)
    assert in_vault == manifest_local
    assert [c["vault"] for c in in_vault["clips"]] == [c["vault"] for c in job["clips"]]
    clip_times = [
        s3.head_object(Bucket=rig.bucket, Key=c["vault"]["key"])["LastModified"]
        for c in job["clips"]
    ]
    assert (
        max(clip_times)
        <= s3.head_object(Bucket=rig.bucket, Key=manifest_obj["key"])["LastModified"]
    )

    proc = rig.cli("exports", "verify", job["id"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "VERIFIED" in proc.stdout
    assert job["clips"][1]["vault"]["version_id"] in proc.stdout

    # A writer puts a new version over the second clip's key; the lock keeps the original.
    second = job["clips"][1]["vault"]
    forged = s3.put_object(Bucket=rig.bucket, Key=second["key"], Body=b"not the footage")
    proc = rig.cli("exports", "verify", job["id"], "--json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    [check] = json.loads(proc.stdout)
    assert check["state"] == "failed" and not check["ok"]
    first, replaced = check["clips"]
    assert first["ok"] and first["sha256_found"] == job["clips"][0]["sha256"]
    assert not replaced["ok"]
    assert replaced["latest_version"] == forged["VersionId"]
    assert replaced["version"] == second["version_id"]
    assert replaced["sha256_found"] == hashlib.sha256(b"not the footage").hexdigest()
    named = f"clip 2 of 2 ({job['clips'][1]['file']})"
    assert any(named in p and "was replaced" in p for p in check["problems"])
    assert any(named in p and "locked original" in p for p in check["problems"])
    # The first clip's findings are clean: only the second is named.
    assert all(named in p for p in check["problems"])
    proc = rig.cli("exports", "verify", job["id"])
    assert proc.returncode == 1 and "FAILED" in proc.stdout
    assert named in proc.stdout
    audit = rig.live.server.get("/api/v1/audit", "admin", params={"action": "export.verify"}).json()
    failed = [r for r in audit if r["target"] == job["id"] and r["result"] == "failed"]
    assert len(failed) == 2 and all(named in r["detail"] for r in failed)
    assert [r["result"] for r in audit if r["target"] == job["id"]].count("ok") == 1


async def test_the_console_shows_the_clips_and_saves_them_all(
    rig: Rig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tui_pilot import opened_by, screen_text, until

    from cctvctl.tui.app import CctvApp
    from cctvctl.tui.screens.exports import ExportsScreen, PathPrompt

    with rig.live.server.client("operator") as api:
        resp = api.post(
            "/api/v1/exports",
            json={
                "camera": rig.camera,
                "start": rig.start.isoformat(),
                "end": rig.end.isoformat(),
                "case_id": "LP/15/XII/2026",
            },
        )
        assert resp.status_code == 202, resp.text
        job = _stored(rig, resp.json()["id"])
    monkeypatch.chdir(tmp_path)  # the prompt's default path is relative to here
    app = CctvApp(rig.live.server.url, rig.live.site.tokens["operator"], "node", refresh=0.5)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await opened_by(pilot, "x", ExportsScreen)
        await until(pilot, lambda: job["id"] in screen.table.rows, timeout=30)
        # The Size column says how many clips the job made.
        [row] = [ln for ln in screen_text(app).splitlines() if job["id"][:8] in ln]
        assert " x2" in row, row
        screen.table.move_cursor(row=screen.table.get_row_index(job["id"]))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, PathPrompt))
        second = f"LP_15_XII_2026_2_{AFTER[0]}x{AFTER[1]}.mp4"
        prompt = screen_text(app)
        assert "2 clips, one per picture size, saved as:" in prompt
        assert f"{BEFORE[0]}x{BEFORE[1]}  LP_15_XII_2026.mp4" in prompt
        assert f"{AFTER[0]}x{AFTER[1]}  {second}" in prompt
        await pilot.press("enter")  # accept the default
        await until(pilot, lambda: isinstance(app.screen, ExportsScreen))
        await until(
            pilot,
            lambda: (tmp_path / second).exists() and not screen.downloads,
            timeout=30,
        )
        await until(pilot, lambda: "saved 2 clips" in screen_text(app))
    for name, clip in zip(("LP_15_XII_2026.mp4", second), job["clips"], strict=True):
        assert _sha256(tmp_path / name) == clip["sha256"]
    manifest = json.loads((tmp_path / "LP_15_XII_2026.mp4.manifest.json").read_text())
    assert [c["sha256"] for c in manifest["clips"]] == [c["sha256"] for c in job["clips"]]
    assert not list(tmp_path.glob("*.part"))


# --------------------------------------------------------------------------- in process


def _two_clip_job(vault: Any) -> tuple[str, bytes]:
    """A finished job of two clips with real files, as the export queue leaves one; the
    second clip's bytes."""
    from test_evidence_vault import _done_job

    from cctvctl.models import ExportClip, ExportManifest
    from cctvctl.storage.exports import clips_to_json

    first, second = b"first size" * 300, b"second size" * 200
    job_id = _done_job(vault, first, case_id="LP/16/2026")
    job = vault.store.get(job_id)
    path = vault.files.manifest_path(job)
    manifest = ExportManifest.model_validate_json(path.read_bytes())
    name = manifest.file.removesuffix(".mp4") + "_2_160x96.mp4"
    (vault.files.job_dir(job_id) / name).write_bytes(second)
    clips = [
        ExportClip(
            file=file,
            width=w,
            height=h,
            first_frame=job.start,
            last_frame=job.end,
            frames=1,
            sha256=hashlib.sha256(body).hexdigest(),
            size=len(body),
        )
        for file, w, h, body in ((manifest.file, 320, 180, first), (name, 160, 96, second))
    ]
    manifest = manifest.model_copy(update={"clips": clips})
    path.write_text(manifest.model_dump_json(indent=2) + "\n")
    vault.store.update(job_id, clips=clips_to_json(clips))
    return job_id, second


def test_a_retry_adopts_a_further_clip_and_a_hold_covers_every_clip(
    tmp_path: Path, s3: S3Engine
) -> None:
    """The second clip landed but its answer was lost: the retry finds it by its SHA-256
    and stores it once; the case's hold then covers both clips and the manifest."""
    from datetime import timedelta

    from test_evidence_vault import _local_vault, _Who

    bucket = s3.make_bucket(object_lock=True)
    vault, db = _local_vault(tmp_path, s3, bucket, "governance")
    try:
        job_id, second = _two_clip_job(vault)
        job = vault.store.get(job_id)
        assert vault.record(job) is not None
        key = f"cam-1/{job_id}/{job.clips[1].file}"
        landed = vault.bucket.put_locked(
            key,
            second,
            sha256=hashlib.sha256(second).hexdigest(),
            mode="governance",
            retain_until=datetime.now(UTC) + timedelta(days=1),
            legal_hold=False,
            metadata={},
        )
        vault.log.update(job_id, attempts=1)  # that attempt began before the crash
        vault.store_copy(job_id)
        stored = vault.store.get(job_id)
        assert stored.vault.state.value == "stored"
        assert [c.vault.key for c in stored.clips] == [stored.vault.clip.key, key]
        assert stored.clips[1].vault.version_id == landed
        answer = s3.client().list_object_versions(Bucket=bucket, Prefix=key)
        assert [v["VersionId"] for v in answer["Versions"]] == [landed]
        assert vault.verify(job_id, _Who("test-operator", "operator")).ok

        summary = vault.hold("LP/16/2026", _Who("test-admin", "admin"), "court order")
        assert (summary.objects, summary.applied, summary.pending) == (3, 3, 0)
        for clip in stored.clips:
            hold = s3.client().get_object_legal_hold(
                Bucket=bucket, Key=clip.vault.key, VersionId=clip.vault.version_id
            )
            assert hold["LegalHold"]["Status"] == "ON"
    finally:
        db.close()
