"""Synthetic pictures for simulated cameras.

Every camera gets its own scene so that a thumbnail, a recording or a TUI cell can be traced
back to the camera that produced it: the background colour comes from a stable hash of the
camera id, a banner names the camera, and a box and a stripe keep moving so that a frozen
stream is visible at a glance.

All motion is periodic in the loop length, so the encoded loop can be replayed end to end
without a visible jump other than the loop clock going back to zero.
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
import math
import threading

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from cctvctl.sim.model import SimCamera, SimSettings

RGB = tuple[int, int, int]
Frame = NDArray[np.uint8]

_WHITE: RGB = (255, 255, 255)
_BANNER_SHARE = 0.16  # top bar: camera id, kecamatan, site
_FOOTER_SHARE = 0.14  # bottom bar: loop clock


def _digest(camera_id: str) -> bytes:
    # Python's hash() is salted per process; the colour must survive restarts and machines.
    return hashlib.sha256(camera_id.encode("utf-8")).digest()


def scene_colour(camera_id: str) -> RGB:
    """The dominant background colour a camera draws, stable across processes."""
    d = _digest(camera_id)
    hue = int.from_bytes(d[0:2], "big") / 65536.0
    # Mid-tone saturation and value keep white text legible and stay well inside the
    # limited-range YUV that H.264 carries, so the colour survives encoding nearly intact.
    sat = 0.45 + 0.30 * d[2] / 255.0
    val = 0.45 + 0.25 * d[3] / 255.0
    r, g, b = colorsys.hsv_to_rgb(hue, sat, val)
    return round(r * 255), round(g * 255), round(b * 255)


def _box_colour(camera_id: str) -> RGB:
    d = _digest(camera_id)
    hue = (int.from_bytes(d[0:2], "big") / 65536.0 + 0.5) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 0.95)
    return round(r * 255), round(g * 255), round(b * 255)


def _mix(colour: RGB, other: RGB, share: float) -> RGB:
    r, g, b = (round(c * (1 - share) + o * share) for c, o in zip(colour, other, strict=True))
    return r, g, b


_Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
_fonts = threading.local()  # loops are drawn in several encoder threads at once


def _font(size: int) -> _Font:
    # One FreeType face per thread: a face is not safe to render from two threads at once.
    cache: dict[int, _Font] = _fonts.__dict__.setdefault("by_size", {})
    font = cache.get(size)
    if font is None:
        try:
            font = ImageFont.load_default(size=size)
        except (ImportError, OSError):  # Pillow built without FreeType: fixed bitmap font
            font = ImageFont.load_default()
        cache[size] = font
    return font


def loop_frame_count(settings: SimSettings) -> int:
    """How many frames one loop holds (at least one GOP)."""
    gop = max(1, round(settings.gop_seconds * settings.fps))
    return max(gop, round(settings.loop_seconds * settings.fps))


class _Layout:
    """Pixel geometry of a scene at one picture size."""

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.banner = max(12, round(height * _BANNER_SHARE))
        self.footer = max(10, round(height * _FOOTER_SHARE))
        self.play_top = self.banner
        self.play_bottom = height - self.footer
        self.box = max(4, height // 5)
        self.stripe = max(2, width // 40)
        self.dial_r = max(3, self.footer // 2 - 3)
        self.dial_c = (width - self.dial_r - 6, height - self.footer // 2)


@functools.lru_cache(maxsize=8)
def _static_layer(camera_id: str, kecamatan: str, site: str, width: int, height: int) -> Frame:
    """Everything that never moves: background, banner text, footer, dial face."""
    lay = _Layout(width, height)
    bg = scene_colour(camera_id)
    bar = _mix(bg, (0, 0, 0), 0.65)  # dark shade of the camera's own hue
    arr = np.empty((height, width, 3), dtype=np.uint8)
    arr[:] = bg
    arr[: lay.banner] = bar
    arr[lay.play_bottom :] = bar
    img = Image.fromarray(arr)
    draw = ImageDraw.Draw(img)
    big, small = _font(max(8, lay.banner * 9 // 20)), _font(max(7, lay.banner * 6 // 20))
    pad = max(2, height // 90)
    draw.text((pad * 2, pad), camera_id, fill=_WHITE, font=big)
    draw.text((pad * 2, lay.banner * 11 // 20), f"{kecamatan} · {site}", fill=_WHITE, font=small)
    cx, cy = lay.dial_c
    r = lay.dial_r
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=_WHITE, width=max(1, r // 8))
    out: Frame = np.asarray(img, dtype=np.uint8).copy()
    out.flags.writeable = False  # shared between frames through the cache
    return out


def _triangle(phase: float) -> float:
    """0 → 1 → 0 over one unit of phase."""
    p = phase % 1.0
    return 2 * p if p < 0.5 else 2 - 2 * p


def _draw_motion(arr: Frame, camera_id: str, lay: _Layout, pos: float, loop_seconds: float) -> None:
    # Whole numbers of cycles per loop so the last frame flows into the first one.
    kx = max(1, round(loop_seconds / 10))
    ky = kx + 1
    span_x = lay.width - lay.box
    span_y = lay.play_bottom - lay.play_top - lay.box
    x = round(_triangle(pos * kx) * span_x)
    y = lay.play_top + round(_triangle(pos * ky) * max(0, span_y))
    sx = round(pos * (lay.width + lay.stripe)) - lay.stripe
    lo, hi = max(0, sx), min(lay.width, sx + lay.stripe)
    if hi > lo:
        light = _mix(scene_colour(camera_id), _WHITE, 0.4)
        arr[lay.play_top : lay.play_bottom, lo:hi] = light
    arr[y : y + lay.box, x : x + lay.box] = _box_colour(camera_id)


def _draw_loop_clock(img: Image.Image, lay: _Layout, pos: float, seconds: float) -> None:
    # The loop is encoded once and replayed for as long as the simulator runs, so wall time
    # burnt into the pixels would be wrong from the second pass on. The clock shows the
    # position inside the loop instead; real time lives in RTP timestamps and the recorder.
    draw = ImageDraw.Draw(img)
    cx, cy = lay.dial_c
    angle = 2 * math.pi * pos
    tip = (cx + lay.dial_r * math.sin(angle), cy - lay.dial_r * math.cos(angle))
    draw.line((cx, cy, *tip), fill=_WHITE, width=max(1, lay.dial_r // 6))
    size = max(7, lay.footer // 2)
    pad = max(2, lay.height // 90)
    text_y = lay.play_bottom + (lay.footer - size) // 2
    draw.text((pad * 2, text_y), f"t+{seconds:04.1f}s", fill=_WHITE, font=_font(size))


_GRAIN_LEVELS = 3  # +/- code values; zero-mean, so colours keep their average
_GRAIN_PATTERNS = 7


@functools.lru_cache(maxsize=4)
def _grain_pool(height: int, width: int) -> tuple[Frame, ...]:
    rng = np.random.default_rng(20240611)  # fixed: the same camera must encode to the same bytes
    pool = []
    for _ in range(_GRAIN_PATTERNS):
        small = rng.integers(0, 2 * _GRAIN_LEVELS + 1, size=(height // 2 + 1, width // 2 + 1, 1))
        full = np.repeat(np.repeat(small.astype(np.uint8), 2, axis=0), 2, axis=1)
        pattern = np.ascontiguousarray(full[:height, :width])
        pattern.flags.writeable = False  # shared by every frame of every camera
        pool.append(pattern)
    return tuple(pool)


def _add_grain(arr: Frame, lay: _Layout, index: int) -> None:
    # A flat synthetic picture compresses to almost nothing; a little temporal grain gives
    # the recorder a realistic bit rate and makes P-frames span several RTP packets.
    # Only the play area gets grain: every colour drawn there stays inside
    # [_GRAIN_LEVELS, 255 - _GRAIN_LEVELS], so plain uint8 arithmetic cannot wrap.
    view = arr[lay.play_top : lay.play_bottom]
    pool = _grain_pool(view.shape[0], view.shape[1])
    view += pool[index % len(pool)]
    view -= _GRAIN_LEVELS


def render_frame(camera: SimCamera, index: int, settings: SimSettings) -> Frame:
    """Frame ``index`` (0-based, taken modulo the loop length) as an (H, W, 3) uint8 array."""
    n_loop = loop_frame_count(settings)
    i = index % n_loop
    pos = i / n_loop
    lay = _Layout(settings.width, settings.height)
    arr = _static_layer(
        camera.id, camera.kecamatan, camera.site, settings.width, settings.height
    ).copy()
    _draw_motion(arr, camera.id, lay, pos, n_loop / max(1, settings.fps))
    _add_grain(arr, lay, i)
    img = Image.fromarray(arr)
    _draw_loop_clock(img, lay, pos, i / settings.fps)
    return np.array(img, dtype=np.uint8)
