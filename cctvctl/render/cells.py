"""RGB pixels -> a grid of terminal cells (glyph + fg code + bg code), and frame diffing."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal, NamedTuple

import numpy as np
from numpy.typing import NDArray

from cctvctl.render.colour import DEFAULT_COLOUR, Depth, code_to_rgb, quantise

__all__ = [
    "CELL_ASPECT",
    "DEFAULT_RAMP",
    "UPPER_HALF_BLOCK",
    "CellFit",
    "CellGrid",
    "Mode",
    "StyleRuns",
    "ascii_cells",
    "changed_cells",
    "changed_spans",
    "fit_cells",
    "half_block_cells",
    "merge_changed",
    "render_cells",
    "resize",
    "rgb_from_bytes",
    "solid_as_spaces",
    "style_runs",
    "text_lines",
]

UPPER_HALF_BLOCK: Final = "\u2580"
DEFAULT_RAMP: Final = " .:-=+*#%@"
CELL_ASPECT: Final = 2.0
"""Height / width of one terminal cell; about 2 for common monospace fonts."""

Resample = Literal["area", "nearest"]

# Rec. 709 luma weights scaled to integers so luma stays exact in integer arithmetic.
_LUMA_WEIGHTS: Final = np.array([2126, 7152, 722], dtype=np.int64)
_LUMA_MAX: Final = 255 * 10_000


class Mode(StrEnum):
    """How pixels become glyphs."""

    HALF_BLOCK = "halfblock"
    ASCII = "ascii"


class CellFit(NamedTuple):
    """Result of fitting an image into a cell box."""

    cols: int
    rows: int
    sample_width: int
    sample_height: int


@dataclass(frozen=True, eq=False)
class CellGrid:
    """One rendered frame: read-only ``(rows, cols)`` arrays, cheap to diff.

    ``glyphs`` holds Unicode code points; ``fg``/``bg`` hold colour codes for ``depth``
    (see ``cctvctl.render.colour``), ``DEFAULT_COLOUR`` where the terminal default applies.
    """

    glyphs: NDArray[np.uint32]
    fg: NDArray[np.int32]
    bg: NDArray[np.int32]
    depth: Depth

    def __post_init__(self) -> None:
        if not self.glyphs.shape == self.fg.shape == self.bg.shape or self.glyphs.ndim != 2:
            raise ValueError("glyphs, fg and bg must be 2-D arrays of one shape")
        # Consumers keep the previous frame around to diff against; freezing the arrays
        # stops an in-place edit from silently corrupting that reference.
        for array in (self.glyphs, self.fg, self.bg):
            array.setflags(write=False)

    @property
    def rows(self) -> int:
        return int(self.glyphs.shape[0])

    @property
    def cols(self) -> int:
        return int(self.glyphs.shape[1])


def _pixels_per_cell(mode: Mode) -> int:
    return 2 if mode is Mode.HALF_BLOCK else 1


def fit_cells(
    width: int,
    height: int,
    cols: int,
    rows: int | None = None,
    *,
    mode: Mode = Mode.HALF_BLOCK,
    cell_aspect: float = CELL_ASPECT,
    upscale: bool = True,
) -> CellFit:
    """Largest cell size for a ``width`` x ``height`` image inside ``cols`` x ``rows`` cells.

    Keeps the picture's aspect ratio on screen. ``rows=None`` means no height limit.
    """
    if width < 1 or height < 1:
        raise ValueError(f"image must be at least 1x1, got {width}x{height}")
    if cols < 1 or (rows is not None and rows < 1):
        raise ValueError(f"cell box must be at least 1x1, got {cols}x{rows}")
    per_cell = _pixels_per_cell(mode)
    # On screen one sample is 1 cell wide and 1/per_cell cell tall.
    sample_aspect = cell_aspect / per_cell
    scale = cols / width
    if rows is not None:
        scale = min(scale, rows * per_cell * sample_aspect / height)
    if not upscale:
        scale = min(scale, 1.0)
    sample_w = _round_clamped(width * scale, cols)
    sample_h = _round_clamped(height * scale / sample_aspect, None)
    if rows is not None:
        sample_h = min(sample_h, rows * per_cell)
    return CellFit(sample_w, -(-sample_h // per_cell), sample_w, sample_h)


def _round_clamped(value: float, limit: int | None) -> int:
    # Round half up (not to even) so e.g. 22.5 samples becomes 23, independent of parity.
    rounded = max(1, int(value + 0.5))
    return rounded if limit is None else min(rounded, limit)


def _box_sum_axis(
    pixels: NDArray[np.uint8] | NDArray[np.uint32], size: int, axis: int
) -> tuple[NDArray[np.uint32], NDArray[np.uint32]]:
    """Sum runs of whole source pixels along ``axis`` into ``size`` bins; returns sums, counts."""
    n_in = pixels.shape[axis]
    starts = (np.arange(size, dtype=np.intp) * n_in) // size
    counts = np.diff(np.append(starts, n_in))
    sums = np.take(pixels, starts, axis=axis).astype(np.uint32)
    # Add tap k of every bin at once (a loop over at most ceil(n_in / size) taps, not over
    # pixels); measured ~3x faster than np.add.reduceat, which is slow along a leading axis.
    for tap in range(1, int(counts.max())):
        valid = counts > tap
        if valid.all():
            # Masked in-place adds cost ~4x a plain add, and most taps cover every bin.
            sums += np.take(pixels, starts + tap, axis=axis)
            continue
        index: list[slice | NDArray[np.bool_]] = [slice(None)] * pixels.ndim
        index[axis] = valid
        sums[tuple(index)] += np.take(pixels, starts[valid] + tap, axis=axis)
    return sums, counts.astype(np.uint32)


def _resize_axis(
    pixels: NDArray[np.uint8] | NDArray[np.uint32], size: int, axis: int, method: Resample
) -> tuple[NDArray[np.uint8] | NDArray[np.uint32], NDArray[np.uint32]]:
    """Resample one axis; returns per-sample sums and how many source pixels each sums."""
    n_in = pixels.shape[axis]
    if size == n_in:
        return pixels, np.ones(size, dtype=np.uint32)
    if method == "area" and size < n_in:
        return _box_sum_axis(pixels, size, axis)
    centres = ((np.arange(size, dtype=np.intp) * 2 + 1) * n_in) // (2 * size)
    return np.take(pixels, centres, axis=axis), np.ones(size, dtype=np.uint32)


def resize(
    rgb: NDArray[np.uint8], width: int, height: int, method: Resample = "area"
) -> NDArray[np.uint8]:
    """Resample ``rgb`` (H x W x 3 uint8) to ``height`` x ``width``.

    ``"area"`` averages the whole source pixels that fall in each output pixel when an
    axis shrinks (no aliasing shimmer on thumbnails, unlike sampling); an axis that grows,
    and ``"nearest"``, pick the nearest source pixel.
    """
    _check_image(rgb)
    if width < 1 or height < 1:
        raise ValueError(f"target size must be at least 1x1, got {width}x{height}")
    # Rows first: measured ~2x faster than columns first, as whole-row gathers copy
    # contiguous memory and leave less data for the strided column pass.
    sums, row_counts = _resize_axis(rgb, height, 0, method)
    sums, col_counts = _resize_axis(sums, width, 1, method)
    counts = (row_counts[:, None] * col_counts[None, :])[..., None]
    if sums.dtype == np.uint8:
        return sums.astype(np.uint8)
    out: NDArray[np.uint8] = ((sums + counts // 2) // counts).astype(np.uint8)
    return out


def _check_image(rgb: NDArray[np.uint8]) -> None:
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected a uint8 H x W x 3 image, got {rgb.dtype} {rgb.shape}")
    if rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise ValueError(f"image is empty: {rgb.shape}")


def rgb_from_bytes(data: bytes, width: int, height: int) -> NDArray[np.uint8]:
    """View raw packed RGB bytes (the server's ``format=rgb`` thumbnails) as an image."""
    expected = width * height * 3
    if width < 1 or height < 1 or len(data) != expected:
        raise ValueError(f"{width}x{height} RGB needs {expected} bytes, got {len(data)}")
    return np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)


