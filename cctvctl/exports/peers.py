"""Asking another fleet node for its part of a window: an export job there, downloaded.

The peer runs the same export pipeline on its own segments (``POST /api/v1/exports`` for
the sub-window), so its part arrives as a clip with a manifest, already cut at a keyframe
and hashed where the footage lives; this side downloads it and checks size and SHA-256
against that manifest. Asking for a job rather than for raw segment files reuses the
pipeline, keeps the peer's audit log the record of what left it, and sends only the
window's bytes. A sub-window that spans a change of the camera's picture size is several
clips there (one per size, the manifest's ``clips``); every one is downloaded
(``/file?clip=N``) and checked against its own size and SHA-256, so no clip of a part is
left behind.

The backend does not import ``cctvctl.client`` (an import-linter contract), so this is a
small synchronous httpx conversation of its own, run on the export worker's thread.

A job requested with a node's token (named :data:`NODE_TOKEN_PREFIX` + node) is made from
the peer's own footage only: a part never asks further nodes, so two nodes cannot ask each
other in a circle.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Final

import httpx

from cctvctl.exports.pieces import Piece
from cctvctl.exports.remux import ExportCancelled
from cctvctl.models import ExportJob, ExportManifest, ExportState
from cctvctl.untrusted import quoted

__all__ = ["NODE_TOKEN_PREFIX", "PeerExports", "PeerFailed", "RemotePart", "node_token_name"]

#: Fleet tokens named so belong to nodes, not people (see the module).
NODE_TOKEN_PREFIX: Final = "node:"  # noqa: S105 (a name, not a secret)
#: A fleet token reaches every node within a sync pass (2 s); a 401 is retried this long.
TOKEN_REACH: Final = 6.0
#: Seconds a peer may take to copy its part, besides waiting for its open segment.
COPY_SECONDS: Final = 300.0
POLL: Final = 0.5
_CHUNK: Final = 256 * 1024


def node_token_name(node: str) -> str:
    return NODE_TOKEN_PREFIX + node


class PeerFailed(ValueError):
    """A peer could not give its part; ``str()`` names the node and the sub-window."""


@dataclass(frozen=True, slots=True)
class RemotePart:
    """A part downloaded from a peer and checked against its manifest: ``files[n]`` is
    the peer's clip ``n`` (one per picture size; one file for one size)."""

    job: str
    manifest: ExportManifest
    files: list[Path]


def _problem(answer: httpx.Response) -> str:
    try:
        detail = answer.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return f"HTTP {answer.status_code}" + (f": {quoted(detail, 300)}" if detail else "")


