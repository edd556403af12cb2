"""RGB images -> terminal cells: half blocks or an ASCII ramp, quantised to the terminal.

Pure on purpose (numpy, rich and the standard library only) so both the CLI and the TUI
can use it without pulling in either's dependencies.
"""

from cctvctl.render.ansi import ansi_diff, ansi_frame
from cctvctl.render.cells import (
    CELL_ASPECT,
    DEFAULT_RAMP,
    UPPER_HALF_BLOCK,
    CellFit,
    CellGrid,
    Mode,
    StyleRuns,
    ascii_cells,
    changed_cells,
    changed_spans,
    fit_cells,
    half_block_cells,
    merge_changed,
    render_cells,
    resize,
    rgb_from_bytes,
    solid_as_spaces,
    style_runs,
    text_lines,
)
from cctvctl.render.colour import (
    ANSI16_RGB,
    DEFAULT_COLOUR,
    XTERM256_RGB,
    Depth,
    code_to_rgb,
    depth_for_console,
    detect_depth,
    quantise,
)
from cctvctl.render.rich_image import (
    CellsRenderable,
    ImageRenderable,
    cell_style,
    row_segments,
    rows_segments,
)

__all__ = [
    "ANSI16_RGB",
    "CELL_ASPECT",
    "DEFAULT_COLOUR",
    "DEFAULT_RAMP",
    "UPPER_HALF_BLOCK",
    "XTERM256_RGB",
    "CellFit",
    "CellGrid",
    "CellsRenderable",
    "Depth",
    "ImageRenderable",
    "Mode",
    "StyleRuns",
    "ansi_diff",
    "ansi_frame",
    "ascii_cells",
    "cell_style",
    "changed_cells",
    "changed_spans",
    "code_to_rgb",
    "depth_for_console",
    "detect_depth",
    "fit_cells",
    "half_block_cells",
    "merge_changed",
    "quantise",
    "render_cells",
    "resize",
    "rgb_from_bytes",
    "row_segments",
    "rows_segments",
    "solid_as_spaces",
    "style_runs",
    "text_lines",
]
