"""CPU, memory and frames on disk of `cctvctl server` recording N simulated cameras, against ffmpeg.

Run: .venv/bin/python benchmarks/ingest.py [--streams 16 64] [--seconds 40] [--warmup 10]
         [--size 640x360] [--fps 15] [--stagger 0.1] [--latency-seconds 5] [--no-ffmpeg]
         [--mix h264|h265|h265-audio] [--scenes shared|camera] [--keep DIR] [--floor]

--mix h265-audio makes every camera H.265 with an AAC sound track (the simulator's
`sim = { codec = "h265", audio = "aac" }`) that both sides keep: the recorder with
`audio = "keep"` (AAC stored as sent), ffmpeg with `-map 0:v -map 0:a -c copy`. Both tag the
video hvc1. --mix h265 is H.265 without sound; the default, h264, H.264 without sound.

--scenes shared (the default) has the simulator send one shared scene loop per codec to
every camera (`[sim] scenes = "shared"`): one encode and one copy in memory, whatever N, so
1,000 cameras start in seconds. The bytes per camera are the same as with --scenes camera
(each camera its own scene, one encode each: about 15 minutes of both cores for 1,000), and
stream copy does not look at the picture.

For each stream count it writes an inventory of N cameras with the test harness
(tests/harness.py), serves them with `cctvctl sim` in a process of its own (its CPU is not
counted, but it shares the machine), and then records them twice, one after the other:

  recorder  a real `cctvctl server --config ...` process (harness.ServerProcess): the API,
            the monitor, the RTT prober and retention run as in production; no API client
            calls it during the measured window.
  ffmpeg    one `ffmpeg -rtsp_transport tcp -i URL -c copy -f segment` process per camera
            (fragmented MP4 segments of 60 s, like ours), the way Frigate records.

Both sides are measured the same way, after a warm-up, over the same window:

  cpu s/stream-min  CPU seconds (user + system) of the process tree (the server and its
                    children; every ffmpeg process) per stream per minute of recording
  pss MB            proportional set size (psutil memory_full_info().pss) summed over that
                    tree at the end of the window: shared pages (libav, the interpreter) are
                    split between the processes that map them, so N ffmpeg processes are not
                    charged N times for one library, and the server's whole footprint counts
  pss/stream MB     pss MB / N; with two or more stream counts, also the marginal PSS of one
                    more stream between them, which leaves the fixed cost out on both sides
  frames            what reached the disk: video packets in the written segment files
                    (demuxed with PyAV) against the frames the simulator sent to that side's clients
                    (its own per-camera counter, `frames_sent` in fault control). Sending is
                    stopped first (every camera stalled), the clients get time to drain, then
                    the processes are stopped (SIGTERM) and the files counted.

With --floor, two more sides read the same streams and write nothing, so the figures say
how much of each side's CPU is reading the RTSP stream at all, which no recorder avoids:

  pyav-read    one process of threads reading as the recorder's ingest threads do (PyAV,
               the same demuxer options and read batching; benchmarks/_read_floor.py)
  ffmpeg-read  the ffmpeg command above with `-f null -` for its output

Then, for the recorder only, the live-figure latency its read batching costs: the API's
`last_packet` age sampled for every camera (ffmpeg has no live figures to compare), and its
false alarms: `camera.status` events after each camera's first verdict and
`camera.reanchor` events, from the server's event table, up to the moment sending is
stopped. Every simulated camera streams steadily, so the target for both is 0.

Figures only; nothing is asserted. Caveats are printed with the figures.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import av
import httpx
import psutil
from _common import pss_bytes

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from harness import ServerProcess, Site, SiteSpec, write_site  # noqa: E402

from cctvctl.recorder.ingest import IngestSettings  # noqa: E402
from cctvctl.recorder.open_gate import OPEN_LIMIT  # noqa: E402

KECAMATAN = ("Sangatta Utara", "Bengalon", "Muara Wahau", "Rantau Pulung")
SEGMENT_SECONDS = 60
MB = 1024 * 1024
# Sending stops (cameras stalled) this long before the recorders are stopped: longer than
# the recorder's read batch, shorter than the 2 x 2.5 s after which it gives a stalled
# camera up and reconnects (ffmpeg: -timeout 5 s).
DRAIN_SECONDS = IngestSettings().batch_seconds + 1.5
#: --mix: what every camera sends, in a camera's inventory lines (tests/harness.py).
MIX_LINES: dict[str, tuple[str, ...]] = {
    "h264": (),
    "h265": ('sim = { codec = "h265" }',),
    "h265-audio": ('audio = "keep"', 'sim = { codec = "h265", audio = "aac" }'),
}
MIXES = {
    "h264": "H.264 video only, no sound track.",
    "h265": "H.265 video only, no sound track.",
    "h265-audio": "H.265 and AAC (mono, 16 kHz in the simulator) on every camera, both kept "
    "as sent;\n  G.711 is left out: ffmpeg's mp4 muxer refuses it, and the recorder "
    "converts it to AAC (benchmarks/audio_convert.py has that cost).",
}


# --------------------------------------------------------------------------- the simulator


@contextmanager
def simulator(site: Site, log: Path, nice: int = 0) -> Iterator[psutil.Process]:
    """`cctvctl sim` for the site's inventory, in a child process of its own, at ``nice``."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cctvctl", "sim", "--config", str(site.config), "--no-color"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=REPO,
            # Every thread the simulator starts inherits it (nice is per thread on Linux).
            preexec_fn=(lambda: os.nice(nice)) if nice else None,
        )
    try:
        # The RTSP port opens once every scene loop is encoded (cached after the first run).
        deadline = time.monotonic() + 900
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"simulator exited:\n{log.read_text(errors='replace')}")
            try:
                socket.create_connection(("127.0.0.1", site.rtsp_port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("simulator did not start within 15 minutes") from None
                time.sleep(0.5)
        yield psutil.Process(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class SimControl:
    """The simulator's fault control: per-camera frame counters, and stopping the sending."""

    def __init__(self, site: Site) -> None:
        self.url = f"http://127.0.0.1:{site.control_port}"
        self.cameras = site.camera_ids

    def frames_sent(self) -> dict[str, int]:
        resp = httpx.get(f"{self.url}/cameras", timeout=10)
        resp.raise_for_status()
        return {st["id"]: int(st["frames_sent"]) for st in resp.json()}

    def frames_skipped(self) -> dict[str, int]:
        """Frames the simulator never sent because it fell behind (a loaded machine)."""
        resp = httpx.get(f"{self.url}/cameras", timeout=10)
        resp.raise_for_status()
        return {st["id"]: int(st.get("frames_skipped", 0)) for st in resp.json()}

    def fault_all(self, mode: str) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as api:
            for cam in self.cameras:
                api.post(f"/cameras/{cam}/fault", json={"mode": mode}).raise_for_status()


# --------------------------------------------------------------------------- measuring


def tree(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return [root]


def cpu_seconds(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


@dataclass
class Window:
    cpu: float  # CPU seconds of the measured processes over the window
    seconds: float
    pss: int  # bytes, summed, at the end of the window
    sim_cpu: float  # the simulator's CPU seconds over the same window


def measure(procs: list[psutil.Process], sim: psutil.Process, seconds: float) -> Window:
    c0, s0, t0 = cpu_seconds(procs), cpu_seconds([sim]), time.monotonic()
    time.sleep(seconds)
    c1, s1, t1 = cpu_seconds(procs), cpu_seconds([sim]), time.monotonic()
    return Window(c1 - c0, t1 - t0, pss_bytes(procs), s1 - s0)


def packets_on_disk(files: list[Path], kind: str = "video") -> int:
    """Video (or audio) packets in fragmented MP4 files, by demuxing them (unreadable files
    count 0)."""
    count = 0
    for path in files:
        try:
            with av.open(str(path)) as container:
                streams = container.streams.video if kind == "video" else container.streams.audio
                if not streams:
                    continue
                count += sum(1 for p in container.demux(streams[0]) if p.size)
        except av.FFmpegError:
            continue
    return count


def audio_note(files: dict[str, list[Path]]) -> str:
    """Sound on disk: audio packets of every camera's files (AAC, 1024 samples each)."""
    cams = sum(1 for fs in files.values() if packets_on_disk(fs[:1], "audio"))
    packets = sum(packets_on_disk(fs, "audio") for fs in files.values())
    return f"audio: {packets} AAC packets on disk, {cams}/{len(files)} cameras with sound"


@dataclass
class Frames:
    sent: int
    on_disk: int
    per_camera: dict[str, tuple[int, int]] = field(default_factory=dict)  # id -> (sent, disk)
    where: str = "on disk"  # "read" for the read-only sides of --floor

    @property
    def complete(self) -> int:
        return sum(1 for s, d in self.per_camera.values() if d >= s > 0)

    def text(self) -> str:
        lost = self.sent - self.on_disk
        share = 100 * lost / self.sent if self.sent else 0.0
        return (
            f"{self.on_disk}/{self.sent} frames {self.where} ({lost} missing, {share:.2f} %), "
            f"{self.complete}/{len(self.per_camera)} cameras complete"
        )


def frames_against_sent(
    before: dict[str, int], after: dict[str, int], got: dict[str, int], where: str = "on disk"
) -> Frames:
    """The frames each camera's client got (``got``) against what the simulator sent it
    between ``before`` and ``after`` (its ``frames_sent`` counters)."""
    per = {cam: (total - before.get(cam, 0), got.get(cam, 0)) for cam, total in after.items()}
    return Frames(
        sum(s for s, _ in per.values()), sum(g for _, g in per.values()), per, where=where
    )


def compare_frames(
    before: dict[str, int], after: dict[str, int], files: dict[str, list[Path]]
) -> Frames:
    on_disk = {cam: packets_on_disk(files.get(cam, [])) for cam in after}
    return frames_against_sent(before, after, on_disk)


@dataclass
class Result:
    label: str
    streams: int
    window: Window
    frames: Frames | None  # None: not counted (ffmpeg-read)
    note: str

    def frames_text(self) -> str:
        return self.frames.text() if self.frames is not None else "-"

    @property
    def cpu_per_stream_minute(self) -> float:
        return self.window.cpu / self.streams / (self.window.seconds / 60.0)

    @property
    def pss_per_stream(self) -> float:
        return self.window.pss / self.streams

    @property
    def sim_share(self) -> float:
        return self.window.sim_cpu / self.window.seconds


# --------------------------------------------------------------------------- the recorder


def _p95(ordered: list[float]) -> float:
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


@dataclass
class Latency:
    samples: list[float]  # seconds: now - last_packet, per camera and sample
    polls: int
    timeouts: int = 0  # polls the API did not answer in time (a busy server)
    answers: list[float] = field(default_factory=list)  # seconds each poll took to answer

    def text(self) -> str:
        late = f"; {self.timeouts} polls timed out" if self.timeouts else ""
        took = ""
        if self.answers:
            ordered = sorted(self.answers)
            took = (
                f"; GET /api/v1/cameras answered in median {statistics.median(ordered):.3f} s, "
                f"p95 {_p95(ordered):.3f} s, max {ordered[-1]:.3f} s"
            )
        if not self.samples:
            return "no last_packet seen" + late + took
        ordered = sorted(self.samples)
        return (
            f"last_packet age over {self.polls} polls of every camera: mean "
            f"{statistics.fmean(ordered):.2f} s, p95 {_p95(ordered):.2f} s, max "
            f"{ordered[-1]:.2f} s{late}{took}"
        )


def sample_latency(server: ServerProcess, seconds: float, interval: float = 0.25) -> Latency:
    samples: list[float] = []
    answers: list[float] = []
    polls = timeouts = 0
    deadline = time.monotonic() + seconds
    with server.client("viewer") as api:
        while time.monotonic() < deadline:
            asked, started = time.time(), time.perf_counter()
            try:
                resp = api.get("/api/v1/cameras", timeout=20)
            except httpx.TimeoutException:
                timeouts += 1  # a figure too: the API is too busy to answer in time
                continue
            answers.append(time.perf_counter() - started)
            # The server read its figures somewhere between the request and the answer.
            now = (asked + time.time()) / 2
            resp.raise_for_status()
            polls += 1
            for cam in resp.json():
                if cam.get("last_packet"):
                    seen = datetime.fromisoformat(cam["last_packet"]).timestamp()
                    samples.append(max(0.0, now - seen))
            time.sleep(interval)
    return Latency(samples, polls, timeouts, answers)


def online_count(server: ServerProcess) -> str:
    """How many cameras the API calls online, or why it could not tell."""
    try:
        resp = server.get("/api/v1/cameras", timeout=20)
    except httpx.HTTPError as exc:
        return f"? ({type(exc).__name__})"
    if resp.status_code != 200:
        return f"? (HTTP {resp.status_code})"
    return str(sum(1 for cam in resp.json() if cam.get("status") == "online"))


def false_alarms(storage: Path, until: float, skipped: dict[str, int]) -> str:
    """Status changes after each camera's first verdict, and re-anchors, before ``until``:
    with every camera healthy and streaming, each one is a false alarm."""
    db = storage / "index.sqlite3"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT type, camera, data FROM events WHERE time < ? AND type IN "
            "('camera.status', 'camera.reanchor')",
            (until,),
        ).fetchall()
    changes = [(cam, json.loads(data)) for kind, cam, data in rows if kind == "camera.status"]
    false = [(cam, d) for cam, d in changes if d.get("previous") is not None]
    moved = [json.loads(data) for kind, _, data in rows if kind == "camera.reanchor"]
    reanchors = len(moved)
    kinds = collections.Counter(f"{d['previous']}->{d['status']}" for _, d in false)
    detail = ", ".join(f"{k} {n}" for k, n in kinds.most_common()) or "none"
    cams = len({cam for cam, _ in false})
    starved = len({cam for cam, _ in false if skipped.get(cam, 0) > 0})
    return (
        f"{len(false)} false status changes on {cams} cameras ({detail}; {starved} of them "
        f"cameras the simulator skipped frames of, {sum(skipped.values())} in all), "
        f"{reanchors} re-anchors{_reanchor_detail(moved)}"
    )


def _reanchor_detail(moved: list[dict[str, object]]) -> str:
    if not moved:
        return ""
    causes = collections.Counter(str(m.get("cause")) for m in moved)
    shifts = sorted(float(str(m.get("shift_seconds") or 0.0)) for m in moved)
    return (
        f" ({', '.join(f'{c} {n}' for c, n in causes.most_common())}; footage moved "
        f"{shifts[0]:+.1f} to {shifts[-1]:+.1f} s)"
    )


def run_recorder(
    site: Site, sim: psutil.Process, control: SimControl, args: argparse.Namespace
) -> tuple[Result, Latency]:
    streams = len(site.camera_ids)
    before = control.frames_sent()
    server = ServerProcess(site)
    began = time.monotonic()
    try:
        # Inside the try: a server that never gets ready is stopped all the same.
        server.start(timeout=args.start_timeout)
        ready = time.monotonic() - began
        assert server.proc is not None
        root = psutil.Process(server.proc.pid)
        time.sleep(args.warmup)
        online = online_count(server)
        window = measure(tree(root), sim, args.seconds)
        latency = sample_latency(server, args.latency_seconds)
        stalled_at = time.time()
        skipped = control.frames_skipped()
        control.fault_all("stall")
        time.sleep(DRAIN_SECONDS)
        after = control.frames_sent()
    finally:
        server.stop(timeout=60)
        control.fault_all("recover")
    files: dict[str, list[Path]] = {}
    for path in site.storage.rglob("*.mp4"):
        # {storage}/{kecamatan}/{camera}/{YYYY-MM-DD}/{HHMMSS}.mp4
        files.setdefault(path.parent.parent.name, []).append(path)
    frames = compare_frames(before, after, files)
    written = sum(p.stat().st_size for ps in files.values() for p in ps)
    alarms = false_alarms(site.storage, stalled_at, skipped)
    note = (
        f"/healthz answered {ready:.0f} s after the start; {online}/{streams} online after "
        f"warm-up, {written / MB:.1f} MB written; {alarms}"
    )
    if args.mix.endswith("-audio"):
        note += f"; {audio_note(files)}"
    return Result("recorder", streams, window, frames, note), latency


# --------------------------------------------------------------------------- ffmpeg


def ffmpeg_command(url: str, folder: Path, mix: str = "h264") -> list[str]:
    # Sound is copied as it comes; hvc1 as the recorder tags H.265 (it costs nothing).
    streams = ["-map", "0:v"] if mix == "h264" else ["-map", "0:v", "-tag:v", "hvc1"]
    if mix.endswith("-audio"):
        streams += ["-map", "0:a"]
    return [
        "ffmpeg",
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-rtsp_transport",
        "tcp",
        "-timeout",
        "5000000",
        "-i",
        url,
        *streams,
        "-c",
        "copy",
        "-f",
        "segment",
        "-segment_time",
        str(SEGMENT_SECONDS),
        "-segment_format",
        "mp4",
        "-segment_format_options",
        "movflags=+frag_keyframe+empty_moov+default_base_moof",
        "-reset_timestamps",
        "1",
        "-strftime",
        "1",
        str(folder / "%Y%m%d-%H%M%S.mp4"),
    ]


def _start_ffmpeg(command: list[str], stagger: float) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    # Exec'ing N processes at once starves the simulator on a small machine.
    time.sleep(stagger)
    return proc


def run_ffmpeg(
    site: Site, sim: psutil.Process, control: SimControl, out: Path, args: argparse.Namespace
) -> Result:
    streams = len(site.camera_ids)
    before = control.frames_sent()
    procs: list[subprocess.Popen[bytes]] = []
    folders: dict[str, Path] = {}
    try:
        for cam, url in zip(site.camera_ids, _urls(site), strict=True):
            folder = folders[cam] = out / cam
            folder.mkdir(parents=True)
            procs.append(_start_ffmpeg(ffmpeg_command(url, folder, args.mix), args.stagger))
        ps = [psutil.Process(p.pid) for p in procs]
        time.sleep(args.warmup)
        running = sum(p.poll() is None for p in procs)
        window = measure(ps, sim, args.seconds)
        control.fault_all("stall")
        time.sleep(DRAIN_SECONDS)
        after = control.frames_sent()
    finally:
        _stop_all(procs)  # ffmpeg finishes the open segment on SIGTERM
        control.fault_all("recover")
    files = {cam: sorted(folder.glob("*.mp4")) for cam, folder in folders.items()}
    frames = compare_frames(before, after, files)
    written = sum(p.stat().st_size for ps_ in files.values() for p in ps_)
    note = f"{running}/{streams} running after warm-up, {written / MB:.1f} MB written"
    if args.mix.endswith("-audio"):
        note += f"; {audio_note(files)}"
    return Result("ffmpeg", streams, window, frames, note)


# --------------------------------------------------------------------------- --floor


def _stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _urls(site: Site) -> list[str]:
    return [
        f"rtsp://admin:{site.passwords[cam]}@127.0.0.1:{site.rtsp_port}/{cam}"
        for cam in site.camera_ids
    ]


def run_pyav_read(
    site: Site, sim: psutil.Process, control: SimControl, args: argparse.Namespace
) -> Result:
    """The recorder's read path alone (benchmarks/_read_floor.py), in one process."""
    streams = len(site.camera_ids)
    before = control.frames_sent()
    audio = ["--audio"] if args.mix.endswith("-audio") else []
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "benchmarks" / "_read_floor.py"), *audio, *_urls(site)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    try:
        time.sleep(args.warmup)
        window = measure(tree(psutil.Process(proc.pid)), sim, args.seconds)
        control.fault_all("stall")
        time.sleep(DRAIN_SECONDS)
        after = control.frames_sent()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        control.fault_all("recover")
    frames = frames_against_sent(before, after, json.loads(out or b"{}"), where="read")
    note = "reads as the recorder's ingest threads do (same options, batching); writes nothing"
    return Result("pyav-read", streams, window, frames, note)


def run_ffmpeg_read(
    site: Site, sim: psutil.Process, control: SimControl, args: argparse.Namespace
) -> Result:
    """ffmpeg's read path alone: the same command as the ffmpeg side into the null muxer."""
    streams = len(site.camera_ids)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for url in _urls(site):
            command = ffmpeg_command(url, Path("unused"), args.mix)
            command[command.index("-f") :] = ["-f", "null", "-"]
            procs.append(_start_ffmpeg(command, args.stagger))
        time.sleep(args.warmup)
        running = sum(p.poll() is None for p in procs)
        window = measure([psutil.Process(p.pid) for p in procs], sim, args.seconds)
    finally:
        _stop_all(procs)
    note = f"{running}/{streams} running after warm-up; `-c copy -f null -`, frames not counted"
    return Result("ffmpeg-read", streams, window, None, note)


# --------------------------------------------------------------------------- report


def report(rows: list[Result], latencies: dict[int, Latency], args: argparse.Namespace) -> None:
    print()
    print(
        f"{'streams':>7}  {'process':<11} {'cpu s/stream-min':>16}  {'pss MB':>8}  "
        f"{'pss/stream MB':>13}  {'sim cpu':>7}  frames on disk / sent by the simulator"
    )
    for r in rows:
        print(
            f"{r.streams:>7}  {r.label:<11} {r.cpu_per_stream_minute:>16.3f}  "
            f"{r.window.pss / MB:>8.1f}  {r.pss_per_stream / MB:>13.2f}  "
            f"{100 * r.sim_share:>6.0f}%  {r.frames_text()}"
        )
        print(f"{'':>7}  {'':<11} {r.note}")
    by_label: dict[str, list[Result]] = {}
    for r in rows:
        by_label.setdefault(r.label, []).append(r)
    for label, results in by_label.items():
        results.sort(key=lambda r: r.streams)
        for lo, hi in itertools.pairwise(results):
            extra = (hi.window.pss - lo.window.pss) / (hi.streams - lo.streams)
            print(
                f"{label}: marginal PSS {extra / MB:.2f} MB per stream from {lo.streams} to "
                f"{hi.streams} streams (fixed cost left out)"
            )
    by_n: dict[int, dict[str, Result]] = {}
    for r in rows:
        by_n.setdefault(r.streams, {})[r.label] = r
    for n, pair in sorted(by_n.items()):
        rec, ff = pair.get("recorder"), pair.get("ffmpeg")
        if rec is None or ff is None or ff.window.cpu <= 0 or ff.window.pss <= 0:
            continue
        cpu = rec.cpu_per_stream_minute / ff.cpu_per_stream_minute
        print(
            f"{n:>7} streams: recorder uses {cpu:.2f}x ffmpeg's CPU and "
            f"{rec.window.pss / ff.window.pss:.2f}x its PSS"
        )
    for n, sides in sorted(by_n.items()):
        rec, ff = sides.get("recorder"), sides.get("ffmpeg")
        rec_read, ff_read = sides.get("pyav-read"), sides.get("ffmpeg-read")
        if rec is None or ff is None or rec_read is None or ff_read is None:
            continue
        print(
            f"{n:>7} streams: reading alone costs PyAV {rec_read.cpu_per_stream_minute:.3f} and "
            f"ffmpeg {ff_read.cpu_per_stream_minute:.3f} cpu s/stream-min; recording adds "
            f"{rec.cpu_per_stream_minute - rec_read.cpu_per_stream_minute:+.3f} to the recorder "
            f"and {ff.cpu_per_stream_minute - ff_read.cpu_per_stream_minute:+.3f} to ffmpeg; "
            f"the recorder at the PyAV floor would use "
            f"{rec_read.cpu_per_stream_minute / ff.cpu_per_stream_minute:.2f}x ffmpeg's CPU"
        )
    for n, lat in sorted(latencies.items()):
        print(f"{n:>7} streams: recorder live figures: {lat.text()}")

    batch = IngestSettings().batch_seconds
    print(
        f"""
caveats:
- the recorder is the whole `cctvctl server` process (API, status monitor, RTT prober,
  retention); nobody calls its API during the CPU window. ffmpeg only records and has no
  API, index, live figures or thumbnails.
- the recorder starts all ingest threads together and lets {OPEN_LIMIT} of them open their
  stream at a time (recorder/open_gate.py: a slot is held until the first packet, so a
  camera waiting for its stream's next keyframe holds one); the warm-up counts from
  /healthz, which may answer while cameras still wait their turn, and a camera that has
  not connected yet is sent no frames, so none count as missing for it (see "online after
  warm-up" and the footage per camera). ffmpeg processes are started {args.stagger:g} s apart,
  because exec'ing all of them at once starves the simulator on a small machine; the
  {args.warmup:g} s warm-up starts after the last one.
- the recorder batches reads: a thread that has caught up sleeps up to {batch:g} s
  (IngestSettings.batch_seconds) and then reads what waited in the kernel. Footage is
  timed by the stream's clock, so recording is unaffected, but live figures (last packet,
  fps, kbps, status) and thumbnails trail the camera by up to {batch:g} s plus one frame
  ({1 / args.fps:.3f} s at {args.fps} fps); unbatched they would trail by about one frame.
  The latency line above is that cost as the API shows it (sampled after the CPU window).
- frames: the simulator counts frames queued to each client (fault control's
  frames_sent); sending is stopped (stall) {DRAIN_SECONDS:g} s before the processes are
  stopped, so a client's unread backlog is not counted as lost. Frames queued to a client
  the simulator dropped as a slow reader count as sent, and so as missing. Expect the
  recorder one frame short per camera: libav holds a camera's last frame until the next
  one begins, and the ingest thread stops without flushing it.
- the simulator runs on the same cores (its share of one core is shown as "sim cpu"),
  at nice {args.sim_nice}; RTSP over loopback, so no network loss, jitter or latency. A
  simulator starved of CPU skips frames (counted as "skipped"): the camera then really
  sends fewer, and a recorder that calls it degraded is right, not raising a false alarm.
  With --sim-nice below 0 the simulator comes first, as cameras with their own CPUs do.
- PSS is sampled once, at the end of the window; ffmpeg's is the sum over its processes.
- --floor: pyav-read and ffmpeg-read read the same streams and write nothing, measured in
  turn after the two above (the same window, not at the same moment). pyav-read is one
  process of threads like the server's, without its API, monitor and prober; the
  difference to the recorder is the recording and everything else the server does.
- mix {args.mix}: {MIXES[args.mix]}
"""
    )


def keep_logs(run: Path, into: Path) -> None:
    """Copy a run's logs (server, simulator) and its index out of its temporary directory."""
    into.mkdir(parents=True, exist_ok=True)
    for found in (*run.glob("*.log"), *run.rglob("server-*.log"), *run.rglob("index.sqlite3")):
        shutil.copy(found, into / found.name)


def _processes_arg(value: str) -> str:
    """``--ingest-processes`` checked as the server would, so a typo is one line here."""
    if value == "auto" or (value.isdigit() and 1 <= int(value) <= 64):
        return value
    raise argparse.ArgumentTypeError(f"{value!r}: accepted: auto or a whole number 1 to 64")


def _ingest_processes(value: str) -> str:
    """``--ingest-processes`` as its TOML value."""
    return '"auto"' if value == "auto" else value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--seconds", type=float, default=40.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument(
        "--stagger", type=float, default=0.1, help="seconds between ffmpeg process starts"
    )
    parser.add_argument(
        "--latency-seconds",
        type=float,
        default=5.0,
        help="how long the recorder's live figures are sampled after the window",
    )
    parser.add_argument(
        "--start-timeout",
        type=float,
        default=600.0,
        help="seconds the server may take to answer /healthz (1,000 cameras connect at once)",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="copy the server's and the simulator's logs and the index into DIR/N-streams "
        "(the run's own directory is removed): where the frames went, why /healthz was late",
    )
    parser.add_argument(
        "--ingest-processes",
        type=_processes_arg,
        default="auto",
        help="the server's [server] ingest_processes: auto (one per 250 cameras, the "
        "default) or a number; 1 reads every stream in the server process",
    )
    parser.add_argument(
        "--sim-nice",
        type=int,
        default=0,
        help="run the simulator at this nice value (below 0 needs root): real cameras do "
        "not share the recorder's cores, and a starved simulator skips frames, which the "
        "recorder then rightly calls degraded",
    )
    parser.add_argument("--no-ffmpeg", action="store_true")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also read the streams without writing, the recorder's way (PyAV, "
        "benchmarks/_read_floor.py) and ffmpeg's (-f null): what reading alone costs each",
    )
    parser.add_argument(
        "--mix", choices=sorted(MIXES), default="h264", help="what the cameras send"
    )
    parser.add_argument(
        "--scenes",
        choices=("shared", "camera"),
        default="shared",
        help="one shared scene loop per codec (default), or each camera its own",
    )
    args = parser.parse_args()
    width, _, height = args.size.lower().partition("x")

    ffmpeg = None if args.no_ffmpeg else shutil.which("ffmpeg")
    print(
        f"{os.cpu_count()} CPUs; {args.mix}, {args.scenes} scenes, {args.size} at {args.fps} fps, "
        f"GOP 2 s; warm-up "
        f"{args.warmup:g} s, window {args.seconds:g} s; ffmpeg: {ffmpeg or 'not measured'}; "
        f"ingest processes: {args.ingest_processes}; simulator at nice {args.sim_nice}"
    )
    rows: list[Result] = []
    latencies: dict[int, Latency] = {}
    for n in args.streams:
        with tempfile.TemporaryDirectory(prefix="cctvctl-bench-") as tmp:
            spec = SiteSpec(
                cameras=n,
                kecamatan=KECAMATAN,
                segment_seconds=SEGMENT_SECONDS,
                offline_after=10.0,
                width=int(width),
                height=int(height),
                fps=args.fps,
                loop_seconds=10.0,
                gop_seconds=2.0,
                camera_lines=dict.fromkeys(range(n), MIX_LINES[args.mix]),
                sim_lines=(f'scenes = "{args.scenes}"',),
                server_lines=(f"ingest_processes = {_ingest_processes(args.ingest_processes)}",),
            )
            site = write_site(Path(tmp) / "site", spec)
            control = SimControl(site)
            with simulator(site, Path(tmp) / "sim.log", args.sim_nice) as sim:
                rec, latency = run_recorder(site, sim, control, args)
                rows.append(rec)
                latencies[n] = latency
                print(
                    f"{n} streams: recorder {rec.cpu_per_stream_minute:.3f} cpu s/stream-min, "
                    f"PSS {rec.window.pss / MB:.0f} MB; {rec.frames_text()}; {rec.note}",
                    flush=True,
                )
                if ffmpeg:
                    ff = run_ffmpeg(site, sim, control, Path(tmp) / "ffmpeg", args)
                    rows.append(ff)
                    print(
                        f"{n} streams: ffmpeg {ff.cpu_per_stream_minute:.3f} cpu s/stream-min, "
                        f"PSS {ff.window.pss / MB:.0f} MB; {ff.frames_text()}; {ff.note}",
                        flush=True,
                    )
                if args.floor:
                    floor = [run_pyav_read(site, sim, control, args)]
                    if ffmpeg:
                        floor.append(run_ffmpeg_read(site, sim, control, args))
                    for r in floor:
                        rows.append(r)
                        print(
                            f"{n} streams: {r.label} {r.cpu_per_stream_minute:.3f} cpu "
                            f"s/stream-min; {r.frames_text()}; {r.note}",
                            flush=True,
                        )
            if args.keep is not None:
                keep_logs(Path(tmp), args.keep / f"{n}-streams")
    report(rows, latencies, args)


if __name__ == "__main__":
    main()
