"""The server options are the same in every command that talks to a server, and a usage
mistake in any command is refused the same way."""

from __future__ import annotations

from typing import Any

import pytest
import typer.main
from cli_process import NO_CONFIG, clean_env, run_cctvctl

from cctvctl.cli.main import app
from cctvctl.cli.options import ServerOptions, server_options

# Every client command, and which of the optional groups it has.
COMMANDS = {
    ("status",): (True, True),
    ("cameras",): (True, True),
    ("health",): (True, True),
    ("gaps",): (True, True),
    ("audit",): (True, True),
    ("snapshot",): (False, True),
    ("reboot",): (False, True),
    ("export",): (False, True),
    ("exports", "ls"): (False, True),
    ("exports", "show"): (False, True),
    ("exports", "download"): (False, True),
    ("exports", "cancel"): (False, False),
    ("exports", "verify"): (False, True),
    ("case", "hold"): (False, True),
    ("case", "release"): (False, True),
    ("case", "show"): (False, True),
    ("fleet", "nodes"): (False, True),
    ("fleet", "where"): (False, True),
    ("fleet", "apply"): (False, False),
    ("token", "create"): (False, False),
}
#: The commands that ask every node of a fleet with --fleet.
FLEET = {("status",), ("cameras",), ("health",), ("audit",)}


def _command(path: tuple[str, ...]) -> Any:
    # typer carries its own click, so the objects are read by what they do.
    command: Any = typer.main.get_command(app)
    for name in path:
        found = command.get_command(command.context_class(command), name)
        assert found is not None, path
        command = found
    return command


def _options(command: Any) -> dict[str, str | None]:
    return {
        opt: p.help
        for p in command.params
        if p.param_type_name == "option"
        for opt in p.opts
        if opt.startswith("--")
    }


@pytest.mark.parametrize("path", list(COMMANDS))
def test_every_client_command_has_the_same_server_options(path: tuple[str, ...]) -> None:
    every, display = COMMANDS[path]
    options = _options(_command(path))
    reference = _options(_command(("status",)))  # has them all
    wanted = ["--context", "--url", "--token", "--json"]
    wanted += ["--all-contexts"] if every else []
    wanted += ["--no-color", "--utc"] if display else []
    for name in wanted:
        assert options.get(name) == reference[name], (path, name)
    if not every:
        assert "--all-contexts" not in options
    if path in FLEET:
        assert options["--fleet"] == reference["--fleet"], path
    elif path != ("token", "create"):  # there --fleet means the fleet store, not its nodes
        assert "--fleet" not in options, path


def test_a_command_without_opts_is_refused_at_declaration() -> None:
    def stray(camera: str) -> None:
        raise AssertionError("never run")

    with pytest.raises(TypeError, match="stray takes no 'opts: ServerOptions'"):
        server_options()(stray)


def test_the_command_gets_what_was_typed() -> None:
    seen: list[ServerOptions] = []

    def probe(*, opts: ServerOptions) -> None:
        seen.append(opts)

    server_options(every_context=True)(probe)(
        context="sgt", url=None, token="t", all_contexts=False, json_out=True,
        no_color=True, utc=False,
    )  # fmt: skip
    assert seen == [ServerOptions(context="sgt", token="t", json=True, no_color=True)]


# A bad flag, choice or missing argument is refused before any server is asked, in the
# one-line form of every other refusal: what was wrong, what is accepted, where to look.
@pytest.mark.parametrize(
    ("args", "names"),
    [
        (("cameras", "--status", "bogus"), ("--status", "'bogus'", "'offline'", "cameras -h")),
        (("cameras", "--sort", "bogus"), ("--sort", "'last-seen'", "cameras -h")),
        (("token", "create", "--name", "me", "--role", "root"), ("--role", "'viewer'")),
        (("status", "--bogus"), ("--bogus", "status -h")),
        (("snapshot",), ("camera", "snapshot -h")),
        (("export", "sgu-camat-01"), ("--from", "export -h")),
        (("version",), ("'version'", "cctvctl -h")),
        # `reboot` and `time sync` take cameras the same way (CAMERA... or --kecamatan K,
        # common.chosen_cameras); a choice that passes reaches "no server chosen" instead.
        (("time", "sync"), ("name the cameras to set", "--kecamatan K")),
        (("reboot", "--reason", "x"), ("name the targets", "--kecamatan K", "--offline-for")),
        (("reboot", "cam-01", "-k", "bengalon", "--reason", "x"), ("camera ids or --kecamatan",)),
        (("time", "sync", "cam-01", "-k", "bengalon"), ("no server chosen",)),  # joined
        (("reboot", "--offline-for", "15m", "--reason", "x"), ("no server chosen",)),
        (("reboot", "-k", "bengalon", "--reason", "x"), ("no server chosen",)),
        (("time", "sync", "cam-01"), ("no server chosen",)),
    ],
)
def test_a_usage_mistake_is_one_error_line_and_exit_2(
    args: tuple[str, ...], names: tuple[str, ...]
) -> None:
    proc = run_cctvctl(*args, env=clean_env() | {"CCTVCTL_CONFIG": NO_CONFIG})
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    [line] = proc.stderr.splitlines()
    assert line.startswith("cctvctl: error: "), line
    assert "Usage:" not in line and "Value error" not in line
    for name in names:
        assert name in line, (name, line)


def test_help_and_a_bare_group_still_show_the_usage() -> None:
    env = clean_env() | {"CCTVCTL_CONFIG": NO_CONFIG}
    asked = run_cctvctl("cameras", "-h", env=env)
    assert asked.returncode == 0 and "--status" in asked.stdout
    bare = run_cctvctl("exports", env=env)
    assert bare.returncode == 2
    assert "Usage:" in bare.stdout + bare.stderr and " ls " in bare.stdout + bare.stderr
