"""`cctvctl tui --fleet` over a fleet of real nodes: time to the first full screen, bytes per
refresh that reach the terminal, and memory; `cctvctl tui` of one node beside it.

Run: .venv/bin/python benchmarks/fleet.py console [--nodes 18] [--cameras 3] [--seconds 20]
         [--warmup 3] [--size 160x48] [--refresh 2] [--before TREE]

Starts a PostgreSQL server with the test harness (tests/pg_harness.py, the tests' fast
settings: the console never waits on the store's disk), writes a site of --nodes kecamatan
of Kutai Timur with --cameras cameras each, serves them all from one simulator (in this
process), and starts --nodes `cctvctl server --node` processes on the one store, each node
the home of one kecamatan (tests/fleet_sites.py: each node's own file, the fleet inventory
published once every node is up). Once every node records all its cameras (each camera
online in its node's API), three consoles run in turn, each `python -m cctvctl tui` on a
real pseudo-terminal of --size (TERM=xterm-256color, no COLORTERM: 256 colours):

- `tui --url NODE1` (one node, the kecamatan it records);
- `tui --fleet --url NODE1` (every node, found through the fleet API);
- with --before TREE, the same two consoles from that checkout (its code on PYTHONPATH),
  against the same nodes: the figures before a change, in the same run.

First full screen: from the process start to the first byte after which the screen, replayed
into a terminal emulator (pyte), shows every expected kecamatan with its camera counts
("3/3", which only the node recording it can give): every node answered and shown. Then
--warmup s, then every byte read from the pty master over --seconds. Bytes per refresh are
those bytes per --refresh interval (the current node's stats poll; the other nodes are polled
every 10 s, the fleet's node list too, and every answer re-draws the overview). PSS
(psutil) of the console at the end of its window, and of the nodes, the benchmark process
(the simulator) and PostgreSQL once the consoles are done.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pyte
from _common import pss_bytes
from fleet_sites import fleet_toml, node_site
from harness import ServerProcess, Site, SiteSpec, start_sim, write_site
from pg_harness import PgEngine, find_pg_bin, temporary_root
from tui_bytes import PtyCapture, Run, breakdown, set_winsize, stop_child, tui_env

from cctvctl.fleet.store import FleetStore

__all__ = ["CONSOLE_HELP", "run_console"]

CONSOLE_HELP = __doc__ or ""
ROOT = Path(__file__).resolve().parent.parent
KUTAI_TIMUR = (
    "Sangatta Utara",
    "Sangatta Selatan",
    "Bengalon",
    "Muara Wahau",
    "Kongbeng",
    "Telen",
    "Muara Ancalong",
    "Busang",
    "Long Mesangat",
    "Muara Bengkal",
    "Batu Ampar",
    "Kaubun",
    "Kaliorang",
    "Karangan",
    "Sandaran",
    "Rantau Pulung",
    "Teluk Pandan",
    "Sangkulirang",
)
SETTLE_TIMEOUT = 120.0
START_TIMEOUT = 60.0
MB = 1_000_000
_COUNTS = re.compile(r"\s(\d+)/(\d+)\s")

CAVEATS = """
Caveats: the nodes, the simulator, PostgreSQL and the console share this machine's 2 cores
(the nodes record meanwhile), so the first full screen is longer than on a NOC desk whose
nodes are elsewhere, and loopback has no link latency (a node over a thin link answers its
poll later; the screen is full when the slowest node has answered). Bytes are what the pty
master received, before SSH compression; tmux in between redraws in its own way. Each
console polls its current node every --refresh s and the others every 10 s, so a window
holds about (--seconds / 10) answers of each other node: the fleet console's bytes per
refresh include them. The consoles run in turn, the first while the just-started nodes are
still busy: compare their bytes, not their first full screens. PSS shares libraries
between processes of one interpreter; the nodes' total is what 18 nodes cost one machine,
more than one node on its own machine.
"""


@dataclass
class Fleet:
    servers: list[ServerProcess]
    names: list[str]
    kecamatan: list[str]  # the kecamatan node i is home to
    token: str  # a viewer's
    engine: PgEngine


@dataclass(frozen=True)
class Console:
    label: str
    first_full: float  # seconds from the process start
    run: Run
    refresh: float
    pss: int

    @property
    def per_refresh(self) -> float:
        return self.run.rate * self.refresh


def _node_names(count: int) -> list[str]:
    return [f"node-{n + 1:02d}" for n in range(count)]


@contextmanager
def running_fleet(tmp: Path, nodes: int, cameras: int) -> Iterator[Fleet]:
    bin_dir = find_pg_bin()
    if bin_dir is None:
        sys.exit("PostgreSQL not found under /usr/lib/postgresql/*/bin: run `make sysdeps`")
    engine = PgEngine(bin_dir, temporary_root()).init().start()
    servers: list[ServerProcess] = []
    sim = None
    try:
        dsn = engine.create_database("console")
        kecamatan = list(KUTAI_TIMUR[:nodes])
        site = write_site(
            tmp / "site",
            SiteSpec(cameras=nodes * cameras, kecamatan=tuple(kecamatan), segment_seconds=10),
        )
        sim = start_sim(site, tmp / "cache")
        names = _node_names(nodes)
        servers = [ServerProcess(node_site(site, name, dsn, 30)) for name in names]
        began = time.monotonic()
        with ThreadPoolExecutor(max_workers=6) as pool:
            list(pool.map(lambda server: server.start(timeout=SETTLE_TIMEOUT), servers))
        print(f"{nodes} nodes up in {time.monotonic() - began:.1f} s", file=sys.stderr)
        _publish(site, dsn, names)
        _settle(servers, cameras)
        print(f"every camera online after {time.monotonic() - began:.1f} s", file=sys.stderr)
        yield Fleet(servers, names, kecamatan, site.tokens["viewer"], engine)
    finally:
        for server in servers:
            if server.running:
                server.stop()
        if sim is not None:
            sim.stop()
        engine.close()


def _publish(site: Site, dsn: str, names: list[str]) -> None:
    """Kecamatan i homed on node i, failing over to the next node."""
    slugs = list(site.kecamatan)
    home: dict[str, str] = {}
    failover: dict[str, list[str]] = {}
    for cam in site.camera_ids:
        i = slugs.index(site.camera_kecamatan[cam])
        home[cam] = names[i]
        failover[cam] = [names[(i + 1) % len(names)]] if len(names) > 1 else []
    text = fleet_toml(site, home, failover)
    with FleetStore.open(dsn) as store:
        store.publish_inventory(text, tomllib.loads(text), author="benchmark")


def _settle(servers: list[ServerProcess], cameras: int) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT
    waiting = list(servers)
    while waiting:
        if time.monotonic() > deadline:
            sys.exit(f"not every camera online after {SETTLE_TIMEOUT:.0f} s: {waiting[0].url}")
        server = waiting[0]
        try:
            listed = server.get("/api/v1/cameras").json()
        except httpx.HTTPError:
            listed = []
        if len(listed) == cameras and all(c["status"] == "online" for c in listed):
            waiting.pop(0)
        else:
            time.sleep(0.5)


def _full(display: list[str], expected: list[str], cameras: int) -> bool:
    """Every expected kecamatan on a row with its camera counts: the node recording it
    answered (before it has, the row reads "connecting", "unknown" or 0 cameras)."""
    for name in expected:
        row = next((line for line in display if f" {name} " in f" {line} "), None)
        if row is None:
            return False
        counts = _COUNTS.search(f" {row} ")
        if counts is None or counts.group(2) != str(cameras):
            return False
    return True


def run_tui(
    label: str,
    args: list[str],
    tree: Path,
    expected: list[str],
    cameras: int,
    *,
    size: tuple[int, int],
    warmup: float,
    seconds: float,
    refresh: float,
) -> Console:
    cols, rows = size
    master, slave = os.openpty()
    set_winsize(slave, cols, rows)
    env = tui_env(None) | {"PYTHONPATH": str(tree)}
    began = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cctvctl", "tui", "--refresh", str(refresh), *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=tree,
        env=env,
        start_new_session=True,
        close_fds=True,
    )
    os.close(slave)
    capture = PtyCapture(master)
    capture.start()
    try:
        screen = pyte.Screen(cols, rows)
        stream = pyte.ByteStream(screen)
        fed = 0
        first_full: float | None = None
        while first_full is None:
            if time.monotonic() - began > START_TIMEOUT:
                tail = "\n".join(screen.display)
                sys.exit(f"{label}: no full screen after {START_TIMEOUT:.0f} s; it shows:\n{tail}")
            if proc.poll() is not None:
                sys.exit(f"{label}: the console exited with {proc.returncode}")
            chunks = capture.window(0.0, float("inf"))
            for t, data in chunks[fed:]:
                stream.feed(data)
                if _full(screen.display, expected, cameras):
                    first_full = t - began
                    break
            fed = len(chunks)
            time.sleep(0.02)
        time.sleep(warmup)
        start = time.monotonic()
        time.sleep(seconds)
        end = time.monotonic()
        pss = pss_bytes([psutil.Process(proc.pid)])
        run = Run(
            "256",
            "-",
            label,
            cols,
            rows,
            end - start,
            capture.window(start, end),
            None,
            capture.before(start),
            [],
            start,
        )
        return Console(label, first_full, run, refresh, pss)
    finally:
        stop_child(proc, master)
        capture.stop()
        os.close(master)


def _postgres_pss(engine: PgEngine) -> int:
    pid = int((engine.data_dir / "postmaster.pid").read_text().split()[0])
    main = psutil.Process(pid)
    return pss_bytes([main, *main.children(recursive=True)])


def run_console(args: argparse.Namespace) -> None:
    if not 1 <= args.nodes <= len(KUTAI_TIMUR):
        sys.exit(f"--nodes must be 1 to {len(KUTAI_TIMUR)} (one kecamatan each), got {args.nodes}")
    cols, _, rows = args.size.lower().partition("x")
    size = (int(cols), int(rows))
    timing = {
        "size": size,
        "warmup": args.warmup,
        "seconds": args.seconds,
        "refresh": args.refresh,
    }
    with (
        tempfile.TemporaryDirectory(prefix="cctvctl-fleet-") as tmp,
        running_fleet(Path(tmp), args.nodes, args.cameras) as fleet,
    ):
        first = fleet.servers[0]
        login = ["--url", first.url, "--token", fleet.token]
        everyone = fleet.kecamatan
        plans: list[tuple[str, list[str], Path, list[str]]] = [
            ("tui (one node)", login, ROOT, fleet.kecamatan[:1]),
            (f"tui --fleet ({args.nodes} nodes)", [*login, "--fleet"], ROOT, everyone),
        ]
        if args.before is not None:
            before = args.before.resolve()
            plans += [
                (f"tui (one node), before ({before})", login, before, fleet.kecamatan[:1]),
                (f"tui --fleet, before ({before})", [*login, "--fleet"], before, everyone),
            ]
        consoles = []
        for label, tui_args, tree, expected in plans:
            print(f"running {label} ...", file=sys.stderr, flush=True)
            consoles.append(run_tui(label, tui_args, tree, expected, args.cameras, **timing))
        nodes_pss = pss_bytes([psutil.Process(s.proc.pid) for s in fleet.servers if s.proc])
        bench_pss = pss_bytes([psutil.Process()])
        pg_pss = _postgres_pss(fleet.engine)

    print(
        f"\n{args.nodes} nodes x {args.cameras} cameras, one simulator, one PostgreSQL;"
        f" terminal {size[0]}x{size[1]}, 256 colours; --refresh {args.refresh:g} s,"
        f" {args.seconds:g} s window after {args.warmup:g} s"
    )
    print(
        f"{'console':<48} {'first full':>10} {'B/s':>7} {'KB/s':>6}"
        f" {'B/refresh':>9} {'updates/s':>9} {'rows/upd':>8} {'PSS MB':>7}"
    )
    for c in consoles:
        updates = c.run.updates()
        touched = [len(set(re.findall(rb"\x1b\[(\d+);\d+H", u))) for u in updates]
        mean_rows = sum(touched) / len(touched) if touched else 0.0
        print(
            f"{c.label:<48} {c.first_full:9.2f}s {c.run.rate:7.0f} {c.run.rate / 1000:6.2f}"
            f" {c.per_refresh:9.0f} {len(updates) / c.run.seconds:9.1f} {mean_rows:8.1f}"
            f" {c.pss / MB:7.0f}"
        )
    print(
        f"\nPSS: the {args.nodes} nodes {nodes_pss / MB:,.0f} MB in all"
        f" ({nodes_pss / MB / args.nodes:.0f} MB each), this process (the simulator,"
        f" {args.nodes * args.cameras} streams) {bench_pss / MB:.0f} MB,"
        f" PostgreSQL {pg_pss / MB:.0f} MB"
    )
    print(CAVEATS)
    for c in consoles:
        print(breakdown(c.run))
