"""`cctvctl server` (the recording backend) and `cctvctl token create` (API tokens).

This is the one front-end module allowed to import ``cctvctl.server``; it does so inside
the command, so other commands never pay for FastAPI, uvicorn or PyAV.
"""

from __future__ import annotations

import enum
import json
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from cctvctl.cli import exit_codes
from cctvctl.cli.inventory_file import load_inventory_or_exit
from cctvctl.cli.options import ServerOptions, server_options
from cctvctl.cli.output import error, print_json

if TYPE_CHECKING:
    import socket

    from cctvctl.client import AsyncCctvClient
    from cctvctl.config import Inventory
    from cctvctl.models import FleetToken
    from cctvctl.server.credentials import Redactor

__all__ = [
    "TOKEN_PREFIX",
    "parse_listen",
    "register",
    "server",
    "server_app",
    "token_app",
    "token_lines",
]

TOKEN_PREFIX = "cctv_"  # noqa: S105 (a marker that makes tokens greppable, not a secret)
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
# Long enough for every open segment to be closed and indexed, short enough that a
# service manager's own stop timeout (systemd: 90 s) never has to kill us.
GRACEFUL_SECONDS = 10


class RoleChoice(enum.StrEnum):
    """Mirrors ``cctvctl.models.Role`` without importing pydantic at CLI start-up."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"


class LogLevel(enum.StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


token_app = typer.Typer(
    help="API tokens for `cctvctl server`: create one, paste its hash into the config.",
    no_args_is_help=True,
)


def parse_listen(value: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:8470`` for IPv6) -> (host, port); ValueError says what is wrong."""
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not host:port; accepted e.g. 127.0.0.1:8470")
    return host, int(port)


def _log_time(created: float) -> str:
    """``2026-12-05T15:40:01.123+08:00``: the log's reader sees WITA like every other time
    cctvctl prints, and the offset says so to a log shipper."""
    from datetime import datetime

    from cctvctl.timeparse import WITA

    return datetime.fromtimestamp(created, WITA).isoformat(timespec="milliseconds")


def _configure_logging(level: LogLevel, secrets_to_hide: list[str]) -> Redactor:
    import logging
    import sys

    from cctvctl.server.credentials import RedactingFilter, Redactor
    from cctvctl.server.shutdown_log import CancelledAtShutdown

    class ZonedFormatter(logging.Formatter):
        def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
            return _log_time(record.created)

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ZonedFormatter(LOG_FORMAT))
    # On the handler, not a logger: records from every library (uvicorn, libav glue,
    # the recorder) pass through it, whichever logger they were made on.
    redact = Redactor(secrets_to_hide)
    handler.addFilter(RedactingFilter(redact))
    handler.addFilter(CancelledAtShutdown())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.value.upper())
    return redact


def _bind(host: str, port: int) -> socket.socket:
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP, not the default 0: asyncio only sets TCP_NODELAY on accepted
    # sockets whose proto says TCP, and without it every keep-alive response stalls
    # ~40 ms on Nagle and delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock


# No help= here: `cctvctl server --help` shows the server's own docstring.
server_app = typer.Typer(
    invoke_without_command=True,
    no_args_is_help=False,
)


def _named_node(inventory: Inventory, node: str | None) -> Inventory:
    """The inventory with ``--node`` as its node name; exits 2 on a name a fleet cannot use."""
    from cctvctl.config import SLUG_RE

    if node is not None and not SLUG_RE.match(node):
        error(f"--node {node!r}: a node name is lower-case letters, digits and '-', e.g. sgu-1")
        raise typer.Exit(exit_codes.USAGE)
    name = node or inventory.server.node
    if inventory.fleet is None:
        if node is not None:
            error(f"--node names a fleet node, and {inventory.path} has no [fleet] table")
            raise typer.Exit(exit_codes.USAGE)
        return inventory
    if name is None:
        error(
            f"{inventory.path} has a [fleet] table: name this node with --node NAME "
            'or [server] node = "NAME"'
        )
        raise typer.Exit(exit_codes.USAGE)
    return inventory.with_node(name)


