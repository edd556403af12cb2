"""One camera: a large picture beside every number the server has on it, 24 h of footage
as a timeline bar, the camera's recent events, and its actions (export, reboot, snapshot).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import ClassVar, Final, cast

from rich.table import Table
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Footer, Input, Static

from cctvctl.client import JOB_PROGRESS, UNKNOWN, AsyncCctvClient, CctvError, NotFound
from cctvctl.models import Camera, CameraStatus, Event, ExportJob, RebootJob
from cctvctl.termsafe import for_terminal
from cctvctl.timeparse import TimeParseError, format_time, localize, parse_time
from cctvctl.tui import clock
from cctvctl.tui.budget import ByteBudget
from cctvctl.tui.clock import WITA
from cctvctl.tui.commands import Scope, bindings_for
from cctvctl.tui.data import Connection, Poller
from cctvctl.tui.format import BADGES, age_text, flagged, plain, plain_cells, rtt_text
from cctvctl.tui.screens.base import CctvScreen
from cctvctl.tui.screens.export_form import ExportForm
from cctvctl.tui.screens.form_modal import FormModal
from cctvctl.tui.screens.reboot_modal import RebootModal
from cctvctl.tui.scrub import Moment, Shown, moment_text, source_of, step
from cctvctl.tui.widgets.header import NodeHeader
from cctvctl.tui.widgets.line import Line
from cctvctl.tui.widgets.thumb import Thumb
from cctvctl.tui.widgets.tile import has_picture, placeholder
from cctvctl.tui.widgets.timeline import Timeline, window
from cctvctl.units import bytes_text, kbps_text
from cctvctl.views import flap_text, media_rows

__all__ = [
    "CameraScreen",
    "GoToModal",
    "SnapshotModal",
    "device_rows",
    "event_line",
    "events_text",
    "snapshot_path",
    "stats_table",
]

THUMB_INTERVAL: Final = 1.0
# How often a camera screen whose node no longer lists its camera, or no longer answers,
# asks the fleet again where it is.
FOLLOW_SECONDS: Final = 2.0
# The bar's cells are 18 minutes wide at 80 columns: a minute is often enough, and a status
# change of this camera (a gap opening or closing) asks at once.
TIMELINE_INTERVAL: Final = 60.0
RECENT_EVENTS: Final = 8
# Keys held down or pressed in a burst: only the last one's picture is asked for.
SCRUB_SETTLE: Final = 0.1
# An answer slower than this (an archived segment fetched back) says "fetching…" meanwhile;
# a quick one changes the line once, with no flash of it.
FETCHING_AFTER: Final = 0.3
# Reboot states after which nothing more happens to that camera's job.
_REBOOT_FINAL: Final = {"back_online", "did_not_return", "failed", "skipped", "interrupted"}


def device_rows(camera: Camera) -> list[tuple[str, Text | str]]:
    """What the camera says over ONVIF: its clock (in place of a bare "onvif yes") and
    its identity, once read; a clock over the server's tolerance is flagged."""
    reading = camera.clock
    if not camera.has_onvif or reading is None:
        return [("onvif", "yes" if camera.has_onvif else "no")]
    if reading.offset_seconds is None:
        clock_cell: Text | str = flagged("not read") if reading.error else "not read"
    else:
        text = f"{reading.offset_seconds:+.0f} s {reading.mode or ''}".rstrip()
        # The marker and its style say "off": the cell is about 16 columns at 80x24.
        clock_cell = flagged(text) if reading.off else text
    rows: list[tuple[str, Text | str]] = [("clock", clock_cell)]
    device = camera.device
    if device is not None and device.model is not None:
        parts = (device.manufacturer, device.model, device.firmware)
        rows.append(("device", " ".join(p for p in parts if p)))
        if device.serial:
            rows.append(("serial", device.serial))
    return rows


