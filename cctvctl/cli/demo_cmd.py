"""`cctvctl demo`: simulator, recording server and console in one command, for a first look.

The demo never touches the inventory it is given. It writes a derived copy into a fresh
temporary folder (``cctvctl-demo-*``): storage inside that folder, the API on a free
loopback port, one generated admin token, the cameras' passwords in a secrets file, and
simulator ports moved to free ones where the inventory's are taken. The simulator and
the server then run as child processes in sessions of their own, so a Ctrl-C typed into
the console reaches only the console, and this process decides the order of shutdown.

Nothing is left behind: quitting the console, Ctrl-C before it opens, SIGTERM or SIGHUP
all end in the same clean-up (server, then simulator: SIGTERM, up to 10 s, then SIGKILL;
the folder is removed unless ``--keep``). On Linux the children also ask the kernel for
SIGTERM when this process dies (``PR_SET_PDEATHSIG``), which covers a SIGKILL as well.

Encoded scene loops are cached outside the temporary folder (``~/.cache/cctvctl/sim``),
so only the very first demo on a machine pays for encoding them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, Final
from urllib.parse import urlsplit, urlunsplit

import typer

from cctvctl.cli import exit_codes
from cctvctl.cli.common import fail_usage
from cctvctl.cli.output import error
from cctvctl.units import counted

if TYPE_CHECKING:
    import socket

    from textual.app import App

    from cctvctl.config import Inventory
    from cctvctl.sim.model import SimCamera, SimSettings

__all__ = ["demo", "find_default_config", "register", "toml_text"]

DEFAULT_CONFIG: Final = Path("examples") / "kutim.toml"
#: The repository checkout this package runs from (an editable install), if any.
REPO: Final = Path(__file__).resolve().parent.parent.parent
HOST: Final = "127.0.0.1"
TOKEN_NAME: Final = "demo-admin"  # noqa: S105 (the name a token is listed under)
SIM_READY_SECONDS: Final = 60.0  # loops are encoded before the simulator starts
SERVER_READY_SECONDS: Final = 60.0
STOP_SECONDS: Final = 10.0
LOG_TAIL_LINES: Final = 15
STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG: Final = 1  # <linux/prctl.h>
FOLDER_PREFIX: Final = "cctvctl-demo-"
#: In the folder while its demo runs; a folder whose demo was SIGKILLed still holds it.
PID_FILE: Final = "demo.pid"


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            metavar="FILE",
            help="Inventory TOML to demonstrate (default: examples/kutim.toml).",
        ),
    ] = None,
    keep: Annotated[
        bool,
        typer.Option("--keep", help="Keep the temporary folder (recordings, index, logs)."),
    ] = False,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            min=1024,
            max=65535,
            metavar="PORT",
            help="Port for the server's API (default: a free one).",
        ),
    ] = None,
    readonly: Annotated[
        bool, typer.Option("--readonly", help="Console with every changing action turned off.")
    ] = False,
    ascii_: Annotated[
        bool, typer.Option("--ascii", help="Monochrome ASCII thumbnails, for thin links.")
    ] = False,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir", metavar="DIR", help="Encoded scene loops (default ~/.cache/cctvctl/sim)."
        ),
    ] = None,
) -> None:
    """Simulated cameras, a recording server and the console, all in one go.

    Starts the camera simulator for the inventory, a server recording its cameras into a
    temporary folder with a fresh admin token, and opens the console on it. Quit with q;
    everything started is stopped and the folder removed (unless --keep). The first run
    encodes one scene loop per camera (about a minute for examples/kutim.toml); later runs
    start in seconds.

    Example: cctvctl demo --ascii --keep
    """
    path = config if config is not None else find_default_config()
    if path is None:
        fail_usage(f"no {DEFAULT_CONFIG} here or in {REPO}; give an inventory with --config FILE")
    inventory = _load(path)
    if not any(e.camera.enabled for e in inventory.cameras()):
        fail_usage(f"{path}: no enabled camera to demonstrate")
    if port is not None and not port_free(port):
        error(f"--port {port} is in use; pick another or leave --port out for a free one")
        raise typer.Exit(exit_codes.FAILURE)
    code = Demo(inventory, keep=keep, port=port, cache_dir=cache_dir).run(
        readonly=readonly, ascii_=ascii_
    )
    if code:
        raise typer.Exit(code)


def find_default_config() -> Path | None:
    """``examples/kutim.toml`` under the working directory, else in this checkout."""
    for base in (Path.cwd(), REPO):
        candidate = base / DEFAULT_CONFIG
        if candidate.is_file():
            return candidate
    return None


def _load(path: Path) -> Inventory:
    from cctvctl.config import ConfigError, load_inventory

    try:
        return load_inventory(path)
    except ConfigError as exc:
        for line in exc.lines():
            error(line)
        raise typer.Exit(exit_codes.USAGE) from None


# --------------------------------------------------------------------------- ports


def port_free(port: int, host: str = HOST) -> bool:
    """True if a listener could bind ``host:port`` now (as asyncio and the server do)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def plan_ports(wanted: list[int], count_free: int = 0) -> tuple[dict[int, int], list[int]]:
    """Keep each wanted port that is usable, move the others to free ones.

    Returns (wanted -> actual, ``count_free`` extra free ports). Free ports are held open
    until all are chosen, so no two of them are the same.
    """
    import socket

    held: list[socket.socket] = []

    def fresh() -> int:
        while True:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((HOST, 0))
            held.append(sock)
            got: int = sock.getsockname()[1]
            if got not in wanted:
                return got

    try:
        mapping = {p: p if p >= 1024 and port_free(p) else fresh() for p in dict.fromkeys(wanted)}
        extra = [fresh() for _ in range(count_free)]
    finally:
        for sock in held:
            sock.close()
    return mapping, extra


