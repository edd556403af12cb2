"""Integration harness: a real simulator and a real `cctvctl server` subprocess.

Nothing of ours is mocked. A test describes a small site (:class:`SiteSpec`), and the
harness writes it as an inventory TOML under ``tmp_path`` (cameras, a secrets file with
distinctive passwords, one API token per role), serves its cameras with the simulator in
a background thread, and runs ``python -m cctvctl server --config ...`` as a subprocess on
a free loopback port, waiting until ``/healthz`` answers.

Typical use, through the fixtures registered in ``conftest.py``::

    def test_something(site_factory, sim_factory, server_factory):
        site = site_factory(SiteSpec(cameras=2, segment_seconds=3))
        sim = sim_factory(site)
        server = server_factory(site)
        with server.client("viewer") as api:
            assert api.get("/api/v1/cameras").status_code == 200
        sim.fault(site.camera_ids[0], "offline")

or the module-scoped ``live`` fixture (4 cameras in 2 kecamatan, shared by a module).
Everything started through the fixtures is stopped at teardown, servers with SIGTERM
(then SIGKILL if they hang). Server output goes to a log file per start
(:attr:`ServerProcess.log_paths`), so tests can assert on it; read it with
:meth:`ServerProcess.log_text`.

Sizes are small on purpose (320x180, 10 fps, 4 s loops, 1 s GOP, segments of a few
seconds), so a whole test file runs in well under a minute.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import random
import re
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from cctvctl.cli.sim_cmd import sim_cameras, sim_settings
from cctvctl.config import hash_token, load_inventory, slugify
from cctvctl.sim.service import SimulatorThread

__all__ = [
    "ROLES",
    "EventStream",
    "Live",
    "RunningSim",
    "ServerProcess",
    "Site",
    "SiteSpec",
    "SseEvent",
    "free_port",
    "live_site",
    "segment_spans",
    "serving",
    "start_sim",
    "wait_for",
    "write_site",
]

ROLES = ("viewer", "operator", "admin")
REPO = Path(__file__).resolve().parent.parent

T = TypeVar("T")


# --------------------------------------------------------------------------- helpers


# Below Linux's ephemeral range (32768-60999): a port the kernel handed out for binding
# to 0 is also where every outgoing connection of the other workers takes its local port,
# so one chosen there can be taken before the simulator binds it (seen: EADDRINUSE).
_PORTS = range(10_000, 32_768)
_handed: set[int] = set()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now, never the same twice in this process (the
    small race with another process picking the same port is accepted)."""
    while True:
        port = random.choice(_PORTS)
        if port in _handed:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed.add(port)
        return port


def wait_for(
    probe: Callable[[], T | None],
    timeout: float,
    *,
    interval: float = 0.2,
    what: str = "condition",
) -> T:
    """Call ``probe`` until it returns something truthy; that value is returned.

    Raises AssertionError naming ``what`` (and the last value seen) after ``timeout``.
    """
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f} s waiting for {what}; last: {last!r}"
            )
        time.sleep(interval)


# --------------------------------------------------------------------------- site


@dataclass(frozen=True)
class SiteSpec:
    """A small site to test against. Cameras are dealt round-robin over ``kecamatan``."""

    cameras: int = 4
    kecamatan: tuple[str, ...] = ("Sangatta Utara", "Bengalon")
    segment_seconds: int = 3
    offline_after: float = 3.0
    retention_days: float = 30.0
    # kecamatan name -> quota in (decimal) GB; 0.0002 is 200 kB, a few small segments.
    quota_gb: dict[str, float] = field(default_factory=dict)
    disabled: tuple[int, ...] = ()  # positions in Site.camera_ids written with enabled = false
    onvif: bool = False  # give every camera an ONVIF device service on its own port
    width: int = 320
    height: int = 180
    fps: int = 10
    loop_seconds: float = 4.0
    gop_seconds: float = 1.0
    server_lines: tuple[str, ...] = ()  # extra TOML lines for [server], e.g. "header_timeout = 2"
    # position in Site.camera_ids -> extra TOML lines for that camera, e.g.
    # ('audio = "keep"', 'sim = { codec = "h265", audio = "aac" }')
    camera_lines: dict[int, tuple[str, ...]] = field(default_factory=dict)
    no_user: tuple[int, ...] = ()  # positions written without username (no credentials)
    sim_lines: tuple[str, ...] = ()  # extra TOML lines for [sim], e.g. 'scenes = "shared"'


