"""The upload cap: a token bucket, and a file slice that pays it as the HTTP client reads.

The cap is counted on the bytes the client reads to send (botocore reads a body once:
payload signing is off, the checksum header carries the integrity), so what leaves the
node is what is counted. Retries read again and pay again, as they use the link again.
"""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

__all__ = ["MeteredSlice", "RateLimit", "Stopped"]

#: The bucket holds at most this much time of the rate: a short burst, never a minute's.
BURST_SECONDS: Final = 0.2


class Stopped(Exception):
    """The uploader is stopping: the read is abandoned, the upload resumes later."""


class RateLimit:
    """``bytes_per_second`` on average (0: no cap), shared by every reader of the node.

    ``take(n)`` may overdraw the bucket and then waits until it is back to zero, so large
    reads and small ones pay the same over time.
    """

    def __init__(
        self,
        bytes_per_second: float,
        *,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = float(bytes_per_second)
        self._stop = stop or threading.Event()
        self._clock = clock
        self._lock = threading.Lock()
        self._level = 0.0
        self._at = clock()

    def take(self, n: int) -> None:
        if self.rate <= 0 or n <= 0:
            return
        with self._lock:
            now = self._clock()
            cap = self.rate * BURST_SECONDS
            self._level = min(cap, self._level + (now - self._at) * self.rate) - n
            self._at = now
            owed = -self._level / self.rate if self._level < 0 else 0.0
        if owed > 0 and self._stop.wait(owed):
            raise Stopped("uploads stopping")


class MeteredSlice(io.RawIOBase):
    """``length`` bytes of ``path`` from ``offset``, read through a :class:`RateLimit`.

    Seekable (botocore rewinds a body to retry it); ``len()`` is the slice's length.
    ``on_read`` hears every byte count handed to the client (the live upload rate).
    """

    def __init__(
        self,
        path: Path,
        offset: int,
        length: int,
        limit: RateLimit,
        on_read: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__()
        self._fd = os.open(path, os.O_RDONLY)
        self._offset = offset
        self._length = length
        self._pos = 0
        self._limit = limit
        self._on_read = on_read

    def __len__(self) -> int:
        return self._length

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        self._pos = max(0, min(self._length, base + offset))
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        left = self._length - self._pos
        n = left if size is None or size < 0 else min(size, left)
        if n <= 0:
            return b""
        self._limit.take(n)
        data = os.pread(self._fd, n, self._offset + self._pos)
        self._pos += len(data)
        if self._on_read is not None:
            self._on_read(len(data))
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()
