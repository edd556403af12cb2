"""Raw ANSI/VT output of cell grids: whole frames and changed-cells-only repaints.

Rich and Textual do their own output; this is for plain streams (pipes, ``--raw`` modes)
and for measuring how many bytes a repaint really costs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from cctvctl.render.cells import CellGrid, changed_cells, style_runs, text_lines
from cctvctl.render.colour import DEFAULT_COLOUR, Depth, sgr_colour

__all__ = ["ansi_diff", "ansi_frame"]

_RESET: Final = "\x1b[0m"


@dataclass
class _Pen:
    """Colours the terminal currently has selected, so only changes are re-sent."""

    depth: Depth
    fg: int = DEFAULT_COLOUR
    bg: int = DEFAULT_COLOUR

    def select(self, fg: int, bg: int) -> str:
        params: list[str] = []
        if fg != self.fg:
            params.append(sgr_colour(fg, self.depth, background=False))
        if bg != self.bg:
            params.append(sgr_colour(bg, self.depth, background=True))
        self.fg, self.bg = fg, bg
        return f"\x1b[{';'.join(params)}m" if params else ""

    def reset(self) -> str:
        if self.fg == DEFAULT_COLOUR and self.bg == DEFAULT_COLOUR:
            return ""
        self.fg = self.bg = DEFAULT_COLOUR
        return _RESET


def ansi_frame(grid: CellGrid) -> str:
    """The whole grid as lines for an ordinary stream, colours reset at every line end."""
    # Resetting before each newline matters: a background still selected when the terminal
    # scrolls paints the whole new line in that colour on most emulators.
    lines = text_lines(grid)
    runs = style_runs(grid)
    pen = _Pen(grid.depth)
    out: list[str] = []
    current_row = 0
    for row, start, stop, fg, bg in zip(*runs, strict=True):
        if row != current_row:
            out.append(pen.reset() + "\n" * (row - current_row))
            current_row = row
        out.append(pen.select(fg, bg) + lines[row][start:stop])
    out.append(pen.reset())
    if grid.rows:
        out.append("\n")
    return "".join(out)


def ansi_diff(
    prev: CellGrid | None,
    cur: CellGrid,
    origin: tuple[int, int] = (0, 0),
    *,
    mask: NDArray[np.bool_] | None = None,
) -> str:
    """Cursor-addressed repaint of only the cells of ``cur`` that differ from ``prev``.

    ``origin`` is the screen (row, col), zero-based, of the grid's top-left cell. With no
    previous frame this repaints everything. ``mask`` overrides which cells are sent (e.g.
    one from ``changed_cells`` with a tolerance). Colours are reset at the end.
    """
    if mask is None:
        mask = changed_cells(prev, cur)
    lines = text_lines(cur)
    pen = _Pen(cur.depth)
    top, left = origin
    out: list[str] = []
    cursor = (-1, -1)
    for row, start, stop, fg, bg in zip(*style_runs(cur, mask), strict=True):
        if cursor != (row, start):
            out.append(f"\x1b[{top + row + 1};{left + start + 1}H")
        out.append(pen.select(fg, bg) + lines[row][start:stop])
        # At the right edge the terminal's pending-wrap state makes the position uncertain.
        cursor = (row, stop) if stop < cur.cols else (-1, -1)
    out.append(pen.reset())
    return "".join(out)
