"""What a fleet node's sync thread costs: the footage catalogue's pass over a big index,
and how fast a backlog of audit rows and runs drains into the fleet store after an outage.

Run: .venv/bin/python benchmarks/fleet_sync.py [--cameras 512] [--segments 1440] [--audit 20000]

An index (real SQLite, in a temporary folder) of --cameras cameras with --segments 60 s
segments each (1440: a day), rows inserted in one transaction (the usage triggers run);
a real PostgreSQL from Debian's package with its durable settings (tests/pg_harness.py).

first    RunCatalogue.update() passes until the whole index is folded (a node joining a
         fleet with its history), and how many passes that took (5,000 segments per camera
         a pass).
steady   one pass with nothing new (what every 2 s costs a node while nothing rolls), median
         of 20; then one pass after every camera closed one more segment.
audit    FleetSync.sync_once() sending --audit queued rows (500 per INSERT), rows/s.
runs     the same pass sending one moved-on run per camera (500 per call), runs/s.

Caveats: the shared 2-core development machine, busy with other engineers' tests, so the
figures are noisy; PostgreSQL on the same cores over loopback (no link latency: a real
kecamatan link adds its round trip per batch and per run); no ingest writing meanwhile.
No assertions: tests/test_fleet_outbox.py and test_fleet_sync.py check the behaviour.

Measured on the 2-core development machine, shared with other engineers' test runs
(defaults, one run; an earlier run gave 5.2 ms for the idle pass and 38,477 audit rows/s):
  first   737,280 segments of 512 cameras folded in 0.57 s over 1 pass(es)
  steady  a pass with nothing new: median 9.8 ms; after one new segment per camera: 7.6 ms
  audit   20,000 queued rows sent in 1.05 s: 18,997 rows/s
  runs    512 moved-on runs sent in 0.02 s: 20,518 runs/s
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cctvctl.storage.database import Database

ROOT = Path(__file__).resolve().parent.parent
T0 = 1_790_000_000.0  # a fixed moment in 2026 (UTC seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cameras", type=int, default=512)
    parser.add_argument("--segments", type=int, default=1440)
    parser.add_argument("--audit", type=int, default=20_000)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "tests"))
    sys.path.insert(0, str(ROOT))
    from pg_harness import PgEngine, find_pg_bin, temporary_root

    from cctvctl.fleet.store import FleetStore
    from cctvctl.server.credentials import TokenStore
    from cctvctl.server.fleet_sync import FleetSync
    from cctvctl.storage.audit import AuditLog
    from cctvctl.storage.database import Database

    bin_dir = find_pg_bin()
    if bin_dir is None:
        sys.exit("PostgreSQL not found under /usr/lib/postgresql/*/bin: run `make sysdeps`")
    engine = PgEngine(bin_dir, temporary_root(), durable=True).init().start()
    try:
        with tempfile.TemporaryDirectory() as folder, Database(folder) as index:
            cameras = [f"cam-{n:04d}" for n in range(args.cameras)]
            _fill(index, cameras, 0, args.segments)
            store = FleetStore.open(engine.create_database("bench"))
            sync = FleetSync(store, index, TokenStore([]), node="bench-1", run_gap=120.0)

            began, passes = time.perf_counter(), 0
            while sync.catalogue.update():
                passes += 1
            took = time.perf_counter() - began
            print(
                f"first   {args.cameras * args.segments:,} segments of {args.cameras} cameras "
                f"folded in {took:.2f} s over {passes} pass(es)"
            )
            idle = []
            for _ in range(20):
                began = time.perf_counter()
                sync.catalogue.update()
                idle.append(time.perf_counter() - began)
            _fill(index, cameras, args.segments, args.segments + 1)
            began = time.perf_counter()
            sync.catalogue.update()
            moved = time.perf_counter() - began
            print(
                f"steady  a pass with nothing new: median {statistics.median(idle) * 1000:.1f} ms; "
                f"after one new segment per camera: {moved * 1000:.1f} ms"
            )

            # The first runs go out before the audit backlog is measured.
            sync.sync_once()
            log = AuditLog(index)
            for n in range(args.audit):
                log.record("noc-ani", "operator", "export.request", f"cam-{n % 512:04d}")
            began = time.perf_counter()
            sync.sync_once()
            took = time.perf_counter() - began
            rate = args.audit / took
            print(f"audit   {args.audit:,} queued rows sent in {took:.2f} s: {rate:,.0f} rows/s")

            _fill(index, cameras, args.segments + 1, args.segments + 2)
            sync.catalogue.update()
            began = time.perf_counter()
            sync.sync_once()
            took = time.perf_counter() - began
            rate = args.cameras / took
            print(f"runs    {args.cameras} moved-on runs sent in {took:.2f} s: {rate:,.0f} runs/s")
            store.close()
    finally:
        engine.close()


def _fill(index: Database, cameras: list[str], first: int, last: int) -> None:
    """Segments ``first`` to ``last - 1`` (60 s each, back to back) of every camera."""
    rows = [
        (cam, "bench", T0 + 60 * n, T0 + 60 * (n + 1), 1_000_000, f"bench/{cam}/{n:06d}.mp4")
        for cam in cameras
        for n in range(first, last)
    ]
    with index._write() as conn:
        conn.executemany(
            'INSERT INTO segments (camera, kecamatan, start, "end", bytes, path) '
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )


if __name__ == "__main__":
    main()
