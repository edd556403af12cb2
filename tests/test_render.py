"""Tests for cctvctl.render: test cards with expectations derived from palette definitions."""

from __future__ import annotations

import io
import math
import re
from itertools import product
from typing import Literal

import numpy as np
import pytest
from numpy.typing import NDArray
from rich.console import Console
from rich.measure import Measurement
from rich.segment import Segment

from cctvctl.render import (
    DEFAULT_COLOUR,
    DEFAULT_RAMP,
    UPPER_HALF_BLOCK,
    CellGrid,
    CellsRenderable,
    Depth,
    ImageRenderable,
    Mode,
    ansi_diff,
    ansi_frame,
    ascii_cells,
    changed_cells,
    changed_spans,
    depth_for_console,
    detect_depth,
    fit_cells,
    half_block_cells,
    merge_changed,
    quantise,
    render_cells,
    resize,
    rgb_from_bytes,
    row_segments,
    rows_segments,
    solid_as_spaces,
    style_runs,
    text_lines,
)


@pytest.fixture(autouse=True)
def _colour_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    # Depth detection reads NO_COLOR; a developer's own setting must not flip results.
    monkeypatch.delenv("NO_COLOR", raising=False)


# --- reference palettes, written out from their definitions ---------------------------

# xterm's 6x6x6 cube: index 16 + 36 r + 6 g + b over these channel levels.
CUBE_LEVELS = (0, 95, 135, 175, 215, 255)
# xterm's grey ramp: index 232 + i is grey 8 + 10 i.
XTERM256_REF: dict[int, tuple[int, int, int]] = {
    16 + 36 * r + 6 * g + b: (CUBE_LEVELS[r], CUBE_LEVELS[g], CUBE_LEVELS[b])
    for r, g, b in product(range(6), repeat=3)
} | {232 + i: (8 + 10 * i,) * 3 for i in range(24)}


# xterm's default 16 colours (the module documents that it matches against these), from
# its resource names: bit 0 red, bit 1 green, bit 2 blue, "red3"-style 205 for the normal
# eight and 255 for the bright ones, except blue2 (238), gray90, gray50 and #5c5cff.
def _xterm16(n: int) -> tuple[int, int, int]:
    on = 255 if n & 8 else 205
    red, green, blue = (on if n & bit else 0 for bit in (1, 2, 4))
    return (red, green, blue)


ANSI16_REF: dict[int, tuple[int, int, int]] = {n: _xterm16(n) for n in range(16)} | {
    4: (0, 0, 238),
    7: (229, 229, 229),
    8: (127, 127, 127),
    12: (92, 92, 255),
}


def sq_dist(a: tuple[int, int, int], b: tuple[int, int, int]) -> int:
    return sum((x - y) ** 2 for x, y in zip(a, b, strict=True))


def nearest_ref(rgb: tuple[int, int, int], palette: dict[int, tuple[int, int, int]]) -> int:
    return min(palette, key=lambda index: (sq_dist(rgb, palette[index]), index))


# --- test cards -------------------------------------------------------------------------

BARS: list[tuple[str, tuple[int, int, int]]] = [
    ("white", (255, 255, 255)),
    ("yellow", (255, 255, 0)),
    ("cyan", (0, 255, 255)),
    ("green", (0, 255, 0)),
    ("magenta", (255, 0, 255)),
    ("red", (255, 0, 0)),
    ("blue", (0, 0, 255)),
    ("black", (0, 0, 0)),
]
BAR_WIDTH = 10
CARD_HEIGHT = 20


def colour_bars(bar_width: int = BAR_WIDTH, height: int = CARD_HEIGHT) -> NDArray[np.uint8]:
    image = np.zeros((height, bar_width * len(BARS), 3), dtype=np.uint8)
    for index, (_, rgb) in enumerate(BARS):
        image[:, index * bar_width : (index + 1) * bar_width] = rgb
    return image


def grey_ramp(width: int = 256, height: int = 4) -> NDArray[np.uint8]:
    row = np.linspace(0, 255, width).round().astype(np.uint8)
    return np.repeat(np.repeat(row[None, :, None], height, axis=0), 3, axis=2)


def noise(height: int, width: int, seed: int = 7) -> NDArray[np.uint8]:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def packed(rgb: tuple[int, int, int]) -> int:
    return rgb[0] * 65536 + rgb[1] * 256 + rgb[2]


