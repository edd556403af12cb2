"""Blocking plumbing of the job commands (export, exports, reboot), and the evidence download.

The job commands talk to one server for a while (create, follow, fetch), so they use the
blocking :class:`~cctvctl.client.CctvClient` rather than ``common.ask``: :func:`connect`
opens it for the chosen server, and :func:`failing` turns a client error into its one line
and exit code. They follow a job over its ``job.progress`` events
(:func:`cctvctl.client.follow_job`), polling only while the event stream is down.

:func:`save_export` is how a clip leaves the server: :func:`cctvctl.client.save_export`
(shared with the TUI) fetches it into ``FILE.part``, resumed with HTTP Range after a
dropped connection, checks it against the manifest's size and SHA-256, then renames it to
``FILE`` with the manifest beside it as ``FILE.manifest.json``; here it gets a
:class:`Meter` and the command that resumes. A clip that fails the check is never
renamed: the ``.part`` stays for a look, and ``FILE`` only ever holds verified bytes. An
export whose window spans a change of picture size has one clip per size: each is saved
and checked so, the first as ``FILE``, the others beside it (:func:`clip_outputs`).

:class:`Meter` shows progress: rich bars on stderr when it is a terminal, a few plain
lines otherwise (none with ``--json``), so stdout keeps only the result.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from cctvctl.cli import exit_codes
from cctvctl.cli.common import fail_usage
from cctvctl.cli.output import error, no_color_env
from cctvctl.termsafe import escape_controls

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from cctvctl.cli.options import ServerOptions
    from cctvctl.client import CctvClient, CctvError
    from cctvctl.client import SavedClip as Saved
    from cctvctl.models import ExportJob, ExportManifest

__all__ = [
    "DownloadFailed",
    "Meter",
    "Saved",
    "check_clips_free",
    "check_free",
    "clip_outputs",
    "connect",
    "fail",
    "failing",
    "part_path",
    "save_export",
]

# --------------------------------------------------------------------------- one server


def connect(opts: ServerOptions) -> CctvClient:
    """The blocking client for the server chosen by flags, environment or context."""
    from cctvctl.client import CctvClient

    node = opts.nodes()[0]
    # As in common.ask: plain http needs no CA bundle, and loading one costs start-up time.
    extra = {"verify": False} if node.url.startswith("http://") else {}
    return CctvClient.for_target(node, **extra)


def fail(message: str, code: int = exit_codes.FAILURE) -> NoReturn:
    error(message)
    raise typer.Exit(code)


@contextlib.contextmanager
def failing(utc: bool = False) -> Iterator[None]:
    """Any client error inside becomes its one line on stderr and its exit code; the
    server's times in it read WITA, or UTC with ``--utc``."""
    from cctvctl.client import CctvError

    try:
        yield
    except CctvError as exc:
        _fail_with(exc, utc)


def _fail_with(exc: CctvError, utc: bool = False) -> NoReturn:
    fail(exc.text(utc=utc), exc.exit_code)


# --------------------------------------------------------------------------- progress