def _with_port(url: str, ports: Mapping[int, int], default: int) -> str:
    parts = urlsplit(url)
    port = ports[parts.port or default]
    return urlunsplit(parts._replace(netloc=f"{HOST}:{port}"))


# --------------------------------------------------------------------------- inventory


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON strings are TOML basic strings
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def _is_table_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def toml_text(data: Mapping[str, Any]) -> str:
    """A TOML document for JSON-like ``data`` (what ``model_dump(mode="json")`` gives)."""
    lines: list[str] = []

    def table(body: Mapping[str, Any], path: tuple[str, ...]) -> None:
        for key, value in body.items():
            if not isinstance(value, dict) and not _is_table_list(value):
                lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
        for key, value in body.items():
            name = ".".join(_toml_key(p) for p in (*path, key))
            if isinstance(value, dict):
                lines.extend(["", f"[{name}]"])
                table(value, (*path, key))
            elif _is_table_list(value):
                for item in value:
                    lines.extend(["", f"[[{name}]]"])
                    table(item, (*path, key))

    table(data, ())
    return "\n".join(lines).lstrip("\n") + "\n"


@dataclass
class Derived:
    """What :func:`derive_inventory` wrote."""

    config: Path
    url: str
    token: str
    control_port: int
    moved: dict[int, int] = field(default_factory=dict)  # inventory port -> port used


