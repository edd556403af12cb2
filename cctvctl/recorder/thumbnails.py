"""Thumbnails from each camera's latest keyframe, decoded only when someone asks.

Ingest keeps the newest keyframe's bytes (copied before the muxer rewrites the packet)
and the stream's extradata; nothing is decoded while nobody is looking, so the cost
grows with viewers rather than cameras. A request decodes that one keyframe (an IDR
picture decodes on its own), scales it with swscale via ``VideoFrame.reformat`` and
returns raw RGB or JPEG. Results are cached per (camera, width, height, format) for
``thumbnail_seconds``; after that the cached picture is still served without a new
decode as long as no newer keyframe arrived, which is what an offline camera looks like.

Memory is bounded by bytes, not only by entries: sizes are the caller's choice, so 512
cached results could be 512 full-HD RGB pictures (3 GB). Results are kept within
``max_result_bytes`` (least recently used go first) and decoded pictures within
``max_frames``. When requests stop for a few seconds, :meth:`ThumbnailService.release_if_idle`
drops the decoded pictures and hands freed heap back to the system (see ``malloc``).
"""

from __future__ import annotations

import io
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

import av

from cctvctl.recorder import malloc

__all__ = [
    "FORMATS",
    "MAX_HEIGHT",
    "MAX_WIDTH",
    "MIN_SIDE",
    "Keyframe",
    "Thumbnail",
    "ThumbnailError",
    "ThumbnailService",
    "decode_keyframe",
    "fit_size",
    "render",
]

ThumbnailFormat = Literal["rgb", "jpeg"]
FORMATS: Final[tuple[str, ...]] = ("rgb", "jpeg")
MAX_WIDTH: Final = 1920
MAX_HEIGHT: Final = 1080
MIN_SIDE: Final = 2
JPEG_QUALITY: Final = 80
# Decoded pictures kept for re-scaling to another size without decoding again: a 1080p
# picture (with its decoder's buffers) is a few MB, so only a few are kept.
MAX_FRAMES: Final = 8
MAX_RESULTS: Final = 512
# A wall of 54 text thumbnails in 3 consoles is about 2 MB of RGB; 16 MB leaves room for
# snapshots and odd sizes without letting arbitrary sizes fill the memory.
MAX_RESULT_BYTES: Final = 16 * 1024 * 1024
# Seconds without a request after which decoded pictures go and the heap is trimmed.
IDLE_SECONDS: Final = 5.0


class ThumbnailError(Exception):
    """The stored keyframe could not be decoded (corrupt data, unknown codec)."""


@dataclass(frozen=True, slots=True, eq=False)
class Keyframe:
    """The newest keyframe of a camera, as ingest saw it."""

    data: bytes
    codec: str  # decoder name, e.g. "h264"
    extradata: bytes | None
    time: float  # POSIX seconds at which it arrived
    seq: int  # grows with every keyframe of the camera; identifies this one


@dataclass(frozen=True, slots=True)
class Thumbnail:
    data: bytes  # rgb: width * height * 3 bytes, rows top to bottom; jpeg: a JPEG file
    width: int
    height: int
    format: str  # "rgb" | "jpeg"
    frame_time: datetime  # UTC arrival of the keyframe it shows

    def age_seconds(self, now: float | None = None) -> float:
        now = time.time() if now is None else now
        return max(0.0, now - self.frame_time.timestamp())