def _ramp_codes(ramp: str) -> NDArray[np.uint32]:
    if len(ramp) < 2:
        raise ValueError("a luminance ramp needs at least two characters")
    return np.array([ord(ch) for ch in ramp], dtype=np.uint32)


def ascii_cells(pixels: NDArray[np.uint8], ramp: str = DEFAULT_RAMP) -> CellGrid:
    """One pixel per cell, glyph from Rec. 709 luma on ``ramp`` (darkest first), no colour."""
    _check_image(pixels)
    codes = _ramp_codes(ramp)
    luma = pixels.astype(np.int64) @ _LUMA_WEIGHTS
    # Equal-width luma bins; dividing by max+1 keeps full white inside the last bin.
    index = (luma * len(codes)) // (_LUMA_MAX + 1)
    no_colour = np.full(luma.shape, DEFAULT_COLOUR, dtype=np.int32)
    return CellGrid(codes[index], no_colour, no_colour.copy(), Depth.NONE)


def _pair_rows_mean(pixels: NDArray[np.uint8]) -> NDArray[np.uint8]:
    # Pairs must be exactly rows (0, 1), (2, 3), ... to match the half-block cell geometry.
    starts = np.arange(0, pixels.shape[0], 2)
    counts = np.diff(np.append(starts, pixels.shape[0])).astype(np.uint32)[:, None, None]
    sums = np.add.reduceat(pixels, starts, axis=0, dtype=np.uint32)
    return ((sums + counts // 2) // counts).astype(np.uint8)


def half_block_cells(
    pixels: NDArray[np.uint8], depth: Depth = Depth.TRUECOLOR, ramp: str = DEFAULT_RAMP
) -> CellGrid:
    """Two vertically stacked pixels per cell: '▀' with fg = top pixel and bg = bottom one.

    An odd last pixel row leaves the bottom half of its cells in the default colour. Without
    colour a half block carries no picture, so ``Depth.NONE`` averages each pixel pair and
    uses the luminance ramp instead, keeping the cell geometry.
    """
    _check_image(pixels)
    depth = Depth(depth)
    if depth is Depth.NONE:
        return ascii_cells(_pair_rows_mean(pixels), ramp)
    codes = quantise(pixels, depth)
    if codes.shape[0] % 2:
        pad = np.full((1, codes.shape[1]), DEFAULT_COLOUR, dtype=np.int32)
        codes = np.concatenate([codes, pad])
    fg = np.ascontiguousarray(codes[0::2])
    bg = np.ascontiguousarray(codes[1::2])
    glyphs = np.full(fg.shape, ord(UPPER_HALF_BLOCK), dtype=np.uint32)
    return CellGrid(glyphs, fg, bg, depth)


def render_cells(
    rgb: NDArray[np.uint8],
    cols: int,
    rows: int | None = None,
    *,
    mode: Mode = Mode.HALF_BLOCK,
    depth: Depth = Depth.TRUECOLOR,
    ramp: str = DEFAULT_RAMP,
    cell_aspect: float = CELL_ASPECT,
    method: Resample = "area",
    upscale: bool = True,
) -> CellGrid:
    """Fit ``rgb`` into ``cols`` x ``rows`` cells and render it; the usual entry point.

    ``Depth.NONE`` always renders as ASCII (a colourless half block shows nothing), and
    ASCII is always colourless.
    """
    _check_image(rgb)
    mode, depth = Mode(mode), Depth(depth)
    if depth is Depth.NONE:
        mode = Mode.ASCII
    height, width = rgb.shape[:2]
    fit = fit_cells(width, height, cols, rows, mode=mode, cell_aspect=cell_aspect, upscale=upscale)
    pixels = resize(rgb, fit.sample_width, fit.sample_height, method)
    if mode is Mode.ASCII:
        return ascii_cells(pixels, ramp)
    return half_block_cells(pixels, depth, ramp)


def changed_cells(prev: CellGrid | None, cur: CellGrid, *, tolerance: int = 0) -> NDArray[np.bool_]:
    """``(rows, cols)`` mask of cells of ``cur`` that differ from ``prev`` on screen.

    Everything counts as changed when there is no previous frame or the frames are not
    comparable (other size or colour depth). ``tolerance`` (0..255, in RGB channel units)
    lets a cell drift that much without counting as a change: camera sensor noise and
    compression otherwise make nearly every cell "change" every frame. In truecolor it
    bounds each channel; in the palettes it bounds each channel of the palette colours,
    so a flip between neighbouring palette entries near a boundary is not a change; in
    ASCII it bounds how far a glyph moved along the luma ramp. With a tolerance, diff
    against what the screen shows (see ``merge_changed``), or small drifts add up unseen.
    """
    if prev is None or prev.glyphs.shape != cur.glyphs.shape or prev.depth != cur.depth:
        return np.ones(cur.glyphs.shape, dtype=np.bool_)
    if tolerance <= 0:
        exact: NDArray[np.bool_] = (
            (prev.glyphs != cur.glyphs) | (prev.fg != cur.fg) | (prev.bg != cur.bg)
        )
        return exact
    if cur.depth is Depth.NONE:
        return _glyph_moved(prev.glyphs, cur.glyphs, tolerance)
    changed: NDArray[np.bool_] = prev.glyphs != cur.glyphs
    if cur.depth is Depth.TRUECOLOR:
        changed |= _colour_moved(prev.fg, cur.fg, tolerance)
        changed |= _colour_moved(prev.bg, cur.bg, tolerance)
    else:
        changed |= _palette_moved(prev.fg, cur.fg, cur.depth, tolerance)
        changed |= _palette_moved(prev.bg, cur.bg, cur.depth, tolerance)
    return changed


def _ramp_table() -> NDArray[np.int32]:
    table = np.full(128, -1, dtype=np.int32)
    for i, ch in enumerate(DEFAULT_RAMP):
        table[ord(ch)] = i
    return table


_RAMP_TABLE: Final = _ramp_table()


def _ramp_index(glyphs: NDArray[np.uint32]) -> NDArray[np.int32]:
    """Position of each glyph on the default ramp, -1 for any other glyph."""
    ascii_ = glyphs < 128
    index: NDArray[np.int32] = np.where(ascii_, _RAMP_TABLE[np.where(ascii_, glyphs, 0)], -1)
    return index


def _glyph_moved(
    old: NDArray[np.uint32], new: NDArray[np.uint32], tolerance: int
) -> NDArray[np.bool_]:
    # Glyphs off the default ramp (a custom ramp, text) compare exactly.
    a, b = _ramp_index(old), _ramp_index(new)
    step = 256 / len(DEFAULT_RAMP)
    moved: NDArray[np.bool_] = np.where(
        (a >= 0) & (b >= 0), np.abs(a - b) * step > tolerance, old != new
    )
    return moved


def _palette_moved(
    old: NDArray[np.int32], new: NDArray[np.int32], depth: Depth, tolerance: int
) -> NDArray[np.bool_]:
    moved: NDArray[np.bool_] = (old < 0) != (new < 0)
    step = np.abs(code_to_rgb(old, depth).astype(np.int16) - code_to_rgb(new, depth))
    moved |= (step > tolerance).any(axis=-1)
    return moved


def _colour_moved(
    old: NDArray[np.int32], new: NDArray[np.int32], tolerance: int
) -> NDArray[np.bool_]:
    moved: NDArray[np.bool_] = (old < 0) != (new < 0)
    for shift in (16, 8, 0):
        step = np.abs(((old >> shift) & 0xFF) - ((new >> shift) & 0xFF))
        moved |= step > tolerance
    return moved


def merge_changed(shown: CellGrid, cur: CellGrid, mask: NDArray[np.bool_]) -> CellGrid:
    """The grid on screen after the cells of ``cur`` selected by ``mask`` were sent."""
    if shown.glyphs.shape != cur.glyphs.shape or shown.depth != cur.depth:
        return cur
    return CellGrid(
        np.where(mask, cur.glyphs, shown.glyphs),
        np.where(mask, cur.fg, shown.fg),
        np.where(mask, cur.bg, shown.bg),
        cur.depth,
    )


def solid_as_spaces(grid: CellGrid) -> CellGrid:
    """The same picture with every one-colour half block sent as a space on its background.

    A '▀' whose halves match needs a foreground and a background colour on the wire; a
    space needs only the background, and neighbouring spaces of one colour merge into one
    run, so flat areas (sky, walls, the road) cost a fraction of the bytes.
    """
    solid = (grid.glyphs == ord(UPPER_HALF_BLOCK)) & (grid.fg == grid.bg) & (grid.bg >= 0)
    if not solid.any():
        return grid
    return CellGrid(
        np.where(solid, np.uint32(ord(" ")), grid.glyphs),
        np.where(solid, np.int32(DEFAULT_COLOUR), grid.fg),
        grid.bg.copy(),
        grid.depth,
    )


def changed_spans(mask: NDArray[np.bool_]) -> list[tuple[int, int, int]]:
    """Runs of ``True`` in each row of ``mask`` as ``(row, start, stop)``, stop exclusive."""
    rows, cols = mask.shape
    padded = np.zeros((rows, cols + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    edges = np.diff(padded, axis=1)
    # np.nonzero walks row-major, so the k-th rise and the k-th fall belong to one run.
    rise_rows, rise_cols = np.nonzero(edges == 1)
    fall_cols = np.nonzero(edges == -1)[1]
    return list(zip(rise_rows.tolist(), rise_cols.tolist(), fall_cols.tolist(), strict=True))


def text_lines(grid: CellGrid) -> list[str]:
    """Glyphs only, one string per row (the whole picture for ASCII / no-colour output)."""
    if grid.cols == 0:
        return [""] * grid.rows
    # A row of UCS-4 code points has the memory layout of a numpy unicode string, so this
    # builds every row string in one step instead of joining characters in Python.
    glyphs = np.ascontiguousarray(grid.glyphs)
    return [str(line) for line in glyphs.view(f"U{grid.cols}")[:, 0].tolist()]


class StyleRuns(NamedTuple):
    """Maximal runs of cells with one (fg, bg), row-major; parallel lists, stop exclusive."""

    rows: list[int]
    starts: list[int]
    stops: list[int]
    fg: list[int]
    bg: list[int]


def style_runs(grid: CellGrid, mask: NDArray[np.bool_] | None = None) -> StyleRuns:
    """Split the cells selected by ``mask`` (default: all) into runs of equal colours.

    A run never crosses a row end or an unselected cell, so each run can be written as one
    styled string at one cursor position.
    """
    selected = np.ones(grid.glyphs.shape, dtype=np.bool_) if mask is None else mask
    if selected.shape != grid.glyphs.shape:
        raise ValueError(f"mask shape {selected.shape} != grid shape {grid.glyphs.shape}")
    # new_style[:, j] is True where cell j's colours differ from cell j-1's.
    new_style = (grid.fg[:, 1:] != grid.fg[:, :-1]) | (grid.bg[:, 1:] != grid.bg[:, :-1])
    edge = np.ones((grid.rows, 1), dtype=np.bool_)
    left_break = np.concatenate([edge, new_style | ~selected[:, :-1]], axis=1)
    right_break = np.concatenate([new_style | ~selected[:, 1:], edge], axis=1)
    start_rows, start_cols = np.nonzero(selected & left_break)
    stop_cols = np.nonzero(selected & right_break)[1] + 1
    return StyleRuns(
        start_rows.tolist(),
        start_cols.tolist(),
        stop_cols.tolist(),
        grid.fg[start_rows, start_cols].tolist(),
        grid.bg[start_rows, start_cols].tolist(),
    )
