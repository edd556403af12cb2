"""termsafe: server text shown in a terminal has no live control characters left."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from cctvctl.models import AuditEntry, CameraStatus
from cctvctl.termsafe import escape_controls, for_terminal, json_c1_safe

# Clear screen, set the window title, write the clipboard (OSC 52), ring the bell, and the
# same as 8-bit C1 codes (CSI U+009B, OSC U+009D) that many terminals also obey.
HOSTILE = "LP/1\x1b[2J\x1b]0;pwned\x07\x1b]52;c;cm0gLXJmIH4=\x07\x9b31m\x9d0;t\x9c\x7fend"


def test_every_control_character_becomes_a_visible_escape() -> None:
    shown = escape_controls(HOSTILE)
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in shown)
    assert shown == (
        "LP/1\\x1b[2J\\x1b]0;pwned\\x07\\x1b]52;c;cm0gLXJmIH4=\\x07\\x9b31m\\x9d0;t\\x9c\\x7fend"
    )
    # A newline cannot break a row or an error line in two; Python's escapes, as the API's.
    assert escape_controls("line\nnext\ttab\r\u2028") == "line\\nnext\\ttab\\r\\u2028"


def test_printable_text_is_left_alone() -> None:
    # Indonesian names, markup-looking text and backslashes are text, not controls.
    for text in ("Sangatta Utara", "Kantor Camat · Muara Wahau", "[bold]x[/]", "a\\x1b", "é ñ"):
        assert escape_controls(text) == text


@dataclass(frozen=True)
class Row:
    node: str
    entry: AuditEntry
    tags: tuple[str, ...]


class Pair(NamedTuple):
    name: str
    count: int


def audit_row(**fields: Any) -> AuditEntry:
    """A viewer's export request on cam-1, with ``fields`` changed."""
    row: dict[str, Any] = {
        "id": 1,
        "time": datetime(2026, 12, 4, tzinfo=UTC),
        "actor": "viewer",
        "role": "viewer",
        "action": "export.request",
        "target": "cam-1",
        "reason": None,
        "case_id": None,
        "result": "ok",
        "detail": None,
    }
    return AuditEntry(**(row | fields))


def test_for_terminal_walks_models_dataclasses_and_containers_without_touching_the_original() -> (
    None
):
    entry = audit_row(case_id=HOSTILE, result="denied", detail="why\x1b[H")
    value = {"rows\x1b": [Row("node\x9b", entry, ("a\x07",))], "pair": Pair("n\x1b", 3)}
    safe = for_terminal(value)
    row = safe["rows\\x1b"][0]
    assert row.node == "node\\x9b" and row.tags == ("a\\x07",)
    assert row.entry.case_id == escape_controls(HOSTILE)
    assert row.entry.detail == "why\\x1b[H" and row.entry.reason is None
    assert row.entry.time == entry.time and row.entry.id == 1
    assert safe["pair"] == Pair("n\\x1b", 3) and isinstance(safe["pair"], Pair)
    assert entry.case_id == HOSTILE  # the caller's data (and --json) keep the exact text
    assert for_terminal(CameraStatus.ONLINE) is CameraStatus.ONLINE


def test_json_keeps_the_data_but_no_raw_c1() -> None:
    document = json.dumps({"case_id": HOSTILE}, ensure_ascii=False)
    safe = json_c1_safe(document)
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in safe)
    assert json.loads(safe) == {"case_id": HOSTILE}


def test_clean_values_come_back_as_they_are() -> None:
    # No copy when nothing needs escaping: `audit --limit 10000` stays cheap.
    entry = audit_row(id=2, actor="admin", role="admin", action="reboot", reason="hung")
    rows = [Row("sangatta", entry, ("a",))]
    assert for_terminal(rows) is rows
    assert for_terminal({"k": entry}) == {"k": entry}
    mixed = [entry, entry.model_copy(update={"reason": "a\x1b"})]
    safe = for_terminal(mixed)
    assert safe[0] is entry and safe[1].reason == "a\\x1b"