# --- palettes and quantisation ------------------------------------------------------------


def test_reference_nearest_of_pure_bars_matches_palette_definitions() -> None:
    # Guards the reference helper itself: pure colours land on exact cube corners, and
    # under xterm's 16 the pure blue is nearer to blue (0,0,238) than to bright blue.
    cube = [nearest_ref(rgb, XTERM256_REF) for _, rgb in BARS]
    ansi = [nearest_ref(rgb, ANSI16_REF) for _, rgb in BARS]
    assert cube == [231, 226, 51, 46, 201, 196, 21, 16]
    assert ansi == [15, 11, 14, 10, 13, 9, 4, 0]


@pytest.mark.parametrize(
    ("depth", "reference"),
    [(Depth.TRUECOLOR, None), (Depth.XTERM256, XTERM256_REF), (Depth.ANSI16, ANSI16_REF)],
)
def test_colour_bars_half_block_codes(
    depth: Depth, reference: dict[int, tuple[int, int, int]] | None
) -> None:
    grid = half_block_cells(colour_bars(), depth)
    assert (grid.rows, grid.cols) == (CARD_HEIGHT // 2, BAR_WIDTH * len(BARS))
    assert (grid.glyphs == ord(UPPER_HALF_BLOCK)).all()
    for index, (name, rgb) in enumerate(BARS):
        expected = packed(rgb) if reference is None else nearest_ref(rgb, reference)
        bar = np.s_[:, index * BAR_WIDTH : (index + 1) * BAR_WIDTH]
        assert (grid.fg[bar] == expected).all(), name
        assert (grid.bg[bar] == expected).all(), name


def test_colour_bars_through_render_cells_at_native_size() -> None:
    grid = render_cells(colour_bars(), cols=80, depth=Depth.XTERM256)
    assert (grid.rows, grid.cols) == (10, 80)
    assert grid.fg[0, ::BAR_WIDTH].tolist() == [231, 226, 51, 46, 201, 196, 21, 16]


def test_fg_is_top_pixel_and_bg_is_bottom_pixel() -> None:
    image = np.zeros((4, 3, 3), dtype=np.uint8)
    image[0::2] = (255, 0, 0)
    image[1::2] = (0, 0, 255)
    grid = half_block_cells(image, Depth.TRUECOLOR)
    assert (grid.fg == 0xFF0000).all()
    assert (grid.bg == 0x0000FF).all()


@pytest.mark.parametrize(
    ("depth", "reference", "skip_first_16"),
    [(Depth.XTERM256, XTERM256_REF, True), (Depth.ANSI16, ANSI16_REF, False)],
)
def test_quantise_random_colours_is_nearest(
    depth: Depth, reference: dict[int, tuple[int, int, int]], skip_first_16: bool
) -> None:
    pixels = noise(1, 400, seed=11)[0]
    codes = quantise(pixels, depth).tolist()
    candidates = {k: v for k, v in reference.items() if not (skip_first_16 and k < 16)}
    for rgb_array, code in zip(pixels.tolist(), codes, strict=True):
        rgb = (rgb_array[0], rgb_array[1], rgb_array[2])
        assert code in candidates
        best = min(sq_dist(rgb, c) for c in candidates.values())
        assert sq_dist(rgb, candidates[code]) == best, (rgb, code)


def test_quantise_greys_prefer_grey_ramp_in_256() -> None:
    # (128,128,128): cube level 135 is 7 away per channel, ramp grey 128 (232+12) is exact.
    codes = quantise(np.array([[128, 128, 128], [8, 8, 8]], dtype=np.uint8), Depth.XTERM256)
    assert codes.tolist() == [232 + 12, 232]


def test_quantise_rejects_non_rgb() -> None:
    with pytest.raises(ValueError):
        quantise(np.zeros((2, 2), dtype=np.uint8), Depth.TRUECOLOR)
    with pytest.raises(ValueError):
        quantise(np.zeros((2, 3), dtype=np.float32), Depth.TRUECOLOR)


# --- ASCII ramp ---------------------------------------------------------------------------


def test_grey_gradient_ascii_ramp_is_monotonic_and_spans_ramp() -> None:
    grid = ascii_cells(grey_ramp())
    for line in text_lines(grid):
        ranks = [DEFAULT_RAMP.index(ch) for ch in line]
        assert ranks == sorted(ranks)
        assert line[0] == DEFAULT_RAMP[0] == " "
        assert line[-1] == DEFAULT_RAMP[-1] == "@"
        assert set(line) == set(DEFAULT_RAMP)
    assert (grid.fg == DEFAULT_COLOUR).all()
    assert (grid.bg == DEFAULT_COLOUR).all()


def test_ascii_uses_rec709_luma_weights() -> None:
    # Pure green has luma 0.7152*255 ~ 182 and pure blue 0.0722*255 ~ 18: with a two-glyph
    # ramp green must be the bright glyph and blue the dark one. Equal-weight averaging
    # would put both at 85, the dark half.
    image = np.array([[[0, 255, 0], [0, 0, 255]]], dtype=np.uint8)
    assert text_lines(ascii_cells(image, ramp=".#")) == ["#."]


def test_render_cells_ascii_mode_resized_gradient() -> None:
    grid = render_cells(grey_ramp(512, 64), cols=64, mode=Mode.ASCII)
    assert grid.cols == 64
    assert grid.depth is Depth.NONE
    ranks = [DEFAULT_RAMP.index(ch) for ch in text_lines(grid)[0]]
    assert ranks == sorted(ranks)
    assert (ranks[0], ranks[-1]) == (0, len(DEFAULT_RAMP) - 1)


def test_depth_none_falls_back_to_ramp_even_in_half_block_mode() -> None:
    grid = render_cells(grey_ramp(), cols=64, mode=Mode.HALF_BLOCK, depth=Depth.NONE)
    text = "".join(text_lines(grid))
    assert UPPER_HALF_BLOCK not in text
    assert set(text) <= set(DEFAULT_RAMP)
    assert (grid.fg == DEFAULT_COLOUR).all()


def test_half_block_cells_without_colour_pairs_rows() -> None:
    image = np.zeros((3, 1, 3), dtype=np.uint8)
    image[0] = image[2] = 255
    # Rows (0, 1) white over black average to mid grey (third of four glyphs); row 2 has
    # no partner, so it stays white instead of being darkened by a missing pixel.
    grid = half_block_cells(image, Depth.NONE, ramp=" .#@")
    assert text_lines(grid) == ["#", "@"]


# --- geometry -----------------------------------------------------------------------------


def test_odd_height_leaves_last_bottom_half_default() -> None:
    image = colour_bars(height=5)
    grid = half_block_cells(image, Depth.TRUECOLOR)
    assert grid.rows == 3
    assert grid.fg[2, 0] == packed(BARS[0][1])
    assert (grid.bg[2] == DEFAULT_COLOUR).all()
    assert (grid.bg[:2] != DEFAULT_COLOUR).all()


def test_odd_height_rich_output_has_no_background_on_last_row() -> None:
    console = Console(width=80, color_system="truecolor", record=True, file=io.StringIO())
    console.print(CellsRenderable(half_block_cells(colour_bars(height=3), Depth.TRUECOLOR)))
    lines = console.export_text(styles=True).splitlines()
    assert len(lines) == 2
    assert "48;2;" in lines[0]
    assert "48;2;" not in lines[1]
    assert "38;2;255;255;0" in lines[1]


def half_up(value: float) -> int:
    return math.floor(value + 0.5)


def test_fit_640x360_into_40_cols_half_block() -> None:
    # Half blocks make samples square: 40 samples wide -> 360 * 40 / 640 = 22.5 tall.
    sample_h = half_up(360 * 40 / 640)
    expected_rows = math.ceil(sample_h / 2)
    assert expected_rows in (11, 12)
    fit = fit_cells(640, 360, 40)
    assert (fit.cols, fit.rows, fit.sample_height) == (40, expected_rows, sample_h)
    grid = render_cells(noise(360, 640), cols=40)
    assert (grid.cols, grid.rows) == (40, expected_rows)


def test_fit_640x360_into_40_cols_ascii() -> None:
    # One sample per cell, and a cell is twice as tall as wide.
    expected_rows = half_up(360 * 40 / 640 / 2)
    fit = fit_cells(640, 360, 40, mode=Mode.ASCII)
    assert (fit.cols, fit.rows) == (40, expected_rows)
    grid = render_cells(noise(360, 640), cols=40, mode=Mode.ASCII)
    assert (grid.cols, grid.rows) == (40, expected_rows)


def test_fit_limited_by_rows_keeps_aspect() -> None:
    # 10 rows = 20 square samples tall -> 640 * 20 / 360 wide.
    fit = fit_cells(640, 360, 80, 10)
    assert (fit.cols, fit.rows) == (half_up(640 * 20 / 360), 10)
    tall = fit_cells(90, 160, 80, 24)  # portrait camera: height bound
    assert tall.rows == 24
    assert tall.cols == half_up(90 * 48 / 160)


def test_fit_without_upscale_keeps_small_images_native() -> None:
    fit = fit_cells(16, 8, 80, 24, upscale=False)
    assert (fit.cols, fit.rows, fit.sample_height) == (16, 4, 8)
    assert fit_cells(16, 8, 80, 24).cols == 80


def test_fit_rejects_empty_boxes() -> None:
    with pytest.raises(ValueError):
        fit_cells(640, 360, 0)
    with pytest.raises(ValueError):
        fit_cells(0, 360, 80)


def test_resize_area_matches_block_means() -> None:
    image = noise(7, 11)
    out = resize(image, 3, 2)
    # Whole source pixels per output pixel: row bins [0,3) [3,7), column bins at i*11//3.
    row_edges, col_edges = [0, 3, 7], [0, 3, 7, 11]
    for r, c in product(range(2), range(3)):
        block = image[row_edges[r] : row_edges[r + 1], col_edges[c] : col_edges[c + 1]]
        expected = np.floor(block.reshape(-1, 3).mean(axis=0) + 0.5).astype(np.uint8)
        assert out[r, c].tolist() == expected.tolist()


def test_resize_nearest_upscale_repeats_pixels() -> None:
    image = noise(2, 2)
    out = resize(image, 4, 4)
    assert (out == image.repeat(2, axis=0).repeat(2, axis=1)).all()


def test_resize_same_size_is_a_copy() -> None:
    image = noise(4, 4)
    out = resize(image, 4, 4)
    assert (out == image).all()
    assert not np.shares_memory(out, image)


def test_rgb_from_bytes() -> None:
    image = noise(3, 5)
    assert (rgb_from_bytes(image.tobytes(), 5, 3) == image).all()
    with pytest.raises(ValueError):
        rgb_from_bytes(image.tobytes()[:-1], 5, 3)


# --- diffing ------------------------------------------------------------------------------


def test_changed_cells_finds_exactly_the_changed_cells() -> None:
    before = colour_bars()
    after = before.copy()
    after[4, 10:13] = (10, 20, 30)  # top halves of cells (2, 10..12)
    after[9, 40] = (200, 100, 50)  # bottom half of cell (4, 40)
    prev = half_block_cells(before, Depth.TRUECOLOR)
    cur = half_block_cells(after, Depth.TRUECOLOR)
    expected = np.zeros((10, 80), dtype=bool)
    expected[2, 10:13] = True
    expected[4, 40] = True
    mask = changed_cells(prev, cur)
    assert (mask == expected).all()
    assert changed_spans(mask) == [(2, 10, 13), (4, 40, 41)]


def test_changed_cells_ignores_changes_lost_in_quantisation() -> None:
    before = colour_bars()
    after = before.copy()
    after[0:2, 0:5] = (250, 250, 250)  # still nearest to white in the 16 colours
    mask = changed_cells(
        half_block_cells(before, Depth.ANSI16), half_block_cells(after, Depth.ANSI16)
    )
    assert not mask.any()


def test_changed_cells_all_when_not_comparable() -> None:
    cur = half_block_cells(colour_bars(), Depth.TRUECOLOR)
    assert changed_cells(None, cur).all()
    assert changed_cells(half_block_cells(colour_bars(), Depth.XTERM256), cur).all()
    assert changed_cells(half_block_cells(colour_bars(height=4), Depth.TRUECOLOR), cur).all()


def test_changed_cells_tolerance_in_truecolor() -> None:
    base = np.full((2, 3, 3), 100, dtype=np.uint8)
    after = base.copy()
    after[0, 0] = (104, 100, 96)  # within 4 on every channel: top of cell (0, 0)
    after[1, 1] = (100, 105, 100)  # green moved 5: bottom of cell (0, 1)
    prev = half_block_cells(base, Depth.TRUECOLOR)
    cur = half_block_cells(after, Depth.TRUECOLOR)
    assert changed_cells(prev, cur).tolist() == [[True, True, False]]
    assert changed_cells(prev, cur, tolerance=4).tolist() == [[False, True, False]]


def test_changed_cells_tolerance_still_sees_default_colour_change() -> None:
    # Odd height pads the bottom halves with the default colour; going to an even height
    # changes the shape, so build the grids by hand: default (-1) vs near-white.
    glyphs = np.full((1, 1), ord(UPPER_HALF_BLOCK), dtype=np.uint32)
    fg = np.zeros((1, 1), dtype=np.int32)
    prev = CellGrid(glyphs, fg, np.full((1, 1), DEFAULT_COLOUR, np.int32), Depth.TRUECOLOR)
    cur = CellGrid(glyphs.copy(), fg.copy(), np.full((1, 1), 0xFFFFFE, np.int32), prev.depth)
    assert changed_cells(prev, cur, tolerance=16).all()


def test_merge_changed_tracks_what_the_screen_shows() -> None:
    shown = half_block_cells(colour_bars(), Depth.TRUECOLOR)
    drift = colour_bars()
    drift[:, :40] -= (drift[:, :40] > 2).astype(np.uint8) * 3  # small drift, left half
    drift[:, 70:] = (40, 40, 40)  # real change: black bar becomes grey
    cur = half_block_cells(drift, Depth.TRUECOLOR)
    mask = changed_cells(shown, cur, tolerance=4)
    assert mask[:, 70:].all()
    assert not mask[:, :70].any()
    merged = merge_changed(shown, cur, mask)
    assert (merged.fg[:, 70:] == cur.fg[:, 70:]).all()
    assert (merged.fg[:, :70] == shown.fg[:, :70]).all()
    # Without merging, two sub-tolerance drifts in a row would pass unnoticed even though
    # together they exceed it; against the merged grid the second one is caught.
    drift2 = drift.copy()
    drift2[:, :40] -= (drift2[:, :40] > 2).astype(np.uint8) * 3
    again = changed_cells(merged, half_block_cells(drift2, Depth.TRUECOLOR), tolerance=4)
    assert again[:, :40].all()
    assert not again[:, 40:].any()


def test_changed_spans_row_edges() -> None:
    mask = np.array([[1, 1, 0, 1], [0, 0, 0, 0], [1, 1, 1, 1]], dtype=bool)
    assert changed_spans(mask) == [(0, 0, 2), (0, 3, 4), (2, 0, 4)]


def test_grid_arrays_are_read_only() -> None:
    grid = half_block_cells(colour_bars(), Depth.TRUECOLOR)
    with pytest.raises(ValueError):
        grid.fg[0, 0] = 1


# --- runs and rich --------------------------------------------------------------------------


def test_style_runs_merge_equal_colours() -> None:
    runs = style_runs(half_block_cells(colour_bars(), Depth.ANSI16))
    assert len(runs.rows) == 10 * len(BARS)
    assert runs.starts[:8] == list(range(0, 80, BAR_WIDTH))
    assert runs.stops[:8] == list(range(BAR_WIDTH, 81, BAR_WIDTH))


def test_row_segments_span() -> None:
    grid = half_block_cells(colour_bars(), Depth.TRUECOLOR)
    segments = row_segments(grid, 0, 5, 25)
    assert [len(s.text) for s in segments] == [5, 10, 5]
    assert segments[1].style is not None
    assert segments[1].style.color is not None
    assert segments[1].style.color.triplet == BARS[1][1]


def test_rows_segments_is_row_segments_for_several_rows_at_once() -> None:
    image = colour_bars()
    image[2:4, 7:30] = (10, 200, 90)  # give row 1 its own runs
    grid = half_block_cells(image, Depth.XTERM256)
    many = rows_segments(grid, [3, 1, 3])
    assert list(many) == [1, 3]
    for row, segments in many.items():
        assert segments == row_segments(grid, row)
        assert sum(len(s.text) for s in segments) == grid.cols
    assert rows_segments(grid, []) == {}


ColorSystem = Literal["standard", "256", "truecolor"]


def record(width: int, color_system: ColorSystem | None, *, no_color: bool = False) -> Console:
    return Console(
        width=width,
        color_system=color_system,
        no_color=no_color,
        record=True,
        file=io.StringIO(),
    )


def test_rich_renderable_truecolor_output() -> None:
    console = record(100, "truecolor")
    grid = half_block_cells(colour_bars(), Depth.TRUECOLOR)
    console.print(CellsRenderable(grid))
    text = console.export_text(styles=True)
    assert text.count(UPPER_HALF_BLOCK) == grid.rows * grid.cols
    # One style switch per bar per row proves runs were merged.
    assert len(re.findall(r"\x1b\[38;2;", text)) == grid.rows * len(BARS)
    for _, rgb in BARS:
        r, g, b = rgb
        assert f"38;2;{r};{g};{b};48;2;{r};{g};{b}m" in text


def test_rich_renderable_crops_to_console_width() -> None:
    console = record(35, "truecolor")
    console.print(CellsRenderable(half_block_cells(colour_bars(), Depth.TRUECOLOR)))
    lines = console.export_text().splitlines()
    assert len(lines) == 10
    assert all(line == UPPER_HALF_BLOCK * 35 for line in lines)
    # Consumers that take segments straight from console.render (no line cropping by
    # console.print) must get rows no wider than they asked for.
    grid = half_block_cells(colour_bars(), Depth.TRUECOLOR)
    rendered = console.render(CellsRenderable(grid), console.options.update_width(25))
    rows = list(Segment.split_lines(rendered))
    assert [Segment.get_line_length(row) for row in rows] == [25] * 10


def test_image_renderable_follows_console_depth() -> None:
    console = record(80, "256")
    console.print(ImageRenderable(colour_bars(), depth=None))
    text = console.export_text(styles=True)
    assert "38;5;226" in text  # yellow cube corner
    assert "38;2;" not in text


def test_image_renderable_without_colour_prints_ramp_only() -> None:
    console = record(80, "truecolor", no_color=True)
    console.print(ImageRenderable(grey_ramp(160, 40)))
    text = console.export_text(styles=True)
    assert "\x1b[" not in text
    assert UPPER_HALF_BLOCK not in text
    assert text.splitlines()[0].startswith(" ")
    assert text.splitlines()[0].endswith("@")


def test_image_renderable_measure_and_row_cap() -> None:
    console = record(80, "truecolor")
    image = ImageRenderable(noise(360, 640), max_rows=10)
    measured = Measurement.get(console, console.options, image)
    assert measured.maximum == half_up(640 * 20 / 360)
    console.print(image)
    assert len(console.export_text().splitlines()) == 10


# --- depth detection ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("system", "environ", "expected"),
    [
        ("truecolor", {}, Depth.TRUECOLOR),
        ("256", {}, Depth.XTERM256),
        ("standard", {}, Depth.ANSI16),
        ("windows", {}, Depth.ANSI16),
        (None, {}, Depth.NONE),
        ("truecolor", {"NO_COLOR": "1"}, Depth.NONE),
        ("truecolor", {"NO_COLOR": ""}, Depth.TRUECOLOR),
    ],
)
def test_detect_depth(system: str | None, environ: dict[str, str], expected: Depth) -> None:
    assert detect_depth(system, environ=environ) is expected


