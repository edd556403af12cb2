"""The value types of the TOML files, and how a value is shown back to the person who wrote it.

Ids, URLs, ``host:port``, paths and file modes each say what would have been accepted;
:func:`show_value` quotes a value as TOML, never as a Python repr.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
TOKEN_HASH_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
DEFAULT_LISTEN = "127.0.0.1:8470"
DEFAULT_FILE_MODE = "0640"
# Owner reads and writes (the server must), the group may read or also write, others get
# nothing: footage of people is personal data, and a site that needs a second account
# (a backup job, an auditor) gives it the group, never the whole machine.
FILE_MODES: dict[int, str] = {0o600: "0600", 0o640: "0640", 0o660: "0660"}


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


def _fleet_dsn(value: str) -> str:
    if not value.startswith(("postgresql://", "postgres://")):
        raise ValueError(
            "fleet dsn must be a PostgreSQL URL, e.g. "
            "'postgresql://cctv@noc-db.kutimkab.go.id/cctv' (the password in ~/.pgpass)"
        )
    return value


FleetDsn = Annotated[str, AfterValidator(_fleet_dsn)]


def _archive_endpoint(value: str) -> str:
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
        raise ValueError(
            f"{show_value(value)} is not an S3 endpoint; accepted: an http(s) URL, e.g. "
            "'https://s3.kutimkab.go.id' or 'http://10.8.0.5:9000'"
        )
    if parts.username or parts.password:
        raise ValueError(
            f"{show_value(parts.hostname)} endpoint carries credentials; put the keys in the "
            "environment (access_key_env, secret_key_env) or the secrets file's [archive]"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"{show_value(value)} has a query or fragment; give the bare URL")
    return value.rstrip("/")


# S3's own rule for bucket names (the path-style subset every S3-compatible store takes).
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def _bucket(value: str) -> str:
    if not BUCKET_RE.match(value) or ".." in value:
        raise ValueError(
            f"{show_value(value)} is not a bucket name; accepted: 3 to 63 lower-case letters, "
            "digits, '-' and '.', starting and ending with a letter or digit"
        )
    return value


_WINDOW_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


def parse_upload_window(value: str) -> tuple[int, int]:
    """``"22:00-05:00"`` -> minutes of the day (1320, 300), WITA; the end is exclusive and
    a window whose end is before its start runs over midnight. ValueError names the form."""
    match = _WINDOW_RE.match(value)
    accepted = (
        'accepted: "HH:MM-HH:MM" in WITA, 24-hour, e.g. "22:00-05:00" (over midnight); '
        "leave upload_window out to upload at any time"
    )
    if match is None:
        raise ValueError(f"{show_value(value)} is not an upload window; {accepted}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == end:
        raise ValueError(f"{show_value(value)} is an empty upload window; {accepted}")
    return start, end


def _upload_window(value: str) -> str:
    parse_upload_window(value)
    return value


ArchiveEndpoint = Annotated[str, AfterValidator(_archive_endpoint)]
Bucket = Annotated[str, AfterValidator(_bucket)]
UploadWindow = Annotated[str, AfterValidator(_upload_window)]
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _env_name(value: str) -> str:
    if not ENV_NAME_RE.match(value):
        raise ValueError(
            f"{show_value(value)} is not an environment variable name; accepted: letters, "
            "digits and '_', not starting with a digit"
        )
    return value


EnvName = Annotated[str, AfterValidator(_env_name)]
FolderPath = Annotated[
    Path, Field(strict=False), _path_text('a folder path, e.g. "recordings" or "/srv/cctv"')
]
FilePath = Annotated[
    Path, Field(strict=False), _path_text('a file path in quotes, e.g. "site.secrets.toml"')
]
FileMode = Annotated[str, AfterValidator(_file_mode)]


class StrictModel(BaseModel):
    # strict: TOML has real types, so "yes" for a bool, true for a number or a date for
    # a string is a mistake to report, not a value to coerce.
    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, strict=True, allow_inf_nan=False
    )


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


def relative_to(config_path: Path, value: Path) -> Path:
    return value if value.is_absolute() else (config_path.parent / value)
