"""The evidence vault: every finished export's clip and manifest, stored under Object Lock.

The order is what makes the record whole. The clip goes first (every clip, for a window
that spans a change of picture size: one clip per size); its version id is then written
into the manifest (with the keys, the mode and the retention date; each further clip's in
its entry of ``clips``), and that manifest is stored; the manifest cannot name its own
version, so that one is recorded in the job's vault row and in the ``export.vault`` audit
row. Each version id is written to the node's database as soon as the store gives it,
and before any put the bucket is asked whether an earlier attempt already stored these
very bytes (their SHA-256 is in the object's metadata): an answer lost with a dropped
link, or a crash between the put and the write, leaves one version, never two.

A store that cannot be reached never fails an export: the job is done, its ``vault`` says
``pending`` with the reason, and a background thread tries again (2 s, doubling, at most a
minute apart) until the copy lands. Until then the local files are the only copy, so
neither expiry nor a delete removes them.

A legal hold belongs to a case (``case_holds``): setting it holds every stored object of
the case, and a copy stored later is stored held. What the store has confirmed is kept per
copy (``hold_applied``), so a hold asked while the store is down is applied when it is
back.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from cctvctl.archive.vault_errors import VaultError, VaultRefused, VaultUnreachable
from cctvctl.exports.files import ExportFiles
from cctvctl.exports.peers import NODE_TOKEN_PREFIX
from cctvctl.exports.queue import publish_job
from cctvctl.models import (
    CaseHold,
    ExportJob,
    ExportManifest,
    ExportState,
    ManifestVault,
    VaultCheck,
    VaultClipCheck,
    VaultObject,
    VaultState,
)
from cctvctl.storage.audit import CASE_HOLD, CASE_RELEASE, EXPORT_VAULT, EXPORT_VERIFY
from cctvctl.storage.database import from_ts
from cctvctl.storage.exports import ExportStore
from cctvctl.storage.job_trail import JobTrail, Requester
from cctvctl.storage.vault_log import VaultClipRow, VaultRow

if TYPE_CHECKING:
    from cctvctl.archive.evidence import EvidenceBucket, LockState

__all__ = [
    "MANIFEST_KEY_NAME",
    "EvidenceVault",
    "Locked",
    "NoVaultCopy",
    "VaultSettings",
    "VaultSetup",
]

log = logging.getLogger(__name__)

MANIFEST_KEY_NAME: Final = "manifest.json"
FIRST_RETRY: Final = 2.0
MAX_RETRY: Final = 60.0
TICK: Final = 1.0


@dataclass(frozen=True, slots=True)
class VaultSettings:
    """``[archive]``'s evidence keys."""

    bucket: str
    days: int
    mode: str  # "compliance" or "governance"


@dataclass(frozen=True, slots=True)
class VaultSetup:
    """What the server gives the exporter when ``[archive]`` names an evidence bucket."""

    bucket: EvidenceBucket
    settings: VaultSettings


@dataclass(frozen=True, slots=True)
class _Server:
    """The audit's actor for what the server does by itself (a retried copy)."""

    name: str = "cctvctl-server"
    role: str = "system"


class NoVaultCopy(Exception):
    """The job has no copy in the vault (not finished, or made before the vault existed)."""


@dataclass(frozen=True, slots=True)
class Locked:
    """Why a finished export may not be deleted: its copy is pending or under lock."""

    detail: str
    retain_until: datetime | None
    legal_hold: bool
    pending: bool


def clip_key(job: ExportJob, file_name: str) -> str:
    """``{camera}/{job}/{clip}``: a job's objects side by side, cameras apart."""
    return f"{job.camera}/{job.id}/{file_name}"


def _retry_after(attempts: int) -> float:
    return float(min(MAX_RETRY, FIRST_RETRY * 2 ** max(0, attempts - 1)))


def _when(value: datetime | None) -> str:
    return "unknown" if value is None else value.astimezone(UTC).isoformat()


