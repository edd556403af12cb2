"""Rich renderables for cell grids and for RGB images fitted at render time."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style

from cctvctl.render.cells import (
    CELL_ASPECT,
    DEFAULT_RAMP,
    CellGrid,
    Mode,
    Resample,
    fit_cells,
    render_cells,
    style_runs,
    text_lines,
)
from cctvctl.render.colour import Depth, depth_for_console, rich_colour

__all__ = ["CellsRenderable", "ImageRenderable", "cell_style", "row_segments", "rows_segments"]


@lru_cache(maxsize=16384)
def cell_style(fg: int, bg: int, depth: Depth) -> Style | None:
    """Rich style for one (fg, bg) pair of codes; ``None`` when both are the default."""
    color, bgcolor = rich_colour(fg, depth), rich_colour(bg, depth)
    if color is None and bgcolor is None:
        return None
    return Style(color=color, bgcolor=bgcolor)


def _segments(grid: CellGrid, mask: NDArray[np.bool_] | None) -> list[list[Segment]]:
    lines = text_lines(grid)
    rows: list[list[Segment]] = [[] for _ in range(grid.rows)]
    depth = grid.depth
    for row, start, stop, fg, bg in zip(*style_runs(grid, mask), strict=True):
        rows[row].append(Segment(lines[row][start:stop], cell_style(fg, bg, depth)))
    return rows


def row_segments(
    grid: CellGrid, row: int, start: int = 0, stop: int | None = None
) -> list[Segment]:
    """Segments for cells ``start:stop`` of one row, one per run of equal colours.

    Meant for line-based widgets that repaint only the rows (or spans) that changed.
    """
    end = grid.cols if stop is None else min(stop, grid.cols)
    mask = np.zeros(grid.glyphs.shape, dtype=np.bool_)
    mask[row, start:end] = True
    return _segments(grid, mask)[row]


def rows_segments(grid: CellGrid, rows: Iterable[int]) -> dict[int, list[Segment]]:
    """Whole-row segments for each of ``rows``, found in one pass over the grid.

    For a widget repainting the rows that changed in a frame: one ``row_segments`` call
    per row would scan the whole grid once per row.
    """
    wanted = sorted(set(rows))
    if not wanted:
        return {}
    mask = np.zeros(grid.glyphs.shape, dtype=np.bool_)
    mask[wanted, :] = True
    segments = _segments(grid, mask)
    return {row: segments[row] for row in wanted}


def _width_mask(grid: CellGrid, width: int) -> NDArray[np.bool_] | None:
    if width >= grid.cols:
        return None
    mask = np.zeros(grid.glyphs.shape, dtype=np.bool_)
    mask[:, :width] = True
    return mask


class CellsRenderable:
    """A rendered ``CellGrid`` as a rich renderable; cropped, never rescaled, if too wide."""

    def __init__(self, grid: CellGrid) -> None:
        self.grid = grid

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = max(0, min(options.max_width, self.grid.cols))
        new_line = Segment.line()
        for segments in _segments(self.grid, _width_mask(self.grid, width)):
            yield from segments
            yield new_line

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self.grid.cols, self.grid.cols)


class ImageRenderable:
    """An RGB image that fits itself to the space and colour depth it is rendered into.

    ``depth=None`` follows the console (``NO_COLOR``, ``color_system``); ``width`` and
    ``max_rows`` cap the size further. Consoles that cannot encode '▀' get ASCII.
    """

    def __init__(
        self,
        rgb: NDArray[np.uint8],
        *,
        mode: Mode = Mode.HALF_BLOCK,
        depth: Depth | None = None,
        width: int | None = None,
        max_rows: int | None = None,
        ramp: str = DEFAULT_RAMP,
        cell_aspect: float = CELL_ASPECT,
        method: Resample = "area",
    ) -> None:
        self.rgb = rgb
        self.mode = Mode(mode)
        self.depth = None if depth is None else Depth(depth)
        self.width = width
        self.max_rows = max_rows
        self.ramp = ramp
        self.cell_aspect = cell_aspect
        self.method: Resample = method

    def _cols(self, options: ConsoleOptions) -> int:
        return max(1, min(options.max_width, self.width or options.max_width))

    def _rows(self, options: ConsoleOptions) -> int | None:
        caps = [cap for cap in (self.max_rows, options.height) if cap is not None]
        return min(caps) if caps else None

    def _mode(self, console: Console, depth: Depth) -> Mode:
        if depth is Depth.NONE or not _can_encode(console, "\u2580"):
            return Mode.ASCII
        return self.mode

    def grid_for(self, console: Console, options: ConsoleOptions) -> CellGrid:
        """The grid this image renders as for ``console`` at ``options``."""
        depth = self.depth if self.depth is not None else depth_for_console(console)
        return render_cells(
            self.rgb,
            self._cols(options),
            self._rows(options),
            mode=self._mode(console, depth),
            depth=depth,
            ramp=self.ramp,
            cell_aspect=self.cell_aspect,
            method=self.method,
        )

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield CellsRenderable(self.grid_for(console, options))

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        height, width = self.rgb.shape[:2]
        depth = self.depth if self.depth is not None else depth_for_console(console)
        fit = fit_cells(
            width,
            height,
            self._cols(options),
            self._rows(options),
            mode=self._mode(console, depth),
            cell_aspect=self.cell_aspect,
        )
        # Any narrower width still shows the whole picture, just smaller.
        return Measurement(1, fit.cols)


def _can_encode(console: Console, text: str) -> bool:
    try:
        text.encode(console.encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True
