"""What the uploader did since start-up, as health and ``/metrics`` read it (no boto3 here:
the server's routes import it whether or not the node has an archive)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["UploadFigures"]


@dataclass
class UploadFigures:
    """What the uploader did since start-up (``/metrics`` and health)."""

    uploaded_bytes: dict[str, int] = field(default_factory=dict)  # kecamatan -> bytes
    uploaded_segments: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    confirmed_without_sending: int = 0
    sent_bytes: int = 0  # body bytes handed to the link, retries included
    rate_bps: float = 0.0  # bytes per second sent over the last RATE_WINDOW
    state: str = "idle"  # idle | uploading | waiting for window | store unreachable
    last_error: str | None = None
    last_error_at: datetime | None = None
