"""Fault control: a small JSON endpoint to break and mend simulated cameras on purpose.

GET  /cameras                  every camera's fault state and counters
GET  /cameras/{id}             one camera
POST /cameras/{id}/fault       {"mode": "drop|stall|...|recover", "period": 10}
                               (modes: sim.state.FAULT_MODES)
                               {"mode": "clock", "by": 90}: the camera's clock 90 s ahead
                               {"mode": "tsjump", "by": -10800}, {"mode": "resize",
                               "size": "1280x720"}, {"mode": "drift", "ppm": 50},
                               {"mode": "nosps|fpslie"} (sim.stream_faults.STREAM_MODES;
                               a resize answers once its loop is encoded)
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from cctvctl.sim.http import Request, Response, start_http_server
from cctvctl.sim.model import SimSettings
from cctvctl.sim.state import FAULT_MODES, CameraState
from cctvctl.sim.stream_faults import STREAM_MODES, StreamFaultError
from cctvctl.sim.stream_faults import apply as apply_stream_fault

MAX_CLOCK_OFFSET = 10 * 366 * 86400.0


def _json(status: int, payload: Any) -> Response:
    return Response(status, json.dumps(payload).encode(), "application/json")


def _problem(status: int, detail: str) -> Response:
    body = {"title": "fault control", "status": status, "detail": detail}
    return Response(status, json.dumps(body).encode(), "application/problem+json")


class FaultControl:
    def __init__(
        self,
        states: dict[str, CameraState],
        host: str,
        port: int,
        settings: SimSettings | None = None,
    ) -> None:
        self.states = states
        self.settings = settings or SimSettings(host=host, control_port=port)
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await start_http_server(self.host, self.port, self.handle)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def handle(self, req: Request) -> Response:
        parts = [p for p in req.path.split("/") if p]
        if parts == ["cameras"] and req.method == "GET":
            return _json(200, [s.snapshot() for s in self.states.values()])
        if len(parts) < 2 or parts[0] != "cameras":
            return _problem(404, f"no such resource {req.path!r}; try GET /cameras")
        state = self.states.get(parts[1])
        if state is None:
            return _problem(404, f"no simulated camera {parts[1]!r}")
        if len(parts) == 2 and req.method == "GET":
            return _json(200, state.snapshot())
        if parts[2:] == ["fault"] and req.method == "POST":
            return await self._fault(state, req.body)
        return _problem(405, f"{req.method} {req.path} is not supported")

    async def _fault(self, state: CameraState, body: bytes) -> Response:
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return _problem(400, 'body must be JSON like {"mode": "drop"}')
        if not isinstance(payload, dict):
            return _problem(400, 'body must be a JSON object like {"mode": "drop"}')
        mode = payload.get("mode")
        period = payload.get("period")
        if mode not in FAULT_MODES and mode not in STREAM_MODES:
            accepted = ", ".join((*FAULT_MODES, *STREAM_MODES))
            return _problem(422, f"mode {mode!r} is not accepted; accepted: {accepted}")
        if mode == "clock":
            return self._clock(state, payload.get("by"))
        if mode in STREAM_MODES or mode == "recover":
            try:
                await apply_stream_fault(state.stream, state.camera, self.settings, mode, payload)
            except StreamFaultError as exc:
                return _problem(422, str(exc))
            if mode != "recover":
                return _json(200, state.snapshot())
        if period is not None and (not isinstance(period, int | float) or period <= 0):
            return _problem(422, "period must be a positive number of seconds")
        state.apply(str(mode), float(period) if period is not None else None)
        return _json(200, state.snapshot())

    @staticmethod
    def _clock(state: CameraState, by: object) -> Response:
        # Ten years either way covers every camera found with its factory date.
        if isinstance(by, bool) or not isinstance(by, int | float) or abs(by) > MAX_CLOCK_OFFSET:
            return _problem(
                422,
                "clock needs by: seconds the camera's clock is ahead (negative: behind), "
                f"at most {MAX_CLOCK_OFFSET:.0f} either way",
            )
        state.set_clock_offset(float(by))
        return _json(200, state.snapshot())
