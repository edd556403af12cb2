"""A ``WHERE`` clause from optional filters, for the stores' listing queries.

Every store lists its table with a few optional filters (a camera, a time range, a set of
states). Each filter is a fixed SQL term with ``?`` placeholders; the values are only ever
bound, never written into the SQL text.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["Where"]


class Where:
    """Terms joined with ``AND``, and the values their placeholders bind, in order."""

    def __init__(self) -> None:
        self._terms: list[str] = []
        self._params: list[Any] = []

    def add(self, term: str, *params: Any) -> None:
        """``term`` as written; ``params`` fill its ``?`` placeholders in order."""
        self._terms.append(term)
        self._params.extend(params)

    def equals(self, column: str, value: object) -> None:
        """``column = value``; no term at all when ``value`` is None (no filter)."""
        if value is not None:
            self.add(f"{column} = ?", value)

    def among(self, column: str, values: Iterable[object] | None) -> None:
        """``column IN (values)``; None is no filter, and an empty list matches nothing."""
        if values is None:
            return
        wanted = list(values)
        if wanted:
            self.add(f"{column} IN ({', '.join('?' * len(wanted))})", *wanted)
        else:
            self.add("0")

    @property
    def sql(self) -> str:
        """``WHERE … `` with a space to go on from, or nothing when there is no term."""
        return f"WHERE {' AND '.join(self._terms)} " if self._terms else ""

    def params(self, *after: object) -> tuple[Any, ...]:
        """The bound values, then ``after`` for placeholders that follow (a ``LIMIT ?``)."""
        return (*self._params, *after)
