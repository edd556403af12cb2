"""How soon a camera added by a reload records, and what the other cameras lose meanwhile.

Run: .venv/bin/python benchmarks/reload.py [--cameras 8] [--trials 5]

Starts the simulator and `cctvctl server` with the test harness (tests/harness.py): a site
of --cameras cameras plus one the simulator serves but the server's file leaves out, 2 s
segments, 10 fps, a GOP of 1 s. Everything is real: RTSP over loopback, PyAV, files,
SQLite; figures come from the server's API only.

Each trial writes the extra camera into the file and calls `POST /api/v1/server/reload`,
waits for its footage, then takes it out again with a second reload.

answer   How long the reload call took (add, and remove: the removal waits for the
         camera's open segment to be closed and indexed).
footage  From the add's call to the start of the new camera's first segment in the index
         (the wall time of its first packet on disk). Issue 12 wants it under 10 s.
others   Seconds missing from the other cameras' recordings (gaps the API reports) over
         the whole run, from before the first reload to after the last: 0 means no gap.

Caveats: the simulator starts a new client at its next keyframe, so up to a GOP of the
footage figure is the camera's; a real camera adds its RTSP handshake over a real link.
On a loaded machine the figures grow; run it alone. No assertions:
tests/test_server_reload.py checks the behaviour without timing it.

Measured on the 2-core development machine, shared with other engineers' test runs
(defaults, 5 trials):
  answer add median 0.14 s, remove median 0.13 s; footage median 0.85 s, max 1.54 s;
  others 0.0 s missing over 8 cameras
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _recordings(server: Any, camera: str, since: float) -> dict[str, Any]:
    resp = server.get(
        f"/api/v1/cameras/{camera}/recordings",
        params={"start": _iso(since), "end": _iso(time.time())},
    )
    resp.raise_for_status()
    answer: dict[str, Any] = resp.json()
    return answer


def _first_start(server: Any, camera: str, since: float) -> float | None:
    starts = [
        datetime.fromisoformat(s["start"]).timestamp()
        for s in _recordings(server, camera, since - 5)["segments"]
    ]
    later = [s for s in starts if s >= since]
    return min(later) if later else None


def _reload(server: Any) -> float:
    began = time.monotonic()
    with server.client("admin") as api:
        api.post("/api/v1/server/reload", timeout=60).raise_for_status()
    return time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cameras", type=int, default=8)
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "tests"))
    from harness import ServerProcess, SiteSpec, start_sim, wait_for, without_camera, write_site

    with tempfile.TemporaryDirectory(prefix="cctvctl-bench-") as tmp:
        spec = SiteSpec(cameras=args.cameras + 1, segment_seconds=2)
        site = write_site(Path(tmp), spec)
        sim = start_sim(site, Path(tmp) / "sim-cache")
        *others, extra = site.camera_ids
        full = site.config.read_text()
        short = without_camera(full, extra)
        site.config.write_text(short)
        server = ServerProcess(site)
        try:
            server.start()
            wait_for(
                lambda: all(_recordings(server, c, time.time() - 60)["segments"] for c in others),
                60,
                what="first footage",
            )
            t0 = time.time() - 1
            adds, removes, footage = [], [], []
            for n in range(args.trials):
                site.config.write_text(full)
                began = time.time()
                adds.append(_reload(server))
                first = wait_for(
                    lambda b=began: _first_start(server, extra, b),
                    60,
                    interval=0.1,
                    what="the new camera's footage",
                )
                footage.append(first - began)
                site.config.write_text(short)
                removes.append(_reload(server))
                print(
                    f"trial {n + 1}: add answered in {adds[-1]:.2f} s, footage after "
                    f"{footage[-1]:.2f} s; remove answered in {removes[-1]:.2f} s",
                    flush=True,
                )
            time.sleep(2 * spec.segment_seconds + 1)  # the segments open now close
            missing = sum(_recordings(server, c, t0)["missing_seconds"] for c in others)
            print(
                f"{args.trials} trials, {args.cameras} other cameras: answer add median "
                f"{statistics.median(adds):.2f} s, "
                f"remove median {statistics.median(removes):.2f} s; "
                f"footage median {statistics.median(footage):.2f} s, max {max(footage):.2f} s; "
                f"others {missing:.1f} s missing"
            )
        finally:
            server.stop()
            sim.stop()


if __name__ == "__main__":
    main()
