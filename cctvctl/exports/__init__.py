"""Clip export jobs: the stream copy, the job queue, cleanup, files and manifests.

One module per duty: :mod:`~cctvctl.exports.remux` (the stream copy),
:mod:`~cctvctl.exports.plan` (request checks), :mod:`~cctvctl.exports.queue` (workers,
persistence, re-queue after a crash), :mod:`~cctvctl.exports.cleanup` (cancel, delete,
expiry after ``export_keep_days``), :mod:`~cctvctl.exports.files` and
:mod:`~cctvctl.exports.manifest`; :mod:`~cctvctl.exports.service` ties them together.
On a fleet node, :mod:`~cctvctl.exports.joined` makes one clip of a window whose footage
lies on several nodes: :mod:`~cctvctl.exports.pieces` cuts the window by node, and
:mod:`~cctvctl.exports.peers` asks the other nodes for their parts.
The names below are what the server and the benchmarks use.
"""

from cctvctl.exports.files import EXPORTS_DIR, sha256_file
from cctvctl.exports.joined import FleetExports
from cctvctl.exports.peers import PeerExports
from cctvctl.exports.plan import ExportRefused
from cctvctl.exports.remux import (
    GAP_TOLERANCE,
    ClipResult,
    ExportCancelled,
    Source,
    remux_clip,
)
from cctvctl.exports.service import Exporter

__all__ = [
    "EXPORTS_DIR",
    "GAP_TOLERANCE",
    "ClipResult",
    "ExportCancelled",
    "ExportRefused",
    "Exporter",
    "FleetExports",
    "PeerExports",
    "Source",
    "remux_clip",
    "sha256_file",
]
