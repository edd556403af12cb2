"""Site inventory and server settings, read from TOML into validated models.

Every problem is reported with the file, the key path (``kecamatan[3].site[0].camera[2].rtsp``)
and what would have been accepted, and all problems are reported at once: a NOC engineer
editing a 60-camera file should not have to fix it one error per run.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
import tomllib
import unicodedata
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

from cctvctl.models import Role, SiteKind

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
TOKEN_HASH_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
DEFAULT_LISTEN = "127.0.0.1:8470"
DEFAULT_FILE_MODE = "0640"
# Owner reads and writes (the server must), the group may read or also write, others get
# nothing: footage of people is personal data, and a site that needs a second account
# (a backup job, an auditor) gives it the group, never the whole machine.
FILE_MODES: dict[int, str] = {0o600: "0600", 0o640: "0640", 0o660: "0660"}


class ConfigError(Exception):
    """The inventory file is unusable; ``issues`` holds one line per problem."""

    def __init__(self, path: Path, issues: list[str]) -> None:
        self.path = path
        self.issues = issues
        super().__init__("\n".join(f"{path}: {issue}" for issue in issues))

    def lines(self) -> list[str]:
        return [f"{self.path}: {issue}" for issue in self.issues]


def slugify(name: str) -> str:
    """``"Sangatta Utara"`` -> ``"sangatta-utara"``: the folder and URL form of a name."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:63] or "x"


def hash_token(token: str) -> str:
    """How API tokens are stored: they are long random strings, so one SHA-256 is enough."""
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check_slug(value: str) -> str:
    if not SLUG_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid id; accepted: lower-case letters, digits and '-', "
            "starting with a letter or digit, at most 63 characters"
        )
    return value


def _check_url(value: str, schemes: tuple[str, ...], example: str) -> str:
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in schemes or not parts.hostname or port == -1:
        raise ValueError(f"{value!r} is not a valid URL; accepted: {example}")
    if parts.username or parts.password:
        raise ValueError(
            f"{value!r} carries credentials; put the user in 'username' and the password "
            "in 'password_env' or the secrets file"
        )
    return value


def _rtsp_url(value: str) -> str:
    return _check_url(value, ("rtsp", "rtsps"), "rtsp://host[:port]/path")


def _onvif_url(value: str) -> str:
    return _check_url(value, ("http", "https"), "http://host[:port]/onvif/device_service")


def _host_port(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not host:port; accepted e.g. '127.0.0.1:8470'")
    return value


def _path_text(example: str) -> BeforeValidator:
    def check(value: object) -> object:
        # Before validation: Path("") is ".", which would put footage next to the
        # inventory and the secrets file without anyone having asked for it.
        if isinstance(value, str) and not value.strip():
            raise ValueError(f"an empty path is not accepted; accepted: {example}")
        if not isinstance(value, str | Path):
            raise ValueError(f"{show_value(value)} is not accepted; accepted: {example}")
        return value

    return BeforeValidator(check)


def _file_mode(value: str) -> str:
    text = value.removeprefix("0o")
    bits = int(text, 8) if re.fullmatch(r"[0-7]{3,4}", text) else None
    accepted = 'accepted: "0600", "0640" or "0660"'
    if bits is not None and bits & 0o007:
        raise ValueError(
            f"{show_value(value)} lets every user of the machine read footage; {accepted} "
            "(give a second account the group instead)"
        )
    if bits not in FILE_MODES:
        raise ValueError(
            f"{show_value(value)} is not accepted; {accepted} (owner read-write, the group "
            "nothing, read or read-write, others nothing)"
        )
    return FILE_MODES[bits]


Slug = Annotated[str, AfterValidator(_check_slug)]
RtspUrl = Annotated[str, AfterValidator(_rtsp_url)]
OnvifUrl = Annotated[str, AfterValidator(_onvif_url)]
HostPort = Annotated[str, AfterValidator(_host_port)]
FolderPath = Annotated[
    Path, Field(strict=False), _path_text('a folder path, e.g. "recordings" or "/srv/cctv"')
]
FilePath = Annotated[
    Path, Field(strict=False), _path_text('a file path in quotes, e.g. "site.secrets.toml"')
]
FileMode = Annotated[str, AfterValidator(_file_mode)]


class _Strict(BaseModel):
    # strict: TOML has real types, so "yes" for a bool, true for a number or a date for
    # a string is a mistake to report, not a value to coerce.
    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, strict=True, allow_inf_nan=False
    )


class CameraConfig(_Strict):
    id: Slug
    name: str = Field(min_length=1)
    rtsp: RtspUrl
    onvif: OnvifUrl | None = None
    username: str = Field(min_length=1)
    password_env: str | None = Field(default=None, min_length=1)
    enabled: bool = True
    fps: float | None = Field(default=None, gt=0, le=120)


class SiteConfig(_Strict):
    name: str = Field(min_length=1)
    kind: SiteKind = Field(strict=False)  # strict would want an enum member, not its text
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    camera: list[CameraConfig] = Field(default_factory=list)


