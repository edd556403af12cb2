"""What the interoperability tests share: a clip served by aio-rtsp-toolkit's RTSP server,
an inventory for cameras on a server this project did not write, and a real `Recorder`
recording them in the test process.

The servers differ (aio-rtsp-toolkit in a thread, GStreamer's in a system-Python process);
the site around them and the recording do not.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import av
import numpy as np
from aio_rtsp_toolkit.server import RtspServer
from harness import free_port

from cctvctl.config import load_inventory
from cctvctl.recorder.manager import Recorder
from cctvctl.storage.database import Database, SegmentRow
from cctvctl.storage.event_store import EventStore
from cctvctl.storage.events import EventBus

FPS = 15
SECONDS = 4  # the clip's length: the file server loops it, a restart every 4 s
SOUND_RATE = 16000


def write_clip(path: Path, codec: str = "libx264", *, sound: bool = False) -> None:
    """A small MP4: a moving bar, one keyframe per second; with ``sound``, an AAC 440 Hz tone."""
    with av.open(str(path), "w") as out:
        video = out.add_stream(codec, rate=FPS)
        video.width, video.height, video.pix_fmt = 320, 180, "yuv420p"
        video.codec_context.gop_size = FPS
        video.codec_context.max_b_frames = 0
        options = {"preset": "ultrafast"}
        if codec == "libx265":
            options["x265-params"] = f"keyint={FPS}:bframes=0:log-level=error"
        video.codec_context.options = options
        audio = out.add_stream("aac", rate=SOUND_RATE, layout="mono") if sound else None
        for i in range(SECONDS * FPS):
            rgb = np.empty((180, 320, 3), np.uint8)
            rgb[:] = (40, 120, 200)
            rgb[:, (i * 5) % 300 : (i * 5) % 300 + 20] = 255
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if audio is None:
            return
        t = np.arange(SECONDS * SOUND_RATE) / SOUND_RATE
        tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        for start in range(0, len(tone) - 1024 + 1, 1024):
            chunk = av.AudioFrame.from_ndarray(
                tone[start : start + 1024].reshape(1, -1), format="fltp", layout="mono"
            )
            chunk.sample_rate = SOUND_RATE
            chunk.pts = start
            out.mux(audio.encode(chunk))
        out.mux(audio.encode(None))


class AioRtspServer:
    """aio-rtsp-toolkit's RtspServer on its own event loop in a thread, serving ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._server = RtspServer(str(directory), host="127.0.0.1", port=self.port)
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._server.start(), self._loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._server.close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def url(self, name: str = "clip.mp4") -> str:
        """The file looped for ever (``play_count=0``)."""
        return f"rtsp://127.0.0.1:{self.port}/{name}?play_count=0"


@contextmanager
def serving_clip(directory: Path, write: Callable[[Path], None]) -> Iterator[AioRtspServer]:
    """``write`` a clip as ``clip.mp4`` into ``directory``/media and serve it until the end."""
    media = directory / "media"
    media.mkdir()
    write(media / "clip.mp4")
    server = AioRtspServer(media)
    server.start()
    try:
        yield server
    finally:
        server.stop()


SITE_HEAD = """
[server]
storage = "recordings"
segment_seconds = 2
offline_after = 5
secrets = "secrets.toml"

[[kecamatan]]
name = "Sangatta Utara"

  [[kecamatan.site]]
  name = "Kantor Camat Sangatta Utara"
  kind = "kantor_kecamatan"

"""


def write_inventory(directory: Path, cameras: str, passwords: dict[str, str] | None = None) -> Path:
    """One site of ``cameras`` (``harness.camera_toml`` tables), 2 s segments, its secrets."""
    config = directory / "interop.toml"
    config.write_text(SITE_HEAD + cameras, encoding="utf-8")
    lines = "".join(f'{cam} = "{pw}"\n' for cam, pw in (passwords or {}).items())
    (directory / "secrets.toml").write_text(f"[passwords]\n{lines}", encoding="utf-8")
    return config


@dataclass
class Recording:
    """A real recorder over the inventory's cameras, its index and the index's epoch."""

    recorder: Recorder
    index: Database
    epoch: datetime
    stop_seconds: float = field(default=0.0)  # how long the recorder took to stop

    def segments(self, camera: str) -> list[SegmentRow]:
        """The camera's closed segments, every one the index holds."""
        return self.index.segments(camera, self.epoch, self.epoch.replace(year=2100))


@contextmanager
def recording(config: Path) -> Iterator[Recording]:
    """Record the inventory until the block ends. The index stays open for checks after
    the recorder stopped (every open segment closed and indexed): the caller closes it."""
    inventory = load_inventory(config)
    index = Database(inventory.storage)
    rec = Recording(Recorder(inventory, index, EventBus(EventStore(index))), index, index.created())
    rec.recorder.start()
    try:
        yield rec
    finally:
        began = time.monotonic()
        rec.recorder.stop()
        rec.stop_seconds = time.monotonic() - began
