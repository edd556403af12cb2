"""What the fleet store holds and answers, as plain frozen records, and its errors."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class FleetStoreError(RuntimeError):
    """The fleet store refused or failed a call."""


class StoreUnavailable(FleetStoreError):
    """The store cannot be reached now; keep what was to be sent and try again later."""


@dataclass(frozen=True)
class Node:
    name: str
    url: str
    version: str
    kecamatan: tuple[str, ...]
    capacity: int
    heartbeat: datetime
    #: When it left the fleet cleanly (its leases released); None while it runs, or
    #: when it died without a word. A heartbeat clears it.
    stopped: datetime | None = None


@dataclass(frozen=True)
class InventoryVersion:
    version: int
    toml: str
    parsed: dict[str, Any]
    sha256: str
    author: str
    created: datetime


@dataclass(frozen=True)
class Token:
    name: str
    role: str
    hash: str
    created: datetime


@dataclass(frozen=True)
class Lease:
    camera: str
    node: str
    expires: datetime
    acquired: datetime
    renewed: datetime | None = None


@dataclass(frozen=True)
class Holding:
    """What one node records now under live leases, as the store sees it."""

    node: str
    cameras: tuple[str, ...]  # sorted
    #: Of ``cameras``, those whose home is another node (a failover it stands in for).
    taken_over: tuple[str, ...]
    #: Its latest renewal of any of its leases (live or not); None when it holds none.
    renewed: datetime | None
    #: When its oldest live lease was acquired; None when it holds none.
    oldest: datetime | None


@dataclass(frozen=True)
class AuditRow:
    """One audit row as a node wrote it; ``id`` is made once, where the row was written."""

    id: uuid.UUID
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


@dataclass(frozen=True)
class FootageRun:
    """One node recording one camera without a break; ``end`` is None while it records."""

    node: str
    camera: str
    start: datetime
    end: datetime | None = None
