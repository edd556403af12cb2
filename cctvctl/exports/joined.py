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

Picture sizes: an MP4 track holds one size (:mod:`~cctvctl.exports.by_size`), so a part
whose sub-window spans a change of size is one clip per size (this node's by
:func:`~cctvctl.exports.by_size.remux_by_size`, another node's as that node's job made
them, every one downloaded and verified), and the join makes one clip per run of
consecutive part clips of one size (each clip's size read from the file), in time order,
each cut where the next run begins, exactly as a single node's export of such a window.

Failure policy: a part that cannot be had (a node unreachable, a refusal, a download that
does not verify) fails the whole job, naming the node and the sub-window; nothing of it is
left as a clip. An export is evidence: a clip silently short of footage that exists would
be worse than a retry. A store that cannot be reached is different: which other node might
hold footage is unknown, so the job copies this node's footage as a single node does, and
the uncovered time is listed as gaps, like any other missing footage.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from cctvctl.exports.by_size import (
    SizedClip,
    combined,
    declared_size,
    picture_size,
    remux_by_size,
    runs_by_size,
    runs_of_one_size,
)
from cctvctl.exports.files import sha256_file
from cctvctl.exports.peers import NODE_TOKEN_PREFIX, PeerExports
from cctvctl.exports.pieces import Piece, Span, split_window
from cctvctl.exports.remux import ClipResult, Source, remux_clip
from cctvctl.fleet.records import FootageRun, Node, StoreUnavailable
from cctvctl.models import ExportClip, ExportJob, ExportPart, ExportPartClip
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
    """The clip(s) made from several nodes' parts, and what each gave.

    ``clips``: one per run of one picture size, in time order, the first at the join's
    ``out`` (one clip when the window has one size); ``result`` covers them all.
    """

    result: ClipResult
    parts: list[ExportPart]
    clips: list[SizedClip]

    @property
    def sources(self) -> list[str]:
        return [f"{p.node}:{s}" for p in self.parts for s in p.sources]

    @property
    def source_bytes(self) -> int:
        return sum(sum(c.size for c in p.clips) if p.clips else p.size for p in self.parts)


@dataclass(frozen=True, slots=True)
class _PartClip:
    """One clip of a part (a part spanning a change of picture size has several)."""

    path: Path
    first_frame: float  # wall time; where the clip before it is cut
    picture: tuple[int, int] | None


@dataclass(frozen=True, slots=True)
class _Part:
    clips: list[_PartClip]
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
        part_path: Callable[[int, int], Path],
        size_path: Callable[[int], Path],
        wait_seconds: float,
        should_stop: Callable[[], bool],
        stored_path: Callable[[Path], str],
        on_part: Callable[[int, int], None] = lambda done, total: None,
        readable: Readable | None = None,
    ) -> JoinedClip | None:
        """Make ``out`` from every node's part; None when this node's footage is all.

        ``part_path(n, k)``: where clip ``k`` of part ``n`` waits for the join;
        ``size_path(n)``: where the joined clip ``n`` (from 1) of another picture size is
        made. ``on_part(done, total)`` after each part, so the job's percent moves on.
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
            path = functools.partial(part_path, n)  # clip k of this part at path(k)
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
            firsts = [to_ts(c.first_frame) for c in m.clips] or [to_ts(m.first_frame)]
            declared = [declared_size(c.width, c.height) for c in m.clips] or [None]
            got_clips = [
                _PartClip(f, first, picture_size(f) or size)
                for f, first, size in zip(got.files, firsts, declared, strict=True)
            ]
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
                clips=[_part_clip(c) for c in m.clips] if len(m.clips) > 1 else [],
            )
            parts.append(_Part(got_clips, info))
            on_part(len(parts), len(pieces))
        clips = _join(parts, to_ts(job.start), to_ts(job.end), out, size_path, should_stop)
        for part in parts:
            for clip in part.clips:
                clip.path.unlink(missing_ok=True)
        log.info(
            "export %s: joined %s into %d clip(s)",
            job.id,
            ", ".join(f"{p.info.node} {p.info.frames} frames" for p in parts),
            len(clips),
        )
        return JoinedClip(combined(clips), [p.info for p in parts], clips)

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
    path: Callable[[int], Path],
    stored_path: Callable[[Path], str],
    should_stop: Callable[[], bool],
    readable: Readable | None = None,
) -> _Part:
    """This node's piece as a single node exports it: one clip per picture size."""
    rows = index.segments(camera, piece.start, piece.end)
    where = contextlib.nullcontext({r.path: r.path for r in rows})
    with where if readable is None else readable(rows) as paths:
        runs = runs_of_one_size([dataclasses.replace(r, path=paths[r.path]) for r in rows])
        sized = remux_by_size(
            runs,
            to_ts(piece.start),
            to_ts(piece.end),
            [path(k) for k in range(len(runs))],
            should_stop=should_stop,
        )
    back = {read: row_path for row_path, read in paths.items()}
    hashed = [(sha256_file(c.path), c.path.stat().st_size) for c in sized]
    result = combined(sized)
    info = ExportPart(
        node=piece.node,
        start=piece.start,
        end=piece.end,
        first_frame=from_ts(result.first_frame),
        last_frame=from_ts(result.last_frame),
        frames=result.frames,
        sha256=hashed[0][0],
        size=hashed[0][1],
        sources=[stored_path(back.get(p, p)) for p in result.sources],
        clips=[
            ExportPartClip(
                width=c.width,
                height=c.height,
                first_frame=from_ts(c.result.first_frame),
                last_frame=from_ts(c.result.last_frame),
                frames=c.result.frames,
                sha256=digest,
                size=size,
            )
            for c, (digest, size) in zip(sized, hashed, strict=True)
        ]
        if len(sized) > 1
        else [],
    )
    clips = [
        _PartClip(
            c.path, c.result.first_frame, picture_size(c.path) or declared_size(c.width, c.height)
        )
        for c in sized
    ]
    return _Part(clips, info)


