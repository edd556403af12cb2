"""Several nodes: :class:`MultiClient` asks them all at once, :func:`run_blocking` asks
one over blocking I/O; either answers with a :class:`NodeResult` per node."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cctvctl.client._api import AsyncCctvClient
from cctvctl.client._blocking import CctvClient
from cctvctl.client._errors import CctvError
from cctvctl.client._server import TargetLike
from cctvctl.client._wire import complete

T = TypeVar("T")


@dataclass(frozen=True)
class NodeResult(Generic[T]):
    """One node's answer to a :class:`MultiClient` question: a value or an error."""

    name: str
    url: str
    value: T | None = None
    error: CctvError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class MultiClient:
    """Asks several servers the same question at once; one node failing spoils nothing.

    ``results = MultiClient(targets).run(lambda c: c.health())`` returns a
    :class:`NodeResult` per target, in the targets' order. Only :class:`CctvError` is
    caught: anything else is a bug and propagates.
    """

    def __init__(self, targets: Iterable[TargetLike], **client_kwargs: Any) -> None:
        self.targets = list(targets)
        self._kwargs = client_kwargs

    async def gather(
        self, question: Callable[[AsyncCctvClient], Awaitable[T]]
    ) -> list[NodeResult[T]]:
        async def ask(target: TargetLike) -> NodeResult[T]:
            try:
                async with AsyncCctvClient.for_target(target, **self._kwargs) as client:
                    value = await question(client)
            except CctvError as exc:
                return NodeResult(target.name, target.url, error=exc)
            return NodeResult(target.name, target.url, value=value)

        import asyncio

        return list(await asyncio.gather(*(ask(t) for t in self.targets)))

    def run(self, question: Callable[[AsyncCctvClient], Awaitable[T]]) -> list[NodeResult[T]]:
        """:meth:`gather` from blocking code (the CLI); not from inside a running loop."""
        import asyncio

        return asyncio.run(self.gather(question))


def run_blocking(
    target: TargetLike,
    question: Callable[[AsyncCctvClient], Awaitable[T]],
    **client_kwargs: Any,
) -> NodeResult[T]:
    """One node's answer to a :class:`MultiClient` question, with blocking I/O and no event
    loop: neither asyncio nor anyio is imported, which saves the CLI ~60 ms of start-up.

    The question must await only the client's calls and ``client.gather()`` (not
    ``asyncio.gather``, which needs a running loop); concurrency within it becomes
    one call after another. Errors become :class:`NodeResult` errors as in
    :meth:`MultiClient.run`.
    """
    try:
        with CctvClient.for_target(target, **client_kwargs) as sync:
            value = complete(question(sync._api))
    except CctvError as exc:
        return NodeResult(target.name, target.url, error=exc)
    return NodeResult(target.name, target.url, value=value)
