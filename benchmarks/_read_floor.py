"""Not a benchmark on its own: `ingest.py --floor` runs it as the "pyav-read" side.

Reads every camera the way the recorder's ingest threads do and does nothing else: one
thread per stream, PyAV's RTSP demuxer with the recorder's own options
(`IngestSettings.av_options`), `demux()` of the streams the recorder would keep, and the
recorder's read batching (`_Pacer`), but no muxing, no files, no index, no live figures.
Its CPU is what any PyAV recorder laid out like ours pays before it writes a byte.

Run: python benchmarks/_read_floor.py [--audio] URL...; on SIGTERM it prints, as JSON, the
video packets each camera's thread read (keyed by the URL's last path element).
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
from types import FrameType

import av

from cctvctl.recorder.ingest import IngestSettings, _Pacer


def read(url: str, audio: bool, stop: threading.Event, counts: dict[str, int]) -> None:
    name = url.rsplit("/", 1)[-1]
    settings = IngestSettings()
    counts[name] = 0
    with av.open(url, options=settings.av_options(), timeout=(settings.open_timeout, None)) as c:
        video = c.streams.video[0]
        wanted = [video, *c.streams.audio[:1]] if audio else [video]
        pacer = _Pacer(video.time_base, settings.batch_seconds, settings.batch_bytes)
        mark = time.monotonic()
        for packet in c.demux(*wanted):
            if stop.is_set():
                return
            if packet.stream_index != video.index or not packet.size:
                continue
            counts[name] += 1
            arrived = time.monotonic()
            pause = pacer.pause(packet.dts, packet.size, arrived, arrived - mark)
            if pause and stop.wait(pause):
                return
            mark = time.monotonic()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--audio", action="store_true", help="demux the sound track too")
    parser.add_argument("urls", nargs="+")
    args = parser.parse_args()
    stop = threading.Event()
    counts: dict[str, int] = {}

    def finish(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, finish)
    threads = [
        threading.Thread(target=read, args=(url, args.audio, stop, counts), daemon=True)
        for url in args.urls
    ]
    for thread in threads:
        thread.start()
    while not stop.wait(0.5):
        pass
    for thread in threads:
        thread.join(5)
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    main()
