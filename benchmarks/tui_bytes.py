"""Bytes per second that `cctvctl tui` writes to the terminal for a camera grid and for one
camera's screen, and the pictures that reach it.

Run: .venv/bin/python benchmarks/tui_bytes.py [--seconds 30] [--warmup 5]
         [--sizes 160x48,80x24] [--modes truecolor,256,ascii] [--cameras 16] [--refresh 2]
         [--thumbnail-seconds 1] [--screens grid,camera] [--no-static] [--no-twins]
         [--dump DIR]

Writes a site with --cameras cameras in ONE kecamatan under a temporary folder and starts the
simulator and `cctvctl server` for it with the test harness (tests/harness.py), with
`[server] thumbnail_seconds` set to --thumbnail-seconds (the server's own default, 2 s, would
halve the picture rate). For each mode and terminal size it runs
`python -m cctvctl tui --url ... --token ... --refresh R` (plus `--ascii` in ascii mode) on a
real pseudo-terminal of that size (TERM=xterm-256color; COLORTERM=truecolor for truecolor, no
COLORTERM for 256 colours and ascii; COLUMNS/LINES/NO_COLOR removed), waits for the kecamatan
overview, presses Enter to open the kecamatan's grid (at 160x48 all 16 tiles fit; at 80x24 a
page of 4); for the camera screen it presses Enter once more, on the first tile, and waits
for the camera screen (picture, figures, the 24 h timeline, recent events). It lets the
screen warm up, then counts every byte read from the pty master over --seconds.
Tiles fetch a thumbnail about once per second and the simulated cameras' pictures move: the
"one thumbnail refresh per second" case. Then `q`, and the child is reaped (killed if hung).
Unless --no-static, the same modes run again at the first size against a server whose
thumbnail cache outlives the run, so the pictures never change: what the console costs when
there is nothing new to show. Unless --no-twins, 256 and ascii also run at the first size with
moving pictures and `--max-kbps 0` (256-nobudget, ascii-nobudget): the console's picture byte
budget turned off, so what the budget saves in bytes is shown next to what it costs in pictures.

Targets (from the spec): at most 8 KB/s in 256 colours and 2 KB/s in ASCII, for moving
pictures (no target for truecolor; printed for comparison), the grid and the camera screen
alike (issue 11: the camera screen once sent 21 KB/s). KB here is 1000 bytes.

Prints one row per run: bytes/s, KB/s, target, verdict, and next to them the pictures that
reached the screen. Everything the terminal got is replayed into a terminal emulator (pyte);
each tile's picture area is found from where its name line stands (on the camera screen: left
of the figures, above the timeline), and a tile counts a picture
update for every burst of output that changes a glyph or colour there. Per run: tiles seen,
picture updates per tile per second (mean, and the slowest tile), the longest any tile kept one
picture, and bytes per picture update. Then, per run, where the bytes
go: SGR (colour/style) escape bytes and how many 24-bit (38;2 / 48;2) or 256-colour (38;5 /
48;5) colours they carry (which also checks the depth the run really used), cursor moves,
printable text (of which upper half blocks), screen updates (bursts of output) per second
and the rows each touches, and how much of it is full-screen repaints (updates that rewrite
at least 90 % of the rows) versus partial updates.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import itertools
import os
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyte

from cctvctl.tui.screens.grid import THUMB_INTERVAL

ROOT = Path(__file__).resolve().parent.parent
KECAMATAN = "Sangatta Utara"
KB = 1000
# Mode name -> (extra tui args, COLORTERM or None, target in bytes/s or None).
MODES: dict[str, tuple[tuple[str, ...], str | None, int | None]] = {
    "truecolor": ((), "truecolor", None),
    "256": ((), None, 8 * KB),
    "ascii": (("--ascii",), None, 2 * KB),
    # The same without the console's picture byte budget: what the budget costs in pictures.
    "256-nobudget": (("--max-kbps", "0"), None, None),
    "ascii-nobudget": (("--ascii", "--max-kbps", "0"), None, None),
}
# What is open while bytes are counted: a kecamatan's grid, or the first tile's camera screen.
SCREENS = ("grid", "camera")
# Modes whose budget has a no-budget twin above.
BUDGETED = ("256", "ascii")
# Output bursts closer than this belong to one screen update.
UPDATE_GAP = 0.010
START_TIMEOUT = 60.0
QUIT_TIMEOUT = 10.0

_SGR = re.compile(rb"\x1b\[[0-9;:]*m")
_CUP = re.compile(rb"\x1b\[(\d+);(\d+)H")
_CSI = re.compile(rb"\x1b\[[0-9;:?<>=$]*[ -/]*[@-~]")
_HALF_BLOCK = "\u2580".encode()


@contextmanager
def running_server(cameras: int, thumbnail_seconds: float) -> Iterator[tuple[str, str, list[str]]]:
    """Site + simulator + server from the test harness, with ``[server] thumbnail_seconds``.

    The server caches a camera's thumbnail for ``thumbnail_seconds`` (default 2 s), so that,
    not the console's 1 s poll, sets how often the picture can change.
    """
    sys.path.insert(0, str(ROOT / "tests"))
    from harness import ServerProcess, SiteSpec, start_sim, write_site

    with tempfile.TemporaryDirectory(prefix="cctvctl-bench-") as tmp:
        spec = SiteSpec(cameras=cameras, kecamatan=(KECAMATAN,))
        site = write_site(Path(tmp) / "site", spec)
        text = site.config.read_text(encoding="utf-8")
        text = text.replace("[server]\n", f"[server]\nthumbnail_seconds = {thumbnail_seconds}\n", 1)
        site.config.write_text(text, encoding="utf-8")
        sim = start_sim(site, Path(tmp) / "cache")
        server = ServerProcess(site)
        try:
            server.start()
            yield server.url, site.tokens["viewer"], site.camera_ids
        finally:
            try:
                server.stop()
            finally:
                sim.stop()


# --- the pseudo-terminal --------------------------------------------------------------------


@dataclass
class PtyCapture:
    """Reads the pty master in a thread and keeps every chunk with its arrival time."""

    fd: int
    chunks: list[tuple[float, bytes]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="pty-reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if not ready:
                continue
            try:
                data = os.read(self.fd, 65536)
            except OSError:  # EIO once the child has gone and the slave is closed
                return
            if not data:
                return
            with self._lock:
                self.chunks.append((time.monotonic(), data))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)

    def text(self) -> bytes:
        with self._lock:
            return b"".join(data for _, data in self.chunks)

    def window(self, start: float, end: float) -> list[tuple[float, bytes]]:
        with self._lock:
            return [(t, data) for t, data in self.chunks if start <= t < end]

    def before(self, start: float) -> bytes:
        with self._lock:
            return b"".join(data for t, data in self.chunks if t < start)

    def wait_for(self, needle: bytes, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.text():
                return
            time.sleep(0.1)
        tail = self.text()[-2000:]
        raise SystemExit(
            f"timed out after {timeout:.0f} s waiting for {what} ({needle!r}); last output:\n"
            f"{tail!r}"
        )


def set_winsize(fd: int, cols: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def tui_env(colorterm: str | None) -> dict[str, str]:
    env = dict(os.environ)
    # COLUMNS/LINES would override the pty's size; NO_COLOR and friends would change depth.
    for name in (
        "COLUMNS",
        "LINES",
        "NO_COLOR",
        "COLORTERM",
        "TEXTUAL_COLOR_SYSTEM",
        "FORCE_COLOR",
    ):
        env.pop(name, None)
    env["TERM"] = "xterm-256color"
    if colorterm is not None:
        env["COLORTERM"] = colorterm
    return env


def stop_child(proc: subprocess.Popen[bytes], master: int) -> int:
    """`q`, then SIGTERM, then SIGKILL; always reaps."""
    with contextlib.suppress(OSError):
        os.write(master, b"q")
    try:
        return proc.wait(QUIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        pass
    print(f"  (tui ignored q for {QUIT_TIMEOUT:.0f} s; terminating)", file=sys.stderr)
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


# --- one run ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    mode: str
    pictures: str
    screen: str
    cols: int
    rows: int
    seconds: float
    chunks: list[tuple[float, bytes]]
    target: int | None
    before: bytes  # everything the terminal got before the window: the screen it starts from
    cameras: list[str]
    start: float  # monotonic time the window opened

    @property
    def data(self) -> bytes:
        return b"".join(data for _, data in self.chunks)

    @property
    def rate(self) -> float:
        return len(self.data) / self.seconds

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "-"
        if self.rate <= self.target:
            return "PASS"
        return f"OVER x{self.rate / self.target:.1f}"

    def updates(self) -> list[bytes]:
        """Output split into bursts (one screen update each, near enough)."""
        return [data for _, data in self.timed_updates()]

    def timed_updates(self) -> list[tuple[float, bytes]]:
        """Bursts with the arrival time of their first chunk."""
        bursts: list[tuple[float, list[bytes]]] = []
        last = -1.0
        for t, data in self.chunks:
            if not bursts or t - last > UPDATE_GAP:
                bursts.append((t, []))
            bursts[-1][1].append(data)
            last = t
        return [(t, b"".join(b)) for t, b in bursts]


def run_tui(
    url: str,
    token: str,
    cameras: list[str],
    mode: str,
    pictures: str,
    screen: str,
    size: tuple[int, int],
    *,
    warmup: float,
    seconds: float,
    refresh: float,
) -> Run:
    cols, rows = size
    extra, colorterm, target = MODES[mode]
    master, slave = os.openpty()
    set_winsize(slave, cols, rows)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cctvctl",
            "tui",
            "--url",
            url,
            "--token",
            token,
            "--refresh",
            str(refresh),
            *extra,
        ],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=ROOT,
        env=tui_env(colorterm),
        start_new_session=True,
        close_fds=True,
    )
    os.close(slave)
    capture = PtyCapture(master)
    capture.start()
    try:
        # The overview's table row appears once the first stats poll has answered.
        capture.wait_for(KECAMATAN.encode(), START_TIMEOUT, "the kecamatan overview")
        time.sleep(0.5)
        os.write(master, b"\r")
        capture.wait_for(b" cameras \xc2\xb7 page", START_TIMEOUT, "the camera grid")
        if screen == "camera":
            time.sleep(1.0)  # the tiles take focus once mounted
            os.write(master, b"\r")
            capture.wait_for(b"missing:", START_TIMEOUT, "the camera screen's timeline")
        time.sleep(warmup)
        start = time.monotonic()
        time.sleep(seconds)
        end = time.monotonic()
        if proc.poll() is not None:
            raise SystemExit(f"tui exited with {proc.returncode} during the measurement")
        return Run(
            mode,
            pictures,
            screen,
            cols,
            rows,
            end - start,
            capture.window(start, end),
            target,
            capture.before(start),
            cameras,
            start,
        )
    finally:
        stop_child(proc, master)
        capture.stop()
        os.close(master)


# --- what reached the screen -----------------------------------------------------------------


@dataclass(frozen=True)
class TileArea:
    """Where a tile's picture stands on the screen: rows [top, bottom), columns [left, right)."""

    camera: str
    top: int
    bottom: int
    left: int
    right: int


