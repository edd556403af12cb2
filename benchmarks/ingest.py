"""CPU and memory of the recorder ingesting N simulated RTSP cameras, against ffmpeg.

Run: .venv/bin/python benchmarks/ingest.py [--streams 16 64] [--seconds 40] [--warmup 10]
                                           [--size 640x360] [--fps 15] [--no-ffmpeg]

For each stream count it writes an inventory of N cameras, serves them with the
simulator (``SimulatorThread``) in a process of its own (so its CPU is not counted),
and runs the recorder (:class:`cctvctl.recorder.manager.Recorder` with a real index and
real files) in a second child process. After a warm-up it measures that process's CPU
time and memory over the window. Where ``ffmpeg`` is on PATH it then records the same
cameras the way Frigate does, one ``ffmpeg -rtsp_transport tcp -i URL -c copy -f
segment`` process per camera (fragmented MP4 segments, like ours), measured the same way.

Figures printed (no assertions):
  cpu s/stream-min   CPU seconds (user + system) per stream per minute of recording
  rss MB             resident memory of the recorder process (sum over ffmpeg processes)
  rss/stream MB      recorder: growth over the idle process (imports, index) per stream;
                     ffmpeg: RSS per process, and PSS per process (shared pages split)
  ratio              recorder cost / ffmpeg cost per stream
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
KECAMATAN = ("Sangatta Utara", "Bengalon", "Muara Wahau", "Rantau Pulung")
MB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# --------------------------------------------------------------------------- site


@dataclass
class Site:
    config: Path
    storage: Path
    urls: list[str]  # with credentials, for ffmpeg
    rtsp_port: int


def write_site(directory: Path, streams: int, size: str, fps: int) -> Site:
    width, height = (int(v) for v in size.lower().split("x"))
    rtsp_port, control_port = free_port(), free_port()
    lines = [
        "[server]",
        'storage = "recordings"',
        "segment_seconds = 60",
        'secrets = "secrets.toml"',
        "",
        "[sim]",
        f'control = "127.0.0.1:{control_port}"',
        f"width = {width}",
        f"height = {height}",
        f"fps = {fps}",
        "loop_seconds = 10",
        "gop_seconds = 2",
        "",
    ]
    passwords: dict[str, str] = {}
    urls: list[str] = []
    for k, name in enumerate(KECAMATAN):
        cams = [n for n in range(streams) if n % len(KECAMATAN) == k]
        if not cams:
            continue
        lines += [
            "[[kecamatan]]",
            f'name = "{name}"',
            "",
            "  [[kecamatan.site]]",
            f'  name = "Kantor Camat {name}"',
            '  kind = "kantor_kecamatan"',
            "",
        ]
        for n in cams:
            cam = f"bench-{n:03d}"
            passwords[cam] = f"pw{n:03d}"
            lines += [
                "    [[kecamatan.site.camera]]",
                f'    id = "{cam}"',
                f'    name = "Bench {n}"',
                f'    rtsp = "rtsp://127.0.0.1:{rtsp_port}/{cam}"',
                '    username = "admin"',
                "",
            ]
            urls.append(f"rtsp://admin:{passwords[cam]}@127.0.0.1:{rtsp_port}/{cam}")
    config = directory / "bench.toml"
    config.write_text("\n".join(lines), encoding="utf-8")
    secrets = ["[passwords]", *(f'{c} = "{p}"' for c, p in passwords.items())]
    (directory / "secrets.toml").write_text("\n".join(secrets) + "\n", encoding="utf-8")
    return Site(config, directory / "recordings", urls, rtsp_port)


@contextmanager
def simulator(site: Site, log: Path) -> Iterator[psutil.Process]:
    """The site's cameras served by a SimulatorThread in a child process of its own."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--sim-child", str(site.config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=REPO,
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