class KecamatanConfig(_Strict):
    name: str = Field(min_length=1)
    slug: Slug | None = None
    quota_gb: float | None = Field(default=None, gt=0)
    site: list[SiteConfig] = Field(default_factory=list)

    @property
    def key(self) -> str:
        return self.slug or slugify(self.name)


class TokenConfig(_Strict):
    name: str = Field(min_length=1)
    role: Role = Field(strict=False)
    hash: str

    @field_validator("hash")
    @classmethod
    def _hash_form(cls, value: str) -> str:
        if not TOKEN_HASH_RE.match(value):
            raise ValueError(
                "token hash must look like 'sha256:<64 hex digits>'; "
                "make one with `cctvctl token create`"
            )
        return value


class ServerConfig(_Strict):
    listen: HostPort = DEFAULT_LISTEN
    storage: FolderPath = Path("recordings")
    file_mode: FileMode = DEFAULT_FILE_MODE
    segment_seconds: int = Field(default=60, ge=2, le=3600)
    retention_days: float = Field(default=30, gt=0)
    offline_after: float = Field(default=10, gt=0)
    thumbnail_seconds: float = Field(default=2, gt=0)
    export_keep_days: float = Field(default=7, gt=0)
    export_max_minutes: float = Field(default=120, gt=0)
    reboot_wait: float = Field(default=180, gt=0)
    # Connection guards (see server/connections.py). A NOC of ~50 consoles, each with an
    # event stream and up to httpx's 20 pooled connections for a grid's thumbnails, needs
    # about 1,100 at once; 2,000 leaves room for scripts and Prometheus and stays far
    # below a 20,000 open-file limit. Keep-alive outlives httpx's own 5 s pool expiry, so
    # a client never reuses a connection the server is just closing.
    header_timeout: float = Field(default=10, gt=0, le=300)
    keep_alive_timeout: int = Field(default=10, ge=1, le=300)
    max_connections: int = Field(default=2000, ge=10, le=100_000)
    secrets: FilePath | None = None
    token: list[TokenConfig] = Field(default_factory=list)

    @property
    def file_mode_bits(self) -> int:
        """Mode of every file the server writes, e.g. 0o640."""
        return int(self.file_mode, 8)

    @property
    def dir_mode_bits(self) -> int:
        """Mode of every folder the server makes: searchable wherever the file is readable."""
        bits = self.file_mode_bits
        return bits | (bits & 0o444) >> 2


class SimConfig(_Strict):
    """Simulator settings; only `cctvctl sim` reads them."""

    control: HostPort = "127.0.0.1:8560"
    width: int = Field(default=640, ge=64, le=1920)
    height: int = Field(default=360, ge=64, le=1080)
    fps: int = Field(default=15, ge=1, le=60)
    loop_seconds: float = Field(default=20, ge=2, le=120)
    gop_seconds: float = Field(default=2, gt=0, le=10)
    reboot_seconds: float = Field(default=20, ge=0)


class InventoryFile(_Strict):
    server: ServerConfig = Field(default_factory=ServerConfig)
    sim: SimConfig = Field(default_factory=SimConfig)
    kecamatan: list[KecamatanConfig] = Field(default_factory=list)


@dataclass(frozen=True)
class CameraEntry:
    """A camera with the place it belongs to, as most code wants to see it."""

    camera: CameraConfig
    site: SiteConfig
    kecamatan: KecamatanConfig