@dataclass
class Site:
    """What :func:`write_site` wrote: paths, tokens and secrets a test can use."""

    spec: SiteSpec
    dir: Path
    config: Path  # the inventory TOML
    storage: Path
    tokens: dict[str, str]  # role -> bearer token
    passwords: dict[str, str]  # camera id -> password (must never leak)
    camera_ids: list[str]
    camera_kecamatan: dict[str, str]  # camera id -> kecamatan slug
    kecamatan: dict[str, str]  # slug -> name, in inventory order
    rtsp_port: int
    control_port: int

    def cameras_in(self, slug: str) -> list[str]:
        return [c for c in self.camera_ids if self.camera_kecamatan[c] == slug]


def _toml_str(value: str | bool) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string or boolean is TOML too


def camera_toml(cam_id: str, name: str, rtsp: str, *, user: bool = True, **keys: str | bool) -> str:
    """One ``[[kecamatan.site.camera]]`` table, indented as inventories are; user ``admin``."""
    fields: dict[str, str | bool] = {"id": cam_id, "name": name, "rtsp": rtsp}
    fields |= {"username": "admin", **keys} if user else keys
    body = "".join(f"    {key} = {_toml_str(value)}\n" for key, value in fields.items())
    return "    [[kecamatan.site.camera]]\n" + body