def derive_inventory(inventory: Inventory, folder: Path, port: int | None) -> Derived:
    """Write the demo's own inventory into ``folder``: see the module's docstring."""
    import secrets

    from cctvctl.cli.server_cmd import TOKEN_PREFIX
    from cctvctl.config import hash_token

    entries = [e for e in inventory.cameras() if e.camera.enabled]
    control = int(inventory.sim.control.rpartition(":")[2])
    wanted = [urlsplit(e.camera.rtsp).port or 554 for e in entries]
    wanted += [urlsplit(e.camera.onvif).port or 80 for e in entries if e.camera.onvif]
    wanted.append(control)
    ports, extra = plan_ports(wanted, count_free=0 if port is not None else 1)
    api_port = port if port is not None else extra[0]
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)

    data = inventory.data.model_dump(mode="json", exclude_none=True)
    server = data["server"]
    server.update(
        listen=f"{HOST}:{api_port}",
        storage="recordings",
        secrets="secrets.toml",
        token=[{"name": TOKEN_NAME, "role": "admin", "hash": hash_token(token)}],
    )
    data["sim"]["control"] = f"{HOST}:{ports[control]}"
    for kec in data["kecamatan"]:
        for site in kec.get("site", []):
            cams = [c for c in site.get("camera", []) if c.get("enabled", True)]
            for cam in cams:
                cam.pop("password_env", None)
                cam["rtsp"] = _with_port(cam["rtsp"], ports, 554)
                if "onvif" in cam:
                    cam["onvif"] = _with_port(cam["onvif"], ports, 80)
            site["camera"] = cams

    source = inventory.path.resolve()
    header = f"# Written by `cctvctl demo` from {source}; kept only with --keep.\n"
    config = folder / "inventory.toml"
    # Private like the secrets: it holds the demo token's hash, and the server warns
    # about an inventory with token hashes that others can read.
    _write_private(config, header + toml_text(data))
    passwords = {e.camera.id: inventory.password(e.camera.id) for e in entries}
    _write_private(folder / "secrets.toml", toml_text({"passwords": passwords}))
    _write_private(folder / "demo-token", token + "\n")
    return Derived(
        config=config,
        url=f"http://{HOST}:{api_port}",
        token=token,
        control_port=ports[control],
        moved={a: b for a, b in ports.items() if a != b},
    )


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


# --------------------------------------------------------------------------- processes


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux for SIGTERM when the demo dies, even by SIGKILL."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the demo died before prctl took effect
            os._exit(1)

    return preexec


class Child:
    """A ``python -m cctvctl ...`` child in a session of its own, its output in a log file."""

    def __init__(self, name: str, args: list[str], log: Path) -> None:
        import subprocess

        self.name = name
        self.log = log
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cctvctl", *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                # No other thread runs here (loops are encoded before), so it is safe.
                preexec_fn=_die_with_parent(),
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = LOG_TAIL_LINES) -> list[str]:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return []
        return text.splitlines()[-lines:]

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """SIGTERM to its process group, up to ``timeout`` s, then SIGKILL."""
        import subprocess

        if self.alive():
            self._signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.proc.wait()
        # Anything the child started and left in its group goes too.
        self._signal_group(signal.SIGKILL)

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)


