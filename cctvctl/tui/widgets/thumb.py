"""A camera picture as text cells that repaints only the cells that changed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from cctvctl.client import Thumbnail
from cctvctl.render import (
    CellGrid,
    Depth,
    Mode,
    changed_cells,
    merge_changed,
    render_cells,
    rgb_from_bytes,
    rows_segments,
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
# Rough bytes on the wire, for the grid's budget. Textual re-sends a changed line of a
# widget from the widget's left edge to the end of the change (ChopsUpdate crops from the
# chop's start), so a row costs a cursor move and colour codes, plus every cell up to its
# last change: glyph and, in colour, its codes (measured with benchmarks/tui_bytes.py:
# about 10 bytes a cell in 256 colours once flat areas go out as runs of spaces).
ROW_BYTES = 24
CELL_BYTES: dict[Depth, float] = {
    Depth.TRUECOLOR: 24,
    Depth.XTERM256: 12,
    Depth.ANSI16: 8,
    Depth.NONE: 1.2,
}


@dataclass(frozen=True)
class Frame:
    """A rendered picture not yet on screen, and what sending it would cost."""

    grid: CellGrid
    mask: NDArray[np.bool_]
    rows: list[tuple[int, int]]  # (row, end of its last changed cell)
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
        rows = [
            (int(y), int(np.flatnonzero(mask[y])[-1]) + 1) for y in np.flatnonzero(mask.any(axis=1))
        ]
        cells = sum(stop for _, stop in rows)
        cost = len(rows) * ROW_BYTES + cells * CELL_BYTES[grid.depth]
        return Frame(grid, mask, rows, round(cost))

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
        changed = rows_segments(solid_as_spaces(shown), (y for y, _ in frame.rows))
        for row, runs in changed.items():
            # Textual's NO_COLOR filter cannot take a None style, which ASCII cells have.
            self._strips[row] = Strip([Segment(text, style or _PLAIN) for text, style, _ in runs])
        self.grid = shown
        self.repainted_rows = len(changed)
        self.repainted_cells = int(mask.sum())
        if fresh:
            self.refresh()
            return
        # Each changed row up to its last change: what Textual sends anyway (see ROW_BYTES).
        for y, stop in frame.rows:
            self.refresh(Region(0, y, stop, 1))

    def clear(self) -> None:
        self.grid = None
        self._strips = []
        self.refresh()

    class Resized(Message):
        """The picture was cleared at a new size; whoever feeds it may want to redraw."""

    def on_resize(self) -> None:
        # Old cells are the wrong size now; the next frame repaints everything.
        self.clear()
        self.post_message(self.Resized())

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