def sim_child(config: str) -> None:
    """Serve the inventory's cameras until SIGTERM (what `cctvctl sim` does, minus the CLI)."""
    from urllib.parse import urlsplit

    from cctvctl.config import load_inventory
    from cctvctl.sim.model import SimCamera, SimSettings
    from cctvctl.sim.service import SimulatorThread

    inventory = load_inventory(config)
    cameras = []
    for entry in inventory.cameras():
        url = urlsplit(entry.camera.rtsp)
        cameras.append(
            SimCamera(
                id=entry.camera.id,
                name=entry.camera.name,
                kecamatan=entry.kecamatan.name,
                site=entry.site.name,
                rtsp_port=url.port or 554,
                path=url.path,
                username=entry.camera.username,
                password=inventory.password(entry.camera.id),
            )
        )
    sim = inventory.sim
    host, _, port = sim.control.rpartition(":")
    settings = SimSettings(
        host=host,
        control_port=int(port),
        width=sim.width,
        height=sim.height,
        fps=sim.fps,
        loop_seconds=sim.loop_seconds,
        gop_seconds=sim.gop_seconds,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    thread = SimulatorThread(cameras, settings)
    thread.start()
    stop.wait()
    thread.stop()


# --------------------------------------------------------------------------- measuring


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
class Measure:
    label: str
    streams: int
    cpu: float  # seconds over the window
    window: float  # seconds
    rss: int  # bytes, summed over processes
    pss: int
    per_stream_rss: float  # bytes
    note: str = ""

    @property
    def cpu_per_stream_minute(self) -> float:
        return self.cpu / self.streams / (self.window / 60.0)


def measure(
    procs: list[psutil.Process], warmup: float, seconds: float
) -> tuple[float, float, int, int]:
    time.sleep(warmup)
    c0, t0 = cpu_seconds(procs), time.monotonic()
    time.sleep(seconds)
    c1, t1 = cpu_seconds(procs), time.monotonic()
    rss = pss = 0
    for p in procs:
        try:
            info = p.memory_full_info()
        except psutil.Error:
            continue
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
    return c1 - c0, t1 - t0, rss, pss


def run_recorder(
    site: Site, streams: int, warmup: float, seconds: float, batch: float | None
) -> Measure:
    extra = [] if batch is None else ["--batch", str(batch)]
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", str(site.config), *extra],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        cwd=REPO,
        text=True,
    )
    assert proc.stdout is not None
    baseline = json.loads(proc.stdout.readline())
    cpu, window, rss, pss = measure([psutil.Process(proc.pid)], warmup, seconds)
    proc.send_signal(signal.SIGTERM)
    summary = json.loads(proc.stdout.readline() or "{}")
    proc.wait(30)
    note = (
        f"{summary.get('online', '?')}/{streams} online, "
        f"{summary.get('fps', 0):.0f} frames/s in, {summary.get('segments', '?')} segments"
    )
    return Measure(
        "recorder", streams, cpu, window, rss, pss, (rss - baseline["rss"]) / streams, note
    )


