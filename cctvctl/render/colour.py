"""Colour depths, the palettes they imply, and nearest-colour quantisation.

A quantised colour is an ``int32`` *code* whose meaning depends on the depth:

* ``Depth.TRUECOLOR``: ``0xRRGGBB``
* ``Depth.XTERM256``: an xterm palette index, always 16..255 (see below)
* ``Depth.ANSI16``: an ANSI colour index 0..15
* ``Depth.NONE``: no colour at all

``DEFAULT_COLOUR`` (-1) means "the terminal's own default" at every depth. Codes are plain
integers so two frames can be compared with one vectorised ``!=``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from functools import lru_cache
from typing import Final

import numpy as np
from numpy.typing import NDArray
from rich.color import Color
from rich.console import Console

__all__ = [
    "ANSI16_RGB",
    "DEFAULT_COLOUR",
    "XTERM256_RGB",
    "Depth",
    "code_to_rgb",
    "depth_for_console",
    "detect_depth",
    "quantise",
    "rich_colour",
    "sgr_colour",
]

DEFAULT_COLOUR: Final = -1


class Depth(StrEnum):
    """How many colours the terminal can show; values double as CLI option spellings."""

    TRUECOLOR = "truecolor"
    XTERM256 = "256"
    ANSI16 = "16"
    NONE = "none"


def _build_ansi16() -> NDArray[np.uint8]:
    # xterm's built-in defaults. Every terminal themes these sixteen differently, so there is
    # no true answer; xterm's are the reference most emulators start from, and unlike the
    # VGA set they keep pure primaries pure, which keeps bright test cards recognisable.
    return np.array(
        [
            (0, 0, 0),
            (205, 0, 0),
            (0, 205, 0),
            (205, 205, 0),
            (0, 0, 238),
            (205, 0, 205),
            (0, 205, 205),
            (229, 229, 229),
            (127, 127, 127),
            (255, 0, 0),
            (0, 255, 0),
            (255, 255, 0),
            (92, 92, 255),
            (255, 0, 255),
            (0, 255, 255),
            (255, 255, 255),
        ],
        dtype=np.uint8,
    )


_CUBE_LEVELS: Final = np.array([0, 95, 135, 175, 215, 255], dtype=np.int32)
_GREY_LEVELS: Final = np.arange(8, 239, 10, dtype=np.int32)  # 24 greys, 8..238


def _build_xterm256(ansi16: NDArray[np.uint8]) -> NDArray[np.uint8]:
    r, g, b = np.meshgrid(_CUBE_LEVELS, _CUBE_LEVELS, _CUBE_LEVELS, indexing="ij")
    cube = np.stack([r.ravel(), g.ravel(), b.ravel()], axis=1)
    greys = np.repeat(_GREY_LEVELS[:, None], 3, axis=1)
    return np.concatenate([ansi16.astype(np.int32), cube, greys]).astype(np.uint8)


ANSI16_RGB: Final[NDArray[np.uint8]] = _build_ansi16()
"""RGB of ANSI colours 0..15 as assumed for nearest-colour matching (xterm defaults)."""

XTERM256_RGB: Final[NDArray[np.uint8]] = _build_xterm256(ANSI16_RGB)
"""RGB of xterm colours 0..255: the 16 above, the 6x6x6 cube, then 24 greys."""

ANSI16_RGB.setflags(write=False)
XTERM256_RGB.setflags(write=False)


def _nearest_level_lut(levels: NDArray[np.int32], span: int, scale: int) -> NDArray[np.intp]:
    # Nearest level for every possible input value, so per-pixel matching is a table lookup.
    values = np.arange(span, dtype=np.int32)
    nearest: NDArray[np.intp] = np.abs(values[:, None] - scale * levels[None, :]).argmin(axis=1)
    return nearest


# Cube matching is separable: the nearest cube colour is the nearest level on each channel.
_CUBE_LUT: Final = _nearest_level_lut(_CUBE_LEVELS, 256, 1)
# For greys the squared distance is 3*(g - mean)^2 + const, so the nearest grey is the one
# nearest the channel mean; comparing 3*g with the channel sum keeps it in integers.
_GREY_LUT: Final = _nearest_level_lut(_GREY_LEVELS, 3 * 255 + 1, 3)


def _check_rgb(rgb: NDArray[np.uint8]) -> None:
    if rgb.dtype != np.uint8 or rgb.ndim < 1 or rgb.shape[-1] != 3:
        raise ValueError(f"expected a uint8 array of shape (..., 3), got {rgb.dtype} {rgb.shape}")


def _pack_truecolor(rgb: NDArray[np.uint8]) -> NDArray[np.int32]:
    wide = rgb.astype(np.int32)
    return (wide[..., 0] << 16) | (wide[..., 1] << 8) | wide[..., 2]


def _sq_dist(rgb: NDArray[np.int32], ref: NDArray[np.int32]) -> NDArray[np.int32]:
    diff = rgb - ref
    diff *= diff
    # Summing the three channels by hand is several times faster than .sum(axis=-1),
    # whose per-row overhead dominates on a length-3 axis.
    total: NDArray[np.int32] = diff[..., 0] + diff[..., 1] + diff[..., 2]
    return total


def _nearest_xterm256(rgb: NDArray[np.uint8]) -> NDArray[np.int32]:
    # Indices 0..15 are left out on purpose: users re-theme them, so their RGB is a guess,
    # while the cube and the grey ramp are fixed by xterm and honoured by every 256 terminal.
    wide = rgb.astype(np.int32)
    cube_idx = _CUBE_LUT[rgb]
    cube_rgb = _CUBE_LEVELS[cube_idx]
    grey_idx = _GREY_LUT[wide.sum(axis=-1)]
    grey_rgb = _GREY_LEVELS[grey_idx][..., None]
    cube_code = 16 + 36 * cube_idx[..., 0] + 6 * cube_idx[..., 1] + cube_idx[..., 2]
    grey_wins = _sq_dist(wide, grey_rgb) < _sq_dist(wide, cube_rgb)
    return np.where(grey_wins, 232 + grey_idx, cube_code).astype(np.int32)


_ANSI16_F32: Final = ANSI16_RGB.astype(np.float32)
_ANSI16_NORM: Final = (_ANSI16_F32 * _ANSI16_F32).sum(axis=1)


def _nearest_ansi16(rgb: NDArray[np.uint8]) -> NDArray[np.int32]:
    # |c - p|^2 = |c|^2 - 2 c.p + |p|^2 and |c|^2 is the same for every p, so the nearest
    # entry minimises |p|^2 - 2 c.p: one small matrix product instead of an N x 16 x 3
    # broadcast. float32 is exact here: every term is an integer below 2**24.
    flat = rgb.reshape(-1, 3).astype(np.float32)
    score = _ANSI16_NORM - 2.0 * (flat @ _ANSI16_F32.T)
    nearest: NDArray[np.int32] = score.argmin(axis=1).astype(np.int32)
    return nearest.reshape(rgb.shape[:-1])


def quantise(rgb: NDArray[np.uint8], depth: Depth) -> NDArray[np.int32]:
    """Map every RGB triple of ``rgb`` (shape ``(..., 3)``) to a colour code for ``depth``.

    Matching is nearest by squared RGB distance. ``Depth.NONE`` gives ``DEFAULT_COLOUR``.
    """
    _check_rgb(rgb)
    if depth is Depth.TRUECOLOR:
        return _pack_truecolor(rgb)
    if depth is Depth.XTERM256:
        return _nearest_xterm256(rgb)
    if depth is Depth.ANSI16:
        return _nearest_ansi16(rgb)
    return np.full(rgb.shape[:-1], DEFAULT_COLOUR, dtype=np.int32)


def code_to_rgb(codes: NDArray[np.int32], depth: Depth) -> NDArray[np.uint8]:
    """RGB that ``codes`` stand for (default colour shows as black); for previews and checks."""
    if depth is Depth.NONE:
        return np.zeros((*codes.shape, 3), dtype=np.uint8)
    safe = np.maximum(codes, 0)
    if depth is Depth.TRUECOLOR:
        shifts = np.array([16, 8, 0], dtype=np.int32)
        return ((safe[..., None] >> shifts) & 0xFF).astype(np.uint8)
    rgb = XTERM256_RGB[safe]
    rgb[codes < 0] = 0
    return rgb


@lru_cache(maxsize=8192)
def rich_colour(code: int, depth: Depth) -> Color | None:
    """The rich ``Color`` for one code, or ``None`` for the default colour."""
    if code < 0 or depth is Depth.NONE:
        return None
    if depth is Depth.TRUECOLOR:
        return Color.from_rgb((code >> 16) & 0xFF, (code >> 8) & 0xFF, code & 0xFF)
    return Color.from_ansi(code)


@lru_cache(maxsize=8192)
def sgr_colour(code: int, depth: Depth, *, background: bool) -> str:
    """SGR parameter text (no ``ESC[`` / ``m``) selecting one colour as fg or bg."""
    if code < 0 or depth is Depth.NONE:
        return "49" if background else "39"
    if depth is Depth.TRUECOLOR:
        lead = "48;2" if background else "38;2"
        return f"{lead};{(code >> 16) & 0xFF};{(code >> 8) & 0xFF};{code & 0xFF}"
    if depth is Depth.XTERM256:
        return f"{'48' if background else '38'};5;{code}"
    # The 16 colours have short dedicated codes; using them keeps 16-colour output small
    # and works on terminals that never learnt the 38;5 form.
    base = (40 if background else 30) if code < 8 else (100 if background else 90)
    return str(base + code % 8)


_SYSTEM_DEPTHS: Final[Mapping[str, Depth]] = {
    "truecolor": Depth.TRUECOLOR,
    "256": Depth.XTERM256,
    "standard": Depth.ANSI16,
    "windows": Depth.ANSI16,
}


def detect_depth(
    color_system: str | None,
    *,
    no_color: bool = False,
    environ: Mapping[str, str] | None = None,
) -> Depth:
    """Depth from a rich colour-system name, honouring ``NO_COLOR`` (set and non-empty)."""
    env = os.environ if environ is None else environ
    if no_color or env.get("NO_COLOR", "") != "" or color_system is None:
        return Depth.NONE
    return _SYSTEM_DEPTHS.get(color_system, Depth.NONE)


def depth_for_console(console: Console, environ: Mapping[str, str] | None = None) -> Depth:
    """Depth to quantise to for output going to ``console``."""
    return detect_depth(console.color_system, no_color=console.no_color, environ=environ)
