"""The API, written once: :class:`AsyncCctvClient`.

Every method builds a call from the route table (:mod:`cctvctl.client._routes`) and
awaits it over a :class:`~cctvctl.client._wire.Wire`. The blocking
:class:`~cctvctl.client.CctvClient` runs these same coroutines over a wire that never
suspends.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from typing import (
    Any,
    BinaryIO,
    Final,
    Literal,
    TypeVar,
    Unpack,
    overload,
)

import httpx

from cctvctl import __version__
from cctvctl.client import _routes as routes
from cctvctl.client._errors import (
    _PROBLEM_JSON,
    BadRequest,
    Unreachable,
    _http_error,
    _transport_error,
)
from cctvctl.client._routes import (
    RebootSelection,
    Thumbnail,
    _Call,
    _download_span,
    _params,
    _when,
)
from cctvctl.client._server import (
    DEFAULT_BACKOFF,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    ClientOptions,
    OneServer,
    _check_url,
    _retry_delay,
)
from cctvctl.client._sse import EVENTS_MAX_DELAY, EVENTS_READ_TIMEOUT, SseParser, _event_of
from cctvctl.client._wire import LoopWire, ThreadWire, Wire
from cctvctl.models import (
    AuditEntry,
    Camera,
    CameraStatus,
    CameraWhere,
    CaseHold,
    Event,
    ExportJob,
    ExportManifest,
    ExportState,
    FleetAuditEntry,
    FleetNodes,
    FleetPlacement,
    FleetToken,
    FootageRun,
    Health,
    Identity,
    InventoryApplied,
    KecamatanSummary,
    RebootJob,
    RebootPlan,
    Recordings,
    ReloadResult,
    TimeSyncReport,
    VaultCheck,
)

T = TypeVar("T")
U = TypeVar("U")

#: Seconds to wait for a time sync's answer: every camera pushed and read back.
TIME_SYNC_READ_TIMEOUT: Final = 600.0


class AsyncCctvClient(OneServer[httpx.AsyncBaseTransport]):
    """One server's API, awaitable; use as an async context manager or call :meth:`aclose`.

    Made as :class:`OneServer` says, with an async transport.
    """

    _wire: Wire

    def _open(
        self,
        url: str,
        token: str | None,
        transport: httpx.AsyncBaseTransport | None,
        options: ClientOptions,
    ) -> None:
        http = self._setup(url, token, options)
        self._wire = LoopWire(httpx.AsyncClient(**http, transport=transport))

    @classmethod
    def _over_thread(
        cls,
        url: str,
        token: str | None,
        transport: httpx.BaseTransport | None,
        options: ClientOptions,
    ) -> AsyncCctvClient:
        """This API over blocking I/O, for :class:`~cctvctl.client.CctvClient`: its
        coroutines never suspend (see :mod:`cctvctl.client._wire`)."""
        self = cls.__new__(cls)
        http = self._setup(url, token, options)
        self._wire = ThreadWire(httpx.Client(**http, transport=transport))
        return self

    def _setup(self, url: str, token: str | None, options: ClientOptions) -> dict[str, Any]:
        """Sets the client's state; returns what its httpx client is built with."""
        self.url = _check_url(url)
        self.name = options.get("name")
        self.retries = max(0, options.get("retries", DEFAULT_RETRIES))
        self.backoff = options.get("backoff", DEFAULT_BACKOFF)
        self._token = token
        self._options = options
        timeout = options.get("timeout")
        self._timeout = DEFAULT_TIMEOUT if timeout is None else httpx.Timeout(timeout)
        return {
            "base_url": self.url + "/",
            "headers": {"User-Agent": f"cctvctl/{__version__}", "Accept": "application/json"},
            "timeout": self._timeout,
            "verify": options.get("verify", True),
            "follow_redirects": False,
        }

    async def __aenter__(self) -> AsyncCctvClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._wire.aclose()

    @property
    def server(self) -> str:
        """How errors name this server: the context name when there is one, else the URL."""
        return self.name or self.url

    def __repr__(self) -> str:
        # Never the token: reprs end up in tracebacks and logs.
        return f"{type(self).__name__}({self.url!r}, name={self.name!r})"

    # -- running a call -----------------------------------------------------------------

    def _request(self, call: _Call[Any]) -> dict[str, Any]:
        if "//" in call.path or call.path.endswith("/"):
            # An empty id ('exports show ""') would ask for the collection instead.
            raise BadRequest(self.server, "an empty id: give a camera, kecamatan or job id")
        headers: dict[str, str] = {}
        if call.route.authenticated and self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        request: dict[str, Any] = {
            "method": call.route.method,
            # Relative, so a server behind a proxy prefix (https://noc/node-a/) works.
            "url": call.path.lstrip("/"),
            "params": dict(call.params),
            "headers": headers,
        }
        if call.body is not None:
            request["json"] = call.body
        return request

    async def _run(self, call: _Call[T]) -> T:
        attempt = 0
        while True:
            try:
                response = await self._wire.send(self._request(call))
                break
            except httpx.TransportError as exc:
                idempotent = call.route.idempotent
                delay = _retry_delay(idempotent, exc, attempt, self.retries, self.backoff)
                attempt += 1
                if delay is None:
                    raise _transport_error(self.server, exc, attempt) from exc
                await self._wire.sleep(delay)
        if not response.is_success:
            raise _http_error(self.server, response)
        return call.route.parse(self.server, response)

    @overload
    async def gather(self, first: Awaitable[T], second: Awaitable[U], /) -> tuple[T, U]: ...

    @overload
    async def gather(self, *calls: Awaitable[T]) -> tuple[T, ...]: ...

    async def gather(self, *calls: Awaitable[Any]) -> tuple[Any, ...]:
        """Awaits ``calls`` at once (``asyncio.gather``); a question that uses this rather
        than ``asyncio.gather`` also runs on the blocking client's loop-free path
        (:func:`~cctvctl.client.run_blocking`), where the calls are made one after another."""
        return await self._wire.gather(calls)

    # -- the API ------------------------------------------------------------------------

    async def cameras(
        self, kecamatan: str | None = None, status: CameraStatus | str | None = None
    ) -> list[Camera]:
        status_text = None if status is None else str(status)
        return await self._run(
            routes.CAMERAS.call(_params(kecamatan=kecamatan, status=status_text))
        )

    async def camera(self, camera_id: str) -> Camera:
        return await self._run(routes.CAMERA.call(camera_id=camera_id))

    async def recordings(
        self,
        camera_id: str,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
    ) -> Recordings:
        params = _params(start=_when(start), end=_when(end))
        return await self._run(routes.RECORDINGS.call(params, camera_id=camera_id))

    async def thumbnail(
        self,
        camera_id: str,
        width: int = 160,
        height: int = 90,
        fmt: Literal["rgb", "jpeg"] = "rgb",
        at: datetime | str | None = None,
    ) -> Thumbnail:
        """The latest picture, or with ``at`` the recorded keyframe at or before it (read
        by the server wherever the footage lives, the archive included)."""
        params = _params(width=width, height=height, format=fmt, at=_when(at))
        return await self._run(routes.THUMBNAIL.call(params, camera_id=camera_id))

    async def health(self) -> Health:
        return await self._run(routes.HEALTH.call())

    async def kecamatan(self) -> list[KecamatanSummary]:
        return await self._run(routes.KECAMATAN_LIST.call())

    async def kecamatan_summary(self, slug: str) -> KecamatanSummary:
        return await self._run(routes.KECAMATAN.call(slug=slug))

    async def whoami(self) -> Identity:
        return await self._run(routes.WHOAMI.call())

    async def healthz(self) -> dict[str, Any]:
        return await self._run(routes.HEALTHZ.call())

    async def metrics(self) -> str:
        return await self._run(routes.METRICS.call())

    async def exports(
        self,
        state: ExportState | str | None = None,
        camera: str | None = None,
        limit: int | None = None,
        case_id: str | None = None,
    ) -> list[ExportJob]:
        state_text = None if state is None else str(state)
        params = _params(state=state_text, camera=camera, limit=limit, case_id=case_id)
        return await self._run(routes.EXPORTS.call(params))

    async def export(self, job_id: str) -> ExportJob:
        return await self._run(routes.EXPORT.call(job_id=job_id))

    async def create_export(
        self,
        camera_id: str,
        start: datetime | str,
        end: datetime | str,
        *,
        case_id: str | None = None,
        note: str | None = None,
    ) -> ExportJob:
        body = routes.export_body(camera_id, start, end, case_id, note)
        return await self._run(routes.CREATE_EXPORT.call(body=body))

    async def cancel_export(self, job_id: str) -> ExportJob:
        return await self._run(routes.CANCEL_EXPORT.call(job_id=job_id))

    async def verify_export(self, job_id: str) -> VaultCheck:
        """Re-read the clip from the evidence vault and check it against its manifest."""
        return await self._run(routes.VERIFY_EXPORT.call(job_id=job_id))

    async def case_hold(self, case_id: str) -> CaseHold:
        return await self._run(routes.CASE_HOLD.call(_params(case_id=case_id)))

    async def hold_case(self, case_id: str, reason: str | None = None) -> CaseHold:
        body = routes.case_body(case_id, reason)
        return await self._run(routes.HOLD_CASE.call(body=body))

    async def release_case(self, case_id: str, reason: str | None = None) -> CaseHold:
        body = routes.case_body(case_id, reason)
        return await self._run(routes.RELEASE_CASE.call(body=body))

    async def export_manifest(self, job_id: str) -> ExportManifest:
        return await self._run(routes.EXPORT_MANIFEST.call(job_id=job_id))

    async def download_export(
        self,
        job_id: str,
        sink: BinaryIO,
        *,
        offset: int = 0,
        etag: str | None = None,
        progress: Callable[[int, int | None], None] | None = None,
        chunk_size: int = 64 * 1024,
        clip: int = 0,
    ) -> int:
        """Writes the clip into ``sink`` from byte ``offset`` on; returns the clip's size.

        ``clip``: which clip of an export that spans a change of picture size (the
        manifest's ``clips``, from 0; the etag is then that clip's SHA-256).

        ``sink`` must be positioned at ``offset``. With an ``etag`` (the job's quoted
        SHA-256) the request carries ``If-Range``: should the server hold another file, it
        answers with the whole of it, and ``sink`` is rewound and truncated first.
        ``progress(position, size)`` is called after every block. One attempt only: a
        dropped connection raises :class:`Unreachable` or :class:`TimedOut` with the
        bytes so far already written, and resuming is the caller's decision.
        """
        params = {"clip": str(clip)} if clip else None
        request = self._request(routes.EXPORT_FILE.call(params, job_id=job_id))
        request["headers"]["Accept"] = f"video/mp4, {_PROBLEM_JSON}"
        if offset > 0:
            request["headers"]["Range"] = f"bytes={offset}-"
            if etag is not None:
                request["headers"]["If-Range"] = etag
        try:
            async with self._wire.stream(request) as response:
                if not response.is_success:
                    await self._wire.read(response)
                    raise _http_error(self.server, response)
                position, size = _download_span(self.server, response, offset)
                if position == 0 and offset > 0:
                    sink.seek(0)
                    sink.truncate()
                async for block in self._wire.blocks(response, chunk_size):
                    sink.write(block)
                    position += len(block)
                    if progress is not None:
                        progress(position, size)
        except httpx.TransportError as exc:
            raise _transport_error(self.server, exc, 1) from exc
        if size is not None and position != size:
            raise Unreachable(self.server, f"the download stopped at byte {position} of {size}")
        return position

    async def audit(
        self,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        *,
        action: str | None = None,
        actor: str | None = None,
        limit: int | None = None,
    ) -> list[AuditEntry]:
        params = _params(
            since=_when(since), until=_when(until), action=action, actor=actor, limit=limit
        )
        return await self._run(routes.AUDIT.call(params))

    async def reboot_camera(self, camera_id: str, reason: str, *, force: bool = False) -> RebootJob:
        body = {"reason": reason, "force": force}
        return await self._run(routes.REBOOT_CAMERA.call(body=body, camera_id=camera_id))

    async def reboot_plan(self, reason: str, **selection: Unpack[RebootSelection]) -> RebootPlan:
        """What :meth:`reboot_many` would do for ``selection``; nothing is rebooted."""
        body = routes.bulk_reboot_body(reason, selection, dry_run=True)
        return await self._run(routes.REBOOT_PLAN.call(body=body))

    async def reboot_many(
        self,
        reason: str,
        *,
        max_parallel: int | None = None,
        **selection: Unpack[RebootSelection],
    ) -> RebootJob:
        body = routes.bulk_reboot_body(reason, selection, max_parallel=max_parallel)
        return await self._run(routes.REBOOT_MANY.call(body=body))

    async def reboot_job(self, job_id: str) -> RebootJob:
        return await self._run(routes.REBOOT_JOB.call(job_id=job_id))

    async def reboot_jobs(
        self, limit: int | None = None, camera: str | None = None
    ) -> list[RebootJob]:
        return await self._run(routes.REBOOT_JOBS.call(_params(limit=limit, camera=camera)))

    async def time_sync(
        self,
        *,
        cameras: list[str] | None = None,
        kecamatan: str | None = None,
        ntp: str | None = None,
        dry_run: bool = False,
    ) -> TimeSyncReport:
        """Point cameras at NTP in WITA and read each clock back (admin); see the route."""
        given = {"cameras": cameras, "kecamatan": kecamatan, "ntp": ntp}
        body = {k: v for k, v in given.items() if v is not None} | {"dry_run": dry_run}
        call = routes.TIME_SYNC.call(body=body)
        request = self._request(call)
        # The server answers once every camera is pushed and read back: minutes, not 10 s.
        read = {"read": TIME_SYNC_READ_TIMEOUT}
        request["timeout"] = httpx.Timeout(**(self._timeout.as_dict() | read))
        try:
            response = await self._wire.send(request)
        except httpx.TransportError as exc:
            raise _transport_error(self.server, exc, 1) from exc
        if not response.is_success:
            raise _http_error(self.server, response)
        return call.route.parse(self.server, response)

    async def reload_server(self) -> ReloadResult:
        """Make the server re-read its inventory file and apply it in place (admin).

        A file the server refuses is a :class:`BadRequest` whose ``problem["errors"]``
        holds the same lines as ``cctvctl config check``.
        """
        return await self._run(routes.SERVER_RELOAD.call(body={}))

    # -- the fleet (a node with a [fleet] table; a single node answers 404) -------------

    async def fleet_nodes(self) -> FleetNodes:
        """Every node of the fleet, with its URL, heartbeat and leases (viewer)."""
        return await self._run(routes.FLEET_NODES.call())

    async def fleet_where(self, camera_id: str, at: datetime | str | None = None) -> CameraWhere:
        """Who records ``camera_id`` now, and which runs hold its footage of ``at``."""
        params = _params(at=_when(at))
        return await self._run(routes.FLEET_WHERE.call(params, camera_id=camera_id))

    async def fleet_placement(self, kecamatan: str | None = None) -> FleetPlacement:
        """Where each camera (of one kecamatan, by slug) is recorded now (viewer)."""
        return await self._run(routes.FLEET_PLACEMENT.call(_params(kecamatan=kecamatan)))

    async def fleet_audit(
        self, since: datetime | str | None = None, *, limit: int | None = None
    ) -> list[FleetAuditEntry]:
        """Every node's audit rows, oldest first (admin)."""
        params = _params(since=_when(since), limit=limit)
        return await self._run(routes.FLEET_AUDIT.call(params))

    async def fleet_catalogue(
        self,
        camera_id: str,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
    ) -> list[FootageRun]:
        params = _params(camera=camera_id, since=_when(since), until=_when(until))
        return await self._run(routes.FLEET_CATALOGUE.call(params))

    async def fleet_apply(
        self, toml: str, *, file: str | None = None, dry_run: bool = False
    ) -> InventoryApplied:
        """Check ``toml`` and publish it as the next inventory version (admin).

        A refused file is a :class:`BadRequest` whose ``problem["errors"]`` hold the
        lines ``cctvctl config check`` prints, as ``detail``.
        """
        body = routes._given(toml=toml, file=file) | {"dry_run": dry_run}
        return await self._run(routes.FLEET_INVENTORY.call(body=body))

    async def fleet_token_put(self, name: str, role: str, token_hash: str) -> FleetToken:
        """Store a token's hash for the whole fleet (admin); never the token."""
        body = {"name": name, "role": role, "hash": token_hash}
        return await self._run(routes.FLEET_TOKEN_PUT.call(body=body))

    async def fleet_token_remove(self, name: str) -> None:
        await self._run(routes.FLEET_TOKEN_REMOVE.call(name=name))

    async def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return await self._run(routes.raw("GET", path, params))

    async def post_json(
        self, path: str, body: Any = None, params: Mapping[str, Any] | None = None
    ) -> Any:
        return await self._run(routes.raw("POST", path, params, {} if body is None else body))

    async def delete(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return await self._run(routes.raw("DELETE", path, params))

    # -- live events --------------------------------------------------------------------

    async def events(
        self,
        since: int | None = None,
        *,
        types: Iterable[str] | None = None,
        max_retries: int | None = 5,
        last: int | None = None,
    ) -> AsyncGenerator[Event, None]:
        """Server-sent events, for as long as the caller keeps iterating.

        ``since`` replays stored events after that id first (0: every one the server
        kept); ``last`` replays the latest that many instead. A dropped stream is
        reopened with ``Last-Event-ID`` set to the last id seen, so nothing is lost or
        repeated across a reconnect. ``max_retries`` bounds reconnects in a row without
        an event in between (None: keep trying). HTTP errors (a revoked token, say) are
        raised at once, never retried.

        When the server reports that this subscriber fell behind, an :class:`Event` of
        type :data:`GAP_EVENT` is yielded; its ``data`` holds ``after_id``, ``before_id``
        and ``missed``, and a consumer should reload the state it shows.

        Close the generator (``aclose()`` or ``contextlib.aclosing``) to drop the
        connection at once rather than when it is garbage-collected.
        """
        if self._wire.loop_free:
            # A stream that waits for news would hold the blocking client's thread for good.
            raise TypeError("events() needs AsyncCctvClient on an event loop")
        last_id = since
        failures = 0
        delay = self.backoff
        params = _params(
            types=",".join(types) if types is not None else None,
            last=last if since is None else None,
        )
        timeout = httpx.Timeout(**(self._timeout.as_dict() | {"read": EVENTS_READ_TIMEOUT}))
        while True:
            request = self._request(routes.EVENTS.call(params))
            request["headers"].update({"Accept": "text/event-stream", "Cache-Control": "no-store"})
            request["timeout"] = timeout
            if last_id is not None:
                request["headers"]["Last-Event-ID"] = str(last_id)
            parser = SseParser()
            try:
                async with self._wire.stream(request) as response:
                    if not response.is_success:
                        await self._wire.read(response)
                        raise _http_error(self.server, response)
                    async for line in response.aiter_lines():
                        message = parser.feed(line)
                        if message is None:
                            continue
                        event = _event_of(self.server, message)
                        if event is None:
                            continue
                        # Progress, not a mere open, resets the count: a node that accepts
                        # and hangs up at once must still run out of retries.
                        failures = 0
                        last_id = event.id
                        yield event
            except httpx.TransportError as exc:
                failures += 1
                if max_retries is not None and failures > max_retries:
                    raise _transport_error(self.server, exc, failures) from exc
            else:
                # The server ended the stream (a restart or shutdown): reconnect like a drop.
                failures += 1
                if max_retries is not None and failures > max_retries:
                    raise Unreachable(
                        self.server,
                        f"the event stream kept closing ({failures} times in a row)",
                    )
            if parser.retry_ms is not None:
                delay = parser.retry_ms / 1000
            await self._wire.sleep(min(delay * 2 ** max(0, failures - 1), EVENTS_MAX_DELAY))
