"""A one-line label that re-sends itself only when its text really changed."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

__all__ = ["Line"]


class Line(Static):
    """Polls rewrite labels every few seconds with mostly the same text; each ``update``
    costs a repaint on the wire, which a thin link to a kecamatan office notices."""

    _last: Text | str | None = None

    def show(self, text: Text | str) -> None:
        if text == self._last:
            return
        self._last = text
        self.update(text)
