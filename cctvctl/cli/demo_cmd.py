"""`cctvctl demo`: simulator, recording server and console in one command, for a first look.

The demo never touches the inventory it is given. It writes a derived copy into a fresh
temporary folder (``cctvctl-demo-*``, see ``demo_site``). The simulator and the server then
run as child processes in sessions of their own (``demo_children``), so a Ctrl-C typed
into the console reaches only the console, and this process decides the order of shutdown.

Nothing is left behind: quitting the console, Ctrl-C before it opens, SIGTERM or SIGHUP
all end in the same clean-up (server, then simulator: SIGTERM, up to 10 s, then SIGKILL;
the folder is removed). On Linux the children also ask the kernel for SIGTERM when this
process dies (``PR_SET_PDEATHSIG``), which covers a SIGKILL as well.

With ``--keep`` a quit from the console leaves the simulator and the server running on the
kept folder, so the CLI can be tried against them: the demo prints the ``cctvctl context
add`` line that points at them (the console's ``?`` shows it too) and how to stop them. A
signal still stops them; the folder stays.

Encoded scene loops are cached outside the temporary folder (``~/.cache/cctvctl/sim``),
so only the very first demo on a machine pays for encoding them.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from cctvctl.cli import exit_codes
from cctvctl.cli.common import fail_usage
from cctvctl.cli.demo_children import Child
from cctvctl.cli.demo_site import HOST, Derived, derive_inventory, port_free
from cctvctl.cli.inventory_file import load_inventory_or_exit
from cctvctl.cli.options import AsciiOpt
from cctvctl.cli.output import error
from cctvctl.units import counted

if TYPE_CHECKING:
    from textual.app import App

    from cctvctl.config import Inventory

__all__ = ["demo", "find_default_config"]

DEFAULT_CONFIG: Final = Path("examples") / "kutim.toml"
#: The repository checkout this package runs from (an editable install), if any.
REPO: Final = Path(__file__).resolve().parent.parent.parent
SIM_READY_SECONDS: Final = 60.0  # loops are encoded before the simulator starts
SERVER_READY_SECONDS: Final = 60.0
STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
FOLDER_PREFIX: Final = "cctvctl-demo-"
#: In the folder while its demo runs; a folder whose demo was SIGKILLed still holds it.
PID_FILE: Final = "demo.pid"


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
        typer.Option(
            "--keep",
            help="When the console quits, leave the simulator and server running and keep "
            "their folder (recordings, index, logs, token), to try the CLI against them.",
        ),
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
    ascii_: AsciiOpt = False,
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
    everything started is stopped and the folder removed, unless --keep, which leaves the
    server running and prints the `cctvctl context add` line for it. The first run
    encodes a short scene loop per camera, one process per core (about 30 s of encoding
    for examples/kutim.toml on 2 idle cores); later runs start in seconds.

    Example: cctvctl demo --ascii --keep
    """
    path = config if config is not None else find_default_config()
    if path is None:
        fail_usage(f"no {DEFAULT_CONFIG} here or in {REPO}; give an inventory with --config FILE")
    inventory = load_inventory_or_exit(path)
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
        self.quit_from_console = False
        self.cli_lines: list[str] = []

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
                self._clean_up(folder)
        if self.signalled is not None and code == exit_codes.OK:
            code = 128 + self.signalled
        return code

    def _clean_up(self, folder: Path) -> None:
        import shutil

        leave = self.keep and self.quit_from_console and self.signalled is None
        if leave and all(child.alive() for child in self.children):
            (folder / PID_FILE).unlink(missing_ok=True)
            self._say(self._left_running(folder))
            return
        for child in reversed(self.children):
            child.stop()
        if self.keep:
            (folder / PID_FILE).unlink(missing_ok=True)
            self._say([f"kept {folder} (inventory.toml, recordings/, logs, demo-token)"])
        else:
            shutil.rmtree(folder, ignore_errors=True)
            if self.quit_from_console:
                self._say(STOPPED_LINES)

    @staticmethod
    def _say(lines: list[str]) -> None:
        with contextlib.suppress(OSError):  # the terminal may be gone (SIGHUP)
            print("\n".join(lines), flush=True)

    def _left_running(self, folder: Path) -> list[str]:
        pids = " ".join(str(child.pid) for child in self.children)
        running = " and ".join(f"the {c.name} (pid {c.pid})" for c in self.children)
        return [
            f"{running} keep running, recording into {folder}.",
            "Point the CLI at them:",
            *(f"  {line}" for line in self.cli_lines),
            f"Stop them with: kill {pids}   (then: rm -r {shlex.quote(str(folder))})",
        ]

    def _run(self, folder: Path, *, readonly: bool, ascii_: bool) -> int:
        from cctvctl.cli.sim_cmd import prepare_loops, sim_cameras, sim_settings

        derived = derive_inventory(self.inventory, folder, self.port)
        if derived.moved:
            busy = sorted(derived.moved)
            shown = ", ".join(map(str, busy[:3])) + (", …" if len(busy) > 3 else "")
            print(f"{len(busy)} simulator port(s) in use ({shown}): moved to free ones")
            print(f"faults: cctvctl sim fault CAM offline --control {HOST}:{derived.control_port}")
        inventory = load_inventory_or_exit(derived.config)
        cameras = sim_cameras(inventory)
        settings = sim_settings(inventory, cache_dir=self.cache_dir)
        started = time.monotonic()
        prepare_loops(cameras, settings)
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
        self.cli_lines = cli_lines(derived.url, folder)
        return self._console(derived, readonly=readonly, ascii_=ascii_)

    def _start(self, name: str, args: list[str], log: Path) -> Child:
        child = Child(name, args, log, outlive=self.keep)
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

        if self.keep:
            note = "This demo's server stays running after q (--keep); point the CLI at it:"
        else:
            note = "Quitting stops this demo; `cctvctl demo --keep` leaves its server running."
            note += " While it runs, point the CLI at it:"
        note = "\n".join([note, *(f"  {line}" for line in self.cli_lines)])
        app = CctvApp(
            derived.url, derived.token, "demo", readonly=readonly, ascii=ascii_, help_note=note
        )
        self.app = app
        try:
            app.run()
        finally:
            self.app = None
        self.quit_from_console = True
        return app.return_code or exit_codes.OK


def cli_lines(url: str, folder: Path) -> list[str]:
    """The commands that point the CLI at a demo: its token is read from the kept file
    (piped, so it never shows in the shell's history or in ps)."""
    token = shlex.quote(str(folder / "demo-token"))
    return [f"cctvctl context add demo --url {url} --use --force < {token}", "cctvctl status"]


STOPPED_LINES: Final = [
    "The demo's simulator and server have stopped and its folder is removed.",
    "To try the CLI against a demo, run `cctvctl demo --keep`: when the console quits, its",
    "server keeps running and the demo prints the `cctvctl context add` line for it.",
]


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
