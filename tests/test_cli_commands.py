"""The client commands (status, cameras, health, gaps, snapshot) as an operator runs them.

Each test runs ``python -m cctvctl ...`` as a subprocess against the real simulator and
the real server of the module's ``live`` site, with the server chosen by ``CCTVCTL_URL`` /
``CCTVCTL_TOKEN`` or by a contexts file in ``tmp_path``. JSON is validated with the API's
own models; every exit code is reached by a real situation.

One camera is taken offline once for the whole module (:func:`outage`): the commands'
views of it during the outage are captured, and the footage gap it left is checked after.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cli_process import NO_CONFIG, STYLE_VARS, clean_env, run_cctvctl
from harness import Live, wait_for
from pydantic import TypeAdapter

from cctvctl.cli import exit_codes
from cctvctl.cli.cameras_cmd import StatusChoice
from cctvctl.cli.common import missing_text
from cctvctl.cli.output import console, no_color_env
from cctvctl.cli.snapshot_cmd import wrap_caption
from cctvctl.cli.status_cmd import StatusReport, node_label, problem_lines
from cctvctl.models import Camera, CameraStatus, Gap, Health, KecamatanSummary, Volume
from cctvctl.render import DEFAULT_RAMP
from cctvctl.sim.scene import scene_colour

ANSI = re.compile(r"\x1b\[")
WITA_OFFSET = timedelta(hours=8)
CAMERAS = TypeAdapter(list[Camera])


# --------------------------------------------------------------------------- running it


def cli(
    *args: str,
    live: Live | None = None,
    token: str | None = None,
    env: Mapping[str, str] | None = None,
    columns: int | None = 100,
) -> subprocess.CompletedProcess[str]:
    """``python -m cctvctl *args`` with a clean environment, stdout and stderr captured.

    ``columns=None`` leaves COLUMNS unset: a pipe as cron or ``| grep`` sees it."""
    base = clean_env(drop=(*STYLE_VARS, "COLORTERM", "COLUMNS", "LINES"))
    if columns is not None:
        base["COLUMNS"] = str(columns)
    base["CCTVCTL_CONFIG"] = NO_CONFIG
    if live is not None:
        base["CCTVCTL_URL"] = live.server.url
        base["CCTVCTL_TOKEN"] = token if token is not None else live.site.tokens["viewer"]
    base.update(env or {})
    return run_cctvctl(*args, env=base)


def ok_json(proc: subprocess.CompletedProcess[str]) -> Any:
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return json.loads(proc.stdout)


def one_error_line(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("cctvctl: error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]


# --------------------------------------------------------------------------- fixtures


def api_camera(live: Live, camera: str) -> Camera:
    return Camera.model_validate(live.server.get(f"/api/v1/cameras/{camera}").json())


@dataclass
class Outage:
    camera: str
    began: datetime  # the fault was set
    back: datetime  # the camera was online again (its status_since)
    status_human: subprocess.CompletedProcess[str]
    status_json: subprocess.CompletedProcess[str]
    status_fail_offline: subprocess.CompletedProcess[str]
    cameras_offline: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def outage(ready: Live) -> Outage:
    """Camera 0 offline for a few seconds; the CLI's view is captured while it lasts."""
    cam = ready.site.camera_ids[0]
    spec = ready.site.spec
    # A camera is not 'online' until the recorder's monitor has seen its packets; fault it
    # only then, or the 'offline' below could be the start-up state rather than the outage.
    wait_for(
        lambda: api_camera(ready, cam).status is CameraStatus.ONLINE,
        spec.offline_after + 10,
        what=f"{cam} online before the outage",
    )
    ready.sim.fault(cam, "offline")
    began = datetime.now(UTC)
    wait_for(
        lambda: api_camera(ready, cam).status is CameraStatus.OFFLINE,
        spec.offline_after + 8,
        interval=0.1,
        what=f"{cam} offline",
    )
    status_human = cli("status", live=ready, columns=60)
    status_json = cli("status", "--json", live=ready)
    status_fail = cli("status", "--fail-on", "offline", live=ready)
    cameras_offline = cli("cameras", "--status", "offline", "--json", live=ready)
    # Taken before the call: the camera may be back before the fault-control call returns.
    recovered = datetime.now(UTC)
    ready.sim.fault(cam, "recover")

    def back_online() -> datetime | None:
        now = api_camera(ready, cam)
        since = now.status_since
        if now.status is CameraStatus.ONLINE and since is not None and since > recovered:
            return since
        return None

    # The recorder's reconnect back-off may have grown to 16 s (+ jitter) while the camera
    # refused connections, so allow for one full back-off step before it tries again.
    back = wait_for(back_online, 45, interval=0.1, what=f"{cam} back online")
    return Outage(cam, began, back, status_human, status_json, status_fail, cameras_offline)


