"""The fleet's two benchmarks (issue 12): `renewals`, how many lease renewals per second one
PostgreSQL fleet store sustains, and `console`, `cctvctl tui --fleet` over 18 real nodes.

`renewals`
Run: .venv/bin/python benchmarks/fleet.py renewals [--cameras 5000] [--nodes 18,200,1000]
                                                   [--connections 1,4,16] [--seconds 5]

Starts a PostgreSQL server from Debian's package with the test harness (tests/pg_harness.py),
but with PostgreSQL's own durable settings (fsync, full-page writes and synchronous commit on),
not the tests' fast ones. For each node count, --cameras leases are spread evenly over that
many nodes (each node's leases claimed by `FleetStore.claim`); then --connections threads,
each with its own `FleetStore` (its own connection, as each node has), call
`FleetStore.renew(node, 30 s)` round-robin over the nodes for --seconds. A renewal is what a
node sends once per interval: one UPDATE of all its leases, one transaction, one commit.

Printed per run: renewals (statements) per second, leases renewed per second, the median and
99th percentile of one renewal's round trip, and the headroom against what the fleet needs
(every node renewing once per 10 s, a third of the 30 s lease).

Caveats: client and server share this machine's cores, and the client is Python with a GIL
(threads overlap only while waiting on the server), so the server is not saturated at high
connection counts: the figures are a floor for the store. Loopback has no latency; a node
across a thin link waits longer per renewal, which costs it time, not the store. Commits
wait for a flush to this machine's disk (a VM disk here), so the commit rate bounds
renewals; a server with a battery-backed write cache does better. No other load (audit,
catalogue, inventory) runs meanwhile.

`console`: see benchmarks/_fleet_console.py (`fleet.py console --help`).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cctvctl.fleet.store import FleetStore

ROOT = Path(__file__).resolve().parent.parent
RENEWALS_HELP = __doc__.split("`renewals`\n", 1)[1].split("\n`console`", 1)[0]
TTL = timedelta(seconds=30)
RENEW_EVERY = 10.0  # seconds: a third of the lease, so two renewals may fail in a row


def _ints(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected whole numbers separated by commas, got {text!r}"
        ) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected numbers of 1 or more, got {text!r}")
    return values


def main() -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    sys.path.insert(0, str(ROOT))
    from _fleet_console import CONSOLE_HELP, run_console

    parser = argparse.ArgumentParser(
        description="The fleet's benchmarks: lease renewals per second of one PostgreSQL"
        " store (renewals), and `cctvctl tui --fleet` over 18 real nodes (console)."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    renewals = commands.add_parser(
        "renewals", help="lease renewals per second of one store", description=RENEWALS_HELP
    )
    renewals.add_argument("--cameras", type=int, default=5000)
    renewals.add_argument("--nodes", type=_ints, default=[18, 200, 1000])
    renewals.add_argument("--connections", type=_ints, default=[1, 4, 16])
    renewals.add_argument("--seconds", type=float, default=5.0)
    console = commands.add_parser(
        "console", help="`cctvctl tui --fleet` over N real nodes", description=CONSOLE_HELP
    )
    console.add_argument("--nodes", type=int, default=18, help="server processes (max 18)")
    console.add_argument("--cameras", type=int, default=3, help="simulated cameras per node")
    console.add_argument("--seconds", type=float, default=20.0, help="measured window per run")
    console.add_argument("--warmup", type=float, default=3.0, help="after the first full screen")
    console.add_argument("--size", default="160x48", help="terminal COLSxROWS")
    console.add_argument("--refresh", type=float, default=2.0, help="the tui's --refresh")
    console.add_argument(
        "--before",
        type=Path,
        default=None,
        metavar="TREE",
        help="also run the fleet console from another checkout (e.g. main before a change)",
    )
    args = parser.parse_args()
    if args.command == "console":
        run_console(args)
        return

    from pg_harness import PgEngine, find_pg_bin, temporary_root

    from cctvctl.fleet.store import FleetStore

    bin_dir = find_pg_bin()
    if bin_dir is None:
        sys.exit("PostgreSQL not found under /usr/lib/postgresql/*/bin: run `make sysdeps`")
    engine = PgEngine(bin_dir, temporary_root(), durable=True).init().start()
    try:
        for nodes in args.nodes:
            dsn = engine.create_database("bench")
            names = [f"node-{n:04d}" for n in range(nodes)]
            with FleetStore.open(dsn) as setup:
                for n, name in enumerate(names):
                    setup.heartbeat(
                        name, url=f"http://{name}:8080", version="0", kecamatan=[], capacity=64
                    )
                    cameras = range(n, args.cameras, nodes)
                    setup.claim(name, [f"cam-{c:05d}" for c in cameras], TTL)
            for connections in args.connections:
                _run(dsn, names, connections, args.seconds, args.cameras, FleetStore)
    finally:
        engine.close()


def _run(
    dsn: str,
    names: list[str],
    connections: int,
    seconds: float,
    cameras: int,
    store_class: type[FleetStore],
) -> None:
    latencies: list[list[float]] = [[] for _ in range(connections)]
    renewed = [0] * connections
    stores = [store_class.open(dsn) for _ in range(connections)]
    start = threading.Barrier(connections + 1)
    deadline = 0.0

    def work(slot: int) -> None:
        store = stores[slot]
        mine = names[slot::connections] or names
        start.wait()
        i = 0
        while time.monotonic() < deadline:
            began = time.perf_counter()
            renewed[slot] += len(store.renew(mine[i % len(mine)], TTL))
            latencies[slot].append(time.perf_counter() - began)
            i += 1

    threads = [threading.Thread(target=work, args=(slot,)) for slot in range(connections)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + seconds
    began = time.monotonic()
    start.wait()
    for thread in threads:
        thread.join()
    took = time.monotonic() - began
    for store in stores:
        store.close()
    every = sorted(x for slot in latencies for x in slot)
    rate = len(every) / took
    needed = len(names) / RENEW_EVERY
    print(
        f"{len(names):5d} nodes x {cameras // len(names):4d} cameras, "
        f"{connections:2d} connections: {rate:7.0f} renewals/s, "
        f"{sum(renewed) / took:8.0f} leases/s, round trip median "
        f"{statistics.median(every) * 1000:5.2f} ms, p99 "
        f"{every[int(len(every) * 0.99)] * 1000:5.2f} ms; "
        f"the fleet needs {needed:g}/s: {rate / needed:,.0f}x headroom",
        flush=True,
    )


if __name__ == "__main__":
    main()
