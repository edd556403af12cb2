"""A fleet node's export of a window whose footage lies partly on other nodes.

The footage catalogue (the fleet store's runs) says which node held the camera when; this
node's own index stands in for its own runs (the catalogue lags it by a segment and a
sync pass). :func:`~cctvctl.exports.pieces.split_window` cuts the window into pieces, one
node each. When every piece is this node's, nothing changes: the job is today's stream
copy of local segments. Otherwise each piece becomes a part clip (this node's by the
same stream copy, another node's by an export job there, downloaded and verified:
:mod:`~cctvctl.exports.peers`), and the parts are stream-copied once more into one clip,
each cut where the next begins (at that part's first keyframe), so the timeline stays
wall-clock true and a seam is never two nodes' frames at once.

Failure policy: a part that cannot be had (a node unreachable, a refusal, a download that
does not verify) fails the whole job, naming the node and the sub-window; nothing of it is
left as a clip. An export is evidence: a clip silently short of footage that exists would
be worse than a retry. A store that cannot be reached is different: which other node might
hold footage is unknown, so the job copies this node's footage as a single node does, and
the uncovered time is listed as gaps, like any other missing footage.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from cctvctl.exports.files import sha256_file
from cctvctl.exports.peers import NODE_TOKEN_PREFIX, PeerExports
from cctvctl.exports.pieces import Piece, Span, split_window
from cctvctl.exports.remux import ClipResult, Source, remux_clip
from cctvctl.fleet.records import FootageRun, Node, StoreUnavailable
from cctvctl.models import ExportJob, ExportPart
from cctvctl.storage.database import Database, SegmentRow, from_ts, to_ts

__all__ = ["Catalogue", "FleetExports", "JoinedClip", "Readable"]

log = logging.getLogger(__name__)

#: Segments made readable for a block: ``{row.path: a path to read}`` (the exporter's, which
#: fetches footage only the archive holds).
Readable = Callable[[list[SegmentRow]], AbstractContextManager[dict[Path, Path]]]


class Catalogue(Protocol):
    """What a fleet export reads from the fleet store (``FleetStore`` has both)."""

    def runs(self, camera: str, start: datetime, end: datetime) -> list[FootageRun]: ...

    def nodes(self) -> list[Node]: ...


@dataclass(frozen=True, slots=True)
class JoinedClip:
    """The clip made from several nodes' parts, and what each gave."""

    result: ClipResult
    parts: list[ExportPart]

    @property
    def sources(self) -> list[str]:
        return [f"{p.node}:{s}" for p in self.parts for s in p.sources]

    @property
    def source_bytes(self) -> int:
        return sum(p.size for p in self.parts)


@dataclass(frozen=True, slots=True)
class _Part:
    path: Path
    info: ExportPart


