"""What `/api/v1/fleet/nodes` costs the fleet store: `FleetStore.holdings()` per request.

Run: .venv/bin/python benchmarks/fleet_holdings.py [--cameras 5000] [--nodes 200]
                                                   [--taken 0.05] [--homeless 0.5]
                                                   [--rounds 50]

Starts a PostgreSQL server from Debian's package with the test harness (tests/pg_harness.py),
publishes one inventory version of --cameras cameras over 18 kecamatan (each camera with a
home node, the nodes spread over the kecamatan, and the fields a real camera has, so the
JSONB is about the size of a real one), registers --nodes nodes, and has every camera
leased: by its home node, or for a --taken share by another node (a failover). A
--homeless share of the cameras has no `node` (homed by the nodes home to its kecamatan:
the costlier case). Then it
times --rounds calls of `holdings()` (one statement: every live lease joined with the
latest version's cameras, to tell which are taken over) and, for comparison, of what the
route read before (`nodes()` and `leases()`, then counted in Python).

Printed: the median and 99th percentile of each, the JSONB's size, and the check that the
taken-over count is the one made.

Caveats: client and server share this machine's cores; loopback has no latency. Each
console watching a fleet asks one node every health interval (a few seconds), so a
console costs the store about one such call per interval, whatever the fleet's size.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TTL = timedelta(seconds=600)
KECAMATAN = 18


def _camera(n: int, home: str | None) -> dict[str, Any]:
    return {
        "id": f"cam-{n:05d}",
        "name": f"Kantor desa {n}, pintu depan",
        "url": f"rtsp://10.{n // 250}.{n % 250}.10:554/Streaming/Channels/101",
        "username": "viewer",
        "password": None,
        "password_env": None,
        "fps": 15,
        "enabled": True,
        "onvif_port": 80,
        "node": home,
        "failover": [],
    }


def _timed(call: Callable[[], object], rounds: int) -> tuple[list[float], object]:
    times = []
    result: object = None
    for _ in range(rounds):
        began = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - began)
    return sorted(times), result


def _line(label: str, times: list[float]) -> str:
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return f"{label}: median {statistics.median(times) * 1000:6.2f} ms, p99 {p99 * 1000:6.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cameras", type=int, default=5000)
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--taken", type=float, default=0.05, help="share taken over, 0 to 1")
    parser.add_argument("--homeless", type=float, default=0.5, help="share with no node, 0 to 1")
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    if args.nodes < 2 or args.cameras < 1 or not 0 <= args.taken <= 1 or args.rounds < 1:
        parser.error("--nodes 2 or more, --cameras and --rounds 1 or more, --taken 0 to 1")

    sys.path.insert(0, str(ROOT / "tests"))
    sys.path.insert(0, str(ROOT))
    from pg_harness import PgEngine, find_pg_bin, temporary_root

    from cctvctl.fleet.store import FleetStore

    bin_dir = find_pg_bin()
    if bin_dir is None:
        sys.exit("PostgreSQL not found under /usr/lib/postgresql/*/bin: run `make sysdeps`")
    engine = PgEngine(bin_dir, temporary_root()).init().start()
    try:
        dsn = engine.create_database("bench")
        names = [f"node-{n:04d}" for n in range(args.nodes)]
        # A homeless camera is leased by the node its home would have been; with the
        # default sizes no node is home to its kecamatan, so it is nobody's stand-in and
        # the count printed stays the --taken share of the homed ones.
        home = {n: names[n % args.nodes] for n in range(args.cameras)}
        no_home = max(1, round(1 / args.homeless)) if args.homeless else 0
        parsed: dict[str, Any] = {"kecamatan": []}
        for k in range(KECAMATAN):
            cams = [
                _camera(n, None if no_home and n % no_home == 1 else home[n])
                for n in range(args.cameras)
                if n % KECAMATAN == k
            ]
            parsed["kecamatan"].append(
                {"name": f"Kecamatan {k}", "slug": None, "site": [{"name": "s", "camera": cams}]}
            )
        every = max(1, round(1 / args.taken)) if args.taken else 0
        taken = {n for n in range(args.cameras) if every and n % every == 0}
        taken -= {n for n in taken if no_home and n % no_home == 1}
        with FleetStore.open(dsn) as store:
            store.publish_inventory("# bench", parsed, author="bench")
            for name in names:
                store.heartbeat(name, url=f"http://{name}", version="0", kecamatan=[], capacity=64)
            holder: dict[str, list[str]] = {}
            for n in range(args.cameras):
                owner = home[n]
                if n in taken:  # the next node stands in
                    owner = names[(names.index(owner) + 1) % args.nodes]
                holder.setdefault(owner, []).append(f"cam-{n:05d}")
            for name, cams in holder.items():
                store.claim(name, cams, TTL)
            size = store._run(
                lambda cur: cur.execute(
                    "SELECT pg_column_size(parsed) FROM inventory_versions"
                ).fetchone()
            )
            new, holdings = _timed(store.holdings, args.rounds)
            old, _ = _timed(
                lambda: (store.nodes(), Counter(lease.node for lease in store.leases())),
                args.rounds,
            )
        assert isinstance(holdings, list)
        counted = sum(len(h.taken_over) for h in holdings)
        print(
            f"{args.cameras} cameras, {args.nodes} nodes, {len(taken)} taken over "
            f"(holdings() counts {counted}); inventory JSONB {size[0] / 1024:.0f} KiB stored"
        )
        print(_line("holdings()                 ", new))
        print(_line("nodes() + leases() (before)", old))
    finally:
        engine.close()


if __name__ == "__main__":
    main()