def run_ffmpeg(site: Site, streams: int, warmup: float, seconds: float, out: Path) -> Measure:
    procs: list[subprocess.Popen[bytes]] = []
    for n, url in enumerate(site.urls):
        folder = out / f"cam-{n:03d}"
        folder.mkdir(parents=True)
        procs.append(
            subprocess.Popen(
                [
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
                    "-map",
                    "0:v",
                    "-c",
                    "copy",
                    "-f",
                    "segment",
                    "-segment_time",
                    "60",
                    "-segment_format",
                    "mp4",
                    "-segment_format_options",
                    "movflags=+frag_keyframe+empty_moov+default_base_moof",
                    "-reset_timestamps",
                    "1",
                    "-strftime",
                    "1",
                    str(folder / "%Y%m%d-%H%M%S.mp4"),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    try:
        ps = [psutil.Process(p.pid) for p in procs]
        cpu, window, rss, pss = measure(ps, warmup, seconds)
        alive = sum(p.poll() is None for p in procs)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
    written = sum(f.stat().st_size for f in out.rglob("*.mp4"))
    note = f"{alive}/{streams} running, {written / MB:.1f} MB written"
    return Measure("ffmpeg", streams, cpu, window, rss, pss, rss / streams, note)


# --------------------------------------------------------------------------- child


def child(config: str, batch: float | None) -> None:
    """The recorder process: record until SIGTERM, then print a one-line summary."""
    import logging
    from dataclasses import replace

    from cctvctl.config import load_inventory
    from cctvctl.recorder.ingest import IngestSettings
    from cctvctl.recorder.manager import Recorder
    from cctvctl.storage.database import Database
    from cctvctl.storage.event_store import EventStore
    from cctvctl.storage.events import EventBus

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    inventory = load_inventory(config)
    index = Database(inventory.storage)
    settings = IngestSettings(segment_seconds=inventory.server.segment_seconds)
    if batch is not None:
        settings = replace(settings, batch_seconds=batch)
    recorder = Recorder(inventory, index, EventBus(EventStore(index)), ingest_settings=settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(json.dumps({"rss": psutil.Process().memory_info().rss}), flush=True)
    recorder.start()
    stop.wait()
    cams = recorder.cameras()
    online = sum(c.status.value == "online" for c in cams)
    fps = sum(c.fps for c in cams)
    recorder.stop()
    print(json.dumps({"online": online, "fps": fps, "segments": index.segment_count()}))
    index.close()


# --------------------------------------------------------------------------- main


def report(rows: list[Measure]) -> None:
    print()
    print(
        f"{'streams':>7}  {'process':<9} {'cpu s/stream-min':>16}  {'rss MB':>8}  "
        f"{'rss/stream MB':>13}  {'pss/stream MB':>13}  notes"
    )
    for m in rows:
        pss = m.pss / m.streams / MB
        print(
            f"{m.streams:>7}  {m.label:<9} {m.cpu_per_stream_minute:>16.3f}  "
            f"{m.rss / MB:>8.1f}  {m.per_stream_rss / MB:>13.2f}  {pss:>13.2f}  {m.note}"
        )
    by_n: dict[int, dict[str, Measure]] = {}
    for m in rows:
        by_n.setdefault(m.streams, {})[m.label] = m
    for n, pair in sorted(by_n.items()):
        rec, ff = pair.get("recorder"), pair.get("ffmpeg")
        if rec is None or ff is None or ff.cpu <= 0:
            continue
        print(
            f"{n:>7}  ratio     cpu {rec.cpu_per_stream_minute / ff.cpu_per_stream_minute:.2f}x "
            f"ffmpeg per stream; memory {rec.pss / max(ff.pss, 1):.2f}x ffmpeg's PSS "
            f"({rec.rss / max(ff.rss, 1):.2f}x its summed RSS)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--no-ffmpeg", action="store_true")
    parser.add_argument(
        "--batch",
        type=float,
        default=None,
        help="recorder's read batching in seconds (default: IngestSettings' own; 0: off)",
    )
    parser.add_argument("--child", metavar="CONFIG", help=argparse.SUPPRESS)
    parser.add_argument("--sim-child", metavar="CONFIG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.batch)
        return
    if args.sim_child:
        sim_child(args.sim_child)
        return

    ffmpeg = None if args.no_ffmpeg else shutil.which("ffmpeg")
    print(
        f"{os.cpu_count()} CPUs; {args.size} at {args.fps} fps; warm-up {args.warmup:.0f} s, "
        f"window {args.seconds:.0f} s; ffmpeg: {ffmpeg or 'not measured'}; "
        f"recorder batch: {'default' if args.batch is None else args.batch}"
    )
    rows: list[Measure] = []
    for n in args.streams:
        with tempfile.TemporaryDirectory(prefix="cctvctl-bench-") as tmp:
            site = write_site(Path(tmp), n, args.size, args.fps)
            with simulator(site, Path(tmp) / "sim.log") as sim:
                sim_c0 = cpu_seconds([sim])
                began = time.monotonic()
                rec = run_recorder(site, n, args.warmup, args.seconds, args.batch)
                rows.append(rec)
                sim_rate = (cpu_seconds([sim]) - sim_c0) / (time.monotonic() - began)
                print(
                    f"{n} streams: recorder {rec.cpu_per_stream_minute:.3f} cpu s/stream-min, "
                    f"RSS {rec.rss / MB:.0f} MB ({rec.note}); simulator used "
                    f"{sim_rate * 100:.0f} % of a core",
                    flush=True,
                )
                if ffmpeg:
                    ff = run_ffmpeg(site, n, args.warmup, args.seconds, Path(tmp) / "ffmpeg")
                    rows.append(ff)
                    print(
                        f"{n} streams: ffmpeg {ff.cpu_per_stream_minute:.3f} cpu s/stream-min, "
                        f"RSS {ff.rss / MB:.0f} MB ({ff.note})",
                        flush=True,
                    )
    report(rows)


if __name__ == "__main__":
    main()
