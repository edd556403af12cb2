"""`cctvctl export` and `cctvctl exports ...` as an operator runs them.

Every test runs ``python -m cctvctl ...`` as a subprocess against the real simulator and
server of one module site (one camera, 3 s segments). One export of a 12 s window is made
through the CLI (:func:`exported`) and checked from several sides; the resume tests fetch
that same job again into fresh files.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from harness import REPO, Live, SiteSpec, free_port, live_site, wait_for

from cctvctl.cli.export_cmd import resolve_to
from cctvctl.models import ExportJob, ExportManifest
from cctvctl.timeparse import WITA

SPEC = SiteSpec(cameras=1, kecamatan=("Sangatta Utara",), segment_seconds=3)
CASE = "LP/123/XI/2026"
WINDOW = 12  # seconds


def run_cli(
    *args: str,
    live: Live | None = None,
    role: str = "operator",
    cwd: Path | None = None,
    url: str | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CCTVCTL_") and k not in ("NO_COLOR", "FORCE_COLOR")
    }
    env["CCTVCTL_CONFIG"] = "/nonexistent/cctvctl-test-config.toml"
    env["COLUMNS"] = "120"
    if live is not None:
        env["CCTVCTL_URL"] = url or live.server.url
        env["CCTVCTL_TOKEN"] = live.site.tokens[role]
    return subprocess.run(
        [sys.executable, "-m", "cctvctl", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd or REPO,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


def last_error(proc: subprocess.CompletedProcess[str]) -> str:
    lines = proc.stderr.strip().splitlines()
    assert lines, "expected an error line on stderr"
    assert lines[-1].startswith("cctvctl: error: "), proc.stderr
    return lines[-1]


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, sim_cache: Path) -> Iterator[Live]:
    with live_site(tmp_path_factory.mktemp("cli-export"), sim_cache, SPEC) as running:
        yield running


@dataclass
class Exported:
    proc: subprocess.CompletedProcess[str]
    clip: Path
    start: datetime
    end: datetime

    @property
    def manifest(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(
            self.clip.with_name(self.clip.name + ".manifest.json").read_text("utf-8")
        )
        return data


@pytest.fixture(scope="module")
def exported(live: Live, tmp_path_factory: pytest.TempPathFactory) -> Exported:
    """One 12 s window exported by the CLI once the footage for it is on disk."""
    camera = live.site.camera_ids[0]

    def segments() -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = live.server.get(f"/api/v1/cameras/{camera}/recordings").json()[
            "segments"
        ]
        return rows

    first = wait_for(lambda: segments() or None, 30, what="a first segment")
    # Whole seconds, typed as a person would: WITA date and clock, then "+12s".
    start = datetime.fromtimestamp(math.ceil(_ts(first[0]["start"])) + 1, UTC)
    end = start + timedelta(seconds=WINDOW)
    wait_for(
        lambda: _ts(segments()[-1]["end"]) >= end.timestamp() + 0.5,
        40,
        what="footage to the end of the window",
    )
    folder = tmp_path_factory.mktemp("clips")
    clip = folder / "clip.mp4"
    proc = run_cli(
        "export",
        camera,
        "--from",
        start.astimezone(WITA).strftime("%Y-%m-%d %H:%M:%S"),
        "--to",
        f"+{WINDOW}s",
        "--case",
        CASE,
        "--note",
        "pencurian motor",
        "-o",
        str(clip),
        live=live,
    )
    return Exported(proc, clip, start, end)


# --------------------------------------------------------------------------- export


def test_export_saves_a_verified_clip_and_its_manifest(exported: Exported) -> None:
    proc = exported.proc
    assert proc.returncode == 0, proc.stderr
    clip = exported.clip
    data = clip.read_bytes()
    manifest = ExportManifest.model_validate(exported.manifest)
    digest = hashlib.sha256(data).hexdigest()
    assert digest == manifest.sha256 and len(data) == manifest.size
    sha256sum = subprocess.run(
        ["sha256sum", str(clip)], capture_output=True, text=True, check=True
    ).stdout.split()[0]
    assert sha256sum == manifest.sha256
    assert not clip.with_name("clip.mp4.part").exists()
    # The window the person typed in WITA is the one the server exported.
    assert manifest.requested_start == exported.start
    assert manifest.requested_end == exported.end
    assert manifest.case_id == CASE and manifest.requester == "test-operator"
    # What it prints: the path, size, SHA-256, manifest and the gaps verdict.
    out = proc.stdout
    assert str(clip) in out and f"{len(data)} bytes" in out
    assert digest in out and "clip.mp4.manifest.json" in out
    assert ("gaps      none" in out) == (not manifest.gaps)
    assert "\x1b[" not in out  # a pipe gets plain text
    # Progress in a pipe is a few plain lines on stderr, not a bar redrawn per block.
    assert "export " in proc.stderr and len(proc.stderr.splitlines()) < 20


def test_an_export_ending_now_says_what_it_waits_for(live: Live, tmp_path: Path) -> None:
    camera = live.site.camera_ids[0]
    wait_for(
        lambda: live.server.get(f"/api/v1/cameras/{camera}/recordings").json()["segments"],
        30,
        what="a first segment",
    )
    clip = tmp_path / "now.mp4"
    proc = run_cli(
        "export", camera, "--from", "-4s", "--to", "now", "--case", CASE, "-o", str(clip),
        live=live,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    # Not "running 0 %" with no reason: which segment, its bound, and when, in WITA.
    said = re.search(
        r"waiting for the segment that holds (\d\d:\d\d(:\d\d)?) to close "
        r"\(≤ 3 s\), ETA (\d\d:\d\d:\d\d) WITA",
        proc.stderr,
    )
    assert said is not None, proc.stderr
    manifest = json.loads(clip.with_name(clip.name + ".manifest.json").read_text("utf-8"))
    holds = datetime.fromisoformat(manifest["requested_end"].replace("Z", "+00:00"))
    local = holds.astimezone(WITA)
    assert said.group(1) == local.strftime("%H:%M:%S" if local.second else "%H:%M")


def test_existing_output_is_not_overwritten_without_force(live: Live, tmp_path: Path) -> None:
    clip = tmp_path / "taken.mp4"
    clip.write_bytes(b"somebody's evidence")
    camera = live.site.camera_ids[0]
    args = ("export", camera, "--from", "-2m", "--to", "+10s", "-o", str(clip))
    proc = run_cli(*args, live=live)
    assert proc.returncode == 2
    assert "--force" in last_error(proc)
    assert clip.read_bytes() == b"somebody's evidence"


def test_no_wait_prints_an_id_that_exports_show_finds(live: Live, exported: Exported) -> None:
    camera = live.site.camera_ids[0]
    frm = exported.start.isoformat()
    proc = run_cli("export", camera, "--from", frm, "--to", "+5s", "--no-wait", live=live)
    assert proc.returncode == 0, proc.stderr
    job_id = proc.stdout.strip()
    assert job_id and "\n" not in job_id
    shown = run_cli("exports", "show", job_id, "--json", live=live)
    assert shown.returncode == 0, shown.stderr
    job = ExportJob.model_validate_json(shown.stdout)
    assert job.id == job_id and job.camera == camera
    assert job.start == exported.start
    listed = run_cli("exports", "ls", "--json", live=live)
    assert job_id in [j["id"] for j in json.loads(listed.stdout)]
    human = run_cli("exports", "ls", "--camera", camera, live=live)
    assert human.returncode == 0 and job_id in human.stdout and "STATE" in human.stdout


def _job_id(exported: Exported) -> str:
    job: str = exported.manifest["job"]
    return job


def test_download_resumes_a_half_part_to_an_identical_file(
    live: Live, exported: Exported, tmp_path: Path
) -> None:
    real = exported.clip.read_bytes()
    half = len(real) // 2
    target = tmp_path / "again.mp4"
    (tmp_path / "again.mp4.part").write_bytes(real[:half])
    proc = run_cli("exports", "download", _job_id(exported), "-o", str(target), "--json", live=live)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["resumed_from"] == half  # it asked for the rest, not the whole file
    assert result["verified"] is True and result["sha256"] == exported.manifest["sha256"]
    assert target.read_bytes() == real
    assert not (tmp_path / "again.mp4.part").exists()
    assert json.loads((tmp_path / "again.mp4.manifest.json").read_text()) == exported.manifest


@contextmanager
def flaky_proxy(upstream_port: int, cut_after: int, cuts: int) -> Iterator[str]:
    """A TCP proxy to the server that drops the first ``cuts`` connections that carry
    more than ``cut_after`` bytes towards the client: a poor link, without mocking."""
    listener = socket.create_server(("127.0.0.1", free_port()))
    left = [cuts]
    lock = threading.Lock()

    def pipe(src: socket.socket, dst: socket.socket, counting: bool) -> None:
        sent = 0
        with suppress(OSError):
            while data := src.recv(16384):
                if counting and sent + len(data) > cut_after:
                    with lock:
                        cut = left[0] > 0
                        left[0] -= cut
                    if cut:
                        dst.sendall(data[: cut_after - sent])
                        break
                dst.sendall(data)
                sent += len(data)
        for sock in (src, dst):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def serve() -> None:
        with suppress(OSError):
            while True:
                client, _ = listener.accept()
                server = socket.create_connection(("127.0.0.1", upstream_port))
                threading.Thread(target=pipe, args=(client, server, False), daemon=True).start()
                threading.Thread(target=pipe, args=(server, client, True), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        with suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        listener.close()


def test_a_dropped_connection_is_resumed_with_range(
    live: Live, exported: Exported, tmp_path: Path
) -> None:
    real = exported.clip.read_bytes()
    target = tmp_path / "flaky.mp4"
    port = int(live.server.url.rsplit(":", 1)[1])
    with flaky_proxy(port, cut_after=len(real) // 3, cuts=2) as url:
        proc = run_cli(
            "exports", "download", _job_id(exported), "-o", str(target), live=live, url=url
        )
    assert proc.returncode == 0, proc.stderr
    assert target.read_bytes() == real
    assert proc.stderr.count("connection lost at byte") == 2, proc.stderr


def test_corrupted_part_fails_the_sha256_check_and_is_kept(
    live: Live, exported: Exported, tmp_path: Path
) -> None:
    real = exported.clip.read_bytes()
    half = len(real) // 2
    bad = bytearray(real[:half])
    bad[half // 2] ^= 0xFF
    target = tmp_path / "bad.mp4"
    part = tmp_path / "bad.mp4.part"
    part.write_bytes(bytes(bad))
    proc = run_cli("exports", "download", _job_id(exported), "-o", str(target), live=live)
    assert proc.returncode == 1
    line = last_error(proc)
    assert "SHA-256" in line and "does not match the manifest" in line and ".part" in line
    assert not target.exists()
    assert not (tmp_path / "bad.mp4.manifest.json").exists()
    kept = part.read_bytes()
    assert len(kept) == len(real) and kept[half:] == real[half:]  # completed, then refused


def test_viewer_is_refused_with_exit_4(live: Live, exported: Exported, tmp_path: Path) -> None:
    camera = live.site.camera_ids[0]
    proc = run_cli(
        "export",
        camera,
        "--from",
        exported.start.isoformat(),
        "--to",
        "+5s",
        "-o",
        str(tmp_path / "no.mp4"),
        live=live,
        role="viewer",
    )
    assert proc.returncode == 4
    assert "forbidden" in last_error(proc) and "operator" in last_error(proc)
    assert not (tmp_path / "no.mp4").exists()


def test_cancel_a_job(live: Live, exported: Exported) -> None:
    camera = live.site.camera_ids[0]
    made = run_cli(
        "export", camera, "--from", exported.start.isoformat(), "--to", "+3s", "--no-wait",
        "--json", live=live,
    )  # fmt: skip
    job = ExportJob.model_validate_json(made.stdout)
    proc = run_cli("exports", "cancel", job.id, "--json", live=live)
    assert proc.returncode == 0, proc.stderr
    after = ExportJob.model_validate_json(proc.stdout)
    assert after.id == job.id and after.state.value in ("cancelled", "deleted")
    shown = run_cli("exports", "show", job.id, live=live)
    assert f"state     {after.state.value}" in shown.stdout
    missing = run_cli("exports", "show", "no-such-job", live=live)
    assert missing.returncode == 2 and "no-such-job" in last_error(missing)


# --------------------------------------------------------------------------- --to


NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)  # 16:00 WITA
FROM = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)  # 14:00 WITA, the day before


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("14:15", datetime(2026, 11, 27, 6, 15, tzinfo=UTC)),  # same day as --from
        ("+15m", datetime(2026, 11, 27, 6, 15, tzinfo=UTC)),
        ("+1h30m", datetime(2026, 11, 27, 7, 30, tzinfo=UTC)),
        ("2026-11-27 14:20", datetime(2026, 11, 27, 6, 20, tzinfo=UTC)),
        ("-5m", datetime(2026, 11, 28, 7, 55, tzinfo=UTC)),  # relative to now, as --from
    ],
)
def test_to_is_read_against_from(text: str, expected: datetime) -> None:
    assert resolve_to(text, FROM, NOW) == expected


def test_to_before_from_exits_2_with_a_hint() -> None:
    proc = run_cli(
        "export", "cam", "--from", "2026-11-27 23:50", "--to", "00:10", "--url", "http://x"
    )
    assert proc.returncode == 2
    assert "--to '2026-11-28 00:10'" in last_error(proc)
    bad = run_cli("export", "cam", "--from", "soon", "--to", "+1m", "--url", "http://x")
    assert bad.returncode == 2 and "--from" in last_error(bad)


def test_help_has_an_example() -> None:
    for args in (["export"], ["exports", "ls"], ["exports", "download"]):
        proc = run_cli(*args, "--help")
        assert proc.returncode == 0
        assert f"Example: cctvctl {' '.join(args)}" in proc.stdout
        assert "--json" in proc.stdout


def test_a_window_without_footage_is_refused_in_wita_with_where_footage_starts(
    live: Live, exported: Exported, tmp_path: Path
) -> None:
    camera = live.site.camera_ids[0]
    first = live.server.get(f"/api/v1/cameras/{camera}/recordings").json()["segments"][0]
    starts = datetime.fromisoformat(first["start"].replace("Z", "+00:00"))
    # Ten minutes before the site existed: no footage, and the footage's start is known.
    before = starts - timedelta(minutes=10)
    typed = before.astimezone(WITA).strftime("%Y-%m-%d %H:%M:%S")
    args = ["export", camera, "--from", typed]
    args += ["--to", "+30s", "--case", CASE, "-o", str(tmp_path / "none.mp4")]
    proc = run_cli(*args, live=live)
    assert proc.returncode == 2, proc.stderr
    line = last_error(proc)
    wita = starts.astimezone(WITA).strftime("%Y-%m-%d %H:%M:%S WITA")
    assert f"footage for this camera starts at {wita}" in line, line
    assert before.astimezone(WITA).strftime("%H:%M:%S WITA") in line, line
    # No UTC instant and no API route in what a person reads.
    assert "Z " not in line and "Z;" not in line and "/api/" not in line, line
    assert not (tmp_path / "none.mp4").exists()

    utc = run_cli(*args, "--utc", live=live)
    utc_line = last_error(utc)
    assert starts.strftime("%Y-%m-%d %H:%M:%S UTC") in utc_line, utc_line
