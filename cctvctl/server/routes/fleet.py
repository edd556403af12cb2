"""``/api/v1/fleet/*``: the fleet as every node of it answers: its nodes and their health,
where a camera is recorded, the fleet audit log and footage catalogue, and (admin) new
inventory versions and tokens.

Every store call runs on a worker thread under a small limiter of its own: a store that
is down holds a call for its connect time-out, and neither the event loop nor the threads
the other routes run on may wait for it. On a single node (no ``[fleet]`` table) every
route is a 404 that says so; with the store unreachable a 503 that names it (host and
port: a DSN may hold a password).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import hashlib
import weakref
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Final, TypeVar, Unpack
from urllib.parse import parse_qs, urlsplit

import anyio
from fastapi import APIRouter, Depends, Path, Query, Request, Response

from cctvctl.config import ConfigError, Inventory, InventoryDiff, diff_inventories, fleet_inventory
from cctvctl.fleet.records import StoreUnavailable
from cctvctl.models import (
    MAX_INVENTORY_BYTES,
    CameraWhere,
    FleetAuditEntry,
    FleetLease,
    FleetNode,
    FleetNodes,
    FleetToken,
    FleetTokenRequest,
    FootageRun,
    InventoryApplied,
    InventoryApply,
    Problem,
    Role,
)
from cctvctl.server.auth import require
from cctvctl.server.credentials import Principal
from cctvctl.server.problems import TYPE_INVALID_INVENTORY, ProblemError, not_found
from cctvctl.server.routes._shared import (
    DAY,
    RT,
    VIEWER,
    BodyRefused,
    body_schema,
    invalid,
    loads_body,
    read_json_body,
    validate_body,
)
from cctvctl.server.routes.recordings import TIME_SCHEMA, parse_time
from cctvctl.server.runtime import Runtime
from cctvctl.storage.audit import MAX_LIMIT, AuditFields
from cctvctl.untrusted import clip, quoted

if TYPE_CHECKING:
    from cctvctl.fleet.records import AuditRow, Holding, InventoryVersion, Lease, Node
    from cctvctl.fleet.records import FootageRun as Run
    from cctvctl.fleet.store import FleetStore

__all__ = ["APPLY_ACTION", "TOKEN_PUT_ACTION", "TOKEN_REMOVE_ACTION", "router"]

T = TypeVar("T")

TYPE_NOT_IN_FLEET: Final = "urn:cctvctl:problem:not-in-fleet"
TYPE_STORE_UNAVAILABLE: Final = "urn:cctvctl:problem:fleet-store-unavailable"
#: Audit actions of the fleet's writes, in the node's own audit log.
APPLY_ACTION: Final = "fleet.apply"
TOKEN_PUT_ACTION: Final = "fleet.token.put"  # noqa: S105 (an audit action)
TOKEN_REMOVE_ACTION: Final = "fleet.token.remove"  # noqa: S105
#: Store calls waiting on a thread at once; the rest wait without one.
STORE_THREADS: Final = 4
#: Seconds a caller is told to wait before asking an unreachable store again.
RETRY_AFTER: Final = 5
_TIME: Final = TIME_SCHEMA
_ID_PATTERN: Final = {"pattern": "^[^/]+$"}

ADMIN: Final = Depends(require(Role.ADMIN))

router = APIRouter(
    prefix="/api/v1/fleet",
    tags=["fleet"],
    responses={
        401: {"model": Problem},
        404: {"model": Problem, "description": "This server is not in a fleet (or no such item)"},
        422: {"model": Problem},
        503: {"model": Problem, "description": "The fleet store cannot be reached"},
    },
)
_FORBIDDEN: Final[dict[int | str, dict[str, Any]]] = {
    403: {"model": Problem, "description": "The token's role is too low (needs admin)"}
}

_limiters: weakref.WeakKeyDictionary[Runtime, anyio.CapacityLimiter] = weakref.WeakKeyDictionary()


def store_address(dsn: str) -> str:
    """``host:port`` of a store's DSN, never its user or password."""
    parts = urlsplit(dsn)
    query = parse_qs(parts.query)
    host = parts.hostname or (query.get("host") or ["local socket"])[0]
    try:
        port = parts.port or int((query.get("port") or ["5432"])[0])
    except ValueError:
        port = 5432
    return f"{host}:{port}"


def _store(rt: Runtime) -> FleetStore:
    if rt.fleet_store is None:
        raise ProblemError(
            404,
            "this server is not in a fleet (its inventory has no [fleet] table); "
            "ask a fleet node, or use the commands without --fleet",
            type=TYPE_NOT_IN_FLEET,
            title="Not in a fleet",
        )
    return rt.fleet_store


