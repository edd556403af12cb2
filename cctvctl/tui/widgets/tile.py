"""One camera in the grid: name, live picture, badge with kbps and last-seen age."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical

from cctvctl.client import UNKNOWN
from cctvctl.models import Camera, CameraStatus
from cctvctl.render import Depth, Mode
from cctvctl.termsafe import escape_controls
from cctvctl.tui.fleet_view import GridCamera
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
UNKNOWN_BADGE = "?"


def round_kbps(kbps: float) -> float:
    """Two significant figures: 452 -> 450, 1355 -> 1400."""
    if kbps < 10:
        return round(kbps)
    digits = len(str(int(kbps))) - 2
    return float(round(kbps, -digits))


class Tile(Vertical, can_focus=True):
    """A camera's tile; one whose node cannot be reached (``entry.camera`` None) says
    "unknown" with the node's name, and never shows a picture or an offline badge."""

    DEFAULT_CSS = """
    Tile { height: 1fr; width: 1fr; padding: 0 1 0 0; }
    Tile > .tile-name { height: 1; text-style: bold; }
    Tile > .tile-status { height: 1; }
    Tile:focus > .tile-name { background: $accent; color: $text; }
    """

    def __init__(self, entry: GridCamera, mode: Mode, depth: Depth) -> None:
        super().__init__()
        self.entry = entry
        self._mode = mode
        self._depth = depth

    @property
    def camera_id(self) -> str:
        return self.entry.id

    @property
    def camera(self) -> Camera | None:
        return self.entry.camera

    def shows_picture(self) -> bool:
        return self.entry.camera is not None and has_picture(self.entry.camera)

    def compose(self) -> ComposeResult:
        name = Line(classes="tile-name")
        name.show(self._name_text())
        yield name
        thumb = Thumb(mode=self._mode, depth=self._depth)
        thumb.placeholder = self._placeholder()
        yield thumb
        status = Line(classes="tile-status")
        status.show(self._status())
        yield status

    def _name_text(self) -> Text:
        name = self.entry.camera.name if self.entry.camera is not None else self.entry.name
        shown = escape_controls(f"{self.entry.id} {name}".rstrip())
        return Text(shown, no_wrap=True, overflow="ellipsis")

    def _placeholder(self) -> str:
        if self.entry.camera is not None:
            return placeholder(self.entry.camera)
        where = f" · {self.entry.node}" if self.entry.node else ""
        return escape_controls(f"{self.entry.unknown or UNKNOWN}{where}")

    def _status(self) -> Text:
        if self.entry.camera is not None:
            return status_line(self.entry.camera)
        # Reverse video, not a colour: it must read as "not known" under NO_COLOR too,
        # and never like the red of an offline camera.
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{UNKNOWN_BADGE:^5}", "bold reverse")
        text.append(f" {self.entry.unknown or UNKNOWN}")
        return text

    @property
    def thumb(self) -> Thumb:
        return self.query_one(Thumb)

    def update_camera(self, entry: GridCamera) -> None:
        self.entry = entry
        if not self.children:
            return  # not composed yet; compose() will use the new camera
        self.query_one(".tile-name", Line).show(self._name_text())
        self.query_one(".tile-status", Line).show(self._status())
        thumb = self.thumb
        if not self.shows_picture() and thumb.grid is not None:
            # A frozen last frame would look like a working camera.
            thumb.clear()
        thumb.set_placeholder(self._placeholder())
