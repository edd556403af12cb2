"""Time to read the clocks and the identities of N simulated ONVIF cameras.

Run: .venv/bin/python benchmarks/device_check.py [--cameras 64,256] [--parallel 16]

Serves N simulated ONVIF device services (``cctvctl.sim.onvif.OnvifService``, a port each,
clocks set 0..59 s off) in a child thread's event loop, then from this process's own loop:

  clock     ``devices.clock.read_clock`` for every camera, ``--parallel`` at once, as the
            server's DeviceChecker does every 15 minutes (one credential-free SOAP POST
            over one shared httpx client)
  identity  ``devices.onvif.device_info`` for every camera, ``--parallel`` at once, as the
            checker does at connect and daily (onvif-zeep-async: WSDLs loaded and a
            WS-Security token signed per call)

One reading of each kind is made before timing: the imports and WSDL parsing happen once
per server process, not per pass.

Prints, per pass: wall seconds, cameras/s, ms per camera (wall / N), and this process's
CPU seconds (the client side; user + system). Checks that every clock came back within
1.5 s of the offset the simulator was given, so a figure never stands for wrong answers.

Caveats: loopback only (no link latency: a village link's round trip of 100-600 ms adds
about round trip x N / parallel to the wall time, not CPU); the simulator's CPU is in the
same process tree and shares the 2 cores, so the CPU figures are the client's only and the
wall times are pessimistic for a server that talks to real cameras.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import socket
import sys
import threading
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cctvctl.devices.clock import read_clock
from cctvctl.devices.onvif import OnvifTarget, device_info
from cctvctl.sim.model import SimCamera, SimSettings
from cctvctl.sim.onvif import OnvifService
from cctvctl.sim.state import CameraState

T = TypeVar("T")
HOST = "127.0.0.1"
USER, PASSWORD = "admin", "bench-pw"


def free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class SimThread:
    """The simulated devices on their own event loop, so the client's loop is not theirs."""

    def __init__(self, cameras: list[SimCamera]) -> None:
        self.cameras = cameras
        self.states = {c.id: CameraState(c) for c in cameras}
        self.loop = asyncio.new_event_loop()
        self.service = OnvifService(cameras, self.states, SimSettings())
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> SimThread:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.service.start(), self.loop).result(60)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.service.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


async def timed(label: str, n: int, parallel: int, work: list[Awaitable[T]]) -> list[T]:
    slots = asyncio.Semaphore(parallel)

    async def one(call: Awaitable[T]) -> T:
        async with slots:
            return await call

    c0, t0 = cpu(), time.perf_counter()
    results = await asyncio.gather(*(one(w) for w in work))
    wall, used = time.perf_counter() - t0, cpu() - c0
    print(
        f"  {label:<9} {wall:7.2f} s wall  {n / wall:8.1f} cameras/s  "
        f"{wall / n * 1000:7.1f} ms/camera  client CPU {used:6.2f} s"
    )
    return results


async def bench(n: int, parallel: int) -> None:
    import httpx

    ports = free_ports(n)
    cameras = [
        SimCamera(
            id=f"bench-{i:04d}",
            name=f"Bench {i}",
            kecamatan="Bench",
            site="Bench",
            rtsp_port=8554,
            path=f"/bench-{i:04d}",
            username=USER,
            password=PASSWORD,
            onvif_port=port,
            clock_offset=float(i % 60),
        )
        for i, port in enumerate(ports)
    ]
    targets = [
        OnvifTarget(c.id, f"http://{HOST}:{c.onvif_port}/onvif/device_service", USER, PASSWORD)
        for c in cameras
    ]
    print(f"{n} cameras, {parallel} at once")
    with SimThread(cameras):
        # Imports and the WSDLs load once per process; a server pays that once, not per pass.
        await read_clock(targets[0])
        await device_info(targets[0])
        async with httpx.AsyncClient(timeout=10) as http:
            readings = await timed(
                "clock", n, parallel, [read_clock(t, client=http) for t in targets]
            )
        wrong = [
            r
            for r, c in zip(readings, cameras, strict=True)
            if abs(r.offset - (c.clock_offset or 0)) > 1.5
        ]
        infos = await timed("identity", n, parallel, [device_info(t) for t in targets])
        blank = [i for i in infos if i.model != "SIM-IPC-1"]
    if wrong or blank:
        raise SystemExit(f"wrong answers: {len(wrong)} clocks, {len(blank)} identities")


def main() -> None:
    import logging

    # onvif-zeep-async turns on INFO logging; one line per request would drown the figures.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", default="64,256", help="comma-separated counts")
    parser.add_argument("--parallel", type=int, default=16, help="readings at once (16)")
    args = parser.parse_args()
    for n in (int(x) for x in args.cameras.split(",")):
        asyncio.run(bench(n, args.parallel))


if __name__ == "__main__":
    main()
