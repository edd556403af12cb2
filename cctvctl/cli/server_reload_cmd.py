"""`cctvctl server reload`: a running server re-reads its inventory file, in place.

The server does the work (``POST /api/v1/server/reload``); this command says what
changed, or lists the problems exactly as ``cctvctl config check`` does (exit 2).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

from cctvctl.cli import exit_codes
from cctvctl.cli.common import ask
from cctvctl.cli.options import ServerOptions, server_options
from cctvctl.cli.output import error, print_json
from cctvctl.termsafe import for_terminal
from cctvctl.units import counted

if TYPE_CHECKING:
    from cctvctl.client import AsyncCctvClient, BadRequest
    from cctvctl.models import ReloadResult

__all__ = ["reload"]


@server_options(display=False)
def reload(*, opts: ServerOptions) -> None:
    """Make a running server re-read its inventory file and apply it without a restart.

    Example: cctvctl server reload --context sgu-1

    New cameras record within seconds, removed ones stop (their footage is kept),
    changed ones reconnect; every other camera records on untouched. Token changes take
    effect at once. Needs the admin role (exit 4). A file the server refuses is listed
    line by line as by `cctvctl config check` (exit 2) and the server keeps running its
    old inventory. [server] keys that need a restart (listen, storage, ...) are named on
    stderr and keep their running values. SIGHUP to the server process does the same.
    JSON: the API's ReloadResult, or {"ok": false, "errors": [...]}.
    """

    async def question(client: AsyncCctvClient) -> ReloadResult | BadRequest:
        from cctvctl.client import BadRequest

        try:
            return await client.reload_server()
        except BadRequest as exc:
            # A refused file: the caller lists its problems, not just the summary.
            return exc

    (result,) = ask(opts.nodes(), question, loop_free=True)
    answer = result.value
    if isinstance(answer, Exception):  # the BadRequest of a refused file
        errors = [str(e) for e in (answer.problem or {}).get("errors", [])]
        if opts.json:
            print_json({"ok": False, "detail": answer.detail, "errors": errors})
        else:
            for line in errors or [str(answer)]:
                error(line)
        raise typer.Exit(exit_codes.USAGE)
    assert answer is not None
    if opts.json:
        print_json(answer.model_dump(mode="json"))
        return
    print(for_terminal(f"reloaded {answer.file}: {counted(answer.cameras, 'camera')}"))
    for line in answer.changes:
        print(for_terminal(f"  {line}"))
    if answer.needs_restart:
        print(
            for_terminal(
                f"cctvctl: warning: {', '.join(answer.needs_restart)} changed in the file: "
                "only a restart applies them; the server keeps its running values"
            ),
            file=sys.stderr,
        )
