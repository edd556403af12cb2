"""CPU and memory of the camera simulator (`cctvctl sim`) per served RTSP stream.

Run: .venv/bin/python benchmarks/sim_serve.py [--clients 16,64] [--seconds 20] [--cameras 16]

Writes a temporary inventory with the first --cameras cameras of examples/kutim.toml (same ids,
kecamatan and site names, so the loops already encoded for the example in the default cache
dir are reused; otherwise the first run encodes them) on a free RTSP port and a free control
port, no ONVIF, [sim] 640x360 15 fps. Starts `python -m cctvctl sim --config FILE` as its own
process, waits for the "Fault control:" banner, then for 0 (baseline) and each --clients count
opens that many RTSP/TCP clients in this process (raw asyncio sockets: Digest auth, SETUP
interleaved, PLAY, read and discard `$` frames) spread evenly over the cameras. After a
warm-up it measures the simulator's CPU time (user + system) over --seconds of wall time and
its RSS/USS at the end of the window. Prints figures only (the target is < 1 % of one core
per stream):
  cpu % core      simulator CPU time / wall time, in % of one core
  % / stream      the same divided by the number of streams (gross, baseline included)
  net / stream    (cpu % - baseline cpu %) / streams
  rss MB, uss MB  simulator memory at the end of the window
  +rss / stream   (rss - baseline rss) / streams
  kbps / client   bytes received on the wire per client (mean, min and max over clients)
  fps / client    RTP packets with the marker bit (one per frame) per second, mean
The benchmark's own CPU (the clients) and the load average are printed for context.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "kutim.toml"
WIDTH, HEIGHT, FPS = 640, 360, 15
WARMUP_SECONDS = 3.0
IO_TIMEOUT = 15.0
USER_AGENT = "cctvctl-bench-sim-serve/1"
_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^\s,]*))')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


# --- inventory -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Camera:
    id: str
    kecamatan: str
    site: str
    kind: str
    name: str
    password: str


def pick_cameras(count: int) -> list[Camera]:
    """The first ``count`` enabled cameras of the example inventory, with fresh passwords."""
    raw = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    cams: list[Camera] = []
    for kec in raw["kecamatan"]:
        for site in kec.get("site", []):
            for cam in site.get("camera", []):
                if cam.get("enabled", True) and len(cams) < count:
                    cams.append(
                        Camera(
                            cam["id"], kec["name"], site["name"], site["kind"], cam["name"],
                            secrets.token_urlsafe(9),
                        )
                    )  # fmt: skip
    if len(cams) < count:
        raise SystemExit(f"{EXAMPLE} has only {len(cams)} enabled cameras; asked for {count}")
    return cams


def write_inventory(folder: Path, cams: list[Camera], rtsp: int, control: int) -> Path:
    q = json.dumps  # TOML basic strings are JSON strings for this plain text
    lines = [
        "[server]",
        'secrets = "secrets.toml"',
        "",
        "[sim]",
        f'control = "127.0.0.1:{control}"',
        f"width = {WIDTH}",
        f"height = {HEIGHT}",
        f"fps = {FPS}",
        "loop_seconds = 20",
        "gop_seconds = 2",
        "reboot_seconds = 20",
    ]
    grouped: dict[str, dict[tuple[str, str], list[Camera]]] = {}
    for cam in cams:
        grouped.setdefault(cam.kecamatan, {}).setdefault((cam.site, cam.kind), []).append(cam)
    for kec, sites in grouped.items():
        lines += ["", "[[kecamatan]]", f"name = {q(kec)}"]
        for (site, kind), site_cams in sites.items():
            lines += ["  [[kecamatan.site]]", f"  name = {q(site)}", f"  kind = {q(kind)}"]
            for cam in site_cams:
                lines += [
                    "    [[kecamatan.site.camera]]",
                    f"    id = {q(cam.id)}",
                    f"    name = {q(cam.name)}",
                    f'    rtsp = "rtsp://127.0.0.1:{rtsp}/{cam.id}"',
                    '    username = "admin"',
                ]
    config = folder / "bench.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    pw = "\n".join(f"{q(c.id)} = {q(c.password)}" for c in cams)
    (folder / "secrets.toml").write_text(f"[passwords]\n{pw}\n", encoding="utf-8")
    return config


# --- the simulator process -----------------------------------------------------------------


class SimProcess:
    def __init__(self, config: Path, cache_dir: Path | None) -> None:
        cmd = [sys.executable, "-m", "cctvctl", "sim", "--config", str(config), "--no-color"]
        if cache_dir is not None:
            cmd += ["--cache-dir", str(cache_dir)]
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
            env={**os.environ, "COLUMNS": "200"},
        )
        self.lines: list[str] = []
        self.ready = threading.Event()
        # Drain stdout for the whole run so the simulator never blocks on a full pipe.
        self._drain = threading.Thread(target=self._read, daemon=True)
        self._drain.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if "Fault control:" in line:
                self.ready.set()
        self.ready.set()  # EOF: let the waiter see the process died

    def wait_ready(self, timeout: float) -> None:
        if not self.ready.wait(timeout) or self.proc.poll() is not None:
            self.stop()
            raise SystemExit("simulator did not start:\n" + "".join(self.lines[-30:]))

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._drain.join(timeout=5)
        return self.proc.returncode


# --- a small RTSP/TCP client ---------------------------------------------------------------


class RtspError(Exception):
    pass


@dataclass
class Client:
    host: str
    port: int
    path: str
    username: str
    password: str
    url: str = ""
    cseq: int = 0
    nc: int = 0
    challenge: dict[str, str] | None = None
    channel: int = 0
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    task: asyncio.Task[None] | None = None
    bytes: int = 0
    packets: int = 0
    frames: int = 0
    ended: str | None = None

    def __post_init__(self) -> None:
        self.url = f"rtsp://{self.host}:{self.port}{self.path}"

    def _authorization(self, method: str, uri: str) -> str:
        ch = self.challenge or {}
        realm, nonce = ch.get("realm", ""), ch.get("nonce", "")
        ha1 = _md5(f"{self.username}:{realm}:{self.password}")
        ha2 = _md5(f"{method}:{uri}")
        parts = [
            f'username="{self.username}"',
            f'realm="{realm}"',
            f'nonce="{nonce}"',
            f'uri="{uri}"',
            "algorithm=MD5",
        ]
        if "auth" in [q.strip() for q in ch.get("qop", "").split(",")]:
            self.nc += 1
            nc, cnonce = f"{self.nc:08x}", secrets.token_hex(8)
            response = _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
            parts += ["qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
        else:
            response = _md5(f"{ha1}:{nonce}:{ha2}")
        parts.append(f'response="{response}"')
        if "opaque" in ch:
            parts.append(f'opaque="{ch["opaque"]}"')
        return "Digest " + ", ".join(parts)

    async def _request(
        self, method: str, uri: str, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        assert self.reader is not None and self.writer is not None
        for _ in range(2):
            self.cseq += 1
            lines = [f"{method} {uri} RTSP/1.0", f"CSeq: {self.cseq}", f"User-Agent: {USER_AGENT}"]
            lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
            if self.challenge is not None:
                lines.append(f"Authorization: {self._authorization(method, uri)}")
            self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            await self.writer.drain()
            head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            status_line = head[0].split(" ", 2)
            if len(status_line) < 2 or not status_line[0].startswith("RTSP/"):
                raise RtspError(f"{method}: bad status line {head[0]!r}")
            status = int(status_line[1])
            resp: dict[str, str] = {}
            for line in head[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    resp[name.strip().lower()] = value.strip()
            body = await self.reader.readexactly(int(resp.get("content-length", "0") or 0))
            if status == 401 and "www-authenticate" in resp and self.challenge is None:
                scheme, _, rest = resp["www-authenticate"].partition(" ")
                if scheme.lower() != "digest":
                    raise RtspError(f"{method}: unsupported auth {resp['www-authenticate']!r}")
                self.challenge = {
                    m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
                    for m in _PARAM.finditer(rest)
                }
                continue
            if status != 200:
                raise RtspError(f"{method} {uri}: {head[0]}")
            return status, resp, body
        raise RtspError(f"{method} {uri}: authentication refused")

    async def open(self) -> None:
        """Connect, OPTIONS, DESCRIBE, SETUP (TCP interleaved), PLAY; then read in a task."""
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        await self._request("OPTIONS", self.url)
        _, resp, sdp = await self._request("DESCRIBE", self.url, {"Accept": "application/sdp"})
        base = resp.get("content-base", self.url + "/")
        media = sdp.decode("utf-8").split("\r\nm=", 1)[-1]
        control = next(
            (ln[len("a=control:") :] for ln in media.split("\r\n") if ln.startswith("a=control:")),
            "trackID=0",
        )
        track = control if "://" in control else base.rstrip("/") + "/" + control
        transport = "RTP/AVP/TCP;unicast;interleaved=0-1"
        _, resp, _ = await self._request("SETUP", track, {"Transport": transport})
        session = resp.get("session", "").split(";")[0].strip()
        if not session:
            raise RtspError("SETUP: no Session header")
        match = re.search(r"interleaved=(\d+)", resp.get("transport", ""))
        self.channel = int(match.group(1)) if match else 0
        await self._request("PLAY", base.rstrip("/"), {"Session": session, "Range": "npt=0.000-"})
        self.task = asyncio.get_running_loop().create_task(self._consume())

    async def _consume(self) -> None:
        """Read and discard interleaved frames, counting bytes, RTP packets and frames."""
        assert self.reader is not None
        buf = bytearray()
        channel = self.channel
        try:
            while True:
                chunk = await self.reader.read(256 * 1024)
                if not chunk:
                    self.ended = "server closed the connection"
                    return
                self.bytes += len(chunk)
                buf += chunk
                i, n = 0, len(buf)
                while n - i >= 4:
                    if buf[i] != 0x24:
                        self.ended = f"unexpected non-interleaved data {bytes(buf[i : i + 16])!r}"
                        return
                    length = (buf[i + 2] << 8) | buf[i + 3]
                    if n - i - 4 < length:
                        break
                    if buf[i + 1] == channel:
                        self.packets += 1
                        if length >= 2 and buf[i + 5] & 0x80:  # RTP marker: last of a frame
                            self.frames += 1
                    i += 4 + length
                del buf[:i]
        except (ConnectionError, OSError) as exc:
            self.ended = f"{type(exc).__name__}: {exc}"
        except asyncio.CancelledError:
            return

    def counters(self) -> tuple[int, int, int]:
        return self.bytes, self.packets, self.frames

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError, TimeoutError):
                await asyncio.wait_for(self.writer.wait_closed(), 2.0)


# --- measurement ---------------------------------------------------------------------------


@dataclass
class Result:
    clients: int
    streams: int
    wall: float
    cpu_pct: float
    rss: int
    uss: int | None
    kbps: list[float]
    fps: list[float]
    packets: int
    dropped: int
    bench_cpu_pct: float
    load: tuple[float, float, float]


def _memory(proc: psutil.Process) -> tuple[int, int | None]:
    try:
        full = proc.memory_full_info()
        return int(full.rss), int(full.uss)
    except (psutil.AccessDenied, AttributeError):
        return int(proc.memory_info().rss), None


async def measure(
    sim: psutil.Process, cams: list[Camera], rtsp_port: int, count: int, seconds: float
) -> Result:
    clients = [
        Client("127.0.0.1", rtsp_port, f"/{cam.id}", "admin", cam.password)
        for cam in (cams[i % len(cams)] for i in range(count))
    ]
    me = psutil.Process()
    try:
        opened = await asyncio.gather(
            *(asyncio.wait_for(c.open(), IO_TIMEOUT) for c in clients), return_exceptions=True
        )
        failed = [(c, e) for c, e in zip(clients, opened, strict=True) if e is not None]
        if failed:
            client, exc = failed[0]
            raise SystemExit(f"{len(failed)} of {count} clients failed; {client.path}: {exc!r}")
        await asyncio.sleep(WARMUP_SECONDS)
        if count and not all(c.packets for c in clients):
            silent = sum(not c.packets for c in clients)
            raise SystemExit(f"{silent} of {count} clients received nothing in the warm-up")
        before = [c.counters() for c in clients]
        sim_cpu0, my_cpu0 = sim.cpu_times(), me.cpu_times()
        t0 = time.monotonic()
        await asyncio.sleep(seconds)
        t1 = time.monotonic()
        sim_cpu1, my_cpu1 = sim.cpu_times(), me.cpu_times()
        after = [c.counters() for c in clients]
        rss, uss = _memory(sim)
        load = os.getloadavg()
    finally:
        await asyncio.gather(*(c.close() for c in clients))
    wall = t1 - t0
    cpu = (sim_cpu1.user - sim_cpu0.user) + (sim_cpu1.system - sim_cpu0.system)
    mine = (my_cpu1.user - my_cpu0.user) + (my_cpu1.system - my_cpu0.system)
    return Result(
        clients=count,
        streams=count,
        wall=wall,
        cpu_pct=100 * cpu / wall,
        rss=rss,
        uss=uss,
        kbps=[(a[0] - b[0]) * 8 / wall / 1000 for a, b in zip(after, before, strict=True)],
        fps=[(a[2] - b[2]) / wall for a, b in zip(after, before, strict=True)],
        packets=sum(a[1] - b[1] for a, b in zip(after, before, strict=True)),
        dropped=sum(c.ended is not None for c in clients),
        bench_cpu_pct=100 * mine / wall,
        load=load,
    )


def _fmt_load(load: tuple[float, float, float]) -> str:
    return " ".join(f"{x:.2f}" for x in load)


def print_table(results: list[Result]) -> None:
    base = results[0]
    mb = 1024 * 1024
    header = (
        f"{'clients':>7} {'streams':>7} {'cpu % core':>10} {'% / stream':>10} "
        f"{'net / stream':>12} {'rss MB':>7} {'uss MB':>7} {'+rss / stream':>13} "
        f"{'kbps / client (min-max)':>24} {'fps / client':>12} {'packets':>8} {'dropped':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        uss = f"{r.uss / mb:7.1f}" if r.uss is not None else f"{'-':>7}"
        if r.streams:
            per = f"{r.cpu_pct / r.streams:9.3f}%"
            net = f"{(r.cpu_pct - base.cpu_pct) / r.streams:11.3f}%"
            plus = f"{(r.rss - base.rss) / r.streams / 1024:10.0f} KB"
            mean = sum(r.kbps) / len(r.kbps)
            kbps = f"{mean:6.0f} ({min(r.kbps):.0f}-{max(r.kbps):.0f})"
            fps = f"{sum(r.fps) / len(r.fps):12.2f}"
        else:
            per, net, plus, kbps, fps = f"{'-':>10}", f"{'-':>12}", f"{'-':>13}", "-", "-"
        print(
            f"{r.clients:7d} {r.streams:7d} {r.cpu_pct:9.2f}% {per} {net} "
            f"{r.rss / mb:7.1f} {uss} {plus} {kbps:>24} {fps:>12} {r.packets:8d} {r.dropped:7d}"
        )
    print()
    for r in results:
        print(
            f"{r.clients:3d} clients: {r.wall:.1f} s window, benchmark (clients) cpu "
            f"{r.bench_cpu_pct:.2f}% of a core, load average at end {_fmt_load(r.load)}"
        )


# --- main ----------------------------------------------------------------------------------


async def run(sim: SimProcess, cams: list[Camera], rtsp: int, args: argparse.Namespace) -> None:
    proc = psutil.Process(sim.proc.pid)
    results: list[Result] = []
    for count in [0, *args.clients]:
        print(f"measuring {count} clients ...", flush=True)
        results.append(await measure(proc, cams, rtsp, count, args.seconds))
        if sim.proc.poll() is not None:
            raise SystemExit("simulator exited:\n" + "".join(sim.lines[-30:]))
        await asyncio.sleep(1.0)  # let the simulator tidy up closed connections
    print()
    print_table(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--clients",
        type=lambda s: [int(x) for x in s.split(",") if x.strip()],
        default=[16, 64],
        help="comma-separated client counts, e.g. 16,64",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window per count")
    parser.add_argument("--cameras", type=int, default=16, help="cameras the simulator serves")
    parser.add_argument("--cache-dir", type=Path, default=None, help="default ~/.cache/...")
    args = parser.parse_args()

    print(f"load average at start: {_fmt_load(os.getloadavg())} ({os.cpu_count()} CPUs)")
    cams = pick_cameras(args.cameras)
    cache_dir = args.cache_dir
    if cache_dir is None:
        xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        shown = Path(xdg) / "cctvctl" / "sim"
    else:
        shown = cache_dir
    cached_before = set(shown.glob("*.h264")) if shown.is_dir() else set()
    with tempfile.TemporaryDirectory(prefix="sim-serve-") as tmp:
        rtsp, control = free_port(), free_port()
        config = write_inventory(Path(tmp), cams, rtsp, control)
        started = time.monotonic()
        sim = SimProcess(config, cache_dir)
        try:
            sim.wait_ready(timeout=1800)
            prep = time.monotonic() - started
            encoded = len(set(shown.glob("*.h264")) - cached_before) if shown.is_dir() else 0
            print(
                f"simulator pid {sim.proc.pid}: {len(cams)} cameras at {WIDTH}x{HEIGHT} {FPS} fps "
                f"on rtsp://127.0.0.1:{rtsp}, ready in {prep:.1f} s "
                f"({encoded} loops encoded, the rest from the cache {shown})"
            )
            print(
                f"warm-up {WARMUP_SECONDS:.0f} s, window {args.seconds:.0f} s per count; "
                f"clients spread evenly over the {len(cams)} cameras"
            )
            asyncio.run(run(sim, cams, rtsp, args))
        finally:
            code = sim.stop()
        print(f"simulator stopped, exit code {code}")
    print(f"load average at end: {_fmt_load(os.getloadavg())}")


if __name__ == "__main__":
    main()
