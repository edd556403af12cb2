"""The small dialogs' shared mechanics: fields, a one-line error, a submit and a Cancel button.

Enter in any field or the submit button calls :meth:`FormModal.submit`; Cancel and Esc
dismiss with None. Tab and Shift+Tab move between fields even when the text after them
arrives in the same read. While a server call made through :meth:`FormModal.send` runs, the
submit button is greyed; when it fails, the dialog says why and stays open with
everything typed still in it.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import ClassVar, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static
from textual.widgets.button import ButtonVariant

from cctvctl.client import CctvError
from cctvctl.tui.format import plain

__all__ = ["FormModal"]

R = TypeVar("R")
T = TypeVar("T")


class FormModal(ModalScreen[T]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "cancel"),
        # Priority: the app then moves the focus while it reads the key, before it hands
        # on the keys after it. Otherwise text that arrives in the same read as a Tab (a
        # laggy SSH link, a paste) is already queued for the field the Tab leaves.
        Binding("tab", "app.focus_next", "next field", show=False, priority=True),
        Binding("shift+tab", "app.focus_previous", "previous field", show=False, priority=True),
    ]
    DEFAULT_CSS = """
    FormModal { align: center middle; background: $background 50%; }
    FormModal > Vertical {
        width: 90%; max-width: 78; height: auto;
        border: round $accent; background: $surface; padding: 0 1;
    }
    FormModal #error { color: $error; height: auto; min-height: 1; }
    FormModal #buttons { height: auto; align-horizontal: right; }
    FormModal Button { min-width: 12; margin: 0 0 0 1; }
    """
    SUBMIT_LABEL: ClassVar[str] = "OK"
    BUSY_LABEL: ClassVar[str] = "Working…"
    SUBMIT_VARIANT: ClassVar[ButtonVariant] = "primary"

    busy = False

    def error_and_buttons(self) -> ComposeResult:
        """The error line and the button row, for the end of a subclass's ``compose``."""
        yield Static("", id="error")
        with Horizontal(id="buttons"):
            yield Button(self.SUBMIT_LABEL, id="submit", variant=self.SUBMIT_VARIANT)
            yield Button("Cancel", id="cancel")

    @property
    def error_text(self) -> str:
        return str(self.query_one("#error", Static).content)

    def show_error(self, message: str, field: str | None = None) -> None:
        # A refusal quotes the server (and through it what someone typed).
        self.query_one("#error", Static).update(plain(message))
        if field is not None:
            self.query_one(f"#{field}", Input).focus()

    def submit(self) -> None:
        raise NotImplementedError

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "submit":
            self.submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        button = self.query_one("#submit", Button)
        button.disabled = busy
        button.label = self.BUSY_LABEL if busy else self.SUBMIT_LABEL

    def refused(self, exc: CctvError) -> None:
        """Show the server's answer to a failed :meth:`send`; subclasses may add to it."""
        self.show_error(f"refused: {exc.detail}" if exc.status else str(exc))

    async def send(self, request: Awaitable[R]) -> R | None:
        """Await ``request``; on failure say why, free the dialog and return None.

        Call :meth:`set_busy` before starting the worker that sends, so a second Enter
        pressed before the worker runs cannot send twice.
        """
        try:
            return await request
        except CctvError as exc:
            self.set_busy(False)
            self.refused(exc)
        except Exception as exc:  # the console must outlive any surprise; say what it was
            self.set_busy(False)
            self.show_error(f"failed: {type(exc).__name__}: {exc}")
        return None