class Meter:
    """Progress of one job, then of one download, on stderr.

    On a terminal: transient rich bars. Elsewhere: a line per state change or quarter of
    the way, unless ``quiet`` (``--json``), so a log of a cron job says what happened
    without a line per block.
    """

    def __init__(self, quiet: bool, no_color: bool, utc: bool = False) -> None:
        self.tty = sys.stderr.isatty()
        self.quiet = quiet
        self.no_color = no_color
        self.utc = utc  # for the times a waiting job names
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._said: tuple[str, int] | tuple[str, int, str] | None = None

    def __enter__(self) -> Meter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.done()

    def note(self, text: str) -> None:
        if self.quiet:
            return
        self._print(text)

    def _print(self, text: str) -> None:
        text = escape_controls(text)  # notes quote the server (job states, errors)
        if self._progress is not None:
            self._progress.console.print(text, highlight=False, markup=False)
        else:
            print(text, file=sys.stderr, flush=True)

    def _start(self, kind: str, description: str, total: float | None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            ProgressColumn,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.done()
        console = Console(stderr=True, no_color=self.no_color or no_color_env())
        columns: tuple[ProgressColumn, ...]
        if kind == "job":
            columns = (
                TextColumn("{task.description}", markup=False),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[status]}", markup=False),
            )
        else:
            columns = (
                TextColumn("{task.description}", markup=False),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
            )
        self._progress = Progress(*columns, console=console, transient=True)
        self._progress.start()
        # The description names a job the server made; shown as text, never markup.
        self._task = self._progress.add_task(escape_controls(description), total=total, status="")

    def job(self, job: ExportJob) -> None:
        """Shows an export job's state, percent and the server's ETA."""
        from cctvctl.timeparse import format_duration
        from cctvctl.views import waiting_text

        eta = "" if job.eta_seconds is None else f"ETA {format_duration(job.eta_seconds)}"
        running = job.state.value == "running"
        # At 0 % for up to a segment: the server says why (the open segment it waits for).
        waiting = waiting_text(job.waiting, utc=self.utc) if running and job.waiting else ""
        status = waiting or (eta if running else job.state.value)
        if self.tty:
            if self._progress is None:
                self._start("job", f"export {job.id}", 100)
            assert self._progress is not None and self._task is not None
            self._progress.update(self._task, completed=job.percent, status=status)
            return
        step = (job.state.value, int(job.percent // 25), waiting)
        if step != self._said:
            self._said = step
            if waiting:
                self.note(f"export {job.id}: {waiting}")
                return
            tail = f" ({eta})" if eta and running else ""
            self.note(f"export {job.id}: {job.state.value} {job.percent:.0f} %{tail}")

    def transfer(self, name: str, position: int, size: int | None) -> None:
        """Shows a download's bytes so far (``position`` counts a resumed part too)."""
        if self.tty:
            if self._progress is None:
                self._start("download", name, size)
            assert self._progress is not None and self._task is not None
            self._progress.update(self._task, completed=position, total=size)
            return
        quarter = int(position * 4 // size) if size else 0
        step = ("download", quarter)
        if step != self._said:
            self._said = step
            from cctvctl.units import bytes_text

            of = f" of {bytes_text(size)}" if size else ""
            self.note(f"downloading {name}: {bytes_text(position)}{of}")

    def done(self) -> None:
        if self._progress is not None:
            self._progress.stop()
        self._progress = None
        self._task = None
        self._said = None


# --------------------------------------------------------------------------- files


def part_path(output: Path) -> Path:
    """:func:`cctvctl.client.part_path`, without loading the client at start-up."""
    from cctvctl.client import part_path

    return part_path(output)


def check_free(output: Path, force: bool) -> None:
    """Exits 2 before any work if the clip or its manifest would overwrite a file."""
    if output.is_dir():
        fail_usage(f"-o {output}: is a directory; give a file name such as clip.mp4")
    if not output.parent.is_dir():
        fail_usage(f"-o {output}: the folder {output.parent} does not exist")
    if force:
        return
    from cctvctl.client import manifest_path

    for path in (output, manifest_path(output)):
        if path.exists():
            fail_usage(f"{path} exists; pass --force to overwrite it, or choose another -o")


class DownloadFailed(Exception):
    """:class:`cctvctl.client.DownloadFailed` as :func:`save_export` re-raises it: the
    commands name it at import time, before the client (and httpx) is loaded."""


def clip_outputs(manifest: ExportManifest, output: Path) -> list[Path]:
    """:func:`cctvctl.client.clip_outputs`: where each clip of the export is saved."""
    from cctvctl.client import clip_outputs

    return clip_outputs(manifest.clips, output)


def check_clips_free(manifest: ExportManifest, output: Path, force: bool) -> None:
    """Exits 2 before the download if a further clip (a change of picture size) would
    overwrite a file; the first and the manifest were checked by :func:`check_free`."""
    if force:
        return
    for path in clip_outputs(manifest, output)[1:]:
        if path.exists():
            fail_usage(f"{path} exists; pass --force to overwrite it, or choose another -o")


def save_export(
    client: CctvClient,
    job: ExportJob,
    manifest: ExportManifest,
    output: Path,
    meter: Meter,
    *,
    resume: bool,
) -> list[Saved]:
    """:func:`cctvctl.client.save_export` with progress on ``meter`` and the command that
    resumes in the give-up message: every clip, in the manifest's order.

    ``resume``: continue ``.part`` files left by an earlier run (``exports download``);
    otherwise any left over is discarded, as it cannot belong to a job just made.
    Raises :class:`DownloadFailed`, or the client's error when the server refuses.
    """
    from cctvctl import client as api

    try:
        return api.save_export(
            client,
            job.id,
            manifest,
            output,
            resume=resume,
            progress=lambda position, size: meter.transfer(output.name, position, size),
            note=meter.note,
            resume_hint=f"run 'cctvctl exports download {job.id} -o {output}' to resume",
        )
    except api.DownloadFailed as exc:
        raise DownloadFailed(str(exc)) from None
    finally:
        meter.done()
