"""Following a job over the event stream, with polling as the fallback.

A job's progress reaches a front end as ``job.progress`` events at ``/api/v1/events``;
:func:`follow_job` waits for those and asks ``GET`` for the job only when the events
cannot tell it enough (a final state: size and SHA-256 come with the job) or when the
stream has said nothing for :data:`SAFETY_SECONDS`. When the stream drops for good it
falls back to a look every ``poll`` seconds, so a job is followed to its end either way.

:class:`JobNews` holds the stream on a thread of its own with an event loop: the blocking
:class:`~cctvctl.client.CctvClient` of the CLI has none, and asyncio is imported only
once a job is followed, never at start-up.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar

from cctvctl.models import ExportJob, ExportState, ExportWait

if TYPE_CHECKING:
    import asyncio

    from cctvctl.client._api import AsyncCctvClient

J = TypeVar("J")

JOB_PROGRESS: Final = "job.progress"
#: While the stream is up, a job is still looked at this often: a safety net for an event
#: published before the stream opened, or one the server dropped.
SAFETY_SECONDS: Final = 10.0
#: Events replayed when the stream opens, so news of a job made just before is not lost.
REPLAYED: Final = 200
#: Reconnects in a row before the stream counts as down and polling takes over.
STREAM_RETRIES: Final = 2

_DOWN: Final = object()  # the stream ended: wakes a waiter at once


class JobNews:
    """``job.progress`` events of one job, from a thread that holds the event stream.

    ``connect`` makes the :class:`AsyncCctvClient` (on the thread's loop); ``kind`` is
    ``export`` or ``reboot`` and ``job`` the job's id as the events name it. Use it as a
    context manager, or call :meth:`start` and :meth:`close`.
    """

    def __init__(self, connect: Callable[[], AsyncCctvClient], kind: str, job: str) -> None:
        self._connect = connect
        self.kind = kind
        self.job = job
        self._queue: queue.Queue[object] = queue.Queue()
        self._live = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=self._run, name=f"{kind}-news", daemon=True)

    def __enter__(self) -> JobNews:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def live(self) -> bool:
        """Whether the stream still stands; False once it has dropped for good."""
        return self._live.is_set()

    def start(self) -> None:
        self._live.set()  # until it fails: a stream that never opens says so soon enough
        self._thread.start()

    def close(self) -> None:
        loop, task = self._loop, self._task
        if loop is not None and task is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already finished
                loop.call_soon_threadsafe(task.cancel)
        self._thread.join(timeout=5)

    def wait(self, timeout: float) -> list[Mapping[str, Any]] | None:
        """The events' data of this job that came in, oldest first, waiting up to
        ``timeout`` seconds for the first; None when none came (or the stream dropped)."""
        try:
            first = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        got = [first]
        while True:
            try:
                got.append(self._queue.get_nowait())
            except queue.Empty:
                break
        news = [item for item in got if isinstance(item, Mapping)]
        return news or None

    # -- the stream's thread ------------------------------------------------------------

    def _run(self) -> None:
        import asyncio

        try:
            asyncio.run(self._main())
        finally:
            self._live.clear()
            self._queue.put(_DOWN)

    async def _main(self) -> None:
        import asyncio

        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        try:
            async with self._connect() as client:
                stream = client.events(
                    types=[JOB_PROGRESS], last=REPLAYED, max_retries=STREAM_RETRIES
                )
                try:
                    async for event in stream:
                        data = event.data
                        if data.get("kind") == self.kind and str(data.get("job")) == self.job:
                            self._queue.put(data)
                finally:
                    await stream.aclose()
        except asyncio.CancelledError:
            pass
        except Exception:  # noqa: S110 (any failure means: poll instead)
            pass


def fold_export_event(job: ExportJob, data: Mapping[str, Any]) -> ExportJob | None:
    """``job`` as an export's ``job.progress`` event moves it on; None if the event is not
    about it or says something this client cannot read."""
    if data.get("kind") != "export" or str(data.get("job")) != job.id:
        return None
    try:
        state = ExportState(str(data.get("state")))
    except ValueError:
        return None
    update: dict[str, object] = {"state": state}
    for field in ("percent", "bytes_done", "bytes_total", "eta_seconds"):
        if field in data:
            update[field] = data[field]
    if "waiting" in data:
        try:
            update["waiting"] = (
                None if data["waiting"] is None else ExportWait.model_validate(data["waiting"])
            )
        except ValueError:
            return None
    return job.model_copy(update=update)


def follow_job(
    job: J,
    *,
    fetch: Callable[[], J],
    settled: Callable[[J], bool],
    show: Callable[[J], None],
    news: JobNews,
    poll: float,
    fold: Callable[[J, Mapping[str, Any]], J | None] | None = None,
) -> J:
    """Follows ``job`` until ``settled``, calling ``show`` at each change; returns it.

    With the stream up it waits for ``news``; ``fold`` turns an event into the job when
    the event says enough (else None: then ``fetch`` asks the server). With the stream
    down it calls ``fetch`` every ``poll`` seconds, as before there was a stream.
    """
    while True:
        show(job)
        if settled(job):
            return job
        live = news.live
        got = news.wait(SAFETY_SECONDS if live else poll)
        folded: J | None = None
        if got is not None and fold is not None:
            folded = job
            for data in got:
                folded = fold(folded, data)
                if folded is None:
                    break
        # A final state (the job holds more than its event), news the events cannot tell,
        # a quiet stream (the safety net) or no stream at all: ask the server.
        job = folded if folded is not None and not settled(folded) else fetch()
