"""Blocking plumbing of the job commands (export, exports, reboot), and the evidence download.

The job commands talk to one server for a while (create, follow, fetch), so they use the
blocking :class:`~cctvctl.client.CctvClient` rather than ``common.ask``: :func:`connect`
opens it for the chosen server, and :func:`failing` turns a client error into its one line
and exit code.

:func:`save_export` is how a clip leaves the server: into ``FILE.part``, resumed with HTTP
Range after a dropped connection (a few times, backing off), checked against the
manifest's size and SHA-256, then renamed to ``FILE`` with the manifest written beside it
as ``FILE.manifest.json``. A clip that fails the check is never renamed: the ``.part``
stays for a look, and ``FILE`` only ever holds verified bytes.

:class:`Meter` shows progress: rich bars on stderr when it is a terminal, a few plain
lines otherwise (none with ``--json``), so stdout keeps only the result.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, NoReturn

import typer

from cctvctl.cli import exit_codes
from cctvctl.cli.common import fail_usage, out_console, servers
from cctvctl.cli.output import error, no_color_env

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from cctvctl.client import CctvClient, CctvError
    from cctvctl.models import ExportJob, ExportManifest

__all__ = [
    "MANIFEST_SUFFIX",
    "PART_SUFFIX",
    "DownloadFailed",
    "Meter",
    "Saved",
    "check_free",
    "connect",
    "fail",
    "failing",
    "manifest_path",
    "part_path",
    "save_export",
    "table_console",
]

PART_SUFFIX: Final = ".part"
MANIFEST_SUFFIX: Final = ".manifest.json"
#: Drops in a row before giving up; a drop after some progress starts the count again,
#: so a link that keeps breaking but keeps moving still finishes.
RETRIES: Final = 5
BACKOFF: Final = 0.5  # seconds before the first retry, doubled each time, capped below
MAX_BACKOFF: Final = 8.0
_HASH_BLOCK: Final = 1024 * 1024


# --------------------------------------------------------------------------- one server


def connect(context: str | None, url: str | None, token: str | None) -> CctvClient:
    """The blocking client for the server chosen by flags, environment or context."""
    from cctvctl.client import CctvClient

    node = servers(context, url, token, False)[0]
    # As in common.ask: plain http needs no CA bundle, and loading one costs start-up time.
    extra = {"verify": False} if node.url.startswith("http://") else {}
    return CctvClient.for_target(node, **extra)


def fail(message: str, code: int = exit_codes.FAILURE) -> NoReturn:
    error(message)
    raise typer.Exit(code)


@contextlib.contextmanager
def failing() -> Iterator[None]:
    """Any client error inside becomes its one line on stderr and its exit code."""
    from cctvctl.client import CctvError

    try:
        yield
    except CctvError as exc:
        _fail_with(exc)


def _fail_with(exc: CctvError) -> NoReturn:
    fail(str(exc), exc.exit_code)


def table_console(no_color: bool) -> Console:
    """stdout for wide tables; :func:`~cctvctl.cli.common.out_console` does it all now
    (wide in a pipe with no COLUMNS), this name stays for the commands that use it."""
    return out_console(no_color)


# --------------------------------------------------------------------------- progress


class Meter:
    """Progress of one job, then of one download, on stderr.

    On a terminal: transient rich bars. Elsewhere: a line per state change or quarter of
    the way, unless ``quiet`` (``--json``), so a log of a cron job says what happened
    without a line per block.
    """

    def __init__(self, quiet: bool, no_color: bool) -> None:
        self.tty = sys.stderr.isatty()
        self.quiet = quiet
        self.no_color = no_color
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._said: tuple[str, int] | None = None

    def __enter__(self) -> Meter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.done()

    def note(self, text: str) -> None:
        if self.quiet:
            return
        self._print(text)

    def _print(self, text: str) -> None:
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
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[status]}"),
            )
        else:
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
            )
        self._progress = Progress(*columns, console=console, transient=True)
        self._progress.start()
        self._task = self._progress.add_task(description, total=total, status="")

    def job(self, job: ExportJob) -> None:
        """Shows an export job's state, percent and the server's ETA."""
        from cctvctl.cli.timeparse import format_duration

        eta = "" if job.eta_seconds is None else f"ETA {format_duration(job.eta_seconds)}"
        status = job.state.value if job.state.value != "running" else eta
        if self.tty:
            if self._progress is None:
                self._start("job", f"export {job.id}", 100)
            assert self._progress is not None and self._task is not None
            self._progress.update(self._task, completed=job.percent, status=status)
            return
        step = (job.state.value, int(job.percent // 25))
        if step != self._said:
            self._said = step
            tail = f" ({eta})" if eta and job.state.value == "running" else ""
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
            from cctvctl.cli.health_cmd import human_bytes

            of = f" of {human_bytes(size)}" if size else ""
            self.note(f"downloading {name}: {human_bytes(position)}{of}")

    def done(self) -> None:
        if self._progress is not None:
            self._progress.stop()
        self._progress = None
        self._task = None
        self._said = None


# --------------------------------------------------------------------------- files


def part_path(output: Path) -> Path:
    return output.with_name(output.name + PART_SUFFIX)


def manifest_path(output: Path) -> Path:
    return output.with_name(output.name + MANIFEST_SUFFIX)


def check_free(output: Path, force: bool) -> None:
    """Exits 2 before any work if the clip or its manifest would overwrite a file."""
    if output.is_dir():
        fail_usage(f"-o {output}: is a directory; give a file name such as clip.mp4")
    if not output.parent.is_dir():
        fail_usage(f"-o {output}: the folder {output.parent} does not exist")
    if force:
        return
    for path in (output, manifest_path(output)):
        if path.exists():
            fail_usage(f"{path} exists; pass --force to overwrite it, or choose another -o")


@dataclass(frozen=True)
class Saved:
    file: Path
    manifest_file: Path
    size: int
    sha256: str
    resumed_from: int  # bytes already in the .part when this run started


class DownloadFailed(Exception):
    """The clip could not be fetched or did not verify; ``str()`` is one line."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def save_export(
    client: CctvClient,
    job: ExportJob,
    manifest: ExportManifest,
    output: Path,
    meter: Meter,
    *,
    resume: bool,
) -> Saved:
    """Fetch ``job``'s clip into ``output`` (via ``.part``), verify it, save the manifest.

    ``resume``: continue a ``.part`` left by an earlier run (``exports download``);
    otherwise one left over is discarded, as it cannot belong to a job just made.
    Raises :class:`DownloadFailed`, or the client's error when the server refuses.
    """
    from cctvctl.client import TimedOut, Unreachable

    part = part_path(output)
    size = manifest.size
    if not resume:
        part.unlink(missing_ok=True)
    have = part.stat().st_size if part.exists() else 0
    if have > size:
        meter.note(f"{part} is larger than the clip ({have} > {size} bytes); starting over")
        part.unlink()
        have = 0
    started_with = have
    failures = 0
    etag = f'"{manifest.sha256}"'
    while have < size:
        with part.open("r+b" if part.exists() else "w+b") as sink:
            sink.seek(have)
            before = have
            try:
                client.download_export(
                    job.id,
                    sink,
                    offset=have,
                    etag=etag,
                    progress=lambda pos, total: meter.transfer(output.name, pos, total or size),
                )
            except (Unreachable, TimedOut) as exc:
                sink.flush()
                have = sink.seek(0, os.SEEK_END)
                failures = 1 if have > before else failures + 1
                if failures > RETRIES:
                    raise DownloadFailed(
                        f"{exc}; gave up after {RETRIES} tries in a row without progress. "
                        f"{have} of {size} bytes are in {part}; run "
                        f"'cctvctl exports download {job.id} -o {output}' to resume"
                    ) from None
                delay = min(BACKOFF * 2 ** (failures - 1), MAX_BACKOFF)
                meter.note(
                    f"connection lost at byte {have} of {size} ({exc.detail}); "
                    f"resuming in {delay:g} s"
                )
                time.sleep(delay)
                continue
            sink.flush()
            os.fsync(sink.fileno())
            have = sink.seek(0, os.SEEK_END)
        if have > size:
            break
    meter.done()
    if not part.exists():
        part.touch()  # an empty clip is impossible, but let the check below say so
    actual_size = part.stat().st_size
    actual = sha256_of(part)
    if actual_size != size or actual != manifest.sha256:
        raise DownloadFailed(
            f"{part} does not match the manifest: {actual_size} bytes, SHA-256 {actual}; "
            f"the manifest says {size} bytes, SHA-256 {manifest.sha256}. "
            f"Not renamed to {output.name}; delete the .part to download afresh"
        )
    os.replace(part, output)
    mfile = manifest_path(output)
    tmp = mfile.with_name(mfile.name + ".tmp")
    tmp.write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, mfile)
    return Saved(output, mfile, actual_size, actual, started_with)
