"""`cctvctl export` follows its job over the event stream, and polls only when it drops.

One module site whose server logs every request (``--access-log``), so the test counts
``GET /api/v1/exports/{id}`` as the server saw them. The window ends 4 s after the
request: the server holds the job (running, 0 %) until the segment holding the window's
end has closed, so every export here runs for at least 4 s, long enough that polling
twice a second and following events differ by a wide margin.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from harness import (
    REPO,
    RunningSim,
    ServerProcess,
    Site,
    SiteSpec,
    free_port,
    start_sim,
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
    server = ServerProcess(site, args=("--access-log",))
    try:
        server.start()
        camera = site.camera_ids[0]
        wait_for(
            lambda: server.get(f"/api/v1/cameras/{camera}/recordings").json()["segments"],
            40,
            what="a first segment",
        )
        yield server
    finally:
        try:
            server.stop()
        finally:
            sim.stop()


def export(server: ServerProcess, out: Path, url: str | None = None) -> tuple[str, float]:
    """Runs ``cctvctl export --json`` to ``out``; returns the job id and the seconds it took."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CCTVCTL_") and k not in ("NO_COLOR", "FORCE_COLOR")
    }
    env |= {
        "CCTVCTL_CONFIG": "/nonexistent/cctvctl-test-config.toml",
        "CCTVCTL_URL": url or server.url,
        "CCTVCTL_TOKEN": server.site.tokens["operator"],
    }
    camera = server.site.camera_ids[0]
    began = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "cctvctl", "export", camera, "--from", FROM, "--to", TO,
         "-o", str(out), "--json"],
        capture_output=True, text=True, env=env, cwd=REPO, stdin=subprocess.DEVNULL,
        timeout=90,
    )  # fmt: skip
    took = time.monotonic() - began
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 0
    result = json.loads(proc.stdout)
    assert result["job"]["state"] == "done"
    return str(result["job"]["id"]), took


def polls(server: ServerProcess, job: str) -> int:
    """How many times the server answered ``GET /api/v1/exports/{job}`` (the job itself,
    not its manifest or file)."""
    return len(re.findall(rf'"GET /api/v1/exports/{re.escape(job)} HTTP/', server.log_text()))


@contextmanager
def stream_cutting_proxy(upstream_port: int) -> Iterator[tuple[str, list[int]]]:
    """A TCP proxy to the server that hangs up on every ``/api/v1/events`` request and
    passes everything else: an event stream that a middlebox keeps cutting, no mocks.
    Yields its URL and a one-item list counting the streams it cut."""
    listener = socket.create_server(("127.0.0.1", free_port()))
    cut = [0]

    def pipe(src: socket.socket, dst: socket.socket) -> None:
        with suppress(OSError):
            while data := src.recv(16384):
                dst.sendall(data)
        for sock in (src, dst):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle(client: socket.socket) -> None:
        with suppress(OSError):
            first = client.recv(16384)
            if first.startswith(b"GET /api/v1/events"):
                cut[0] += 1
                client.close()
                return
            server = socket.create_connection(("127.0.0.1", upstream_port))
            server.sendall(first)
            threading.Thread(target=pipe, args=(server, client), daemon=True).start()
            pipe(client, server)

    def serve() -> None:
        with suppress(OSError):
            while True:
                client, _ = listener.accept()
                threading.Thread(target=handle, args=(client,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", cut
    finally:
        with suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        listener.close()


def test_export_follows_its_job_over_the_event_stream(rig: ServerProcess, tmp_path: Path) -> None:
    job, took = export(rig, tmp_path / "clip.mp4")
    assert took >= HELD_FOR  # so polling twice a second would have asked 8 times or more
    # The final state, for the size and SHA-256; at most one safety look besides.
    assert 1 <= polls(rig, job) <= 2, rig.log_text()[-3000:]


def test_export_still_finishes_by_polling_when_the_stream_is_cut(
    rig: ServerProcess, tmp_path: Path
) -> None:
    with stream_cutting_proxy(rig.port) as (url, cut):
        job, took = export(rig, tmp_path / "clip.mp4", url=url)
    assert took >= HELD_FOR
    assert cut[0] >= 1  # the stream was tried, and cut
    # Polling every 0.5 s took over within a second or so of the cut.
    assert polls(rig, job) >= 4, rig.log_text()[-3000:]