def test_depth_for_console() -> None:
    assert depth_for_console(record(80, "256"), environ={}) is Depth.XTERM256
    assert depth_for_console(record(80, "truecolor", no_color=True), environ={}) is Depth.NONE
    assert depth_for_console(record(80, None), environ={}) is Depth.NONE


# --- raw ANSI -------------------------------------------------------------------------------

_ESCAPE = re.compile(r"\x1b\[([0-9;]*)([A-Za-z])")


def paint(screen: dict[tuple[int, int], tuple[str, str, str]], stream: str) -> None:
    """Tiny terminal model for the escapes ansi_diff emits: CUP, SGR colours, text."""
    row = col = 0
    fg = bg = "default"
    pos = 0
    for match in _ESCAPE.finditer(stream):
        for ch in stream[pos : match.start()]:
            screen[(row, col)] = (ch, fg, bg)
            col += 1
        params, final = match.group(1), match.group(2)
        if final == "H":
            row, col = (int(p) - 1 for p in params.split(";"))
        elif final == "m":
            fg, bg = apply_sgr(params, fg, bg)
        pos = match.end()
    for ch in stream[pos:]:
        screen[(row, col)] = (ch, fg, bg)
        col += 1


def apply_sgr(params: str, fg: str, bg: str) -> tuple[str, str]:
    parts = params.split(";")
    i = 0
    while i < len(parts):
        p = parts[i]
        step = 5 if p in ("38", "48") and parts[i + 1] == "2" else 3 if p in ("38", "48") else 1
        value = ";".join(parts[i : i + step])
        if p == "0":
            fg = bg = "default"
        elif p in ("39", "49"):
            fg, bg = ("default", bg) if p == "39" else (fg, "default")
        elif p.startswith(("3", "9")):
            fg = value
        else:
            bg = value
        i += step
    return fg, bg


