"""The blocking face: :class:`CctvClient`, for the CLI and for threads of the TUI.

It has no API of its own. Each method runs :class:`AsyncCctvClient`'s coroutine of the
same name over blocking httpx (:class:`~cctvctl.client._wire.ThreadWire`), where no await
suspends, and :func:`~cctvctl.client._wire.complete` drives it to its end without an event
loop. So a route, its parameters and its errors are written once, and the CLI never pays
for asyncio at start-up.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

import httpx

from cctvctl.client._api import AsyncCctvClient
from cctvctl.client._server import ClientOptions, OneServer
from cctvctl.client._wire import complete

P = ParamSpec("P")
T = TypeVar("T")


def _blocking(
    method: Callable[Concatenate[AsyncCctvClient, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[CctvClient, P], T]:
    """``method`` of the async API, called on the blocking client and run to its end."""

    @functools.wraps(method)
    def call(self: CctvClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return complete(method(self._api, *args, **kwargs))

    return call


class CctvClient(OneServer[httpx.BaseTransport]):
    """Blocking client for one server; use as a context manager or call :meth:`close`.

    The same API as :class:`AsyncCctvClient` (less :meth:`~AsyncCctvClient.events`), each
    call finished when it returns. Made as :class:`~cctvctl.client._api.OneServer` says,
    with a blocking transport.
    """

    def _open(
        self,
        url: str,
        token: str | None,
        transport: httpx.BaseTransport | None,
        options: ClientOptions,
    ) -> None:
        self._api = AsyncCctvClient._over_thread(url, token, transport, options)

    def __enter__(self) -> CctvClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        complete(self._api.aclose())

    @property
    def url(self) -> str:
        return self._api.url

    @property
    def name(self) -> str | None:
        return self._api.name

    @property
    def server(self) -> str:
        """How errors name this server: the context name when there is one, else the URL."""
        return self._api.server

    @property
    def retries(self) -> int:
        return self._api.retries

    @property
    def backoff(self) -> float:
        return self._api.backoff

    def on_loop(self) -> AsyncCctvClient:
        """The same server, token and options as an :class:`AsyncCctvClient`, for the
        caller's event loop: what :meth:`~AsyncCctvClient.events` needs."""
        api = self._api
        return AsyncCctvClient(api.url, api._token, **api._options)

    def __repr__(self) -> str:
        # Never the token: reprs end up in tracebacks and logs.
        return f"{type(self).__name__}({self.url!r}, name={self.name!r})"

    # The API, one line a method: AsyncCctvClient holds what each one does.
    cameras = _blocking(AsyncCctvClient.cameras)
    camera = _blocking(AsyncCctvClient.camera)
    recordings = _blocking(AsyncCctvClient.recordings)
    thumbnail = _blocking(AsyncCctvClient.thumbnail)
    health = _blocking(AsyncCctvClient.health)
    kecamatan = _blocking(AsyncCctvClient.kecamatan)
    kecamatan_summary = _blocking(AsyncCctvClient.kecamatan_summary)
    whoami = _blocking(AsyncCctvClient.whoami)
    healthz = _blocking(AsyncCctvClient.healthz)
    metrics = _blocking(AsyncCctvClient.metrics)
    exports = _blocking(AsyncCctvClient.exports)
    export = _blocking(AsyncCctvClient.export)
    create_export = _blocking(AsyncCctvClient.create_export)
    cancel_export = _blocking(AsyncCctvClient.cancel_export)
    export_manifest = _blocking(AsyncCctvClient.export_manifest)
    download_export = _blocking(AsyncCctvClient.download_export)
    audit = _blocking(AsyncCctvClient.audit)
    reboot_camera = _blocking(AsyncCctvClient.reboot_camera)
    reboot_plan = _blocking(AsyncCctvClient.reboot_plan)
    reboot_many = _blocking(AsyncCctvClient.reboot_many)
    reboot_job = _blocking(AsyncCctvClient.reboot_job)
    reboot_jobs = _blocking(AsyncCctvClient.reboot_jobs)
    reload_server = _blocking(AsyncCctvClient.reload_server)
    time_sync = _blocking(AsyncCctvClient.time_sync)
    fleet_nodes = _blocking(AsyncCctvClient.fleet_nodes)
    fleet_where = _blocking(AsyncCctvClient.fleet_where)
    fleet_audit = _blocking(AsyncCctvClient.fleet_audit)
    fleet_catalogue = _blocking(AsyncCctvClient.fleet_catalogue)
    fleet_apply = _blocking(AsyncCctvClient.fleet_apply)
    fleet_token_put = _blocking(AsyncCctvClient.fleet_token_put)
    fleet_token_remove = _blocking(AsyncCctvClient.fleet_token_remove)
    get_json = _blocking(AsyncCctvClient.get_json)
    post_json = _blocking(AsyncCctvClient.post_json)
    delete = _blocking(AsyncCctvClient.delete)
