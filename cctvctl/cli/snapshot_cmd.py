"""`cctvctl snapshot`: a camera's current picture as text in the terminal, or a JPEG file."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, cast

import typer

from cctvctl.cli import exit_codes
from cctvctl.cli.common import (
    ask,
    fail_usage,
    jsonable,
    out_console,
    parse_when,
)
from cctvctl.cli.options import ServerOptions, server_options
from cctvctl.cli.output import error, print_json
from cctvctl.termsafe import for_terminal
from cctvctl.timeparse import format_duration, format_time

if TYPE_CHECKING:
    from rich.console import Console

    from cctvctl.client import AsyncCctvClient, Thumbnail
    from cctvctl.models import Camera

__all__ = ["MAX_COLS", "snapshot"]

MAX_COLS: Final = 160  # wider than this a text picture gets no sharper, only slower to send
MIN_COLS: Final = 8
MAX_PIXELS: Final = 1920  # the server's widest thumbnail


@dataclass(frozen=True)
class Shot:
    camera: Camera
    thumb: Thumbnail


@server_options()
def snapshot(
    camera: Annotated[str, typer.Argument(help="Camera id, e.g. sgu-camat-01.")],
    width: Annotated[
        int | None,
        typer.Option(
            "--width",
            "-w",
            min=MIN_COLS,
            help=f"Text: columns (default: the terminal's, at most {MAX_COLS}). "
            "With -o: JPEG pixels (default: the camera's own resolution).",
        ),
    ] = None,
    ascii_only: Annotated[
        bool,
        typer.Option("--ascii", help="Luminance ASCII ramp, no colour (thinnest links)."),
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Save a JPEG here and print its path.", metavar="FILE"),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="A moment of the past (WITA or relative, e.g. 'yesterday 14:00', -2h): "
            "the recorded picture at or before it, wherever the footage lives.",
        ),
    ] = None,
    *,
    opts: ServerOptions,
) -> None:
    """Print a camera's current picture as coloured half blocks (or ASCII), with a caption.

    Example: cctvctl snapshot sgu-camat-01 --width 60; cctvctl snapshot sgu-camat-01 -o now.jpg;
    cctvctl snapshot sgu-camat-01 --at 'yesterday 21:30'

    Without colour (a pipe, NO_COLOR, --no-color) the picture is ASCII. An offline camera
    shows its last frame and how old it is. JSON: the Camera, frame_time, age_seconds,
    width, height, format and the saved file (null without -o); no picture.
    """
    out = out_console(opts.no_color, pipe_wide=False)
    when = parse_when("--at", at, datetime.now(UTC)) if at is not None else None
    fmt: Literal["rgb", "jpeg"]
    if output is not None:
        _check_output(output)  # before asking the server: a typo costs no download
        # No --width: the camera's own resolution (the server sends it when no size is asked).
        pixels = min(width, MAX_PIXELS) if width else None
        fmt = "jpeg"
        cols = 0
    else:
        cols = max(MIN_COLS, min(width or out.width, MAX_COLS))
        # Twice the columns, so that the area average has pixels to smooth over.
        pixels = min(max(cols * 2, MIN_COLS), MAX_PIXELS)
        fmt = "rgb"
    nodes = opts.nodes()

    async def question(client: AsyncCctvClient) -> Shot:
        import asyncio

        # The height is left to the server (None), which keeps the camera's aspect ratio;
        # the client's signature wants an int, hence the cast.
        cam, thumb = await asyncio.gather(
            client.camera(camera),
            client.thumbnail(camera, cast(int, pixels), cast(int, None), fmt, when),
        )
        return Shot(cam, thumb)

    shot = ask(nodes, question, utc=opts.utc)[0].value
    assert shot is not None
    saved: Path | None = None
    if output is not None:
        saved = _save(output, shot.thumb.data)
    if opts.json:
        print_json(_as_json(shot, saved))
        return
    if saved is not None:
        print(saved)
        return
    _show(for_terminal(shot), cols, ascii_only, out, opts.utc)


def _check_output(path: Path) -> None:
    """Exit 2 with one line for an -o the user got wrong: its name or its directory."""
    if path.suffix.lower() not in (".jpg", ".jpeg"):
        fail_usage(f"-o {path}: the server sends JPEG; name the file *.jpg or *.jpeg")
    parent = path.parent
    if not parent.is_dir():
        why = "is not a directory" if parent.exists() else "does not exist"
        fail_usage(f"-o {path}: bad output path: the directory {parent} {why}")
    if path.is_dir():
        fail_usage(f"-o {path}: bad output path: that is a directory")


def _save(path: Path, data: bytes) -> Path:
    _check_output(path)
    try:
        path.write_bytes(data)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError) as exc:
        fail_usage(f"-o {path}: bad output path: {exc.strerror}")
    except OSError as exc:
        error(f"-o {path}: cannot write: {exc.strerror}")
        raise typer.Exit(exit_codes.FAILURE) from None
    return path.resolve()


def _as_json(shot: Shot, saved: Path | None) -> dict[str, Any]:
    thumb = shot.thumb
    return {
        "camera": jsonable(shot.camera),
        "frame_time": jsonable(thumb.frame_time),
        "age_seconds": round(thumb.age, 3),
        "width": thumb.width,
        "height": thumb.height,
        "format": thumb.format,
        "file": None if saved is None else str(saved),
    }


_SEP: Final = " · "


def caption(shot: Shot, utc: bool) -> str:
    cam, thumb = shot.camera, shot.thumb
    state = "" if cam.status.value == "online" else f" [{cam.status.value}]"
    return _SEP.join(
        (
            f"{cam.name} ({cam.id}), {cam.kecamatan}{state}",
            f"frame {format_time(thumb.frame_time, utc=utc)}",
            f"{format_duration(thumb.age)} old",
        )
    )


def _show(shot: Shot, cols: int, ascii_only: bool, out: Console, utc: bool) -> None:
    from rich.text import Text

    from cctvctl.render import ImageRenderable, Mode, rgb_from_bytes

    thumb = shot.thumb
    rgb = rgb_from_bytes(thumb.data, thumb.width, thumb.height)
    lines = wrap_caption(caption(shot, utc), out.width)
    # On a terminal keep the caption (and the prompt under it) on screen; in a pipe the
    # height is nobody's limit.
    rows = max(4, out.height - 1 - len(lines)) if sys.stdout.isatty() else None
    mode = Mode.ASCII if ascii_only else Mode.HALF_BLOCK
    out.print(ImageRenderable(rgb, mode=mode, width=cols, max_rows=rows))
    for line in lines:
        out.print(Text(line), overflow="fold")


def wrap_caption(text: str, width: int) -> list[str]:
    """The caption in lines of at most ``width``, broken only between its `` · `` parts.

    Cut at the terminal's edge, an 80-column caption lost the frame's age, the one figure
    that says whether the picture is live; a part wider than the screen folds on its own.
    """
    lines: list[str] = []
    for part in text.split(_SEP):
        if lines and len(lines[-1]) + len(_SEP) + len(part) <= width:
            lines[-1] += _SEP + part
        else:
            lines.append(part)
    return lines
