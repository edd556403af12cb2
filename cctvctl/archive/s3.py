"""The S3 client for ``[archive]``: any S3-compatible store (Ceph RGW, MinIO, Garage,
SeaweedFS, AWS itself), reached by URL.

Path-style addressing (``http://host/bucket/key``), because on-premises stores are reached
by an IP address or a name without wildcard DNS. Retries are bounded and time-outs short:
the edge never waits for the centre, so a dead link must fail a call quickly and leave the
work queued, not hold an upload thread for minutes.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from cctvctl.config import ArchiveConfig, ArchiveKeys

__all__ = ["CONNECT_TIMEOUT", "READ_TIMEOUT", "ArchiveUnavailable", "error_code", "make_client"]

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
#: Attempts per call in total (the first and two retries), botocore's "standard" mode:
#: it backs off with jitter on throttling, 5xx and connection errors.
MAX_ATTEMPTS = 3

#: What a call that could not reach the store, or was refused by it, raises.
ArchiveUnavailable: tuple[type[Exception], ...] = (BotoCoreError, ClientError)


def make_client(
    config: ArchiveConfig,
    keys: ArchiveKeys,
    *,
    connect_timeout: float = CONNECT_TIMEOUT,
    read_timeout: float = READ_TIMEOUT,
    max_attempts: int = MAX_ATTEMPTS,
) -> Any:
    """A boto3 S3 client for the store ``config`` names, signed with ``keys``.

    Typed ``Any``: boto3 builds its clients at run time and ships no types.
    """
    session = boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=config.endpoint,
        region_name=config.region,
        aws_access_key_id=keys.access_key.get_secret_value(),
        aws_secret_access_key=keys.secret_key.get_secret_value(),
        config=Config(
            # Payload signing off: the body is read once, as it is sent, so the upload cap
            # counts what leaves the node; the x-amz-checksum-sha256 header each upload
            # carries is what the store verifies the bytes by.
            s3={"addressing_style": "path", "payload_signing_enabled": False},
            retries={"max_attempts": max_attempts, "mode": "standard"},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            # Checksums only where we ask for them (uploads name theirs); some
            # S3-compatible stores refuse the newer default trailing checksums.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            user_agent_appid="cctvctl",
        ),
    )


def error_code(exc: BaseException) -> str:
    """The store's error code (``NoSuchKey``, ``AccessDenied``, …), or the exception's
    class name for a call that never got an answer."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__
