"""`cctvctl export` (a clip for a case) and `cctvctl exports ls|show|download|cancel`.

An export is a job on the server; these commands create it, follow it, and fetch the clip
through :func:`cctvctl.cli.jobs.save_export` (resumable, verified, manifest beside it).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from cctvctl.cli import exit_codes
from cctvctl.cli.common import (
    fail_usage,
    jsonable,
    out_console,
    parse_when,
    zone_name,
)
from cctvctl.cli.jobs import (
    DownloadFailed,
    Meter,
    check_clips_free,
    check_free,
    connect,
    fail,
    failing,
    part_path,
    save_export,
)
from cctvctl.cli.options import ServerOptions, server_options
from cctvctl.cli.output import Column, Priority, print_json, print_table
from cctvctl.termsafe import escape_controls, for_terminal
from cctvctl.timeparse import WITA, format_duration, format_time

if TYPE_CHECKING:
    from rich.console import Console

    from cctvctl.cli.jobs import Saved
    from cctvctl.client import CctvClient
    from cctvctl.models import ExportClip, ExportJob, ExportManifest, Gap, VaultCheck

__all__ = ["exports_app", "register", "resolve_to"]

# Seconds between looks at a running job once its event stream has dropped; the server
# updates ~2x a second.
POLL: Final = 0.5
INTERRUPTED: Final = 130  # the shell's code for Ctrl-C; the job itself goes on
_PLUS: Final = re.compile(r"^\+\s*((?:\d+[smhdw])+)$", re.IGNORECASE)
_BARE_CLOCK: Final = re.compile(r"^\d{1,2}:\d{2}(?::\d{2})?$")
_STATES: Final = ("queued", "running", "done", "failed", "cancelled", "expired", "deleted")

exports_app = typer.Typer(
    help=(
        "Evidence export jobs on the server: list, show, download (resumable, verified) "
        "and cancel. Create one with `cctvctl export`. Needs the operator role."
    ),
    no_args_is_help=True,
)

FromOpt = Annotated[
    str,
    typer.Option(
        "--from",
        help="Window start: '2026-11-28 14:00' (WITA), 14:00 (today), -20m, RFC 3339.",
        show_default=False,
    ),
]
ToOpt = Annotated[
    str,
    typer.Option(
        "--to",
        help="Window end: a bare clock time such as 14:15 is on the same day as --from; "
        "+15m is that long after --from; or any --from form (a full date, RFC 3339, now).",
        show_default=False,
    ),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        help="Save the clip here (default: CAMERA_YYYYMMDD-HHMMSS.mp4 from the window's "
        "WITA start). The manifest goes beside it as FILE.manifest.json. A window that "
        "spans a change of picture size gives one clip per size: the first is FILE, the "
        "others go beside it as NAME_2_WxH.mp4, NAME_3_WxH.mp4, ... (-o clip.mp4: "
        "clip_2_1280x720.mp4), in time order.",
        metavar="FILE",
        show_default=False,
    ),
]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="Overwrite an existing FILE and FILE.manifest.json.")
]


def register(app: typer.Typer) -> None:
    app.command("export")(export)
    app.add_typer(exports_app, name="exports")


# --------------------------------------------------------------------------- times


def resolve_to(text: str, start: datetime, now: datetime) -> datetime:
    """``--to`` relative to ``start``: a bare clock is ``start``'s WITA day, ``+15m`` after it."""
    spec = text.strip()
    plus = _PLUS.match(spec)
    if plus is not None:
        # "15m" parsed against a fixed now is now - 15 min; the difference is the span.
        span = now - parse_when("--to", plus[1], now)
        return start + span
    if _BARE_CLOCK.match(spec):
        # parse_time reads a clock time on the day of its "now": the day of --from.
        return parse_when("--to", spec, start)
    return parse_when("--to", spec, now)


