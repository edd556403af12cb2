"""Server memory under a steady thumbnail load: does RSS keep growing, is it given back?

Run: .venv/bin/python benchmarks/thumb_load.py [--minutes 3] [--rate 20] [--cameras 6]
                                              [--size 640x360] [--idle 60] [--sample 10]

Starts the simulator and a real `cctvctl server` for a small site with the test harness
(tests/harness.py), then asks for ``--rate`` thumbnails a second for ``--minutes``,
spread over every camera, with varied sizes (random width and/or height from 16 to 640,
as many distinct sizes as a wall of terminals of different shapes would ask for) and
both formats (rgb, jpeg). Every ``--sample`` seconds it reads the server process's RSS
and PSS (psutil, /proc/PID/smaps_rollup); after the load it waits ``--idle`` seconds
with no requests and samples again, to show whether memory is given back.

Printed (no assertions): the curve (elapsed s, requests done, RSS MB, PSS MB), the
growth of RSS from the first sample after warm-up (30 s of load) to the end of the load,
and the RSS after the idle wait.

Caveats: the machine is shared, so the request rate may fall short of ``--rate`` when
the CPU is busy (the achieved rate is printed). The simulator runs in this process, not
the server's, so its memory is not counted. Growth in the first minutes is mostly
caches and thread stacks filling up to their bounds; only the slope after that says
whether something leaks, hence long runs (``--minutes 30``) for the real figure.

Measured on a 2-core host shared with other jobs (RSS MB: cold start -> after 30 s ->
end of load -> 30 s idle):
  before the fix, --minutes 5 --size 1920x1080:  150 -> 239 -> 266 -> 264 (nothing given back)
  after,          --minutes 5 --size 1920x1080:  146 -> 190 -> 201 -> 155
  after,          --minutes 30 --size 1920x1080: 145 -> 192 -> 203 -> 156 (+10.6 MB in 29.5 min)
  before, --minutes 5 (640x360):   129 -> 210 -> 229 -> 229
  after, --minutes 12 (640x360):   124 -> 163 -> 168 -> 148
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024
WARMUP_SECONDS = 30.0


def memory(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of ``pid`` in MB."""
    info = psutil.Process(pid).memory_full_info()
    return info.rss / MB, getattr(info, "pss", info.rss) / MB


def request_params(rng: random.Random) -> dict[str, str]:
    params = {"format": rng.choice(("rgb", "jpeg"))}
    shape = rng.randrange(3)
    if shape in (0, 2):
        params["width"] = str(rng.randrange(16, 641))
    if shape in (1, 2):
        params["height"] = str(rng.randrange(16, 361))
    return params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="load duration (default 3)")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second")
    parser.add_argument("--cameras", type=int, default=6)
    parser.add_argument("--size", default="640x360", help="camera picture size WxH")
    parser.add_argument("--idle", type=float, default=60.0, help="seconds idle after the load")
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between samples")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))

    sys.path.insert(0, str(ROOT / "tests"))
    from harness import ServerProcess, SiteSpec, start_sim, wait_for, write_site

    with tempfile.TemporaryDirectory(prefix="thumb-load-") as tmp:
        spec = SiteSpec(
            cameras=args.cameras, segment_seconds=10, width=width, height=height, fps=10
        )
        site = write_site(Path(tmp) / "site", spec)
        sim = start_sim(site, Path(tmp) / "sim-cache")
        server = ServerProcess(site)
        try:
            server.start()
            assert server.proc is not None
            pid = server.proc.pid
            with server.client("viewer") as api:

                def all_have_pictures() -> bool:
                    return all(
                        api.get(f"/api/v1/cameras/{c}/thumbnail", params={"width": 32}).status_code
                        == 200
                        for c in site.camera_ids
                    )

                wait_for(all_have_pictures, timeout=60, what="a picture from every camera")
            print(
                f"server pid {pid}; {args.cameras} cameras {args.size}; "
                f"{args.rate:g} req/s for {args.minutes:g} min",
                flush=True,
            )
            print(f"{'t s':>7} {'requests':>9} {'errors':>7} {'rss MB':>8} {'pss MB':>8}")
            done = [0, 0]  # requests, errors
            stop = threading.Event()
            workers = 4

            def worker(n: int) -> None:
                rng = random.Random(n)
                interval = workers / args.rate
                next_at = time.monotonic()
                with server.client("viewer") as api:
                    while not stop.is_set():
                        cam = rng.choice(site.camera_ids)
                        try:
                            r = api.get(
                                f"/api/v1/cameras/{cam}/thumbnail", params=request_params(rng)
                            )
                            ok = r.status_code == 200
                        except httpx.HTTPError:
                            ok = False
                        done[0] += 1
                        done[1] += not ok
                        next_at += interval
                        stop.wait(max(0.0, next_at - time.monotonic()))

            threads = [threading.Thread(target=worker, args=(n,)) for n in range(workers)]
            began = time.monotonic()
            for t in threads:
                t.start()
            curve: list[tuple[float, float]] = []
            end = began + args.minutes * 60
            while True:
                elapsed = time.monotonic() - began
                rss, pss = memory(pid)
                curve.append((elapsed, rss))
                print(f"{elapsed:7.0f} {done[0]:9d} {done[1]:7d} {rss:8.1f} {pss:8.1f}", flush=True)
                if time.monotonic() >= end:
                    break
                time.sleep(min(args.sample, max(0.0, end - time.monotonic())))
            stop.set()
            for t in threads:
                t.join()
            load_seconds = time.monotonic() - began
            time.sleep(args.idle)
            idle_rss, idle_pss = memory(pid)
            print(f"{'idle':>7} {done[0]:9d} {done[1]:7d} {idle_rss:8.1f} {idle_pss:8.1f}")
            after_warmup = [rss for t, rss in curve if t >= WARMUP_SECONDS] or [curve[-1][1]]
            print(
                f"\nachieved {done[0] / load_seconds:.1f} req/s, {done[1]} errors\n"
                f"RSS at start {curve[0][1]:.1f} MB, after {WARMUP_SECONDS:.0f} s warm-up "
                f"{after_warmup[0]:.1f} MB, at end of load {curve[-1][1]:.1f} MB, "
                f"peak {max(r for _, r in curve):.1f} MB\n"
                f"growth over the load (after warm-up): {curve[-1][1] - after_warmup[0]:+.1f} MB; "
                f"from start: {curve[-1][1] - curve[0][1]:+.1f} MB\n"
                f"after {args.idle:.0f} s idle: RSS {idle_rss:.1f} MB, PSS {idle_pss:.1f} MB"
            )
        finally:
            if server.running:
                server.stop()
            sim.stop()


if __name__ == "__main__":
    main()
