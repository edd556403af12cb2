"""Contexts: named recording servers and their tokens, in the style of kubectl.

The file (``$CCTVCTL_CONFIG``, else ``$XDG_CONFIG_HOME/cctvctl/config.toml``, else
``~/.config/cctvctl/config.toml``) looks like::

    current = "sangatta"

    [contexts."sangatta"]
    url = "https://rec-sangatta.noc.kutaitimurkab.go.id:8470"
    token = "cctv_..."

It holds API tokens, so it is only ever written with mode 0600, atomically (a temporary
file in the same directory, then a rename), and a directory created for it gets 0700.

Which server a command talks to (:func:`resolve`), highest first:

1. flags: ``--url`` / ``--context``
2. environment: ``CCTVCTL_URL`` / ``CCTVCTL_CONTEXT``
3. the file's ``current`` context

The highest level that names a server chooses it; lower levels are not mixed in, so a
stale ``CCTVCTL_URL`` in a shell never redirects an explicit ``--context``. Within one
level a URL overrides the named context's URL and keeps its token. The token is
``--token``, else ``CCTVCTL_TOKEN``, else the chosen context's; a context chosen by flag
keeps its own token over ``CCTVCTL_TOKEN``, and a bare URL (no context) never borrows a
context's token, so a token is sent only where it was configured to go.

Only the standard library is imported here: every command resolves a target first.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from cctvctl.cli import exit_codes

__all__ = [
    "CONFIG_ENV",
    "CONTEXT_ENV",
    "TOKEN_ENV",
    "URL_ENV",
    "Context",
    "ContextError",
    "ContextFile",
    "Target",
    "all_targets",
    "check_name",
    "check_token",
    "check_url",
    "config_path",
    "fingerprint",
    "resolve",
]

CONFIG_ENV: Final = "CCTVCTL_CONFIG"
URL_ENV: Final = "CCTVCTL_URL"
TOKEN_ENV: Final = "CCTVCTL_TOKEN"  # noqa: S105 (the variable's name, not a token)
CONTEXT_ENV: Final = "CCTVCTL_CONTEXT"

FILE_MODE: Final = 0o600
DIR_MODE: Final = 0o700
_NAME_RE: Final = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_CONTEXT_KEYS: Final = ("url", "token")


class ContextError(Exception):
    """A usage problem with contexts: one line, exit code 2."""

    exit_code: int = exit_codes.USAGE


@dataclass(frozen=True)
class Context:
    name: str
    url: str
    # Never in a repr: reprs end up in tracebacks and logs.
    token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Target:
    """The server a command talks to. ``name`` is the context's, or the URL for a bare URL.

    ``source`` says which level chose it (``flag``, ``env`` or ``config``), for messages.
    """

    name: str
    url: str
    token: str | None = field(repr=False)
    context: str | None = None
    source: str = "config"


# --------------------------------------------------------------------------- validation


def check_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise ContextError(
            f"context name {name!r} is not accepted; accepted: lower-case letters, digits "
            "and '-', starting with a letter or digit, at most 63 characters"
        )
    return name


def check_url(url: str) -> str:
    """An http(s) URL with a host, returned without a trailing slash."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port  # raises ValueError for a port out of range or not a number
    except ValueError as exc:
        raise ContextError(f"URL {url!r} is not valid: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ContextError(
            f"URL {url!r} is not accepted; accepted: http:// or https:// followed by a host, "
            "e.g. http://127.0.0.1:8470"
        )
    if not parts.hostname:
        raise ContextError(f"URL {url!r} has no host; e.g. http://127.0.0.1:8470")
    if parts.username is not None or parts.password is not None:
        # `context ls` prints URLs, so credentials must not hide in one.
        raise ContextError(f"URL for host {parts.hostname!r} holds credentials; use --token")
    if parts.query or parts.fragment:
        raise ContextError(f"URL {url!r} has a query or fragment; give the server's base URL")
    del port
    return url.strip().rstrip("/")


def check_token(token: str) -> str:
    token = token.strip()
    if not token:
        raise ContextError("the token is empty")
    if any(c.isspace() or not c.isprintable() for c in token):
        raise ContextError("the token holds spaces or control characters; check how it was pasted")
    return token