def find_tiles(display: list[str], cameras: list[str]) -> list[TileArea]:
    """Each visible tile's picture area, found from where its name line stands.

    A tile is a name line ("<id> <name>"), its picture, then a status line; tiles fill the
    grid down to the footer (the last screen row), the next tile starts where one ends.
    """
    names: list[tuple[int, int, str]] = []
    for y, line in enumerate(display):
        for cam in cameras:
            x = line.find(f"{cam} ")
            if x >= 0:
                names.append((y, x, cam))
    rows = sorted({y for y, _, _ in names})
    cols = sorted({x for _, x, _ in names})
    width, footer = len(display[0]) if display else 0, len(display) - 1
    areas: list[TileArea] = []
    for y, x, cam in names:
        below = next((r for r in rows if r > y), footer)
        right = next((c for c in cols if c > x), width)
        areas.append(TileArea(cam, y + 1, below - 1, x, right))
    return areas


def find_camera_picture(display: list[str], camera: str) -> TileArea:
    """The camera screen's picture: under the header, left of the figures (whose first
    row is "camera <id>"), above the timeline (its bar sits two rows over "missing:")."""
    label = re.compile(rf"\bcamera +{re.escape(camera)}\b")
    x = next((m.start() for line in display if (m := label.search(line))), -1)
    caption = next((y for y, line in enumerate(display) if "missing:" in line), -1)
    width = len(display[0]) if display else 0
    right = x if x > 0 else width * 2 // 3
    bottom = caption - 2 if caption > 3 else len(display) - 8
    return TileArea(camera, 1, bottom, 0, right)