def _unavailable(rt: Runtime, error: StoreUnavailable) -> ProblemError:
    fleet = rt.inventory.fleet
    where = store_address(fleet.dsn) if fleet is not None else "unknown"
    # The driver's words (``cause``) name a host and a port at most, never the DSN's
    # password; they still pass the redactor, as every error does.
    return ProblemError(
        503,
        f"the fleet store at {where} cannot be reached; this node records on, ask again "
        "in a few seconds",
        type=TYPE_STORE_UNAVAILABLE,
        title="Fleet store unavailable",
        headers={"Retry-After": str(RETRY_AFTER)},
        extra={"store": where, "cause": rt.redact(str(error))},
    )


async def _off_loop(rt: Runtime, work: Callable[[FleetStore], T]) -> T:
    """``work(store)`` on a worker thread; an unreachable store is the caller's 503."""
    store = _store(rt)
    limiter = _limiters.get(rt)
    if limiter is None:
        limiter = _limiters[rt] = anyio.CapacityLimiter(STORE_THREADS)
    try:
        return await anyio.to_thread.run_sync(work, store, limiter=limiter)
    except StoreUnavailable as error:
        raise _unavailable(rt, error) from None


def _lease(lease: Lease, now: datetime) -> FleetLease:
    return FleetLease(
        camera=lease.camera,
        node=lease.node,
        acquired=lease.acquired,
        expires=lease.expires,
        live=lease.expires > now,
    )


def _run(run: Run) -> FootageRun:
    return FootageRun(node=run.node, camera=run.camera, start=run.start, end=run.end)


# --------------------------------------------------------------------------- reads


@router.get("/nodes", response_model=FleetNodes, dependencies=[VIEWER])
async def fleet_nodes(rt: RT) -> FleetNodes:
    """Every node of the fleet: its URL (ask it for live data), version, kecamatan,
    capacity, last heartbeat and its age, whether it is alive (a heartbeat younger than
    the lease time, not stopped since) or stopped cleanly, how many cameras it records
    now (live leases), which of them it stands in for (taken over: their home is another
    node), and how long ago it renewed its leases."""

    def read(store: FleetStore) -> tuple[datetime, list[Node], list[Holding]]:
        return store.now(), store.nodes(), store.holdings()

    now, nodes, holdings = await _off_loop(rt, read)
    fleet = rt.inventory.fleet
    assert fleet is not None  # there is a store only with a [fleet] table
    held = {h.node: h for h in holdings}

    def since(t: datetime | None) -> float | None:
        return None if t is None else max(0.0, (now - t).total_seconds())

    def node(n: Node) -> FleetNode:
        # Every time is the store's: a node's own clock never enters it.
        age = max(0.0, (now - n.heartbeat).total_seconds())
        h = held.get(n.name)
        return FleetNode(
            name=n.name,
            url=n.url,
            version=n.version,
            kecamatan=list(n.kecamatan),
            capacity=n.capacity,
            heartbeat=n.heartbeat,
            heartbeat_age=age,
            alive=age < fleet.lease_seconds and n.stopped is None,
            leases=len(h.cameras) if h is not None else 0,
            stopped=n.stopped,
            taken_over=list(h.taken_over) if h is not None else [],
            lease_age=since(h.renewed) if h is not None else None,
            oldest_lease_age=since(h.oldest) if h is not None else None,
        )

    return FleetNodes(
        generated=now,
        node=rt.node or "",
        lease_seconds=fleet.lease_seconds,
        nodes=[node(n) for n in nodes],
    )


def _inventory_cameras(version: InventoryVersion | None) -> set[str]:
    if version is None:
        return set()
    return {
        str(cam.get("id"))
        for kec in version.parsed.get("kecamatan", [])
        for site in kec.get("site", [])
        for cam in site.get("camera", [])
    }


@router.get("/where/{camera_id}", response_model=CameraWhere, dependencies=[VIEWER])
async def fleet_where(
    rt: RT,
    camera_id: Annotated[str, Path(min_length=1, max_length=200, json_schema_extra=_ID_PATTERN)],
    at: Annotated[
        str | None,
        Query(description="The instant, RFC 3339 (default: now).", json_schema_extra=_TIME),
    ] = None,
) -> CameraWhere:
    """Which node holds the camera's lease now, and the catalogue's runs holding its
    footage of ``at`` (two during a handover). 404 for a camera the fleet has never
    heard of."""
    camera = camera_id
    when = parse_time("at", at) if at is not None else None

    def read(store: FleetStore) -> tuple[datetime, list[Lease], list[Run], set[str]]:
        now = store.now()
        leases = [lease for lease in store.leases() if lease.camera == camera]
        runs = store.where(camera, when or now)
        return now, leases, runs, _inventory_cameras(store.inventory())

    now, leases, runs, known = await _off_loop(rt, read)
    if not leases and not runs and camera not in known:
        raise not_found(
            f"no camera {quoted(camera)} in the fleet inventory, its leases or its "
            "catalogue; `cctvctl cameras --fleet` lists them"
        )
    return CameraWhere(
        camera=camera,
        at=when or now,
        lease=_lease(leases[0], now) if leases else None,
        runs=[_run(r) for r in runs],
    )