def stats_table(camera: Camera) -> Table:
    camera = for_terminal(camera)  # names, sites, last_error: text from the inventory and camera
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold", no_wrap=True, min_width=11)
    table.add_column(no_wrap=True, overflow="ellipsis")
    label, style = BADGES[camera.status]
    status = Text(f" {label} ", style)
    if camera.flapping:
        # Before the age: the stats column is ~30 cells at 80x24 and this must not be cut.
        status.append(" ")
        status.append(flap_text(camera), "bold reverse")
    if camera.status_since:
        status.append(f" for {age_text(camera.status_since)}")
    fps = f"{camera.fps:.1f}" + (f"/{camera.expected_fps:.0f}" if camera.expected_fps else "")
    seen = "never" if camera.last_packet is None else f"{age_text(camera.last_packet)} ago"
    # The camera's id is the screen's title; 13 rows fit beside the picture at 80x24.
    rows: list[tuple[str, Text | str]] = [
        ("name", camera.name),
        ("kecamatan", camera.kecamatan),
        ("site", f"{camera.site} ({camera.site_kind})"),
        ("status", status),
    ]
    if camera.cause is not None and camera.status is not CameraStatus.ONLINE:
        rows.append(("cause", Text(camera.cause.label, "bold")))
    # Missing footage is the timeline's caption, next to the bar it sums up: one figure.
    rows += [
        ("last seen", seen),
        ("stream", f"{fps}fps {kbps_text(camera.kbps, compact=True)}bps"),
        ("recording", "yes" if camera.recording else flagged("NO")),
        ("up/down", f"{camera.changes_10m} in 10m"),
        ("reconnects", f"{camera.reconnects_1h} in 1h"),
        ("rtt", rtt_text(camera.rtt_ms)),
        *device_rows(camera),
        # Codec, transport, auth, and the sound: what it is and what is done with it.
        *media_rows(camera, compact=True),
    ]
    if camera.last_error:
        # libav's own words, for whoever digs further than the cause above.
        rows.append(("last error", Text(camera.last_error, "red")))
    for key, value in rows:
        table.add_row(*plain_cells((key, value)))
    return table


def _event_detail(event: Event) -> tuple[str, str]:
    """What happened, and a style for it."""
    data = event.data
    if event.type == "camera.status":
        status = str(data.get("status", "?"))
        previous = data.get("previous")
        reason = data.get("reason")
        text = status + (f" (was {previous})" if previous else "")
        text += f": {reason}" if reason else ""
        style = {"online": "green", "degraded": "yellow", "offline": "red"}.get(status, "")
        return text, style
    if event.type == JOB_PROGRESS:
        kind = data.get("kind", "job")
        state = str(data.get("state", "?"))
        text = f"{kind} {data.get('job', '')} {state}"
        percent = data.get("percent")
        if kind == "export" and isinstance(percent, int | float) and state == "running":
            text += f" {percent:.0f}%"
        if data.get("error"):
            text += f": {data['error']}"
        if data.get("detail"):
            text += f" ({localize(str(data['detail']))})"
        bad = state in ("failed", "did_not_return", "interrupted", "skipped")
        return text, "red" if bad else ""
    shown = ", ".join(f"{k}={v}" for k, v in data.items() if not isinstance(v, dict | list))
    return shown, ""


