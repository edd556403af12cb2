"""Secrets the server keeps: hashed API tokens, and camera passwords kept out of output.

Tokens are configured as ``[[server.token]]`` entries holding only a SHA-256 hash
(``cctvctl token create`` makes one). A presented token is hashed and compared with every
configured hash in constant time, so neither timing nor an early exit tells an attacker
how close a guess was or which entry it nearly matched.

:class:`Redactor` masks camera passwords in any text that could reach a response or a log
line (libav error messages can echo an RTSP URL with its credentials).
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from cctvctl.config import TokenConfig, hash_token
from cctvctl.models import Role

__all__ = ["MASK", "Principal", "RedactingFilter", "Redactor", "TokenStore"]

MASK: Final = "***"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's configured name and role."""

    name: str
    role: Role


class TokenStore:
    """The configured tokens; :meth:`authenticate` maps a presented token to its owner.

    Two sets, each swapped whole: the local file's (:meth:`replace`, at start-up and on a
    reload) and, on a fleet node, the fleet store's (:meth:`use_fleet`, from the fleet
    sync thread). A token of either set is accepted; the local one wins a shared hash.
    """

    def __init__(self, tokens: Iterable[TokenConfig]) -> None:
        self._fleet: list[tuple[str, Principal]] = []
        self.replace(tokens)

    def replace(self, tokens: Iterable[TokenConfig]) -> None:
        """Use ``tokens`` from the next request on (a reload): the list is swapped whole."""
        self._tokens = _entries(tokens)

    def use_fleet(self, tokens: Iterable[TokenConfig]) -> None:
        """Accept the fleet's ``tokens`` besides the local ones, from the next request on."""
        self._fleet = _entries(tokens)

    def __len__(self) -> int:
        return len(self._tokens) + len(self._fleet)

    def authenticate(self, token: str) -> Principal | None:
        presented = hash_token(token)
        found: Principal | None = None
        # No early exit: every configured hash is compared on every call.
        for stored, principal in [*self._tokens, *self._fleet]:
            if hmac.compare_digest(presented.encode(), stored.encode()) and found is None:
                found = principal
        return found


def _entries(tokens: Iterable[TokenConfig]) -> list[tuple[str, Principal]]:
    return [(t.hash, Principal(t.name, t.role)) for t in tokens]


class Redactor:
    """Replaces known secrets, and credentials embedded in URLs, with ``***``."""

    _URL_CREDENTIALS: Final = re.compile(
        r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@:]+:[^/\s@]*@"
    )

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets: list[str] = []
        self._pattern: re.Pattern[str] | None = None
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Mask ``secrets`` too (a reload's new passwords); old ones stay masked, since
        they may still sit in a camera's last error."""
        # Longest first, so a password containing another one is masked whole. Very short
        # values are skipped: masking every "a" in a log line helps nobody.
        known = {*self._secrets, *(s for s in secrets if len(s) >= 3)}
        unique = sorted(known, key=len, reverse=True)
        self._secrets = unique
        self._pattern = re.compile("|".join(re.escape(s) for s in unique)) if unique else None

    def __call__(self, text: str) -> str:
        text = self._URL_CREDENTIALS.sub(rf"\g<scheme>{MASK}:{MASK}@", text)
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(MASK, text)
        return text


class RedactingFilter(logging.Filter):
    """A handler filter that renders each record and masks secrets in the result."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redact = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self._redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Tracebacks are formatted later by the handler; render and clean them now.
            record.exc_text = self._redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        return True
