"""Export jobs with progress bars; a finished one is downloaded to a path.

Jobs are followed over the server's ``job.progress`` events, which move the bars and say
when a job ends (then the list is asked again, for the size and SHA-256); the list itself
is polled every five seconds, or every second while a job runs and the event stream is
down. A download runs in a thread with its own
blocking client, through :func:`cctvctl.client.save_export` as the CLI's does: into
``FILE.part``, resumed after a dropped connection, checked against the manifest's size and
SHA-256, then renamed to ``FILE`` with the manifest beside it as ``FILE.manifest.json``.
An export whose window spans a change of picture size has one clip per size: the Size
column says how many, the prompt names each, and the download saves them all
(``FILE``, then ``NAME_2_WxH.mp4``, ... beside it; :func:`cctvctl.client.clip_outputs`).
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import ClassVar, Final

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Static

from cctvctl.client import (
    JOB_PROGRESS,
    CctvClient,
    CctvError,
    DownloadFailed,
    Forbidden,
    SavedClip,
    clip_outputs,
    fold_export_event,
    manifest_path,
    save_export,
)
from cctvctl.models import ExportJob, ExportState
from cctvctl.render import Mode
from cctvctl.termsafe import escape_controls
from cctvctl.tui import clock
from cctvctl.tui.commands import Role, Scope, bindings_for
from cctvctl.tui.data import Poller, ServerTarget, describe_error
from cctvctl.tui.format import BAD, WARN, age_text, flagged, plain, plain_cells
from cctvctl.tui.screens.filtered import ColumnSpec, FilteredTableScreen, Priority
from cctvctl.tui.widgets.filter_box import FilterBox
from cctvctl.tui.widgets.header import NodeHeader
from cctvctl.tui.widgets.nav_table import NavTable
from cctvctl.tui.widgets.progress import bar_text
from cctvctl.units import bytes_text
from cctvctl.views import export_cells, waiting_text

__all__ = [
    "ExportsScreen",
    "PathPrompt",
    "default_path",
    "fetch_clip",
]

FAST: Final = 1.0  # seconds between polls while a job runs and the event stream is down
SLOW: Final = 5.0
LIST_LIMIT: Final = 200
VIEWER_TEXT: Final = "exports need the operator role; this token is a viewer"
PROGRESS_EVERY: Final = 0.25  # seconds between progress repaints of a download

# Which job, and how it is going, at any width; a case id is shown whole or not at all.
COLUMNS: Final = (
    ColumnSpec("Job", Priority.IDENTITY),
    ColumnSpec("Camera", Priority.IDENTITY),
    ColumnSpec("Case"),
    ColumnSpec("Window (WITA)"),
    ColumnSpec("State", Priority.STATUS),
    ColumnSpec("Progress", Priority.STATUS),
    ColumnSpec("Size", Priority.EXTRA),
)
# Shown where the server has an evidence vault (a job there carries its copy): whether
# the clip is stored and until when, held, or still pending, beside its state.
VAULT_COLUMN: Final = ColumnSpec("Vault", Priority.STATUS)
VAULT_STYLE: Final = {"pending": WARN, "held": "bold magenta", "none": "dim", "-": "dim"}

STATE_STYLE: Final = {
    ExportState.QUEUED: "",
    ExportState.RUNNING: "cyan",
    ExportState.DONE: "green",
    ExportState.FAILED: BAD,
    ExportState.CANCELLED: "dim",
    ExportState.EXPIRED: "dim",
    ExportState.DELETED: "dim",
}


def default_path(job: ExportJob) -> str:
    """``./LP_123_XI_2026.mp4`` from the case id (the job id without one)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", job.case_id or "").strip("._") or job.id
    return f"./{stem}.mp4"


def state_text(job: ExportJob) -> str:
    if job.state is ExportState.RUNNING:
        return f"running {job.percent:.0f}%"
    return job.state.value


# --------------------------------------------------------------------------- download


def fetch_clip(
    target: ServerTarget,
    job_id: str,
    output: Path,
    progress: Callable[[int, int], None] | None = None,
    *,
    cancelled: threading.Event | None = None,
) -> list[SavedClip]:
    """Blocking: :func:`cctvctl.client.save_export` of ``job_id``'s clips from ``output``
    on with a client of its own, resuming ``.part`` files left by an earlier try."""
    # Plain http needs no CA bundle, and loading one costs time (as in the CLI).
    verify = not target.url.startswith("http://")
    with CctvClient(target.url, target.token, name=target.name, verify=verify) as client:
        manifest = client.export_manifest(job_id)
        for path in clip_outputs(manifest.clips, output)[1:]:
            if path.exists():  # the prompt checked the first; the job listed the rest
                raise DownloadFailed(f"{path} exists; choose another name")
        return save_export(
            client, job_id, manifest, output, resume=True, progress=progress, cancelled=cancelled
        )