@pytest.mark.parametrize("depth", [Depth.TRUECOLOR, Depth.XTERM256, Depth.ANSI16, Depth.NONE])
def test_ansi_diff_repaint_equals_full_paint(depth: Depth) -> None:
    before = noise(30, 40, seed=1)
    after = before.copy()
    after[6:10, 5:9] = (255, 255, 255)
    after[29, 39] = (0, 0, 0)
    prev = render_cells(before, cols=40, depth=depth)
    cur = render_cells(after, cols=40, depth=depth)
    patched: dict[tuple[int, int], tuple[str, str, str]] = {}
    paint(patched, ansi_diff(None, prev))
    diff = ansi_diff(prev, cur)
    paint(patched, diff)
    fresh: dict[tuple[int, int], tuple[str, str, str]] = {}
    paint(fresh, ansi_diff(None, cur))
    assert patched == fresh
    assert len(fresh) == cur.rows * cur.cols
    assert 0 < len(diff) < len(ansi_diff(None, cur)) / 4


def test_ansi_diff_without_change_is_empty_and_origin_offsets() -> None:
    grid = half_block_cells(colour_bars(), Depth.ANSI16)
    assert ansi_diff(grid, grid) == ""
    assert ansi_diff(None, grid, origin=(5, 2)).startswith("\x1b[6;3H")


