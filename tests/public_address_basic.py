"""Run inside a network namespace of its own (``unshare -n``): a simulator on a public-looking
address (203.0.113.5, TEST-NET-3) that exists only in that namespace, and two ingests to it.

One camera asks for Basic auth, one for Digest. Prints, as JSON, what each ingest made of
it: its last error and cause, whether it connected, and the segments it wrote. Used by
test_rtsp_auth.py; never reaches beyond the namespace's own loopback device.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cctvctl.recorder.ingest import CameraIngest, IngestSettings
from cctvctl.recorder.stats import CameraStats
from cctvctl.sim.model import SimCamera, SimSettings
from cctvctl.sim.service import SimulatorThread

ADDRESS = "203.0.113.5"
PORT = 8554


def main() -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "addr", "add", f"{ADDRESS}/32", "dev", "lo"], check=True)
    cache, storage = Path(sys.argv[1]), Path(tempfile.mkdtemp())
    cameras = [
        SimCamera(cid, cid, "K", "S", PORT, f"/{cid}", "admin", "pw-public", auth=auth)
        for cid, auth in (("cam-basic", "basic"), ("cam-digest", "digest"))
    ]
    settings = SimSettings(
        host=ADDRESS,
        control_port=8560,
        width=320,
        height=180,
        fps=10,
        loop_seconds=4,
        gop_seconds=1,
        cache_dir=cache,
    )
    sim = SimulatorThread(cameras, settings)
    sim.start()
    ingests = {}
    for cam in cameras:
        ingests[cam.id] = CameraIngest(
            cam.id,
            kecamatan_slug="k",
            url=f"rtsp://{ADDRESS}:{PORT}/{cam.id}",
            username="admin",
            password="pw-public",
            storage=storage,
            stats=CameraStats(cam.id),
            on_segment=lambda record: None,
            settings=IngestSettings(segment_seconds=2),
        )
        ingests[cam.id].start()
    time.sleep(5)
    for ingest in ingests.values():
        ingest.stop()
    for ingest in ingests.values():
        ingest.join(10)
    sim.stop()
    report = {
        cid: {
            "last_error": ingest.stats.snapshot().last_error,
            "cause": str(ingest.stats.snapshot().cause),
            "connections": ingest.connections,
            "segments": len(list(storage.glob(f"k/{cid}/*/*.mp4"))),
        }
        for cid, ingest in ingests.items()
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