@router.get("/catalogue", response_model=list[FootageRun], dependencies=[VIEWER])
async def fleet_catalogue(
    rt: RT,
    camera: Annotated[str, Query(min_length=1, max_length=200, description="The camera.")],
    since: Annotated[
        str | None,
        Query(description="From, RFC 3339 (default: 24 h before until).", json_schema_extra=_TIME),
    ] = None,
    until: Annotated[
        str | None,
        Query(description="Until, RFC 3339 (default: now); after since.", json_schema_extra=_TIME),
    ] = None,
) -> list[FootageRun]:
    """The camera's recording runs on every node that overlap the window, by start (an
    open run, ``end`` null, is recording now)."""
    t_since = parse_time("since", since) if since is not None else None
    t_until = parse_time("until", until) if until is not None else None
    if t_since is not None and t_until is not None and t_until <= t_since:
        raise invalid(
            "until", f"until ({clip(until or '')}) must be after since ({clip(since or '')})"
        )

    def read(store: FleetStore) -> list[Run]:
        end = t_until or store.now()
        start = t_since or end - DAY
        return store.runs(camera, start, end)

    runs = await _off_loop(rt, read)
    return [_run(r) for r in runs]


@router.get(
    "/audit",
    response_model=list[FleetAuditEntry],
    dependencies=[ADMIN],
    responses=_FORBIDDEN,
)
async def fleet_audit(
    rt: RT,
    since: Annotated[
        str | None,
        Query(description="Rows at or after this time, RFC 3339.", json_schema_extra=_TIME),
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="At most this many, the oldest.")
    ] = 500,
) -> list[FleetAuditEntry]:
    """The audit rows of every node (admin, as a node's own audit log), oldest first."""
    t_since = parse_time("since", since) if since is not None else None
    rows = await _off_loop(rt, functools.partial(_audit_rows, since=t_since, limit=limit))
    return [FleetAuditEntry(**{**dataclasses.asdict(row), "id": str(row.id)}) for row in rows]


def _audit_rows(store: FleetStore, *, since: datetime | None, limit: int) -> list[AuditRow]:
    return store.audit(since=since, limit=limit)


# --------------------------------------------------------------------------- writes


async def _record(rt: Runtime, who: Principal, action: str, **row: Unpack[AuditFields]) -> None:
    record = functools.partial(rt.audit.record, who.name, who.role.value, action, **row)
    await asyncio.to_thread(record)


async def _read_body(request: Request, model: type[Any], limit: int) -> Any:
    try:
        raw = await read_json_body(request, limit)
        return validate_body(model, raw, loads_body(raw))
    except BodyRefused as exc:
        raise exc.problem from None


def _changes(latest: InventoryVersion | None, new: Inventory) -> InventoryDiff:
    """What moving the fleet from ``latest`` to ``new`` does to its cameras."""
    old = None
    # One that no longer checks here (an unset password variable) counts as nothing.
    if latest is not None:
        with contextlib.suppress(ConfigError):
            old = fleet_inventory(new, latest.toml, source=f"version {latest.version}")
    if old is None:
        return InventoryDiff(added=tuple(entry.camera.id for entry in new.cameras()))
    # A fleet inventory's cameras are what it publishes; each node keeps its own [server].
    diff = diff_inventories(old, new)
    return InventoryDiff(
        added=diff.added,
        removed=diff.removed,
        reconnect=diff.reconnect,
        relabelled=diff.relabelled,
        kecamatan_changed=diff.kecamatan_changed,
    )


async def _checked(rt: Runtime, who: Principal, req: InventoryApply) -> Inventory:
    """``req``'s inventory as every node will run it, or the 422 listing its lines.

    A node runs the fleet's cameras with its own ``[server]`` (its secrets, its
    environment), so the file's cameras are checked with this node's, as ``config check``
    checks a file; the file's own ``[server]`` is not used by any node.
    """
    source = req.file or "inventory"
    try:
        return await asyncio.to_thread(fleet_inventory, rt.inventory, req.toml, source=source)
    except ConfigError as exc:
        lines = [f"{req.file or 'inventory'}: {issue}" for issue in exc.issues]
        if not req.dry_run:
            await _record(rt, who, APPLY_ACTION, result="refused", detail="; ".join(lines))
        noun = "problem" if len(lines) == 1 else "problems"
        raise ProblemError(
            422,
            f"the inventory was refused ({len(lines)} {noun}); the latest version stays",
            type=TYPE_INVALID_INVENTORY,
            title="Invalid inventory",
            extra={"errors": [{"in": "body", "parameter": "toml", "detail": x} for x in lines]},
        ) from None


