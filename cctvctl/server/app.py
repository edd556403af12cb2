"""The FastAPI application: the factory, its routes, and the lifespan that runs the backend.

The services themselves, and the order they start and stop in, are in
:mod:`cctvctl.server.runtime`; the lifespan runs them for as long as the app is served.

uvicorn only starts listening once the lifespan start-up has finished, so ``/healthz``
answering means the recorder is running.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse

from cctvctl import __version__
from cctvctl.config import Inventory
from cctvctl.models import Role
from cctvctl.recorder import malloc
from cctvctl.server import openapi, problems, runtime
from cctvctl.server.auth import require
from cctvctl.server.credentials import Redactor
from cctvctl.server.routes import (
    audit,
    cameras,
    cases,
    events,
    exports,
    fleet,
    health,
    kecamatan,
    metrics,
    reboots,
    recordings,
    server,
    time_sync,
)
from cctvctl.server.runtime import DEFAULT_RETENTION_INTERVAL

__all__ = ["DEFAULT_RETENTION_INTERVAL", "create_app"]

API_DESCRIPTION: Final = """\
Recording backend of the Kutai Timur CCTV network.

Every route except `/healthz` needs `Authorization: Bearer <token>` (make one with
`cctvctl token create`). Roles are ordered viewer < operator < admin; every read route,
`/metrics` included, needs viewer. Errors are RFC 9457 `application/problem+json`.
Times are RFC 3339 UTC.
"""


def create_app(
    inventory: Inventory,
    *,
    retention_interval: float = DEFAULT_RETENTION_INTERVAL,
    redact: Redactor | None = None,
    url: str | None = None,
) -> FastAPI:
    """The API application for ``inventory``; the recorder runs while the app is served.

    ``redact``: the log handler's redactor, which a reload then keeps up to date.
    ``url``: where the API is served (``--listen``), which a fleet node tells the others.
    """
    # Before uvicorn and the recorder start their threads: existing arenas are kept.
    malloc.limit_arenas(malloc.ARENAS)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with runtime.running(
            inventory, retention_interval=retention_interval, redact=redact
        ) as rt:
            runtime.install(app, rt)
            if rt.fleet_store is None:
                yield
                return
            # Here, not at the top: a single node never loads psycopg.
            from cctvctl.server import fleet_node

            async with fleet_node.joined(rt, url or f"http://{inventory.server.listen}"):
                yield

    # FastAPI's own /openapi.json would be the one unauthenticated route besides /healthz;
    # it is served below behind a viewer token instead, and the browser UIs (which cannot
    # send one when they fetch it) are off.
    app = FastAPI(
        title="cctvctl",
        version=__version__,
        description=API_DESCRIPTION,
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        # Starlette's trailing-slash redirect builds its Location from the Host header,
        # so a forged Host would come back as a redirect to anywhere: a stray slash is a
        # 404 problem like any other unknown path.
        redirect_slashes=False,
    )
    problems.install(app)
    openapi.install(app)
    # In this order: it is the order of the paths in /openapi.json.
    for module in (
        health,
        cameras,
        recordings,
        kecamatan,
        events,
        metrics,
        exports,
        cases,
        audit,
        reboots,
        server,
        fleet,
        time_sync,
    ):
        app.include_router(module.router)

    @app.get(
        "/openapi.json",
        include_in_schema=False,
        dependencies=[Depends(require(Role.VIEWER))],
    )
    def openapi_document() -> JSONResponse:
        return JSONResponse(app.openapi())

    return app