def _window(from_: str, to: str, utc: bool) -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    start = parse_when("--from", from_, now)
    end = resolve_to(to, start, now)
    if end <= start:
        hint = ""
        if _BARE_CLOCK.match(to.strip()):
            day = (start.astimezone(WITA).date() + timedelta(days=1)).isoformat()
            hint = f"; for a window past midnight give the date, e.g. --to '{day} {to.strip()}'"
        fail_usage(
            f"--to ({format_time(end, utc=utc)}) must be after "
            f"--from ({format_time(start, utc=utc)}){hint}"
        )
    return start, end


def _default_output(camera: str, start: datetime) -> Path:
    stamp = start.astimezone(WITA).strftime("%Y%m%d-%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", camera)
    return Path(f"{safe}_{stamp}.mp4")


# --------------------------------------------------------------------------- following


def _follow(client: CctvClient, job: ExportJob, meter: Meter) -> ExportJob:
    """Follows the job's events until it is final (polling if the stream drops);
    exits 1 unless it ended done."""
    from cctvctl.client import JobNews, fold_export_event, follow_job

    try:
        with JobNews(client.on_loop, "export", job.id) as news:
            job = follow_job(
                job,
                fetch=lambda: client.export(job.id),
                settled=lambda j: j.state.final,
                show=meter.job,
                news=news,
                poll=POLL,
                fold=fold_export_event,
            )
    except KeyboardInterrupt:
        meter.done()
        fail(
            f"stopped waiting; export {job.id} goes on on the server. Fetch it later with "
            f"'cctvctl exports download {job.id} -o FILE'",
            INTERRUPTED,
        )
    meter.done()
    if job.state.value != "done":
        why = f": {job.error}" if job.error else ""
        fail(f"export {job.id} ended {job.state.value}{why}")
    return job


def _follow_and_fetch(
    client: CctvClient,
    job: ExportJob,
    output: Path,
    meter: Meter,
    *,
    resume: bool,
    force: bool,
) -> tuple[ExportJob, ExportManifest, list[Saved]]:
    """The job once done, its manifest, and its clips saved from ``output`` on, verified."""
    job = _follow(client, job, meter)
    manifest = client.export_manifest(job.id)
    check_clips_free(manifest, output, force)
    try:
        saved = save_export(client, job, manifest, output, meter, resume=resume)
    except DownloadFailed as exc:
        meter.done()
        fail(str(exc))
    except KeyboardInterrupt:
        meter.done()
        fail(
            f"download stopped; the bytes so far are kept in {part_path(output)}. Resume "
            f"with 'cctvctl exports download {job.id} -o {output}'",
            INTERRUPTED,
        )
    return job, manifest, saved


def _print_saved(
    opts: ServerOptions, job: ExportJob, manifest: ExportManifest, saved: list[Saved]
) -> None:
    if opts.json:
        print_json(_saved_json(job, manifest, saved))
    else:
        _show_saved(out_console(opts.no_color), job, manifest, saved, opts.utc)


def _saved_json(job: ExportJob, manifest: ExportManifest, saved: list[Saved]) -> dict[str, Any]:
    first = saved[0]
    entries: list[ExportClip | None] = [*manifest.clips] or [None]
    return {
        "job": jsonable(job),
        "manifest": jsonable(manifest),
        "file": str(first.file),
        "manifest_file": str(first.manifest_file),
        "size": first.size,
        "sha256": first.sha256,
        "verified": True,
        "resumed_from": first.resumed_from,
        "clips": [
            {
                "file": str(one.file),
                "width": entry.width if entry else None,
                "height": entry.height if entry else None,
                "first_frame": jsonable(entry.first_frame if entry else manifest.first_frame),
                "last_frame": jsonable(entry.last_frame if entry else manifest.last_frame),
                "size": one.size,
                "sha256": one.sha256,
                "resumed_from": one.resumed_from,
            }
            for one, entry in zip(saved, entries, strict=True)
        ],
    }


def _gap_text(gaps: list[Gap], utc: bool) -> str:
    return ", ".join(
        f"{format_time(g.start, utc=utc, date_too=False)}-"
        f"{format_time(g.end, utc=utc, date_too=False)} ({format_duration(g.seconds)})"
        for g in gaps
    )