def test_ansi_frame_16_colours_uses_short_codes_and_resets_lines() -> None:
    text = ansi_frame(half_block_cells(colour_bars(), Depth.ANSI16))
    lines = text.split("\n")
    assert lines[0].startswith("\x1b[97;107m" + UPPER_HALF_BLOCK * BAR_WIDTH)
    assert "\x1b[34;44m" in lines[0]  # pure blue -> ANSI 4 under xterm's palette
    assert all(line.endswith("\x1b[0m") for line in lines[:-1])
    assert lines[-1] == ""


def test_ansi_frame_without_colour_has_no_escapes() -> None:
    grid = render_cells(grey_ramp(), cols=32, depth=Depth.NONE)
    text = ansi_frame(grid)
    assert "\x1b" not in text
    assert text.splitlines() == text_lines(grid)


def test_cell_grid_rejects_mismatched_arrays() -> None:
    glyphs = np.zeros((2, 2), dtype=np.uint32)
    with pytest.raises(ValueError):
        CellGrid(glyphs, np.zeros((2, 3), dtype=np.int32), np.zeros((2, 2), np.int32), Depth.NONE)


def test_solid_half_blocks_go_out_as_spaces_that_merge() -> None:
    image = np.zeros((4, 6, 3), dtype=np.uint8)
    image[:, :4] = (200, 30, 30)  # flat red block: both halves of cells (0..1, 0..3) equal
    image[0, 5] = (250, 250, 250)  # cell (0, 5): white over black, a real half block
    grid = half_block_cells(image, Depth.XTERM256)
    wire = solid_as_spaces(grid)
    text = text_lines(wire)
    assert text[0][:4] == "    " and text[0][5] == UPPER_HALF_BLOCK
    assert (wire.bg == grid.bg).all()  # the picture is unchanged: spaces show the background
    assert (wire.fg[:, :4] == DEFAULT_COLOUR).all()
    # ASCII has no half blocks to turn into spaces.
    ascii_grid = half_block_cells(image, Depth.NONE)
    assert solid_as_spaces(ascii_grid) is ascii_grid
