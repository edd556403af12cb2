"""How a client reaches one server: its URL checked, its options, when to retry, and the
constructor both clients (:class:`~cctvctl.client.AsyncCctvClient` and the blocking
:class:`~cctvctl.client.CctvClient`) share."""

from __future__ import annotations

from typing import Any, Final, Generic, Protocol, Self, TypedDict, TypeVar, Unpack

import httpx

#: connect 3 s: a node on the LAN or VPN answers a SYN in milliseconds, and an operator on
#: call should learn quickly that one is down. read 10 s: the slowest route (recordings
#: over a month) stays well under it.
DEFAULT_TIMEOUT: Final = httpx.Timeout(connect=3.0, read=10.0, write=10.0, pool=3.0)
DEFAULT_RETRIES: Final = 2
DEFAULT_BACKOFF: Final = 0.2  # seconds before the first retry; doubled for each further one


class TargetLike(Protocol):
    """Anything naming a server: ``cctvctl.cli.contexts.Target`` fits."""

    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def token(self) -> str | None: ...


def _check_url(url: str) -> str:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise ValueError(f"{url!r} is not a URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"{url!r} is not an http(s) URL with a host")
    return url.rstrip("/")


def _retry_delay(
    idempotent: bool, exc: httpx.TransportError, attempt: int, retries: int, backoff: float
) -> float | None:
    """Seconds to wait before trying again, or None to give up.

    A refused or failed connect never reached the server, so even a POST is safe to repeat.
    A connection dropped mid-request may have done the work, so only idempotent methods are
    repeated then. Time-outs are never repeated: the caller's time budget is already spent.
    """
    if attempt >= retries or isinstance(exc, httpx.TimeoutException):
        return None
    if isinstance(exc, httpx.ConnectError):
        return backoff * 2.0**attempt
    if idempotent and isinstance(
        exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError
    ):
        return backoff * 2.0**attempt
    return None


class ClientOptions(TypedDict, total=False):
    """The keyword options of both clients, beside ``url``, ``token`` and ``transport``."""

    name: str | None  # how errors name the server (a context name); default: the URL
    timeout: httpx.Timeout | float | None  # default DEFAULT_TIMEOUT; a number sets every phase
    retries: int  # default DEFAULT_RETRIES
    backoff: float  # default DEFAULT_BACKOFF
    verify: bool | str  # TLS: True, False or a CA bundle; default True


#: httpx's async transports for :class:`AsyncCctvClient`, its blocking ones for CctvClient.
TransportT = TypeVar("TransportT", httpx.AsyncBaseTransport, httpx.BaseTransport)


class OneServer(Generic[TransportT]):
    """How both clients are made: ``url``, ``token``, a ``transport`` of their kind (for
    tests and for exotic set-ups: a Unix socket, a proxy) and :class:`ClientOptions`."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        transport: TransportT | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        self._open(url, token, transport, options)

    def _open(
        self, url: str, token: str | None, transport: TransportT | None, options: ClientOptions
    ) -> None:
        raise NotImplementedError

    @classmethod
    def for_target(cls, target: TargetLike, **kwargs: Any) -> Self:
        return cls(target.url, target.token, name=target.name, **kwargs)