def clip_line(
    file: object, width: int | None, height: int | None, first: datetime, last: datetime, utc: bool
) -> str:
    """One clip of several: file, picture size, time span (its first and last frame)."""
    size = f"{width}x{height}" if width and height else "size unknown"
    return (
        f"{file}  {size}  {format_time(first, utc=utc)} to "
        f"{format_time(last, utc=utc, date_too=False)}"
    )


def _saved_lines(manifest: ExportManifest, saved: list[Saved], utc: bool) -> list[str]:
    from cctvctl.units import bytes_text

    if len(saved) == 1:
        [one] = saved
        resumed = f", resumed at byte {one.resumed_from}" if one.resumed_from else ""
        return [
            f"saved     {one.file} ({bytes_text(one.size)}, {one.size} bytes{resumed})",
            f"sha256    {one.sha256}",
            "verified  size and SHA-256 match the manifest",
        ]
    # The window spans a change of picture size: one line per clip, in time order.
    lines = [f"saved     {len(saved)} clips, one per picture size (stream copy, not scaled)"]
    for n, (one, entry) in enumerate(zip(saved, manifest.clips, strict=True), start=1):
        line = clip_line(
            one.file, entry.width, entry.height, entry.first_frame, entry.last_frame, utc
        )
        lines.append(f"clip {n:<5}{line}  {one.size} bytes  sha256 {one.sha256}")
    lines.append("verified  every clip's size and SHA-256 match the manifest")
    return lines


def _show_saved(
    out: Console, job: ExportJob, manifest: ExportManifest, saved: list[Saved], utc: bool
) -> None:
    from rich.text import Text

    job, manifest = for_terminal(job), for_terminal(manifest)
    lines = [
        *_saved_lines(manifest, saved, utc),
        f"manifest  {saved[0].manifest_file}",
        f"camera    {manifest.camera} ({manifest.camera_name}, {manifest.kecamatan})",
        f"window    {format_time(manifest.requested_start, utc=utc)} to "
        f"{format_time(manifest.requested_end, utc=utc, date_too=False)}",
        f"frames    {format_time(manifest.first_frame, utc=utc)} to "
        f"{format_time(manifest.last_frame, utc=utc, date_too=False)} ({manifest.frames})",
    ]
    if manifest.case_id:
        lines.append(f"case      {manifest.case_id}")
    if manifest.vault is not None:
        vault = manifest.vault
        lines.append(
            f"vault     {vault.bucket}/{vault.clip_key} version {vault.clip_version}, "
            f"{vault.mode} until {format_time(vault.retain_until, utc=utc)}"
        )
        lines += [
            f"vault     {vault.bucket}/{c.vault.key} version {c.vault.version_id}"
            for c in manifest.clips[1:]
            if c.vault is not None
        ]
    elif job.vault is not None:
        lines.append(f"vault     {vault_text(job, utc)}")
    if manifest.nodes:
        parts = ", ".join(
            f"{p.node} {format_time(p.start, utc=utc, date_too=False)} to "
            f"{format_time(p.end, utc=utc, date_too=False)} ({p.frames} frames)"
            for p in manifest.nodes
        )
        lines.append(f"nodes     {parts}")
    if manifest.gaps:
        lines.append(
            f"GAPS      {len(manifest.gaps)} in the window, "
            f"{format_duration(manifest.missing_seconds)} missing: "
            f"{_gap_text(manifest.gaps, utc)}; the clip holds what was recorded"
        )
    else:
        lines.append("gaps      none: footage covers the whole window")
    for line in lines:
        out.print(Text(line), overflow="fold")


# --------------------------------------------------------------------------- export