def event_line(event: Event) -> Text:
    """``14:03:27 camera.status offline (was online): no packets for 3 s`` (WITA)."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(event.time.astimezone(WITA).strftime("%H:%M:%S"), "dim")
    text.append(f" {event.type} ", "bold")
    detail, style = _event_detail(event)
    text.append(detail, style)
    return text


def camera_events(events: Iterable[Event], camera_id: str, limit: int) -> list[Event]:
    """The newest ``limit`` events about one camera, newest first."""
    mine = [e for e in events if e.camera == camera_id]
    return mine[::-1][:limit]


def events_text(events: Iterable[Event], camera_id: str, limit: int = RECENT_EVENTS) -> Text:
    rows = for_terminal(camera_events(events, camera_id, limit))
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append("recent events (WITA)", "bold underline")
    if not rows:
        text.append("\nnone since the console started", "dim")
    for event in rows:
        text.append("\n")
        text.append_text(event_line(event))
    return text


def snapshot_path(camera_id: str, now: datetime | None = None) -> str:
    """``./<camera>-<YYYYmmdd-HHMMSS>.jpg`` in WITA, in the current directory."""
    at = (now or clock.now()).astimezone(WITA)
    return f"./{camera_id}-{at:%Y%m%d-%H%M%S}.jpg"


class SnapshotModal(FormModal[tuple[Path, int] | None]):
    """Where to save the camera's current picture as JPEG; Enter saves, Esc cancels."""

    SUBMIT_LABEL = "Save"
    DEFAULT_CSS = """
    SnapshotModal #title { text-style: bold; }
    SnapshotModal #path { border: none; height: 1; padding: 0 1; margin: 1 0; }
    SnapshotModal Button { min-width: 10; }
    """

    def __init__(
        self,
        client: AsyncCctvClient,
        camera_id: str,
        path: str | None = None,
        at: datetime | None = None,
    ) -> None:
        super().__init__()
        self.client = client
        self.camera_id = camera_id
        self.at = at  # a moment of the past the camera screen shows; None: live
        self._path = path or snapshot_path(camera_id, at)

    def compose(self) -> ComposeResult:
        if self.at is None:
            title = f"Save {self.camera_id}'s current picture as JPEG"
        else:
            title = f"Save {self.camera_id}'s picture of {format_time(self.at)} as JPEG"
        with Vertical():
            yield Static(plain(title), id="title")
            yield Input(self._path, id="path")
            yield from self.error_and_buttons()

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()

    def submit(self) -> None:
        if self.busy:
            return
        raw = self.query_one("#path", Input).value.strip()
        if not raw:
            self.show_error("path: required, e.g. ./snap.jpg")
            return
        path = Path(raw).expanduser()
        problem = _unwritable(path)
        if problem is not None:
            self.show_error(f"{raw}: {problem}")
            return
        self.busy = True
        self.show_error("")
        self.run_worker(self._save(path), group="snapshot", exit_on_error=False)

    async def _save(self, path: Path) -> None:
        try:
            # No size: the camera's own resolution (the server keeps the aspect ratio).
            shot = await self.client.thumbnail(
                self.camera_id, cast(int, None), cast(int, None), fmt="jpeg", at=self.at
            )
            await asyncio.to_thread(_write_new, path, shot.data)
        except CctvError as exc:
            self.show_error(str(exc))
        except OSError as exc:
            self.show_error(f"{path}: cannot write: {exc.strerror or exc}")
        else:
            self.dismiss((path, len(shot.data)))
        finally:
            self.busy = False


def _unwritable(path: Path) -> str | None:
    """Why ``path`` cannot take a new file, or None; checked before asking the server."""
    if path.is_dir():
        return "is a directory; give a file name, e.g. ./snap.jpg"
    if path.exists():
        return "exists already; choose another name (evidence is never overwritten)"
    if not path.parent.is_dir():
        return f"no directory {str(path.parent)!r}"
    return None


def _write_new(path: Path, data: bytes) -> None:
    with path.open("xb") as f:  # never overwrite: "x" fails if it appeared meanwhile
        f.write(data)


class GoToModal(FormModal[datetime | None]):
    """A moment to look at, typed as the CLI takes times (WITA, relative, RFC 3339)."""

    SUBMIT_LABEL = "Show"
    DEFAULT_CSS = """
    GoToModal #title { text-style: bold; }
    GoToModal #hint { color: $text-muted; }
    GoToModal #when { border: none; height: 1; padding: 0 1; margin: 1 0; }
    GoToModal Button { min-width: 10; }
    """

    def __init__(self, camera_id: str, value: str = "") -> None:
        super().__init__()
        self.camera_id = camera_id
        self._value = value

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(plain(f"Show {self.camera_id}'s picture at (WITA)"), id="title")
            yield Static("14:00 · yesterday 14:00 · -2h · 2026-11-28 14:00 · RFC 3339", id="hint")
            yield Input(self._value, id="when")
            yield from self.error_and_buttons()

    def on_mount(self) -> None:
        self.query_one("#when", Input).focus()

    def submit(self) -> None:
        raw = self.query_one("#when", Input).value
        now = clock.now()
        try:
            when = parse_time(raw, now=now)
        except TimeParseError as exc:
            self.show_error(str(exc))
            return
        if when > now:
            self.show_error(f"{raw.strip()!r} is in the future; nothing is recorded there yet")
            return
        self.dismiss(when)