def server(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None, "--config", "-c", help="Inventory TOML: cameras, storage, tokens."
    ),
    listen: str | None = typer.Option(
        None,
        "--listen",
        metavar="HOST:PORT",
        help="Address to serve the API on (default: [server].listen, 127.0.0.1:8470).",
    ),
    node: str | None = typer.Option(
        None,
        "--node",
        metavar="NAME",
        help="This node's name in the fleet of [fleet] (default: [server].node), e.g. sgu-1.",
    ),
    log_level: LogLevel = typer.Option(LogLevel.INFO, "--log-level", help="Log detail."),
    access_log: bool = typer.Option(
        False, "--access-log", help="Log one line per HTTP request (off: thumbnails are many)."
    ),
) -> None:
    """Record every enabled camera of the inventory and serve the HTTP API.

    Logs go to stderr, one line per camera state change. SIGTERM or Ctrl-C closes and
    indexes every open segment before exiting. SIGHUP re-reads the file and applies it
    in place, like `cctvctl server reload`.

    Example: cctvctl server --config examples/kutim.toml
    """
    if ctx.invoked_subcommand is not None:
        if config is not None or listen is not None or node is not None:
            error(
                f"--config, --listen and --node start a server; `server {ctx.invoked_subcommand}` "
                "takes its own options (see --help)"
            )
            raise typer.Exit(exit_codes.USAGE)
        return
    if config is None:
        error(
            "--config is required to run the server, e.g. cctvctl server --config site.toml; "
            "`cctvctl server reload` reloads a running one"
        )
        raise typer.Exit(exit_codes.USAGE)
    # Here and not in the recorder's start-up, where an unusable folder would end
    # uvicorn's lifespan with a traceback and exit 3.
    inventory = load_inventory_or_exit(config, check_storage=True)
    inventory = _named_node(inventory, node)
    address = listen or inventory.server.listen
    try:
        host, port = parse_listen(address)
    except ValueError as exc:
        error(f"--listen: {exc}")
        raise typer.Exit(exit_codes.USAGE) from None
    redact = _configure_logging(
        log_level, [inventory.password(e.camera.id) for e in inventory.cameras()]
    )

    import logging

    log = logging.getLogger("cctvctl.server")
    for path, mode, what in inventory.exposed_files():
        log.warning(
            "%s is readable by others (mode %04o) and holds %s; fix it with `chmod 600 %s`",
            path,
            mode,
            what,
            path,
        )
    if not inventory.server.token:
        log.warning(
            "no [[server.token]] in %s: every API route except /healthz will answer 401; "
            "make one with `cctvctl token create`",
            config,
        )
    # Bind before starting the recorder, so "address in use" is a one-line error and not
    # a recorder that starts, reconciles and stops again.
    try:
        sock = _bind(host, port)
    except OSError as exc:
        error(f"cannot listen on {address}: {exc.strerror or exc}")
        raise typer.Exit(exit_codes.FAILURE) from None
    ok = _serve(inventory, sock, log_level, access_log, redact, f"http://{address}")
    if not ok:
        raise typer.Exit(exit_codes.FAILURE)


