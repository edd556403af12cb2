"""Reading an inventory file (and its secrets file), with every problem reported at once.

Each problem names the key path (``kecamatan[3].site[0].camera[2].rtsp``) and what would
have been accepted.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from cctvctl.config.fields import relative_to, show_value
from cctvctl.config.inventory import (
    ArchiveKeys,
    CameraConfig,
    Inventory,
    InventoryFile,
    KecamatanConfig,
    SiteConfig,
)
from cctvctl.config.settings import ArchiveConfig, ServerConfig, SimConfig, TokenConfig


class ConfigError(Exception):
    """The inventory file is unusable; ``issues`` holds one line per problem."""

    def __init__(self, path: Path, issues: list[str]) -> None:
        self.path = path
        self.issues = issues
        super().__init__("\n".join(f"{path}: {issue}" for issue in issues))

    def lines(self) -> list[str]:
        return [f"{self.path}: {issue}" for issue in self.issues]


def format_loc(loc: tuple[int | str, ...]) -> str:
    """``('kecamatan', 3, 'site', 0, 'rtsp')`` -> ``kecamatan[3].site[0].rtsp``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "(top level)"


_ACCEPTED_KEYS: dict[str, type[BaseModel]] = {
    "": InventoryFile,
    "server": ServerConfig,
    "sim": SimConfig,
    "archive": ArchiveConfig,
    "server.token": TokenConfig,
    "kecamatan": KecamatanConfig,
    "kecamatan.site": SiteConfig,
    "kecamatan.site.camera": CameraConfig,
}


# What a person should have written, by pydantic's error type.
_ACCEPTED_TYPES: dict[str, str] = {
    "string_type": "text in quotes",
    "bool_type": "true or false",
    "int_type": "a whole number",
    "float_type": "a number",
    "finite_number": "a finite number",
    "list_type": "a list [...] or [[tables]]",
    "model_type": "a table",
    "dict_type": "a table",
    "model_attributes_type": "a table",
    "path_type": "a path in quotes",
}


def _describe(error: Mapping[str, Any]) -> str:
    loc: tuple[int | str, ...] = tuple(error["loc"])
    kind = error["type"]
    where = format_loc(loc)
    if kind == "extra_forbidden":
        parent = ".".join(p for p in loc[:-1] if isinstance(p, str))
        model = _ACCEPTED_KEYS.get(parent)
        accepted = ", ".join(model.model_fields) if model else "none"
        return f"{where}: unknown key {loc[-1]!r}; accepted keys: {accepted}"
    if kind == "missing":
        return f"{where}: required key is missing"
    if kind == "enum":
        allowed = error.get("ctx", {}).get("expected", "")
        return f"{where}: {show_value(error.get('input'))} is not accepted; accepted: {allowed}"
    if kind in _ACCEPTED_TYPES:
        shown = show_value(error.get("input"))
        return f"{where}: {shown} is not accepted; accepted: {_ACCEPTED_TYPES[kind]}"
    message = str(error["msg"]).removeprefix("Value error, ")
    if message.startswith("Input should be"):
        # Range and length limits: "Input should be less than or equal to 90".
        shown = show_value(error.get("input"))
        return f"{where}: {shown} is not accepted; it should be {message[16:]}"
    return f"{where}: {message}"


def _control_character(text: str) -> str | None:
    return next((c for c in text if unicodedata.category(c) == "Cc"), None)


def _control_characters(raw: Mapping[str, Any], *, secret: bool = False) -> list[tuple[str, str]]:
    """(key path, problem) for each key or string holding a control character in ``raw``.

    A NUL or an escape sequence in a camera name or user name ends up in logs, in the
    audit trail and on operators' terminals; none has a legitimate use in these files.
    Iterative, so any depth tomllib accepted is walked without recursion. ``secret``:
    the values are passwords, so the message does not repeat them.
    """
    found: list[tuple[str, str]] = []

    def check(where: str, text: str, what: str) -> None:
        bad = _control_character(text)
        if bad is not None:
            found.append(
                (
                    where,
                    f"{what}{'the value' if secret and not what else show_value(text)} "
                    f"contains a control character (U+{ord(bad):04X}); "
                    "accepted: text without control characters",
                )
            )

    todo: list[tuple[str, object]] = [("", raw)]
    while todo:
        where, value = todo.pop()
        children: list[tuple[str, object]] = []
        if isinstance(value, str):
            check(where, value, "")
        elif isinstance(value, dict):
            for key, item in value.items():
                name = key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)
                child = f"{where}.{name}" if where else name
                check(child, key, "key ")
                children.append((child, item))
        elif isinstance(value, list):
            children = [(f"{where}[{i}]", item) for i, item in enumerate(value)]
        todo.extend(reversed(children))
    return found


def _read_toml(path: Path) -> dict[str, Any]:
    """Parse ``path``; RecursionError becomes a ValueError a person can act on."""
    return _parse_toml(path.read_text(encoding="utf-8"))