class CameraScreen(CctvScreen):
    SCOPE = Scope.CAMERA
    BINDINGS: ClassVar[list[BindingType]] = list(bindings_for(Scope.CAMERA))
    DEFAULT_CSS = """
    CameraScreen #top { height: 1fr; min-height: 6; }
    CameraScreen Thumb { width: 2fr; }
    CameraScreen #stats { width: 1fr; min-width: 30; padding: 0 1; }
    CameraScreen #bottom { height: auto; }
    CameraScreen #moment { height: 1; display: none; text-wrap: nowrap; }
    CameraScreen.-past #moment { display: block; }
    CameraScreen Timeline { padding: 0 1; }
    CameraScreen.-stale #stats { text-style: dim; }
    CameraScreen #events { height: 6; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, camera_id: str) -> None:
        super().__init__()
        self.camera_id = camera_id
        self.TITLE_TEXT = camera_id
        self._thumbs: Poller | None = None
        self._timeline: Poller | None = None
        self._reboots: set[str] = set()  # job ids whose final outcome we still owe a toast
        self._seen_event = -1  # newest event id looked at for those outcomes
        self._seen_status: int | None = None  # newest camera.status event of this camera seen
        self._stats_shown: tuple[tuple[str, ...], ...] | None = None
        self.budget = ByteBudget(None)
        self._followed_at = -FOLLOW_SECONDS  # monotonic time the fleet was last asked
        self._lost: str | None = None  # why the fleet cannot say where the camera is
        self._follower: Timer | None = None
        # The moment of the past the picture shows; None: live.
        self.moment: Moment | None = None
        self._fetching: Timer | None = None

    def compose(self) -> ComposeResult:
        yield NodeHeader()
        yield Line(id="moment")  # shown only while the picture is of the past
        with Horizontal(id="top"):
            yield Thumb(mode=self.cctv.mode, depth=self.cctv.depth)
            yield Static(id="stats")
        with Vertical(id="bottom"):
            yield Timeline(mode=self.cctv.mode)
            yield Line(id="events")
        yield Footer()

    def on_mount(self) -> None:
        # The grid's budget: one big picture costs as much as a page of small ones.
        self.budget = ByteBudget(self.cctv.picture_budget())
        self.refresh_data()
        self._thumbs = Poller(self, self._fetch_thumb, THUMB_INTERVAL, name="thumb")
        self._thumbs.start()
        self._timeline = Poller(
            self,
            self._fetch_timeline,
            TIMELINE_INTERVAL,
            on_error=self._timeline_failed,
            name="timeline",
        )
        self._timeline.start()
        if self.cctv.fleet_mode:
            self._follower = self.set_interval(FOLLOW_SECONDS, self._follow_tick, name="follow")

    def on_unmount(self) -> None:
        for poller in (self._thumbs, self._timeline):
            if poller is not None:
                poller.stop()

    def on_screen_suspend(self) -> None:
        # Hidden under another screen (exports after an export): Textual would repaint the
        # screen on top wherever this one's picture changed.
        for poller in (self._thumbs, self._timeline):
            if poller is not None:
                poller.stop()
        if self._follower is not None:
            self._follower.pause()  # never switch nodes under another screen

    def on_screen_resume(self) -> None:
        for poller in (self._thumbs, self._timeline):
            if poller is not None and not (poller is self._thumbs and self.moment is not None):
                poller.start()
        if self._follower is not None:
            self._follower.resume()

    def on_resize(self, event: events.Resize) -> None:
        if not self.query("#events"):
            return
        # A third of the rows below the picture go to events: 5 at 80x24, 8 at 160x48.
        lines = max(3, min(RECENT_EVENTS, (event.size.height - 5) // 3 - 1))
        self.query_one("#events", Static).styles.height = lines + 1

    def on_thumb_resized(self, message: Thumb.Resized) -> None:
        moment = self.moment
        if moment is not None and moment.shown in (Shown.LOCAL, Shown.ARCHIVE):
            # The picture is cleared at a new size and no live poll redraws it: ask again.
            self.run_worker(
                self._fetch_past(moment.target), group="past", exclusive=True, exit_on_error=False
            )

    def camera(self) -> Camera | None:
        return next((c for c in self.node.cameras if c.id == self.camera_id), None)

    def refresh_data(self) -> None:
        super().refresh_data()
        if not self.is_mounted or not self.query("#stats"):
            return  # not composed yet: on_mount's first ticks will fill it in
        # Figures too old to trust are dimmed (the header says how old, and why).
        self.set_class(self.node.is_stale(), "-stale")
        camera = self.camera()
        fleet = self.cctv.fleet_mode
        gone = self._node_gone()
        if self._needs_following():
            self._follow()
        if camera is not None and not gone:
            self._lost = None
            self._show_stats(stats_table(camera))
        elif self._lost is not None:
            self._show_stats(plain(self._lost))  # unknown (node unreachable), and which node
            thumb = self.query_one(Thumb)
            if thumb.grid is not None:
                thumb.clear()  # a frozen last frame would look like a working camera
            thumb.set_placeholder(UNKNOWN)
        elif camera is not None:
            self._show_stats(stats_table(camera))  # dimmed: the header says how old
        elif fleet:
            self._show_stats(plain(f"{self.camera_id}: finding its node"))
        else:
            self._show_stats(plain(f"{self.camera_id}: not on this server"))
        self.query_one("#events", Line).show(events_text(self.node.events, self.camera_id))
        self._show_moment()  # its "ago" moves on; re-sent only when the text changed
        self._reboot_outcomes()
        self._timeline_on_status()

    def _node_gone(self) -> bool:
        # In a fleet a node that stops answering may have lost the camera to a failover.
        return self.cctv.fleet_mode and (
            self.node.is_stale() or self.node.connection is not Connection.ONLINE
        )

    def _needs_following(self) -> bool:
        return self.cctv.fleet_mode and (self.camera() is None or self._node_gone())

    def _follow_tick(self) -> None:
        # The app redraws on each poll, and a dead node's polls back off to 30 s apart.
        if self._needs_following():
            self._follow()

    def _follow(self) -> None:
        """The current node does not list the camera or does not answer (a failover or
        a handback moved it, or its node died): ask the fleet where it is now, at most
        once per FOLLOW_SECONDS."""
        if self.node.updated is None and self.node.error is None:
            return  # the node just made current has not answered yet
        now = time.monotonic()
        if now - self._followed_at < FOLLOW_SECONDS:
            return
        self._followed_at = now
        self.run_worker(self._refollow(), group="follow", exit_on_error=False)

    async def _refollow(self) -> None:
        try:
            await self.cctv.follow_camera(self.camera_id)
        except CctvError as exc:
            self._lost = str(exc)
        else:
            self._lost = None
        self.refresh_data()

    async def _routed(self, action: str) -> AsyncCctvClient | None:
        """The client of the node recording the camera now, asked of the fleet for
        each action (a camera moves with a failover); None, said in a toast, if none."""
        try:
            return await self.cctv.follow_camera(self.camera_id)
        except CctvError as exc:
            self.notify(str(exc), title=action, severity="error")
            return None

    def _show_stats(self, shown: Table | Text) -> None:
        """Re-sends the figures only when a cell's text changed: each stats tick would
        otherwise repaint the whole column."""
        if isinstance(shown, Table):
            key = tuple(tuple(str(cell) for cell in column.cells) for column in shown.columns)
        else:
            key = ((shown.plain,),)
        if key == self._stats_shown:
            return
        self._stats_shown = key
        self.query_one("#stats", Static).update(shown)

    def _timeline_on_status(self) -> None:
        """A status change of this camera opens or closes a gap: fetch the bar now."""
        newest = next(
            (
                e.id
                for e in reversed(self.node.events)
                if e.camera == self.camera_id and e.type == "camera.status"
            ),
            -1,
        )
        # The first look only notes where the events stand: the bar's first poll is running.
        changed = self._seen_status is not None and newest != self._seen_status
        self._seen_status = newest
        if changed and self._timeline is not None:
            self._timeline.poke()

    async def _fetch_thumb(self) -> None:
        if self.moment is not None:
            return  # a picture of the past is on screen; live resumes with `l`
        thumb = self.query_one(Thumb)
        width = thumb.size.width
        camera = self.camera()
        if camera is not None:
            # Before the first frame arrives the placeholder must follow the status, or
            # "no picture · offline 2m" stays next to a camera already back "OK for 0s".
            thumb.set_placeholder(placeholder(camera))
        if camera is not None and not has_picture(camera):
            # The server still holds the last frame; showing it would look like a live camera.
            if thumb.grid is not None:
                thumb.clear()
            return
        if width < 1 or self._lost is not None:
            return
        shot = await self.cctv.client.thumbnail(self.camera_id, width, max(9, width * 9 // 16))
        if self.moment is not None:
            return  # a step into the past came while this live picture was on its way
        frame = thumb.prepare(shot)
        if frame is not None and self.budget.allow(frame.cost, first=thumb.grid is None):
            thumb.apply(frame)

    async def _fetch_timeline(self) -> None:
        start, end = window()
        rec = await self.cctv.client.recordings(self.camera_id, start, end)
        self.query_one(Timeline).show(rec)

    def _timeline_failed(self, exc: Exception) -> None:
        self.query_one(Timeline).show_error(str(exc))

    # ---------------------------------------------------------------- the past

    def action_scrub(self, seconds: int) -> None:
        current = None if self.moment is None else self.moment.target
        self._go(step(current, timedelta(seconds=seconds), clock.now()))

    def action_live(self) -> None:
        self._go(None)

    def action_go_to(self) -> None:
        shown = "" if self.moment is None else format_time(self.moment.target).removesuffix(" WITA")
        self.app.push_screen(GoToModal(self.camera_id, shown), self._went)

    def _went(self, when: datetime | None) -> None:
        if when is not None:
            self._go(when)

    def _go(self, target: datetime | None) -> None:
        """Show the picture at ``target`` (None: live again). The request runs in a
        worker of its own group, so the next key press cancels one still on its way."""
        if not self.query(Thumb):
            return
        timeline = self.query_one(Timeline)
        if target is None:
            if self.moment is None:
                return
            self.moment = None
            self.workers.cancel_group(self, "past")
            self.remove_class("-past")
            timeline.show_moment(None)
            if self._thumbs is not None:
                self._thumbs.start()
            return
        if self.moment is None:
            if self._thumbs is not None:
                self._thumbs.stop()
            self.add_class("-past")
        self.moment = Moment(target)
        timeline.show_moment(target)
        self._show_moment()
        self.run_worker(self._fetch_past(target), group="past", exclusive=True, exit_on_error=False)

    def _show_moment(self) -> None:
        if self.moment is not None:
            self.query_one("#moment", Line).show(moment_text(self.moment, clock.now()))

    def _settle(self, moment: Moment) -> None:
        """Show what came of ``moment``'s request unless a newer key press replaced it."""
        if self.moment is None or self.moment.target != moment.target:
            return
        self.moment = moment
        self._show_moment()

    def _slow(self, target: datetime) -> None:
        moment = self.moment
        if moment is not None and moment.target == target and moment.shown is Shown.FETCHING:
            self._settle(Moment(target, slow=True))

    async def _fetch_past(self, target: datetime) -> None:
        # Keys held down or typed in a burst: each cancels this sleep, the last one asks.
        await asyncio.sleep(SCRUB_SETTLE)
        thumb = self.query_one(Thumb)
        width = max(16, thumb.size.width)
        timer = self.set_timer(FETCHING_AFTER, partial(self._slow, target))
        try:
            shot = await self.cctv.client.thumbnail(
                self.camera_id, width, max(9, width * 9 // 16), at=target
            )
        except NotFound as exc:
            # A 404 for a gap says so; another (an archive this node cannot read) is a
            # failure to show, not a gap.
            gap = "no recorded footage" in exc.raw_detail
            failed = Moment(target, Shown.GAP if gap else Shown.FAILED, error=exc.detail)
        except CctvError as exc:
            failed = Moment(target, Shown.FAILED, error=str(exc).removeprefix(f"{exc.server}: "))
        else:
            if self.moment is None or self.moment.target != target:
                return
            frame = thumb.prepare(shot)
            if frame is not None:
                thumb.apply(frame)  # only the cells that changed since the last picture
            self._settle(Moment(target, source_of(shot.source), shot.frame_time))
            return
        finally:
            timer.stop()
        if self.moment is None or self.moment.target != target:
            return
        # A picture of another moment must not stand under "no footage".
        if thumb.grid is not None:
            thumb.clear()
        gap = failed.shown is Shown.GAP
        when = target.astimezone(WITA).strftime("%H:%M")
        thumb.set_placeholder(f"no footage at {when}" if gap else "no picture")
        self._settle(failed)

    # ---------------------------------------------------------------- actions

    def action_export(self) -> None:
        if not self.allowed("export"):
            return
        self.run_worker(self._export(), group="action", exit_on_error=False)

    async def _export(self) -> None:
        client = await self._routed("export")
        if client is None:
            return
        camera = self.camera()
        form = ExportForm(
            client,
            self.camera_id,
            camera.name if camera else "",
            footage=self.query_one(Timeline).recordings,
            around=None if self.moment is None else self.moment.target,
        )
        self.app.push_screen(form, self._exported)

    def _exported(self, job: ExportJob | None) -> None:
        if job is None:
            return
        self.notify(f"export {job.id} queued: {job.camera}, case {job.case_id}", title="export")
        self.cctv.action_exports()

    def action_reboot(self) -> None:
        if not self.allowed("reboot"):
            return
        self.run_worker(self._reboot(), group="action", exit_on_error=False)

    async def _reboot(self) -> None:
        client = await self._routed("reboot")
        if client is None:
            return
        camera = self.camera()
        if camera is None and self.cctv.fleet_mode:
            try:  # a node just made current may not have sent its list yet
                camera = await client.camera(self.camera_id)
            except CctvError as exc:
                self.notify(str(exc), title="reboot", severity="error")
                return
        if camera is None:
            self.notify(f"{self.camera_id}: not on this server", title="reboot", severity="error")
            return
        self.app.push_screen(RebootModal(client, camera), self._rebooted)

    def _rebooted(self, job: RebootJob | None) -> None:
        if job is None:
            return
        states = ", ".join(f"{r.camera} {r.state.value}" for r in job.results)
        self.notify(f"reboot {job.id}: {states}", title="reboot")
        if not job.done:
            self._reboots.add(job.id)

    def _reboot_outcomes(self) -> None:
        """Toast how our reboots ended, from the job.progress events the app follows."""
        for event in self.node.events:
            if event.id <= self._seen_event:
                continue
            self._seen_event = event.id
            data = event.data
            job = str(data.get("job", ""))
            if event.type != JOB_PROGRESS or data.get("kind") != "reboot":
                continue
            state = str(data.get("state", ""))
            if job in self._reboots and state in _REBOOT_FINAL:
                self._reboots.discard(job)
                ok = state == "back_online"
                detail = f": {localize(str(data['detail']))}" if data.get("detail") else ""
                self.notify(
                    f"reboot {job}: {event.camera} {state}{detail}",
                    title="reboot",
                    severity="information" if ok else "error",
                    timeout=10,
                )

    def action_snapshot(self) -> None:
        if not self.allowed("snapshot"):
            return
        self.run_worker(self._snapshot(), group="action", exit_on_error=False)

    async def _snapshot(self) -> None:
        client = await self._routed("snapshot")
        if client is not None:
            at = None if self.moment is None else self.moment.target
            self.app.push_screen(SnapshotModal(client, self.camera_id, at=at), self._saved)

    def _saved(self, saved: tuple[Path, int] | None) -> None:
        if saved is None:
            return
        path, size = saved
        self.notify(f"saved {path} ({bytes_text(size, compact=True)})", title="snapshot")