class Interrupted(BaseException):
    """A stop signal arrived while no console was running to close."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class Demo:
    """One demo run: folder, simulator, server, console, clean-up."""

    def __init__(
        self, inventory: Inventory, *, keep: bool, port: int | None, cache_dir: Path | None
    ) -> None:
        self.inventory = inventory
        self.keep = keep
        self.port = port
        self.cache_dir = cache_dir
        self.children: list[Child] = []
        self.app: App[None] | None = None
        self.signalled: int | None = None

    # -- signals ------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        first = self.signalled is None
        self.signalled = signum
        if first and self.app is not None:
            import asyncio

            # The handler runs on the main thread, inside the console's event loop.
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().call_soon_threadsafe(self.app.exit)
                return
        raise Interrupted(signum)

    @contextlib.contextmanager
    def _signals(
        self, handler: Callable[[int, FrameType | None], Any] | signal.Handlers
    ) -> Iterator[None]:
        previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)

    # -- the run ------------------------------------------------------------------------

    def run(self, *, readonly: bool, ascii_: bool) -> int:
        import shutil
        import tempfile

        _sweep_orphans(Path(tempfile.gettempdir()))
        folder = Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX))
        (folder / PID_FILE).write_text(f"{os.getpid()}\n", encoding="utf-8")
        code = exit_codes.OK
        try:
            with self._signals(self._on_signal):
                code = self._run(folder, readonly=readonly, ascii_=ascii_)
        except (Interrupted, KeyboardInterrupt) as exc:
            signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
            code = 128 + int(signum)
        finally:
            # Nothing may interrupt the clean-up; it is bounded (2 x STOP_SECONDS).
            with self._signals(signal.SIG_IGN):
                for child in reversed(self.children):
                    child.stop()
                if self.keep:
                    (folder / PID_FILE).unlink(missing_ok=True)
                    with contextlib.suppress(OSError):  # the terminal may be gone (SIGHUP)
                        print(f"kept {folder} (inventory.toml, recordings/, logs, demo-token)")
                else:
                    shutil.rmtree(folder, ignore_errors=True)
        if self.signalled is not None and code == exit_codes.OK:
            code = 128 + self.signalled
        return code

    def _run(self, folder: Path, *, readonly: bool, ascii_: bool) -> int:
        from cctvctl.cli.sim_cmd import sim_cameras, sim_settings

        derived = derive_inventory(self.inventory, folder, self.port)
        if derived.moved:
            busy = sorted(derived.moved)
            shown = ", ".join(map(str, busy[:3])) + (", …" if len(busy) > 3 else "")
            print(f"{len(busy)} simulator port(s) in use ({shown}): moved to free ones")
            print(f"faults: cctvctl sim fault CAM offline --control {HOST}:{derived.control_port}")
        inventory = _load(derived.config)
        cameras = sim_cameras(inventory)
        settings = sim_settings(inventory, cache_dir=self.cache_dir)
        started = time.monotonic()
        _prepare_loops(cameras, settings)
        print(f"starting simulator ({counted(len(cameras), 'camera')})…", flush=True)
        sim_args = ["sim", "--config", str(derived.config), "--no-color"]
        sim_args += ["--cache-dir", str(settings.cache_dir)]
        sim = self._start("simulator", sim_args, folder / "sim.log")
        control = f"http://{HOST}:{derived.control_port}/cameras"
        if not self._wait(sim, control, SIM_READY_SECONDS):
            return exit_codes.FAILURE
        print(f"server on {derived.url} (storage {folder})…", flush=True)
        server_args = ["server", "--config", str(derived.config)]
        server = self._start("server", server_args, folder / "server.log")
        if not self._wait(server, f"{derived.url}/healthz", SERVER_READY_SECONDS):
            return exit_codes.FAILURE
        print(
            f"ready in {time.monotonic() - started:.1f} s (simulator pid {sim.pid}, "
            f"server pid {server.pid}); opening the console…",
            flush=True,
        )
        return self._console(derived, readonly=readonly, ascii_=ascii_)

    def _start(self, name: str, args: list[str], log: Path) -> Child:
        child = Child(name, args, log)
        self.children.append(child)
        return child

    def _wait(self, child: Child, url: str, timeout: float) -> bool:
        """Until ``url`` answers 200; False (and the log's tail shown) if it never does."""
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not child.alive():
                why = f"exited with code {child.proc.returncode}"
                break
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            why = f"did not answer {url} within {timeout:.0f} s"
        error(f"the {child.name} {why}; the last lines of {child.log}:")
        for line in child.tail():
            print(f"  {line}", file=sys.stderr)
        if not self.keep:
            print("  (run with --keep to keep the logs)", file=sys.stderr)
        return False

    def _console(self, derived: Derived, *, readonly: bool, ascii_: bool) -> int:
        from cctvctl.tui.app import CctvApp

        app = CctvApp(derived.url, derived.token, "demo", readonly=readonly, ascii=ascii_)
        self.app = app
        try:
            app.run()
        finally:
            self.app = None
        return app.return_code or exit_codes.OK


def _sweep_orphans(tmp: Path) -> None:
    """Remove the folders of earlier demos that died without cleaning up (SIGKILL)."""
    import shutil

    for pid_file in tmp.glob(f"{FOLDER_PREFIX}*/{PID_FILE}"):
        try:
            pid = int(pid_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not _running(pid):
            shutil.rmtree(pid_file.parent, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _prepare_loops(cameras: list[SimCamera], settings: SimSettings) -> None:
    """Encode (or find in the cache) every camera's loop, with a progress bar."""
    from rich.progress import Progress

    from cctvctl.cli.output import console
    from cctvctl.sim.loop import load_loops

    with Progress(console=console(), transient=True) as bar:
        task = bar.add_task("Preparing scene loops", total=len(cameras))

        def progress(done: int, total: int, camera_id: str) -> None:
            bar.update(task, completed=done, description=f"Scene loop {camera_id}")

        load_loops(cameras, settings, progress)