class EvidenceVault:
    """Stores finished exports in the evidence bucket, keeps holds, verifies copies."""

    def __init__(
        self,
        *,
        bucket: EvidenceBucket,
        settings: VaultSettings,
        store: ExportStore,
        files: ExportFiles,
        trail: JobTrail,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bucket = bucket
        self.settings = settings
        self.store = store
        self.log = store.vault
        self.files = files
        self.trail = trail
        self._clock = clock
        self._wake = threading.Event()
        self._lock = threading.Lock()  # one copy attempt at a time (worker vs. keeper)
        self._server = _Server()
        self._unreachable = False  # the last copy attempt found no store to talk to

    # ------------------------------------------------------------------ storing

    def record(self, job: ExportJob) -> VaultRow | None:
        """The pending row of a done job (kept if it has one); None for any other job."""
        if job.state is not ExportState.DONE or job.sha256 is None or job.finished is None:
            return None
        if job.requester.startswith(NODE_TOKEN_PREFIX):
            return None  # a part another fleet node asked for: its joined clip is evidence
        name = self.files.clip_path(job).name
        key = clip_key(job, name)
        return self.log.add(
            job.id,
            case_id=job.case_id,
            bucket=self.settings.bucket,
            mode=self.settings.mode,
            retain_until=job.finished.timestamp() + self.settings.days * 86400.0,
            clip_key=key,
            clip_sha256=job.sha256,
            manifest_key=key.rsplit("/", 1)[0] + "/" + MANIFEST_KEY_NAME,
        )

    def finished(self, job_id: str) -> None:
        """A job just finished: record it and try once now, so the manifest a client
        fetches next already names the vault copy; a failure leaves it to the keeper."""
        job = self.store.get(job_id)
        if job is not None and self.record(job) is not None:
            self.store_copy(job_id)

    def store_copy(self, job_id: str) -> VaultRow | None:
        """One attempt at storing the job's copy; the row afterwards."""
        with self._lock:
            row = self.log.get(job_id)
            job = self.store.get(job_id)
            if row is None or job is None or row.state is VaultState.STORED:
                return row
            if job.state is not ExportState.DONE:
                return row  # deleted or expired meanwhile: nothing left to store
            self._unreachable = False
            # Counted before the first call, so a crash or a lost answer anywhere after
            # it makes the next attempt look for what may have landed.
            self.log.update(job_id, attempts=row.attempts + 1)
            try:
                self._store(job, row, retry=row.attempts > 0)
            except (VaultError, OSError, ValueError) as exc:
                self._failed(job, row, exc)
            updated = self.store.get(job_id)
            if updated is not None:
                publish_job(self.trail, updated)
            return self.log.get(job_id)

    def _store(self, job: ExportJob, row: VaultRow, *, retry: bool) -> None:
        """``retry``: an earlier attempt began, so each object may be in the bucket already
        (its answer lost); a first attempt has nothing to look for."""
        held = self.log.is_held(row.case_id)
        retain = from_ts(row.retain_until)
        put = functools.partial(
            self.bucket.put_locked,
            mode=row.mode,
            retain_until=retain,
            legal_hold=held,
            metadata={"job": job.id, "camera": job.camera},
        )
        manifest = ExportManifest.model_validate_json(self.files.manifest_path(job).read_bytes())
        clip_version = row.clip_version
        if clip_version is None:
            if retry:
                clip_version = self.bucket.find_version(row.clip_key, row.clip_sha256)
            if clip_version is None:
                clip_version = put(row.clip_key, self.files.clip_path(job), sha256=row.clip_sha256)
            self.log.update(job.id, clip_version=clip_version)
        # The further clips of a window that spans a change of picture size, each as the
        # first: every clip is in the vault before the manifest that names them.
        self.log.set_clips(
            job.id,
            [
                (n, c.file, clip_key(job, c.file), c.sha256)
                for n, c in enumerate(manifest.clips)
                if n
            ],
        )
        clips = self.log.clips(job.id)
        for n, clip in enumerate(clips):
            if clip.version is not None:
                continue
            version = self.bucket.find_version(clip.key, clip.sha256) if retry else None
            if version is None:
                path = self.files.job_dir(job.id) / clip.file
                version = put(clip.key, path, sha256=clip.sha256)
            self.log.set_clip_version(job.id, clip.n, version)
            clips[n] = dataclasses.replace(clip, version=version)
        body = self._vault_manifest(job, manifest, row, clip_version, retain, clips)
        digest = hashlib.sha256(body).hexdigest()
        manifest_version = row.manifest_version if row.manifest_sha256 == digest else None
        if manifest_version is None:
            if retry:
                manifest_version = self.bucket.find_version(row.manifest_key, digest)
            if manifest_version is None:
                manifest_version = put(row.manifest_key, body, sha256=digest)
            self.log.update(job.id, manifest_sha256=digest, manifest_version=manifest_version)
        self.log.update(
            job.id,
            state=VaultState.STORED,
            stored=self._clock(),
            hold_applied=held,
            error=None,
        )
        more = "".join(f"; {c.key} version {c.version}" for c in clips)
        log.info(
            "export %s in the vault: %s (version %s)%s, manifest version %s, retained until %s",
            job.id,
            row.clip_key,
            clip_version,
            more,
            manifest_version,
            _when(retain),
        )
        self.trail.audit(
            self._server,
            EXPORT_VAULT,
            target=job.id,
            case_id=job.case_id,
            detail=(
                f"{row.bucket}/{row.clip_key} version {clip_version}{more}; manifest "
                f"{row.manifest_key} version {manifest_version}; {row.mode} until "
                f"{_when(retain)}" + ("; legal hold" if held else "")
            ),
        )

    def _vault_manifest(
        self,
        job: ExportJob,
        manifest: ExportManifest,
        row: VaultRow,
        clip_version: str,
        retain: datetime,
        clips: list[VaultClipRow],
    ) -> bytes:
        """The manifest naming the clip's version (and each further clip's, in its entry
        of ``clips``), written beside the clip too (so the one a client downloads is the
        one in the vault); the same bytes on every retry."""
        path = self.files.manifest_path(job)
        update: dict[str, object] = {
            "vault": ManifestVault(
                bucket=row.bucket,
                clip_key=row.clip_key,
                clip_version=clip_version,
                manifest_key=row.manifest_key,
                mode=row.mode,
                retain_until=retain,
            )
        }
        if manifest.clips:
            where = {c.n: c.wire() for c in clips}
            where[0] = VaultObject(
                key=row.clip_key, version_id=clip_version, sha256=row.clip_sha256
            )
            update["clips"] = [
                c.model_copy(update={"vault": where.get(n)}) for n, c in enumerate(manifest.clips)
            ]
        manifest = manifest.model_copy(update=update)
        text = manifest.model_dump_json(indent=2) + "\n"
        tmp = path.with_name(path.name + ".tmp")
        self.store.index.modes.write_text(tmp, text)
        tmp.replace(path)
        return text.encode()

    def _failed(self, job: ExportJob, row: VaultRow, exc: Exception) -> None:
        self._unreachable = isinstance(exc, VaultUnreachable)
        attempts = row.attempts + 1  # as counted when the attempt began
        reason = str(exc)
        self.log.update(
            job.id,
            error=reason[:500],
            next_try=self._clock() + _retry_after(attempts),
        )
        log.warning("export %s: vault copy pending (attempt %d): %s", job.id, attempts, reason)
        if attempts == 1:  # once per copy, not once per retry
            self.trail.audit(
                self._server,
                EXPORT_VAULT,
                target=job.id,
                case_id=job.case_id,
                result="pending",
                detail=f"vault copy pending, retried until it lands: {reason[:300]}",
            )

    # ------------------------------------------------------------------ the keeper

    def wake(self) -> None:
        self._wake.set()

    def loop(self, stop: threading.Event) -> None:
        """Record unrecorded done jobs, retry pending copies, apply holds (a thread)."""
        self._check_bucket()
        while not stop.is_set():
            try:
                self.pass_once()
            except Exception:
                log.exception("evidence vault pass failed; retrying")
            self._wake.wait(TICK)
            self._wake.clear()

    def _check_bucket(self) -> None:
        """Say at start, loudly, when the bucket cannot lock anything: every copy would
        stay pending (the store refuses a retention on it), which is no vault at all."""
        try:
            locked = self.bucket.check()
        except VaultUnreachable as exc:
            log.warning(
                "evidence vault: bucket %s not reachable yet: %s", self.settings.bucket, exc
            )
            return
        except VaultRefused as exc:
            locked = False
            log.error("evidence vault: bucket %s: %s", self.settings.bucket, exc)
        if not locked:
            log.error(
                "evidence vault: bucket %s has no Object Lock; exports stay pending until it "
                "is replaced by a bucket created with Object Lock enabled",
                self.settings.bucket,
            )

    def pass_once(self) -> None:
        for job_id in self.log.unrecorded_done_jobs(skip_requesters=NODE_TOKEN_PREFIX):
            job = self.store.get(job_id)
            if job is not None:
                self.record(job)
        # A store that does not answer costs each call its time-outs: after the first
        # such failure the rest wait for their own next try instead of the whole queue.
        for row in self.log.due():
            self.store_copy(row.job)
            if self._unreachable:
                break
        for row in self.log.hold_drift():
            if not self._apply_hold(row):
                break

    # ------------------------------------------------------------------ legal holds

    def _apply_hold(self, row: VaultRow) -> bool:
        """Make the store's hold on the copy's objects what its case asks; False if the
        store could not be reached (the keeper tries again)."""
        want = self.log.is_held(row.case_id)
        objects = [(row.clip_key, row.clip_version)]
        objects += [(c.key, c.version) for c in self.log.clips(row.job)]
        objects.append((row.manifest_key, row.manifest_version))
        try:
            for key, version in objects:
                if version is not None:
                    self.bucket.set_legal_hold(key, version, want)
        except VaultUnreachable as exc:
            log.warning("export %s: legal hold not applied yet: %s", row.job, exc)
            return False
        except VaultRefused as exc:
            # Not the link: this one object (say, a version removed after its date). The
            # others go on; this one stays asked and is tried again.
            log.warning("export %s: the store refused its legal hold: %s", row.job, exc)
            return True
        self.log.update(row.job, hold_applied=want)
        return True

    def hold(self, case_id: str, who: Requester, reason: str | None) -> CaseHold:
        self.log.hold(case_id, who.name, reason)
        summary = self._settle(case_id)
        self.trail.audit(
            who,
            CASE_HOLD,
            target=case_id,
            case_id=case_id,
            reason=reason,
            detail=self._summary_text(summary),
        )
        return summary

    def release(self, case_id: str, who: Requester, reason: str | None) -> CaseHold:
        was_held = self.log.release(case_id)
        summary = self._settle(case_id)
        self.trail.audit(
            who,
            CASE_RELEASE,
            target=case_id,
            case_id=case_id,
            reason=reason,
            result="ok" if was_held else "not held",
            detail=self._summary_text(summary),
        )
        return summary

    def _settle(self, case_id: str) -> CaseHold:
        for row in self.log.of_case(case_id):
            if row.state is VaultState.STORED and not self._apply_hold(row):
                break  # the store is not answering: the keeper applies the rest
        return self.case(case_id)

    def case(self, case_id: str) -> CaseHold:
        """The case's hold and how far the store has it."""
        hold = self.log.case_hold(case_id)
        rows = self.log.of_case(case_id)
        held = hold is not None
        clips = self.log.clips_of_jobs(r.job for r in rows)
        # Each copy's clips and its manifest.
        count = {r.job: 2 + len(clips.get(r.job, ())) for r in rows}
        objects = sum(count.values())
        applied = sum(
            count[r.job] for r in rows if r.state is VaultState.STORED and r.hold_applied == held
        )
        return CaseHold(
            case_id=case_id,
            held=held,
            since=None if hold is None else from_ts(hold.since),
            by=None if hold is None else hold.actor,
            reason=None if hold is None else hold.reason,
            jobs=[r.job for r in rows],
            objects=objects,
            applied=applied,
            pending=objects - applied,
        )

    @staticmethod
    def _summary_text(summary: CaseHold) -> str:
        text = f"{len(summary.jobs)} export(s), {summary.applied} of {summary.objects} objects"
        if summary.pending:
            text += f"; {summary.pending} pending (store unreachable or copy not stored yet)"
        return text

    # ------------------------------------------------------------------ deleting

    def locked(self, job: ExportJob) -> Locked | None:
        """Why the finished ``job`` may not be deleted now; None if it may."""
        row = self.log.get(job.id)
        if row is None:
            return None
        if row.state is VaultState.PENDING:
            return Locked(
                detail=(
                    f"export {job.id} is evidence whose vault copy is still pending; its "
                    "files are the only copy until the vault has them"
                ),
                retain_until=from_ts(row.retain_until),
                legal_hold=False,
                pending=True,
            )
        held = self.log.is_held(row.case_id)
        until = from_ts(row.retain_until)
        if not held and until <= from_ts(self._clock()):
            return None
        hold = f"under the legal hold of case {row.case_id}"
        if until <= from_ts(self._clock()):
            detail = f"export {job.id} is evidence {hold}; it cannot be deleted until released"
        else:
            why = f"retained under Object Lock ({row.mode} mode) until {_when(until)}"
            detail = (
                f"export {job.id} is evidence {why}{' and ' + hold if held else ''}; "
                "it cannot be deleted before then"
            )
        return Locked(
            detail=detail,
            retain_until=until,
            legal_hold=held,
            pending=False,
        )

    # ------------------------------------------------------------------ verifying

    def verify(self, job_id: str, who: Requester) -> VaultCheck:
        """Read the clip back from the vault and check it against the vault's manifest.

        Raises :class:`NoVaultCopy`, and :class:`VaultError` when the store cannot be
        asked (nothing was checked, so nothing is audited).
        """
        row = self.log.get(job_id)
        job = self.store.get(job_id)
        if row is None or job is None:
            raise NoVaultCopy(job_id)
        now = from_ts(self._clock())
        check = VaultCheck(
            job=job_id,
            case_id=row.case_id,
            ok=False,
            state="pending",
            bucket=row.bucket,
            clip_key=row.clip_key,
            clip_version=row.clip_version,
            sha256_expected=row.clip_sha256,
            manifest_version=row.manifest_version,
            mode=row.mode,
            retain_until=from_ts(row.retain_until),
            checked=now,
        )
        if row.state is VaultState.PENDING or row.manifest_version is None:
            check = check.model_copy(
                update={"problems": [f"not in the vault yet: {row.error or 'not tried yet'}"]}
            )
            self._audit_check(who, check)
            return check
        lock: LockState | None = None
        try:
            problems = self._compare(row, job)
            lock = self.bucket.lock_of(row.clip_key, row.clip_version or "")
        except VaultRefused as exc:
            # The store answered but would not give what the record names: unproven.
            problems = _Findings(sha256_expected=row.clip_sha256, failures=[str(exc)])
        update = {
            "ok": not problems.failures,
            "state": "verified" if not problems.failures else "failed",
            "problems": problems.failures + problems.notes,
            "latest_version": problems.latest_version,
            "sha256_found": problems.sha256_found,
            "sha256_expected": problems.sha256_expected,
            "mode": (lock.mode if lock else None) or row.mode,
            "retain_until": (lock.retain_until if lock else None) or from_ts(row.retain_until),
            "legal_hold": lock.legal_hold if lock else None,
            "clips": problems.clips,
        }
        check = check.model_copy(update=update)
        self._audit_check(who, check)
        return check

    def _compare(self, row: VaultRow, job: ExportJob) -> _Findings:
        findings = _Findings(sha256_expected=row.clip_sha256)
        assert row.manifest_version is not None
        body = self.bucket.read_bytes(row.manifest_key, row.manifest_version)
        if hashlib.sha256(body).hexdigest() != row.manifest_sha256:
            findings.failures.append(
                f"manifest {row.manifest_key} version {row.manifest_version} does not hash "
                "to what was stored"
            )
        named = row.clip_version
        manifest: ExportManifest | None = None
        try:
            manifest = ExportManifest.model_validate_json(body)
        except ValueError:
            findings.failures.append(f"manifest {row.manifest_key} cannot be read as a manifest")
        else:
            findings.sha256_expected = manifest.sha256
            if manifest.vault is not None:
                named = manifest.vault.clip_version
            if manifest.sha256 != job.sha256:
                findings.failures.append(
                    f"the vault's manifest gives SHA-256 {manifest.sha256}, the job {job.sha256}"
                )
        latest_manifest = self.bucket.read_back(row.manifest_key)
        if latest_manifest is None or latest_manifest.version_id != row.manifest_version:
            findings.failures.append(
                f"{row.manifest_key} no longer serves the stored manifest (version "
                f"{row.manifest_version}): "
                + (
                    "nothing (deleted)"
                    if latest_manifest is None
                    else f"version {latest_manifest.version_id} was written over it"
                )
            )
        first = self._check_clip(row.clip_key, named, findings.sha256_expected, "")
        findings.latest_version, findings.sha256_found = first.latest_version, first.sha256_found
        findings.failures += first.failures
        findings.notes += first.notes
        rows = self.log.clips(row.job)
        if not rows:
            return findings
        # An export of several clips: every one is read back, and a finding names its clip.
        entries = manifest.clips if manifest is not None else []
        total = max(len(entries), len(rows) + 1)
        findings.clips.append(
            _clip_check(0, entries[0].file if entries else row.clip_key, row.clip_key, named, first)
        )
        for clip in rows:
            entry = entries[clip.n] if clip.n < len(entries) else None
            version = clip.version
            expected = clip.sha256
            if entry is not None:
                expected = entry.sha256
                if entry.vault is not None:
                    version = entry.vault.version_id
            elif manifest is not None:
                findings.failures.append(
                    f"the vault's manifest does not list clip {clip.n + 1} ({clip.file})"
                )
            found = self._check_clip(
                clip.key, version, expected, f"clip {clip.n + 1} of {total} ({clip.file}): "
            )
            findings.failures += found.failures
            findings.notes += found.notes
            findings.clips.append(_clip_check(clip.n, clip.file, clip.key, version, found))
        return findings

    def _check_clip(
        self, key: str, named: str | None, expected: str | None, label: str
    ) -> _Findings:
        """What ``key`` serves now against the version the manifest names and its SHA-256;
        ``label`` opens each finding (which clip, when there are several)."""
        findings = _Findings(sha256_expected=expected)
        latest = self.bucket.read_back(key)
        if latest is None:
            findings.failures.append(
                f"{label}{key} serves nothing: its latest version is a delete marker"
            )
        else:
            findings.latest_version = latest.version_id
            findings.sha256_found = latest.sha256
            if latest.version_id != named:
                findings.failures.append(
                    f"{label}{key} serves version {latest.version_id}, not version {named} "
                    "that the manifest names: the clip was replaced"
                )
            if latest.sha256 != expected:
                findings.failures.append(
                    f"{label}SHA-256 of the clip the vault serves is {latest.sha256}; the "
                    f"manifest says {expected}"
                )
        if (
            findings.failures
            and named is not None
            and (latest is None or latest.version_id != named)
        ):
            original = self.bucket.read_back(key, named)
            if original is not None and original.sha256 == expected:
                findings.notes.append(
                    f"{label}the locked original (version {named}) is still in the vault and "
                    "matches its manifest"
                )
        return findings

    def _audit_check(self, who: Requester, check: VaultCheck) -> None:
        if check.ok:
            more = "".join(f", {c.key} version {c.version}" for c in check.clips[1:])
            detail = (
                f"{check.clip_key} version {check.clip_version}{more}: SHA-256 "
                + ("matches" if not more else "of each matches")
                + f" the manifest; {check.mode} until {_when(check.retain_until)}"
            )
        else:
            detail = "; ".join(check.problems)[:1000]
        self.trail.audit(
            who,
            EXPORT_VERIFY,
            target=check.job,
            case_id=check.case_id,
            result={"verified": "ok", "failed": "failed"}.get(check.state, check.state),
            detail=detail,
        )


@dataclass(slots=True)
class _Findings:
    sha256_expected: str | None
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    latest_version: str | None = None
    sha256_found: str | None = None
    clips: list[VaultClipCheck] = field(default_factory=list)


def _clip_check(
    n: int, file: str, key: str, version: str | None, found: _Findings
) -> VaultClipCheck:
    return VaultClipCheck(
        clip=n,
        file=file,
        key=key,
        ok=not found.failures,
        version=version,
        latest_version=found.latest_version,
        sha256_expected=found.sha256_expected,
        sha256_found=found.sha256_found,
    )