def write_site(directory: Path, spec: SiteSpec = SiteSpec()) -> Site:
    """Write an inventory (and its secrets file) for ``spec`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    rtsp_port = free_port()
    control_port = free_port()
    tokens = {role: f"test-{role}-{secrets.token_urlsafe(16)}" for role in ROLES}
    kec_slugs = {slugify(name): name for name in spec.kecamatan}
    ids: list[str] = []
    placement: dict[str, str] = {}
    for n in range(spec.cameras):
        slug = list(kec_slugs)[n % len(kec_slugs)]
        cam_id = f"{slug[:3]}-cam-{n + 1:02d}"
        ids.append(cam_id)
        placement[cam_id] = slug
    # Inventory order: kecamatan by kecamatan, as the server lists them.
    order = list(kec_slugs)
    ids.sort(key=lambda cam: order.index(placement[cam]))
    # Distinctive, so a leak is found by a plain substring search of bodies and logs.
    passwords = {cam: f"pw-{cam}-{secrets.token_hex(6)}" for cam in ids}

    lines = [
        "[server]",
        'storage = "recordings"',
        f"segment_seconds = {spec.segment_seconds}",
        f"retention_days = {spec.retention_days}",
        f"offline_after = {spec.offline_after}",
        'secrets = "secrets.toml"',
        *spec.server_lines,
        "",
    ]
    for role in ROLES:
        lines += [
            "[[server.token]]",
            f'name = "test-{role}"',
            f'role = "{role}"',
            f'hash = "{hash_token(tokens[role])}"',
            "",
        ]
    lines += [
        "[sim]",
        f'control = "127.0.0.1:{control_port}"',
        f"width = {spec.width}",
        f"height = {spec.height}",
        f"fps = {spec.fps}",
        f"loop_seconds = {spec.loop_seconds}",
        f"gop_seconds = {spec.gop_seconds}",
        "reboot_seconds = 2",
        *spec.sim_lines,
        "",
    ]
    for slug, name in kec_slugs.items():
        lines += ["[[kecamatan]]", f"name = {_toml_str(name)}"]
        if name in spec.quota_gb:
            lines.append(f"quota_gb = {spec.quota_gb[name]}")
        lines += [
            "",
            "  [[kecamatan.site]]",
            f"  name = {_toml_str('Kantor Camat ' + name)}",
            '  kind = "kantor_kecamatan"',
            "",
        ]
        for n, cam in enumerate(ids):
            if placement[cam] != slug:
                continue
            keys: dict[str, str | bool] = {}
            if spec.onvif:
                keys["onvif"] = f"http://127.0.0.1:{free_port()}/onvif/device_service"
            if n in spec.disabled:
                keys["enabled"] = False
            rtsp = f"rtsp://127.0.0.1:{rtsp_port}/{cam}"
            lines.append(
                camera_toml(cam, f"Kamera {n + 1}", rtsp, user=n not in spec.no_user, **keys)
            )
            lines += [f"    {line}" for line in spec.camera_lines.get(n, ())]
    config = directory / "site.toml"
    config.write_text("\n".join(lines), encoding="utf-8")
    secrets_lines = ["[passwords]", *(f"{c} = {_toml_str(p)}" for c, p in passwords.items())]
    (directory / "secrets.toml").write_text("\n".join(secrets_lines) + "\n", encoding="utf-8")
    return Site(
        spec=spec,
        dir=directory,
        config=config,
        storage=directory / "recordings",
        tokens=tokens,
        passwords=passwords,
        camera_ids=ids,
        camera_kecamatan=placement,
        kecamatan=kec_slugs,
        rtsp_port=rtsp_port,
        control_port=control_port,
    )


def sized_segment_spans(storage: Path, camera: str) -> list[tuple[float, float, int, int]]:
    """As :func:`segment_spans`, with each segment's picture size: (start, end, width,
    height)."""
    db = storage / "index.sqlite3"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            'SELECT start, "end", width, height FROM segments WHERE camera = ? ORDER BY start',
            (camera,),
        )
        return [(float(s), float(e), w, h) for s, e, w, h in rows]


def segment_spans(storage: Path, camera: str) -> list[tuple[float, float]]:
    """The camera's segments in the index of the server at ``storage``, read-only, oldest
    first, as (start, end) in epoch seconds."""
    db = storage / "index.sqlite3"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            'SELECT start, "end" FROM segments WHERE camera = ? ORDER BY start', (camera,)
        )
        return [(float(s), float(e)) for s, e in rows]


def without_camera(config: str, camera: str) -> str:
    """Inventory text as :func:`write_site` wrote it, with one camera's table left out
    (each table ends at a blank line): a site whose simulator serves one camera more."""
    blocks = config.split("\n\n")
    kept = [b for b in blocks if not ("[[kecamatan.site.camera]]" in b and f'"{camera}"' in b)]
    if len(kept) != len(blocks) - 1:
        raise ValueError(f"no camera table for {camera!r}")
    return "\n\n".join(kept)


# --------------------------------------------------------------------------- simulator


class RunningSim:
    """The site's cameras served by the simulator in this process; break them with :meth:`fault`."""

    def __init__(self, site: Site, cache_dir: Path) -> None:
        inventory = load_inventory(site.config)
        self.site = site
        self.thread = SimulatorThread(
            sim_cameras(inventory), sim_settings(inventory, cache_dir=cache_dir)
        )
        self.control_url = f"http://127.0.0.1:{site.control_port}"

    def start(self) -> RunningSim:
        self.thread.start()
        return self

    def fault(self, camera_id: str, mode: str, period: float | None = None) -> dict[str, Any]:
        """drop | stall | flap | offline | recover, through the simulator's fault control."""
        body: dict[str, Any] = {"mode": mode}
        if period is not None:
            body["period"] = period
        resp = httpx.post(f"{self.control_url}/cameras/{camera_id}/fault", json=body, timeout=5)
        resp.raise_for_status()
        state: dict[str, Any] = resp.json()
        return state

    def stop(self) -> None:
        self.thread.stop()


def start_sim(site: Site, cache_dir: Path) -> RunningSim:
    return RunningSim(site, cache_dir).start()


# --------------------------------------------------------------------------- server


