"""Contexts: the `cctvctl context` commands as a user runs them, and target resolution.

Commands run as subprocesses (``python -m cctvctl context ...``) with ``CCTVCTL_CONFIG``
pointing into ``tmp_path``, so nothing touches the real home directory.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from cli_process import clean_env, drain_pty, run_cctvctl
from harness import REPO

from cctvctl.cli import exit_codes
from cctvctl.cli.contexts import (
    Context,
    ContextError,
    ContextFile,
    _toml_string,
    all_targets,
    fingerprint,
    resolve,
)

# Characters TOML must escape or that a naive writer would mangle.
NASTY_TOKEN = 'cctv_"quoted"\\back\\slash#not-a-comment=[x]\'é'
TOKEN_A = "cctv_alpha-0123456789abcdef0123456789"
TOKEN_B = "cctv_bravo-fedcba9876543210fedcba9876"


def run(
    cfg: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = clean_env() | {"CCTVCTL_CONFIG": str(cfg), "HOME": str(cfg.parent), **(env or {})}
    return run_cctvctl("context", *args, env=clean, input=stdin)


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return tmp_path / "conf" / "cctvctl" / "config.toml"


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def add_two(cfg: Path) -> None:
    assert (
        run(cfg, "add", "alpha", "--url", "http://10.0.0.1:8470/", "--token", TOKEN_A).returncode
        == 0
    )
    assert (
        run(cfg, "add", "bravo", "--url", "https://rec-b.example", "--token", TOKEN_B).returncode
        == 0
    )


# --------------------------------------------------------------------------- the file


def test_add_writes_0600_file_in_0700_dir_and_leaves_no_temp_files(cfg: Path) -> None:
    result = run(cfg, "add", "alpha", "--url", "http://10.0.0.1:8470", "--token", NASTY_TOKEN)
    assert result.returncode == 0, result.stderr
    assert mode(cfg) == 0o600
    assert mode(cfg.parent) == 0o700
    # More writes, then the directory holds exactly the file: every temp file was renamed.
    assert run(cfg, "add", "bravo", "--url", "http://10.0.0.2", "--token", TOKEN_B).returncode == 0
    assert run(cfg, "use", "bravo").returncode == 0
    assert run(cfg, "rm", "bravo").returncode == 0
    assert sorted(p.name for p in cfg.parent.iterdir()) == ["config.toml"]
    assert mode(cfg) == 0o600
    data = tomllib.loads(cfg.read_text())
    assert data["contexts"]["alpha"] == {"url": "http://10.0.0.1:8470", "token": NASTY_TOKEN}


def test_token_never_printed(cfg: Path) -> None:
    add = run(cfg, "add", "alpha", "--url", "http://10.0.0.1:8470", "--token", TOKEN_A, "--use")
    assert add.returncode == 0
    human = run(cfg, "ls")
    machine = run(cfg, "ls", "--json")
    for result in (add, human, machine):
        assert TOKEN_A not in result.stdout + result.stderr
        # Not even a tail of it: the fingerprint is a hash, not the token's last characters.
        assert TOKEN_A[-6:] not in result.stdout + result.stderr
    mark = fingerprint(TOKEN_A)
    assert mark is not None and mark in human.stdout
    listing = json.loads(machine.stdout)
    assert listing["current"] == "alpha"
    assert listing["contexts"] == [
        {
            "name": "alpha",
            "url": "http://10.0.0.1:8470",
            "current": True,
            "token": fingerprint(TOKEN_A),
        }
    ]


def test_ls_marks_current(cfg: Path) -> None:
    add_two(cfg)
    assert run(cfg, "use", "bravo").returncode == 0
    lines = {line.split()[-3]: line for line in run(cfg, "ls").stdout.splitlines()[1:]}
    assert lines["bravo"].lstrip().startswith("*")
    assert not lines["alpha"].lstrip().startswith("*")


def test_first_context_becomes_current_and_use_switches(cfg: Path) -> None:
    add_two(cfg)
    assert tomllib.loads(cfg.read_text())["current"] == "alpha"
    result = run(cfg, "use", "bravo")
    assert result.returncode == 0
    assert tomllib.loads(cfg.read_text())["current"] == "bravo"
    missing = run(cfg, "use", "charlie")
    assert missing.returncode == exit_codes.USAGE
    assert "alpha, bravo" in missing.stderr
    assert tomllib.loads(cfg.read_text())["current"] == "bravo"


def test_rm_current_context_leaves_none_current(cfg: Path) -> None:
    add_two(cfg)
    result = run(cfg, "rm", "alpha")
    assert result.returncode == 0
    assert "none is current" in result.stderr
    data = tomllib.loads(cfg.read_text())
    assert "current" not in data
    assert list(data["contexts"]) == ["bravo"]
    with pytest.raises(ContextError, match=r"no server chosen.*bravo"):
        resolve(env={}, path=cfg)
    again = run(cfg, "rm", "alpha")
    assert again.returncode == exit_codes.USAGE
    assert "no context 'alpha'" in again.stderr


def test_looser_existing_file_is_fixed_with_a_warning(cfg: Path) -> None:
    add_two(cfg)
    os.chmod(cfg, 0o644)
    listing = run(cfg, "ls")
    assert listing.returncode == 0
    assert "readable by others" in listing.stderr
    assert mode(cfg) == 0o644  # reading never rewrites
    changed = run(cfg, "use", "bravo")
    assert changed.returncode == 0
    assert "0644" in changed.stderr
    assert mode(cfg) == 0o600


def test_symlinked_file_is_written_through(cfg: Path, tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "cctvctl.toml"
    real.parent.mkdir()
    cfg.parent.mkdir(parents=True)
    cfg.symlink_to(real)
    assert run(cfg, "add", "alpha", "--url", "http://10.0.0.1", "--token", TOKEN_A).returncode == 0
    assert cfg.is_symlink()
    assert mode(real) == 0o600
    assert "alpha" in tomllib.loads(real.read_text())["contexts"]


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (("add", "Alpha", "--url", "http://x"), "context name 'Alpha'"),
        (("add", "al/pha", "--url", "http://x"), "context name"),
        (("add", "-x", "--url", "http://x"), ""),  # click: no such option
        (("add", "alpha", "--url", "ftp://x"), "http:// or https://"),
        (("add", "alpha", "--url", "10.0.0.1:8470"), "http:// or https://"),
        (("add", "alpha", "--url", "http://"), "no host"),
        (("add", "alpha", "--url", "http://x:99999"), "not valid"),
        (("add", "alpha", "--url", "http://admin:pw@x"), "credentials"),
        (("add", "alpha", "--url", "http://x/?a=1"), "query"),
    ],
)
def test_bad_name_or_url_is_usage_error(cfg: Path, args: tuple[str, ...], mentions: str) -> None:
    result = run(cfg, *args, "--token", TOKEN_A)
    assert result.returncode == exit_codes.USAGE
    assert mentions in result.stderr
    assert not cfg.exists()
    assert TOKEN_A not in result.stderr


def test_bad_error_is_one_line(cfg: Path) -> None:
    result = run(cfg, "add", "alpha", "--url", "gopher://x", "--token", TOKEN_A)
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("cctvctl: error: ")


def test_token_from_stdin_and_env(cfg: Path) -> None:
    piped = run(cfg, "add", "alpha", "--url", "http://10.0.0.1", stdin=TOKEN_A + "\n")
    assert piped.returncode == 0, piped.stderr
    from_env = run(
        cfg, "add", "bravo", "--url", "http://10.0.0.2", "--token-env", "NOC_TOKEN",
        env={"NOC_TOKEN": TOKEN_B},
    )  # fmt: skip
    assert from_env.returncode == 0, from_env.stderr
    contexts = ContextFile.load(cfg).contexts
    assert contexts["alpha"].token == TOKEN_A
    assert contexts["bravo"].token == TOKEN_B


@pytest.mark.parametrize(
    ("args", "stdin", "mentions"),
    [
        ((), "", "no token"),
        ((), "   \n", "no token"),
        (("--token-env", "UNSET_VAR_FOR_TEST"), "", "UNSET_VAR_FOR_TEST"),
        (("--token", "a", "--token-env", "HOME"), "", "not both"),
        (("--token", "two words"), "", "spaces"),
    ],
)
def test_missing_or_bad_token_is_usage_error(
    cfg: Path, args: tuple[str, ...], stdin: str, mentions: str
) -> None:
    result = run(cfg, "add", "alpha", "--url", "http://10.0.0.1", *args, stdin=stdin)
    assert result.returncode == exit_codes.USAGE
    assert mentions in result.stderr
    assert not cfg.exists()


def test_add_existing_needs_force(cfg: Path) -> None:
    add_two(cfg)
    again = run(cfg, "add", "alpha", "--url", "http://10.9.9.9", "--token", TOKEN_B)
    assert again.returncode == exit_codes.USAGE
    assert "--force" in again.stderr
    assert ContextFile.load(cfg).contexts["alpha"].token == TOKEN_A
    forced = run(cfg, "add", "alpha", "--url", "http://10.9.9.9", "--token", TOKEN_B, "--force")
    assert forced.returncode == 0
    assert ContextFile.load(cfg).contexts["alpha"] == Context("alpha", "http://10.9.9.9", TOKEN_B)


@pytest.mark.parametrize(
    ("text", "mentions"),
    [
        ("current = [", "not valid TOML"),
        ('colour = "red"', "unknown key 'colour'"),
        ('[contexts.a]\nurl = "http://x"\npassword = "p"', "[contexts.a]: unknown key 'password'"),
        ("[contexts.a]\nurl = 5", "[contexts.a]: 'url'"),
        ('[contexts.a]\nurl = "file:///etc"', "[contexts.a]"),
        ('current = "b"\n[contexts.a]\nurl = "http://x"', "current context 'b'"),
    ],
)
def test_hand_edited_file_errors_name_file_and_key(cfg: Path, text: str, mentions: str) -> None:
    cfg.parent.mkdir(parents=True)
    cfg.write_text(text)
    os.chmod(cfg, 0o600)
    result = run(cfg, "ls")
    assert result.returncode == exit_codes.USAGE
    assert str(cfg) in result.stderr
    assert mentions in result.stderr


@pytest.mark.parametrize(
    "value",
    ["plain", 'q"uote', "back\\slash", "tab\there", "nl\nx", "cr\rx", "\x00\x1f\x7f", "é—ü🙂"],
)
def test_toml_strings_round_trip(value: str) -> None:
    assert tomllib.loads(f"k = {_toml_string(value)}")["k"] == value


def test_file_round_trips_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "c" / "config.toml"
    written = ContextFile(path)
    written.add(Context("a", "http://x", NASTY_TOKEN))
    written.add(Context("b", "https://y:1", None))
    written.use("b")
    assert written.save() == []
    loaded = ContextFile.load(path)
    assert loaded.contexts == written.contexts
    assert loaded.current == "b"
    assert "NASTY" not in repr(loaded) and NASTY_TOKEN not in repr(loaded)


# --------------------------------------------------------------------------- resolution


@pytest.fixture
def two(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    contexts = ContextFile(path)
    contexts.add(Context("alpha", "http://10.0.0.1:8470", TOKEN_A))
    contexts.add(Context("bravo", "http://10.0.0.2:8470", TOKEN_B))
    contexts.use("alpha")
    contexts.save()
    return path


def test_current_context_is_the_default(two: Path) -> None:
    target = resolve(env={}, path=two)
    assert (target.name, target.url, target.token, target.source) == (
        "alpha", "http://10.0.0.1:8470", TOKEN_A, "config",
    )  # fmt: skip


def test_env_beats_current(two: Path) -> None:
    by_name = resolve(env={"CCTVCTL_CONTEXT": "bravo"}, path=two)
    assert (by_name.name, by_name.token, by_name.source) == ("bravo", TOKEN_B, "env")
    by_url = resolve(env={"CCTVCTL_URL": "http://10.0.0.9", "CCTVCTL_TOKEN": "envtok"}, path=two)
    assert (by_url.url, by_url.token, by_url.context) == ("http://10.0.0.9", "envtok", None)
    token_only = resolve(env={"CCTVCTL_TOKEN": "envtok"}, path=two)
    assert (token_only.name, token_only.token) == ("alpha", "envtok")


def test_flags_beat_env(two: Path) -> None:
    env = {"CCTVCTL_CONTEXT": "alpha", "CCTVCTL_URL": "http://10.0.0.9", "CCTVCTL_TOKEN": "e"}
    by_flag = resolve("bravo", env=env, path=two)
    # The stale environment does not leak into an explicit --context: URL and token are bravo's.
    assert (by_flag.name, by_flag.url, by_flag.token) == ("bravo", "http://10.0.0.2:8470", TOKEN_B)
    url_flag = resolve(url="http://10.0.0.7/", token="t", env=env, path=two)
    assert (url_flag.url, url_flag.token, url_flag.source) == ("http://10.0.0.7", "t", "flag")
    overridden = resolve("bravo", "http://10.0.0.8", "t2", env=env, path=two)
    assert (overridden.name, overridden.url, overridden.token) == ("bravo", "http://10.0.0.8", "t2")


def test_bare_url_never_borrows_a_context_token(two: Path) -> None:
    target = resolve(url="http://elsewhere.example", env={}, path=two)
    assert target.token is None
    assert target.name == "http://elsewhere.example"


def test_url_with_context_keeps_the_context_token(two: Path) -> None:
    target = resolve("bravo", "http://10.0.0.3", env={}, path=two)
    assert (target.url, target.token) == ("http://10.0.0.3", TOKEN_B)


@pytest.mark.parametrize(
    ("kwargs", "env", "mentions"),
    [
        ({"context": "zulu"}, {}, "no context 'zulu'"),
        ({}, {"CCTVCTL_CONTEXT": "zulu"}, "available: alpha, bravo"),
        ({"url": "ftp://x"}, {}, "--url"),
        ({}, {"CCTVCTL_URL": "nohost"}, "CCTVCTL_URL"),
    ],
)
def test_resolution_errors(
    two: Path, kwargs: dict[str, Any], env: dict[str, str], mentions: str
) -> None:
    with pytest.raises(ContextError) as caught:
        resolve(**kwargs, env=env, path=two)
    assert mentions in str(caught.value)
    assert caught.value.exit_code == exit_codes.USAGE
    assert "\n" not in str(caught.value)


def test_nothing_configured(tmp_path: Path) -> None:
    with pytest.raises(ContextError, match=r"no server chosen.*context add"):
        resolve(env={}, path=tmp_path / "absent.toml")
    with pytest.raises(ContextError, match="no contexts"):
        all_targets(path=tmp_path / "absent.toml")


def test_all_targets_in_file_order_with_own_tokens(two: Path) -> None:
    targets = all_targets(path=two)
    assert [(t.name, t.url, t.token) for t in targets] == [
        ("alpha", "http://10.0.0.1:8470", TOKEN_A),
        ("bravo", "http://10.0.0.2:8470", TOKEN_B),
    ]
    assert all(TOKEN_A not in repr(t) and TOKEN_B not in repr(t) for t in targets)


def test_loose_file_warns_on_resolve(two: Path) -> None:
    os.chmod(two, 0o640)
    seen: list[str] = []
    resolve(env={}, path=two, warn=seen.append)
    assert len(seen) == 1 and "chmod 600" in seen[0]


def test_prompted_token_is_not_echoed(cfg: Path) -> None:
    """On a terminal the token is asked for with echo off; it never shows on screen."""
    import pty

    env = clean_env() | {"CCTVCTL_CONFIG": str(cfg)}
    argv = [sys.executable, "-m", "cctvctl", "context", "add", "alpha", "--url", "http://x"]
    pid, fd = pty.fork()
    if pid == 0:  # the child: its controlling terminal is the pty
        os.chdir(REPO)
        os.execve(sys.executable, argv, env)
    screen = bytearray()
    try:
        while b"API token for alpha" not in screen:
            chunk = os.read(fd, 1024)
            assert chunk, f"no prompt; screen so far: {screen!r}"
            screen += chunk
        os.write(fd, TOKEN_A.encode() + b"\n")
        drain_pty(fd, screen)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, screen
    assert b"saved" in screen
    assert TOKEN_A.encode() not in screen
    assert ContextFile.load(cfg).contexts["alpha"].token == TOKEN_A
