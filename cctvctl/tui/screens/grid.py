"""Camera tiles for one kecamatan (or every offline camera), paged to fit the terminal."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Grid
from textual.widgets import Footer, Input

from cctvctl.client import AsyncCctvClient, Thumbnail
from cctvctl.models import Camera, CameraStatus
from cctvctl.tui.budget import ByteBudget
from cctvctl.tui.commands import Scope, bindings_for
from cctvctl.tui.data import Poller
from cctvctl.tui.fleet_view import GridCamera
from cctvctl.tui.format import MARK
from cctvctl.tui.screens.filtered import FilteredScreen
from cctvctl.tui.widgets.filter_box import FilterBox
from cctvctl.tui.widgets.header import NodeHeader
from cctvctl.tui.widgets.line import Line
from cctvctl.tui.widgets.tile import Tile
from cctvctl.units import counted

__all__ = ["GridScreen", "tile_layout"]

# Smallest useful tile: a name, a 6-row picture and a status line, 30 columns wide.
MIN_TILE_COLS = 30
MIN_TILE_ROWS = 8
THUMB_INTERVAL = 1.0
_SEVERITY = {
    CameraStatus.OFFLINE: 0,
    CameraStatus.DEGRADED: 1,
    CameraStatus.ONLINE: 2,
    CameraStatus.DISABLED: 3,
}


def _rank(entry: GridCamera) -> tuple[int, bool, str]:
    camera = entry.camera
    if camera is None:
        # Unknown (its node is out of reach) comes first: nobody can tell it is fine.
        return -1, True, entry.id
    # A flapping camera is "online" half the time; it ranks with the degraded ones, so it
    # is on the first page rather than among the healthy.
    severity = _SEVERITY[camera.status]
    if camera.flapping:
        severity = min(severity, _SEVERITY[CameraStatus.DEGRADED])
    return severity, not camera.flapping, camera.id


def tile_layout(width: int, height: int, count: int) -> tuple[int, int]:
    """(columns, rows) of tiles for a body of ``width`` x ``height`` cells."""
    cols = max(1, width // MIN_TILE_COLS)
    rows = max(1, height // MIN_TILE_ROWS)
    # Fewer cameras than slots: spend the room on bigger pictures instead. Rows go first
    # because a terminal cell is twice as tall as wide, so a picture is height-bound.
    while cols * rows - cols >= count and rows > 1:
        rows -= 1
    while cols * rows - rows >= count and cols > 1:
        cols -= 1
    return cols, rows


def _words(entry: GridCamera) -> str:
    camera = entry.camera
    if camera is None:
        return f"{entry.id} {entry.name}".lower()
    return f"{camera.id} {camera.name} {camera.site}".lower()


class GridScreen(FilteredScreen):
    SCOPE = Scope.GRID
    # Tiles take focus as they are mounted; never the hidden filter, or keys would type.
    AUTO_FOCUS = "Tile"
    BINDINGS: ClassVar[list[BindingType]] = list(bindings_for(Scope.GRID))
    DEFAULT_CSS = """
    GridScreen #pager { height: 1; color: $text-muted; }
    GridScreen Grid { grid-gutter: 0 0; }
    GridScreen.-stale .tile-status { text-style: dim; }
    """

    def __init__(self, title: str, select: Callable[[Camera], bool]) -> None:
        super().__init__()
        self.TITLE_TEXT = title
        self._select = select
        self.page = 0
        self._layout: tuple[int, int] = (0, 0)
        self._shown: list[str] = []
        self._thumbs: Poller | None = None
        self.budget = ByteBudget(None)
        self._sent_at: dict[str, float] = {}  # camera id -> when its picture last went out

    def compose(self) -> ComposeResult:
        yield NodeHeader()
        yield FilterBox(placeholder="filter: camera id, name or site", id="filter")
        yield Line(id="pager")
        yield Grid()
        yield Footer()

    def on_mount(self) -> None:
        self.budget = ByteBudget(self.cctv.picture_budget())
        self._thumbs = Poller(self, self._fetch_thumbs, THUMB_INTERVAL, name="thumbs")
        self._thumbs.start()

    def on_unmount(self) -> None:
        if self._thumbs is not None:
            self._thumbs.stop()

    def on_screen_suspend(self) -> None:
        # Under the camera screen the tiles would go on repainting, and Textual repaints
        # the screen on top wherever the one below changed: the camera screen's timeline
        # and events were re-sent with every page of pictures.
        if self._thumbs is not None:
            self._thumbs.stop()

    def on_screen_resume(self) -> None:
        if self._thumbs is not None:
            self._thumbs.start()

    def entries(self) -> list[GridCamera]:
        """Every camera this grid may show, unfiltered: the current node's."""
        return [GridCamera(c.id, c, self.cctv.target.name) for c in self.node.cameras]

    def client_for(self, tile: Tile) -> AsyncCctvClient:
        """Who to ask for a tile's picture: the current node."""
        return self.cctv.client

    def is_stale(self) -> bool:
        return self.node.is_stale()

    def pager_note(self) -> str:
        """More for the pager line (the fleet grid names the nodes out of reach)."""
        return ""

    def cameras(self) -> list[GridCamera]:
        """This grid's cameras, worst first (unknown, offline, degraded or flapping,
        online, disabled), then by id."""
        needle = self.filter_input.needle if self.is_mounted else ""
        return sorted(
            (
                e
                for e in self.entries()
                if self._selected(e) and (not needle or needle in _words(e))
            ),
            key=_rank,
        )

    def _selected(self, entry: GridCamera) -> bool:
        return entry.camera is not None and self._select(entry.camera)

    def per_page(self) -> int:
        cols, rows = self._layout
        return max(1, cols * rows)

    def redraw(self) -> None:
        if not self.is_mounted:
            return
        cameras = self.cameras()
        grid = self.query_one(Grid)
        # Header, pager and footer take a line each, and the filter one more when open.
        reserved = 4 if self.filter_input.display else 3
        layout = tile_layout(self.size.width, max(1, self.size.height - reserved), len(cameras))
        pages = max(1, -(-len(cameras) // max(1, layout[0] * layout[1])))
        self.page = min(self.page, pages - 1)
        self._layout = layout
        start = self.page * self.per_page()
        page = cameras[start : start + self.per_page()]
        stale = self.is_stale()
        # Figures too old to trust are dimmed; pictures simply stop moving, so say it.
        self.set_class(stale, "-stale")
        self.query_one("#pager", Line).show(
            Text.assemble(
                f" {counted(len(cameras), 'camera')} · page {self.page + 1}/{pages} (n/p)"
                if cameras
                else " no cameras match",
                self.pager_note(),
                (f"  {MARK}stale: pictures and figures are not live", "bold reverse")
                if stale
                else "",
            )
        )
        # Same cameras on the page: update the tiles where they stand. A camera flickering
        # between OK and DEG would otherwise reorder, and so rebuild and re-send, the page.
        if (
            set(c.id for c in page) != set(self._shown)
            or grid.styles.grid_size_columns != layout[0]
        ):
            self._rebuild(grid, page, layout)
        else:
            by_id = {c.id: c for c in page}
            for tile in grid.query(Tile):
                tile.update_camera(by_id[tile.camera_id])

    def _rebuild(self, grid: Grid, page: list[GridCamera], layout: tuple[int, int]) -> None:
        focused = self.focused.camera_id if isinstance(self.focused, Tile) else None
        grid.styles.grid_size_columns, grid.styles.grid_size_rows = layout
        grid.remove_children()
        tiles = [Tile(c, self.cctv.mode, self.cctv.depth) for c in page]
        grid.mount_all(tiles)
        self._shown = [c.id for c in page]
        target = next((t for t in tiles if t.camera_id == focused), tiles[0] if tiles else None)
        # Never take the keys away from someone typing a filter.
        if target is not None and self.focused is not self.filter_input:
            self.call_after_refresh(target.focus)
        if self._thumbs is not None:
            self._thumbs.poke()

    async def _fetch_thumbs(self) -> None:
        tiles = [t for t in self.query(Tile) if t.thumb.size.width > 0 and t.shows_picture()]

        async def one(tile: Tile) -> tuple[Tile, Thumbnail]:
            w = max(16, tile.thumb.size.width)
            client = self.client_for(tile)  # in a fleet, the node that records the camera
            return tile, await client.thumbnail(tile.camera_id, w, max(9, w * 9 // 16))

        results = await asyncio.gather(*(one(t) for t in tiles), return_exceptions=True)
        # Offline cameras have no picture; only a wholesale failure counts as an error.
        if results and all(isinstance(r, BaseException) for r in results):
            first = results[0]
            assert isinstance(first, Exception)
            raise first
        now = time.monotonic()
        shots = [r for r in results if not isinstance(r, BaseException)]
        # Stalest first, so a tight budget still moves every picture in turn.
        shots.sort(key=lambda pair: self._sent_at.get(pair[0].camera_id, 0.0))
        for tile, shot in shots:
            frame = tile.thumb.prepare(shot)
            if frame is None:
                continue
            if not self.budget.allow(frame.cost, first=tile.thumb.grid is None):
                break  # nothing overtakes the stalest picture, or it could wait for ever
            tile.thumb.apply(frame)
            self._sent_at[tile.camera_id] = now

    def _tiles(self) -> list[Tile]:
        return list(self.query(Tile))

    def action_drill(self) -> None:
        if isinstance(self.focused, Tile):
            self.cctv.open_camera(self.focused.camera_id)
        elif self.focused is self.filter_input:
            # Enter keeps the filter and hands the keys back to the tiles.
            self._step_tile(0)

    def on_input_changed(self, event: Input.Changed) -> None:
        # A new filter starts on the first page; Textual then runs FilteredScreen's
        # handler too (handlers of every class in the MRO run), which redraws.
        self.page = 0

    def filter_closed(self) -> None:
        self._step_tile(0)

    def action_page(self, step: int) -> None:
        pages = max(1, -(-len(self.cameras()) // self.per_page()))
        self.page = (self.page + step) % pages
        self.refresh_data()

    def _step_tile(self, step: int) -> None:
        tiles = self._tiles()
        if not tiles:
            return
        index = tiles.index(self.focused) if self.focused in tiles else 0
        tiles[max(0, min(len(tiles) - 1, index + step))].focus()

    def action_move(self, step: int) -> None:
        self._step_tile(step)

    def action_move_row(self, step: int) -> None:
        self._step_tile(step * max(1, self._layout[0]))
