"""Which columns of a table fit a terminal, and how wide: one rule for both front ends.

A column that names a row (camera id, job id, kecamatan) is never cut, or the operator
cannot tell ``kbn-desa-01`` from ``kbn-desa-02``; nor is a status column hidden, or a
narrow terminal would hide the very problem it is looked at for. The other columns give
way first: those that may shrink do (to their ``min_width``), then they hide, the highest
:class:`Priority` first and, among equals, the rightmost. A view says what it hid.

The console hides columns this way (``tui/screens/filtered.py``); the CLI, which must not
lose a field, turns to its stacked "key: value" layout when a table does not fit
(``cli/output.py``). Standard library only: the CLI decides before anything heavy loads.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["ColumnSpec", "Fit", "Priority", "fit_columns"]


class Priority(enum.IntEnum):
    """How much a column matters; higher numbers give way first."""

    IDENTITY = 0  # names the row: never cut, never hidden
    STATUS = 1  # says what is wrong: never cut, never hidden
    OTHER = 2
    EXTRA = 3  # the first to hide


@dataclass(frozen=True)
class ColumnSpec:
    label: str
    priority: Priority = Priority.OTHER
    #: The least a column other than identity or status may shrink to (its cells then
    #: end in an ellipsis); None: shown whole or not at all.
    min_width: int | None = None
    #: Takes whatever room is left over (a free-text detail column).
    flex: bool = False

    @property
    def keeps(self) -> bool:
        """Identity and status columns are never cut or hidden."""
        return self.priority <= Priority.STATUS


@dataclass(frozen=True)
class Fit:
    """Widths of the shown columns (None for a hidden one), in the specs' order."""

    widths: tuple[int | None, ...]

    def hidden(self, specs: Sequence[ColumnSpec]) -> list[str]:
        return [s.label for s, w in zip(specs, self.widths, strict=True) if w is None]

    @property
    def everything_shown(self) -> bool:
        return all(w is not None for w in self.widths)


def fit_columns(
    specs: Sequence[ColumnSpec], natural: Sequence[int], room: int, gap: int = 2
) -> Fit:
    """Widths for columns whose widest cell (header included) is ``natural`` in ``room``
    cells, each column costing ``gap`` more (padding or separator).

    Identity and status columns keep their natural width even when they alone overflow
    ``room``: a table that scrolls sideways beats an id that lies.
    """
    least = [
        n if s.keeps or s.min_width is None else min(n, s.min_width)
        for s, n in zip(specs, natural, strict=True)
    ]
    shown = [True] * len(specs)

    def cost(widths: Sequence[int]) -> int:
        return sum(w + gap for w, on in zip(widths, shown, strict=True) if on)

    # Hide the highest priority number first, and among equals the rightmost.
    order = sorted(
        (i for i, s in enumerate(specs) if not s.keeps), key=lambda i: (-specs[i].priority, -i)
    )
    for i in order:
        if cost(least) <= room:
            break
        shown[i] = False
    widths = list(least)
    spare = room - cost(widths)
    # Room left over goes back to shrunk columns, most important and leftmost first...
    for i in sorted(range(len(specs)), key=lambda i: (specs[i].priority, i)):
        if shown[i] and spare > 0 and widths[i] < natural[i]:
            grow = min(spare, natural[i] - widths[i])
            widths[i] += grow
            spare -= grow
    # ...and what is still left to the free-text column, so it reads as far as it can.
    flex = next((i for i, s in enumerate(specs) if s.flex and shown[i]), None)
    if flex is not None and spare > 0:
        widths[flex] += spare
    return Fit(tuple(w if on else None for w, on in zip(widths, shown, strict=True)))
