"""Encoded H.264 and H.265 loops, encoded once and cached on disk.

Serving many live streams must cost almost nothing per frame, so each scene is encoded once
into a short closed-GOP loop that the RTSP server replays forever. By default every camera
draws its own scene; with ``scenes = "shared"`` the cameras of one codec share one scene, so
one encoded loop (one set of bytes in memory) serves any number of them. The encoded loop is
cached under ``settings.cache_dir``; the cache key covers every input that changes the bytes,
so a stale entry is never served and an unchanged site starts without encoding.
"""

from __future__ import annotations

import base64
import contextlib
import fractions
import hashlib
import json
import math
import multiprocessing
import multiprocessing.context
import os
import re
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cctvctl.sim import rtp_h265
from cctvctl.sim.model import SimCamera, SimSettings, media_of
from cctvctl.sim.scene import loop_frame_count, render_frame

# Bump whenever scene drawing or encoder settings change: old cache entries then stop matching.
CACHE_VERSION = 1
CLOCK_RATE = 90_000  # RTP clock for video (RFC 6184)
_BASE_BITRATE = 450_000  # at 640x360; a modest figure for a fixed government camera
_BASE_PIXELS = 640 * 360
_NAL_SPS, _NAL_PPS = 7, 8

ProgressCallback = Callable[[int, int, str], None]
"""Called with (loops done, loops total, camera id) after each camera's loop is ready."""


@dataclass(frozen=True, slots=True)
class AccessUnit:
    """One encoded picture of the loop."""

    data: memoryview  # Annex B bytes, a view into Loop.data
    pts: int  # 90 kHz ticks from the start of the loop; dts == pts (no B-frames)
    keyframe: bool
    payloads: tuple[bytes, ...]  # RTP payloads in send order; the last one carries the marker


@dataclass(frozen=True)
class Loop:
    """A scene's encoded loop, ready to be replayed over RTP."""

    camera_id: str  # the scene's: the camera's own, or a shared scene's (scene_of)
    width: int
    height: int
    fps: int
    data: bytes  # the whole loop as one Annex B stream
    units: tuple[AccessUnit, ...]
    sps: bytes  # NAL units without start code, for sprop-parameter-sets
    pps: bytes
    duration: int  # 90 kHz ticks; the next pass starts this long after the previous one
    from_cache: bool
    encode_seconds: float  # 0.0 when loaded from the cache
    codec: str = "h264"  # or "h265"
    vps: bytes = b""  # H.265 only

    @property
    def profile_level_id(self) -> str:
        return self.sps[1:4].hex()

    @property
    def sprop_parameter_sets(self) -> str:
        return ",".join(base64.b64encode(n).decode("ascii") for n in (self.sps, self.pps))

    @property
    def keyframe_indices(self) -> tuple[int, ...]:
        return tuple(i for i, unit in enumerate(self.units) if unit.keyframe)

    @property
    def bitrate(self) -> float:
        """Average bits per second over one pass."""
        return len(self.data) * 8 * CLOCK_RATE / self.duration


@dataclass(frozen=True, slots=True)
class _Entry:
    """An access unit as the cache index stores it."""

    pts: int
    keyframe: bool
    offset: int
    size: int


def target_bitrate(settings: SimSettings) -> int:
    """Encoder bit rate: the base figure scaled gently with picture area."""
    scale = math.sqrt(settings.width * settings.height / _BASE_PIXELS)
    return max(100_000, round(_BASE_BITRATE * scale))


def gop_frames(settings: SimSettings) -> int:
    return max(1, round(settings.gop_seconds * settings.fps))


def _frame_pts(index: int, fps: int) -> int:
    return round(index * CLOCK_RATE / fps)


#: SimSettings.scenes: a scene per camera, or one per codec shared by every camera of it.
SCENES = ("camera", "shared")


def scene_of(camera: SimCamera, settings: SimSettings) -> SimCamera:
    """The camera whose scene ``camera`` sends: itself, or with ``scenes = "shared"`` a
    stand-in that every camera of the same codec shares (the picture then names the codec,
    not the camera). Applying it twice gives the same stand-in."""
    if settings.scenes != "shared":
        return camera
    codec = media_of(camera, settings).codec
    return SimCamera(
        id=f"shared-{codec}",
        name=f"shared {codec} scene",
        kecamatan="shared scene",
        site=codec.upper(),
        rtsp_port=0,
        path="",
        username="",
        password="",
        codec=codec,
    )


# --- cache ---------------------------------------------------------------------------------