@pytest.fixture
def two_contexts(ready: Live, stopped: str, tmp_path: Path) -> dict[str, str]:
    """A contexts file with the live node and a node that is down; returns the env."""
    path = tmp_path / "config.toml"
    token = ready.site.tokens["viewer"]
    path.write_text(
        'current = "live"\n\n'
        f'[contexts."live"]\nurl = "{ready.server.url}"\ntoken = "{token}"\n\n'
        f'[contexts."down"]\nurl = "{stopped}"\ntoken = "whatever"\n',
        encoding="utf-8",
    )
    path.chmod(0o600)
    return {"CCTVCTL_CONFIG": str(path)}


# --------------------------------------------------------------------------- status


def test_status_fits_60_columns_and_names_the_worst(ready: Live, outage: Outage) -> None:
    proc = outage.status_human
    assert proc.returncode == exit_codes.OK, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= 60, proc.stdout
    assert not ANSI.search(proc.stdout)
    # The worst problem comes first: the offline camera, by id.
    assert lines[1].startswith("OFFLINE") and outage.camera in lines[1], proc.stdout
    assert any(line.startswith("FULL IN") for line in lines[:5])
    body = "\n".join(lines)
    for name in ready.site.kecamatan.values():
        assert name in body
    # Its kecamatan has one camera down: "online/enabled" shows it.
    slug = ready.site.camera_kecamatan[outage.camera]
    enabled = len(ready.site.cameras_in(slug))
    row = next(line for line in lines if line.startswith(ready.site.kecamatan[slug]))
    assert f"{enabled - 1}/{enabled}" in row, row
    # A node given by --url is named whole, its port included, within the 60 columns.
    assert ready.server.url.removeprefix("http://") in lines[0], lines[0]


def test_status_names_a_url_node_whole_within_its_room() -> None:
    assert node_label("http://127.0.0.1:48543", 21) == "127.0.0.1:48543"
    assert node_label("http://127.0.0.1:48543", 22) == "http://127.0.0.1:48543"
    assert node_label("https://rec-1.kutim:8470", 5) == "https://rec-1.kutim:8470"
    assert node_label("sangatta", 5) == "sangatta"


def _report_missing(minutes: float) -> StatusReport:
    kec = KecamatanSummary(
        slug="a", name="Alpha", cameras_total=1, online=1, degraded=0, offline=0, disabled=0,
        inbound_kbps=1.0, bytes_stored=0, quota_bytes=None, write_bps=0.0, days_to_full=None,
        missing_minutes_24h=minutes, worst_rtt_ms=None,
    )  # fmt: skip
    return StatusReport(
        generated=datetime.now(UTC), server_version="x", cameras_total=1, online=1,
        degraded=0, offline=0, disabled=0, kecamatan=[kec], volumes=[], not_online=[],
    )  # fmt: skip


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 min"), (0.2, "1 s"), (14, "14 s"), (59, "59 s"), (60, "1 min"), (180, "3 min")],
)
def test_missing_text_never_rounds_a_short_gap_away(seconds: float, text: str) -> None:
    assert missing_text(seconds) == text


def test_status_names_a_gap_under_half_a_minute() -> None:
    # 14 s used to round to 0 min and read "no footage missing in 24 h".
    [missing] = [t for label, t, _ in problem_lines(_report_missing(14 / 60)) if label == "MISSING"]
    assert missing == "Alpha: 14 s in 24 h"
    [missing] = [t for label, t, _ in problem_lines(_report_missing(3)) if label == "MISSING"]
    assert missing == "Alpha: 3 min in 24 h"
    [missing] = [t for label, t, _ in problem_lines(_report_missing(0)) if label == "MISSING"]
    assert missing == "no footage missing in 24 h"


def test_status_json_is_made_of_api_models(ready: Live, outage: Outage) -> None:
    report = ok_json(outage.status_json)
    kec = TypeAdapter(list[KecamatanSummary]).validate_python(report["kecamatan"])
    TypeAdapter(list[Volume]).validate_python(report["volumes"])
    not_online = CAMERAS.validate_python(report["not_online"])
    assert {k.slug for k in kec} == set(ready.site.kecamatan)
    assert kec[0].slug == ready.site.camera_kecamatan[outage.camera]  # worst first
    assert [c.id for c in not_online if c.status is CameraStatus.OFFLINE] == [outage.camera]
    assert report["cameras_total"] == len(ready.site.camera_ids)
    assert report["offline"] == 1
    assert report["online"] + report["degraded"] + report["offline"] == report["cameras_total"]


