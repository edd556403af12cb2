"""A camera picture as text cells that repaints only the cells that changed."""

from __future__ import annotations

import numpy as np
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
)

__all__ = ["Thumb"]

_PLAIN = Style()
# Truecolor channels may wander this much before a cell is re-sent: sensor noise would
# otherwise make nearly every cell "change" every frame. Palette depths need none.
COLOUR_TOLERANCE = 6


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

    def show(self, thumb: Thumbnail) -> None:
        """Render a new frame into the current size and invalidate only what moved."""
        width, height = self.size
        if width < 1 or height < 1 or thumb.format != "rgb":
            return
        rgb = rgb_from_bytes(thumb.data, thumb.width, thumb.height)
        grid = render_cells(rgb, width, height, mode=self.mode, depth=self.depth)
        mask = changed_cells(self.grid, grid, tolerance=COLOUR_TOLERANCE)
        fresh = self.grid is None or len(self._strips) != grid.rows
        # Diff against what the terminal shows, so small drifts cannot add up unseen.
        shown = grid if self.grid is None else merge_changed(self.grid, grid, mask)
        if fresh:
            self._strips = [Strip.blank(0)] * grid.rows
        rows = np.flatnonzero(mask.any(axis=1))
        for row in rows:
            # Textual's NO_COLOR filter cannot take a None style, which ASCII cells have.
            runs = row_segments(shown, int(row))
            self._strips[row] = Strip([Segment(text, style or _PLAIN) for text, style, _ in runs])
        self.grid = shown
        self.repainted_rows = len(rows)
        self.repainted_cells = int(mask.sum())
        if fresh:
            self.refresh()
            return
        # Only the runs of cells that changed: a whole row would re-send its unchanged cells.
        for y, start, stop in changed_spans(mask):
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