def fit_size(
    src_width: int, src_height: int, width: int | None, height: int | None
) -> tuple[int, int]:
    """Output size: keeps the aspect ratio when only one side is given, clamps to limits.

    Raises ValueError for a non-positive side (a caller's mistake, not something to clamp).
    """
    for side in (width, height):
        if side is not None and side <= 0:
            raise ValueError(f"thumbnail sides must be positive, got {side}")
    if src_width <= 0 or src_height <= 0:
        raise ValueError("source picture has no size")
    aspect = src_width / src_height
    if width is None and height is None:
        width, height = src_width, src_height
    elif height is None:
        assert width is not None
        height = round(width / aspect)
    elif width is None:
        width = round(height * aspect)
    assert width is not None and height is not None
    if width > MAX_WIDTH or height > MAX_HEIGHT:
        # Shrink both sides by the same factor, so a request that kept the aspect
        # ratio still keeps it after clamping.
        scale = min(MAX_WIDTH / width, MAX_HEIGHT / height)
        width, height = round(width * scale), round(height * scale)
    return max(MIN_SIDE, min(width, MAX_WIDTH)), max(MIN_SIDE, min(height, MAX_HEIGHT))


def decode_keyframe(keyframe: Keyframe) -> Any:
    """Decode one keyframe into a :class:`av.VideoFrame`."""
    try:
        ctx: Any = av.CodecContext.create(keyframe.codec, "r")
        if keyframe.extradata:
            ctx.extradata = keyframe.extradata
        # One picture: frame threads would only add start-up and a flush delay.
        ctx.thread_count = 1
        frames = list(ctx.decode(av.Packet(keyframe.data)))
        if not frames:
            frames = list(ctx.decode(None))
    except (av.FFmpegError, ValueError) as exc:
        raise ThumbnailError(f"cannot decode the latest keyframe: {exc}") from None
    if not frames:
        raise ThumbnailError("the latest keyframe decoded to no picture")
    return frames[-1]


def render(frame: Any, width: int, height: int, fmt: str, frame_time: datetime) -> Thumbnail:
    """Scale a decoded picture and encode it as ``fmt``."""
    scaled = frame.reformat(width=width, height=height, format="rgb24", interpolation="AREA")
    if fmt == "rgb":
        # to_ndarray drops the per-row padding swscale may leave in the plane.
        data = scaled.to_ndarray().tobytes()
    elif fmt == "jpeg":
        out = io.BytesIO()
        scaled.to_image().save(out, format="JPEG", quality=JPEG_QUALITY)
        data = out.getvalue()
    else:
        raise ValueError(f"unknown thumbnail format {fmt!r}; accepted: {', '.join(FORMATS)}")
    return Thumbnail(data, width, height, fmt, frame_time)


@dataclass(slots=True)
class _Result:
    seq: int
    expires: float
    thumbnail: Thumbnail


