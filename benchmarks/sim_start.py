"""The standalone simulator's cold start: `cctvctl sim --config FILE` on an empty loop cache.

Run: .venv/bin/python benchmarks/sim_start.py [--config examples/kutim.toml] [--warm]
         [--timeout 300] [--checkout PATH]

`--checkout` runs another checkout's code (e.g. main's, for a before/after figure) with
that checkout's `examples/kutim.toml` unless `--config` is given.

The inventory is copied into a temporary folder with its simulator ports moved to free ones
(`demo_site.derive_inventory`, so a running demo or simulator does not collide), keeping the
inventory's own `[sim] loop_seconds` (the demo's cap is undone: this measures the simulator
as an operator starts it). Then `python -m cctvctl sim --config COPY --cache-dir EMPTY` runs
from this checkout until it prints its "Fault control:" banner (every loop encoded, every
port listening). With `--warm` a second start reads the cache the first one filled.
Prints, per start:

  ready      wall seconds from the command's start to the banner
  cpu        CPU seconds of the simulator and its encoding workers up to the banner
             (user + system, the workers' once they are reaped at the pool's end)
  loops      cameras, codecs and the loop length the simulator was given

Figures only; nothing is asserted. Caveats are printed with the figures.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
BANNER = "Fault control:"


def copy_inventory(repo: Path, config: Path, folder: Path) -> tuple[Path, str]:
    """The inventory on free ports with its own loop length; and what the loops are."""
    sys.path.insert(0, str(repo))
    from cctvctl.cli.demo_site import derive_inventory, toml_text
    from cctvctl.cli.sim_cmd import sim_cameras, sim_settings
    from cctvctl.config import load_inventory
    from cctvctl.sim.model import media_of

    inventory = load_inventory(config)
    derived = derive_inventory(inventory, folder, None)
    data = tomllib.loads(derived.config.read_text())
    data["sim"]["loop_seconds"] = inventory.sim.loop_seconds
    derived.config.write_text(toml_text(data))
    copied = load_inventory(derived.config)
    settings = sim_settings(copied)
    codecs = collections.Counter(media_of(c, settings).codec for c in sim_cameras(copied))
    mix = ", ".join(f"{n} {k}" for k, n in codecs.most_common())
    what = (
        f"{sum(codecs.values())} loops ({mix}) of {settings.loop_seconds:g} s at "
        f"{settings.width}x{settings.height} {settings.fps} fps"
    )
    return derived.config, what


def one_start(repo: Path, config: Path, cache: Path, timeout: float) -> tuple[float | None, float]:
    """(seconds to the banner or None, CPU seconds of the simulator and its workers)."""
    cmd = [sys.executable, "-m", "cctvctl", "sim", "--config", str(config), "--no-color"]
    cmd += ["--cache-dir", str(cache)]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    ready = threading.Event()
    seen: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            if BANNER in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    at: float | None = None
    if ready.wait(timeout):
        at = time.monotonic() - started
    sim = psutil.Process(proc.pid)
    times = sim.cpu_times()
    cpu = times.user + times.system + times.children_user + times.children_system
    for child in sim.children(recursive=True):  # workers still encoding (a time-out)
        with contextlib.suppress(psutil.Error):
            cpu += sum(child.cpu_times()[:2])
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if at is None:
        print("".join(seen[-20:]), file=sys.stderr)
    return at, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--config", type=Path, default=None, help="default examples/kutim.toml")
    parser.add_argument("--warm", action="store_true", help="then a second start, cache filled")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--checkout", type=Path, default=REPO, help="whose code runs")
    args = parser.parse_args()
    repo = args.checkout.resolve()
    source = (args.config or repo / "examples" / "kutim.toml").resolve()
    cores = os.cpu_count() or 1
    folder = Path(tempfile.mkdtemp(prefix="cctvctl-bench-sim-"))
    try:
        config, what = copy_inventory(repo, source, folder)
        print(f"{cores} CPUs, load average {os.getloadavg()[0]:.2f}; {repo}; {source}")
        print(what)
        cache = folder / "cache"
        cache.mkdir()
        labels = ["cold", "warm"] if args.warm else ["cold"]
        for label in labels:
            at, cpu = one_start(repo, config, cache, args.timeout)
            ready = f"{at:.1f} s" if at is not None else f"not within {args.timeout:g} s"
            print(
                f"{label}: ready {ready}, {cpu:.1f} CPU s (= {cpu / cores:.1f} s on {cores} "
                f"idle cores); load average {os.getloadavg()[0]:.2f}"
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(
        """
caveats:
- wall time from the command's start: the interpreter's start, encoding every loop (cold),
  and the RTSP, ONVIF and control listeners; no client connects.
- the machine's other work shares the cores (the load average is printed); the CPU
  seconds move little with it, the wall time a lot.
- CPU: the simulator's, its reaped workers' and any still alive at the banner or the
  time-out (none at the banner: the pool ends before the listeners start)."""
    )


if __name__ == "__main__":
    main()
