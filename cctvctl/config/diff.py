"""What changed between two inventories, as a running server must act on it (pure).

A reload (SIGHUP, ``cctvctl server reload``) and, later, a fleet inventory change both
compare the inventory a server runs with the one it should run with. Cameras fall in
four groups: added (start recording), removed (stop; footage stays), changed in a way
the ingest depends on (reconnect) and changed only in how they are described (name,
site, fps, ONVIF: updated in place, the ingest untouched). ``[server]`` settings are
either applied on the spot or need a restart; the latter keep their running values
(:func:`running_settings_kept`) and are reported, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from cctvctl.config.inventory import CameraEntry, Inventory
from cctvctl.config.settings import ServerConfig, TokenConfig

__all__ = [
    "APPLIED_SETTINGS",
    "RESTART_SETTINGS",
    "InventoryDiff",
    "diff_inventories",
    "running_settings_kept",
]

#: ``[server]`` keys read once at start-up: the socket, the storage root and its file
#: modes, every ingest's segment length, the thumbnail cache and uvicorn's guards.
RESTART_SETTINGS: Final = (
    "node",
    "listen",
    "storage",
    "file_mode",
    "segment_seconds",
    "reanchor_seconds",
    "ingest_processes",
    "cameras_per_process",
    "thumbnail_seconds",
    "header_timeout",
    "keep_alive_timeout",
    "max_connections",
)
#: ``[server]`` keys a reload applies (tokens are compared one by one instead).
APPLIED_SETTINGS: Final = tuple(
    name for name in ServerConfig.model_fields if name not in (*RESTART_SETTINGS, "token")
)


@dataclass(frozen=True)
class InventoryDiff:
    """Camera ids and token names per kind of change, in inventory order."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    # URL, user, password, enabled, kecamatan, transport or audio handling changed
    reconnect: tuple[str, ...] = ()
    relabelled: tuple[str, ...] = ()  # only name, site, fps or ONVIF changed
    tokens_added: tuple[str, ...] = ()
    tokens_removed: tuple[str, ...] = ()
    settings_applied: tuple[str, ...] = ()  # [server] keys
    needs_restart: tuple[str, ...] = ()  # [server] keys (or "fleet") kept as they run
    kecamatan_changed: bool = False  # a kecamatan added, removed, renamed or re-quoted

    @property
    def empty(self) -> bool:
        return self == InventoryDiff()

    def lines(self) -> list[str]:
        """One line per non-empty group, for logs and the CLI."""
        groups = (
            ("cameras added", self.added),
            ("cameras removed (footage kept)", self.removed),
            ("cameras reconnected", self.reconnect),
            ("cameras updated in place", self.relabelled),
            ("tokens added", self.tokens_added),
            ("tokens removed", self.tokens_removed),
            ("[server] settings applied", self.settings_applied),
            ("[server] settings that need a restart (running values kept)", self.needs_restart),
        )
        out = [f"{what}: {', '.join(items)}" for what, items in groups if items]
        if self.kecamatan_changed and not out:
            out.append("kecamatan updated")
        return out or ["no change"]


def _ingest_key(inventory: Inventory, entry: CameraEntry) -> tuple[object, ...]:
    cam = entry.camera
    return (
        cam.rtsp,
        cam.username,
        inventory.password(cam.id),
        cam.enabled,
        entry.kecamatan.key,
        inventory.transport(entry),
        inventory.audio(entry),
    )


def _described(entry: CameraEntry) -> tuple[object, ...]:
    cam = entry.camera
    site = entry.site  # its fields, not the model: that holds every camera of the site
    return (
        cam.name,
        cam.fps,
        cam.onvif,
        cam.node,
        tuple(cam.failover),
        site.name,
        site.kind,
        site.lat,
        site.lon,
        entry.kecamatan.name,
    )


def _token_key(token: TokenConfig) -> str:
    # Name, role and hash together: a token renamed or given another role is the old
    # entry removed and a new one added, so the audit row names both.
    return f"{token.name}\x00{token.role.value}\x00{token.hash}"


def _setting(inventory: Inventory, name: str) -> object:
    # Paths as the server uses them: a relative one is taken from the file's folder.
    if name == "storage":
        return inventory.storage
    if name == "secrets":
        return inventory.secrets_path
    return getattr(inventory.server, name)


def diff_inventories(old: Inventory, new: Inventory) -> InventoryDiff:
    """What a server running ``old`` must do to run ``new``."""
    before = {e.camera.id: e for e in old.cameras()}
    after = {e.camera.id: e for e in new.cameras()}
    added = tuple(cid for cid in after if cid not in before)
    removed = tuple(cid for cid in before if cid not in after)
    kept = [cid for cid in after if cid in before]
    reconnect = tuple(
        cid for cid in kept if _ingest_key(old, before[cid]) != _ingest_key(new, after[cid])
    )
    relabelled = tuple(
        cid
        for cid in kept
        if cid not in reconnect and _described(before[cid]) != _described(after[cid])
    )
    old_tokens = {_token_key(t): t.name for t in old.server.token}
    new_tokens = {_token_key(t): t.name for t in new.server.token}
    changed_settings = [
        name
        for name in ServerConfig.model_fields
        if name != "token" and _setting(old, name) != _setting(new, name)
    ]
    old_kec = [(k.key, k.name, k.quota_gb) for k in old.kecamatan]
    new_kec = [(k.key, k.name, k.quota_gb) for k in new.kecamatan]
    return InventoryDiff(
        added=added,
        removed=removed,
        reconnect=reconnect,
        relabelled=relabelled,
        tokens_added=tuple(name for key, name in new_tokens.items() if key not in old_tokens),
        tokens_removed=tuple(name for key, name in old_tokens.items() if key not in new_tokens),
        settings_applied=tuple(n for n in changed_settings if n not in RESTART_SETTINGS),
        needs_restart=tuple(n for n in changed_settings if n in RESTART_SETTINGS)
        + (("fleet",) if old.fleet != new.fleet else ())
        + (
            ("archive",)
            if (old.archive, old.archive_keys) != (new.archive, new.archive_keys)
            else ()
        ),
        kecamatan_changed=old_kec != new_kec,
    )


def running_settings_kept(old: Inventory, new: Inventory) -> Inventory:
    """``new`` with every restart-only ``[server]`` key and the ``[fleet]`` and ``[archive]``
    tables (and the archive's keys) at ``old``'s (running) value."""
    keep = {name: _setting(old, name) for name in RESTART_SETTINGS}
    server = new.server.model_copy(update=keep)
    data = new.data.model_copy(
        update={"server": server, "fleet": old.fleet, "archive": old.archive}
    )
    return Inventory(
        path=new.path, data=data, passwords=new.passwords, archive_keys=old.archive_keys
    )