@dataclass(eq=False, kw_only=True)
class FleetExports:
    """A fleet node's reach for other nodes' footage (None on a single node)."""

    node: str
    catalogue: Catalogue
    peers: PeerExports

    def join(
        self,
        job: ExportJob,
        *,
        index: Database,
        out: Path,
        part_path: Callable[[int], Path],
        wait_seconds: float,
        should_stop: Callable[[], bool],
        stored_path: Callable[[Path], str],
        on_part: Callable[[int, int], None] = lambda done, total: None,
        readable: Readable | None = None,
    ) -> JoinedClip | None:
        """Make ``out`` from every node's part; None when this node's footage is all.

        ``on_part(done, total)`` after each part, so the job's percent moves on meanwhile.
        ``readable``: this node's segments made readable (archived ones fetched back).
        """
        if job.requester.startswith(NODE_TOKEN_PREFIX):
            return None  # a part asked for by another node: our own footage only
        try:
            runs = self.catalogue.runs(job.camera, job.start, job.end)
        except StoreUnavailable as exc:
            log.warning(
                "export %s: %s; copying this node's footage, other nodes' is not looked for",
                job.id,
                exc,
            )
            return None
        spans = [Span(r.node, r.start, r.end or job.end) for r in runs if r.node != self.node]
        spans += _local_spans(index, job, self.node)
        pieces = split_window(spans, job.start, job.end, here=self.node)
        if all(p.node == self.node for p in pieces):
            return None
        urls = self._urls()
        parts: list[_Part] = []
        for n, piece in enumerate(pieces):
            path = part_path(n)
            if piece.node == self.node:
                parts.append(
                    _local_part(index, job.camera, piece, path, stored_path, should_stop, readable)
                )
                on_part(len(parts), len(pieces))
                continue
            url = urls.get(piece.node)
            if url is None:
                raise ValueError(
                    f"node {piece.node} holds footage for {piece.window} but the fleet "
                    "store knows no address for it"
                )
            got = self.peers.fetch(
                url,
                piece,
                job.camera,
                path,
                note=f"part of export {job.id} on {self.node}",
                wait_seconds=wait_seconds,
                should_stop=should_stop,
            )
            m = got.manifest
            info = ExportPart(
                node=piece.node,
                start=piece.start,
                end=piece.end,
                first_frame=m.first_frame,
                last_frame=m.last_frame,
                frames=m.frames,
                sha256=m.sha256,
                size=m.size,
                job=got.job,
                sources=m.sources,
            )
            parts.append(_Part(path, info))
            on_part(len(parts), len(pieces))
        result = remux_clip(
            _chained(parts), to_ts(job.start), to_ts(job.end), out, should_stop=should_stop
        )
        for part in parts:
            part.path.unlink(missing_ok=True)
        log.info(
            "export %s: joined %s",
            job.id,
            ", ".join(f"{p.info.node} {p.info.frames} frames" for p in parts),
        )
        return JoinedClip(result, [p.info for p in parts])

    def _urls(self) -> dict[str, str]:
        try:
            return {n.name: n.url for n in self.catalogue.nodes()}
        except StoreUnavailable as exc:
            raise ValueError(
                f"the fleet store could not say where the other nodes are: {exc}"
            ) from None


def _local_spans(index: Database, job: ExportJob, node: str) -> list[Span]:
    """This node's footage of the window from its own index, joined over small breaks."""
    spans: list[Span] = []
    for row in index.segments(job.camera, job.start, job.end):
        if spans and row.start - spans[-1].end <= timedelta(seconds=1):
            spans[-1] = Span(node, spans[-1].start, max(spans[-1].end, row.end))
        else:
            spans.append(Span(node, row.start, row.end))
    return spans


def _local_part(
    index: Database,
    camera: str,
    piece: Piece,
    path: Path,
    stored_path: Callable[[Path], str],
    should_stop: Callable[[], bool],
    readable: Readable | None = None,
) -> _Part:
    rows = index.segments(camera, piece.start, piece.end)
    where = contextlib.nullcontext({r.path: r.path for r in rows})
    with where if readable is None else readable(rows) as paths:
        sources = [Source(paths[r.path], to_ts(r.start), r.bytes) for r in rows]
        clip = remux_clip(
            sources, to_ts(piece.start), to_ts(piece.end), path, should_stop=should_stop
        )
    back = {read: row_path for row_path, read in paths.items()}
    info = ExportPart(
        node=piece.node,
        start=piece.start,
        end=piece.end,
        first_frame=from_ts(clip.first_frame),
        last_frame=from_ts(clip.last_frame),
        frames=clip.frames,
        sha256=sha256_file(path),
        size=path.stat().st_size,
        sources=[stored_path(back.get(p, p)) for p in clip.sources],
    )
    return _Part(path, info)


def _chained(parts: Sequence[_Part]) -> list[Source]:
    """The parts as sources of one stream copy, each cut where the next one starts."""
    starts = [to_ts(p.info.first_frame) for p in parts]
    return [
        Source(
            p.path,
            starts[i],
            p.info.size,
            until=starts[i + 1] if i + 1 < len(parts) else float("inf"),
        )
        for i, p in enumerate(parts)
    ]
