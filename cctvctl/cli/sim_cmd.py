"""`cctvctl sim`: serve the inventory's cameras (RTSP + ONVIF) on loopback, and break them.

The simulator is a product feature: the NOC trains on it and stages a new recording node
against it before the real cameras are cut over.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import typer

from cctvctl.cli import exit_codes
from cctvctl.cli.inventory_file import load_inventory_or_exit
from cctvctl.cli.output import Column, Priority, console, error, print_json, print_table
from cctvctl.units import counted

if TYPE_CHECKING:
    from rich.console import Console

    from cctvctl.config import Inventory, SimDeviceConfig
    from cctvctl.sim.model import SimCamera, SimSettings
    from cctvctl.sim.service import Simulator

FAULT_HELP = (
    "drop: close the camera's RTSP sessions (it accepts new ones at once); "
    "stall: keep sockets open but send and answer nothing; "
    "flap: go down and up every --period seconds; "
    "offline: refuse connections (RTSP and ONVIF); "
    "unauthorized: answer 401 to every RTSP login; "
    "not_found: answer 404 for the stream's path; "
    "clock --by 90s: the camera's clock runs 90 s ahead (--by -2m: behind; --by 0: right); "
    "recover: end any fault (stream faults too). "
    "Stream faults (the camera stays reachable, its stream misbehaves): "
    "tsjump: RTP timestamps jump once by --by (default 3h; --by -3h goes back), as after a "
    "reboot or an NTP step; "
    "resize WxH: a new SPS/PPS and picture size from the next IDR, e.g. resize 1280x720; "
    "nosps: the SDP stops carrying sprop-parameter-sets (in band only; new sessions); "
    "fpslie: the SDP and SPS claim 25 fps while 12 are sent; "
    "drift PPM: the RTP clock runs fast (+) or slow (-) against the wall, e.g. drift 50; "
    "drift 100000 shows a 2 s departure in 20 s; drift 0 stops it; "
    "rate FPS: send FPS frames a second, honestly timestamped, SDP unchanged, e.g. rate 5."
)

app = typer.Typer(
    help=(
        "Camera simulator: RTSP + ONVIF on loopback for demos, training, staging and tests.\n\n"
        "Serve:  cctvctl sim --config examples/kutim.toml\n\n"
        "Break:  cctvctl sim fault sgu-camat-01 offline   (then: ... recover)"
    ),
    invoke_without_command=True,
)


def _parse_size(size: str, what: str = "--size") -> tuple[int, int]:
    width, sep, height = size.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        error(f"{what} {size!r} is not WIDTHxHEIGHT; accepted e.g. 640x360 or 1280x720")
        raise typer.Exit(exit_codes.USAGE)
    w, h = int(width), int(height)
    if not (64 <= w <= 1920 and 64 <= h <= 1080) or w % 2 or h % 2:
        error(f"{what} {size!r} is out of range; accepted: even sizes from 64x64 to 1920x1080")
        raise typer.Exit(exit_codes.USAGE)
    return w, h


def sim_cameras(inventory: Inventory, only: list[str] | None = None) -> list[SimCamera]:
    """The inventory's cameras as the simulator sees them (passwords included)."""
    from cctvctl.sim.model import SimCamera

    cams = []
    for entry in inventory.cameras():
        cam = entry.camera
        if only and cam.id not in only:
            continue
        rtsp = urlsplit(cam.rtsp)
        onvif_port = None
        if cam.onvif is not None:
            onvif_port = urlsplit(cam.onvif).port or 80
        cams.append(
            SimCamera(
                id=cam.id,
                name=cam.name,
                kecamatan=entry.kecamatan.name,
                site=entry.site.name,
                rtsp_port=rtsp.port or 554,
                path=rtsp.path or f"/{cam.id}",
                username=cam.username or "",
                password=inventory.password(cam.id),
                onvif_port=onvif_port,
                **(cam.sim.model_dump() if cam.sim is not None else {}),
                **sim_device_fields(cam.sim_device),
            )
        )
    return cams


def sim_device_fields(table: SimDeviceConfig | None) -> dict[str, Any]:
    """A camera's ``sim_device`` table as SimCamera fields (its clock, its identity)."""
    from cctvctl.sim.device_clock import DeviceIdentity

    if table is None:
        return {}
    given = table.model_dump(exclude={"clock_offset"}, exclude_none=True)
    return {"clock_offset": table.clock_offset, "device": DeviceIdentity(**given)}