@dataclass(eq=False)
class ThumbnailService:
    """Decodes and caches thumbnails; safe to call from any number of threads."""

    keyframe: Callable[[str], Keyframe | None]
    _: KW_ONLY
    cache_seconds: float = 2.0
    clock: Callable[[], float] = time.monotonic
    max_results: int = MAX_RESULTS
    max_result_bytes: int = MAX_RESULT_BYTES
    max_frames: int = MAX_FRAMES
    decodes: int = field(init=False, default=0)  # keyframes decoded: the expensive part
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)
    _results: OrderedDict[tuple[str, int | None, int | None, str], _Result] = field(
        init=False, repr=False, default_factory=OrderedDict
    )
    _result_bytes: int = field(init=False, repr=False, default=0)
    _frames: OrderedDict[str, tuple[int, Any]] = field(
        init=False, repr=False, default_factory=OrderedDict
    )
    _camera_locks: dict[str, threading.Lock] = field(init=False, repr=False, default_factory=dict)
    # None: nothing to release since the last idle
    _last_request: float | None = field(init=False, repr=False, default=None)

    def _camera_lock(self, camera_id: str) -> threading.Lock:
        with self._lock:
            lock = self._camera_locks.get(camera_id)
            if lock is None:
                lock = self._camera_locks[camera_id] = threading.Lock()
            return lock

    def _cached(
        self, key: tuple[str, int | None, int | None, str], seq: int | None, now: float
    ) -> Thumbnail | None:
        with self._lock:
            hit = self._results.get(key)
            if hit is None:
                return None
            if now < hit.expires or hit.seq == seq:
                if now >= hit.expires:
                    hit.expires = now + self.cache_seconds
                self._results.move_to_end(key)
                return hit.thumbnail
            return None

    def _frame(self, camera_id: str, keyframe: Keyframe) -> Any:
        with self._lock:
            kept = self._frames.get(camera_id)
            if kept is not None and kept[0] == keyframe.seq:
                self._frames.move_to_end(camera_id)
                return kept[1]
        frame = decode_keyframe(keyframe)
        with self._lock:
            self.decodes += 1
            self._frames[camera_id] = (keyframe.seq, frame)
            self._frames.move_to_end(camera_id)
            while len(self._frames) > self.max_frames:
                self._frames.popitem(last=False)
        return frame

    def _store(self, key: tuple[str, int | None, int | None, str], result: _Result) -> None:
        """Cache ``result``, evicting the least recently used beyond the bounds (lock held)."""
        old = self._results.pop(key, None)
        if old is not None:
            self._result_bytes -= len(old.thumbnail.data)
        size = len(result.thumbnail.data)
        if size > self.max_result_bytes:
            return  # a full-size snapshot: served, not kept
        self._results[key] = result
        self._result_bytes += size
        while len(self._results) > self.max_results or self._result_bytes > self.max_result_bytes:
            _, dropped = self._results.popitem(last=False)
            self._result_bytes -= len(dropped.thumbnail.data)

    def get(
        self,
        camera_id: str,
        width: int | None = None,
        height: int | None = None,
        fmt: str = "rgb",
    ) -> Thumbnail | None:
        """The camera's latest picture, or None if it never delivered a keyframe.

        Raises ValueError for a bad size or format and :class:`ThumbnailError` when the
        keyframe cannot be decoded.
        """
        if fmt not in FORMATS:
            raise ValueError(f"unknown thumbnail format {fmt!r}; accepted: {', '.join(FORMATS)}")
        for side in (width, height):
            if side is not None and side <= 0:
                raise ValueError(f"thumbnail sides must be positive, got {side}")
        key = (camera_id, width, height, fmt)
        now = self.clock()
        with self._lock:
            self._last_request = now
        hit = self._cached(key, None, now)
        if hit is not None:
            return hit
        # One decode per camera at a time: concurrent viewers of the same camera wait
        # for the first one's result instead of decoding the same keyframe again.
        with self._camera_lock(camera_id):
            keyframe = self.keyframe(camera_id)
            if keyframe is None:
                return None
            now = self.clock()
            hit = self._cached(key, keyframe.seq, now)
            if hit is not None:
                return hit
            frame = self._frame(camera_id, keyframe)
            w, h = fit_size(frame.width, frame.height, width, height)
            thumb = render(frame, w, h, fmt, datetime.fromtimestamp(keyframe.time, UTC))
            with self._lock:
                self._store(key, _Result(keyframe.seq, now + self.cache_seconds, thumb))
            return thumb

    def cache_size(self) -> tuple[int, int, int]:
        """(results cached, their bytes, decoded pictures kept)."""
        with self._lock:
            return len(self._results), self._result_bytes, len(self._frames)

    def release_if_idle(self, idle_seconds: float = IDLE_SECONDS) -> bool:
        """After ``idle_seconds`` without a request, free what the load left behind.

        Drops the decoded pictures (each holds its decoder's buffers) and trims the heap,
        once per idle period; cached results stay, they are small and bounded. Returns
        True when it released. The recorder's monitor calls this twice a second.
        """
        with self._lock:
            last = self._last_request
            if last is None or self.clock() - last < idle_seconds:
                return False
            self._last_request = None
            self._frames.clear()
        malloc.trim()
        return True

    def forget(self, camera_id: str) -> None:
        """Drop everything cached for a camera (e.g. it was removed)."""
        with self._lock:
            self._frames.pop(camera_id, None)
            for key in [k for k in self._results if k[0] == camera_id]:
                self._result_bytes -= len(self._results.pop(key).thumbnail.data)