@dataclass(frozen=True)
class Inventory:
    path: Path
    data: InventoryFile
    passwords: Mapping[str, SecretStr]

    @property
    def server(self) -> ServerConfig:
        return self.data.server

    @property
    def sim(self) -> SimConfig:
        return self.data.sim

    @property
    def kecamatan(self) -> list[KecamatanConfig]:
        return self.data.kecamatan

    def cameras(self) -> Iterator[CameraEntry]:
        for kec in self.data.kecamatan:
            for site in kec.site:
                for cam in site.camera:
                    yield CameraEntry(cam, site, kec)

    def camera(self, camera_id: str) -> CameraEntry | None:
        return next((e for e in self.cameras() if e.camera.id == camera_id), None)

    def password(self, camera_id: str) -> str:
        return self.passwords[camera_id].get_secret_value()

    @property
    def storage(self) -> Path:
        """The storage folder; a relative path is taken from the inventory file's folder."""
        return _relative_to(self.path, self.server.storage)

    @property
    def secrets_path(self) -> Path | None:
        secrets = self.server.secrets
        return None if secrets is None else _relative_to(self.path, secrets)

    def exposed_files(self) -> list[tuple[Path, int, str]]:
        """(file, mode, what it holds) for each secret-holding file others may read.

        The secrets file holds camera passwords; the inventory itself counts once it
        holds API token hashes.
        """
        holders = [(self.secrets_path, "camera passwords")]
        if self.server.token:
            holders.append((self.path, "API token hashes"))
        found: list[tuple[Path, int, str]] = []
        for path, what in holders:
            try:
                mode = path.stat().st_mode & 0o777 if path is not None else 0
            except OSError:
                continue
            if path is not None and mode & 0o077:
                found.append((path, mode, what))
        return found

    def storage_problem(self) -> str | None:
        """Why the server could not make or write its storage folder; None when it can.

        Tries for real (a temporary folder or file, removed again) rather than guessing
        from permission bits, which say nothing about read-only mounts or root.
        """
        storage = self.storage
        probe = storage
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        shown = json.dumps(str(storage), ensure_ascii=False)
        if not probe.is_dir():
            return f"server.storage: {shown} cannot be made: {probe} is not a folder"
        try:
            if probe == storage:
                fd, name = tempfile.mkstemp(prefix=".cctvctl-check-", dir=probe)
                os.close(fd)
                os.unlink(name)
            else:
                os.rmdir(tempfile.mkdtemp(prefix=".cctvctl-check-", dir=probe))
        except OSError as exc:
            verb = "written" if probe == storage else "made"
            return f"server.storage: {shown} cannot be {verb}: {exc.strerror or exc} in {probe}"
        return None

    def summary(self) -> dict[str, Any]:
        sites = [s for k in self.kecamatan for s in k.site]
        entries = list(self.cameras())
        per_kind = Counter(e.site.kind.value for e in entries)
        return {
            "kecamatan": len(self.kecamatan),
            "sites": len(sites),
            "cameras": len(entries),
            "enabled": sum(e.camera.enabled for e in entries),
            "with_onvif": sum(e.camera.onvif is not None for e in entries),
            "cameras_per_kind": {kind.value: per_kind.get(kind.value, 0) for kind in SiteKind},
            "tokens": len(self.server.token),
        }


def _relative_to(config_path: Path, value: Path) -> Path:
    return value if value.is_absolute() else (config_path.parent / value)


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


def show_value(value: object) -> str:
    """A TOML value as the person wrote it, never a Python repr: ``"yes"``, ``true``, ``nan``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        # JSON escapes control characters, so none reaches the terminal.
        return json.dumps(value if len(value) <= 60 else value[:57] + "...", ensure_ascii=False)
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        return f"{value.isoformat()} (a date-time)"
    if isinstance(value, date):
        return f"{value.isoformat()} (a date)"
    if isinstance(value, time):
        return f"{value.isoformat()} (a time)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return "this value"


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
    text = path.read_text(encoding="utf-8")
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


def _load_secrets(path: Path) -> tuple[dict[str, str], list[str]]:
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
    table = raw.get("passwords", {})
    extra = sorted(set(raw) - {"passwords"})
    issues = [
        f"server.secrets: unknown key {k!r} in {path.name}; accepted: passwords" for k in extra
    ]
    if not isinstance(table, dict):
        return {}, [*issues, f"server.secrets: 'passwords' in {path.name} must be a table"]
    bad = [k for k, v in table.items() if not isinstance(v, str)]
    issues += [f"server.secrets: passwords.{k} in {path.name} must be a string" for k in bad]
    return {k: v for k, v in table.items() if isinstance(v, str)}, issues


def _resolve_passwords(
    path: Path, data: InventoryFile, env: Mapping[str, str]
) -> tuple[dict[str, SecretStr], list[str]]:
    secrets: dict[str, str] = {}
    issues: list[str] = []
    if data.server.secrets is not None:
        secrets, issues = _load_secrets(_relative_to(path, data.server.secrets))
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
                else:
                    issues.append(
                        f"{where}: no password for camera {cam.id!r}; accepted: 'password_env' "
                        "naming an environment variable, or an entry under [passwords] in the "
                        "file named by server.secrets"
                    )
    return passwords, issues


def load_inventory(path: Path | str, env: Mapping[str, str] | None = None) -> Inventory:
    """Read and validate an inventory file; raise :class:`ConfigError` listing every problem."""
    path = Path(path)
    env = os.environ if env is None else env
    try:
        raw = _read_toml(path)
    except FileNotFoundError:
        raise ConfigError(path, ["file does not exist"]) from None
    except IsADirectoryError:
        raise ConfigError(path, ["is a directory; give the inventory .toml file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, [f"cannot read: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [f"not valid TOML: {exc}"]) from None
    except ValueError as exc:  # after its subclasses above: only _read_toml's own
        raise ConfigError(path, [str(exc)]) from None
    control = [f"{where}: {problem}" for where, problem in _control_characters(raw)]
    try:
        data = InventoryFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(path, control + [_describe(e) for e in exc.errors()]) from None
    issues = control + _cross_checks(data)
    if not data.kecamatan:
        issues.append("kecamatan: no kecamatan defined; add at least one [[kecamatan]] table")
    passwords, password_issues = _resolve_passwords(path, data, env)
    issues += password_issues
    if issues:
        raise ConfigError(path, issues)
    return Inventory(path=path, data=data, passwords=passwords)
