"""HTTP Basic authentication (RFC 7617), as cheap cameras still ask for it over RTSP.

The password crosses the wire in base64, readable to anyone on the path; the simulator
offers it because real cameras do, so the recorder's refusal over public addresses can be
tested. Same interface as :class:`cctvctl.sim.digest.DigestAuth`.
"""

from __future__ import annotations

import base64
import binascii
import hmac


class BasicAuth:
    def __init__(self, realm: str, username: str, password: str) -> None:
        self.realm = realm
        self._expected = f"{username}:{password}".encode()

    def challenge(self) -> str:
        return f'Basic realm="{self.realm}"'

    def check(self, method: str, header: str | None) -> bool:
        if not header:
            return False
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(token.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(given, self._expected)