@dataclass(frozen=True)
class PictureUpdates:
    """When each tile's picture changed on the emulated screen, in seconds into the window."""

    seconds: float
    changes: dict[str, list[float]]

    @property
    def tiles(self) -> int:
        return len(self.changes)

    def rates(self) -> list[float]:
        return [len(times) / self.seconds for times in self.changes.values()]

    @property
    def mean_rate(self) -> float:
        rates = self.rates()
        return sum(rates) / len(rates) if rates else 0.0

    @property
    def min_rate(self) -> float:
        return min(self.rates(), default=0.0)

    @property
    def total(self) -> int:
        return sum(len(times) for times in self.changes.values())

    @property
    def worst_gap(self) -> float:
        """The longest any tile went without a new picture (the window's edges count)."""
        worst = 0.0
        for times in self.changes.values():
            edges = [0.0, *times, self.seconds]
            worst = max(worst, *(b - a for a, b in itertools.pairwise(edges)))
        return worst


def picture_updates(run: Run) -> PictureUpdates:
    """Replays the output into a terminal emulator and notes every tile whose picture changed.

    The screen before the window is rebuilt from everything the terminal got before it; then
    each burst of output is fed in turn, and a tile counts a picture update for a burst when a
    cell of its picture area changes glyph or colour.
    """
    screen = pyte.Screen(run.cols, run.rows)
    stream = pyte.ByteStream(screen)
    stream.feed(run.before)
    if run.screen == "camera":
        text = "\n".join(screen.display)
        shown_id = next(
            (c for c in run.cameras if re.search(rf"camera +{re.escape(c)}\b", text)), ""
        )
        areas = [find_camera_picture(screen.display, shown_id)] if shown_id else []
    else:
        areas = find_tiles(screen.display, run.cameras)

    def cells(area: TileArea, y: int) -> tuple[tuple[str, str, str], ...]:
        line = screen.buffer[y]
        return tuple((line[x].data, line[x].fg, line[x].bg) for x in range(area.left, area.right))

    shown = {a.camera: [cells(a, y) for y in range(a.top, a.bottom)] for a in areas}
    changes: dict[str, list[float]] = {a.camera: [] for a in areas}
    for t, burst in run.timed_updates():
        screen.dirty.clear()
        stream.feed(burst)
        dirty = screen.dirty
        for area in areas:
            changed = False
            for y in range(area.top, area.bottom):
                if y not in dirty:
                    continue
                now = cells(area, y)
                if now != shown[area.camera][y - area.top]:
                    shown[area.camera][y - area.top] = now
                    changed = True
            if changed:
                changes[area.camera].append(t - run.start)
    return PictureUpdates(run.seconds, changes)


