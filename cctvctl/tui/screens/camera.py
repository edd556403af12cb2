"""One camera: a large picture beside every number the server has on it."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.widgets import Footer, Static

from cctvctl.models import Camera
from cctvctl.tui.commands import Scope, bindings_for
from cctvctl.tui.data import Poller
from cctvctl.tui.format import BADGES, age_text, kbps_text, rtt_text
from cctvctl.tui.screens.base import CctvScreen
from cctvctl.tui.widgets.header import NodeHeader
from cctvctl.tui.widgets.thumb import Thumb

__all__ = ["CameraScreen", "stats_table"]

THUMB_INTERVAL = 1.0


def stats_table(camera: Camera) -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    label, style = BADGES[camera.status]
    since = f" for {age_text(camera.status_since)}" if camera.status_since else ""
    fps = f"{camera.fps:.1f}" + (f"/{camera.expected_fps:.0f}" if camera.expected_fps else "")
    rows: list[tuple[str, Text | str]] = [
        ("camera", camera.id),
        ("name", camera.name),
        ("kecamatan", camera.kecamatan),
        ("site", f"{camera.site} ({camera.site_kind})"),
        ("status", Text.assemble((f" {label} ", style), since)),
        ("last seen", age_text(camera.last_packet)),
        ("fps", fps),
        ("bitrate", kbps_text(camera.kbps) + "bps"),
        ("recording", "yes" if camera.recording else "NO"),
        ("missing 24h", f"{camera.missing_seconds_24h / 60:.0f} min"),
        ("reconnects", f"{camera.reconnects_1h} in 1h"),
        ("rtt", rtt_text(camera.rtt_ms)),
        ("onvif", "yes" if camera.has_onvif else "no"),
    ]
    if camera.last_error:
        rows.append(("last error", Text(camera.last_error, "red")))
    for key, value in rows:
        table.add_row(key, value)
    return table


class CameraScreen(CctvScreen):
    SCOPE = Scope.CAMERA
    BINDINGS: ClassVar[list[BindingType]] = list(bindings_for(Scope.CAMERA))
    DEFAULT_CSS = """
    CameraScreen Thumb { width: 2fr; }
    CameraScreen #stats { width: 1fr; min-width: 30; padding: 0 1; }
    """

    def __init__(self, camera_id: str) -> None:
        super().__init__()
        self.camera_id = camera_id
        self.TITLE_TEXT = camera_id
        self._thumbs: Poller | None = None

    def compose(self) -> ComposeResult:
        yield NodeHeader()
        with Horizontal():
            yield Thumb(mode=self.cctv.mode, depth=self.cctv.depth)
            yield Static(id="stats")
        yield Footer()

    def on_mount(self) -> None:
        self._thumbs = Poller(self, self._fetch_thumb, THUMB_INTERVAL, name="thumb")
        self._thumbs.start()

    def on_unmount(self) -> None:
        if self._thumbs is not None:
            self._thumbs.stop()

    def camera(self) -> Camera | None:
        return next((c for c in self.node.cameras if c.id == self.camera_id), None)

    def refresh_data(self) -> None:
        super().refresh_data()
        if not self.is_mounted:
            return
        camera = self.camera()
        stats = self.query_one("#stats", Static)
        stats.update(stats_table(camera) if camera else f"{self.camera_id}: not on this server")

    async def _fetch_thumb(self) -> None:
        thumb = self.query_one(Thumb)
        width = thumb.size.width
        if width < 1:
            return
        shot = await self.cctv.client.thumbnail(self.camera_id, width, max(9, width * 9 // 16))
        thumb.show(shot)