def cache_key(camera: SimCamera, settings: SimSettings) -> str:
    """Hash of every input that changes the encoded bytes."""
    camera = scene_of(camera, settings)
    params = {
        "version": CACHE_VERSION,
        "codec": media_of(camera, settings).codec,
        "camera": camera.id,
        "kecamatan": camera.kecamatan,
        "site": camera.site,
        "width": settings.width,
        "height": settings.height,
        "fps": settings.fps,
        "loop_seconds": settings.loop_seconds,
        "gop_seconds": settings.gop_seconds,
        "bitrate": target_bitrate(settings),
    }
    blob = json.dumps(params, sort_keys=True).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:20]


def cache_paths(camera: SimCamera, settings: SimSettings) -> tuple[Path, Path]:
    """(Annex B file, JSON index) of the camera's scene under these settings (with shared
    scenes, the same two files for every camera of a codec)."""
    camera = scene_of(camera, settings)
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", camera.id)
    stem = f"{safe}-{settings.width}x{settings.height}-{cache_key(camera, settings)}"
    base = Path(settings.cache_dir)
    return base / f"{stem}.{media_of(camera, settings).codec}", base / f"{stem}.json"


def _write_atomic(path: Path, data: bytes) -> None:
    # Readers either see the old file or the complete new one, never a torn write.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _store(paths: tuple[Path, Path], data: bytes, entries: Sequence[_Entry], fps: int) -> None:
    index = {
        "version": CACHE_VERSION,
        "fps": fps,
        "sha256": hashlib.sha256(data).hexdigest(),
        "units": [[e.pts, int(e.keyframe), e.offset, e.size] for e in entries],
    }
    # Data first, index last: the index is what makes an entry count, and it names the
    # digest of the data it was written with.
    _write_atomic(paths[0], data)
    _write_atomic(paths[1], json.dumps(index, separators=(",", ":")).encode("utf-8"))


def _load(paths: tuple[Path, Path]) -> tuple[bytes, list[_Entry]] | None:
    try:
        index = json.loads(paths[1].read_bytes())
        data = paths[0].read_bytes()
    except (OSError, ValueError):
        return None
    if not isinstance(index, dict) or index.get("version") != CACHE_VERSION:
        return None
    if index.get("sha256") != hashlib.sha256(data).hexdigest():
        return None  # another process replaced the data between our two reads, or damage
    try:
        entries = [_Entry(int(p), bool(k), int(o), int(s)) for p, k, o, s in index["units"]]
    except (KeyError, TypeError, ValueError):
        return None
    return data, entries


# --- encoding ------------------------------------------------------------------------------


#: Per codec: (libav encoder, its params option, preset, extra options). Both keep one
#: contract: fixed closed GOPs (keyframes land where the RTSP server expects them, whatever
#: the picture), no B-frames (dts == pts, so replaying needs no reordering and a loop splice
#: stays valid), parameter sets before every IDR (a client joining at any keyframe can start
#: decoding), and a VBV cap so a GOP's bytes spread evenly over the wire.
_ENCODERS: dict[str, tuple[str, str, str, dict[str, str]]] = {
    "h264": ("libx264", "x264-params", "veryfast", {"profile": "main"}),
    # ultrafast: x265 costs several times x264, and a cold start encodes many loops.
    "h265": ("libx265", "x265-params", "ultrafast", {}),
}
# x265's own: quiet, and one frame thread per encode (the pool runs one encode per core).
_X265_ONLY: dict[str, object] = {"log-level": "error", "frame-threads": 1}


def _open_encoder(settings: SimSettings, codec: str = "h264") -> Any:
    import av

    name, params_option, preset, extra = _ENCODERS[codec]
    gop = gop_frames(settings)
    kbps = target_bitrate(settings) // 1000
    ctx: Any = av.CodecContext.create(name, "w")  # a video context, for either codec
    ctx.width, ctx.height = settings.width, settings.height
    ctx.pix_fmt = "yuv420p"
    ctx.time_base = fractions.Fraction(1, settings.fps)
    ctx.framerate = fractions.Fraction(settings.fps, 1)
    ctx.bit_rate = kbps * 1000
    ctx.gop_size = gop
    ctx.max_b_frames = 0
    params: dict[str, object] = {
        "keyint": gop,
        "min-keyint": gop,
        "scenecut": 0,
        "open-gop": 0,
        "bframes": 0,
        "repeat-headers": 1,
        "vbv-maxrate": kbps * 3 // 2,
        "vbv-bufsize": kbps,
        **(_X265_ONLY if codec == "h265" else {}),
    }
    ctx.options = {
        "preset": preset,
        "tune": "zerolatency",
        **extra,
        params_option: ":".join(f"{k}={v}" for k, v in params.items()),
    }
    return ctx


