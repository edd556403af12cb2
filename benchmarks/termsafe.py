"""Cost of making server text terminal-safe before the CLI or TUI shows it.

Run: .venv/bin/python benchmarks/termsafe.py [--rows 10000] [--runs 5]

`cctvctl audit --limit 10000` passes its rows through ``termsafe.for_terminal`` before
the table is built. This times that call on N audit rows, all clean (the usual case: the
rows come back as they are, no copy) and with every tenth row carrying an escape sequence
in its case id (those rows are copied). Median of --runs, in-process, on whatever else
the machine is doing; rich's table layout of the same rows costs far more than either.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

from cctvctl.models import AuditEntry
from cctvctl.termsafe import for_terminal


def rows(n: int, hostile_every: int | None) -> list[AuditEntry]:
    now = datetime.now(UTC)
    return [
        AuditEntry(
            id=i,
            time=now,
            actor="admin-budi",
            role="admin",
            action="export.request",
            target="sgu-camat-01",
            reason="permintaan Polres",
            case_id=(
                "LP/1\x1b[2J" if hostile_every and i % hostile_every == 0 else "LP/123/XI/2026"
            ),
            result="ok",
            detail="job 3f2a9c0d",
        )
        for i in range(n)
    ]


def median_ms(data: list[AuditEntry], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for_terminal(data)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    clean = median_ms(rows(args.rows, None), args.runs)
    dirty = median_ms(rows(args.rows, 10), args.runs)
    print(f"for_terminal, {args.rows} audit rows, median of {args.runs}:")
    print(f"  all clean            {clean:7.1f} ms")
    print(f"  1 in 10 with ESC     {dirty:7.1f} ms")


if __name__ == "__main__":
    main()
