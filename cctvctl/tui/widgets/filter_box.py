"""The one-line `/` filter every list screen has: hidden until asked for, Esc clears it."""

from __future__ import annotations

from textual.widgets import Input

__all__ = ["FilterBox"]


class FilterBox(Input):
    DEFAULT_CSS = """
    FilterBox { display: none; height: 1; border: none; padding: 0 1; }
    FilterBox:focus { border: none; }
    """

    @property
    def needle(self) -> str:
        """What to look for, lower case; empty when the filter is closed or blank."""
        return self.value.strip().lower()

    def open(self) -> None:
        if self.has_focus:
            # "/" is the key that opens the filter, but case ids have slashes: type it.
            self.insert_text_at_cursor("/")
            return
        self.display = True
        # Focus after the "/" key has been handled, or the box would receive it too.
        self.call_after_refresh(self.focus)

    def close(self) -> bool:
        """Clear and hide the filter; False when it was not open (Esc means "back")."""
        if not self.display:
            return False
        self.value = ""
        self.display = False
        return True
