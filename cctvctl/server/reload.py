"""In-place reload: the running server moves to a new inventory without a restart.

:func:`apply_inventory` is the one way a running server changes inventory: it compares
the running inventory with the new one (:func:`cctvctl.config.diff_inventories`) and
moves every service built from it (tokens, redactor, recorder, exporter, reboots). Only
the cameras the diff names are touched, so the others record on without a gap.
:func:`reload_from_file` re-reads the file the server was started with and applies it;
SIGHUP (``cctvctl server``) and ``POST /api/v1/server/reload`` both call it, and both
leave an audit row. A file that ``config check`` would refuse is refused with the same
lines, and the running inventory stays.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Final

from cctvctl.config import (
    ConfigError,
    Inventory,
    InventoryDiff,
    diff_inventories,
    load_server_inventory,
    running_settings_kept,
)
from cctvctl.models import ReloadResult
from cctvctl.server.runtime import Runtime, runtime_of

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = [
    "RELOAD_ACTION",
    "SIGNAL_ROLE",
    "apply_inventory",
    "reload_from_file",
    "reload_on_signal",
    "reload_result",
]

log = logging.getLogger("cctvctl.server")

#: The audit action of every reload, applied or refused.
RELOAD_ACTION: Final = "server.reload"
#: The audit row's role for a reload by signal: whoever may signal the server process
#: is an operator of its host, not a token holder.
SIGNAL_ROLE: Final = "local"

# Signal-started reloads still running (the event loop keeps only weak references).
_signalled: set[asyncio.Task[None]] = set()


async def apply_inventory(rt: Runtime, new: Inventory) -> InventoryDiff:
    """Move the running server ``rt`` to ``new``; returns what changed.

    Restart-only ``[server]`` keys keep their running values (the diff lists them).
    """
    old = rt.inventory
    diff = diff_inventories(old, new)
    effective = running_settings_kept(old, new)
    # New passwords are masked before any ingest could echo one in an error.
    rt.redact.add(effective.password(e.camera.id) for e in effective.cameras())
    # Tokens first: a removed token is refused from the next request on, however long
    # the cameras take to stop.
    rt.tokens.replace(effective.server.token)
    await asyncio.to_thread(rt.recorder.apply, effective, diff)
    rt.exporter.use_inventory(effective)
    rt.reboots.use_inventory(effective)
    if rt.devices is not None:
        rt.devices.use_inventory(effective)
    rt.inventory = effective
    return diff


async def reload_from_file(rt: Runtime, *, actor: str, role: str) -> InventoryDiff:
    """Re-read the server's inventory file and apply it; raise :class:`ConfigError` (and
    keep the running inventory) if the file is unusable."""
    async with rt.reload_lock:
        path = rt.inventory.path
        try:
            new = await asyncio.to_thread(load_server_inventory, path)
            if rt.inventory.server.node is not None:
                # The name may have come from `server --node`, which the file does not hold.
                new = new.with_node(rt.inventory.server.node)
            if rt.fleet_view is not None:
                new = rt.fleet_view(new)
        except ConfigError as exc:
            for line in exc.lines():
                log.warning("reload refused: %s", line)
            await _audit(rt, actor, role, "refused", "; ".join(exc.issues))
            raise
        diff = await apply_inventory(rt, new)
        lines = diff.lines()
        for line in lines:
            log.info("reload by %s: %s", actor, line)
        if diff.needs_restart:
            log.warning(
                "reload: %s changed in %s; the running values stay until a restart",
                ", ".join(diff.needs_restart),
                path,
            )
        await _audit(rt, actor, role, "ok", "; ".join(lines))
        return diff


async def _audit(rt: Runtime, actor: str, role: str, result: str, detail: str) -> None:
    await asyncio.to_thread(
        rt.audit.record,
        actor,
        role,
        RELOAD_ACTION,
        target=str(rt.inventory.path),
        result=result,
        detail=detail,
    )


def reload_result(rt: Runtime, diff: InventoryDiff) -> ReloadResult:
    """The API's answer for a reload that was applied."""
    return ReloadResult(
        file=str(rt.inventory.path),
        cameras=sum(1 for _ in rt.inventory.cameras()),
        cameras_added=list(diff.added),
        cameras_removed=list(diff.removed),
        cameras_reconnected=list(diff.reconnect),
        cameras_updated=list(diff.relabelled),
        tokens_added=list(diff.tokens_added),
        tokens_removed=list(diff.tokens_removed),
        settings_applied=list(diff.settings_applied),
        needs_restart=list(diff.needs_restart),
        changes=diff.lines(),
    )


def reload_on_signal(app: FastAPI, signal_name: str) -> None:
    """Start a reload of ``app``'s backend (an event loop signal handler: must not block)."""
    rt = runtime_of(app)
    if rt is None:
        return
    task = asyncio.get_running_loop().create_task(_reload_logged(rt, signal_name))
    _signalled.add(task)
    task.add_done_callback(_signalled.discard)


async def _reload_logged(rt: Runtime, signal_name: str) -> None:
    try:
        await reload_from_file(rt, actor=signal_name, role=SIGNAL_ROLE)
    except ConfigError:
        pass  # logged line by line and audited by reload_from_file
    except Exception:
        log.exception("reload on %s failed", signal_name)
