"""Wire models shared by the server and its clients: the API contract.

Nothing else of cctvctl is imported here, so both sides can depend on it freely. Three
modules by subject, every name importable from ``cctvctl.models``: ``wire`` (the base model
and the one-line text rule), ``status`` (cameras, footage, health, events) and ``jobs``
(audit entries, exports, reboots).
"""

from __future__ import annotations

from cctvctl.models.jobs import (
    AuditEntry,
    BulkRebootRequest,
    ExportJob,
    ExportManifest,
    ExportRequest,
    ExportState,
    ExportWait,
    RebootError,
    RebootJob,
    RebootPlan,
    RebootRequest,
    RebootResult,
    RebootState,
)
from cctvctl.models.status import (
    FLAP_CHANGES,
    FLAP_WINDOW_SECONDS,
    Camera,
    CameraStatus,
    Event,
    Gap,
    Health,
    Host,
    Identity,
    KecamatanSummary,
    Nic,
    OfflineCause,
    Problem,
    Recordings,
    ReloadResult,
    Role,
    Segment,
    SiteKind,
    StatusCounts,
    Volume,
    status_counts,
)
from cctvctl.models.wire import (
    CONTROL_CHARACTERS,
    ONE_LINE_ACCEPTED,
    OneLine,
    Wire,
    refuse_control_characters_in_text,
)

__all__ = [
    "CONTROL_CHARACTERS",
    "FLAP_CHANGES",
    "FLAP_WINDOW_SECONDS",
    "ONE_LINE_ACCEPTED",
    "AuditEntry",
    "BulkRebootRequest",
    "Camera",
    "CameraStatus",
    "Event",
    "ExportJob",
    "ExportManifest",
    "ExportRequest",
    "ExportState",
    "ExportWait",
    "Gap",
    "Health",
    "Host",
    "Identity",
    "KecamatanSummary",
    "Nic",
    "OfflineCause",
    "OneLine",
    "Problem",
    "RebootError",
    "RebootJob",
    "RebootPlan",
    "RebootRequest",
    "RebootResult",
    "RebootState",
    "Recordings",
    "ReloadResult",
    "Role",
    "Segment",
    "SiteKind",
    "StatusCounts",
    "Volume",
    "Wire",
    "refuse_control_characters_in_text",
    "status_counts",
]
