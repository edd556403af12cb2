"""A byte budget for picture updates, so a grid of busy cameras fits a thin link.

Sixteen moving pictures refreshed every second can ask for tens of KB/s in 256 colours;
over a kecamatan office's link that makes the whole console lag. The grid asks the budget
before it sends each tile's new picture: within the budget it goes out at once; over it the
tile keeps its picture a little longer. The stalest tile goes first and nothing overtakes
it, so every picture still moves, in turn.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from cctvctl.render import Depth

__all__ = ["DEFAULT_RATES", "ByteBudget"]

# Bytes per second for pictures alone; headers, badges and tables come on top. Chosen to
# keep a 16-tile grid under 8 KB/s in 256 colours and 2 KB/s in ASCII (benchmarks/tui_bytes.py).
DEFAULT_RATES: Final[dict[Depth, float | None]] = {
    Depth.TRUECOLOR: None,  # a truecolor terminal is rarely on a thin link: no limit
    Depth.XTERM256: 6_500.0,
    Depth.ANSI16: 6_500.0,
    Depth.NONE: 1_500.0,
}


class ByteBudget:
    """A token bucket: ``rate`` bytes per second, saving up at most ``burst`` seconds' worth.

    Never in debt, so the long-run rate cannot pass ``rate``: a first picture (the screen
    opening) goes out free, and a picture dearer than the whole bucket waits for a full
    bucket and then empties it.
    """

    def __init__(
        self,
        rate: float | None,
        *,
        burst: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self._cap = 0.0 if rate is None else rate * burst
        self._tokens = self._cap
        self._clock = clock
        self._at = clock()
        self.spent = 0
        self.deferred = 0

    def _refill(self) -> None:
        now = self._clock()
        if self.rate is not None:
            self._tokens = min(self._cap, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def allow(self, cost: int, *, first: bool = False) -> bool:
        """Whether to send ``cost`` bytes now (``first``: the tile has no picture yet)."""
        self._refill()
        if self.rate is None or first:
            self.spent += cost
            return True
        if cost <= self._tokens or self._tokens >= self._cap:
            self._tokens = max(0.0, self._tokens - cost)
            self.spent += cost
            return True
        self.deferred += 1
        return False