def test_status_fail_on_offline_exits_1_only_when_one_is(ready: Live, outage: Outage) -> None:
    assert outage.status_fail_offline.returncode == exit_codes.FAILURE
    assert outage.camera in outage.status_fail_offline.stdout
    # After the outage everything is online again, so the same check passes.
    proc = cli("status", "--fail-on", "offline", live=ready)
    assert proc.returncode == exit_codes.OK, proc.stdout + proc.stderr


# --------------------------------------------------------------------------- cameras


def test_cameras_json_and_filters(ready: Live, outage: Outage) -> None:
    everything = CAMERAS.validate_python(ok_json(cli("cameras", "--json", live=ready)))
    assert [c.id for c in everything] == ready.site.camera_ids
    slug = ready.site.camera_kecamatan[ready.site.camera_ids[1]]
    by_name = ready.site.kecamatan[slug]
    only = CAMERAS.validate_python(ok_json(cli("cameras", "-k", by_name, "--json", live=ready)))
    assert {c.id for c in only} == set(ready.site.cameras_in(slug))
    by_id = ok_json(cli("cameras", "--sort", "id", "--json", live=ready))
    assert [c["id"] for c in by_id] == sorted(ready.site.camera_ids)
    assert ok_json(cli("cameras", "--status", "disabled", "--json", live=ready)) == []
    during = CAMERAS.validate_python(ok_json(outage.cameras_offline))
    assert [c.id for c in during] == [outage.camera]


def test_cameras_human_table(ready: Live) -> None:
    proc = cli("cameras", "--sort", "kbps", live=ready)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:3] == ["CAMERA", "KECAMATAN", "STATUS"]
    assert "LAST SEEN (WITA)" in lines[0]
    assert {line.split()[0] for line in lines[1:]} == set(ready.site.camera_ids)
    assert "LAST SEEN (UTC)" in cli("cameras", "--utc", live=ready).stdout
    bad = cli("cameras", "--status", "sleeping", live=ready)
    assert bad.returncode == exit_codes.USAGE


def test_cameras_at_60_columns_shows_every_full_camera_id(ready: Live) -> None:
    proc = cli("cameras", live=ready, columns=60)
    assert proc.returncode == 0, proc.stderr
    assert "\u2026" not in proc.stdout, proc.stdout
    firsts = {line.split()[0] for line in proc.stdout.splitlines()[1:] if line.strip()}
    assert set(ready.site.camera_ids) <= firsts, proc.stdout


def test_health_in_a_pipe_cuts_nothing(ready: Live) -> None:
    # No COLUMNS and not a terminal: rich alone would lay it out in 80 columns and cut.
    proc = cli("health", live=ready, columns=None)
    assert proc.returncode == 0, proc.stderr
    assert "\u2026" not in proc.stdout, proc.stdout
    head = next(line for line in proc.stdout.splitlines() if line.startswith("KECAMATAN"))
    assert {"WRITE", "MISS"} <= set(head.split()), head


def test_status_choices_match_the_api() -> None:
    assert [s.value for s in StatusChoice] == [s.value for s in CameraStatus]


# --------------------------------------------------------------------------- health


def test_health_json_and_human(ready: Live) -> None:
    health = Health.model_validate(ok_json(cli("health", "--json", live=ready)))
    assert {k.slug for k in health.kecamatan} == set(ready.site.kecamatan)
    slug, name = next(iter(ready.site.kecamatan.items()))
    cut = Health.model_validate(ok_json(cli("health", "-k", slug, "--json", live=ready)))
    assert [k.slug for k in cut.kecamatan] == [slug]
    proc = cli("health", "--kecamatan", name, live=ready, columns=120)
    assert proc.returncode == 0, proc.stderr
    assert f"host {health.host.hostname}" in proc.stdout
    assert health.volumes[0].path in proc.stdout
    rows = [
        line
        for line in proc.stdout.splitlines()
        if line.startswith(tuple(ready.site.kecamatan.values()))
    ]
    assert [r.split("  ")[0] for r in rows] == [name]
    unknown = cli("health", "-k", "atlantis", live=ready)
    assert unknown.returncode == exit_codes.USAGE
    one_error_line(unknown, "atlantis", slug)