def fingerprint(token: str | None) -> str | None:
    """``sha256:1a2b3c4d``: the start of the hash a server's config stores for this token.

    It identifies the token (grep the server's ``[[server.token]]`` hashes for it) without
    showing any of its characters.
    """
    if not token:
        return None
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()[:8]


# --------------------------------------------------------------------------- the file


def config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    explicit = env.get(CONFIG_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "cctvctl" / "config.toml"


def _toml_string(value: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


@dataclass
class ContextFile:
    """The contexts file in memory; :meth:`save` writes it back (0600, atomically)."""

    path: Path
    contexts: dict[str, Context] = field(default_factory=dict)
    current: str | None = None
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path | None = None) -> ContextFile:
        path = config_path() if path is None else path
        loaded = cls(path)
        try:
            st = path.stat()
            raw = path.read_bytes()
        except FileNotFoundError:
            return loaded
        except OSError as exc:
            raise ContextError(f"{path}: cannot read: {exc.strerror}") from None
        if st.st_mode & 0o077:
            loaded.warnings.append(
                f"{path} is readable by others (mode {st.st_mode & 0o777:04o}) and holds API "
                f"tokens; fix it with `chmod 600 {path}` (the next `cctvctl context` change "
                "does it too)"
            )
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ContextError(f"{path}: not valid TOML: {exc}") from None
        loaded._read(data)
        return loaded

    def _read(self, data: Mapping[str, object]) -> None:
        where = str(self.path)
        unknown = sorted(set(data) - {"current", "contexts"})
        if unknown:
            raise ContextError(
                f"{where}: unknown key {unknown[0]!r}; accepted: current, [contexts.NAME]"
            )
        current = data.get("current")
        if current is not None and not isinstance(current, str):
            raise ContextError(f"{where}: 'current' must be a string")
        table = data.get("contexts", {})
        if not isinstance(table, dict):
            raise ContextError(f"{where}: 'contexts' must be a table of [contexts.NAME]")
        for name, body in table.items():
            key = f"{where}: [contexts.{name}]"
            if not isinstance(body, dict):
                raise ContextError(f"{key} must be a table with url and token")
            extra = sorted(set(body) - set(_CONTEXT_KEYS))
            if extra:
                raise ContextError(f"{key}: unknown key {extra[0]!r}; accepted: url, token")
            url, token = body.get("url"), body.get("token")
            if not isinstance(url, str):
                raise ContextError(f"{key}: 'url' is missing or not a string")
            if token is not None and not isinstance(token, str):
                raise ContextError(f"{key}: 'token' must be a string")
            try:
                url = check_url(url)
            except ContextError as exc:
                raise ContextError(f"{key}: {exc}") from None
            self.contexts[name] = Context(name, url, token or None)
        if current is not None and current not in self.contexts:
            raise ContextError(
                f"{where}: current context {current!r} is not defined; "
                f"available: {self.available()}"
            )
        self.current = current

    def available(self) -> str:
        return ", ".join(self.contexts) or "none (add one with `cctvctl context add`)"

    def get(self, name: str) -> Context:
        try:
            return self.contexts[name]
        except KeyError:
            raise ContextError(
                f"no context {name!r} in {self.path}; available: {self.available()}"
            ) from None

    # -- changes ------------------------------------------------------------------------

    def check_new(self, name: str, *, replace: bool = False) -> None:
        check_name(name)
        if name in self.contexts and not replace:
            raise ContextError(
                f"context {name!r} exists; pass --force to replace it, or remove it "
                f"with `cctvctl context rm {name}`"
            )

    def add(self, context: Context, *, replace: bool = False) -> None:
        self.check_new(context.name, replace=replace)
        self.contexts[context.name] = context

    def use(self, name: str) -> None:
        self.get(name)
        self.current = name

    def remove(self, name: str) -> bool:
        """Drops a context; True when it was the current one (no context is current then)."""
        self.get(name)
        del self.contexts[name]
        if self.current == name:
            self.current = None
            return True
        return False

    # -- writing ------------------------------------------------------------------------

    def render(self) -> str:
        lines = [
            "# cctvctl contexts, written by `cctvctl context`. It holds API tokens:",
            "# keep it mode 0600 and out of backups that others can read.",
            "",
        ]
        if self.current is not None:
            lines += [f"current = {_toml_string(self.current)}", ""]
        for ctx in self.contexts.values():
            lines.append(f"[contexts.{_toml_string(ctx.name)}]")
            lines.append(f"url = {_toml_string(ctx.url)}")
            if ctx.token is not None:
                lines.append(f"token = {_toml_string(ctx.token)}")
            lines.append("")
        return "\n".join(lines)

    def save(self) -> list[str]:
        """Writes the file; returns warnings (a looser mode that was fixed) for the caller."""
        # Write through a symlink (dotfile managers use them) rather than replace it.
        target = Path(os.path.realpath(self.path))
        notes: list[str] = []
        directory = target.parent
        if not directory.exists():
            directory.mkdir(parents=True, mode=DIR_MODE)
            # mkdir's mode is filtered by the umask; this one must not be wider or narrower.
            os.chmod(directory, DIR_MODE)
        try:
            old_mode: int | None = target.stat().st_mode & 0o777
        except FileNotFoundError:
            old_mode = None
        if old_mode is not None and old_mode & 0o077:
            notes.append(f"{self.path} was mode {old_mode:04o}; it is {FILE_MODE:04o} now")
        payload = self.render().encode("utf-8")
        tmp = directory / f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
        # Created 0600 from the first byte: a chmod after writing would leave a window in
        # which the token is readable.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            try:
                os.fchmod(fd, FILE_MODE)  # the umask may have narrowed it; keep it exact
                os.write(fd, payload)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(directory)
        return notes


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; some file systems refuse to open a directory.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- resolution


def _warn_stderr(message: str) -> None:
    print(f"cctvctl: warning: {message}", file=sys.stderr)


def resolve(
    context: str | None = None,
    url: str | None = None,
    token: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    path: Path | None = None,
    warn: Callable[[str], None] | None = _warn_stderr,
) -> Target:
    """The server to talk to, from flags, then environment, then the current context.

    Raises :class:`ContextError` (one line, exit 2) when nothing names a server or a named
    context does not exist; the message lists the available contexts.
    """
    env = os.environ if env is None else env
    env_url, env_token, env_context = (
        env.get(k) or None for k in (URL_ENV, TOKEN_ENV, CONTEXT_ENV)
    )
    file_path = path if path is not None else config_path(env)

    def contexts() -> ContextFile:
        loaded = ContextFile.load(file_path)
        if warn is not None:
            for note in loaded.warnings:
                warn(note)
        return loaded

    if url or context:
        chosen_context, chosen_url, source = context, url, "flag"
    elif env_url or env_context:
        chosen_context, chosen_url, source = env_context, env_url, "env"
    else:
        loaded = contexts()
        if loaded.current is None:
            raise ContextError(
                "no server chosen: pass --context NAME or --url URL, set "
                f"{CONTEXT_ENV} or {URL_ENV}, or pick one with `cctvctl context use NAME` "
                f"(available: {loaded.available()})"
            )
        ctx = loaded.get(loaded.current)
        return Target(ctx.name, ctx.url, token or env_token or ctx.token, ctx.name, "config")

    if chosen_context is None:
        assert chosen_url is not None
        where = "--url" if source == "flag" else URL_ENV
        try:
            base = check_url(chosen_url)
        except ContextError as exc:
            raise ContextError(f"{where}: {exc}") from None
        return Target(base, base, token or env_token, None, source)

    ctx = contexts().get(chosen_context)
    base = ctx.url
    if chosen_url:
        base = check_url(chosen_url)
    # A context named by flag is more specific than a token left in the environment.
    fallback = (ctx.token or env_token) if source == "flag" else (env_token or ctx.token)
    return Target(ctx.name, base, token or fallback, ctx.name, source)


def all_targets(
    *,
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    warn: Callable[[str], None] | None = _warn_stderr,
) -> list[Target]:
    """Every context in file order, each with its own token (for ``--all-contexts``)."""
    loaded = ContextFile.load(path if path is not None else config_path(env))
    if warn is not None:
        for note in loaded.warnings:
            warn(note)
    if not loaded.contexts:
        raise ContextError(
            f"--all-contexts: no contexts in {loaded.path}; add them with "
            "`cctvctl context add NAME --url URL`"
        )
    return [Target(c.name, c.url, c.token, c.name, "config") for c in loaded.contexts.values()]
