"""One line, not a traceback, for a request cut off by the end of the shutdown grace.

When the server stops, uvicorn gives requests in flight ``timeout_graceful_shutdown``
seconds, says how many it cancels after that, and then logs each cancelled request as
"Exception in ASGI application" at ERROR with the CancelledError's traceback. Nothing
failed: a slow client or an overloaded node was simply told to go, every segment is still
closed and indexed by the shutdown that follows. An operator reading the log should not
take it for a crash.
"""

from __future__ import annotations

import asyncio
import logging

__all__ = ["CancelledAtShutdown"]

MESSAGE = "a request still running when the shutdown grace ran out was cancelled"


class CancelledAtShutdown(logging.Filter):
    """Rewrites uvicorn's record of a request cancelled at shutdown as a WARNING line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if (
            record.name.startswith("uvicorn")
            and isinstance(exc, asyncio.CancelledError)
            # uvicorn's own words when it cancels at the deadline: any other cancel is
            # left as it is
            and "graceful shutdown" in str(exc)
        ):
            record.msg, record.args = MESSAGE, None
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True