def _encode_packets(camera: SimCamera, settings: SimSettings) -> Iterator[Any]:
    import av

    scene = scene_of(camera, settings)
    ctx = _open_encoder(settings, media_of(scene, settings).codec)
    for i in range(loop_frame_count(settings)):
        frame = av.VideoFrame.from_ndarray(render_frame(scene, i, settings), format="rgb24")
        frame.pts = i
        yield from ctx.encode(frame)
    yield from ctx.encode(None)


def encode(camera: SimCamera, settings: SimSettings) -> tuple[bytes, list[_Entry]]:
    """Encode a camera's loop. Output is Annex B, with one access unit per frame."""
    chunks: list[bytes] = []
    entries: list[_Entry] = []
    offset = 0
    for packet in _encode_packets(camera, settings):
        data = bytes(packet)
        pts = _frame_pts(int(packet.pts), settings.fps)
        entries.append(_Entry(pts, bool(packet.is_keyframe), offset, len(data)))
        chunks.append(data)
        offset += len(data)
    if len(entries) != loop_frame_count(settings) or not entries[0].keyframe:
        raise RuntimeError(f"encoder returned {len(entries)} unusable access units")
    return b"".join(chunks), entries


# --- packetising ---------------------------------------------------------------------------


def _nal_units(annex_b: bytes) -> Iterable[bytes]:
    from aiortc.codecs.h264 import H264Encoder

    units: Iterable[bytes] = H264Encoder._split_bitstream(annex_b)
    return units


def _rtp_payloads(annex_b: bytes, codec: str = "h264") -> tuple[bytes, ...]:
    if codec == "h265":
        return rtp_h265.packetize(_nal_units(annex_b))
    # aiortc's packetiser does single NAL / STAP-A / FU-A (packetization-mode=1) for WebRTC;
    # the payloads are the same for RTSP, only the headers differ and those are per client.
    from aiortc.codecs.h264 import H264Encoder

    return tuple(H264Encoder._packetize(_nal_units(annex_b)))


def _hevc_parameter_sets(first_keyframe: bytes) -> tuple[bytes, bytes, bytes]:
    found: dict[int, bytes] = {}
    for nal in _nal_units(first_keyframe):
        found.setdefault(rtp_h265.nal_type(nal), nal)
    wanted = (rtp_h265.NAL_VPS, rtp_h265.NAL_SPS, rtp_h265.NAL_PPS)
    if any(kind not in found for kind in wanted):
        raise RuntimeError("first keyframe carries no VPS/SPS/PPS (repeat-headers not applied?)")
    return found[rtp_h265.NAL_VPS], found[rtp_h265.NAL_SPS], found[rtp_h265.NAL_PPS]


def _parameter_sets(first_keyframe: bytes) -> tuple[bytes, bytes]:
    found: dict[int, bytes] = {}
    for nal in _nal_units(first_keyframe):
        found.setdefault(nal[0] & 0x1F, nal)
    if _NAL_SPS not in found or _NAL_PPS not in found:
        raise RuntimeError("first keyframe carries no SPS/PPS (repeat-headers not applied?)")
    return found[_NAL_SPS], found[_NAL_PPS]


def _build(
    camera: SimCamera,
    settings: SimSettings,
    data: bytes,
    entries: Sequence[_Entry],
    *,
    from_cache: bool,
    seconds: float,
) -> Loop:
    camera = scene_of(camera, settings)
    codec = media_of(camera, settings).codec
    view = memoryview(data)
    units = tuple(
        AccessUnit(
            data=view[e.offset : e.offset + e.size],
            pts=e.pts,
            keyframe=e.keyframe,
            payloads=_rtp_payloads(data[e.offset : e.offset + e.size], codec),
        )
        for e in entries
    )
    first = entries[0]
    first_unit = data[first.offset : first.offset + first.size]
    vps = b""
    if codec == "h265":
        vps, sps, pps = _hevc_parameter_sets(first_unit)
    else:
        sps, pps = _parameter_sets(first_unit)
    return Loop(
        camera_id=camera.id,
        width=settings.width,
        height=settings.height,
        fps=settings.fps,
        data=data,
        units=units,
        sps=sps,
        pps=pps,
        duration=_frame_pts(len(entries), settings.fps),
        from_cache=from_cache,
        encode_seconds=seconds,
        codec=codec,
        vps=vps,
    )