def _parse_toml(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except RecursionError:
        # tomllib recurses once per nesting level; thousands of '[' exhaust the stack.
        raise ValueError(
            "nested too deeply (arrays or inline tables inside each other); accepted: "
            "at most a few levels, as in examples/kutim.toml"
        ) from None


def _cross_checks(data: InventoryFile) -> list[str]:
    issues: list[str] = []
    seen_cam: dict[str, str] = {}
    seen_kec: dict[str, str] = {}
    for ki, kec in enumerate(data.kecamatan):
        where_kec = f"kecamatan[{ki}]"
        if kec.key in seen_kec:
            issues.append(
                f"{where_kec}.name: kecamatan {kec.key!r} appears twice "
                f"(first at {seen_kec[kec.key]}); each kecamatan must be listed once"
            )
        seen_kec.setdefault(kec.key, where_kec)
        for si, site in enumerate(kec.site):
            for ci, cam in enumerate(site.camera):
                where = f"{where_kec}.site[{si}].camera[{ci}].id"
                if cam.id in seen_cam:
                    issues.append(
                        f"{where}: duplicate camera id {cam.id!r} (first at {seen_cam[cam.id]}); "
                        "ids must be unique across the file"
                    )
                seen_cam.setdefault(cam.id, where)
    seen_tok: set[str] = set()
    for ti, tok in enumerate(data.server.token):
        if tok.name in seen_tok:
            issues.append(f"server.token[{ti}].name: duplicate token name {tok.name!r}")
        seen_tok.add(tok.name)
    return issues


# The secrets file's tables and, for each, the keys it may hold ("*": any key).
_SECRET_TABLES: dict[str, tuple[str, ...]] = {
    "passwords": ("*",),
    "archive": ("access_key", "secret_key"),
}


def _load_secrets(path: Path) -> tuple[dict[str, dict[str, str]], list[str]]:
    """The secrets file's tables (``passwords``, ``archive``), each key -> text."""
    try:
        raw = _read_toml(path)
    except FileNotFoundError:
        return {}, [f"server.secrets: secrets file {str(path)!r} does not exist"]
    except (OSError, UnicodeDecodeError) as exc:
        return {}, [f"server.secrets: cannot read {str(path)!r}: {exc}"]
    except tomllib.TOMLDecodeError as exc:
        return {}, [f"server.secrets: {str(path)!r} is not valid TOML: {exc}"]
    except ValueError as exc:  # after its subclasses above: only _read_toml's own
        return {}, [f"server.secrets: {str(path)!r} is {exc}"]
    control = _control_characters(raw, secret=True)
    if control:
        return {}, [f"server.secrets: {where} in {path.name}: {msg}" for where, msg in control]
    accepted = ", ".join(_SECRET_TABLES)
    issues = [
        f"server.secrets: unknown key {k!r} in {path.name}; accepted: {accepted}"
        for k in sorted(set(raw) - set(_SECRET_TABLES))
    ]
    tables: dict[str, dict[str, str]] = {}
    for name, keys in _SECRET_TABLES.items():
        table = raw.get(name, {})
        if not isinstance(table, dict):
            issues.append(f"server.secrets: {name!r} in {path.name} must be a table")
            continue
        if "*" not in keys:
            issues += [
                f"server.secrets: unknown key {name}.{k} in {path.name}; accepted: "
                + ", ".join(keys)
                for k in sorted(set(table) - set(keys))
            ]
        bad = [k for k, v in table.items() if not isinstance(v, str)]
        issues += [f"server.secrets: {name}.{k} in {path.name} must be a string" for k in bad]
        tables[name] = {k: v for k, v in table.items() if isinstance(v, str)}
    return tables, issues


def _resolve_archive_keys(
    data: InventoryFile, env: Mapping[str, str], secrets: Mapping[str, str]
) -> tuple[ArchiveKeys | None, list[str]]:
    """The archive's keys: each from its environment variable, else the secrets file."""
    archive = data.archive
    if archive is None:
        return None, []
    found: dict[str, str] = {}
    issues: list[str] = []
    for key, env_name in (
        ("access_key", archive.access_key_env),
        ("secret_key", archive.secret_key_env),
    ):
        value = env.get(env_name) or secrets.get(key)
        if not value:
            field = f"{key}_env"
            issues.append(
                f"archive.{field}: no {key.replace('_', ' ')} for the archive; accepted: the "
                f"environment variable {env_name!r} (archive.{field} names another), or "
                f"{key} under [archive] in the file named by server.secrets"
            )
            continue
        found[key] = value
    if issues:
        return None, issues
    return ArchiveKeys(SecretStr(found["access_key"]), SecretStr(found["secret_key"])), []


def _resolve_passwords(
    path: Path, data: InventoryFile, env: Mapping[str, str]
) -> tuple[dict[str, SecretStr], ArchiveKeys | None, list[str]]:
    tables: dict[str, dict[str, str]] = {}
    issues: list[str] = []
    if data.server.secrets is not None:
        tables, issues = _load_secrets(relative_to(path, data.server.secrets))
    secrets = tables.get("passwords", {})
    archive_keys, archive_issues = _resolve_archive_keys(data, env, tables.get("archive", {}))
    issues += archive_issues
    passwords: dict[str, SecretStr] = {}
    for ki, kec in enumerate(data.kecamatan):
        for si, site in enumerate(kec.site):
            for ci, cam in enumerate(site.camera):
                where = f"kecamatan[{ki}].site[{si}].camera[{ci}]"
                if cam.password_env is not None:
                    value = env.get(cam.password_env)
                    if value is None:
                        issues.append(
                            f"{where}.password_env: environment variable {cam.password_env!r} "
                            "is not set; export it or move the password to the secrets file"
                        )
                        continue
                    passwords[cam.id] = SecretStr(value)
                elif cam.id in secrets:
                    passwords[cam.id] = SecretStr(secrets[cam.id])
                elif cam.username is None:
                    passwords[cam.id] = SecretStr("")  # a camera that asks for no credentials
                else:
                    issues.append(
                        f"{where}: no password for camera {cam.id!r}; accepted: 'password_env' "
                        "naming an environment variable, or an entry under [passwords] in the "
                        "file named by server.secrets"
                    )
    return passwords, archive_keys, issues


def load_inventory(path: Path | str, env: Mapping[str, str] | None = None) -> Inventory:
    """Read and validate an inventory file; raise :class:`ConfigError` listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, ["file does not exist"]) from None
    except IsADirectoryError:
        raise ConfigError(path, ["is a directory; give the inventory .toml file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, [f"cannot read: {exc}"]) from None
    return load_inventory_text(text, path, env)


def load_inventory_text(
    text: str, path: Path | str, env: Mapping[str, str] | None = None
) -> Inventory:
    """An inventory given as text (the fleet's, sent over the API), checked exactly as
    :func:`load_inventory` checks a file; ``path`` is where it counts as read from (a
    relative secrets file or storage folder is taken from its folder)."""
    path = Path(path)
    env = os.environ if env is None else env
    try:
        raw = _parse_toml(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [f"not valid TOML: {exc}"]) from None
    except ValueError as exc:  # after its subclasses above: only _read_toml's own
        raise ConfigError(path, [str(exc)]) from None
    data, issues = _validated(path, raw)
    # A fleet node's cameras come from the fleet store, so its own file may list none.
    if not data.kecamatan and data.fleet is None:
        issues.append("kecamatan: no kecamatan defined; add at least one [[kecamatan]] table")
    return _with_passwords(path, data, env, issues)


def fleet_inventory(
    local: Inventory, text: str, *, source: str, env: Mapping[str, str] | None = None
) -> Inventory:
    """The fleet's cameras (the TOML of an inventory version) run as the node of ``local``.

    The node keeps its own ``[server]``, ``[sim]`` and ``[fleet]`` tables; the fleet's are
    checked like any file's, then ignored. Passwords resolve on this node (its
    environment, its secrets file), so a camera this node could not log in to refuses the
    version. ``source`` names the version in the errors. Raises :class:`ConfigError` with
    every problem, as a file would.
    """
    where = Path(source)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(where, [f"not valid TOML: {exc}"]) from None
    except RecursionError:
        raise ConfigError(where, ["nested too deeply"]) from None
    # The whole file is checked, as `config check` checks it (a bad [server] there is
    # refused too, so what `fleet apply` accepts every node accepts), but only its cameras
    # are used.
    fleet, issues = _validated(where, raw)
    data = local.data.model_copy(update={"kecamatan": fleet.kecamatan})
    return _with_passwords(where, data, os.environ if env is None else env, issues, local.path)


def _validated(path: Path, raw: dict[str, Any]) -> tuple[InventoryFile, list[str]]:
    """The file's model and the problems found so far (ConfigError if it has no model)."""
    control = [f"{where}: {problem}" for where, problem in _control_characters(raw)]
    try:
        data = InventoryFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(path, control + [_describe(e) for e in exc.errors()]) from None
    return data, control + _cross_checks(data)


def _with_passwords(
    where: Path,
    data: InventoryFile,
    env: Mapping[str, str],
    issues: list[str],
    path: Path | None = None,
) -> Inventory:
    """The inventory at ``path`` (default ``where``), or every problem as a ConfigError."""
    path = where if path is None else path
    passwords, archive_keys, password_issues = _resolve_passwords(path, data, env)
    issues = issues + password_issues
    if issues:
        raise ConfigError(where, issues)
    return Inventory(path=path, data=data, passwords=passwords, archive_keys=archive_keys)


def load_server_inventory(path: Path | str, env: Mapping[str, str] | None = None) -> Inventory:
    """:func:`load_inventory` plus the server's storage check: what ``config check``, the
    server's start-up and a reload all accept."""
    inventory = load_inventory(path, env)
    problem = inventory.storage_problem()
    if problem is not None:
        raise ConfigError(Path(path), [problem])
    return inventory