@server_options()
def export(
    camera: Annotated[str, typer.Argument(help="Camera id, e.g. sgu-camat-01.", metavar="CAMERA")],
    from_: FromOpt,
    to: ToOpt,
    case: Annotated[
        str | None,
        typer.Option("--case", help="Case number, e.g. LP/123/XI/2026 (in the manifest)."),
    ] = None,
    note: Annotated[
        str | None,
        typer.Option("--note", help="Free text for the manifest and the audit log."),
    ] = None,
    output: OutputOpt = None,
    force: ForceOpt = False,
    no_wait: Annotated[
        bool,
        typer.Option("--no-wait", help="Queue the job, print its id and return at once."),
    ] = False,
    *,
    opts: ServerOptions,
) -> None:
    """Export a camera's footage over a window as an evidence clip with a manifest.

    Example: cctvctl export sgu-camat-01 --from "2026-11-28 14:00" --to 14:15
    --case LP/123/XI/2026 -o clip.mp4

    Waits for the job (progress on stderr), downloads the clip (resuming after a dropped
    connection), checks its SHA-256 against the manifest, saves the manifest as
    FILE.manifest.json and prints path, size, SHA-256 and gaps. A window that spans a
    change of the camera's picture size gives one clip per size: each is downloaded and
    checked, saved as FILE and NAME_2_WxH.mp4, ... beside it (see -o), one line each
    (file, size, time span, SHA-256). Gaps are not a failure:
    the clip holds what was recorded and the manifest lists what is missing. Never
    overwrites FILE without --force. Needs the operator role (exit 4 otherwise); exit 1
    when the job fails or the clip does not verify (FILE.part is kept), 130 on Ctrl-C
    (the job goes on: fetch it with `cctvctl exports download`).
    JSON: with --no-wait the ExportJob; else {job, manifest, file, manifest_file, size,
    sha256, verified, resumed_from, clips: [{file, width, height, first_frame,
    last_frame, size, sha256, resumed_from}]} (file to resumed_from: the first clip).
    """
    start, end = _window(from_, to, opts.utc)
    target = output if output is not None else _default_output(camera, start)
    if not no_wait:
        check_free(target, force)
    meter = Meter(quiet=opts.json, no_color=opts.no_color, utc=opts.utc)
    with failing(opts.utc), connect(opts) as client, meter:
        job = client.create_export(camera, start, end, case_id=case, note=note)
        if no_wait:
            if opts.json:
                print_json(jsonable(job))
            else:
                print(for_terminal(job).id)
            return
        meter.note(
            f"export {job.id}: {camera} {format_time(start, utc=opts.utc)} to "
            f"{format_time(end, utc=opts.utc, date_too=False)} queued"
        )
        job, manifest, saved = _follow_and_fetch(
            client, job, target, meter, resume=False, force=force
        )
    _print_saved(opts, job, manifest, saved)


# --------------------------------------------------------------------------- exports


