"""`e` on a camera: the export form (WITA times, case id, note) that queues a clip export.

:func:`parse_wita` and :func:`validate` are pure, so every spelling can be tested without a
terminal. The form stays open on a refusal, the server's included, with what was typed
kept; it is dismissed with the :class:`~cctvctl.models.ExportJob` once the server took it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Static

from cctvctl.client import AsyncCctvClient
from cctvctl.models import ExportJob, Recordings
from cctvctl.timeparse import parse_time
from cctvctl.tui import clock
from cctvctl.tui.clock import WITA
from cctvctl.tui.format import plain
from cctvctl.tui.screens.form_modal import FormModal

__all__ = [
    "CASE_ID_MAX",
    "ExportForm",
    "ExportInput",
    "default_window",
    "parse_wita",
    "validate",
    "wita_text",
]

CASE_ID_MAX: Final = 200  # the server's limit (ExportRequest.case_id)
NOTE_MAX: Final = 2000
DEFAULT_LENGTH: Final = timedelta(minutes=5)


def wita_text(when: datetime, *, seconds: bool = False) -> str:
    """``2026-11-28 14:05`` in WITA: how the form shows a time and reads it back."""
    return when.astimezone(WITA).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def parse_wita(text: str, now: datetime | None = None) -> datetime:
    """A time as typed at the NOC, as an aware UTC datetime; ValueError (one line) if not.

    The CLI's spellings (:func:`cctvctl.timeparse.parse_time`), anchored on :func:`clock.now`.
    """
    return parse_time(text, now=now or clock.now())


def default_window(
    footage: Recordings | None, now: datetime, around: datetime | None = None
) -> tuple[str, str]:
    """The form's first start and end: the last five minutes of footage that exists (from the
    newest segment's end back, not before the oldest), so a newcomer's first export is not
    refused for a window the camera never recorded; five minutes up to now if none is known.
    ``around``, the moment of the past the camera screen shows: five minutes centred on it
    (ending by now at the latest), since that is the footage being looked at."""
    segments = footage.segments if footage is not None else []
    if around is not None:
        end = min(now, around + DEFAULT_LENGTH / 2)
        start = end - DEFAULT_LENGTH
    elif not segments:
        start, end = now - DEFAULT_LENGTH, now
    else:
        end = max(s.end for s in segments)
        start = max(min(s.start for s in segments), end - DEFAULT_LENGTH)
    whole = not (start.second or end.second)
    return wita_text(start, seconds=not whole), wita_text(end, seconds=not whole)


@dataclass(frozen=True)
class ExportInput:
    start: datetime
    end: datetime
    case_id: str
    note: str | None


@dataclass(frozen=True)
class Invalid:
    field: str  # the Input id to focus
    message: str


def validate(
    start: str, end: str, case_id: str, note: str, now: datetime | None = None
) -> ExportInput | Invalid:
    """The form's values checked as the server would, so most mistakes never leave the NOC."""
    at = now or clock.now()
    try:
        t0 = parse_wita(start, at)
    except ValueError as exc:
        return Invalid("start", f"start: {exc}")
    try:
        t1 = parse_wita(end, at)
    except ValueError as exc:
        return Invalid("end", f"end: {exc}")
    if t1 <= t0:
        return Invalid(
            "end",
            f"end: {wita_text(t1, seconds=True)} must be after start "
            f"{wita_text(t0, seconds=True)} (WITA)",
        )
    case = case_id.strip()
    if not case:
        return Invalid("case", "case id: required, e.g. POLRES-KUTIM/2026/117 or LP/123/XI/2026")
    if len(case) > CASE_ID_MAX:
        return Invalid("case", f"case id: {len(case)} characters; accepted: at most {CASE_ID_MAX}")
    text = note.strip()
    if len(text) > NOTE_MAX:
        return Invalid("note", f"note: {len(text)} characters; accepted: at most {NOTE_MAX}")
    return ExportInput(t0, t1, case, text or None)


class ExportForm(FormModal[ExportJob | None]):
    """Start, end, case id and note; Enter (or Export) submits, Esc cancels."""

    SUBMIT_LABEL = "Export"
    BUSY_LABEL = "Exporting…"
    DEFAULT_CSS = """
    ExportForm #title { text-style: bold; height: 1; }
    ExportForm .row { height: 1; margin: 0 0 1 0; }
    ExportForm .row Label { width: 14; }
    ExportForm .row Input { border: none; height: 1; padding: 0 1; width: 1fr; }
    ExportForm #hint { color: $text-muted; height: 1; }
    """

    def __init__(
        self,
        client: AsyncCctvClient,
        camera_id: str,
        camera_name: str = "",
        *,
        footage: Recordings | None = None,
        now: datetime | None = None,
        around: datetime | None = None,
    ) -> None:
        super().__init__()
        self.client = client
        self.camera_id = camera_id
        self.camera_name = camera_name
        self._defaults = default_window(footage, now or clock.now(), around)

    def compose(self) -> ComposeResult:
        title = f"Export {self.camera_id}" + (f" ({self.camera_name})" if self.camera_name else "")
        with Vertical():
            yield Static(plain(title), id="title")  # the camera's name is the server's text
            yield Static("times in WITA; e.g. 14:00, 2026-11-28 14:00, -15m", id="hint")
            for field, label, value, placeholder, limit in (
                ("start", "start (WITA)", self._defaults[0], "2026-11-28 14:00", 40),
                ("end", "end (WITA)", self._defaults[1], "2026-11-28 14:05", 40),
                ("case", "case id", "", "POLRES-KUTIM/2026/117 (required)", CASE_ID_MAX),
                ("note", "note", "", "optional, for the audit log", NOTE_MAX),
            ):
                with Horizontal(classes="row"):
                    yield Label(label)
                    yield Input(value, placeholder=placeholder, id=field, max_length=limit)
            yield from self.error_and_buttons()

    def on_mount(self) -> None:
        self.query_one("#case", Input).focus()

    def value(self, field: str) -> str:
        return self.query_one(f"#{field}", Input).value

    def submit(self) -> None:
        if self.busy:
            return
        checked = validate(
            self.value("start"), self.value("end"), self.value("case"), self.value("note")
        )
        if isinstance(checked, Invalid):
            self.show_error(checked.message, checked.field)
            return
        self.show_error("")
        self.set_busy(True)
        self.run_worker(self._create(checked), group="export-form", exit_on_error=False)

    async def _create(self, req: ExportInput) -> None:
        job = await self.send(
            self.client.create_export(
                self.camera_id, req.start, req.end, case_id=req.case_id, note=req.note
            )
        )
        if job is not None:
            self.dismiss(job)
