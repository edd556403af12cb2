"""TCP round-trip to each camera's RTSP port, probed every 30 s.

A TCP connect costs the device one SYN/SYN-ACK and is answered by the kernel, so it
measures the network path rather than the camera's RTSP stack, and it works while the
stream is down. One scheduler thread and a small pool serve every camera: a site with
hundreds of cameras must not grow a thread per camera just to ping them.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Final
from urllib.parse import urlsplit

__all__ = ["DEFAULT_PORTS", "RttProber", "rtsp_target"]

log = logging.getLogger("cctvctl.recorder")

DEFAULT_PORTS: Final = {"rtsp": 554, "rtsps": 322}
PROBE_INTERVAL: Final = 30.0
CONNECT_TIMEOUT: Final = 3.0
MAX_WORKERS: Final = 8


def rtsp_target(url: str) -> tuple[str, int] | None:
    """``(host, port)`` of an RTSP URL, with the scheme's default port."""
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    return parts.hostname, port or DEFAULT_PORTS.get(parts.scheme, 554)


def connect_ms(host: str, port: int, timeout: float = CONNECT_TIMEOUT) -> float | None:
    """Milliseconds to complete a TCP handshake, or None if it fails or times out."""
    began = time.perf_counter()
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError:
        return None
    elapsed = time.perf_counter() - began
    sock.close()
    return elapsed * 1000.0


class RttProber:
    """Probes every target every ``interval`` seconds; :meth:`rtt_ms` reads the latest."""

    def __init__(
        self,
        targets: Mapping[str, tuple[str, int]],
        *,
        interval: float = PROBE_INTERVAL,
        timeout: float = CONNECT_TIMEOUT,
        workers: int = MAX_WORKERS,
    ) -> None:
        if interval <= 0 or timeout <= 0:
            raise ValueError("interval and timeout must be positive")
        self.targets = dict(targets)
        self.interval = interval
        self.timeout = timeout
        self._workers = max(1, min(workers, len(self.targets) or 1))
        self._results: dict[str, float | None] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self.rounds = 0

    def rtt_ms(self, camera_id: str) -> float | None:
        with self._lock:
            return self._results.get(camera_id)

    def results(self) -> dict[str, float | None]:
        with self._lock:
            return dict(self._results)

    def _probe(self, camera_id: str, host: str, port: int) -> None:
        if self._stop.is_set():
            return
        value = connect_ms(host, port, self.timeout)
        with self._lock:
            self._results[camera_id] = None if value is None else round(value, 2)

    def probe_once(self) -> None:
        """Probe every target once and wait for the round to finish."""
        pool = self._pool
        if pool is None:
            with ThreadPoolExecutor(self._workers, thread_name_prefix="rtt") as own:
                self._round(own)
            return
        self._round(pool)

    def _round(self, pool: ThreadPoolExecutor) -> None:
        futures = [pool.submit(self._probe, cid, h, p) for cid, (h, p) in self.targets.items()]
        wait(futures)
        self.rounds += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.probe_once()
            except RuntimeError:  # pool shut down under us: stopping
                return
            except Exception:
                log.exception("round-trip probe failed")
            self._stop.wait(self.interval)

    def start(self) -> None:
        if self._thread is not None or not self.targets:
            return
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="rtt")
        self._thread = threading.Thread(target=self._run, name="rtt-prober", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._pool is not None:
            # Probes already connecting finish within their own time-out; queued ones
            # are dropped so a large site stops at once.
            self._pool.shutdown(wait=False, cancel_futures=True)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
