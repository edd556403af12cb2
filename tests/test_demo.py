"""`cctvctl demo` in a real terminal: tmux at 80x24, keys sent, the pane read.

Each test runs the demo on a small generated site (harness ``write_site``) with the
session's loop cache, and a private ``TMPDIR`` so its ``cctvctl-demo-*`` folder is found.
The process tree (demo -> simulator, server) is read with psutil while the console runs;
after quitting, Ctrl-C, SIGTERM, SIGHUP or SIGKILL, none of it may be left.

tmux runs on a socket of its own (``tmux -L``), so no other tmux server is touched.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest
from harness import REPO, Site, SiteSpec, wait_for, write_site
from tmux_harness import Tmux

from cctvctl.cli import demo_cmd, demo_site
from cctvctl.cli.sim_cmd import sim_cameras, sim_settings
from cctvctl.config import hash_token, load_inventory
from cctvctl.sim.model import media_of

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")

UP_SECONDS = 60.0  # loops come from the session cache once the first test encoded them
GONE_SECONDS = 15.0  # the demo's own bound: 10 s per child, in practice well under 2 s


@dataclass
class RunningDemo:
    tmux: Tmux
    site: Site
    tmpdir: Path
    rc_file: Path
    demo: psutil.Process
    children: list[psutil.Process]  # simulator and server
    server_pid: int

    @property
    def folder(self) -> Path:
        folders = list(self.tmpdir.glob("cctvctl-demo-*"))
        assert len(folders) == 1, folders
        return folders[0]

    def processes(self) -> list[psutil.Process]:
        return [self.demo, *self.children]

    def wait_gone(self) -> None:
        _, alive = psutil.wait_procs(self.processes(), timeout=GONE_SECONDS)
        assert not alive, f"left behind: {[p.cmdline() for p in alive]}"

    def exit_code(self) -> int:
        def written() -> str | None:
            return self.rc_file.read_text().strip() if self.rc_file.exists() else None

        text = wait_for(written, 10, what="the demo's exit code")
        return int(text.removeprefix("rc="))


def demo_command(*args: str) -> list[str]:
    script = Path(sys.executable).parent / "cctvctl"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "cctvctl"]
    return [*base, "demo", *args]


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    t = Tmux()
    yield t
    t.kill_server()


@pytest.fixture
def start_demo(tmux: Tmux, tmp_path: Path, sim_cache: Path) -> Iterator[Callable[..., RunningDemo]]:
    started: list[RunningDemo] = []

    def start(*args: str, spec: SiteSpec | None = None) -> RunningDemo:
        site = write_site(tmp_path / "site", spec or SiteSpec(cameras=4))
        tmpdir = tmp_path / "tmp"
        tmpdir.mkdir()
        rc_file = tmp_path / "rc"
        cmd = demo_command("--config", str(site.config), "--cache-dir", str(sim_cache), *args)
        shell = (
            f"cd {shlex.quote(str(REPO))} && TMPDIR={shlex.quote(str(tmpdir))} "
            f"{shlex.join(cmd)}; echo rc=$? > {shlex.quote(str(rc_file))}; sleep 120"
        )
        tmux.start(shell)
        # The console is up once it shows the site's kecamatan with every camera online.
        wait_for(
            lambda: "Sangatta Utara" in (s := tmux.screen()) and s.count("2/2") >= 2,
            UP_SECONDS,
            what="the overview with 2/2 cameras online in both kecamatan",
        )
        shell_proc = psutil.Process(tmux.pane_pid())
        demo = next(p for p in shell_proc.children() if "demo" in p.cmdline())
        children = demo.children()
        commands = {p.cmdline()[3]: p.pid for p in children}  # python -m cctvctl <command>
        assert sorted(commands) == ["server", "sim"], [p.cmdline() for p in children]
        running = RunningDemo(tmux, site, tmpdir, rc_file, demo, children, commands["server"])
        started.append(running)
        return running

    yield start
    for running in started:  # a failed test must not leave a demo running either
        for proc in running.processes():
            if proc.is_running():
                proc.kill()


@pytest.mark.timeout(120)
def test_quit_from_the_console_leaves_nothing(
    start_demo: Callable[..., RunningDemo], tmux: Tmux
) -> None:
    demo: RunningDemo = start_demo()
    assert (demo.folder / "recordings" / "index.sqlite3").exists()

    tmux.keys("?")
    wait_for(lambda: "keys: overview" in tmux.screen(), 10, what="the help screen")
    tmux.keys("Escape")
    wait_for(lambda: "keys: overview" not in tmux.screen(), 10, what="the help to close")
    tmux.keys("q")

    demo.wait_gone()
    assert demo.exit_code() == 0
    assert list(demo.tmpdir.iterdir()) == []
    # The status lines stay on the terminal once the console is gone.
    screen = tmux.screen()
    assert "starting simulator (4 cameras)" in screen
    assert f"server pid {demo.server_pid}" in screen
    # And how to get a server that outlives the console, for the CLI.
    assert "cctvctl demo --keep" in screen


@pytest.mark.timeout(120)
def test_keep_leaves_the_server_running_for_the_cli(
    start_demo: Callable[..., RunningDemo], tmux: Tmux, tmp_path: Path
) -> None:
    demo: RunningDemo = start_demo("--keep")
    folder = demo.folder
    tmux.keys("?")
    wait_for(lambda: "cctvctl context add demo" in tmux.screen(), 10, what="the CLI line in ?")
    tmux.keys("Escape")
    wait_for(lambda: "keys: overview" not in tmux.screen(), 10, what="the help to close")
    tmux.keys("q")
    _, alive = psutil.wait_procs([demo.demo], timeout=GONE_SECONDS)
    assert not alive and demo.exit_code() == 0
    assert all(child.is_running() for child in demo.children)
    assert (folder / "recordings" / "index.sqlite3").exists()

    # What the demo printed is what a newcomer pastes: the context line, then the kill line.
    printed = tmux.run("capture-pane", "-p", "-J", "-t", tmux.session).splitlines()
    add = next(line.strip() for line in printed if "cctvctl context add demo" in line)
    stop = next(line.strip() for line in printed if line.startswith("Stop them with: kill"))
    env = {**os.environ, "CCTVCTL_CONFIG": str(tmp_path / "contexts.toml")}
    here = f"{shlex.quote(sys.executable)} -m cctvctl "
    added = subprocess.run(add.replace("cctvctl ", here, 1), shell=True, env=env, timeout=30)
    assert added.returncode == 0
    listed = subprocess.run(
        [sys.executable, "-m", "cctvctl", "cameras", "--json"],
        capture_output=True, text=True, env=env, timeout=30,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert sorted(c["id"] for c in json.loads(listed.stdout)) == sorted(demo.site.camera_ids)

    pids = {int(word) for word in stop.split("(")[0].split() if word.isdigit()}
    assert pids == {child.pid for child in demo.children}
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    _, alive = psutil.wait_procs(demo.children, timeout=GONE_SECONDS)
    assert not alive


#: A small network as the default demo's is mixed: H.265 with sound kept and converted,
#: H.265 without sound, H.264 over UDP with sound dropped.
MIXED = SiteSpec(
    cameras=4,
    camera_lines={
        0: ('audio = "keep"', 'sim = { codec = "h265", audio = "aac" }'),
        1: ('audio = "keep"', 'sim = { codec = "h265", audio = "pcma" }'),
        2: ('sim = { codec = "h265" }',),
        3: ('transport = "auto"', 'sim = { codec = "h264", audio = "pcmu", transport = "udp" }'),
    },
)


@pytest.mark.timeout(120)
def test_a_mixed_network_records_every_camera(
    start_demo: Callable[..., RunningDemo], tmux: Tmux
) -> None:
    demo: RunningDemo = start_demo(spec=MIXED)
    inventory = tomllib.loads((demo.folder / "inventory.toml").read_text())
    token = (demo.folder / "demo-token").read_text().strip()
    headers = {"Authorization": f"Bearer {token}"}
    url = f"http://{inventory['server']['listen']}/api/v1/cameras"

    def all_recording() -> list[dict[str, object]] | None:
        cameras: list[dict[str, object]] = httpx.get(url, headers=headers, timeout=5).json()
        return cameras if all(c["recording"] and c["media"] for c in cameras) else None

    cameras = wait_for(all_recording, 30, what="every camera recording")
    media = {str(c["id"]): c["media"] for c in cameras}
    ids = demo.site.camera_ids
    assert sorted(media) == sorted(ids)
    got = {cam: (m["video"], m["audio_handling"], m["transport"]) for cam, m in media.items()}  # type: ignore[index]
    assert got == {
        ids[0]: ("hevc", "kept", "tcp"),
        ids[1]: ("hevc", "converted", "tcp"),
        ids[2]: ("hevc", "none", "tcp"),
        ids[3]: ("h264", "dropped", "udp"),
    }
    # Every camera's footage reaches the disk: {storage}/{kecamatan}/{camera}/{day}/*.mp4
    storage = demo.folder / "recordings"
    wait_for(
        lambda: all(any(storage.glob(f"*/{cam}/*/*.mp4")) for cam in ids),
        20,
        what="a segment file of every camera",
    )
    tmux.keys("q")
    demo.wait_gone()


def form_row(screen: str, label: str) -> str:
    return next((line for line in screen.splitlines() if f"│ {label}" in line), "")


@pytest.mark.timeout(120)
def test_tab_and_text_in_one_burst_fill_the_next_field(
    start_demo: Callable[..., RunningDemo], tmux: Tmux
) -> None:
    demo: RunningDemo = start_demo()
    camera = demo.site.camera_ids[0]
    tmux.keys(":")
    # The prompt first: keys sent with the ":" would reach the overview before it opens.
    wait_for(lambda: "cam ID" in tmux.screen(), 10, what="the command line")
    tmux.keys(f"cam {camera}", "Enter")
    wait_for(lambda: "e export" in tmux.screen(), 20, what="the camera screen")
    tmux.keys("e")
    wait_for(lambda: "case id" in tmux.screen(), 10, what="the export form")
    # One send-keys: tmux writes the case id, the Tab and the note to the terminal at once.
    tmux.keys("LP/117", "Tab", "dari TUI")

    def filled() -> bool:
        return "dari TUI" in form_row(tmux.screen(), "note")

    wait_for(filled, 10, what="the note typed after the Tab")
    screen = tmux.screen()
    assert "LP/117" in form_row(screen, "case id"), screen
    assert "dari" not in form_row(screen, "case id"), screen
    tmux.keys("Escape")
    wait_for(lambda: "case id" not in tmux.screen(), 10, what="the form to close")
    tmux.keys("q")
    demo.wait_gone()


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("how", "keep", "code"),
    [("SIGINT", True, 130), ("SIGTERM", False, 143), ("SIGHUP", False, None)],
)
def test_signals_stop_everything(
    start_demo: Callable[..., RunningDemo], tmux: Tmux, how: str, keep: bool, code: int | None
) -> None:
    demo: RunningDemo = start_demo(*(["--keep"] if keep else []))
    folder = demo.folder
    if how == "SIGHUP":
        tmux.kill_session()  # the terminal goes away: the kernel sends SIGHUP
    else:
        demo.demo.send_signal(getattr(signal, how))

    demo.wait_gone()
    if code is not None:
        assert demo.exit_code() == code
    if keep:
        assert (folder / "recordings" / "index.sqlite3").exists()
        assert (folder / "inventory.toml").exists()
        assert not (folder / demo_cmd.PID_FILE).exists()
    else:
        assert not folder.exists()


@pytest.mark.timeout(120)
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux")
def test_sigkill_of_the_demo_takes_its_children(start_demo: Callable[..., RunningDemo]) -> None:
    demo: RunningDemo = start_demo()
    folder = demo.folder
    demo.demo.kill()

    _, alive = psutil.wait_procs(demo.children, timeout=GONE_SECONDS)
    assert not alive, f"left behind: {[p.cmdline() for p in alive]}"
    # Its folder cannot be removed by a dead process; the next demo sweeps it.
    assert (folder / demo_cmd.PID_FILE).exists()
    demo_cmd._sweep_orphans(demo.tmpdir)
    assert not folder.exists()


# --------------------------------------------------------------------------- no terminal


def test_busy_simulator_ports_are_moved(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", SiteSpec(cameras=2, onvif=True))
    folder = tmp_path / "demo"
    folder.mkdir()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", site.rtsp_port))
        busy.listen()
        derived = demo_cmd.derive_inventory(load_inventory(site.config), folder, None)
    assert set(derived.moved) == {site.rtsp_port}

    inventory = load_inventory(derived.config)
    rtsp_ports = {e.camera.rtsp.split(":")[2].split("/")[0] for e in inventory.cameras()}
    assert rtsp_ports == {str(derived.moved[site.rtsp_port])}
    assert inventory.sim.control == f"127.0.0.1:{site.control_port}"  # was free: kept
    assert inventory.storage == folder / "recordings"
    assert [t.role.value for t in inventory.server.token] == ["admin"]
    assert inventory.server.token[0].hash == hash_token(derived.token)
    assert {c: inventory.password(c) for c in site.camera_ids} == site.passwords
    assert oct((folder / "secrets.toml").stat().st_mode & 0o777) == "0o600"
    assert oct(derived.config.stat().st_mode & 0o777) == "0o600"
    assert inventory.exposed_files() == []


def test_the_demo_caps_an_inventorys_long_loops(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", SiteSpec(cameras=1, loop_seconds=20))
    assert sim_settings(load_inventory(site.config)).loop_seconds == 20
    (tmp_path / "demo").mkdir()
    derived = demo_cmd.derive_inventory(load_inventory(site.config), tmp_path / "demo", None)
    assert sim_settings(load_inventory(derived.config)).loop_seconds == 4


def test_the_default_demo_is_a_mixed_network_with_short_loops(tmp_path: Path) -> None:
    default = demo_cmd.find_default_config()
    assert default is not None
    inventory = load_inventory(default)
    # `cctvctl sim` on the example encodes the demo's short loops (one cache for both).
    assert sim_settings(inventory).loop_seconds == demo_site.DEMO_LOOP_SECONDS
    derived = demo_cmd.derive_inventory(inventory, tmp_path, None)
    demoed = load_inventory(derived.config)
    settings = sim_settings(demoed)
    # The demo encodes every loop on a cold start: short ones, as the simulator will serve.
    assert settings.loop_seconds == demo_site.DEMO_LOOP_SECONDS

    media = [media_of(cam, settings) for cam in sim_cameras(demoed)]
    assert len(media) == sum(e.camera.enabled for e in inventory.cameras())
    h265 = [m for m in media if m.codec == "h265"]
    assert len(h265) > len(media) * 3 // 4  # most cameras H.265
    assert any(m.codec == "h264" for m in media)
    assert any(m.audio != "none" for m in h265)  # H.265 with sound among them
    assert {m.audio for m in media} >= {"aac", "pcma", "pcmu"}
    assert 2 <= sum(m.transport == "udp" for m in media) <= len(media) // 10  # a few on UDP
    handling = {demoed.audio(e) for e in demoed.cameras()}
    assert handling == {"drop", "keep"}  # dropped by default, kept where a camera says so


def test_missing_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = subprocess.run(
        demo_command("--config", str(tmp_path / "nope.toml")),
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "nope.toml" in lines[0] and "does not exist" in lines[0]
    assert not list(tmp_path.glob("cctvctl-demo-*"))