def _part_clip(clip: ExportClip) -> ExportPartClip:
    return ExportPartClip(
        width=clip.width,
        height=clip.height,
        first_frame=clip.first_frame,
        last_frame=clip.last_frame,
        frames=clip.frames,
        sha256=clip.sha256,
        size=clip.size,
    )


def _join(
    parts: Sequence[_Part],
    start: float,
    end: float,
    out: Path,
    size_path: Callable[[int], Path],
    should_stop: Callable[[], bool],
) -> list[SizedClip]:
    """The parts' clips stream-copied into one clip per run of one picture size: the
    first at ``out``, clip ``n`` at ``size_path(n)``; each run's window ends where the
    next run's first frame is, as :func:`~cctvctl.exports.by_size.remux_by_size` cuts a
    single node's, so a hole at a change of size is a gap of the clip before it."""
    flat = [c for p in parts for c in p.clips]
    runs = runs_by_size(list(zip(flat, _chained(flat), strict=True)), lambda cs: cs[0].picture)
    made: list[SizedClip] = []
    for n, run in enumerate(runs):
        lo = start if n == 0 else max(start, run[0][0].first_frame)
        hi = min(end, runs[n + 1][0][0].first_frame) if n + 1 < len(runs) else end
        path = out if n == 0 else size_path(n)
        result = remux_clip([src for _, src in run], lo, hi, path, should_stop=should_stop)
        picture = next((c.picture for c, _ in run if c.picture), None)
        width, height = picture or (None, None)
        made.append(SizedClip(path, width, height, result))
    return made


def _chained(clips: Sequence[_PartClip]) -> list[Source]:
    """The part clips as sources of one stream copy, each cut where the next one starts."""
    return [
        Source(
            c.path,
            c.first_frame,
            c.path.stat().st_size,
            until=clips[i + 1].first_frame if i + 1 < len(clips) else float("inf"),
        )
        for i, c in enumerate(clips)
    ]
