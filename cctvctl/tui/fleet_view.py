"""The fleet as the console shows it: kecamatan merged across nodes, and one row per node.

Pure: the nodes' latest answers (:class:`~cctvctl.tui.data.NodeData`) and the fleet
store's node list in, rows out, so every case (a kecamatan on two nodes, a node that
cannot be reached, one that never answered) is tested without a terminal.

A node that cannot be reached says nothing about its cameras: they are *unknown*, never
offline, and they are never added to the offline counts. A node the store says stopped
cleanly gave its cameras to their failover nodes: it serves nothing and is not a fault.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cctvctl.models import FleetNode, FleetNodes, KecamatanSummary
from cctvctl.tui import clock
from cctvctl.tui.data import Connection, NodeData

__all__ = [
    "UNKNOWN",
    "FleetKecamatan",
    "NodeRow",
    "Reach",
    "merge_kecamatan",
    "node_rows",
    "reach",
]

UNKNOWN = "unknown (node unreachable)"


class Reach(enum.Enum):
    ANSWERS = "answers"
    WAITING = "waiting"  # no answer yet, and no failure either: the first poll is out
    UNREACHABLE = "unreachable"


def reach(data: NodeData, now: datetime | None = None) -> Reach:
    """Whether a node's figures can be shown: it answered lately and its last poll worked."""
    if data.connection is Connection.ONLINE and not data.is_stale(now):
        return Reach.ANSWERS
    if data.updated is None and data.error is None:
        return Reach.WAITING
    return Reach.UNREACHABLE


def _summaries(data: NodeData) -> list[KecamatanSummary]:
    # The roll-up in the node's health answer, which the light poll of a node that is not
    # current asks for as well: its /kecamatan list stops moving when it stops being current.
    return data.health.kecamatan if data.health is not None else data.kecamatan


@dataclass(frozen=True)
class FleetKecamatan:
    """One kecamatan over every node serving it."""

    slug: str
    name: str
    #: The figures of the nodes that answer, summed; None when none of them does.
    summary: KecamatanSummary | None
    answering: tuple[str, ...]
    unreachable: tuple[str, ...]
    waiting: tuple[str, ...]

    @property
    def nodes(self) -> tuple[str, ...]:
        return self.answering + self.unreachable + self.waiting


def _sum(rows: Sequence[KecamatanSummary]) -> KecamatanSummary:
    first = rows[0]
    if len(rows) == 1:
        return first
    quotas = [k.quota_bytes for k in rows if k.quota_bytes is not None]
    days = [k.days_to_full for k in rows if k.days_to_full is not None]
    rtts = [k.worst_rtt_ms for k in rows if k.worst_rtt_ms is not None]
    return first.model_copy(
        update={
            "cameras_total": sum(k.cameras_total for k in rows),
            "online": sum(k.online for k in rows),
            "degraded": sum(k.degraded for k in rows),
            "offline": sum(k.offline for k in rows),
            "disabled": sum(k.disabled for k in rows),
            "inbound_kbps": sum(k.inbound_kbps for k in rows),
            "bytes_stored": sum(k.bytes_stored for k in rows),
            "quota_bytes": sum(quotas) if quotas else None,
            "write_bps": sum(k.write_bps for k in rows),
            # The first node whose disk fills decides when footage starts to go.
            "days_to_full": min(days) if days else None,
            "missing_minutes_24h": sum(k.missing_minutes_24h for k in rows),
            "worst_missing_seconds_24h": max(k.worst_missing_seconds_24h for k in rows),
            "worst_rtt_ms": max(rtts) if rtts else None,
        }
    )


def _name_of(slug: str) -> str:
    # Only for a kecamatan no node that answers has named: the store lists slugs.
    return slug.replace("-", " ").title()


def _serves(summary: KecamatanSummary, fleet: FleetNodes | None) -> bool:
    # A fleet node's roll-up lists every kecamatan of the fleet's inventory, most of them
    # with no camera of its own: it serves one only where it records cameras now (or the
    # store lists it, below). Without a fleet each node lists its own file's kecamatan.
    return fleet is None or summary.cameras_total > 0


