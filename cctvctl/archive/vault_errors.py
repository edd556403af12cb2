"""What the evidence vault's calls raise, without boto3: the export service catches these
and never loads the S3 client on a node that has no vault."""

from __future__ import annotations

__all__ = ["VaultError", "VaultRefused", "VaultUnreachable"]


class VaultError(Exception):
    """A call to the evidence store failed; ``code`` is the store's error code or the
    client's exception name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class VaultUnreachable(VaultError):
    """No answer, or the store's own failure (5xx): worth trying again later."""


class VaultRefused(VaultError):
    """The store answered and said no (``AccessDenied`` on a locked version, ``NoSuchKey``)."""
