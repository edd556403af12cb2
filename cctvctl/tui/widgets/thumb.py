"""A camera picture as text cells that repaints only the cells that changed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from cctvctl.client import Thumbnail
from cctvctl.render import (
    CellGrid,
    Depth,
    Mode,
    changed_cells,
    changed_spans,
    merge_changed,
    render_cells,
    rgb_from_bytes,
    row_segments,
    solid_as_spaces,
)

__all__ = ["Thumb"]

_PLAIN = Style()
# How far a cell may drift (RGB channel units) before it is re-sent: sensor noise and
# compression would otherwise make nearly every cell "change" every frame. In 256 colours
# one step of the colour cube is 40, so a cell flickering across one boundary stays put;
# in ASCII one ramp step is 25.6, so a glyph must move two steps.
TOLERANCE: dict[Depth, int] = {
    Depth.TRUECOLOR: 6,
    Depth.XTERM256: 40,
    Depth.ANSI16: 0,
    Depth.NONE: 30,
}
# Unchanged cells between two changed runs that are cheaper to re-send than to jump over:
# a cursor move costs about 8 bytes, a colourless cell 1, a coloured one about 20.
BRIDGE: dict[Depth, int] = {Depth.TRUECOLOR: 0, Depth.XTERM256: 0, Depth.ANSI16: 0, Depth.NONE: 6}


def bridged_spans(spans: list[tuple[int, int, int]], gap: int) -> list[tuple[int, int, int]]:
    """``(row, start, stop)`` runs with gaps of at most ``gap`` cells in a row joined up."""
    out: list[tuple[int, int, int]] = []
    for row, start, stop in spans:
        if out and out[-1][0] == row and start - out[-1][2] <= gap:
            out[-1] = (row, out[-1][1], stop)
        else:
            out.append((row, start, stop))
    return out


# Rough bytes on the wire, for the grid's budget: a run of changed cells costs a cursor
# move plus its colour codes (ASCII cells still carry the theme's colours), and each cell
# its glyph and, in colour, its own codes ('\x1b[38;5;N;48;5;Mm▀\x1b[0m' at worst).
SPAN_BYTES = 24
CELL_BYTES: dict[Depth, int] = {
    Depth.TRUECOLOR: 40,
    Depth.XTERM256: 22,
    Depth.ANSI16: 12,
    Depth.NONE: 1,
}


@dataclass(frozen=True)
class Frame:
    """A rendered picture not yet on screen, and what sending it would cost."""

    grid: CellGrid
    mask: NDArray[np.bool_]
    spans: list[tuple[int, int, int]]
    cost: int  # estimated bytes written to the terminal


class Thumb(Widget):
    """Line-based: Textual asks for one row at a time, so a changed row costs one strip."""

    DEFAULT_CSS = """
    Thumb { height: 1fr; width: 1fr; }
    """

    def __init__(
        self,
        *,
        mode: Mode = Mode.HALF_BLOCK,
        depth: Depth = Depth.TRUECOLOR,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.mode = mode
        self.depth = depth
        self.grid: CellGrid | None = None
        self._strips: list[Strip] = []
        self.repainted_rows = 0  # for benchmarks and tests: how much each frame cost
        self.repainted_cells = 0
        self.placeholder = "waiting for a picture"  # shown while there is no frame

    def set_placeholder(self, text: str) -> None:
        if text != self.placeholder:
            self.placeholder = text
            if self.grid is None:
                self.refresh()

    def prepare(self, thumb: Thumbnail) -> Frame | None:
        """Render ``thumb`` at the current size and work out what sending it would cost."""
        width, height = self.size
        if width < 1 or height < 1 or thumb.format != "rgb":
            return None
        rgb = rgb_from_bytes(thumb.data, thumb.width, thumb.height)
        grid = render_cells(rgb, width, height, mode=self.mode, depth=self.depth)
        mask = changed_cells(self.grid, grid, tolerance=TOLERANCE[grid.depth])
        spans = bridged_spans(changed_spans(mask), BRIDGE[grid.depth])
        cells = sum(stop - start for _, start, stop in spans)
        return Frame(grid, mask, spans, len(spans) * SPAN_BYTES + cells * CELL_BYTES[grid.depth])

    def show(self, thumb: Thumbnail) -> None:
        """Render a new frame into the current size and invalidate only what moved."""
        frame = self.prepare(thumb)
        if frame is not None:
            self.apply(frame)

    def apply(self, frame: Frame) -> None:
        grid, mask = frame.grid, frame.mask
        fresh = self.grid is None or len(self._strips) != grid.rows
        if self.grid is not None and self.grid.glyphs.shape != grid.glyphs.shape:
            return  # resized since it was prepared; the next frame repaints everything
        # Diff against what the terminal shows, so small drifts cannot add up unseen.
        shown = grid if self.grid is None else merge_changed(self.grid, grid, mask)
        if fresh:
            self._strips = [Strip.blank(0)] * grid.rows
        rows = np.flatnonzero(mask.any(axis=1))
        wire = solid_as_spaces(shown)
        cuts: dict[int, set[int]] = {}
        for y, start, stop in frame.spans:
            cuts.setdefault(y, set()).update((start, stop))
        for row in rows:
            # Textual's NO_COLOR filter cannot take a None style, which ASCII cells have.
            runs = row_segments(wire, int(row))
            strip = Strip([Segment(text, style or _PLAIN) for text, style, _ in runs])
            # Textual sends whole segments that touch a refreshed region: cut them at the
            # changed runs, or an ASCII row (one segment) goes out in full for one glyph.
            where = sorted(cuts.get(int(row), ()))
            if where and not fresh:
                strip = Strip([seg for part in strip.divide(where) for seg in part])
            self._strips[row] = strip
        self.grid = shown
        self.repainted_rows = len(rows)
        self.repainted_cells = int(mask.sum())
        if fresh:
            self.refresh()
            return
        # Only the runs of cells that changed: a whole row would re-send its unchanged cells.
        for y, start, stop in frame.spans:
            self.refresh(Region(start, y, stop - start, 1))

    def clear(self) -> None:
        self.grid = None
        self._strips = []
        self.refresh()

    def on_resize(self) -> None:
        # Old cells are the wrong size now; the next frame repaints everything.
        self.clear()

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._strips)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if 0 <= y < len(self._strips):
            return self._strips[y].adjust_cell_length(width, self.rich_style)
        if self.grid is None and y == self.size.height // 2:
            text = self.placeholder[:width].center(width)
            return Strip([Segment(text, self.rich_style + Style(dim=True))], width)
        return Strip([Segment(" " * width, self.rich_style)], width)
