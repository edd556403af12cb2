"""HTTP Digest access authentication (RFC 2617, MD5, qop=auth), as IP cameras use it.

Shared by the simulator's RTSP server and its snapshot URL.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^\s,]*))')


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()  # noqa: S324 - RFC 2617 mandates MD5


def parse_authorization(header: str) -> dict[str, str] | None:
    """Parse a ``Digest ...`` Authorization header into its parameters."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "digest":
        return None
    return {
        m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
        for m in _PARAM.finditer(rest)
    }


class DigestAuth:
    """Issues challenges and checks responses for one realm and one set of credentials."""

    def __init__(self, realm: str, username: str, password: str) -> None:
        self.realm = realm
        self.username = username
        self.password = password
        self._opaque = secrets.token_hex(8)
        self._nonces: set[str] = set()

    def challenge(self) -> str:
        """A ``WWW-Authenticate`` header value with a fresh nonce."""
        nonce = secrets.token_hex(16)
        self._nonces.add(nonce)
        if len(self._nonces) > 1024:  # bound memory against clients that never answer
            self._nonces.pop()
        return (
            f'Digest realm="{self.realm}", nonce="{nonce}", '
            f'algorithm=MD5, qop="auth", opaque="{self._opaque}"'
        )

    def check(self, method: str, header: str | None) -> bool:
        """True if ``header`` is a valid Digest answer for ``method``."""
        if not header:
            return False
        params = parse_authorization(header)
        if params is None:
            return False
        if params.get("username") != self.username or params.get("nonce") not in self._nonces:
            return False
        uri = params.get("uri", "")
        ha1 = _md5(f"{self.username}:{self.realm}:{self.password}")
        ha2 = _md5(f"{method}:{uri}")
        qop = params.get("qop")
        if qop:
            nc, cnonce = params.get("nc", ""), params.get("cnonce", "")
            expected = _md5(f"{ha1}:{params['nonce']}:{nc}:{cnonce}:{qop}:{ha2}")
        else:
            expected = _md5(f"{ha1}:{params['nonce']}:{ha2}")
        return hmac.compare_digest(expected, params.get("response", ""))
