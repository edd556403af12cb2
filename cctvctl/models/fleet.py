"""The fleet over the API: nodes and their health, where a camera is recorded, the fleet
audit log and footage catalogue, inventory versions and tokens (``/api/v1/fleet/*``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final

from pydantic import Field

from cctvctl.models.status import Role
from cctvctl.models.wire import OneLine, Wire

#: The largest fleet inventory a node takes: a regency of 5,000 cameras is about 1 MB of
#: TOML, and the API's usual body cap (256 KiB) would refuse it.
MAX_INVENTORY_BYTES: Final = 4 * 1024 * 1024


class FleetNode(Wire):
    """One recording node as the fleet store knows it."""

    name: str
    url: str = Field(description="where the node's API answers; ask it for live data")
    version: str = Field(description="the node's cctvctl version")
    kecamatan: list[str] = Field(description="the kecamatan it serves")
    capacity: int = Field(description="cameras it may record")
    heartbeat: datetime = Field(description="its last heartbeat, on the store's clock")
    heartbeat_age: float = Field(description="seconds since that heartbeat")
    alive: bool = Field(
        description="the heartbeat is younger than the lease time and it has not stopped since"
    )
    leases: int = Field(description="cameras it holds a live lease for: records now")
    stopped: datetime | None = Field(
        default=None,
        description="when it left the fleet cleanly, its leases released (null: it runs, "
        "or it died without a word)",
    )
    taken_over: list[str] = Field(
        default_factory=list,
        description="of the cameras it records now, those whose home is another node "
        "(it stands in for a failed or stopped node)",
    )
    lease_age: float | None = Field(
        default=None,
        description="seconds since it last renewed its leases (null: it holds none); a "
        "live node renews every third of the lease time",
    )
    oldest_lease_age: float | None = Field(
        default=None, description="seconds since it took the oldest lease it holds now"
    )


class FleetNodes(Wire):
    """The fleet's nodes, as the node asked reads them from the store."""

    generated: datetime = Field(description="the store's clock when this was read")
    node: str = Field(description="the node that answered")
    lease_seconds: float
    nodes: list[FleetNode]


class FleetLease(Wire):
    camera: str
    node: str
    acquired: datetime
    expires: datetime
    live: bool = Field(description="not expired on the store's clock")


class FootageRun(Wire):
    """One node recording one camera without a break; ``end`` is null while it records."""

    node: str
    camera: str
    start: datetime
    end: datetime | None = None


class CameraWhere(Wire):
    """Which node records a camera now, and which hold its footage of one instant."""

    camera: str
    at: datetime
    lease: FleetLease | None = Field(description="who holds its lease now (null: nobody)")
    runs: list[FootageRun] = Field(description="runs holding footage of `at` (two in a handover)")


class FleetAuditEntry(Wire):
    """One audit row of any node, as the fleet audit log holds it."""

    id: str = Field(description="the row's UUID, made once on the node that wrote it")
    node: str
    time: datetime
    actor: str
    role: str
    action: str
    result: str
    target: str | None = None
    reason: str | None = None
    case_id: str | None = None
    detail: dict[str, Any] | None = None


class InventoryApply(Wire):
    """A fleet inventory to check and publish (``POST /api/v1/fleet/inventory``)."""

    toml: Annotated[str, Field(min_length=1, max_length=MAX_INVENTORY_BYTES)] = Field(
        description="the inventory file's text, as `cctvctl config check` reads it"
    )
    file: Annotated[OneLine, Field(max_length=1024)] | None = Field(
        default=None, description="the file's name, which the error lines start with"
    )
    dry_run: bool = Field(default=False, description="check and compare only; publish nothing")


class InventoryApplied(Wire):
    """What publishing an inventory did (or, on a dry run, would do)."""

    dry_run: bool
    version: int = Field(description="the version published (on a dry run: it would be)")
    previous: int | None = Field(description="the latest version before; null: the first")
    unchanged: bool = Field(description="the same text as the latest version: no new version")
    sha256: str
    cameras: int
    cameras_added: list[str]
    cameras_removed: list[str] = Field(description="they stop; their footage is kept")
    cameras_reconnected: list[str]
    cameras_updated: list[str] = Field(description="name, site, fps, ONVIF, node or failover")
    changes: list[str] = Field(description="the above as lines for people")


class FleetTokenRequest(Wire):
    """A token for every node of the fleet: only its hash travels."""

    name: Annotated[OneLine, Field(min_length=1, max_length=200)]
    role: Role
    hash: Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")]


class FleetToken(Wire):
    name: str
    role: Role
    created: datetime