def load_loop(camera: SimCamera, settings: SimSettings) -> Loop:
    """The camera's loop (its scene's) from the cache, encoding and caching it first if needed.

    Blocking and thread-safe: PyAV and x264 release the GIL while encoding.
    """
    paths = cache_paths(camera, settings)
    cached = _load(paths)
    if cached is not None:
        return _build(camera, settings, *cached, from_cache=True, seconds=0.0)
    started = time.perf_counter()
    data, entries = encode(camera, settings)
    seconds = time.perf_counter() - started
    _store(paths, data, entries, settings.fps)
    return _build(camera, settings, data, entries, from_cache=False, seconds=seconds)


def _keep(
    loops: dict[str, Loop],
    cameras: Sequence[SimCamera],
    loop: Loop,
    total: int,
    on_progress: ProgressCallback | None,
) -> None:
    """Give ``loop`` to every camera that sends its scene (the same object, not copies)."""
    for cam in cameras:
        loops[cam.id] = loop
        if on_progress is not None:
            on_progress(len(loops), total, cam.id)  # camera ids are unique


def default_workers() -> int:
    # One encoding process per core: x265 runs one frame thread per encode (frame-threads=1)
    # and drawing the scenes holds the GIL, so threads in one process left a core idle.
    return max(1, os.cpu_count() or 1)


def _pool_context() -> multiprocessing.context.BaseContext:
    """Fork where the caller is the only thread (the demo, before its children start):
    quick, and it leaves no resource-tracker process behind. Spawn where other threads run
    (the simulator's event loop), since fork would copy their locks in an unknown state."""
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _worker_start(parent: int) -> None:
    """A worker ends with the process that asked for the loops, even one SIGKILLed: its
    pool's pipes, which forked workers hold both ends of, would never tell it (Linux)."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    if os.getppid() != parent:  # it died before prctl took effect
        os._exit(1)


def encode_into_cache(camera: SimCamera, settings: SimSettings) -> float:
    """Encode a camera's loop (its scene's) into the cache unless it is there; the seconds
    it took.

    Runs in a worker process: only the camera, the settings and a float cross over, the
    loop itself goes through the cache file (written atomically).
    """
    paths = cache_paths(camera, settings)
    if _load(paths) is not None:
        return 0.0
    started = time.perf_counter()
    data, entries = encode(camera, settings)
    _store(paths, data, entries, settings.fps)
    return time.perf_counter() - started


def load_loops(
    cameras: Sequence[SimCamera],
    settings: SimSettings,
    on_progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> dict[str, Loop]:
    """Load or encode every camera's loop; blocking, meant to run in a worker thread.

    Each scene is read or encoded once, whatever the number of cameras sending it (with
    ``scenes = "shared"``, one per codec), and its loop is given to all of them. Cached
    loops are read in the calling thread. The others are encoded side by side in a pool of
    processes and read back from the cache as each is done. ``on_progress`` runs in the
    calling thread, once per camera.
    """
    by_scene: dict[tuple[Path, Path], list[SimCamera]] = {}
    for cam in cameras:
        by_scene.setdefault(cache_paths(cam, settings), []).append(cam)
    loops: dict[str, Loop] = {}
    total = len(cameras)
    missing: list[list[SimCamera]] = []
    for paths, group in by_scene.items():
        cached = _load(paths)
        if cached is None:
            missing.append(group)
        else:
            loop = _build(group[0], settings, *cached, from_cache=True, seconds=0.0)
            _keep(loops, group, loop, total, on_progress)
    if not missing:
        return loops
    from concurrent.futures import ProcessPoolExecutor

    count = min(len(missing), workers or default_workers())
    with ProcessPoolExecutor(
        count, _pool_context(), initializer=_worker_start, initargs=(os.getpid(),)
    ) as pool:
        futures = {pool.submit(encode_into_cache, group[0], settings): group for group in missing}
        try:
            for fut in as_completed(futures):
                seconds = fut.result()
                group = futures[fut]
                cached = _load(cache_paths(group[0], settings))
                if cached is None:  # removed between the worker's write and this read
                    _keep(loops, group, load_loop(group[0], settings), total, on_progress)
                    continue
                built = _build(group[0], settings, *cached, from_cache=False, seconds=seconds)
                _keep(loops, group, built, total, on_progress)
        except BaseException:
            for other in futures:
                other.cancel()
            raise
    return loops