def sim_settings(inventory: Inventory, **overrides: object) -> SimSettings:
    from dataclasses import replace

    from cctvctl.sim.model import SimSettings

    host, _, port = inventory.sim.control.rpartition(":")
    # The inventory's [sim] table names its fields as SimSettings does, bar the address.
    table = inventory.sim.model_dump(exclude={"control"})
    given = {k: v for k, v in overrides.items() if v is not None}
    return replace(SimSettings(host=host, control_port=int(port), **table), **given)  # type: ignore[arg-type]


@app.callback()
def serve(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None, "--config", "-c", help="Inventory TOML; the simulator serves exactly its cameras."
    ),
    only: list[str] | None = typer.Option(
        None, "--only", metavar="CAM", help="Serve only this camera id (repeatable)."
    ),
    size: str | None = typer.Option(
        None,
        "--size",
        metavar="WxH",
        help="Picture size, e.g. 640x360 (default from [sim]) or 1280x720.",
    ),
    fps: int | None = typer.Option(None, "--fps", min=1, max=60, help="Frames per second."),
    cache_dir: Path | None = typer.Option(
        None, "--cache-dir", help="Where encoded scene loops are kept (default ~/.cache)."
    ),
    no_color: bool = typer.Option(False, "--no-color", help="Plain text, no colour."),
) -> None:
    """Serve simulated cameras until Ctrl-C."""
    if ctx.invoked_subcommand is not None:
        return
    if config is None:
        error("--config FILE is required to serve; e.g. cctvctl sim --config examples/kutim.toml")
        raise typer.Exit(exit_codes.USAGE)
    inventory = load_inventory_or_exit(config)
    cameras = sim_cameras(inventory, only)
    if only:
        unknown = sorted(set(only) - {c.id for c in cameras})
        if unknown:
            error(f"--only: no camera {', '.join(unknown)} in {config}")
            raise typer.Exit(exit_codes.USAGE)
    width = height = None
    if size is not None:
        width, height = _parse_size(size)
    settings = sim_settings(inventory, width=width, height=height, fps=fps, cache_dir=cache_dir)
    # Before the event loop: with no other thread yet the loops are encoded in forked
    # processes, as the demo does; the simulator then reads them all from the cache.
    prepare_loops(cameras, settings, no_color)
    _run(cameras, settings, no_color)


def prepare_loops(cameras: list[SimCamera], settings: SimSettings, no_color: bool = False) -> None:
    """Encode (or find in the cache) every camera's loop, in parallel, with a progress bar."""
    from rich.progress import Progress

    from cctvctl.sim.loop import load_loops

    # Refreshed by hand, not by rich's thread: with no other thread running, the loops are
    # encoded in forked processes (sim.loop), which leave no resource tracker behind.
    with Progress(console=console(no_color), transient=True, auto_refresh=False) as bar:
        task = bar.add_task("Preparing scene loops", total=len(cameras))

        def progress(done: int, total: int, camera_id: str) -> None:
            bar.update(task, completed=done, description=f"Scene loop {camera_id}")
            bar.refresh()

        load_loops(cameras, settings, progress)


