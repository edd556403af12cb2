"""A table's columns named once: the list a query selects, and a row read back by name.

A store that wrote ``SELECT a, b, c`` in one place and ``Model(a=r[0], b=r[1], c=r[2])``
in another had to keep two lists in step by position; with :class:`Columns` one list
gives both, and a column is converted (a stored time to a datetime) where it is named.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["Columns"]


class Columns:
    """Columns in table order, and what each stored value is read as.

    ``names`` are spaced as for a namedtuple; ``convert`` maps a column to a function of its
    stored value. A NULL is read as None without it, so an optional time needs no guard.
    """

    def __init__(self, names: str, **convert: Callable[[Any], Any]) -> None:
        self.names = tuple(names.split())
        unknown = sorted(set(convert) - set(self.names))
        if unknown:
            raise ValueError(f"converters for columns the list does not have: {unknown}")
        self._convert = [convert.get(name) for name in self.names]
        # Quoted: "end" (and any other keyword) is a fine column name that way.
        self.sql = ", ".join(f'"{name}"' for name in self.names)

    def read(self, row: Sequence[Any]) -> dict[str, Any]:
        """One row selected with :attr:`sql`, as ``{column: value}``."""
        return {
            name: value if convert is None or value is None else convert(value)
            for name, convert, value in zip(self.names, self._convert, row, strict=True)
        }