def _serve(
    inventory: Inventory,
    sock: socket.socket,
    level: LogLevel,
    access_log: bool,
    redact: Redactor,
    url: str,
) -> bool:
    import asyncio
    import signal

    import uvicorn

    from cctvctl.server.app import create_app
    from cctvctl.server.connections import header_deadline_protocol
    from cctvctl.server.reload import reload_on_signal
    from cctvctl.server.runtime import signal_stopping

    app = create_app(inventory, redact=redact, url=url)
    settings = inventory.server

    def _wake(waiter: asyncio.Future[None]) -> None:
        if not waiter.done():
            waiter.set_result(None)

    class Server(uvicorn.Server):
        # uvicorn's main loop wakes ten times a second to see whether a signal asked it
        # to stop. A timed wake-up costs 0.1 to 0.25 ms of CPU on the 2-core VM, so that
        # loop alone took 2.4 ms of CPU a second, about a tenth of the server's while it
        # records 16 cameras. It wakes once a second here (the Date header it keeps is
        # to the second anyway), and at once when a signal arrives.
        _waiter: asyncio.Future[None] | None = None
        _loop: asyncio.AbstractEventLoop | None = None

        async def main_loop(self) -> None:
            loop = self._loop = asyncio.get_running_loop()
            counter = 0  # on_tick refreshes the Date header when counter % 10 == 0
            while not await self.on_tick(counter):
                counter = (counter + 10) % 864000
                waiter = self._waiter = loop.create_future()
                if self.should_exit:  # a signal between on_tick and the new waiter
                    break
                timer = loop.call_later(1.0, _wake, waiter)
                try:
                    await waiter
                finally:
                    timer.cancel()

        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            # uvicorn waits for open event streams before it runs the lifespan
            # shutdown that closes the segments: end them now.
            signal_stopping(app)
            waiter, loop = self._waiter, self._loop
            if waiter is not None and loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(_wake, waiter)

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            # Only once the recorder runs: a SIGHUP before that is ignored (below).
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGHUP, reload_on_signal, app, "SIGHUP")

    cfg = uvicorn.Config(
        app,
        log_config=None,
        log_level=level.value,
        access_log=access_log,
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
        lifespan="on",
        server_header=False,
        http=header_deadline_protocol(settings.header_timeout),
        timeout_keep_alive=settings.keep_alive_timeout,
        # Beyond it uvicorn answers 503 at once instead of queueing without bound.
        limit_concurrency=settings.max_connections,
    )
    srv = Server(cfg)
    # uvicorn re-raises the signal that stopped it once it is done; with the default
    # handlers that turns a clean shutdown into "killed by SIGTERM" or a traceback.
    quiet = {
        sig: signal.signal(sig, lambda *_: None)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    try:
        srv.run(sockets=[sock])
    finally:
        for sig, handler in quiet.items():
            signal.signal(sig, handler)
        sock.close()
    return bool(srv.started)


def token_lines(name: str, role: str, token_hash: str) -> str:
    """The TOML to paste into the inventory for one token."""
    # JSON string syntax is valid TOML basic-string syntax for any name.
    return (
        "[[server.token]]\n"
        f"name = {json.dumps(name, ensure_ascii=False)}\n"
        f'role = "{role}"\n'
        f'hash = "{token_hash}"\n'
    )


@token_app.command("create")
@server_options(display=False)
def token_create(
    name: str = typer.Option(..., "--name", help="Who or what uses it, e.g. noc-oncall."),
    role: RoleChoice = typer.Option(
        ..., "--role", help="viewer reads, operator also exports, admin also reboots."
    ),
    fleet: bool = typer.Option(
        False,
        "--fleet",
        help="Store its hash in the fleet store through a node (--context or --url, an "
        "admin token): every node accepts it, nothing to paste.",
    ),
    *,
    opts: ServerOptions,
) -> None:
    """Make a new API token: prints it once, with the config lines holding its hash.

    Example: cctvctl token create --name noc-oncall --role viewer

    With --fleet (cctvctl token create --name noc-oncall --role viewer --fleet --context
    sgu-1) the hash goes to the fleet store through that node and the token is printed
    only once the node has stored it; the token itself never leaves this machine.
    """
    from cctvctl.config import hash_token

    name = name.strip()
    if not name:
        error("--name must not be empty; e.g. --name noc-oncall")
        raise typer.Exit(exit_codes.USAGE)
    if not fleet and (opts.context or opts.url or opts.token):
        error("--context, --url and --token name the node for --fleet; add --fleet or drop them")
        raise typer.Exit(exit_codes.USAGE)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_hash = hash_token(token)
    if fleet:
        _token_to_fleet(name, role.value, token, token_hash, opts)
        return
    lines = token_lines(name, role.value, token_hash)
    if opts.json:
        print_json(
            {"name": name, "role": role.value, "token": token, "hash": token_hash, "toml": lines}
        )
        return
    print(f"API token for {name!r} ({role.value}); it is shown only this once:\n")
    print(f"  {token}\n")
    print(
        "Add these lines to the server's inventory file, then `cctvctl server reload` "
        "(or SIGHUP) applies them without a restart:\n"
    )
    print(lines, end="")


def _token_to_fleet(name: str, role: str, token: str, token_hash: str, opts: ServerOptions) -> None:
    """The hash to the fleet store through one node; the token is shown only once stored
    (a refusal exits with its one line, and no token was made as far as anyone knows)."""
    from cctvctl.cli.common import ask
    from cctvctl.termsafe import for_terminal

    async def question(client: AsyncCctvClient) -> FleetToken:
        return await client.fleet_token_put(name, role, token_hash)

    (result,) = ask(opts.nodes(), question, loop_free=True)
    node = for_terminal(result.name)
    if opts.json:
        print_json({"name": name, "role": role, "token": token, "hash": token_hash, "fleet": node})
        return
    print(f"API token for {name!r} ({role}); it is shown only this once:\n")
    print(f"  {token}\n")
    print(f"Its hash is in the fleet store (through {node}): every node of the fleet takes it.")


def register(app: typer.Typer) -> None:
    """Add `server` (with `server reload`) and `token` to the top-level app."""
    from cctvctl.cli import server_reload_cmd

    server_app.callback()(server)
    server_app.command("reload")(server_reload_cmd.reload)
    app.add_typer(server_app, name="server")
    app.add_typer(token_app, name="token")
