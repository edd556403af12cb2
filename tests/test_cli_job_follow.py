"""`cctvctl export` follows its job over the event stream, and polls only when it drops.

One module site whose server logs every request (``--access-log``), so the test counts
``GET /api/v1/exports/{id}`` as the server saw them. The window ends 4 s after the
request: the server holds the job (running, 0 %) until the segment holding the window's
end has closed, so every export here runs for at least 4 s, long enough that polling
twice a second and following events differ by a wide margin.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_process import node_env, run_cctvctl
from harness import (
    RunningSim,
    ServerProcess,
    Site,
    SiteSpec,
    serving,
    start_sim,
    stream_cutting_proxy,
    wait_for,
    write_site,
)

SPEC = SiteSpec(cameras=1, kecamatan=("Sangatta Utara",), segment_seconds=4)
#: --from a little in the past, --to 4 s in the future (the server allows 5 s of skew).
FROM, TO = "-6s", "+10s"
HELD_FOR = 4.0  # seconds the server holds every job here, at the least


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory, sim_cache: Path) -> Iterator[ServerProcess]:
    site: Site = write_site(tmp_path_factory.mktemp("job-follow"), SPEC)
    sim: RunningSim = start_sim(site, sim_cache)
    with serving(site, sim, args=("--access-log",)) as live:
        server = live.server
        camera = site.camera_ids[0]
        wait_for(
            lambda: server.get(f"/api/v1/cameras/{camera}/recordings").json()["segments"],
            40,
            what="a first segment",
        )
        yield server


def export(server: ServerProcess, out: Path, url: str | None = None) -> tuple[str, float]:
    """Runs ``cctvctl export --json`` to ``out``; returns the job id and the seconds it took."""
    env = node_env(url or server.url, server.site.tokens["operator"], columns=None)
    camera = server.site.camera_ids[0]
    began = time.monotonic()
    proc = run_cctvctl(
        "export", camera, "--from", FROM, "--to", TO, "-o", str(out), "--json",
        env=env, stdin=subprocess.DEVNULL, timeout=90,
    )  # fmt: skip
    took = time.monotonic() - began
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 0
    result = json.loads(proc.stdout)
    assert result["job"]["state"] == "done"
    return str(result["job"]["id"]), took


def test_export_follows_its_job_over_the_event_stream(rig: ServerProcess, tmp_path: Path) -> None:
    job, took = export(rig, tmp_path / "clip.mp4")
    assert took >= HELD_FOR  # so polling twice a second would have asked 8 times or more
    # The final state, for the size and SHA-256; at most one safety look besides.
    assert 1 <= rig.requests(f"GET /api/v1/exports/{job}") <= 2, rig.log_text()[-3000:]


def test_export_still_finishes_by_polling_when_the_stream_is_cut(
    rig: ServerProcess, tmp_path: Path
) -> None:
    with stream_cutting_proxy(rig.port) as (url, cut):
        job, took = export(rig, tmp_path / "clip.mp4", url=url)
    assert took >= HELD_FOR
    assert cut[0] >= 1  # the stream was tried, and cut
    # Polling every 0.5 s took over within a second or so of the cut.
    assert rig.requests(f"GET /api/v1/exports/{job}") >= 4, rig.log_text()[-3000:]
