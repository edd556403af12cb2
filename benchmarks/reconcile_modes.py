"""Start-up cost of setting an older version's file modes, next to plain reconciliation.

Run: .venv/bin/python benchmarks/reconcile_modes.py [--cameras 20] [--days 5] [--per-day 200]

Lays out cameras x days x per-day indexed segment files (small files: indexed with their
size, so reconciliation never opens them, as on a real restart), then times reconcile():

  older modes    files 0644 and folders 0755, as versions before file_mode wrote them:
                 the first start of this version sets each one (one chmod per file)
  already set    the same storage again: the stat reconciliation makes anyway shows the
                 modes are right, nothing is changed

and prints seconds and microseconds per file for each. Figures only; nothing is asserted.
Caveats: a warm page cache on a local disk (a cold cache or a network volume is slower for
both), and tmpfs when TMPDIR points there.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cctvctl.storage.database import Database, SegmentInfo
from cctvctl.storage.reconcile import reconcile


def lay_out(root: Path, cameras: int, days: int, per_day: int) -> int:
    index = Database(root)
    origin = datetime(2026, 1, 1, tzinfo=UTC)
    count = 0
    for cam in range(cameras):
        camera = f"cam-{cam:03d}"
        for day in range(days):
            folder = root / "kec" / camera / f"{origin + timedelta(days=day):%Y-%m-%d}"
            folder.mkdir(parents=True)
            for n in range(per_day):
                start = origin + timedelta(days=day, seconds=60 * n)
                path = folder / f"{start:%H%M%S}.mp4"
                path.write_bytes(b"\0" * 64)
                index.add_segment(
                    SegmentInfo(camera, path, start, start + timedelta(seconds=60), 64)
                )
                count += 1
    index.close()
    return count


def set_old_modes(root: Path) -> None:
    for folder, _dirs, files in os.walk(root):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(Path(folder, name), 0o644)


def timed(root: Path) -> tuple[float, int]:
    index = Database(root)
    try:
        began = time.perf_counter()
        report = reconcile(root, index)
        return time.perf_counter() - began, report.modes_set
    finally:
        index.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cameras", type=int, default=20)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--per-day", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "storage"
        files = lay_out(root, args.cameras, args.days, args.per_day)
        timed(root)  # warm the page cache and the index
        set_old_modes(root)
        old, changed = timed(root)
        again, unchanged = timed(root)
    print(f"{files} indexed segment files, {args.cameras} cameras x {args.days} days")
    print(f"older modes : {old:7.3f} s  {old / files * 1e6:6.1f} us/file  ({changed} set)")
    print(f"already set : {again:7.3f} s  {again / files * 1e6:6.1f} us/file  ({unchanged} set)")


if __name__ == "__main__":
    main()
