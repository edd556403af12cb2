"""`cctvctl reboot`: deliberate ONVIF reboots, one camera or many, with a dry run first.

Every run goes through the bulk route (``POST /api/v1/reboots``), even for one camera, so
one table shape covers every outcome: a camera the server will not touch (no ONVIF URL,
rebooted minutes ago) is a row saying why, not a whole-request error.

Without ``--yes`` the server is first asked for a dry run and the admin confirms that
list. The real request then names exactly those cameras (with ``--offline-for`` still
applied), so a camera that went dark while the admin read the list is never rebooted
unconfirmed, and one that came back meanwhile is left alone.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Final

import typer

from cctvctl.cli import exit_codes
from cctvctl.cli.common import chosen_cameras, fail_usage, jsonable, out_console
from cctvctl.cli.jobs import connect, fail, failing
from cctvctl.cli.options import ServerOptions, camera_ids, kecamatan_option, server_options
from cctvctl.cli.output import Column, Priority, console, print_json, print_table
from cctvctl.termsafe import escape_controls, for_terminal
from cctvctl.timeparse import format_duration

if TYPE_CHECKING:
    from rich.console import Console

    from cctvctl.client import CctvClient, RebootSelection
    from cctvctl.models import RebootJob, RebootPlan, RebootResult

__all__ = ["outcome", "reboot"]

# Seconds between looks at a job once its event stream has dropped: the server looks at a
# rebooting camera twice a second; once is enough here.
POLL: Final = 1.0
INTERRUPTED: Final = 130
DRY_RUN_REASON: Final = "dry run, no --reason given"


@server_options()
def reboot(
    cameras: Annotated[
        list[str] | None, camera_ids("Camera ids to reboot (or use --kecamatan / --offline-for).")
    ] = None,
    kecamatan: Annotated[
        str | None, kecamatan_option("Every enabled camera of this kecamatan.")
    ] = None,
    offline_for: Annotated[
        str | None,
        typer.Option(
            "--offline-for",
            help="Only cameras offline at least this long (90s, 15m, 1h30m); alone, "
            "every such camera on the server.",
            metavar="DURATION",
        ),
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option(
            "--reason",
            help="Why (required, except with --dry-run; written to the audit log).",
            metavar="TEXT",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list the targets and what would be skipped.")
    ] = False,
    yes: Annotated[
        bool,
        typer.Option("--yes", "-y", help="Do not ask; needed when stdin is not a terminal."),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Include cameras rebooted in the last 10 minutes, and allow more than 20.",
        ),
    ] = False,
    max_parallel: Annotated[
        int | None,
        typer.Option(
            "--max-parallel",
            min=1,
            max=16,
            help="Cameras dark at once (server default 4).",
            metavar="N",
        ),
    ] = None,
    *,
    opts: ServerOptions,
) -> None:
    """Reboot cameras through ONVIF and wait until their streams are back.

    Example: cctvctl reboot --kecamatan bengalon --offline-for 15m --reason "hung since 03:00"

    Without --yes it shows a dry run (targets, and skipped ones with why) and asks; on a
    stdin that is not a terminal it refuses (exit 2) unless --yes. Then it follows the job
    and prints a row per camera: result, detail and how long until it was back. Needs the
    admin role (exit 4). Exit 0 when every target is back online, 3 when some are not
    (failed, did not return or skipped), 1 when none is. --dry-run needs no --reason and
    exits 0 whatever it lists; a real run that would be refused (more than 20 without
    --force) is said in words. JSON: RebootPlan with --dry-run, else RebootJob.
    """
    why = (reason or "").strip()
    if not why and dry_run:
        # A dry run changes nothing; the server still wants a reason for its audit row.
        why = DRY_RUN_REASON
    if not why:
        fail_usage(
            "--reason is required: say why the cameras are rebooted (it goes into the "
            "audit log), e.g. --reason 'stream hung since 03:00'"
        )
    # --offline-for alone chooses too: every camera offline that long.
    missing = (
        None
        if offline_for is not None
        else "name the targets: camera ids, --kecamatan K, or --offline-for 15m alone "
        "(every camera offline that long)"
    )
    targets = chosen_cameras(cameras, kecamatan, missing=missing, exclusive=True)
    selection: RebootSelection = {
        "cameras": targets,
        "kecamatan": kecamatan,
        "offline_for": offline_for,
        "force": force,
    }
    with failing(opts.utc), connect(opts) as client:
        if dry_run or not yes:
            plan = client.reboot_plan(why, **selection)
            if dry_run:
                if opts.json:
                    print_json(jsonable(plan))
                else:
                    _show_plan(out_console(opts.no_color), plan)
                return
            _confirm(plan, opts.json, opts.no_color)
            # Exactly the listed cameras, skipped ones included so the table says why.
            selection |= {"cameras": [t.camera for t in plan.targets] or None, "kecamatan": None}
        job = client.reboot_many(why, max_parallel=max_parallel, **selection)
        job = _follow(client, job, quiet=opts.json, no_color=opts.no_color)
    if opts.json:
        print_json(jsonable(job))
    else:
        _show_job(out_console(opts.no_color), job, opts.utc)
    raise typer.Exit(outcome(job))


def outcome(job: RebootJob) -> int:
    """0 every target back, 1 none, 3 some: what a script needs to decide on a retry."""
    back = sum(1 for r in job.results if r.state.value == "back_online")
    if job.results and back == len(job.results):
        return exit_codes.OK
    return exit_codes.PARTIAL if back else exit_codes.FAILURE


# --------------------------------------------------------------------------- plan


def _confirm(plan: RebootPlan, json_out: bool, no_color: bool) -> None:
    # With --json the plan goes to stderr, so stdout stays one JSON document.
    _show_plan(console(no_color, stderr=True) if json_out else out_console(no_color), plan)
    if plan.refused:
        fail(f"the server would refuse: {plan.refused}; add --force", exit_codes.USAGE)
    if not plan.targets:
        fail("nothing to reboot: no camera matches the targets given")
    if plan.would_reboot == 0:
        skipped = len(plan.targets)
        fail(
            "nothing to reboot: "
            + ("the one target" if skipped == 1 else f"all {skipped} targets")
            + " would be skipped (the WHY column says why)"
        )
    count = f"{plan.would_reboot} camera{'s' if plan.would_reboot != 1 else ''}"
    if not sys.stdin.isatty():
        fail_usage(
            f"not rebooting {count} unconfirmed: stdin is not a terminal, so nobody can "
            "answer; add --yes to go ahead (or --dry-run to only look)"
        )
    confirmed = typer.confirm(f"Reboot {count}?", default=False, err=True)
    if not sys.stderr.isatty():
        # The terminal echoed the answer's newline; a redirected stderr never saw it.
        print(file=sys.stderr)
    if not confirmed:
        fail("not confirmed; nothing was rebooted")


def _why(result: RebootResult) -> str:
    from cctvctl.timeparse import localize

    detail = localize(result.detail or "")  # "rebooted at <UTC>" reads WITA
    if result.error is None:
        return detail
    return f"{result.error.value}: {detail}" if detail else result.error.value


def _show_plan(out: Console, plan: RebootPlan) -> None:
    from rich.text import Text

    plan = for_terminal(plan)
    out.print(f"Dry run: {plan.would_reboot} to reboot, {plan.skipped} skipped", highlight=False)
    if plan.targets:
        columns = [
            Column("CAMERA", Priority.IDENTITY),
            Column("KECAMATAN"),
            Column("PLAN", Priority.STATUS),
            Column("WHY"),
        ]
        rows = [
            [
                Text(t.camera),
                Text(t.kecamatan or "-"),
                Text("reboot" if t.state.value == "planned" else "skip"),
                Text("" if t.state.value == "planned" else _why(t)),
            ]
            for t in plan.targets
        ]
        print_table(out, columns, rows)
    else:
        out.print("no camera matches", highlight=False)
    if plan.refused:
        out.print(Text(f"a real run would be refused: {plan.refused}"), overflow="fold")


# --------------------------------------------------------------------------- the job


def _follow(client: CctvClient, job: RebootJob, *, quiet: bool, no_color: bool) -> RebootJob:
    """Follows the job's events until every camera has a final result (polling if the
    stream drops)."""
    from cctvctl.client import JobNews, follow_job

    tty = sys.stderr.isatty()
    said: set[str] = set()
    progress = None
    task = None

    def show(job: RebootJob) -> None:
        finals = [r for r in job.results if r.state.final]
        if progress is not None and task is not None:
            waiting = sum(1 for r in job.results if r.state.value == "waiting")
            status = f"{waiting} waiting to come back" if waiting else ""
            progress.update(task, completed=len(finals), status=status)
        elif not quiet:
            for r in finals:
                if r.camera not in said:
                    said.add(r.camera)
                    camera = escape_controls(r.camera)
                    print(f"{camera}: {r.state.value}", file=sys.stderr, flush=True)

    try:
        if tty:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            progress = Progress(
                TextColumn(escape_controls(f"reboot {job.id}"), markup=False),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"),
                console=console(no_color, stderr=True),
                transient=True,
            )
            progress.start()
            task = progress.add_task("", total=len(job.results), status="")
        # An event names one camera's new state; the job holds them all, so each one
        # is a reason to ask for the job rather than something to fold in.
        with JobNews(client.on_loop, "reboot", job.id) as news:
            return follow_job(
                job,
                fetch=lambda: client.reboot_job(job.id),
                settled=lambda j: j.done,
                show=show,
                news=news,
                poll=POLL,
            )
    except KeyboardInterrupt:
        fail(
            f"stopped following; reboot job {job.id} goes on on the server "
            f"(GET /api/v1/reboots/{job.id}, and `cctvctl audit --action reboot.`)",
            INTERRUPTED,
        )
    finally:
        if progress is not None:
            progress.stop()


def _back_after(result: RebootResult) -> str:
    if result.state.value != "back_online" or result.finished is None:
        return "-"
    return format_duration((result.finished - result.requested).total_seconds())


def _show_job(out: Console, job: RebootJob, utc: bool) -> None:
    from rich.text import Text

    from cctvctl.timeparse import format_time, localize

    job = for_terminal(job)
    back = sum(1 for r in job.results if r.state.value == "back_online")
    out.print(
        Text(
            f"reboot {job.id} ({job.actor}, {format_time(job.requested, utc=utc)}): "
            f"{back} of {len(job.results)} back online"
        ),
        overflow="fold",
    )
    columns = [
        Column("CAMERA", Priority.IDENTITY),
        Column("RESULT", Priority.STATUS),
        Column("DETAIL"),
        Column("BACK AFTER", justify="right"),
    ]
    rows = []
    for r in job.results:
        result = r.state.value if r.error is None else f"{r.state.value} ({r.error.value})"
        # A refusal's detail carries the API's UTC times ("rebooted at ...Z").
        detail = localize(r.detail or "", utc=utc)
        rows.append([Text(r.camera), Text(result), Text(detail), Text(_back_after(r))])
    print_table(out, columns, rows)
