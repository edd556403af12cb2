"""`b` on a camera: confirm a reboot, naming the target, with a reason for the audit log.

A camera without an ONVIF URL is refused here, before anything is sent. Otherwise the
server decides; its refusals (rebooted recently, disabled, a reboot already in flight)
are shown here on one line and the modal stays open. A "force" box
appears only for the refusal that force lifts: a reboot in the last 10 minutes.
"""

from __future__ import annotations

from typing import Final

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Label, Static

from cctvctl.client import AsyncCctvClient, CctvError
from cctvctl.models import Camera, RebootError, RebootJob
from cctvctl.termsafe import for_terminal
from cctvctl.tui.format import BADGES, age_text
from cctvctl.tui.screens.form_modal import FormModal

__all__ = ["REASON_MAX", "RebootModal", "force_lifts", "target_text"]

REASON_MAX: Final = 500  # the server's limit (RebootRequest.reason)
NO_ONVIF: Final = (
    "no ONVIF URL in the inventory: this camera cannot be rebooted remotely; "
    "add its onvif URL to the inventory, or power-cycle it on site"
)


def target_text(camera: Camera) -> Text:
    camera = for_terminal(camera)
    label, style = BADGES[camera.status]
    text = Text()
    text.append("Reboot ", "bold")
    text.append(camera.id, "bold")
    text.append(f"  {camera.name}\n")
    text.append(f"{camera.kecamatan} · {camera.site}\n")
    text.append("status ")
    text.append(f" {label} ", style)
    seen = (
        "never seen"
        if camera.last_packet is None
        else f"last seen {age_text(camera.last_packet)} ago"
    )
    text.append(f" {camera.status.value}, {seen}")
    if not camera.has_onvif:
        text.append("\nno ONVIF URL", "bold red")  # the error line below says what to do
    return text


def force_lifts(exc: CctvError) -> bool:
    """Whether ``force: true`` would get past this refusal (a recent reboot, not one in flight)."""
    problem = exc.problem or {}
    return (
        exc.status == 409
        and problem.get("error") == RebootError.RECENTLY_REBOOTED.value
        and "force" in exc.detail
    )


class RebootModal(FormModal[RebootJob | None]):
    """Reason (required), Reboot / Cancel; Esc cancels."""

    SUBMIT_LABEL = "Reboot"
    BUSY_LABEL = "Rebooting…"
    SUBMIT_VARIANT = "error"
    DEFAULT_CSS = """
    RebootModal > Vertical { border: round $error; }
    RebootModal #target { height: auto; margin: 0 0 1 0; }
    RebootModal #reason-row { height: 1; margin: 0 0 1 0; }
    RebootModal #reason-row Label { width: 8; }
    RebootModal #reason { border: none; height: 1; padding: 0 1; width: 1fr; }
    RebootModal #force { display: none; height: auto; }
    RebootModal #force.offered { display: block; }
    """

    def __init__(self, client: AsyncCctvClient, camera: Camera) -> None:
        super().__init__()
        self.client = client
        self.camera = camera

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(target_text(self.camera), id="target")
            with Horizontal(id="reason-row"):
                yield Label("reason")
                yield Input(
                    placeholder="required, for the audit log",
                    id="reason",
                    max_length=REASON_MAX,
                )
            yield Checkbox("force: reboot again although rebooted in the last 10 min", id="force")
            yield from self.error_and_buttons()

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()
        if not self.camera.has_onvif:
            # The server would refuse it; say so before a reason is typed for nothing.
            self.query_one("#submit", Button).disabled = True
            self.show_error(f"cannot reboot: {NO_ONVIF}")

    def submit(self) -> None:
        if self.busy:
            return
        if not self.camera.has_onvif:
            self.show_error(f"cannot reboot: {NO_ONVIF}")
            return
        reason = self.query_one("#reason", Input).value.strip()
        if not reason:
            self.show_error("reason: required; say why, e.g. 'stream frozen since 03:00'", "reason")
            return
        if len(reason) > REASON_MAX:
            self.show_error(f"reason: {len(reason)} characters; accepted: at most {REASON_MAX}")
            return
        force = self.query_one("#force", Checkbox)
        self.show_error("")
        self.set_busy(True)
        self.run_worker(
            self._reboot(reason, force.has_class("offered") and force.value),
            group="reboot-modal",
            exit_on_error=False,
        )

    async def _reboot(self, reason: str, force: bool) -> None:
        job = await self.send(self.client.reboot_camera(self.camera.id, reason, force=force))
        if job is not None:
            self.dismiss(job)

    def refused(self, exc: CctvError) -> None:
        super().refused(exc)
        if force_lifts(exc):
            self.query_one("#force", Checkbox).add_class("offered")