def path_problem(text: str, job: ExportJob | None = None) -> str | None:
    """Why ``text`` cannot be the clip's path (or, for ``job``'s clips of other picture
    sizes, a path beside it), or None."""
    if not text.strip():
        return "give a file name, e.g. ./clip.mp4"
    path = Path(text).expanduser()
    if path.is_dir():
        return f"{path} is a folder; give a file name such as clip.mp4"
    if not path.parent.is_dir():
        return f"the folder {path.parent} does not exist"
    others = clip_outputs(job.clips, path)[1:] if job is not None else []
    for p in (path, manifest_path(path), *others):
        if p.exists():
            return f"{p} exists; choose another name"
    return None


def clips_text(job: ExportJob, path: Path) -> Text | None:
    """For an export of several clips (a change of picture size): how many, and each
    one's picture size and the file it is saved as, a line each; None for one clip."""
    if not job.clips:
        return None
    lines = [f"{len(job.clips)} clips, one per picture size, saved as:"]
    lines += [
        f"  {f'{c.width}x{c.height}' if c.width and c.height else '?':>9}  {p.name}"
        for c, p in zip(job.clips, clip_outputs(job.clips, path), strict=True)
    ]
    return Text("\n").join(plain(line) for line in lines)


class PathPrompt(ModalScreen[Path | None]):
    """Where to save a finished export: Enter saves, Esc cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "cancel")]
    DEFAULT_CSS = """
    PathPrompt { align: center middle; }
    PathPrompt > Vertical {
        width: 72; max-width: 100%; height: auto;
        border: round $accent; padding: 0 1; background: $surface;
    }
    PathPrompt #why { color: $error; height: auto; }
    """

    def __init__(self, job: ExportJob) -> None:
        super().__init__()
        self.job = job

    def compose(self) -> ComposeResult:
        job = self.job
        total = sum(c.size for c in job.clips) if job.clips else job.size
        size = bytes_text(total, compact=True) if total else "?"
        with Vertical():
            yield Static(plain(f"save export {job.id[:8]} ({job.camera}, {size}) as:"))
            yield Input(value=default_path(job), id="path")
            clips = clips_text(job, Path(default_path(job)))
            if clips is not None:
                yield Static(clips, id="clips")
            yield Static("", id="why")
            yield Static("enter: save (+ .manifest.json)   esc: cancel")

    def on_input_changed(self, event: Input.Changed) -> None:
        text = clips_text(self.job, Path(event.value).expanduser()) if event.value else None
        if text is not None:
            self.query_one("#clips", Static).update(text)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        problem = path_problem(event.value, self.job)
        if problem is not None:
            self.query_one("#why", Static).update(plain(problem))
            return
        self.dismiss(Path(event.value).expanduser())

    def action_back(self) -> None:
        self.dismiss(None)


# --------------------------------------------------------------------------- screen


class ExportsScreen(FilteredTableScreen):
    SCOPE = Scope.EXPORTS
    TITLE_TEXT = "exports"
    redraw_on_tick = False  # refresh_data folds job.progress in and re-draws on a change
    AUTO_FOCUS = "DataTable"
    BINDINGS: ClassVar[list[BindingType]] = list(bindings_for(Scope.EXPORTS))
    DEFAULT_CSS = """
    ExportsScreen #message { height: auto; display: none; padding: 1 2; }
    ExportsScreen DataTable { height: 1fr; }
    ExportsScreen #status { height: 1; padding: 0 1; background: $panel; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.jobs: list[ExportJob] = []
        self.loaded = False
        self.denied = False
        self._poll: Poller | None = None
        self._seen_event = -1
        self.downloads: dict[str, tuple[int, int, Path]] = {}  # job -> (bytes, size, path)
        self._last_paint = 0.0
        self.last_result: str | None = None  # of the latest download, kept on the status line

    def compose(self) -> ComposeResult:
        yield NodeHeader()
        yield FilterBox(placeholder="filter: camera, case or state", id="filter")
        yield Static(id="message")
        yield NavTable(cursor_type="row", zebra_stripes=True)
        yield Static("loading export jobs…", id="status")
        yield Footer()

    def on_mount(self) -> None:
        self._seen_event = self.node.events[-1].id if self.node.events else -1
        self._poll = Poller(self, self._fetch, SLOW, on_error=self._fetch_failed, name="exports")
        self._poll.start()

    def on_unmount(self) -> None:
        if self._poll is not None:
            self._poll.stop()

    # ---------------------------------------------------------------- data

    async def _fetch(self) -> None:
        if self.cctv.role is Role.VIEWER:
            self._deny()
            return
        try:
            jobs = await self.cctv.client.exports(limit=LIST_LIMIT)
        except Forbidden:
            self._deny()
            return
        jobs.sort(key=lambda j: j.created, reverse=True)
        self.jobs, self.loaded = jobs, True
        if self._poll is not None:
            # While the event stream is up, it moves the bars and says when a job ends.
            running = any(not j.state.final for j in jobs)
            self._poll.interval = FAST if running and not self.node.stream_up else SLOW
        self.redraw()

    def _fetch_failed(self, exc: Exception) -> None:
        self._status(f"cannot list exports: {describe_error(exc)[1]}")

    def _deny(self) -> None:
        self.denied = True
        if self._poll is not None:
            self._poll.stop()
        message = self.query_one("#message", Static)
        message.update(Text(VIEWER_TEXT, "bold"))
        message.display = True
        self.table.display = False
        self._status("")

    def refresh_data(self) -> None:
        super().refresh_data()
        if not self.is_mounted or self.denied:
            return
        # Fold job.progress events in between polls, so bars move with the server.
        fresh = [e for e in self.node.events if e.id > self._seen_event]
        if not fresh:
            return
        self._seen_event = fresh[-1].id
        by_id = {j.id: i for i, j in enumerate(self.jobs)}
        changed = False
        for event in fresh:
            data = event.data
            if event.type != JOB_PROGRESS or data.get("kind") != "export":
                continue
            index = by_id.get(str(data.get("job")))
            if index is None:
                if self._poll is not None:
                    self._poll.poke()  # a job we have not listed yet
                continue
            folded = fold_export_event(self.jobs[index], data)
            if folded is None:
                continue
            self.jobs[index] = folded
            changed = True
            if folded.state.final and self._poll is not None:
                self._poll.poke()  # size and SHA-256 come with the job, not the event
        if changed:
            self.redraw()

    # ---------------------------------------------------------------- table

    def visible_jobs(self) -> list[ExportJob]:
        needle = self.filter_input.needle
        if not needle:
            return list(self.jobs)
        return [
            j
            for j in self.jobs
            if needle in f"{j.id} {j.camera} {j.case_id or ''} {state_text(j)}".lower()
        ]

    def _wide(self) -> bool:
        return (self.size.width or 80) >= 100

    def _cells(self, job: ExportJob, now: datetime) -> tuple[Text, ...]:
        cells = export_cells(job, now, compact=True)
        wide = self._wide()
        ascii_only = self.cctv.mode is Mode.ASCII
        style = STATE_STYLE[cells.state]
        bar = bar_text(cells.percent, 10 if wide else 5, self.cctv.mode, style)
        size = cells.size
        got = self.downloads.get(job.id)
        if got is not None:
            size = f"↓{got[0] * 100 // max(1, got[1])}%" if not ascii_only else "dl"
        # Ids, cameras and case ids whole (the table hides columns instead of cutting them).
        row: list[Text | str] = [
            cells.id[:8],
            cells.camera,
            cells.case,
            cells.window,
            flagged(cells.state.value)
            if cells.state is ExportState.FAILED
            else Text("waiting" if self._waits(job) else cells.state.value, style),
            bar,
            size,
        ]
        if self._vault():
            row.insert(6, Text(cells.vault, VAULT_STYLE.get(cells.vault, "green")))
        if wide:
            row.append(age_text(cells.created, now))
        return plain_cells(row)

    def _vault(self) -> bool:
        return any(job.vault is not None for job in self.jobs)

    @staticmethod
    def _waits(job: ExportJob) -> bool:
        return job.state is ExportState.RUNNING and job.waiting is not None

    def redraw(self) -> None:
        if not self.is_mounted or self.denied:
            return
        columns = list(COLUMNS)
        if self._vault():
            columns.insert(6, VAULT_COLUMN)
        if self._wide():
            columns.append(ColumnSpec("Age", Priority.EXTRA))
        now = clock.now()
        self.fill(columns, ((job.id, self._cells(job, now)) for job in self.visible_jobs()))
        if not self.downloads:
            self._status(self._summary())

    def _summary(self) -> str:
        if not self.loaded:
            return "loading export jobs…"
        if not self.jobs:
            return "no export jobs on this server (export one from a camera: e)"
        running = sum(not j.state.final for j in self.jobs)
        shown = self.table.row_count
        plural = "s" * (len(self.jobs) != 1)
        text = f"{shown} of {len(self.jobs)} job{plural}"
        if shown == len(self.jobs):
            text = f"{shown} job{plural}"
        if running:
            text += f", {running} running"
        if self.last_result is not None:
            return f"{self.last_result}  ({text})"
        # A job at 0 % for up to a segment says why, and until when (the server knows); the
        # row whose State reads "waiting" is the one. 77 characters: it fits 80 columns.
        waiting = next((j.waiting for j in self.jobs if self._waits(j)), None)
        if waiting is not None:
            return waiting_text(waiting)
        return text + "  enter: download  c: cancel"

    def _status(self, text: str) -> None:
        if not self.is_mounted:
            return
        text = escape_controls(text)  # an error or a result line can quote the server
        self.query_one("#status", Static).update(Text(text, no_wrap=True, overflow="ellipsis"))

    def selected_job(self) -> ExportJob | None:
        job_id = self.selected_key()
        return next((j for j in self.jobs if j.id == job_id), None)

    def _job_to(self, action: str) -> ExportJob | None:
        """The selected job, if ``action`` is allowed and a job is selected; else say why."""
        if not self.allowed(action):
            return None
        job = self.selected_job()
        if job is None:
            self.notify("no export selected", severity="warning")
        return job

    # ---------------------------------------------------------------- actions

    def action_download(self) -> None:
        job = self._job_to("download")
        if job is None:
            return
        if job.state is not ExportState.DONE:
            self.notify(
                f"export {job.id[:8]}: not finished yet (state: {state_text(job)})",
                severity="warning",
            )
            return
        if job.id in self.downloads:
            self.notify(f"export {job.id[:8]} is already downloading", severity="warning")
            return

        def chosen(path: Path | None) -> None:
            if path is not None:
                self._start_download(job, path)

        self.app.push_screen(PathPrompt(job), chosen)

    def _start_download(self, job: ExportJob, path: Path) -> None:
        size = job.size or 0
        self.downloads[job.id] = (0, size, path)
        self._status(f"downloading {path.name}…")
        # On the app, so leaving this screen does not abandon the file half written.
        self.app.run_worker(
            self._download(job, path), name=f"download {job.id}", exit_on_error=False
        )

    async def _download(self, job: ExportJob, path: Path) -> None:
        app = self.app

        def progress(position: int, size: int) -> None:  # in the download thread
            now = time.monotonic()
            if now - self._last_paint >= PROGRESS_EVERY or position >= size:
                self._last_paint = now
                app.call_from_thread(self._show_progress, job.id, position, size, path)

        try:
            clips = await asyncio.to_thread(fetch_clip, self.cctv.target, job.id, path, progress)
        except (CctvError, DownloadFailed, OSError) as exc:
            app.notify(f"export {job.id[:8]}: {exc}", title="download failed", severity="error")
            self.last_result = f"download of {path.name} failed"
        else:
            saved = clips[0]
            if len(clips) == 1:
                size = bytes_text(saved.size, compact=True)
                app.notify(
                    f"{saved.file} ({saved.size:,} bytes, {size}); SHA-256 "
                    f"verified; manifest {saved.manifest_file.name}",
                    title="downloaded",
                    timeout=10,
                )
                self.last_result = f"saved {saved.file} ({size}), SHA-256 verified"
            else:
                total = sum(c.size for c in clips)
                size = bytes_text(total, compact=True)
                names = ", ".join(str(c.file) for c in clips)
                app.notify(
                    f"{len(clips)} clips, one per picture size: {names} ({total:,} bytes, "
                    f"{size}); each SHA-256 verified; manifest {saved.manifest_file.name}",
                    title="downloaded",
                    timeout=10,
                )
                self.last_result = (
                    f"saved {len(clips)} clips from {saved.file} ({size}), SHA-256 verified"
                )
        finally:
            self.downloads.pop(job.id, None)
            if self.is_mounted:
                self.redraw()

    def _show_progress(self, job_id: str, position: int, size: int, path: Path) -> None:
        self.downloads[job_id] = (position, size, path)
        if not self.is_mounted:
            return
        percent = position * 100 / max(1, size)
        bar = bar_text(percent, 10, self.cctv.mode)
        self.query_one("#status", Static).update(
            Text.assemble(
                f"downloading {path.name} ",
                bar,
                f" {bytes_text(position, compact=True)}/{bytes_text(size, compact=True)}",
                no_wrap=True,
                overflow="ellipsis",
            )
        )

    async def action_cancel(self) -> None:
        job = self._job_to("cancel")
        if job is None:
            return
        if job.state.final:
            # DELETE on a finished job removes its files: never do that from a cancel key.
            self.notify(f"export {job.id[:8]} is already {job.state.value}", severity="warning")
            return
        try:
            updated = await self.cctv.client.cancel_export(job.id)
        except CctvError as exc:
            self.notify(f"cancel {job.id[:8]}: {exc}", title="cancel failed", severity="error")
            return
        self.notify(f"export {job.id[:8]}: {updated.state.value}", title="cancel")
        if self._poll is not None:
            self._poll.poke()
