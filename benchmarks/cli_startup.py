"""Wall time of a fresh `cctvctl` process: `status --json` against a server, and `--help`.

Run: .venv/bin/python benchmarks/cli_startup.py [--runs 10] [--url URL --token TOKEN]

Without --url it writes a small site (2 cameras, 2 kecamatan) under a temporary folder and
starts the simulator and `cctvctl server` for it with the test harness (tests/harness.py),
so the numbers come from a real server with real cameras recording. Each command runs as a
new process --runs times after one first run, which is reported on its own (cold caches);
the median and the spread of the rest are printed. Target: under 0.3 s each. The CPU time
(user + system) of the same processes is printed too: on a machine shared with other work
the wall time says mostly how busy it is, while the CPU time moves much less, so compare
two versions by CPU time when the load average is high (it is printed).

Then one traced run (`python -X importtime`) says what dominates the imports of
`status --json`: self time summed by top-level package, largest first.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.3
_IMPORT = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)$")


@contextmanager
def running_server() -> Iterator[tuple[str, str]]:
    # The harness already knows how to write a site and start sim + server; reuse it.
    sys.path.insert(0, str(ROOT / "tests"))
    from harness import SiteSpec, live_site

    with tempfile.TemporaryDirectory(prefix="cctvctl-bench-") as tmp:
        spec = SiteSpec(cameras=2, kecamatan=("Sangatta Utara", "Bengalon"))
        with live_site(Path(tmp) / "site", Path(tmp) / "cache", spec) as live:
            yield live.server.url, live.site.tokens["viewer"]


def run_once(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "cctvctl", *args],
        capture_output=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"cctvctl {' '.join(args)} exited {proc.returncode}: {proc.stderr!r}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return took, cpu


def measure(label: str, args: list[str], env: dict[str, str], runs: int) -> float:
    first, _ = run_once(args, env)
    runs_taken = [run_once(args, env) for _ in range(runs)]
    times = [wall for wall, _ in runs_taken]
    median = statistics.median(times)
    cpu = statistics.median(cpu for _, cpu in runs_taken)
    verdict = "ok" if median < TARGET else f"over the {TARGET:.1f} s target"
    print(
        f"{label:<22} first {first * 1000:6.0f} ms   median {median * 1000:6.0f} ms   "
        f"min {min(times) * 1000:4.0f}  max {max(times) * 1000:4.0f}   "
        f"cpu median {cpu * 1000:4.0f} ms   ({runs} runs, {verdict})"
    )
    return median


def import_report(args: list[str], env: dict[str, str], top: int = 12) -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cctvctl", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    by_package: dict[str, int] = defaultdict(int)
    total = 0
    for line in proc.stderr.splitlines():
        match = _IMPORT.match(line)
        if match is None:
            continue
        self_us = int(match[1])
        name = match[4]
        # cctvctl's own modules one by one, everything else by distribution.
        key = name if name.startswith("cctvctl") else name.split(".")[0]
        by_package[key] += self_us
        total += self_us
    print(f"\nimports of `cctvctl {' '.join(args)}`: {total / 1000:.0f} ms (self time, traced)")
    for name, micros in sorted(by_package.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {name:<32} {micros / 1000:6.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--url", help="an already running server (default: start one)")
    parser.add_argument("--token", help="its viewer token")
    opts = parser.parse_args()
    base = {k: v for k, v in os.environ.items() if not k.startswith("CCTVCTL_") and k != "NO_COLOR"}

    def bench(url: str, token: str) -> None:
        env = {**base, "CCTVCTL_URL": url, "CCTVCTL_TOKEN": token}
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {load}")
        print(f"server {url}\n")
        measure("cctvctl --help", ["--help"], env, opts.runs)
        measure("cctvctl status --json", ["status", "--json"], env, opts.runs)
        import_report(["status", "--json"], env)

    if opts.url:
        if not opts.token:
            parser.error("--url needs --token")
        bench(opts.url, opts.token)
    else:
        with running_server() as (url, token):
            bench(url, token)


if __name__ == "__main__":
    main()
