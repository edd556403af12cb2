"""An export whose window spans a change of the camera's picture size: one clip per size.

An MP4 track has one init; frames of another size in it freeze or break players, and the
export is a stream copy, so nothing is scaled. The recorder starts a new segment at every
change of parameter sets and the index keeps each segment's size
(:mod:`cctvctl.recorder.parameter_sets`), so the window's segments fall into runs of one
size; each run is copied (:func:`cctvctl.exports.remux.remux_clip`) into its own clip. The
first is the job's file; the rest lie beside it and the manifest lists them all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from cctvctl.exports.remux import ClipResult, Source, remux_clip
from cctvctl.storage.database import SegmentRow, to_ts

T = TypeVar("T")

__all__ = [
    "SizedClip",
    "combined",
    "declared_size",
    "picture_size",
    "remux_by_size",
    "runs_by_size",
    "runs_of_one_size",
]


def declared_size(width: int | None, height: int | None) -> tuple[int, int] | None:
    """A picture size, or None when either side is unknown."""
    return (width, height) if width and height else None


def runs_by_size(
    items: Sequence[T], size_of: Callable[[T], tuple[int, int] | None]
) -> list[list[T]]:
    """Consecutive items grouped by picture size; an item of unknown size stays with the
    run it follows."""
    runs: list[list[T]] = []
    size: tuple[int, int] | None = None
    for item in items:
        here = size_of(item)
        if runs and (here is None or size is None or here == size):
            runs[-1].append(item)
            size = size or here
            continue
        runs.append([item])
        size = here
    return runs


def runs_of_one_size(rows: Sequence[SegmentRow]) -> list[list[SegmentRow]]:
    """Consecutive segments grouped by picture size; a segment of unknown size (indexed
    before sizes were kept, or probed) stays with the run it follows."""
    return runs_by_size(rows, lambda row: declared_size(row.width, row.height))


@dataclass(frozen=True, slots=True)
class SizedClip:
    path: Path
    width: int | None
    height: int | None
    result: ClipResult


def _size(run: Sequence[SegmentRow]) -> tuple[int | None, int | None]:
    for row in run:
        if row.width and row.height:
            return row.width, row.height
    return None, None


def remux_by_size(
    runs: Sequence[Sequence[SegmentRow]],
    start: float,
    end: float,
    paths: Sequence[Path],
    *,
    on_progress: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[SizedClip]:
    """Each run of one size into its own clip at ``paths[n]``, cut to ``[start, end)``
    and to where the next run begins. A run with no frame in the window is left out."""
    clips: list[SizedClip] = []
    done = 0
    for n, run in enumerate(runs):
        sources = [Source.of(r) for r in run]
        lo = max(start, to_ts(run[0].start))
        hi = min(end, to_ts(runs[n + 1][0].start)) if n + 1 < len(runs) else end

        def progress(nbytes: int, base: int = done) -> None:
            if on_progress is not None:
                on_progress(base + nbytes)

        try:
            result = remux_clip(
                sources, lo, hi, paths[n], on_progress=progress, should_stop=should_stop
            )
        except ValueError:
            if len(runs) == 1:
                raise
            paths[n].unlink(missing_ok=True)
            continue  # e.g. the run's only frames lie before the window's start
        done += sum(s.bytes for s in sources)
        clips.append(SizedClip(paths[n], *_size(run), result))
    if not clips:
        raise ValueError("no frame of this camera falls in the window")
    return clips


def combined(clips: Sequence[SizedClip]) -> ClipResult:
    """The job's figures over all its clips: first and last frame, frames, gaps."""
    first, last = clips[0].result, clips[-1].result
    return ClipResult(
        first_frame=first.first_frame,
        last_frame=last.last_frame,
        frames=sum(c.result.frames for c in clips),
        gaps=[g for c in clips for g in c.result.gaps],
        codec=first.codec,
        sources=[p for c in clips for p in c.result.sources],
    )


def picture_size(path: Path) -> tuple[int, int] | None:
    """The picture size a clip's video track declares (its init), None when it says none.

    A fleet export joins part clips made elsewhere; the file itself, not a node's index,
    says which of them may share one track.
    """
    import av  # heavy; only the export worker needs it

    with av.open(str(path)) as container:
        if not container.streams.video:
            return None
        ctx = container.streams.video[0].codec_context
        return (ctx.width, ctx.height) if ctx.width and ctx.height else None