@exports_app.command("ls")
@server_options()
def ls(
    state: Annotated[
        str | None,
        typer.Option("--state", help=f"Only jobs in this state: {', '.join(_STATES)}."),
    ] = None,
    camera: Annotated[str | None, typer.Option("--camera", "-c", help="Only this camera.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="At most this many.")] = 50,
    case: Annotated[
        str | None, typer.Option("--case", help="Only this case's, e.g. LP/123/XI/2026.")
    ] = None,
    *,
    opts: ServerOptions,
) -> None:
    """Export jobs, newest first: state, progress, evidence vault (where the server has
    one: stored until DATE, held, pending, none), window, case, size, requester.

    Example: cctvctl exports ls --state done --camera sgu-camat-01

    JSON: [ExportJob].
    """
    if state is not None and state not in _STATES:
        fail_usage(f"--state {state!r}: accepted: {', '.join(_STATES)}")
    with failing(opts.utc), connect(opts) as client:
        jobs = client.exports(state, camera, limit, case_id=case)
        if camera is not None and not jobs:
            # The server filters by any string; an unknown camera (a typo) must not read
            # as "no exports". A camera since removed still lists its old jobs above.
            client.camera(camera)
    if opts.json:
        print_json(jsonable(jobs))
        return
    from rich.text import Text

    from cctvctl.views import export_cells, export_state_text

    out = out_console(opts.no_color)
    if not jobs:
        # Name the filters: after a cancel a job is 'deleted', not gone, and a bare "no
        # export jobs" under --state done read as if the server had lost it.
        state_part = "" if state is None else f" in state {state}"
        camera_part = "" if camera is None else f" of camera {escape_controls(camera)}"
        case_part = "" if case is None else f" for case {escape_controls(case)}"
        out.print(Text(f"no export jobs{state_part}{camera_part}{case_part}"))
        return
    # The job id is what `exports download` wants: whole, as the camera and the state.
    columns = [
        Column("ID", Priority.IDENTITY),
        Column("CAMERA", Priority.IDENTITY),
        Column("STATE", Priority.STATUS),
        Column("DONE", Priority.STATUS, justify="right"),
        Column(f"WINDOW ({zone_name(opts.utc)})"),
        Column("CASE", Priority.IDENTITY),
        Column("SIZE", justify="right"),
        Column("BY"),
    ]
    # The evidence vault's word on each job, where the server has a vault (a job there
    # carries a copy, pending or stored).
    vault = any(job.vault is not None for job in jobs)
    if vault:
        columns.insert(4, Column("VAULT", Priority.STATUS))
    now = datetime.now(UTC)
    rows = []
    for job in jobs:
        cells = export_cells(job, now, utc=opts.utc)
        row = [
            Text(cells.id),
            Text(cells.camera),
            Text(export_state_text(job)),
            Text(f"{cells.percent:.0f} %"),
            Text(cells.window),
            Text(cells.case),
            Text(cells.size),
            Text(cells.requester),
        ]
        if vault:
            row.insert(4, Text(cells.vault))
        rows.append(row)
    print_table(out, columns, rows)


JobArg = Annotated[
    str, typer.Argument(help="Export job id, from `cctvctl exports ls`.", metavar="JOB")
]


@exports_app.command("show")
@server_options()
def show(
    job_id: JobArg,
    *,
    opts: ServerOptions,
) -> None:
    """One export job: state, progress and ETA, window, case, gaps, size and SHA-256;
    for a window that spans a change of picture size, a line per clip (file, size, time
    span, bytes, SHA-256, its vault version once stored).

    Example: cctvctl exports show 3f2a9c0d11e84b5a

    JSON: ExportJob.
    """
    with failing(opts.utc), connect(opts) as client:
        job = client.export(job_id)
    if opts.json:
        print_json(jsonable(job))
        return
    from rich.text import Text

    out = out_console(opts.no_color)
    for key, value in show_rows(job, opts.utc):
        out.print(Text(f"{key:<10}{value}"), overflow="fold")


def show_rows(job: ExportJob, utc: bool) -> list[tuple[str, str]]:
    """``exports show``'s lines as (label, text), the absent ones left out."""
    from cctvctl.units import bytes_text
    from cctvctl.views import export_state_text, waiting_text

    job = for_terminal(job)
    progress = f"{job.percent:.0f} %"
    if job.eta_seconds is not None and not job.state.final:
        progress += f", ETA {format_duration(job.eta_seconds)}"
    waiting = job.waiting if export_state_text(job) == "waiting" else None
    rows: list[tuple[str, str | None]] = [
        ("id", job.id),
        ("camera", job.camera),
        ("state", export_state_text(job) + (f": {job.error}" if job.error else "")),
        ("progress", progress),
        # Why it sits at 0 %, as `export` and the console's Exports screen say it.
        ("waiting", waiting_text(waiting, utc=utc) if waiting else None),
        ("window", f"{format_time(job.start, utc=utc)} to {format_time(job.end, utc=utc)}"),
        ("case", job.case_id),
        ("note", job.note),
        ("requester", job.requester),
        ("created", format_time(job.created, utc=utc)),
        ("finished", format_time(job.finished, utc=utc) if job.finished else None),
        ("size", f"{bytes_text(job.size)} ({job.size} bytes)" if job.size is not None else None),
        ("sha256", job.sha256),
        ("expires", format_time(job.expires, utc=utc) if job.expires else None),
        ("vault", vault_text(job, utc) if job.vault is not None else None),
        ("gaps", f"{len(job.gaps)}: {_gap_text(job.gaps, utc)}" if job.gaps else "none"),
    ]
    if job.clips:
        rows.append(("clips", f"{len(job.clips)}, one per picture size, in time order"))
    for n, clip in enumerate(job.clips, start=1):
        line = clip_line(clip.file, clip.width, clip.height, clip.first_frame, clip.last_frame, utc)
        stored = ""
        if clip.vault is not None and clip.vault.version_id is not None:
            stored = f"; vault version {clip.vault.version_id}"
        rows.append((f"clip {n}", f"{line}  {bytes_text(clip.size)}  sha256 {clip.sha256}{stored}"))
    return [(key, value) for key, value in rows if value is not None]


def vault_text(job: ExportJob, utc: bool) -> str:
    """The job's evidence vault copy in one line: where and until when, or why pending."""
    vault = job.vault
    assert vault is not None
    until = format_time(vault.retain_until, utc=utc)
    hold = ", legal hold" if vault.legal_hold else ""
    if vault.state.value == "stored":
        return (
            f"stored: {vault.bucket}/{vault.clip.key} version {vault.clip.version_id}, "
            f"manifest version {vault.manifest.version_id}; {vault.mode} until {until}{hold}"
        )
    why = f": {vault.error}" if vault.error else ""
    return f"PENDING (attempt {vault.attempts}){why}; retried until it lands{hold}"


@exports_app.command("download")
@server_options()
def download(
    job_id: JobArg,
    output: OutputOpt = None,
    force: ForceOpt = False,
    *,
    opts: ServerOptions,
) -> None:
    """Download a finished export's clip and manifest, resuming FILE.part if there is one.

    Example: cctvctl exports download 3f2a9c0d11e84b5a -o clip.mp4

    Waits first if the job is still running. The clip is checked against the manifest's
    size and SHA-256 before it is renamed from FILE.part to FILE; a mismatch exits 1 and
    keeps FILE.part (delete it to start afresh). An export of several clips (a change of
    picture size) saves each as FILE, NAME_2_WxH.mp4, ... (see -o), each resumed and
    checked so, renamed only once all verify. JSON: {job, manifest, file, manifest_file,
    size, sha256, verified, resumed_from, clips: [...]}, as `cctvctl export`.
    """
    meter = Meter(quiet=opts.json, no_color=opts.no_color, utc=opts.utc)
    with failing(opts.utc), connect(opts) as client, meter:
        job = client.export(job_id)
        target = output if output is not None else _default_output(job.camera, job.start)
        check_free(target, force)
        job, manifest, saved = _follow_and_fetch(
            client, job, target, meter, resume=True, force=force
        )
    _print_saved(opts, job, manifest, saved)


@exports_app.command("cancel")
@server_options(display=False)
def cancel(
    job_id: JobArg,
    *,
    opts: ServerOptions,
) -> None:
    """Cancel a queued or running export; for a finished one, delete its files.

    Example: cctvctl exports cancel 3f2a9c0d11e84b5a

    JSON: the ExportJob afterwards (state cancelled or deleted).
    """
    with failing(opts.utc), connect(opts) as client:
        job = client.cancel_export(job_id)
    if opts.json:
        print_json(jsonable(job))
        return
    job = for_terminal(job)
    what = "files deleted" if job.state.value == "deleted" else job.state.value
    print(f"export {job.id} ({job.camera}): {what}")


@exports_app.command("verify")
@server_options()
def verify(
    job_id: Annotated[
        str | None,
        typer.Argument(help="Export job id, from `cctvctl exports ls`.", metavar="[JOB]"),
    ] = None,
    case: Annotated[
        str | None,
        typer.Option("--case", help="Every export of this case, e.g. LP/123/XI/2026."),
    ] = None,
    *,
    opts: ServerOptions,
) -> None:
    """Check an export's copy in the evidence vault against its manifest.

    Example: cctvctl exports verify 3f2a9c0d11e84b5a, or cctvctl exports verify --case
    LP/123/XI/2026

    The server re-reads the clip from the vault, recomputes its SHA-256 and compares it
    with the manifest stored beside it, and reports the Object Lock mode, the retention
    date and the legal hold. Every check is audited. Exit 0 when every clip verifies, 1
    when one fails (replaced, deleted or changed), 3 when none failed but a copy is still
    pending (not in the vault yet). JSON: [VaultCheck].
    """
    if (job_id is None) == (case is None):
        fail_usage("give one export JOB or --case CASE (not both)")
    with failing(opts.utc), connect(opts) as client:
        if job_id is not None:
            ids = [job_id]
        else:
            assert case is not None
            # Any state: an export expired or deleted here after its date is still in
            # the vault, and still evidence.
            jobs = client.exports(None, case_id=case, limit=1000)
            ids = [j.id for j in jobs if j.vault is not None]
            if not ids:
                fail_usage(
                    f"--case {escape_controls(case)!r}: no export of this case is in the vault "
                    "(`cctvctl exports ls --case` lists the case's exports)"
                )
        checks = [client.verify_export(one) for one in ids]
    if opts.json:
        print_json(jsonable(checks))
    else:
        from rich.text import Text

        out = out_console(opts.no_color)
        for n, check in enumerate(checks):
            if n:
                out.print()
            for line in verify_lines(check, opts.utc):
                out.print(Text(line), overflow="fold")
    if any(c.state == "failed" for c in checks):
        raise typer.Exit(exit_codes.FAILURE)
    if any(not c.ok for c in checks):
        raise typer.Exit(exit_codes.PARTIAL)


def verify_lines(check: VaultCheck, utc: bool) -> list[str]:
    """``exports verify``'s lines for one export."""
    check = for_terminal(check)
    verdict = {
        "verified": "VERIFIED  the clip in the vault matches its manifest",
        "failed": "FAILED    the clip in the vault does not match its manifest",
    }.get(check.state, "PENDING   not in the vault yet; the server keeps trying")
    if check.clips and check.state in ("verified", "failed"):
        bad = [str(c.clip + 1) for c in check.clips if not c.ok]
        verdict = (
            f"VERIFIED  each of the {len(check.clips)} clips in the vault matches its manifest"
            if check.state == "verified"
            else f"FAILED    clip {', '.join(bad) or '?'} of {len(check.clips)} in the vault "
            "does not match its manifest"
        )
    lines = [
        f"export    {check.job}" + (f" (case {check.case_id})" if check.case_id else ""),
        verdict,
        f"object    {check.bucket}/{check.clip_key}",
        f"version   {check.clip_version or '-'} (named by the manifest)",
    ]
    if check.latest_version and check.latest_version != check.clip_version:
        lines.append(f"serves    version {check.latest_version}")
    if check.sha256_found:
        lines.append(f"sha256    {check.sha256_found} (read back)")
    lines.append(f"manifest  {check.sha256_expected or '-'}")
    if check.retain_until is not None:
        lines.append(
            f"retained  {check.mode or '?'} mode until {format_time(check.retain_until, utc=utc)}"
        )
    if check.legal_hold is not None:
        lines.append(f"hold      {'legal hold ON' if check.legal_hold else 'none'}")
    # An export of several clips (a change of picture size): each clip's word.
    for clip in check.clips:
        serves = ""
        if clip.latest_version and clip.latest_version != clip.version:
            serves = f", serves version {clip.latest_version}"
        lines.append(
            f"clip {clip.clip + 1:<5}{'ok' if clip.ok else 'FAILED'}  {check.bucket}/{clip.key} "
            f"version {clip.version or '-'}{serves}"
        )
    lines += [f"!         {p}" for p in check.problems]
    return lines
