"""One camera in the grid: name, live picture, badge with kbps and last-seen age."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical

from cctvctl.models import Camera, CameraStatus
from cctvctl.render import Depth, Mode
from cctvctl.termsafe import escape_controls
from cctvctl.tui.format import BADGES, age_seconds, age_text
from cctvctl.tui.widgets.line import Line
from cctvctl.tui.widgets.thumb import Thumb
from cctvctl.units import kbps_text
from cctvctl.views import flap_text

__all__ = ["Tile", "has_picture", "placeholder", "status_line"]


def has_picture(camera: Camera) -> bool:
    """Whether the server can have a current frame: no use asking an offline camera."""
    return camera.status in (CameraStatus.ONLINE, CameraStatus.DEGRADED)


def placeholder(camera: Camera) -> str:
    if camera.status is CameraStatus.DISABLED:
        return "disabled in the inventory"
    if camera.status is CameraStatus.OFFLINE:
        since = f" {age_text(camera.status_since)}" if camera.status_since else ""
        if camera.cause is not None:
            # A tile is ~38 cells at 80x24: the cause must fit, "no picture" goes without saying.
            return f"offline{since} · {camera.cause.label}"
        return f"no picture · offline{since}"
    return "waiting for a picture"


def status_line(camera: Camera) -> Text:
    label, style = BADGES[camera.status]
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{label:^5}", style)
    flap = flap_text(camera)
    if flap:
        # Reverse video, not only colour: it must stand out under NO_COLOR too.
        text.append(" ")
        text.append(flap, "bold reverse")
    # Steady numbers on purpose: a tile whose text twitches every poll ("seen 0s", "seen
    # 1s", 452k, 455k) re-sends its line every poll for nothing the NOC can act on.
    text.append(f" {kbps_text(round_kbps(camera.kbps), compact=True)}")
    if camera.last_packet is not None and age_seconds(camera.last_packet) < LIVE_SECONDS:
        text.append(" live")
    else:
        text.append(f" seen {age_text(camera.last_packet)}")
    return text


LIVE_SECONDS = 5.0


def round_kbps(kbps: float) -> float:
    """Two significant figures: 452 -> 450, 1355 -> 1400."""
    if kbps < 10:
        return round(kbps)
    digits = len(str(int(kbps))) - 2
    return float(round(kbps, -digits))


class Tile(Vertical, can_focus=True):
    DEFAULT_CSS = """
    Tile { height: 1fr; width: 1fr; padding: 0 1 0 0; }
    Tile > .tile-name { height: 1; text-style: bold; }
    Tile > .tile-status { height: 1; }
    Tile:focus > .tile-name { background: $accent; color: $text; }
    """

    def __init__(self, camera: Camera, mode: Mode, depth: Depth) -> None:
        super().__init__()
        self.camera = camera
        self._mode = mode
        self._depth = depth

    def compose(self) -> ComposeResult:
        name = Line(classes="tile-name")
        name.show(self._name_text())
        yield name
        thumb = Thumb(mode=self._mode, depth=self._depth)
        thumb.placeholder = placeholder(self.camera)
        yield thumb
        status = Line(classes="tile-status")
        status.show(status_line(self.camera))
        yield status

    def _name_text(self) -> Text:
        name = escape_controls(f"{self.camera.id} {self.camera.name}")
        return Text(name, no_wrap=True, overflow="ellipsis")

    @property
    def thumb(self) -> Thumb:
        return self.query_one(Thumb)

    def update_camera(self, camera: Camera) -> None:
        self.camera = camera
        if not self.children:
            return  # not composed yet; compose() will use the new camera
        self.query_one(".tile-name", Line).show(self._name_text())
        self.query_one(".tile-status", Line).show(status_line(camera))
        thumb = self.thumb
        if not has_picture(camera) and thumb.grid is not None:
            # A frozen last frame would look like a working camera.
            thumb.clear()
        thumb.set_placeholder(placeholder(camera))