def merge_kecamatan(
    nodes: Sequence[NodeData], fleet: FleetNodes | None, now: datetime | None = None
) -> list[FleetKecamatan]:
    """Every kecamatan any node reports, one row each, in the order first seen, with the
    nodes serving it: in a fleet, those recording cameras of it now and those the store
    lists for it (their home cameras'), less the nodes that stopped cleanly."""
    served: dict[str, list[str]] = {}  # slug -> node names, in the order given
    names: dict[str, str] = {}
    figures: dict[str, list[KecamatanSummary]] = {}
    state: dict[str, Reach] = {}
    listed = {n.name: n for n in fleet.nodes} if fleet is not None else {}
    for data in nodes:
        name = data.target.name
        state[name] = reach(data, now)
        row = listed.get(name)
        for k in _summaries(data):
            names.setdefault(k.slug, k.name)
            served.setdefault(k.slug, [])
        if row is not None and row.stopped is not None and state[name] is not Reach.ANSWERS:
            continue  # left the fleet: its cameras are recorded elsewhere, none here
        mine = [k for k in _summaries(data) if _serves(k, fleet)]
        if state[name] is Reach.ANSWERS:
            for k in mine:
                figures.setdefault(k.slug, []).append(k)
        for slug in [k.slug for k in mine] + (list(row.kecamatan) if row else []):
            if name not in served.setdefault(slug, []):
                served[slug].append(name)
    out = []
    for slug, serving in served.items():
        rows = figures.get(slug, [])
        out.append(
            FleetKecamatan(
                slug=slug,
                name=names.get(slug) or _name_of(slug),
                summary=_sum(rows) if rows else None,
                answering=tuple(n for n in serving if state[n] is Reach.ANSWERS),
                unreachable=tuple(n for n in serving if state[n] is Reach.UNREACHABLE),
                waiting=tuple(n for n in serving if state[n] is Reach.WAITING),
            )
        )
    return out


@dataclass(frozen=True)
class NodeRow:
    """One node as the Nodes screen shows it; None where nothing tells."""

    name: str
    watched: bool
    reach: Reach
    alive: bool | None  # the store's word: a heartbeat younger than the lease
    heartbeat_age: float | None
    version: str | None
    cameras: int | None  # leases held (fleet), else the node's enabled cameras
    cpu_percent: float | None
    disk_free_percent: float | None  # the fullest volume's
    days_to_full: float | None  # the soonest volume's
    stopped: bool = False  # the store's word: it left the fleet cleanly
    taken_over: int | None = None  # cameras it stands in for (fleet only)
    lease_age: float | None = None  # since it last renewed its leases (fleet only)
    lease_seconds: float | None = None  # the fleet's lease time (fleet only)


def _row(
    name: str,
    data: NodeData | None,
    listed: FleetNode | None,
    beat_age: float | None,
    now: datetime,
    since: float = 0.0,
    lease_seconds: float | None = None,
) -> NodeRow:
    state = reach(data, now) if data is not None else Reach.UNREACHABLE
    health = data.health if data is not None and state is Reach.ANSWERS else None
    volumes = health.volumes if health is not None else []
    free = [100.0 * v.free_bytes / v.total_bytes for v in volumes if v.total_bytes > 0]
    days = [v.days_to_full for v in volumes if v.days_to_full is not None]
    if listed is not None:
        cameras: int | None = listed.leases
    elif health is not None:
        cameras = sum(k.cameras_total - k.disabled for k in health.kecamatan)
    else:
        cameras = None
    version = listed.version if listed is not None else None
    if version is None and health is not None:
        version = health.server_version
    return NodeRow(
        name=name,
        watched=data is not None,
        reach=state,
        alive=listed.alive if listed is not None else None,
        heartbeat_age=beat_age,
        version=version,
        cameras=cameras,
        cpu_percent=health.host.cpu_percent if health is not None else None,
        disk_free_percent=min(free) if free else None,
        days_to_full=min(days) if days else None,
        stopped=listed is not None and listed.stopped is not None and not listed.alive,
        taken_over=len(listed.taken_over) if listed is not None else None,
        lease_age=(
            listed.lease_age + since
            if listed is not None and listed.lease_age is not None
            else None
        ),
        lease_seconds=lease_seconds,
    )


def node_rows(
    nodes: Sequence[NodeData],
    fleet: FleetNodes | None,
    fleet_read: datetime | None = None,
    now: datetime | None = None,
) -> list[NodeRow]:
    """The store's nodes in its order, then any watched node it does not list.
    ``fleet_read``: when the console received ``fleet``, so heartbeat ages keep counting
    between its polls."""
    now = now or clock.now()
    by_name = {d.target.name: d for d in nodes}
    since = (now - fleet_read).total_seconds() if fleet_read is not None else 0.0
    rows = []
    listed = fleet.nodes if fleet is not None else []
    since = max(0.0, since)
    lease = fleet.lease_seconds if fleet is not None else None
    for node in listed:
        age = node.heartbeat_age + since
        rows.append(_row(node.name, by_name.get(node.name), node, age, now, since, lease))
    known = {n.name for n in listed}
    rows += [_row(d.target.name, d, None, None, now) for d in nodes if d.target.name not in known]
    return rows
