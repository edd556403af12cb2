"""Time and output size of cctvctl.render for a 640x360 frame shown at 80x24.

Run: .venv/bin/python benchmarks/render_cells.py [--repeat N]

Prints figures only. Per mode and depth:
  cells ms    RGB -> CellGrid (resize + quantise)
  ansi ms     CellGrid -> positioned ANSI repaint (ansi_diff against nothing)
  rich ms     CellGrid -> text through a rich Console (what `cctvctl snapshot` pays)
  full B      bytes of a full positioned ANSI repaint
  rich B      bytes rich writes for the same grid
  osd B       bytes of a diff-only repaint after an on-screen clock region changed
  noisy B     same, but the new frame also has fresh sensor noise (a real camera)
  tol8 B      noisy, diffed with changed_cells(tolerance=8) (truecolor only)
  cells       how many of the grid's cells each diff re-sends
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from rich.console import Console

from cctvctl.render import (
    CellGrid,
    CellsRenderable,
    Depth,
    Mode,
    ansi_diff,
    changed_cells,
    render_cells,
    resize,
)

WIDTH, HEIGHT = 640, 360
COLS, ROWS = 80, 24
ColorSystem = Literal["standard", "256", "truecolor"]
RICH_SYSTEM: dict[Depth, ColorSystem | None] = {
    Depth.TRUECOLOR: "truecolor",
    Depth.XTERM256: "256",
    Depth.ANSI16: "standard",
    Depth.NONE: None,
}


def scene(seed: int, clock: int) -> NDArray[np.uint8]:
    """A street-camera-like frame: sky and road gradients, a few objects, an OSD clock."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    sky = np.stack([90 + 60 * y / HEIGHT, 140 + 50 * y / HEIGHT, 220 - 40 * y / HEIGHT], -1)
    road = np.stack([70 + 0.1 * x, 70 + 0.1 * x, 75 + 0.1 * x], -1) * np.ones_like(y)[..., None]
    image = np.where((y > HEIGHT * 0.55)[..., None], road, sky)
    image[150:260, 60:220] = (180, 60, 40)  # building
    image[210:250, 400:520] = (230, 230, 235)  # parked van
    image[270:290, :] = (240, 240, 240) * (((x[270:290] // 40) % 2) == 0)[..., None]
    noise = np.random.default_rng(seed).normal(0.0, 6.0, image.shape)
    image = np.clip(image + noise, 0, 255)
    image[8:24, 8:128] = 0  # OSD clock box; its digits change every second
    digits = (np.arange(120) // 12 + clock) % 3 == 0
    image[12:20, 8:128][:, digits] = 255
    return image.astype(np.uint8)


def per_frame_ms(work: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e3


def rich_bytes(grid: CellGrid, depth: Depth) -> str:
    console = Console(
        file=io.StringIO(),
        width=COLS,
        color_system=RICH_SYSTEM[depth],
        force_terminal=True,
        no_color=False,
    )
    with console.capture() as capture:
        console.print(CellsRenderable(grid))
    return capture.get()


def report(repeat: int) -> None:
    frame = scene(seed=1, clock=0)
    osd_only = scene(seed=1, clock=1)
    noisy = scene(seed=2, clock=1)
    print(f"{WIDTH}x{HEIGHT} RGB -> {COLS}x{ROWS} cells, median of {repeat} runs\n")
    header = (
        f"{'mode':<10}{'depth':<10}{'grid':>7}{'cells ms':>10}{'ansi ms':>9}{'rich ms':>9}"
        f"{'full B':>9}{'rich B':>9}{'osd B':>8}{'cells':>6}{'noisy B':>9}{'cells':>6}"
        f"{'tol8 B':>8}{'cells':>6}"
    )
    print(header)
    print("-" * len(header))
    for mode in Mode:
        for depth in Depth:
            if mode is Mode.ASCII and depth is not Depth.NONE:
                continue  # ASCII is colourless: every depth gives the same grid
            row(frame, osd_only, noisy, mode, depth, repeat)
    print()
    for method in ("area", "nearest"):
        ms = per_frame_ms(partial(resize, frame, COLS, 45, method), repeat)
        print(f"resize 640x360 -> 80x45 ({method}): {ms:.3f} ms")


def row(
    frame: NDArray[np.uint8],
    osd_only: NDArray[np.uint8],
    noisy: NDArray[np.uint8],
    mode: Mode,
    depth: Depth,
    repeat: int,
) -> None:
    grid = render_cells(frame, COLS, ROWS, mode=mode, depth=depth)
    cells_ms = per_frame_ms(lambda: render_cells(frame, COLS, ROWS, mode=mode, depth=depth), repeat)
    ansi_ms = per_frame_ms(lambda: ansi_diff(None, grid), repeat)
    rich_ms = per_frame_ms(lambda: rich_bytes(grid, depth), max(3, repeat // 5))
    full = len(ansi_diff(None, grid).encode())
    rich_out = len(rich_bytes(grid, depth).encode())
    osd_b, osd_n = diff_cost(grid, render_cells(osd_only, COLS, ROWS, mode=mode, depth=depth))
    nxt = render_cells(noisy, COLS, ROWS, mode=mode, depth=depth)
    noisy_b, noisy_n = diff_cost(grid, nxt)
    tol_b, tol_n = diff_cost(grid, nxt, tolerance=8)
    shape = f"{grid.cols}x{grid.rows}"
    print(
        f"{mode.value:<10}{depth.value:<10}{shape:>7}{cells_ms:>10.3f}{ansi_ms:>9.3f}"
        f"{rich_ms:>9.3f}{full:>9}{rich_out:>9}{osd_b:>8}{osd_n:>6}{noisy_b:>9}{noisy_n:>6}"
        f"{tol_b:>8}{tol_n:>6}"
    )


def diff_cost(prev: CellGrid, cur: CellGrid, tolerance: int = 0) -> tuple[int, int]:
    mask = changed_cells(prev, cur, tolerance=tolerance)
    return len(ansi_diff(prev, cur, mask=mask).encode()), int(mask.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=200, help="timed runs per figure")
    report(parser.parse_args().repeat)


if __name__ == "__main__":
    main()