# --- reporting -------------------------------------------------------------------------------

CAVEATS = """
pic/tile/s: picture updates per tile per second that reached the screen: the pty output is
  replayed into a terminal emulator (pyte) and a tile counts one update for each burst of
  output (chunks less than {gap:.0f} ms apart) that changes a glyph or colour in its picture
  area (between its name and status lines). "slowest" is the tile with the fewest, "max gap"
  the longest any tile showed the same picture. A new picture whose cells all stay within
  the renderer's tolerance does not count: on screen it did not change. At most {ceiling:.2f}.
  B/picture is every byte of the window (header, badges and footer included) per update.
price of the byte budget: 256 and ascii run under the console's default picture budget
  (cctvctl/tui/budget.py); a tile over it keeps its old picture. The *-nobudget rows are the
  same runs with --max-kbps 0: their bytes/s against their pic/tile/s is what the budget saves
  and what it costs in stale pictures.
bytes are what the pty master received: what an SSH session would carry before its own
  compression; a terminal multiplexer in between (tmux) redraws in its own way.
"""


def breakdown(run: Run) -> str:
    data = run.data
    secs = run.seconds
    sgr = _SGR.findall(data)
    sgr_bytes = sum(map(len, sgr))
    csi_bytes = sum(map(len, _CSI.findall(data)))
    cups = _CUP.findall(data)
    cup_bytes = sum(len(b"\x1b[;H") + len(r) + len(c) for r, c in cups)
    text_bytes = len(_CSI.sub(b"", data))
    halves = data.count(_HALF_BLOCK)
    truecolor = len(re.findall(rb"[34]8;2;", data))
    xterm256 = len(re.findall(rb"[34]8;5;", data))
    updates = run.updates()
    rows_per_update = [len({r for r, _ in _CUP.findall(u)}) for u in updates]
    mean_rows = sum(rows_per_update) / len(rows_per_update) if rows_per_update else 0.0
    # An update that rewrites (nearly) every screen row is a full repaint.
    full = [u for u, n in zip(updates, rows_per_update, strict=True) if n >= 0.9 * run.rows]
    full_bytes = sum(map(len, full))
    partial_rows = sum(n for n in rows_per_update if n < 0.9 * run.rows)
    total = max(1, len(data))
    return "\n".join(
        [
            f"{run.mode} {run.pictures} {run.screen} {run.cols}x{run.rows}:"
            f" {len(data)} B in {secs:.1f} s",
            f"  SGR (colour/style)  {sgr_bytes / secs:8.0f} B/s  {100 * sgr_bytes / total:5.1f} %"
            f"   {len(sgr) / secs:6.0f} seq/s; colours per s: 24-bit {truecolor / secs:.0f},"
            f" 256 {xterm256 / secs:.0f}",
            f"  cursor moves (CUP)  {cup_bytes / secs:8.0f} B/s  {100 * cup_bytes / total:5.1f} %"
            f"   {len(cups) / secs:6.0f} moves/s",
            f"  other CSI           {(csi_bytes - sgr_bytes - cup_bytes) / secs:8.0f} B/s",
            f"  printable text      {text_bytes / secs:8.0f} B/s  {100 * text_bytes / total:5.1f} %"
            f"   of which half blocks {len(_HALF_BLOCK) * halves / secs:.0f} B/s",
            f"  updates             {len(updates) / secs:8.1f} /s    "
            f"{len(data) / max(1, len(updates)):6.0f} B/update, "
            f"{mean_rows:.1f} screen rows touched per update (of {run.rows})",
            f"  full repaints       {full_bytes / secs:8.0f} B/s  {100 * full_bytes / total:5.1f} %"
            f"   {len(full) / secs:6.2f} /s, {full_bytes / max(1, len(full)):.0f} B each",
            f"  partial updates     {(len(data) - full_bytes) / secs:8.0f} B/s"
            f"             {partial_rows / secs:6.1f} screen rows/s rewritten",
        ]
    )


