"""The options every command that talks to a server shares, declared once.

A client command takes them all through :func:`server_options` and reads them from one
:class:`ServerOptions`::

    @server_options(every_context=True)
    def cameras(kecamatan: KecamatanOpt = None, *, opts: ServerOptions) -> None:
        results = ask(opts.nodes(), question)
        ...

so ``--context``, ``--url``, ``--token``, ``--all-contexts``, ``--json``, ``--no-color`` and
``--utc`` read the same, with the same help, in every command. The ``Annotated`` aliases
stay public for commands whose options differ (``tui`` repeats ``--context``).

Only typer and the standard library are imported here: every command is declared at
start-up.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from cctvctl.cli.contexts import CONTEXT_ENV, TOKEN_ENV, URL_ENV

if TYPE_CHECKING:
    from cctvctl.cli.contexts import Target

__all__ = [
    "AllContextsOpt",
    "AsciiOpt",
    "ContextOpt",
    "FleetOpt",
    "JsonOpt",
    "NoColorOpt",
    "ServerOptions",
    "TokenOpt",
    "UrlOpt",
    "UtcOpt",
    "camera_ids",
    "kecamatan_option",
    "server_options",
]

ContextOpt = Annotated[
    str | None,
    typer.Option(
        "--context",
        help=f"Use this named context (default: ${CONTEXT_ENV}, then the current one).",
        show_default=False,
    ),
]
UrlOpt = Annotated[
    str | None,
    typer.Option(
        "--url",
        help=f"Server URL, overriding the context's (default: ${URL_ENV}).",
        show_default=False,
    ),
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        help=f"API token (default: ${TOKEN_ENV}, then the context's). Visible in `ps`.",
        show_default=False,
    ),
]
AllContextsOpt = Annotated[
    bool,
    typer.Option("--all-contexts", help="Ask every context's server at once."),
]
FleetOpt = Annotated[
    bool,
    typer.Option(
        "--fleet",
        help="Ask every node of the server's fleet at once (the server names them; "
        "the same token goes to each).",
    ),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print JSON for scripts (the API's models) instead.")
]
NoColorOpt = Annotated[
    bool, typer.Option("--no-color", help="No colour or styling (NO_COLOR does the same).")
]
UtcOpt = Annotated[bool, typer.Option("--utc", help="Show times in UTC instead of WITA.")]
#: The console's pictures, for `cctvctl tui` and `cctvctl demo` alike.
AsciiOpt = Annotated[
    bool, typer.Option("--ascii", help="Monochrome ASCII thumbnails, for thin links.")
]


def camera_ids(help: str) -> Any:
    """The ``CAMERA...`` argument of a command that takes cameras by id or by kecamatan
    (see :func:`cctvctl.cli.common.chosen_cameras`); ``help`` says which cameras."""
    return typer.Argument(help=help, metavar="CAMERA", show_default=False)


def kecamatan_option(help: str) -> Any:
    """``--kecamatan/-k K``; ``help`` says what the command does with it."""
    return typer.Option("--kecamatan", "-k", help=help, metavar="K")


#: The parameter a decorated command receives the options in.
_PARAM: Final = "opts"


@dataclass(frozen=True)
class ServerOptions:
    """What a command was told about its server(s) and its output."""

    context: str | None = None
    url: str | None = None
    token: str | None = None
    all_contexts: bool = False
    fleet: bool = False
    json: bool = False
    no_color: bool = False
    utc: bool = False

    @property
    def multi(self) -> bool:
        """Several nodes answer: their results are labelled by node."""
        return self.all_contexts or self.fleet

    def nodes(self) -> list[Target]:
        """The servers to ask: one (flags > environment > context), with
        ``--all-contexts`` every context's, with ``--fleet`` every node of the one
        server's fleet; exits 2 with one line if none is chosen."""
        from cctvctl.cli.common import fail_usage, servers

        if not self.fleet:
            return servers(self.context, self.url, self.token, self.all_contexts)
        if self.all_contexts:
            fail_usage("--fleet asks one server for its fleet; drop --all-contexts")
        from cctvctl.cli.fleet_nodes import fleet_targets

        return fleet_targets(servers(self.context, self.url, self.token, False)[0], self.utc)


# (parameter, ServerOptions field, alias, default), in the order --help lists them.
_CHOOSE: Final = (
    ("context", "context", ContextOpt, None),
    ("url", "url", UrlOpt, None),
    ("token", "token", TokenOpt, None),
)
_EVERY: Final = (("all_contexts", "all_contexts", AllContextsOpt, False),)
_FLEET: Final = (("fleet", "fleet", FleetOpt, False),)
_JSON: Final = (("json_out", "json", JsonOpt, False),)
_DISPLAY: Final = (
    ("no_color", "no_color", NoColorOpt, False),
    ("utc", "utc", UtcOpt, False),
)


def server_options(
    *, every_context: bool = False, fleet: bool = False, display: bool = True
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Gives a command ``--context/--url/--token`` and ``--json``, plus ``--all-contexts``
    when ``every_context``, ``--fleet`` when ``fleet`` and ``--no-color/--utc`` when
    ``display``; the command gets them as one keyword argument ``opts: ServerOptions``."""
    chosen = (
        _CHOOSE
        + (_EVERY if every_context else ())
        + (_FLEET if fleet else ())
        + _JSON
        + (_DISPLAY if display else ())
    )

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        signature = inspect.signature(command, eval_str=True)
        own = [p for name, p in signature.parameters.items() if name != _PARAM]
        if len(own) == len(signature.parameters):
            raise TypeError(f"{command.__name__} takes no '{_PARAM}: ServerOptions'")
        added = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=alias, default=d)
            for name, _field, alias, d in chosen
        ]

        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> None:
            given = {field: kwargs.pop(name) for name, field, _alias, _d in chosen}
            command(*args, **kwargs, **{_PARAM: ServerOptions(**given)})

        # typer reads the command's options from its signature and annotations.
        parameters = own + added
        run.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in parameters} | {
            "return": signature.return_annotation
        }
        return run

    return decorate