# --------------------------------------------------------------------------- gaps


def _gap_of(ready: Live, outage: Outage) -> Gap:
    since = (outage.began - timedelta(minutes=2)).isoformat()
    data = ok_json(cli("gaps", "--since", since, "--camera", outage.camera, "--json", live=ready))
    [cam] = data["cameras"]
    assert cam["camera"] == outage.camera
    gaps = TypeAdapter(list[Gap]).validate_python(cam["gaps"])
    long = [g for g in gaps if g.seconds >= 2]
    assert len(long) == 1, gaps
    return long[0]


def test_gaps_finds_the_outage_with_its_real_length(ready: Live, outage: Outage) -> None:
    gap = wait_for(lambda: _gap_of(ready, outage), 20, interval=1, what="the outage's gap")
    real = (outage.back - outage.began).total_seconds()
    assert abs(gap.seconds - real) <= 2.0, (gap, real)
    assert abs((gap.start - outage.began).total_seconds()) <= 2.0
    assert abs((gap.end - outage.back).total_seconds()) <= 2.0


def test_gaps_human_shows_windows_in_wita_or_utc(ready: Live, outage: Outage) -> None:
    gap = wait_for(lambda: _gap_of(ready, outage), 20, interval=1, what="the outage's gap")
    since = (outage.began - timedelta(minutes=2)).isoformat()
    local = cli("gaps", "--since", since, "-c", outage.camera, live=ready)
    assert local.returncode == 0, local.stderr
    # One row per gap; when this site is seconds old, the window also holds the moment before
    # the camera's first packet, so look for the outage's row among the camera's rows.
    rows = [line for line in local.stdout.splitlines() if line.startswith(outage.camera)]
    assert any((gap.start + WITA_OFFSET).strftime("%H:%M:%S") in row for row in rows), (rows, gap)
    assert "FROM (WITA)" in local.stdout
    assert "1 of 1 camera missed footage" in local.stdout
    utc = cli("gaps", "--since", since, "-c", outage.camera, "--utc", live=ready)
    rows = [line for line in utc.stdout.splitlines() if line.startswith(outage.camera)]
    assert any(gap.start.astimezone(UTC).strftime("%H:%M:%S") in row for row in rows), rows
    # A whole kecamatan, every enabled camera in the JSON, with or without gaps.
    slug = ready.site.camera_kecamatan[outage.camera]
    data = ok_json(cli("gaps", "--since", "10m", "-k", slug, "--json", live=ready))
    assert {c["camera"] for c in data["cameras"]} == set(ready.site.cameras_in(slug))


def test_gaps_bad_times_exit_2_with_one_line(ready: Live) -> None:
    banana = cli("gaps", "--since", "banana", live=ready)
    assert banana.returncode == exit_codes.USAGE
    one_error_line(banana, "--since", "banana", "accepted:")
    backwards = cli("gaps", "--since", "1h", "--until", "2h", live=ready)
    assert backwards.returncode == exit_codes.USAGE
    one_error_line(backwards, "--until")
    too_long = cli("gaps", "--since", "40d", live=ready)
    assert too_long.returncode == exit_codes.USAGE
    one_error_line(too_long, "31 days")
    # Extreme dates overflowed datetime arithmetic into a traceback (exit 1).
    for args in (
        ("gaps", "--since", "0001-01-01"),
        ("gaps", "--since", "9999-12-31"),
        ("export", "cam", "--from", "0001-01-01", "--to", "1h"),
        ("export", "cam", "--from", "2026-11-28", "--to", "9999-12-31"),
        ("audit", "--since", "0001-01-01T00:00:00Z"),
    ):
        proc = cli(*args, live=ready)
        assert proc.returncode == exit_codes.USAGE, (args, proc.stderr)
        bad = next(a for a in args if a.startswith(("0001", "9999")))
        one_error_line(proc, repr(bad), "out of range", "accepted:")


def test_unknown_camera_or_job_exits_2_and_says_what_lists_them(ready: Live) -> None:
    for args in (("snapshot", "no-such-cam"), ("gaps", "--camera", "no-such-cam")):
        proc = cli(*args, live=ready)
        assert proc.returncode == exit_codes.USAGE, proc
        one_error_line(proc, "no-such-cam", ready.server.url, "`cctvctl cameras` lists them")
        assert "/api/v1" not in proc.stderr  # what to run, not which route to call
    operator = ready.site.tokens["operator"]
    job = cli("exports", "show", "0123456789abcdef", live=ready, token=operator)
    assert job.returncode == exit_codes.USAGE, job
    one_error_line(job, "'0123456789abcdef'", "`cctvctl exports ls`", "whole ids")