@router.post(
    "/inventory",
    response_model=InventoryApplied,
    openapi_extra=body_schema(InventoryApply),
    responses=_FORBIDDEN,
)
async def fleet_apply(
    rt: RT,
    request: Request,
    principal: Annotated[Principal, ADMIN],
) -> InventoryApplied:
    """Check an inventory as `cctvctl config check` does, compare it with the latest
    version and publish it as the next one (admin); every node hears of it.

    A file that does not check is a 422 listing the same lines (`errors[].detail`), and
    nothing is stored. The same text as the latest version publishes nothing
    (`unchanged`). With `dry_run` nothing is stored either: the answer says what would
    change. Relative paths (a secrets file) are taken from this node's inventory folder.
    Each request but a dry run is an audit row `fleet.apply` (ok, unchanged, refused or
    failed).
    """
    _store(rt)  # 404 before the body is read on a single node
    req: InventoryApply = await _read_body(request, InventoryApply, MAX_INVENTORY_BYTES + 64 * 1024)
    new = await _checked(rt, principal, req)
    latest = await _off_loop(rt, lambda store: store.inventory())
    diff = await asyncio.to_thread(_changes, latest, new)
    digest = hashlib.sha256(req.toml.encode("utf-8")).hexdigest()
    previous = None if latest is None else latest.version
    if req.dry_run:
        unchanged = latest is not None and latest.sha256 == digest
        version = (previous or 0) + (0 if unchanged else 1)
    else:
        parsed = new.data.model_dump(mode="json")
        try:
            published = await _off_loop(
                rt,
                lambda store: store.publish_inventory(req.toml, parsed, author=principal.name),
            )
        except ProblemError as problem:
            await _record(rt, principal, APPLY_ACTION, result="failed", detail=problem.detail)
            raise
        # The store numbers only new text: the same text is the same version.
        version = published.version
        unchanged = previous == version
    if unchanged:
        diff = InventoryDiff()
    if not req.dry_run:
        await _record(
            rt,
            principal,
            APPLY_ACTION,
            target=f"fleet inventory v{version}",
            result="unchanged" if unchanged else "ok",
            detail="; ".join(diff.lines()),
        )
    return InventoryApplied(
        dry_run=req.dry_run,
        version=version,
        previous=previous,
        unchanged=unchanged,
        sha256=digest,
        cameras=sum(1 for _ in new.cameras()),
        cameras_added=list(diff.added),
        cameras_removed=list(diff.removed),
        cameras_reconnected=list(diff.reconnect),
        cameras_updated=list(diff.relabelled),
        changes=diff.lines(),
    )


@router.post(
    "/tokens",
    status_code=201,
    response_model=FleetToken,
    openapi_extra=body_schema(FleetTokenRequest),
    responses=_FORBIDDEN,
)
async def fleet_token_put(
    rt: RT, request: Request, principal: Annotated[Principal, ADMIN]
) -> FleetToken:
    """Store a token's hash for every node of the fleet (admin); a token of the same name
    is replaced. The token itself never leaves the machine it was made on."""
    _store(rt)
    req: FleetTokenRequest = await _read_body(request, FleetTokenRequest, 4096)
    token = await _off_loop(rt, lambda store: store.put_token(req.name, req.role.value, req.hash))
    await _record(rt, principal, TOKEN_PUT_ACTION, target=req.name, detail=req.role.value)
    return FleetToken(name=token.name, role=Role(token.role), created=token.created)


@router.delete(
    "/tokens/{name}",
    status_code=204,
    response_class=Response,
    responses={**_FORBIDDEN, 204: {"description": "Removed"}},
)
async def fleet_token_remove(
    rt: RT,
    name: Annotated[str, Path(min_length=1, max_length=200, json_schema_extra=_ID_PATTERN)],
    principal: Annotated[Principal, ADMIN],
) -> Response:
    """Remove a fleet token by name (admin); nodes refuse it once they have heard."""
    removed = await _off_loop(rt, lambda store: store.remove_token(name))
    if not removed:
        raise not_found(f"no fleet token {quoted(name)}; accepted: the name it was made with")
    await _record(rt, principal, TOKEN_REMOVE_ACTION, target=name)
    return Response(status_code=204)
