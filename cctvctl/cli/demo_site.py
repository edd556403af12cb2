"""The site a demo writes: a derived inventory in its temporary folder, on free ports.

Storage inside the folder, the API on a free loopback port, one generated admin token
(kept in ``demo-token``), the cameras' passwords in a secrets file, simulator ports moved to
free ones where the inventory's are taken, and scene loops of at most
:data:`DEMO_LOOP_SECONDS`. The inventory given is never touched.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    import socket

    from cctvctl.config import Inventory

__all__ = [
    "DEMO_LOOP_SECONDS",
    "HOST",
    "Derived",
    "derive_inventory",
    "plan_ports",
    "port_free",
    "toml_text",
]

HOST: Final = "127.0.0.1"
TOKEN_NAME: Final = "demo-admin"  # noqa: S105 (the name a token is listed under)
#: A first look needs a few GOPs of motion per camera, not 20 s: on a cold cache every
#: loop is encoded before the demo opens, and H.265 costs about 3.6x H.264 to encode.
DEMO_LOOP_SECONDS: Final = 4.0


def port_free(port: int, host: str = HOST) -> bool:
    """True if a listener could bind ``host:port`` now (as asyncio and the server do)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def plan_ports(wanted: list[int], count_free: int = 0) -> tuple[dict[int, int], list[int]]:
    """Keep each wanted port that is usable, move the others to free ones.

    Returns (wanted -> actual, ``count_free`` extra free ports). Free ports are held open
    until all are chosen, so no two of them are the same.
    """
    import socket

    held: list[socket.socket] = []

    def fresh() -> int:
        while True:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((HOST, 0))
            held.append(sock)
            got: int = sock.getsockname()[1]
            if got not in wanted:
                return got

    try:
        mapping = {p: p if p >= 1024 and port_free(p) else fresh() for p in dict.fromkeys(wanted)}
        extra = [fresh() for _ in range(count_free)]
    finally:
        for sock in held:
            sock.close()
    return mapping, extra


def _with_port(url: str, ports: Mapping[int, int], default: int) -> str:
    parts = urlsplit(url)
    port = ports[parts.port or default]
    return urlunsplit(parts._replace(netloc=f"{HOST}:{port}"))


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON strings are TOML basic strings
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def _is_table_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def toml_text(data: Mapping[str, Any]) -> str:
    """A TOML document for JSON-like ``data`` (what ``model_dump(mode="json")`` gives)."""
    lines: list[str] = []

    def table(body: Mapping[str, Any], path: tuple[str, ...]) -> None:
        for key, value in body.items():
            if not isinstance(value, dict) and not _is_table_list(value):
                lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
        for key, value in body.items():
            name = ".".join(_toml_key(p) for p in (*path, key))
            if isinstance(value, dict):
                lines.extend(["", f"[{name}]"])
                table(value, (*path, key))
            elif _is_table_list(value):
                for item in value:
                    lines.extend(["", f"[[{name}]]"])
                    table(item, (*path, key))

    table(data, ())
    return "\n".join(lines).lstrip("\n") + "\n"


@dataclass
class Derived:
    """What :func:`derive_inventory` wrote."""

    config: Path
    url: str
    token: str
    control_port: int
    moved: dict[int, int] = field(default_factory=dict)  # inventory port -> port used


def derive_inventory(inventory: Inventory, folder: Path, port: int | None) -> Derived:
    """Write the demo's own inventory into ``folder``: see the module's docstring."""
    import secrets

    from cctvctl.cli.server_cmd import TOKEN_PREFIX
    from cctvctl.config import hash_token

    entries = [e for e in inventory.cameras() if e.camera.enabled]
    control = int(inventory.sim.control.rpartition(":")[2])
    wanted = [urlsplit(e.camera.rtsp).port or 554 for e in entries]
    wanted += [urlsplit(e.camera.onvif).port or 80 for e in entries if e.camera.onvif]
    wanted.append(control)
    ports, extra = plan_ports(wanted, count_free=0 if port is not None else 1)
    api_port = port if port is not None else extra[0]
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)

    data = inventory.data.model_dump(mode="json", exclude_none=True)
    server = data["server"]
    server.update(
        listen=f"{HOST}:{api_port}",
        storage="recordings",
        secrets="secrets.toml",
        token=[{"name": TOKEN_NAME, "role": "admin", "hash": hash_token(token)}],
    )
    data["sim"]["control"] = f"{HOST}:{ports[control]}"
    data["sim"]["loop_seconds"] = min(inventory.sim.loop_seconds, DEMO_LOOP_SECONDS)
    for kec in data["kecamatan"]:
        for site in kec.get("site", []):
            cams = [c for c in site.get("camera", []) if c.get("enabled", True)]
            for cam in cams:
                cam.pop("password_env", None)
                cam["rtsp"] = _with_port(cam["rtsp"], ports, 554)
                if "onvif" in cam:
                    cam["onvif"] = _with_port(cam["onvif"], ports, 80)
            site["camera"] = cams

    source = inventory.path.resolve()
    header = f"# Written by `cctvctl demo` from {source}; kept only with --keep.\n"
    config = folder / "inventory.toml"
    # Private like the secrets: it holds the demo token's hash, and the server warns
    # about an inventory with token hashes that others can read.
    _write_private(config, header + toml_text(data))
    passwords = {e.camera.id: inventory.password(e.camera.id) for e in entries}
    _write_private(folder / "secrets.toml", toml_text({"passwords": passwords}))
    _write_private(folder / "demo-token", token + "\n")
    return Derived(
        config=config,
        url=f"http://{HOST}:{api_port}",
        token=token,
        control_port=ports[control],
        moved={a: b for a, b in ports.items() if a != b},
    )


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
