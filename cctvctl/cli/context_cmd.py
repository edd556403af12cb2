"""`cctvctl context add|use|ls|rm`: the recording servers this console knows.

Also :func:`target`, which turns the server-choosing options (:mod:`cctvctl.cli.options`)
into a :class:`~cctvctl.cli.contexts.Target` or exits 2 with one line.
"""

from __future__ import annotations

import getpass
import os
import sys

import typer

from cctvctl.cli.contexts import (
    CONFIG_ENV,
    Context,
    ContextError,
    ContextFile,
    Target,
    all_targets,
    check_name,
    check_token,
    check_url,
    fingerprint,
    resolve,
)
from cctvctl.cli.output import Column, Priority, console, error, print_json, print_table

__all__ = [
    "app",
    "target",
    "targets",
]

app = typer.Typer(
    help=(
        "Named recording servers and their API tokens, like kubectl contexts. "
        f"Kept in ~/.config/cctvctl/config.toml (or ${CONFIG_ENV}), mode 0600."
    ),
    no_args_is_help=True,
)


def _fail(exc: ContextError) -> typer.Exit:
    error(str(exc))
    return typer.Exit(exc.exit_code)


def target(context: str | None, url: str | None, token: str | None) -> Target:
    """The server chosen by flags, environment or config; exits 2 with one line if none."""
    try:
        return resolve(context, url, token)
    except ContextError as exc:
        raise _fail(exc) from None


def targets() -> list[Target]:
    """Every context, for ``--all-contexts``; exits 2 with one line if there are none."""
    try:
        return all_targets()
    except ContextError as exc:
        raise _fail(exc) from None


def _load() -> ContextFile:
    loaded = ContextFile.load()
    for note in loaded.warnings:
        print(f"cctvctl: warning: {note}", file=sys.stderr)
    return loaded


def _save(contexts: ContextFile) -> None:
    for note in contexts.save():
        print(f"cctvctl: warning: {note}", file=sys.stderr)


def _read_token(name: str, token: str | None, token_env: str | None) -> str:
    if token is not None and token_env is not None:
        raise ContextError("give --token or --token-env, not both")
    if token is not None:
        return check_token(token)
    if token_env is not None:
        value = os.environ.get(token_env)
        if not value:
            raise ContextError(f"--token-env: environment variable {token_env!r} is not set")
        return check_token(value)
    if sys.stdin.isatty():
        return check_token(getpass.getpass(f"API token for {name} (not echoed): "))
    # Piped in (`pass show noc/token | cctvctl context add ...`): one line, no prompt.
    line = sys.stdin.readline()
    if not line.strip():
        raise ContextError(
            "no token: pass --token, --token-env VAR, or type it at the prompt (or pipe it in)"
        )
    return check_token(line)


@app.command("add")
def add(
    name: str = typer.Argument(..., help="Context name: lower-case letters, digits and '-'."),
    url: str = typer.Option(..., "--url", help="Server URL, e.g. http://10.20.1.5:8470."),
    token: str | None = typer.Option(
        None, "--token", help="API token (visible in shell history; prefer the prompt)."
    ),
    token_env: str | None = typer.Option(
        None, "--token-env", metavar="VAR", help="Read the API token from this variable now."
    ),
    use: bool = typer.Option(False, "--use", help="Make it the current context."),
    force: bool = typer.Option(False, "--force", help="Replace a context of the same name."),
) -> None:
    """Add a server. Without --token or --token-env the token is prompted for, hidden.

    Example: cctvctl context add sangatta --url http://10.20.1.5:8470 --use
    """
    try:
        check_name(name)
        base = check_url(url)
        contexts = _load()
        # Checked before the prompt, so nobody types a token only to be refused.
        contexts.check_new(name, replace=force)
        secret = _read_token(name, token, token_env)
        contexts.add(Context(name, base, secret), replace=force)
        first = contexts.current is None
        if use or first:
            contexts.use(name)
        _save(contexts)
    except ContextError as exc:
        raise _fail(exc) from None
    note = " (current)" if contexts.current == name else ""
    print(f"context {name!r} saved: {base}{note}")


@app.command("use")
def use_context(name: str = typer.Argument(..., help="Context name.")) -> None:
    """Make NAME the current context.

    Example: cctvctl context use bengalon
    """
    try:
        contexts = _load()
        contexts.use(name)
        _save(contexts)
    except ContextError as exc:
        raise _fail(exc) from None
    print(f"current context: {name} ({contexts.contexts[name].url})")


@app.command("ls")
def list_contexts(
    json_out: bool = typer.Option(False, "--json", help="Print the contexts as JSON."),
    no_color: bool = typer.Option(False, "--no-color", help="Plain text, no colour."),
) -> None:
    """List contexts; '*' marks the current one. Tokens show only as a hash fingerprint.

    Example: cctvctl context ls --json
    """
    try:
        contexts = _load()
    except ContextError as exc:
        raise _fail(exc) from None
    rows = [
        {
            "name": ctx.name,
            "url": ctx.url,
            "current": ctx.name == contexts.current,
            "token": fingerprint(ctx.token),
        }
        for ctx in contexts.contexts.values()
    ]
    if json_out:
        print_json({"config": str(contexts.path), "current": contexts.current, "contexts": rows})
        return
    out = console(no_color)
    if not rows:
        out.print(f"no contexts in {contexts.path}; add one with `cctvctl context add`")
        return
    columns = [
        Column("CURRENT", Priority.STATUS),
        Column("NAME", Priority.IDENTITY),
        Column("URL", Priority.IDENTITY),
        Column("TOKEN"),
    ]
    cells = [
        [
            "*" if row["current"] else "",
            str(row["name"]),
            str(row["url"]),
            str(row["token"] or "(none)"),
        ]
        for row in rows
    ]
    print_table(out, columns, cells)


@app.command("rm")
def remove(name: str = typer.Argument(..., help="Context name.")) -> None:
    """Remove a context (and its token) from the file.

    Example: cctvctl context rm old-node
    """
    try:
        contexts = _load()
        was_current = contexts.remove(name)
        _save(contexts)
    except ContextError as exc:
        raise _fail(exc) from None
    print(f"context {name!r} removed")
    if was_current:
        print(
            "it was the current context; none is current now: pick one with "
            "`cctvctl context use NAME`",
            file=sys.stderr,
        )