class ServerProcess:
    """``python -m cctvctl server`` for a site, on a free loopback port.

    :meth:`start` may be called again after :meth:`stop` or :meth:`kill` (same port, a new
    log file), which is how the crash test restarts the server over the same storage.
    """

    def __init__(self, site: Site, *, port: int | None = None, args: tuple[str, ...] = ()) -> None:
        self.site = site
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_paths: list[Path] = []

    # -- life cycle -----------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> ServerProcess:
        log_path = self.site.dir / f"server-{len(self.log_paths) + 1}.log"
        self.log_paths.append(log_path)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "cctvctl",
                    "server",
                    "--config",
                    str(self.site.config),
                    "--listen",
                    f"127.0.0.1:{self.port}",
                    *self.args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=REPO,
                env=env,
            )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(
                    f"server exited with {self.proc.returncode} before it was ready:\n"
                    + self.log_text(-1)
                )
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server not ready after {timeout:.0f} s:\n" + self.log_text(-1))

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait; returns the exit code (SIGKILLs and raises if it hangs)."""
        proc = self.proc
        if proc is None:
            return 0
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise AssertionError(
                    f"server ignored SIGTERM for {timeout:.0f} s:\n" + self.log_text(-1)
                ) from None
        return proc.returncode

    def kill(self) -> None:
        """SIGKILL: the crash the recorder must survive."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    # -- talking to it ----------------------------------------------------------------

    def client(self, role: str | None = "viewer", *, token: str | None = None) -> httpx.Client:
        """An httpx client for this server with ``role``'s token (None: no token)."""
        headers = {}
        bearer = token if token is not None else (self.site.tokens[role] if role else None)
        if bearer is not None:
            headers["Authorization"] = f"Bearer {bearer}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)

    def get(self, path: str, role: str | None = "viewer", **kwargs: Any) -> httpx.Response:
        with self.client(role) as api:
            return api.get(path, **kwargs)

    def events(self, query: str = "", role: str = "viewer") -> EventStream:
        """An open ``/api/v1/events`` stream; use as a context manager."""
        path = "/api/v1/events" + (f"?{query}" if query else "")
        return EventStream(self.url + path, self.site.tokens[role])

    def requests(self, request: str) -> int:
        """How many times the server answered ``request`` (``"GET /api/v1/exports/ID"``:
        that path exactly, no query). Needs ``args=("--access-log",)``."""
        return len(re.findall(rf'"{re.escape(request)} HTTP/', self.log_text()))

    def log_text(self, which: int | None = None) -> str:
        """Server output: one start's (``which`` indexes :attr:`log_paths`) or all of it."""
        paths = self.log_paths if which is None else [self.log_paths[which]]
        return "".join(p.read_text(errors="replace") for p in paths if p.exists())


# --------------------------------------------------------------------------- SSE


@contextmanager
def stream_cutting_proxy(upstream_port: int) -> Iterator[tuple[str, list[int]]]:
    """A TCP proxy to the server that hangs up on every ``/api/v1/events`` request and
    passes everything else: an event stream that a middlebox keeps cutting, no mocks.
    A request is looked at wherever it starts, also on a kept-alive connection (HTTP/1.1
    sends one request at a time on it). Yields its URL and a one-item list counting the
    streams it cut."""
    listener = socket.create_server(("127.0.0.1", free_port()))
    cut = [0]
    lock = threading.Lock()

    def close(*socks: socket.socket) -> None:
        for sock in socks:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def upstream(server: socket.socket, client: socket.socket) -> None:
        with suppress(OSError):
            while data := server.recv(16384):
                client.sendall(data)
        close(server, client)

    def handle(client: socket.socket) -> None:
        server = socket.create_connection(("127.0.0.1", upstream_port))
        threading.Thread(target=upstream, args=(server, client), daemon=True).start()
        with suppress(OSError):
            while data := client.recv(16384):
                if data.startswith(b"GET /api/v1/events"):
                    with lock:
                        cut[0] += 1
                    break
                server.sendall(data)
        close(client, server)

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


@dataclass(frozen=True)
class SseEvent:
    id: str | None
    event: str
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


