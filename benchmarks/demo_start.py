"""The demo's cold first start: `cctvctl demo` with an empty loop cache, to every camera recording.

Run: .venv/bin/python benchmarks/demo_start.py [--config examples/kutim.toml] [--warm]
         [--timeout 300] [--loops-only]

It starts `cctvctl demo` in a tmux session of its own (the console needs a terminal) with
an empty `--cache-dir` (cold: every scene loop is encoded, as on a machine's first demo) and
a private TMPDIR, then polls the demo's server (its address and token are in the demo's
folder) until every camera reports `recording`. With `--warm` it runs a second demo on the
cache the first one filled. It prints, from the command's start:

  recording   every camera's `recording` is true in /api/v1/cameras
  mix         the cameras' video codecs and audio handling, as the server saw them

Then (and alone, with `--loops-only`) the part of a cold start that the machine's load
moves most: the demo's loops encoded into an empty cache by `sim.loop.load_loops` in this
process, as the demo does before it starts anything, with the demo's settings
(`demo_site.DEMO_LOOP_SECONDS` where the checkout has it): wall seconds and CPU seconds
(this process and its encoding workers). CPU / cores is what the encoding costs a cold
start on an otherwise idle machine.

Figures only; nothing is asserted. Caveats are printed with the figures.
"""

from __future__ import annotations

import argparse
import collections
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import uuid
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent


class Tmux:
    def __init__(self) -> None:
        self.socket = f"cctvctl-bench-{uuid.uuid4().hex[:8]}"

    def run(self, *args: str) -> str:
        proc = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10
        )
        return proc.stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-J", "-S", "-200", "-t", "demo")


def one_start(config: Path, cache: Path, timeout: float) -> dict[str, object]:
    tmpdir = Path(tempfile.mkdtemp(prefix="cctvctl-bench-tmp-"))
    tmux = Tmux()
    cmd = [sys.executable, "-m", "cctvctl", "demo", "--config", str(config)]
    cmd += ["--cache-dir", str(cache)]
    shell = f"cd {REPO} && TMPDIR={tmpdir} {' '.join(cmd)}; sleep 30"
    started = time.monotonic()
    tmux.run("new-session", "-d", "-s", "demo", "-x", "120", "-y", "40", shell)
    out: dict[str, object] = {}
    try:
        deadline = started + timeout
        api: httpx.Client | None = None
        cameras: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if api is None:
                folders = list(tmpdir.glob("cctvctl-demo-*"))
                token = folders[0] / "demo-token" if folders else None
                if token is None or not token.exists():
                    continue
                inv = tomllib.loads((folders[0] / "inventory.toml").read_text())
                api = httpx.Client(
                    base_url=f"http://{inv['server']['listen']}",
                    headers={"Authorization": f"Bearer {token.read_text().strip()}"},
                    timeout=5,
                )
            try:
                resp = api.get("/api/v1/cameras")
            except httpx.HTTPError:
                continue
            if resp.status_code != 200:
                continue
            cameras = resp.json()
            if cameras and all(c.get("recording") for c in cameras):
                out["recording"] = time.monotonic() - started
                break
        out["cameras"] = len(cameras)
        out["recording_count"] = sum(1 for c in cameras if c.get("recording"))
        mix: collections.Counter[str] = collections.Counter()
        for cam in cameras:
            media = cam.get("media") or {}
            assert isinstance(media, dict)
            # audio_handling: none, dropped, kept or converted
            mix[f"{media.get('video')} audio {media.get('audio_handling')}"] += 1
        out["mix"] = ", ".join(f"{n} {k}" for k, n in mix.most_common())
    finally:
        tmux.run("kill-server")  # SIGHUP: the demo stops its children and removes its folder
        time.sleep(3)
        shutil.rmtree(tmpdir, ignore_errors=True)
    return out


def encode_loops(config: Path) -> str:
    """The demo's loops, encoded into an empty cache here: wall and CPU seconds."""
    from cctvctl.cli import demo_site
    from cctvctl.cli.sim_cmd import sim_cameras, sim_settings
    from cctvctl.config import load_inventory
    from cctvctl.sim.loop import load_loops

    inventory = load_inventory(config)
    cameras = [
        c
        for c, e in zip(sim_cameras(inventory), inventory.cameras(), strict=True)
        if e.camera.enabled
    ]
    demo_loop = getattr(demo_site, "DEMO_LOOP_SECONDS", inventory.sim.loop_seconds)
    loop_seconds = min(inventory.sim.loop_seconds, demo_loop)
    with tempfile.TemporaryDirectory(prefix="cctvctl-bench-cache-") as cache:
        settings = sim_settings(inventory, cache_dir=Path(cache), loop_seconds=loop_seconds)

        def cpu() -> float:
            me = resource.getrusage(resource.RUSAGE_SELF)
            kids = resource.getrusage(resource.RUSAGE_CHILDREN)
            return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

        c0, t0 = cpu(), time.monotonic()
        loops = load_loops(cameras, settings)
        wall, used = time.monotonic() - t0, cpu() - c0
    codecs = collections.Counter(loop.codec for loop in loops.values())
    mix = ", ".join(f"{n} {k}" for k, n in codecs.most_common())
    cores = os.cpu_count() or 1
    return (
        f"loops: {len(loops)} ({mix}) of {loop_seconds:g} s at {settings.width}x"
        f"{settings.height} {settings.fps} fps: {wall:.1f} s wall, {used:.1f} CPU s "
        f"(= {used / cores:.1f} s on {cores} idle cores)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "examples" / "kutim.toml")
    parser.add_argument("--warm", action="store_true", help="then a second start, cache filled")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--loops-only", action="store_true", help="only encode the loops")
    args = parser.parse_args()
    if args.loops_only:
        print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; {args.config}")
        print(encode_loops(args.config.resolve()))
        return
    if shutil.which("tmux") is None:
        raise SystemExit("needs tmux (apt-get install tmux)")
    load = os.getloadavg()
    print(f"{os.cpu_count()} CPUs, load average {load[0]:.2f} at the start; {args.config}")
    cache = Path(tempfile.mkdtemp(prefix="cctvctl-bench-cache-"))
    try:
        runs = [("cold", one_start(args.config.resolve(), cache, args.timeout))]
        if args.warm:
            runs.append(("warm", one_start(args.config.resolve(), cache, args.timeout)))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    for label, r in runs:
        rec = f"{r['recording']:.1f} s" if "recording" in r else f"not within {args.timeout:g} s"
        print(
            f"{label}: every camera recording {rec}; "
            f"{r['recording_count']}/{r['cameras']} recording"
        )
        print(f"{'':6}mix: {r['mix']}")
    print(f"load average {os.getloadavg()[0]:.2f}; {encode_loops(args.config.resolve())}")
    print(
        """
caveats:
- wall time from the command's start, polled every 0.5 s; includes the interpreter's start,
  encoding every loop (cold), the simulator, the server and the first segment of each camera.
- the machine's other work shares the cores (the load average at the start is printed).
- `recording` is the server's own flag (a segment open for the camera), not a file check.
- loops: encoded in this process's pool, as the demo does; CPU includes scene drawing and
  the cache writes, and a loaded machine stretches the wall time, not the CPU seconds."""
    )


if __name__ == "__main__":
    main()
