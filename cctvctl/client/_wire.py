"""How a call waits: on an event loop, or on the calling thread with no loop at all.

:class:`~cctvctl.client.AsyncCctvClient` is written once, against :class:`Wire`. Over
:class:`LoopWire` (``httpx.AsyncClient``) its coroutines suspend as usual. Over
:class:`ThreadWire` (``httpx.Client``) every await finishes before it returns, so a
coroutine of the API never suspends and :func:`complete` runs it to its end without an
event loop: that is the blocking :class:`~cctvctl.client.CctvClient`, and it keeps
asyncio and anyio (~60 ms) out of the CLI's start-up.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Any, Protocol, TypeVar, cast

import httpx

T = TypeVar("T")


class Wire(Protocol):
    """The waiting points of the API: sending, streaming, sleeping, awaiting several."""

    @property
    def loop_free(self) -> bool: ...
    async def send(self, request: dict[str, Any]) -> httpx.Response: ...
    def stream(self, request: dict[str, Any]) -> AbstractAsyncContextManager[httpx.Response]: ...
    async def read(self, response: httpx.Response) -> None: ...
    def blocks(self, response: httpx.Response, size: int) -> AsyncIterator[bytes]: ...
    async def sleep(self, seconds: float) -> None: ...
    async def gather(self, calls: Sequence[Awaitable[Any]]) -> tuple[Any, ...]: ...
    async def aclose(self) -> None: ...


class LoopWire:
    """On an event loop (the TUI, several nodes at once)."""

    loop_free = False

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def send(self, request: dict[str, Any]) -> httpx.Response:
        return await self._http.request(**request)

    def stream(self, request: dict[str, Any]) -> AbstractAsyncContextManager[httpx.Response]:
        return self._http.stream(**request)

    async def read(self, response: httpx.Response) -> None:
        await response.aread()

    def blocks(self, response: httpx.Response, size: int) -> AsyncIterator[bytes]:
        return response.aiter_bytes(size)

    async def sleep(self, seconds: float) -> None:
        import asyncio  # here, not at the top: the blocking client never needs it

        await asyncio.sleep(seconds)

    async def gather(self, calls: Sequence[Awaitable[Any]]) -> tuple[Any, ...]:
        import asyncio

        return tuple(await asyncio.gather(*calls))

    async def aclose(self) -> None:
        await self._http.aclose()


class _Entered(AbstractAsyncContextManager[httpx.Response]):
    """A blocking context manager behind the async protocol, entered without waiting."""

    def __init__(self, inner: AbstractContextManager[httpx.Response]) -> None:
        self._inner = inner

    async def __aenter__(self) -> httpx.Response:
        return self._inner.__enter__()

    async def __aexit__(self, *exc: Any) -> bool | None:
        return self._inner.__exit__(*exc)


class ThreadWire:
    """Blocking I/O on the calling thread: no await here ever suspends."""

    loop_free = True

    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    async def send(self, request: dict[str, Any]) -> httpx.Response:
        return self._http.request(**request)

    def stream(self, request: dict[str, Any]) -> AbstractAsyncContextManager[httpx.Response]:
        return _Entered(self._http.stream(**request))

    async def read(self, response: httpx.Response) -> None:
        response.read()

    async def blocks(self, response: httpx.Response, size: int) -> AsyncIterator[bytes]:
        for block in response.iter_bytes(size):
            yield block

    async def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    async def gather(self, calls: Sequence[Awaitable[Any]]) -> tuple[Any, ...]:
        # One after the other. After a failure the rest are never awaited: close them, as
        # asyncio would have run them, so no "coroutine was never awaited" warning.
        done: list[Any] = []
        try:
            for call in calls:
                done.append(await call)
        finally:
            for call in calls[len(done) + 1 :]:
                close = getattr(call, "close", None)
                if close is not None:
                    close()
        return tuple(done)

    async def aclose(self) -> None:
        self._http.close()


def complete(awaitable: Awaitable[T]) -> T:
    """The result of a coroutine that never suspends, without an event loop."""
    steps = awaitable.__await__()
    try:
        waited_on = steps.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    steps.close()
    raise RuntimeError(
        f"the question waited on {waited_on!r}: only client calls and client.gather() "
        "run without an event loop; use MultiClient.run() for it"
    )
