"""Plumbing the client commands share: which servers, asking them, errors, output.

Every client command follows one shape::

    nodes = servers(context, url, token, all_contexts)
    results = ask(nodes, question)          # exits 2/4/5 at once for a single server
    emit(results, json_out, shape, show)    # JSON or tables, labelled by node if several
    raise typer.Exit(exit_code(results))

A command's question is written once, against :class:`~cctvctl.client.AsyncCctvClient`;
``--all-contexts`` asks it of every node at once (:class:`~cctvctl.client.MultiClient`).
A question that awaits only client calls and ``client.gather()`` passes
``ask(..., loop_free=True)``: a single server then answers it over blocking I/O with no
event loop, which keeps asyncio and anyio out of start-up (``status --json`` < 0.3 s).

JSON for one server is exactly the command's result (API models dumped with
``model_dump(mode="json")``). With ``--all-contexts`` it is wrapped, one entry per node::

    {"nodes": [{"node": "sangatta", "url": "...", "ok": true, "error": null,
                "exit_code": 0, "result": <the single-server JSON>}, ...]}
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import types
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, NoReturn, TypeVar

import typer

from cctvctl.cli import exit_codes
from cctvctl.cli.context_cmd import target, targets
from cctvctl.cli.contexts import Target
from cctvctl.cli.output import console, error, print_json
from cctvctl.timeparse import WITA, TimeParseError, format_time, parse_time

if TYPE_CHECKING:
    from rich.console import Console

    # Imported for real only inside ask(): httpx and pydantic cost more start-up time
    # than the rest of the CLI together, and `cctvctl --help` needs neither.
    from cctvctl.client import AsyncCctvClient, NodeResult

__all__ = [
    "PIPE_WIDTH",
    "ask",
    "chosen_cameras",
    "clock",
    "days_text",
    "exit_code",
    "fail_usage",
    "jsonable",
    "missing_text",
    "no_answer",
    "out_console",
    "parse_when",
    "print_results_json",
    "report_node_errors",
    "servers",
    "since_until",
    "zone_name",
]

T = TypeVar("T")

#: Columns for tables in a pipe with no COLUMNS: wide enough that no cell is cut.
PIPE_WIDTH: Final = 220


def fail_usage(message: str) -> NoReturn:
    error(message)
    raise typer.Exit(exit_codes.USAGE)


def chosen_cameras(
    cameras: list[str] | None,
    kecamatan: str | None,
    *,
    missing: str | None,
    exclusive: bool,
) -> list[str] | None:
    """The camera ids of a ``CAMERA... or --kecamatan K`` choice (None for none), checked
    before any server is asked: exit 2 with ``missing`` when neither is given (None: the
    command has another way to choose, e.g. ``reboot --offline-for``), and, when
    ``exclusive``, when both are (``time sync`` joins them instead)."""
    ids = list(cameras or []) or None
    if exclusive and ids is not None and kecamatan is not None:
        fail_usage("give camera ids or --kecamatan, not both")
    if missing is not None and ids is None and kecamatan is None:
        fail_usage(missing)
    return ids


def servers(
    context: str | None, url: str | None, token: str | None, all_contexts: bool
) -> list[Target]:
    """The targets a command asks: one (flags > env > current context) or every context."""
    if not all_contexts:
        return [target(context, url, token)]
    if context or url or token:
        # Mixing would leave it unclear which token goes where.
        fail_usage(
            "--all-contexts asks every context with its own token; "
            "drop --context, --url and --token"
        )
    return targets()


def ask(
    nodes: Sequence[Target],
    question: Callable[[AsyncCctvClient], Awaitable[T]],
    *,
    loop_free: bool = False,
    utc: bool = False,
) -> list[NodeResult[T]]:
    """Asks every node at once. One node that fails exits with its code and one line;
    several report failures on stderr and carry on (see :func:`exit_code`). Times a
    server wrote into an error read WITA, or UTC with ``utc``.

    ``loop_free=True`` says the question awaits only client calls and ``client.gather()``
    (never ``asyncio`` itself): then a single node is asked with blocking I/O and no event
    loop (:func:`~cctvctl.client.run_blocking`), which spares the ~60 ms that importing
    asyncio and anyio and starting a loop cost. Several nodes always go at once.
    """
    _import_httpx_without_its_cli()
    from cctvctl.client import MultiClient, run_blocking

    # Plain-http nodes need no CA bundle; loading certifi's costs ~30 ms per client,
    # a tenth of the start-up budget. With any https node the default applies to all.
    plain = all(n.url.startswith("http://") for n in nodes)
    kwargs: dict[str, Any] = {"verify": False} if plain else {}
    if loop_free and len(nodes) == 1:
        results = [run_blocking(nodes[0], question, **kwargs)]
    else:
        results = MultiClient(nodes, **kwargs).run(question)
    if len(results) == 1 and results[0].error is not None:
        error(results[0].error.text(utc=utc))
        raise typer.Exit(results[0].error.exit_code)
    report_node_errors(results, utc=utc)
    return results


def _import_httpx_without_its_cli() -> None:
    """``import httpx`` without ``httpx._main``, httpx's own command-line tool.

    httpx's ``__init__`` imports it for ``httpx.main``, and with it click, pygments and
    rich's syntax and progress modules: ~20 ms of start-up for a tool cctvctl never runs.
    A stand-in answers that one import; the real module loads on the first call of
    ``httpx.main`` or any later ``import httpx._main``.
    """
    if "httpx" in sys.modules or "httpx._main" in sys.modules:
        return
    stub = types.ModuleType("httpx._main")

    def main(*args: Any, **kwargs: Any) -> Any:
        if sys.modules.get("httpx._main") is stub:
            del sys.modules["httpx._main"]
        from httpx._main import main as real

        return real(*args, **kwargs)

    stub.main = main  # type: ignore[attr-defined]
    sys.modules["httpx._main"] = stub
    try:
        import httpx  # noqa: F401
    finally:
        if sys.modules.get("httpx._main") is stub:
            del sys.modules["httpx._main"]


def report_node_errors(results: Sequence[NodeResult[Any]], *, utc: bool = False) -> None:
    """Each failed node's one line; the server's times in it read WITA, or UTC."""
    for result in results:
        if result.error is not None:
            error(result.error.text(utc=utc))


def no_answer(result: NodeResult[Any]) -> str:
    """What a report shows for a node that did not answer: an unreachable node says so,
    and that its cameras are unknown, never offline."""
    error = result.error
    if error is not None and error.exit_code == exit_codes.UNREACHABLE:
        # Short: `status` is 60 columns wide; the error line above says why.
        return f"{result.name}: node unreachable, cameras unknown"
    return f"{result.name}: no answer (see the error above)"


def exit_code(results: Sequence[NodeResult[Any]]) -> int:
    """0 all answered; 3 some did; when none did, their shared code (else 1)."""
    failed = [r.error for r in results if r.error is not None]
    if not failed:
        return exit_codes.OK
    if len(failed) < len(results):
        return exit_codes.PARTIAL
    codes = {e.exit_code for e in failed}
    return codes.pop() if len(codes) == 1 else exit_codes.FAILURE


def jsonable(value: Any) -> Any:
    """API models as the API writes them; dataclasses, lists and dicts of them too."""
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


def print_results_json(
    results: Sequence[NodeResult[T]], multi: bool, shape: Callable[[T], Any] = jsonable
) -> None:
    if not multi:
        value = results[0].value
        assert value is not None
        print_json(shape(value))
        return
    nodes = []
    for r in results:
        err = r.error
        nodes.append(
            {
                "node": r.name,
                "url": r.url,
                "ok": err is None,
                "error": None if err is None else str(err),
                "exit_code": exit_codes.OK if err is None else err.exit_code,
                "result": None if r.value is None else shape(r.value),
            }
        )
    print_json({"nodes": nodes})


def out_console(no_color: bool, width: int | None = None, *, pipe_wide: bool = True) -> Console:
    """stdout for people. Styling stays off in pipes (rich), with NO_COLOR and --no-color;
    ``width`` caps the layout, e.g. the 60 columns of ``status``.

    In a pipe with no COLUMNS (cron mail, ``| grep``) the layout is :data:`PIPE_WIDTH`
    wide, not rich's 80 columns, so table rows stay whole and one line each.
    ``pipe_wide=False`` keeps rich's width (a text picture should not grow in a pipe).
    """
    out = console(no_color)
    if out.no_color and out.color_system is not None:
        # rich's no_color drops colours but keeps bold and dim; NO_COLOR users and the
        # tests that grep for escapes expect none at all, even on a forced terminal.
        from rich.console import Console

        out = Console(color_system=None, no_color=True, highlight=False, soft_wrap=False)
    if pipe_wide and not out.is_terminal and not os.environ.get("COLUMNS"):
        out.width = PIPE_WIDTH
    if width is not None and out.width > width:
        out.width = width
    return out


def parse_when(option: str, text: str, now: datetime) -> datetime:
    """``text`` as a time (see :mod:`cctvctl.timeparse`), or exit 2 naming the option."""
    try:
        return parse_time(text, now=now)
    except TimeParseError as exc:
        fail_usage(f"{option}: {exc}")


def since_until(since: str, until: str, utc: bool) -> tuple[datetime, datetime]:
    """``--since`` and ``--until`` as a window, read against one "now"; exit 2 unless the
    end comes after the start."""
    now = datetime.now(UTC)
    start = parse_when("--since", since, now)
    end = parse_when("--until", until, now)
    if end <= start:
        fail_usage(
            f"--until ({format_time(end, utc=utc)}) must be after "
            f"--since ({format_time(start, utc=utc)})"
        )
    return start, end


def clock(when: datetime | None, utc: bool, now: datetime | None = None) -> str:
    """A compact time for table cells: ``14:02:03`` today, ``11-27 14:02`` otherwise."""
    if when is None:
        return "-"
    zone = UTC if utc else WITA
    local = when.astimezone(zone)
    today = (now or datetime.now(UTC)).astimezone(zone).date()
    if local.date() == today:
        return local.strftime("%H:%M:%S")
    if local.year == today.year:
        return local.strftime("%m-%d %H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


def days_text(days: float | None) -> str:
    """Days until a disk or quota is full; ``-`` when it is not filling."""
    if days is None:
        return "-"
    return f"{days:.0f} d" if days >= 10 else f"{days:.1f} d"


def missing_text(seconds: float) -> str:
    """Footage missing: ``14 s`` under a minute, else ``3 min``; ``0 min`` only for none.

    A short gap is never rounded away to ``0 min``: any loss at all is news.
    """
    if seconds <= 0:
        return "0 min"
    if seconds < 59.5:
        return f"{math.ceil(seconds)} s"
    return f"{seconds / 60:.0f} min"


def zone_name(utc: bool) -> str:
    return "UTC" if utc else "WITA"