class EventStream:
    """Reads a server-sent event stream in a thread; take events with :meth:`next`.

    A reader thread keeps the timeouts simple: :meth:`wait_for` is a plain queue wait,
    whatever the stream is doing.
    """

    def __init__(self, url: str, token: str, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}", **(headers or {})}
        self.status: int | None = None
        self.content_type: str | None = None
        self.comments: list[str] = []
        self._queue: queue.Queue[SseEvent | BaseException | None] = queue.Queue()
        self._opened = threading.Event()
        self._stop = threading.Event()
        self._socket: socket.socket | None = None
        self._thread = threading.Thread(target=self._run, name="sse-reader", daemon=True)

    def __enter__(self) -> EventStream:
        self._thread.start()
        if not self._opened.wait(10):
            raise AssertionError(f"no response from {self.url} within 10 s")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        sock = self._socket
        if sock is not None:
            # Wakes the reader blocked in recv() at once; closing alone would not.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)

    def _run(self) -> None:
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(5.0, read=None)) as client,
                client.stream("GET", self.url, headers=self.headers) as resp,
            ):
                self.status = resp.status_code
                self.content_type = resp.headers.get("content-type")
                stream = resp.extensions.get("network_stream")
                if stream is not None:
                    self._socket = stream.get_extra_info("socket")
                self._opened.set()
                if resp.status_code != 200:
                    return
                fields: dict[str, str] = {}
                for line in resp.iter_lines():
                    if self._stop.is_set():
                        return
                    if not line:
                        if "data" in fields:
                            self._queue.put(
                                SseEvent(
                                    fields.get("id"),
                                    fields.get("event", "message"),
                                    fields["data"],
                                )
                            )
                        fields = {}
                    elif line.startswith(":"):
                        self.comments.append(line[1:].strip())
                    else:
                        name, _, value = line.partition(":")
                        value = value.removeprefix(" ")
                        if name == "data" and "data" in fields:
                            fields["data"] += "\n" + value
                        else:
                            fields[name] = value
        except BaseException as exc:  # handed to the test thread
            self._queue.put(exc)
        finally:
            self._opened.set()
            self._queue.put(None)

    def next(self, timeout: float) -> SseEvent | None:
        """The next event, or None on timeout or once the stream has ended."""
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if isinstance(item, BaseException):
            if self._stop.is_set():
                return None
            raise item
        if item is None:
            self._queue.put(None)  # stay ended for later calls
        return item

    def wait_for(self, predicate: Callable[[SseEvent], bool], timeout: float) -> SseEvent:
        """The first event matching ``predicate`` (others are skipped)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            event = self.next(left)
            if event is None:
                if not self._thread.is_alive():
                    break
                continue
            if predicate(event):
                return event
        raise AssertionError(f"no matching event from {self.url} within {timeout:.0f} s")


# --------------------------------------------------------------------------- all together


@dataclass
class Live:
    site: Site
    sim: RunningSim
    server: ServerProcess


@contextmanager
def serving(site: Site, sim: RunningSim, args: tuple[str, ...] = ()) -> Iterator[Live]:
    """Starts the server for a site whose simulator runs; stops the server, then the sim.

    For module fixtures that change the site between simulator and server."""
    server = ServerProcess(site, args=args)
    try:
        server.start()
        yield Live(site, sim, server)
    finally:
        try:
            server.stop()
        finally:
            sim.stop()


@contextmanager
def live_site(directory: Path, cache_dir: Path, spec: SiteSpec = SiteSpec()) -> Iterator[Live]:
    """Site + simulator + server, torn down in reverse order."""
    site = write_site(directory, spec)
    with serving(site, start_sim(site, cache_dir)) as live:
        yield live


def onvif_commands(calls: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """Of the simulator's ONVIF call counts per camera, the calls that change a camera.

    A server's device checker reads each camera's clock and identity (Get...) on its own
    schedule and at every reconnect, so those counts move whatever a test's request does.
    """
    return {
        cam: {op: n for op, n in ops.items() if not op.startswith("Get")}
        for cam, ops in calls.items()
    }