# --------------------------------------------------------------------------- snapshot

TRUECOLOR_BG = re.compile(r"\x1b\[[0-9;]*48;2;(\d+);(\d+);(\d+)m")


def test_snapshot_half_blocks_show_the_cameras_colour(ready: Live) -> None:
    cam = ready.site.camera_ids[1]
    proc = cli(
        "snapshot", cam, "--width", "48",
        live=ready,
        env={"FORCE_COLOR": "1", "COLORTERM": "truecolor"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "\u2580" in proc.stdout
    backgrounds = Counter(TRUECOLOR_BG.findall(proc.stdout))
    assert len(backgrounds) > 3  # a picture, not a flat fill
    dominant = tuple(int(v) for v in backgrounds.most_common(1)[0][0])
    expected = scene_colour(cam)
    assert all(abs(a - b) <= 24 for a, b in zip(dominant, expected, strict=True)), (
        dominant,
        expected,
    )
    caption = ANSI.sub("", re.sub(r"\x1b\[[0-9;]*m", "", lines[-1]))
    assert cam in caption and "WITA" in caption and "old" in caption


def _ramp_index(rgb: tuple[int, int, int]) -> int:
    luma = 2126 * rgb[0] + 7152 * rgb[1] + 722 * rgb[2]
    return luma * len(DEFAULT_RAMP) // (255 * 10_000 + 1)


def test_snapshot_ascii_ramp_matches_the_cameras_brightness(ready: Live) -> None:
    cam = ready.site.camera_ids[2]
    # --ascii on a colour terminal, and a plain pipe (which falls back to ASCII itself).
    for env in ({"FORCE_COLOR": "1", "COLORTERM": "truecolor"}, {}):
        proc = cli("snapshot", cam, "--ascii", "-w", "40", live=ready, env=env)
        assert proc.returncode == 0, proc.stderr
        assert not ANSI.search(proc.stdout.split("\n")[0])
        *picture, caption = proc.stdout.rstrip("\n").splitlines()
        assert all(len(line) == 40 for line in picture)
        assert set("".join(picture)) <= set(DEFAULT_RAMP)
        glyph, _ = Counter("".join(picture)).most_common(1)[0]
        expected = _ramp_index(scene_colour(cam))
        assert abs(DEFAULT_RAMP.index(glyph) - expected) <= 1, (glyph, expected)
        assert cam in caption


def test_snapshot_caption_wraps_between_its_parts_and_keeps_the_age(ready: Live) -> None:
    # At 80 columns a demo camera's caption was cut with "…" before "2 s old".
    cam = ready.site.camera_ids[1]
    proc = cli("snapshot", cam, "--width", "40", live=ready, columns=50)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.rstrip("\n").splitlines()
    first = next(i for i, line in enumerate(lines) if cam in line)
    caption = lines[first:]
    assert len(caption) >= 2  # a camera, a WITA frame time and an age do not fit 50
    assert all(len(line) <= 50 for line in caption), caption
    assert "…" not in proc.stdout
    assert all(not line.startswith("·") and not line.endswith("·") for line in caption)
    text = " · ".join(caption)
    assert "WITA" in text and text.endswith(" old"), caption


def test_wrap_caption_breaks_only_between_parts() -> None:
    assert wrap_caption("aaaa · bbbb · cc", 11) == ["aaaa · bbbb", "cc"]
    assert wrap_caption("aaaa · bbbb · cc", 80) == ["aaaa · bbbb · cc"]
    assert wrap_caption("a-part-wider-than-the-screen · x", 5) == [
        "a-part-wider-than-the-screen",
        "x",
    ]


def test_snapshot_saves_jpeg_and_json(ready: Live, tmp_path: Path) -> None:
    cam = ready.site.camera_ids[1]
    target = tmp_path / "now.jpg"
    proc = cli("snapshot", cam, "-o", str(target), "--width", "200", live=ready)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(target.resolve())
    data = target.read_bytes()
    assert data[:2] == b"\xff\xd8" and len(data) > 500
    meta = ok_json(cli("snapshot", cam, "--json", live=ready))
    assert Camera.model_validate(meta["camera"]).id == cam
    assert meta["format"] == "rgb" and meta["file"] is None
    frame = datetime.fromisoformat(meta["frame_time"])
    assert abs((datetime.now(UTC) - frame).total_seconds()) < 60
    # Without --width the JPEG keeps the camera's own resolution (never upscaled).
    native = tmp_path / "native.jpg"
    assert cli("snapshot", cam, "-o", str(native), live=ready).returncode == 0
    from PIL import Image

    with Image.open(native) as img:
        assert img.size == (ready.site.spec.width, ready.site.spec.height)
    with Image.open(target) as img:
        assert img.size[0] == 200
    wrong = cli("snapshot", cam, "-o", str(tmp_path / "now.png"), live=ready)
    assert wrong.returncode == exit_codes.USAGE and not (tmp_path / "now.png").exists()
    # A directory that is not there is the user's mistake: exit 2, one line (was 1).
    nowhere = tmp_path / "no-such-dir" / "x.jpg"
    missing_dir = cli("snapshot", cam, "-o", str(nowhere), live=ready)
    assert missing_dir.returncode == exit_codes.USAGE, missing_dir.stderr
    one_error_line(missing_dir, "bad output path", str(nowhere.parent))


# --------------------------------------------------------------------------- colour


def test_no_ansi_with_no_color_or_in_a_pipe(ready: Live) -> None:
    forced = {"FORCE_COLOR": "1", "COLORTERM": "truecolor"}
    # The control: a forced terminal does get escapes, so the checks below can fail.
    assert ANSI.search(cli("status", live=ready, env=forced).stdout)
    assert not ANSI.search(cli("status", live=ready).stdout)  # a pipe
    assert not ANSI.search(cli("status", live=ready, env={**forced, "NO_COLOR": "1"}).stdout)
    # Set but empty is not a request (no-color.org): colour stays on.
    assert ANSI.search(cli("status", live=ready, env={**forced, "NO_COLOR": ""}).stdout)
    for command in (("cameras",), ("health",), ("snapshot", ready.site.camera_ids[1])):
        proc = cli(*command, "--no-color", live=ready, env=forced)
        assert proc.returncode == 0, proc.stderr
        assert not ANSI.search(proc.stdout), command


def test_no_color_counts_only_when_non_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "")
    assert not no_color_env()
    assert not console().no_color
    monkeypatch.setenv("NO_COLOR", "1")
    assert no_color_env()
    assert console().no_color
    monkeypatch.delenv("NO_COLOR")
    assert not no_color_env()


# --------------------------------------------------------------------------- exit codes


def test_stopped_server_exits_5(stopped: str) -> None:
    proc = cli("status", env={"CCTVCTL_URL": stopped, "CCTVCTL_TOKEN": "x"})
    assert proc.returncode == exit_codes.UNREACHABLE
    one_error_line(proc, stopped, "unreachable")


def test_bad_token_exits_4(ready: Live) -> None:
    proc = cli("cameras", "--json", live=ready, token="not-a-token")
    assert proc.returncode == exit_codes.AUTH
    assert proc.stdout == ""
    one_error_line(proc, "not authenticated")


def test_no_server_chosen_exits_2() -> None:
    proc = cli("status")
    assert proc.returncode == exit_codes.USAGE
    one_error_line(proc, "no server chosen")


# --------------------------------------------------------------------------- several nodes


def test_all_contexts_with_one_node_down_is_partial(
    ready: Live, two_contexts: dict[str, str]
) -> None:
    proc = cli("status", "--all-contexts", env=two_contexts, columns=60)
    assert proc.returncode == exit_codes.PARTIAL
    one_error_line(proc, "down: unreachable")
    assert max(len(line) for line in proc.stdout.splitlines()) <= 60
    for name in ready.site.kecamatan.values():
        assert name in proc.stdout

    table = cli("cameras", "--all-contexts", env=two_contexts)
    assert table.returncode == exit_codes.PARTIAL
    # The node that did not answer closes the list, its cameras unknown rather than offline.
    *lines, last = table.stdout.splitlines()
    assert last == "down: node unreachable, cameras unknown"
    rows = [line.split() for line in lines[1:]]
    assert {(r[0], r[1]) for r in rows} == {("live", c) for c in ready.site.camera_ids}

    # In a pipe with no COLUMNS (cron mail) every row is still labelled by its node.
    piped = cli("cameras", "--all-contexts", env=two_contexts, columns=None)
    assert piped.returncode == exit_codes.PARTIAL
    assert "\u2026" not in piped.stdout, piped.stdout
    rows = [line.split() for line in piped.stdout.splitlines()[1:-1]]
    assert {(r[0], r[1]) for r in rows} == {("live", c) for c in ready.site.camera_ids}

    data = json.loads(cli("cameras", "--all-contexts", "--json", env=two_contexts).stdout)
    live_node, down_node = data["nodes"]
    assert (live_node["node"], live_node["ok"], live_node["error"]) == ("live", True, None)
    assert [c.id for c in CAMERAS.validate_python(live_node["result"])] == ready.site.camera_ids
    assert (down_node["node"], down_node["ok"], down_node["result"]) == ("down", False, None)
    assert down_node["exit_code"] == exit_codes.UNREACHABLE
    assert down_node["error"].startswith("down: unreachable")

    for command in (("health", "--json"), ("gaps", "--since", "5m", "--json")):
        proc = cli(*command, "--all-contexts", env=two_contexts)
        assert proc.returncode == exit_codes.PARTIAL, command
        nodes = json.loads(proc.stdout)["nodes"]
        assert [n["ok"] for n in nodes] == [True, False]


def test_all_contexts_refuses_a_single_server_flag(two_contexts: dict[str, str]) -> None:
    proc = cli("status", "--all-contexts", "--context", "live", env=two_contexts)
    assert proc.returncode == exit_codes.USAGE
    one_error_line(proc, "--all-contexts")


def test_current_context_is_used_without_flags(ready: Live, two_contexts: dict[str, str]) -> None:
    cams = CAMERAS.validate_python(ok_json(cli("cameras", "--json", env=two_contexts)))
    assert [c.id for c in cams] == ready.site.camera_ids
    down = cli("cameras", "--context", "down", env=two_contexts)
    assert down.returncode == exit_codes.UNREACHABLE
    one_error_line(down, "down: unreachable")


# --------------------------------------------------------------------------- help


@pytest.mark.parametrize(
    "command",
    [
        "status",
        "cameras",
        "health",
        "gaps",
        "snapshot",
        "fleet nodes",
        "fleet where",
        "fleet apply",
        "token create",
    ],
)
def test_every_command_has_help_with_an_example(command: str) -> None:
    proc = cli(*command.split(), "--help", columns=100)
    assert proc.returncode == 0
    assert f"Example: cctvctl {command}" in proc.stdout
    assert "--json" in proc.stdout


def test_top_level_help_lists_commands_and_exit_codes() -> None:
    proc = cli("--help", columns=100)
    assert proc.returncode == 0
    for command in ("status", "cameras", "health", "gaps", "snapshot"):
        assert command in proc.stdout
    assert "3 partial" in proc.stdout


# --------------------------------------------------------------------------- narrow terminals

NARROW = 50
WITA_CLOCK = re.compile(r"^\d\d:\d\d:\d\d$")


def stacked(stdout: str, headers: list[str]) -> list[dict[str, str]]:
    """The records of a stacked table: a block of ``HEADER: value`` lines per row, a value
    wrapped onto indented lines joined back with a space (a word cut in two would not
    read back whole)."""
    records: list[dict[str, str]] = []
    record: dict[str, str] = {}
    field = ""
    for line in stdout.splitlines():
        key = next((h for h in headers if line.startswith(f"{h}:")), None)
        if key is not None:
            if key in record:  # a block with no blank line before it: a new row anyway
                records.append(record)
                record = {}
            field, record[key] = key, line[len(key) + 1 :].strip()
        elif line.startswith(" ") and line.strip() and field:
            record[field] += " " + line.strip()
        elif not line.strip() and record:
            records.append(record)
            record, field = {}, ""
    if record:
        records.append(record)
    return records


def narrow(*args: str, live: Live, role: str = "viewer") -> str:
    proc = cli(*args, live=live, token=live.site.tokens[role], columns=NARROW)
    assert proc.returncode == 0, proc.stderr
    assert all(len(line) <= NARROW for line in proc.stdout.splitlines()), proc.stdout
    return proc.stdout


@pytest.mark.parametrize("columns", [None, NARROW])
def test_tables_in_a_pipe_leave_no_trailing_spaces(ready: Live, columns: int | None) -> None:
    # rich pads a line's last cell to the column's width; a cron mail or a diff shows it.
    proc = cli("cameras", live=ready, columns=columns)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) > 3 and all(line == line.rstrip() for line in lines), proc.stdout