def _run(cameras: list[SimCamera], settings: SimSettings, no_color: bool) -> None:
    import asyncio
    import signal

    from cctvctl.sim.service import Simulator

    out = console(no_color)

    async def main() -> None:
        sim = Simulator(cameras, settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await sim.start()  # the loops are in the cache by now: read, not encoded
        except OSError as exc:
            error(f"cannot listen: {exc}; is another simulator running?")
            raise typer.Exit(exit_codes.FAILURE) from None
        _print_served(out, sim)
        await stop.wait()
        out.print("stopping…")
        await sim.stop()

    asyncio.run(main())


def _print_served(out: Console, sim: Simulator) -> None:
    from cctvctl.sim.model import media_of
    from cctvctl.sim.state import FAULT_MODES

    s = sim.settings
    columns = [
        Column("camera", Priority.IDENTITY),
        Column("kecamatan"),
        Column("site"),
        Column("RTSP path", Priority.IDENTITY),
        Column("ONVIF port", Priority.IDENTITY),
        Column("media"),
    ]
    rows = []
    for cam in sim.cameras:
        m = media_of(cam, s)
        sound = "" if m.audio == "none" else f"+{m.audio}"
        auth = m.auth if cam.username else "no auth"
        media = f"{m.codec}{sound} {m.transport} {auth}"
        rows.append([cam.id, cam.kecamatan, cam.site, cam.path, str(cam.onvif_port or "-"), media])
    print_table(out, columns, rows)
    ports = sorted({c.rtsp_port for c in sim.cameras})
    out.print(
        f"Serving {counted(len(sim.cameras), 'camera')} at {s.width}x{s.height} {s.fps} fps.\n"
        f"RTSP (the inventory's credentials; codec, sound, transport and auth per camera): "
        f"rtsp://{s.host}:{'|'.join(map(str, ports))}<path>\n"
        f"ONVIF device service: http://{s.host}:<ONVIF port>/onvif/device_service\n"
        f"Fault control: http://{s.host}:{sim.control.port}/cameras "
        f"(cctvctl sim fault CAM {'|'.join(FAULT_MODES)}). Ctrl-C stops.",
        soft_wrap=True,
    )


def _control_url(control: str | None, config: Path | None) -> str:
    if control is None and config is not None:
        control = load_inventory_or_exit(config).sim.control
    control = control or "127.0.0.1:8560"
    return control if "://" in control else f"http://{control}"


@app.command("fault")
def fault(
    camera: str = typer.Argument(..., help="Camera id, e.g. sgu-camat-01."),
    mode: str = typer.Argument(..., help=FAULT_HELP),
    value: str | None = typer.Argument(
        None,
        metavar="[WxH|PPM|FPS]",
        help="resize: the new size, e.g. 1280x720; drift: PPM; rate: frames a second.",
    ),
    by: str | None = typer.Option(
        None,
        "--by",
        metavar="DURATION",
        help="For tsjump: how far the timestamps jump, e.g. 3h, 90s, -3h (back); default 3h. "
        "For clock: how far the camera's clock is ahead, e.g. 90s, 2m, -1h (behind).",
    ),
    period: float | None = typer.Option(
        None, "--period", min=0.1, help="For flap: seconds up, then as many down (default 10)."
    ),
    control: str | None = typer.Option(
        None, "--control", help="Fault control address (default: [sim].control, 127.0.0.1:8560)."
    ),
    config: Path | None = typer.Option(None, "--config", "-c", help="Inventory TOML."),
    json_out: bool = typer.Option(False, "--json", help="Print the camera's state as JSON."),
) -> None:
    """Break or mend a simulated camera.

    Examples: cctvctl sim fault sgu-camat-01 flap --period 5;
    cctvctl sim fault sgu-camat-01 clock --by 90s;
    cctvctl sim fault sgu-camat-01 tsjump --by -3h;
    cctvctl sim fault sgu-camat-01 resize 1280x720;
    cctvctl sim fault sgu-camat-01 drift 50
    """
    import httpx

    from cctvctl.sim.state import FAULT_MODES
    from cctvctl.sim.stream_faults import STREAM_MODES

    modes = (*FAULT_MODES, *STREAM_MODES)
    if mode not in modes:
        error(f"fault mode {mode!r} is not accepted; accepted: {', '.join(modes)}")
        raise typer.Exit(exit_codes.USAGE)
    body: dict[str, object] = {"mode": mode, **_stream_fault_values(mode, value, by)}
    url = _control_url(control, config)
    if period is not None:
        body["period"] = period
    if mode == "clock":
        body["by"] = _clock_offset(by)
    try:
        # A resize or fpslie answers once its loop is encoded: seconds, on a busy machine more.
        resp = httpx.post(f"{url}/cameras/{camera}/fault", json=body, timeout=120)
    except httpx.HTTPError as exc:
        error(f"simulator fault control at {url} is unreachable ({exc.__class__.__name__})")
        raise typer.Exit(exit_codes.UNREACHABLE) from None
    if resp.status_code != 200:
        try:
            detail = resp.json().get("detail", resp.text)
        except ValueError:
            detail = resp.text
        error(f"{url}: {detail}")
        raise typer.Exit(exit_codes.USAGE if resp.status_code < 500 else exit_codes.FAILURE)
    state = resp.json()
    if json_out:
        print_json(state)
    elif mode in STREAM_MODES:
        stream = state["stream"]
        print(
            f"{camera}: tsjump={stream['tsjump_seconds']:g}s drift={stream['drift_ppm']:g}ppm "
            f"nosps={stream['nosps']} fpslie={stream['fpslie']} size={stream['size'] or 'own'}"
        )
    else:
        clock = f" clock_offset={state['clock_offset']:g}s" if mode == "clock" else ""
        print(f"{camera}: fault={state['fault']} availability={state['availability']}{clock}")


def _clock_offset(by: str | None) -> float:
    """``--by`` of the clock fault: a signed duration in seconds."""
    from cctvctl.timeparse import parse_duration

    if by is None:
        error("clock needs --by DURATION, e.g. --by 90s (ahead) or --by -2m (behind)")
        raise typer.Exit(exit_codes.USAGE)
    text = by.strip()
    sign = -1.0 if text.startswith("-") else 1.0
    try:
        return sign * parse_duration(text.lstrip("+-"))
    except ValueError as exc:
        error(f"--by: {exc}; a minus sign puts the clock behind, e.g. -90s")
        raise typer.Exit(exit_codes.USAGE) from None


def _stream_fault_values(mode: str, value: str | None, by: str | None) -> dict[str, object]:
    """The JSON members a stream fault needs, from its argument and --by; exits on misuse."""
    from cctvctl.timeparse import parse_duration

    wants_value = {
        "resize": "WxH, e.g. 1280x720",
        "drift": "PPM, e.g. 50 or -50",
        "rate": "FPS, a whole number 1-60, e.g. 5",
    }
    if mode in wants_value and value is None:
        error(f"{mode} needs a value: {wants_value[mode]}")
        raise typer.Exit(exit_codes.USAGE)
    if mode not in wants_value and value is not None:
        error(f"{mode} takes no value (got {value!r}); only resize, drift and rate do")
        raise typer.Exit(exit_codes.USAGE)
    if by is not None and mode not in ("tsjump", "clock"):
        error(f"--by is only for tsjump and clock, not {mode!r}; e.g. tsjump --by -3h")
        raise typer.Exit(exit_codes.USAGE)
    if mode == "resize" and value is not None:
        _parse_size(value, "resize")
        return {"size": value}
    if mode == "drift" and value is not None:
        try:
            return {"ppm": float(value)}
        except ValueError:
            error(f"drift {value!r} is not a number of ppm; accepted e.g. 50, -50 or 100000")
            raise typer.Exit(exit_codes.USAGE) from None
    if mode == "rate" and value is not None:
        if not value.isdigit() or not 1 <= int(value) <= 60:
            error(f"rate {value!r} is not accepted; accepted: a whole number 1-60, e.g. 5")
            raise typer.Exit(exit_codes.USAGE)
        return {"fps": int(value)}
    if mode == "tsjump" and by is not None:
        sign = -1.0 if by.strip().startswith("-") else 1.0
        try:
            seconds = parse_duration(by.strip().lstrip("+-"))
        except ValueError:
            error(f"--by {by!r} is not a duration; accepted e.g. 3h, 90s, 1h30m, -3h")
            raise typer.Exit(exit_codes.USAGE) from None
        return {"by": sign * seconds}
    return {}


@app.command("status")
def status(
    control: str | None = typer.Option(
        None, "--control", help="Fault control address (default: [sim].control, 127.0.0.1:8560)."
    ),
    config: Path | None = typer.Option(None, "--config", "-c", help="Inventory TOML."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List simulated cameras with their fault, RTSP clients and ONVIF calls.

    Example: cctvctl sim status
    """
    import httpx

    url = _control_url(control, config)
    try:
        resp = httpx.get(f"{url}/cameras", timeout=5)
        resp.raise_for_status()
    except httpx.HTTPError as exc:
        error(f"simulator fault control at {url} is unreachable ({exc.__class__.__name__})")
        raise typer.Exit(exit_codes.UNREACHABLE) from None
    states = resp.json()
    if json_out:
        print_json(states)
        return
    for st in states:
        calls = sum(st["onvif_calls"].values())
        print(
            f"{st['id']:<16} {st['fault']:<10} {st['availability']:<8} "
            f"clients={st['rtsp_clients']} frames_sent={st['frames_sent']} "
            f"onvif_calls={calls} reboots={st['reboots']}"
        )
