"""The footage tier's uploads: closed segments to the S3 store, oldest first.

One daemon thread per node (the edge never waits: no request and no ingest ever waits on
the store). Each pass takes the segments the store does not hold yet that closed at least
``archive_after`` ago, inside ``upload_window``, under ``upload_kbps``, and for each:

- a small file is one PUT; a file of ``multipart_threshold`` or more is a multipart
  upload of ``part_size`` parts (a few at once without a cap, one at a time under
  one). Every PUT and part carries its SHA-256 (``x-amz-checksum-sha256``), which the
  store verifies; the store's answer is checked too (its checksum, or where it gives
  none its ETag against our MD5s), so a segment is marked archived only once the store
  provably holds its bytes.
- the state is in the index (``archive_uploads``, with the object key) before the first
  byte goes, so after a crash or a dropped link the upload resumes under the key it began
  with: a multipart upload asks the store which parts it holds (ListParts) and sends only
  the others; an upload that may have finished unrecorded is looked up (HEAD, our SHA-256
  in its metadata) rather than sent again. The confirmed key is recorded with the segment.
- a fleet node (``node``) keys its uploads ``….{HHMMSS}.{node}.mp4``
  (:func:`cctvctl.storage.archive.node_key`): two nodes recording one camera in a handover
  never upload to one key.
- a failure (store down, refused, a checksum mismatch) leaves the segment queued; the
  thread backs off (1 s doubling to 30 s) and logs once per outage.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from cctvctl.archive.digests import (
    MD5_ETAG,
    ChecksumMismatch,
    FileDigests,
    PartDigest,
    composite_etag,
    digest_file,
    etag_of,
    part_etag,
)
from cctvctl.archive.digests import verify_answer as _verify
from cctvctl.archive.expiry import expire_archive
from cctvctl.archive.figures import UploadFigures
from cctvctl.archive.s3 import ArchiveUnavailable, error_code
from cctvctl.archive.throttle import MeteredSlice, RateLimit, Stopped
from cctvctl.archive.window import seconds_until_open, window_open
from cctvctl.config import ArchiveConfig
from cctvctl.storage.archive import ArchiveIndex, MultipartState
from cctvctl.storage.database import Database, SegmentRow

__all__ = ["DEFAULT_PART_SIZE", "ChecksumMismatch", "UploadFigures", "Uploader"]

log = logging.getLogger(__name__)

MiB: Final = 1 << 20
#: S3 parts are 5 MiB at least (the last excepted); 8 MiB keeps a cut on a thin link cheap.
DEFAULT_PART_SIZE: Final = 8 * MiB
BATCH: Final = 20
#: Parts of one segment in flight at once when there is no cap (one under a cap).
PARALLEL_PARTS: Final = 4
BACKOFF_MAX: Final = 30.0
#: Seconds between passes of archive retention (archive_days) over the index.
EXPIRY_INTERVAL: Final = 600.0
RATE_WINDOW: Final = 30.0

#: What fails one upload and leaves the segment queued (OSError: the file, or the link).
_FAILURES: tuple[type[Exception], ...] = (*ArchiveUnavailable, ChecksumMismatch, OSError)


class Uploader:
    """Uploads one node's closed segments to ``config.bucket``; :meth:`start`, :meth:`stop`."""

    def __init__(
        self,
        index: Database,
        config: ArchiveConfig,
        client: Any,
        *,
        part_size: int = DEFAULT_PART_SIZE,
        multipart_threshold: int | None = None,
        poll_seconds: float = 2.0,
        clock: Callable[[], float] = time.time,
        node: str | None = None,
    ) -> None:
        self.index = index
        # A fleet node's name goes into its keys: the fleet's nodes share the bucket.
        self.archive = ArchiveIndex(index, node=node)
        self.config = config
        self.client = client
        self.part_size = part_size
        self.multipart_threshold = part_size if multipart_threshold is None else multipart_threshold
        self.poll_seconds = poll_seconds
        self._clock = clock
        self._stop = threading.Event()
        self._kick = threading.Event()
        self._limit = RateLimit(config.upload_kbps * 1000 / 8, stop=self._stop)
        self._lock = threading.Lock()
        self._figures = UploadFigures()
        self._samples: collections.deque[tuple[float, int]] = collections.deque()
        self._thread: threading.Thread | None = None
        self._outage = False

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="archive-upload", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the read in flight; an upload cut here resumes at the next start."""
        self._stop.set()
        self._kick.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("archive: the upload thread did not stop within %.0f s", timeout)

    def kick(self) -> None:
        """A segment closed: look at the queue now rather than at the next poll."""
        self._kick.set()

    def figures(self) -> UploadFigures:
        with self._lock:
            self._trim_samples(time.monotonic())
            f = self._figures
            if len(self._samples) >= 2:
                (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
                f.rate_bps = (b1 - b0) / max(t1 - t0, 1.0)
            else:
                f.rate_bps = 0.0
            return UploadFigures(
                uploaded_bytes=dict(f.uploaded_bytes),
                uploaded_segments=dict(f.uploaded_segments),
                failures=dict(f.failures),
                confirmed_without_sending=f.confirmed_without_sending,
                sent_bytes=f.sent_bytes,
                rate_bps=f.rate_bps,
                state=f.state,
                last_error=f.last_error,
                last_error_at=f.last_error_at,
            )

    # ------------------------------------------------------------------ the loop

    def _expire(self, now: datetime) -> None:
        try:
            expire_archive(self.index, self.config, self.client, now)
        except _FAILURES as exc:
            log.warning("archive: retention pass could not reach the store: %s", exc)

    def _run(self) -> None:
        backoff = 1.0
        next_expiry = 0.0
        while not self._stop.is_set():
            now = datetime.fromtimestamp(self._clock(), UTC)
            if time.monotonic() >= next_expiry:
                # Deletes are small requests: outside the upload window too.
                self._expire(now)
                next_expiry = time.monotonic() + EXPIRY_INTERVAL
            wait = seconds_until_open(now, self.config.window_minutes)
            if wait > 0:
                self._set_state("waiting for window")
                self._sleep(min(wait, 60.0))
                continue
            try:
                sent = self.run_once(now)
            except Stopped:
                return
            except _FAILURES as exc:
                self._set_state("store unreachable")
                self._sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
                del exc
                continue
            except Exception:
                log.exception("archive: upload pass failed")
                self._sleep(BACKOFF_MAX)
                continue
            backoff = 1.0
            if sent == 0:
                self._set_state("idle")
                self._sleep(self.poll_seconds)

    def _sleep(self, seconds: float) -> None:
        self._kick.wait(seconds)
        self._kick.clear()

    def _set_state(self, state: str) -> None:
        with self._lock:
            self._figures.state = state

    def run_once(self, now: datetime | None = None) -> int:
        """One pass over the queue (at most :data:`BATCH` segments); returns how many the
        store now holds. Raises on the first failure (the segment stays queued)."""
        now = datetime.fromtimestamp(self._clock(), UTC) if now is None else now
        self._abort_orphans()
        rows = self.archive.pending(
            closed_before=now - timedelta(seconds=self.config.archive_after),
            kept_after=now - timedelta(days=self.config.archive_days),
            n=BATCH,
        )
        done = 0
        # The next segment is digested while this one is sent (hashlib lets go of the
        # GIL): otherwise a read and two SHA-256 passes of every file, before its first
        # byte may go, stand between every two uploads with the link idle.
        with ThreadPoolExecutor(1, thread_name_prefix="archive-digest") as ahead:
            coming = ahead.submit(self._digest, rows[0]) if rows else None
            for at, row in enumerate(rows):
                if self._stop.is_set() or not window_open(
                    datetime.fromtimestamp(self._clock(), UTC), self.config.window_minutes
                ):
                    break
                assert coming is not None
                digests = coming
                coming = ahead.submit(self._digest, rows[at + 1]) if at + 1 < len(rows) else None
                if self._one(row, digests):
                    done += 1
        if done and self._outage:
            log.info("archive: %s reachable again; uploads resumed", self.config.endpoint)
            self._outage = False
        return done

    def _one(self, row: SegmentRow, digests: Future[FileDigests]) -> bool:
        """Upload ``row`` (``digests``: its file's, being made); False if the file went."""
        self._set_state("uploading")
        try:
            self.upload(row, digests.result())
        except _FAILURES as exc:
            if self._stop.is_set():
                # Our own stop cut the read (botocore wraps it): not a failure.
                raise Stopped("uploads stopping") from exc
            if isinstance(exc, FileNotFoundError) and not row.path.exists():
                # Deleted under us (retention's disk guard): nothing left to send.
                return False
            self._failed(row, exc)
            raise
        return True

    def _failed(self, row: SegmentRow, exc: BaseException) -> None:
        text = f"{error_code(exc)}: {exc}"
        with self._lock:
            f = self._figures
            f.failures[row.kecamatan] = f.failures.get(row.kecamatan, 0) + 1
            f.last_error, f.last_error_at = text, datetime.now(UTC)
        if not self._outage:
            log.warning(
                "archive: upload of %s to %s failed (%s); footage stays queued and is "
                "sent once the store answers",
                self.archive.upload_key(row),
                self.config.endpoint,
                text,
            )
            self._outage = True

    def _abort_orphans(self) -> None:
        for state in self.archive.orphan_multiparts():
            if state.upload_id:
                try:
                    self.client.abort_multipart_upload(
                        Bucket=self.config.bucket, Key=state.key, UploadId=state.upload_id
                    )
                except ArchiveUnavailable as exc:
                    if error_code(exc) not in ("NoSuchUpload", "404"):
                        raise
            self.archive.end_multipart(state.segment)

    # ------------------------------------------------------------------ one segment

    def _digest(self, row: SegmentRow) -> FileDigests:
        multipart = row.bytes >= self.multipart_threshold
        return digest_file(row.path, self.part_size if multipart else max(row.bytes, 1))

    def upload(self, row: SegmentRow, digests: FileDigests | None = None) -> None:
        """Put ``row``'s file in the store (or find it there) and mark it archived;
        ``digests``: its file's, made ahead (else here)."""
        multipart = row.bytes >= self.multipart_threshold
        if digests is None:
            digests = self._digest(row)
        if digests.size != row.bytes:
            raise OSError(f"{row.path} is {digests.size} bytes, the index says {row.bytes}")
        state = self.archive.multipart(row.id)
        if state is not None and state.sha256 != digests.sha256:
            self._abandon(state)
            state = None
        # An attempt under way keeps its key (begun by an older version, or before the
        # node was renamed): its parts, or its finished object, are there and nowhere else.
        key = state.key if state is not None else self.archive.upload_key(row)
        if state is not None and not state.upload_id and self._already_there(key, digests):
            self._archived(row, key, digests, sent=False)
            return
        if multipart:
            self._multipart(row, key, digests, state)
        else:
            self._single(row, key, digests)

    def _already_there(self, key: str, digests: FileDigests) -> bool:
        """An earlier attempt may have finished without being recorded: ask the store."""
        try:
            head = self.client.head_object(Bucket=self.config.bucket, Key=key)
        except ArchiveUnavailable as exc:
            if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        same: bool = (
            head.get("Metadata", {}).get("sha256") == digests.sha256
            and head.get("ContentLength") == digests.size
        )
        return same

    def _single(self, row: SegmentRow, key: str, digests: FileDigests) -> None:
        # Recorded before the first byte goes: a crash after the PUT finds it by HEAD.
        self.archive.begin_multipart(self._state(row, key, "", digests))
        with self._body(row.path, 0, digests.size) as body:
            answer = self.client.put_object(
                Bucket=self.config.bucket,
                Key=key,
                Body=body,
                ContentLength=digests.size,
                ContentType="video/mp4",
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=digests.whole_checksum,
                Metadata={"sha256": digests.sha256},
            )
        _verify(
            answer,
            digests.whole_checksum,
            lambda: etag_of(row.path, digests, multipart=False),
            key,
        )
        self._archived(row, key, digests, sent=True)

    def _multipart(
        self, row: SegmentRow, key: str, digests: FileDigests, state: MultipartState | None
    ) -> None:
        bucket = self.config.bucket
        held: dict[int, dict[str, Any]] = {}
        if state is not None and state.upload_id:
            try:
                held = self._parts_held(key, state.upload_id)
            except ArchiveUnavailable as exc:
                if error_code(exc) not in ("NoSuchUpload", "404"):
                    raise
                # Completed (or aborted) by an attempt that was not recorded.
                self.archive.end_multipart(row.id)
                if self._already_there(key, digests):
                    self._archived(row, key, digests, sent=False)
                    return
                state = None
        if state is None or not state.upload_id:
            created = self.client.create_multipart_upload(
                Bucket=bucket,
                Key=key,
                ContentType="video/mp4",
                ChecksumAlgorithm="SHA256",
                Metadata={"sha256": digests.sha256},
            )
            state = self._state(row, key, created["UploadId"], digests)
            self.archive.begin_multipart(state)
        sent: dict[int, dict[str, Any]] = {}
        todo: list[PartDigest] = []
        for part in digests.parts:
            have = held.get(part.number)
            if have is not None and _part_matches(
                have,
                part.checksum,
                lambda part=part: part_etag(row.path, part),  # type: ignore[misc]
            ):
                sent[part.number] = {
                    "PartNumber": part.number,
                    "ETag": have["ETag"],
                    "ChecksumSHA256": part.checksum,
                }
            else:
                todo.append(part)
        upload_id = state.upload_id
        # Under a cap the link is the limit and a cut costs every part in flight: one at
        # a time. Without one (a LAN to the store), a few at once, as boto3's transfer
        # manager does; the cap's bucket is shared either way.
        workers = 1 if self.config.upload_kbps else min(PARALLEL_PARTS, len(todo))
        if workers <= 1:
            for part in todo:
                sent[part.number] = self._send_part(row.path, key, upload_id, part)
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="archive-part") as pool:
                for answer in pool.map(
                    lambda part: self._send_part(row.path, key, upload_id, part), todo
                ):
                    sent[answer["PartNumber"]] = answer
        done = [sent[part.number] for part in digests.parts]
        answer = self.client.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=state.upload_id,
            MultipartUpload={"Parts": done},
        )
        try:
            _verify(
                answer,
                digests.composite_checksum,
                # Each part was checked as it went (or found held); the parts' ETags then
                # prove the assembly without a second read of the file for its MD5s.
                lambda: (
                    composite_etag([p["ETag"] for p in done])
                    or etag_of(row.path, digests, multipart=True)
                ),
                key,
            )
        except ChecksumMismatch:
            self.archive.end_multipart(row.id)  # the object is wrong: send it whole again
            raise
        self._archived(row, key, digests, sent=True)

    def _send_part(self, path: Path, key: str, upload_id: str, part: PartDigest) -> dict[str, Any]:
        """One part, with its SHA-256, and the store's answer checked; its entry for
        CompleteMultipartUpload."""
        with self._body(path, part.offset, part.length) as body:
            answer = self.client.upload_part(
                Bucket=self.config.bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=part.number,
                Body=body,
                ContentLength=part.length,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=part.checksum,
            )
        _verify(
            answer,
            part.checksum,
            lambda: part_etag(path, part),
            f"{key} part {part.number}",
        )
        return {"PartNumber": part.number, "ETag": answer["ETag"], "ChecksumSHA256": part.checksum}

    def _parts_held(self, key: str, upload_id: str) -> dict[int, dict[str, Any]]:
        held: dict[int, dict[str, Any]] = {}
        pages = self.client.get_paginator("list_parts").paginate(
            Bucket=self.config.bucket, Key=key, UploadId=upload_id
        )
        for page in pages:
            for part in page.get("Parts", []):
                held[int(part["PartNumber"])] = part
        return held

    def _abandon(self, state: MultipartState) -> None:
        if state.upload_id:
            try:
                self.client.abort_multipart_upload(
                    Bucket=self.config.bucket, Key=state.key, UploadId=state.upload_id
                )
            except ArchiveUnavailable as exc:
                if error_code(exc) not in ("NoSuchUpload", "404"):
                    raise
        self.archive.end_multipart(state.segment)

    def _state(
        self, row: SegmentRow, key: str, upload_id: str, digests: FileDigests
    ) -> MultipartState:
        return MultipartState(
            segment=row.id,
            key=key,
            upload_id=upload_id,
            part_size=self.part_size,
            bytes=digests.size,
            sha256=digests.sha256,
            started=datetime.now(UTC),
        )

    def _body(self, path: Path, offset: int, length: int) -> MeteredSlice:
        return MeteredSlice(path, offset, length, self._limit, self._sent)

    def _sent(self, n: int) -> None:
        mono = time.monotonic()
        with self._lock:
            self._figures.sent_bytes += n
            if not self._samples or mono - self._samples[-1][0] >= 0.5:
                self._samples.append((mono, self._figures.sent_bytes))
                self._trim_samples(mono)

    def _trim_samples(self, mono: float) -> None:
        while len(self._samples) > 2 and mono - self._samples[0][0] > RATE_WINDOW:
            self._samples.popleft()

    def _archived(self, row: SegmentRow, key: str, digests: FileDigests, *, sent: bool) -> None:
        when = datetime.fromtimestamp(self._clock(), UTC)
        if not self.archive.mark_archived(row.id, digests.sha256, when, size=digests.size, key=key):
            log.info("archive: %s changed or went while uploading", key)
            return
        with self._lock:
            f = self._figures
            kec = row.kecamatan
            f.uploaded_bytes[kec] = f.uploaded_bytes.get(kec, 0) + digests.size
            f.uploaded_segments[kec] = f.uploaded_segments.get(kec, 0) + 1
            if not sent:
                f.confirmed_without_sending += 1


def _part_matches(held: dict[str, Any], checksum: str, etag: Callable[[], str]) -> bool:
    if held.get("ChecksumSHA256"):
        return bool(held["ChecksumSHA256"] == checksum)
    got = str(held.get("ETag", ""))
    return got == etag() if MD5_ETAG.match(got) else False