def parse_size(text: str) -> tuple[int, int]:
    cols, _, rows = text.lower().partition("x")
    return int(cols), int(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window per run")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds after the grid opens")
    parser.add_argument("--sizes", default="160x48,80x24", help="terminal sizes, COLSxROWS")
    parser.add_argument("--modes", default="truecolor,256,ascii", help=", ".join(MODES))
    parser.add_argument("--cameras", type=int, default=16, help="cameras in the kecamatan")
    parser.add_argument(
        "--screens", default="grid,camera", help="what is open: grid, camera (one camera)"
    )
    parser.add_argument(
        "--refresh", type=float, default=2.0, help="the tui's --refresh (stats poll seconds)"
    )
    parser.add_argument(
        "--thumbnail-seconds",
        type=float,
        default=1.0,
        help="server thumbnail cache for moving pictures (1 = a new picture every second)",
    )
    parser.add_argument(
        "--no-static",
        action="store_true",
        help="skip the static-picture runs (first size only, same modes)",
    )
    parser.add_argument(
        "--no-twins",
        action="store_true",
        help="skip the no-budget runs of 256 and ascii (moving pictures, first size)",
    )
    parser.add_argument(
        "--dump", type=Path, default=None, help="write each run's measured bytes to DIR/*.ans"
    )
    args = parser.parse_args()
    sizes = [parse_size(s) for s in args.sizes.split(",") if s]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for mode in modes:
        if mode not in MODES:
            parser.error(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    screens = [s.strip() for s in args.screens.split(",") if s.strip()]
    for screen in screens:
        if screen not in SCREENS:
            parser.error(f"unknown screen {screen!r}; choose from {', '.join(SCREENS)}")

    # Moving: a fresh keyframe every --thumbnail-seconds. Static: the server's cache outlives
    # the run, so every thumbnail fetch returns the same picture and only chrome changes.
    plans: list[tuple[str, float, list[tuple[int, int]], list[str]]] = [
        ("moving", args.thumbnail_seconds, sizes, modes)
    ]
    twins = [f"{m}-nobudget" for m in modes if m in BUDGETED]
    if twins and not args.no_twins:
        plans.append(("moving", args.thumbnail_seconds, sizes[:1], twins))
    if not args.no_static:
        plans.append(("static", 3600.0, sizes[:1], modes))
    runs: list[Run] = []
    for pictures, thumbnail_seconds, plan_sizes, plan_modes in plans:
        with running_server(args.cameras, thumbnail_seconds) as (url, token, cameras):
            for size, mode, screen in itertools.product(plan_sizes, plan_modes, screens):
                print(
                    f"running {mode} {pictures} {screen} at {size[0]}x{size[1]} ...",
                    file=sys.stderr,
                    flush=True,
                )
                runs.append(
                    run_tui(
                        url,
                        token,
                        cameras,
                        mode,
                        pictures,
                        screen,
                        size,
                        warmup=args.warmup,
                        seconds=args.seconds,
                        refresh=args.refresh,
                    )
                )

    ceiling = 1 / max(THUMB_INTERVAL, args.thumbnail_seconds)
    print(
        f"\n{args.cameras} cameras in one kecamatan, {' or '.join(screens)} open,"
        f" {args.seconds:.0f} s per run,"
        f" stats every {args.refresh:g} s, thumbnails polled every {THUMB_INTERVAL:g} s"
        f" (moving: a new picture every {args.thumbnail_seconds:g} s, so at most"
        f" {ceiling:.2f} pictures per tile per second; static: never)"
    )
    print(
        f"{'mode':<15} {'pictures':<8} {'screen':<6} {'size':>7} {'bytes/s':>9} {'KB/s':>7}"
        f" {'target':>9}"
        f"  {'verdict':<8} {'tiles':>5} {'pic/tile/s':>10} {'slowest':>7} {'max gap s':>9}"
        f" {'B/picture':>9}"
    )
    for run in runs:
        target = f"{run.target / KB:.0f} KB/s" if run.target is not None else "-"
        pics = picture_updates(run)
        per_picture = f"{len(run.data) / pics.total:9.0f}" if pics.total else f"{'-':>9}"
        print(
            f"{run.mode:<15} {run.pictures:<8} {run.screen:<6} {f'{run.cols}x{run.rows}':>7}"
            f" {run.rate:9.0f}"
            f" {run.rate / KB:7.2f} {target:>9}  {run.verdict:<8} {pics.tiles:>5}"
            f" {pics.mean_rate:10.2f} {pics.min_rate:7.2f} {pics.worst_gap:9.1f} {per_picture}"
        )
    print(CAVEATS.format(ceiling=ceiling, gap=UPDATE_GAP * 1000))
    for run in runs:
        print(breakdown(run))
    if args.dump is not None:
        args.dump.mkdir(parents=True, exist_ok=True)
        for run in runs:
            name = f"{run.mode}-{run.pictures}-{run.screen}-{run.cols}x{run.rows}.ans"
            (args.dump / name).write_bytes(run.before + run.data)
        print(f"\nraw output (from the start, the window last) written to {args.dump}")


if __name__ == "__main__":
    main()
