"""glibc malloc tuning for a server that decodes pictures on many threads.

Thumbnails are decoded, scaled and encoded on whichever API worker thread takes the
request (up to 40 of them). glibc gives threads their own arenas (up to 8 per core) and
rarely returns freed memory from them to the system, so a burst of thumbnail requests left
the server hundreds of MB larger for good, even after every cached picture was dropped.
Capping the arenas bounds that fragmentation; trimming when the load stops gives the
rest back. Both are no-ops where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import logging
import sys
from functools import cache
from typing import Any, Final

__all__ = ["ARENAS", "limit_arenas", "trim"]

log = logging.getLogger(__name__)

M_ARENA_MAX: Final = -8  # from glibc's malloc.h
#: Arenas per process: the server's (thumbnails decode on any API worker thread) and each
#: ingest worker's alike.
ARENAS: Final = 2


@cache
def _glibc() -> Any | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.malloc_trim  # noqa: B018 - only glibc has it; musl and others do not
        libc.mallopt  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


def limit_arenas(arenas: int) -> bool:
    """At most ``arenas`` malloc arenas from now on (like MALLOC_ARENA_MAX); True if set.

    Call it before the worker threads start: arenas that exist already are kept.
    """
    libc = _glibc()
    if libc is None:
        return False
    ok = bool(libc.mallopt(ctypes.c_int(M_ARENA_MAX), ctypes.c_int(arenas)))
    if not ok:
        log.warning("mallopt(M_ARENA_MAX, %d) refused", arenas)
    return ok


def trim() -> bool:
    """Give free heap memory back to the system; True if any was released."""
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.malloc_trim(ctypes.c_size_t(0)))