class PeerExports:
    """Export jobs on other nodes, with this node's fleet token (``token()``).

    ``token()`` answers None until the node has made its token; the token is sent in the
    Authorization header only, never logged or written anywhere.
    """

    def __init__(
        self,
        token: Callable[[], str | None],
        *,
        timeout: float = 10.0,
        poll: float = POLL,
    ) -> None:
        self._token = token
        self._timeout = timeout
        self._poll = poll

    def fetch(
        self,
        url: str,
        piece: Piece,
        camera: str,
        out: Callable[[int], Path],
        *,
        note: str,
        wait_seconds: float,
        should_stop: Callable[[], bool],
    ) -> RemotePart:
        """Have ``piece.node`` (at ``url``) export ``piece``, and download its clip ``n``
        to ``out(n)``, each one of them.

        Raises :class:`PeerFailed` naming the node and the sub-window, or
        :class:`~cctvctl.exports.remux.ExportCancelled` when ``should_stop`` says so.
        """
        what = f"node {piece.node} ({url}) for {piece.window}"
        token = self._token()
        if token is None:
            raise PeerFailed(f"cannot ask {what}: this node has no fleet token yet")
        body = {
            "camera": camera,
            "start": piece.start.astimezone(UTC).isoformat(),
            "end": piece.end.astimezone(UTC).isoformat(),
            "note": note,
        }
        try:
            with httpx.Client(
                base_url=url,
                headers={"Authorization": f"Bearer {token}"},
                timeout=self._timeout,
                follow_redirects=False,
            ) as http:
                return self._fetch(http, body, out, wait_seconds + COPY_SECONDS, should_stop)
        except httpx.HTTPError as exc:
            raise PeerFailed(f"{what} did not answer: {type(exc).__name__}: {exc}") from None
        except PeerFailed as exc:
            raise PeerFailed(f"{what}: {exc}") from None

    def _fetch(
        self,
        http: httpx.Client,
        body: dict[str, str],
        out: Callable[[int], Path],
        seconds: float,
        should_stop: Callable[[], bool],
    ) -> RemotePart:
        deadline = time.monotonic() + TOKEN_REACH
        answer = http.post("/api/v1/exports", json=body)
        while answer.status_code == 401 and time.monotonic() < deadline:
            time.sleep(self._poll)  # our token may not have reached that node yet
            answer = http.post("/api/v1/exports", json=body)
        if answer.status_code != 202:
            raise PeerFailed(f"refused the part: {_problem(answer)}")
        job = ExportJob.model_validate_json(answer.content)
        try:
            job = self._wait(http, job, seconds, should_stop)
            manifest = ExportManifest.model_validate_json(
                self._get(http, f"/api/v1/exports/{job.id}/manifest").content
            )
            files = self._download_all(http, job.id, manifest, out)
        except BaseException:
            _forget(http, job.id)
            raise
        _forget(http, job.id)  # the peer's copy is not evidence; its audit row stays
        return RemotePart(job.id, manifest, files)

    def _download_all(
        self,
        http: httpx.Client,
        job_id: str,
        manifest: ExportManifest,
        out: Callable[[int], Path],
    ) -> list[Path]:
        """Every clip of the peer's job, each checked against its manifest entry."""
        wanted = [(c.sha256, c.size) for c in manifest.clips] or [(manifest.sha256, manifest.size)]
        files: list[Path] = []
        for n, (sha256, size) in enumerate(wanted):
            what = f"its export {job_id}"
            if len(wanted) > 1:
                what += f" clip {n + 1} of {len(wanted)}"
            files.append(out(n))
            self._download(http, job_id, n, sha256, size, files[-1], what)
        return files

    def _get(self, http: httpx.Client, path: str) -> httpx.Response:
        answer = http.get(path)
        if answer.status_code != 200:
            raise PeerFailed(f"GET {path}: {_problem(answer)}")
        return answer

    def _wait(
        self,
        http: httpx.Client,
        job: ExportJob,
        seconds: float,
        should_stop: Callable[[], bool],
    ) -> ExportJob:
        deadline = time.monotonic() + seconds
        while not job.state.final:
            if should_stop():
                raise ExportCancelled
            if time.monotonic() > deadline:
                raise PeerFailed(f"its export {job.id} did not finish within {seconds:.0f} s")
            time.sleep(self._poll)
            job = ExportJob.model_validate_json(
                self._get(http, f"/api/v1/exports/{job.id}").content
            )
        if job.state is not ExportState.DONE:
            reason = f": {quoted(job.error, 300)}" if job.error else ""
            raise PeerFailed(f"its export {job.id} ended {job.state.value}{reason}")
        return job

    def _download(
        self,
        http: httpx.Client,
        job_id: str,
        clip: int,
        sha256: str,
        expected: int,
        out: Path,
        what: str,
    ) -> None:
        digest = hashlib.sha256()
        size = 0
        params = {"clip": str(clip)} if clip else None
        with http.stream("GET", f"/api/v1/exports/{job_id}/file", params=params) as answer:
            if answer.status_code != 200:
                answer.read()
                raise PeerFailed(f"download of {what}: {_problem(answer)}")
            with out.open("wb") as fh:
                for block in answer.iter_bytes(_CHUNK):
                    fh.write(block)
                    digest.update(block)
                    size += len(block)
        if size != expected or digest.hexdigest() != sha256:
            raise PeerFailed(
                f"{what} did not verify: {size} bytes, sha256 {digest.hexdigest()}; "
                f"its manifest says {expected} bytes, sha256 {sha256}"
            )


def _forget(http: httpx.Client, job_id: str) -> None:
    with contextlib.suppress(httpx.HTTPError):  # else it expires there after keep days
        http.delete(f"/api/v1/exports/{job_id}")