def test_table_commands_stack_rows_at_50_columns_with_every_field_whole(
    ready: Live, outage: Outage
) -> None:
    site = ready.site
    # cameras: one block per camera, every column a line, ids and names whole.
    headers = ["CAMERA", "KECAMATAN", "STATUS", "FPS", "KBPS", "LAST SEEN (WITA)", "MISS 24H"]
    rows = stacked(narrow("cameras", live=ready), headers)
    assert [r["CAMERA"] for r in rows] == site.camera_ids
    for r in rows:
        assert list(r) == headers, r
        assert r["KECAMATAN"] == site.kecamatan[site.camera_kecamatan[r["CAMERA"]]]
        assert r["STATUS"] in {s.value for s in CameraStatus}
        assert WITA_CLOCK.match(r["LAST SEEN (WITA)"]), r

    # health: the volumes and the kecamatan, one block each.
    text = narrow("health", live=ready)
    kec = ["KECAMATAN", "CAMS", "INBOUND", "RTT", "STORED", "QUOTA", "WRITE", "FULL IN", "MISS"]
    rows = [r for r in stacked(text, kec) if "KECAMATAN" in r]  # WRITE is a volume's too
    assert [r["KECAMATAN"] for r in rows] == list(site.kecamatan.values())
    assert all(list(r) == kec for r in rows), rows
    vols = ["VOLUME", "SIZE", "USED", "FREE", "RESERVE", "WRITE", "FULL IN"]
    assert all(len(r) == len(vols) for r in stacked(text, vols) if "VOLUME" in r)

    # gaps: the outage, with its times whole.
    headers = ["CAMERA", "KECAMATAN", "FROM (WITA)", "TO", "LENGTH"]
    rows = stacked(narrow("gaps", "--since", "1h", live=ready), headers)
    gap = next(r for r in rows if r["CAMERA"] == outage.camera)
    assert list(gap) == headers
    assert WITA_CLOCK.match(gap["FROM (WITA)"]) and WITA_CLOCK.match(gap["TO"]), gap

    # reboot --dry-run: a plan per camera of the kecamatan.
    slug = next(iter(site.kecamatan))
    headers = ["CAMERA", "KECAMATAN", "PLAN", "WHY"]
    text = narrow(
        "reboot", "--kecamatan", slug, "--dry-run", "--reason", "t", live=ready, role="admin"
    )
    rows = stacked(text, headers)
    assert [r["CAMERA"] for r in rows] == site.cameras_in(slug)
    assert all(r["PLAN"] in ("reboot", "skip") for r in rows), rows

    # exports ls: the job id (what `exports download` takes) and the case id whole.
    now = datetime.now(UTC)
    case = "LP/77/XII/2026/RESKRIM-KUTIM"
    with ready.server.client("operator") as api:
        made = api.post(
            "/api/v1/exports",
            json={
                "camera": site.camera_ids[-1],
                "start": (now - timedelta(seconds=10)).isoformat(),
                "end": (now - timedelta(seconds=6)).isoformat(),
                "case_id": case,
            },
        )
    assert made.status_code == 202, made.text
    headers = ["ID", "CAMERA", "STATE", "DONE", "WINDOW (WITA)", "CASE", "SIZE", "BY"]
    rows = stacked(narrow("exports", "ls", live=ready, role="operator"), headers)
    job = next(r for r in rows if r["ID"] == made.json()["id"])
    assert list(job) == headers and job["CASE"] == case and job["CAMERA"] == site.camera_ids[-1]

    # audit: the dry run and the export above, each field of them.
    headers = ["TIME (WITA)", "ACTOR", "ROLE", "ACTION", "TARGET", "REASON/CASE", "RESULT"]
    rows = stacked(narrow("audit", "--since", "1h", live=ready, role="admin"), headers)
    assert rows and all(list(r) == headers for r in rows), rows
    request = next(r for r in rows if r["ACTION"] == "export.request")
    assert request["REASON/CASE"] == case and request["TARGET"] == site.camera_ids[-1]
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", request["TIME (WITA)"]), request


def test_tables_stay_tables_where_they_fit(ready: Live) -> None:
    proc = cli("cameras", live=ready, columns=80)
    assert proc.returncode == 0, proc.stderr
    head = proc.stdout.splitlines()[0].split()
    assert head[:3] == ["CAMERA", "KECAMATAN", "STATUS"], proc.stdout
    assert "CAMERA:" not in proc.stdout


def test_status_keeps_its_own_layout_at_50_columns(ready: Live) -> None:
    text = narrow("status", live=ready)
    assert "KECAMATAN:" not in text  # not stacked: status is laid out for 60 columns
    for name in ready.site.kecamatan.values():
        assert any(line.startswith(name) for line in text.splitlines()), text
