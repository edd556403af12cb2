"""The one way the CLI and the TUI reach a recording server.

:class:`AsyncCctvClient` holds the API, written once; :class:`CctvClient` is its blocking
face for the CLI, running the same coroutines over blocking I/O with no event loop.
:class:`MultiClient` asks several nodes at once. Every failure is a :class:`CctvError`
whose ``str()`` is one line naming the server, so a front end can print it as is, and
whose ``exit_code`` is what the CLI exits with (the table is in ``_errors``).
:func:`save_export` is how an export's clip reaches a disk, for both front ends.

Only httpx, pydantic and the wire models are imported, so CLI start-up stays fast.

The modules behind this one are private; import from ``cctvctl.client``:

- ``_errors``: the error tree and how answers and transport failures map onto it;
- ``_routes``: the route table, and how each answer is read;
- ``_wire``: how a call waits, on an event loop or on the calling thread;
- ``_api``: :class:`AsyncCctvClient`; ``_blocking``: :class:`CctvClient`;
- ``_sse``: server-sent events; ``_multi``: several nodes; ``_download``: saving a clip;
- ``_news``: following a job over the event stream, polling when it drops;
- ``_fleet``: a fleet's nodes (one node's ``/fleet/nodes``) as the targets to ask;
- ``_placement``: which node records a camera now (:class:`FleetRouter`).
"""

from cctvctl.client._api import AsyncCctvClient
from cctvctl.client._blocking import CctvClient
from cctvctl.client._download import (
    DownloadFailed,
    SavedClip,
    clip_outputs,
    manifest_path,
    part_path,
    save_export,
)
from cctvctl.client._errors import (
    AuthError,
    BadRequest,
    CctvError,
    Forbidden,
    NotFound,
    Refused,
    ServerError,
    TimedOut,
    Unreachable,
)
from cctvctl.client._fleet import FleetMembers, fleet_members
from cctvctl.client._multi import MultiClient, NodeResult, run_blocking
from cctvctl.client._news import JOB_PROGRESS, JobNews, fold_export_event, follow_job
from cctvctl.client._placement import UNKNOWN, FleetRouter, NodeClients, Routed
from cctvctl.client._routes import RebootSelection, Thumbnail
from cctvctl.client._server import TargetLike
from cctvctl.client._sse import GAP_EVENT, SseParser

# What the CLI, the TUI and the tests use; tuning constants (DEFAULT_TIMEOUT, the
# DOWNLOAD_* retry figures) stay in the modules that own them.
__all__ = [
    "GAP_EVENT",
    "JOB_PROGRESS",
    "UNKNOWN",
    "AsyncCctvClient",
    "AuthError",
    "BadRequest",
    "CctvClient",
    "CctvError",
    "DownloadFailed",
    "FleetMembers",
    "FleetRouter",
    "Forbidden",
    "JobNews",
    "MultiClient",
    "NodeClients",
    "NodeResult",
    "NotFound",
    "RebootSelection",
    "Refused",
    "Routed",
    "SavedClip",
    "ServerError",
    "SseParser",
    "TargetLike",
    "Thumbnail",
    "TimedOut",
    "Unreachable",
    "clip_outputs",
    "fleet_members",
    "fold_export_event",
    "follow_job",
    "manifest_path",
    "part_path",
    "run_blocking",
    "save_export",
]
