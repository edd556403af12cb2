"""libav's errors turned into causes an operator can act on (:class:`OfflineCause`).

What FFmpeg 8 / PyAV 18 raise, as measured against the simulator's faults:

- nothing listens on the port: ``ConnectionRefusedError`` (errno 111) at open;
- the camera takes the connection and never answers (a hung RTSP service, a stall), or
  closes it unanswered (a dark encoder channel): ``InvalidDataError`` at open, after the
  read time-out or at once; libav cannot tell these apart, nor from a garbled answer;
- packets stop on an open stream: ``TimeoutError`` ("Connection timed out") from a read;
- a 401 or 404 to ``DESCRIBE``: ``HTTPUnauthorizedError``, ``HTTPNotFoundError``;
- the camera closes a stream it was sending: the demuxer simply ends (no exception), or a
  reset, which the ingest reports as ended.

Only the class of the exception and, for an open, whether a stream had been reached
decide; the text (:func:`cctvctl.recorder.ingest.describe_error`) stays the raw detail.
"""

from __future__ import annotations

import errno

import av

from cctvctl.models import OfflineCause

__all__ = ["classify"]

_REFUSED = {errno.ECONNREFUSED}
_UNREACHABLE = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT, errno.EHOSTDOWN}
_RESET = {errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED}


def classify(exc: BaseException, *, streaming: bool) -> OfflineCause:
    """The cause behind ``exc``; ``streaming`` is True once the stream was open."""
    if isinstance(exc, av.HTTPUnauthorizedError | av.HTTPForbiddenError):
        return OfflineCause.AUTH_FAILED
    if isinstance(exc, av.HTTPNotFoundError):
        return OfflineCause.NOT_FOUND
    code = getattr(exc, "errno", None)
    if isinstance(exc, ConnectionRefusedError) or code in _REFUSED:
        return OfflineCause.REFUSED
    if isinstance(exc, ConnectionResetError | BrokenPipeError) or code in _RESET:
        return OfflineCause.ENDED
    timed_out = isinstance(exc, TimeoutError | av.ExitError) or code in _UNREACHABLE
    if streaming:
        # A read that times out on an open stream: the camera is there and sends nothing.
        return OfflineCause.STALLED if timed_out else OfflineCause.OTHER
    if timed_out or isinstance(exc, av.InvalidDataError | EOFError):
        # Before a stream is open, "invalid data" is what libav makes of no answer at all.
        return OfflineCause.NO_ANSWER
    return OfflineCause.OTHER
