"""Text from a server or a camera, made safe for a terminal.

A case id, a note, a camera name or an error text is typed by someone else (a viewer, a
camera's firmware) and ends up in an admin's terminal. Raw control characters there are
commands, not text: ESC starts sequences that clear the screen, set the window title or
write the clipboard (OSC 52), and C1 codes such as U+009B (CSI) do the same on many
terminals. Both front ends therefore show every control character (C0, DEL, C1) as a
visible ``\\x1b``-style escape, once, where server data turns into text on screen.

Only the standard library (an import-linter contract): ``cli/`` uses it before anything
heavy loads, ``tui/`` for its widgets.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from typing import Any, Final, TypeVar

__all__ = ["escape_controls", "for_terminal", "json_c1_safe"]

T = TypeVar("T")

# C0, DEL and C1, plus the Unicode line and paragraph separators: the set the API refuses
# in text fields (models.CONTROL_CHARACTERS), so old rows and other servers look the same.
_CONTROLS: Final = [*range(0x00, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]
# Python's own escapes, as the server's echoes write them (repr): \x1b, \n.
_ESCAPES: Final = {code: repr(chr(code))[1:-1] for code in _CONTROLS}
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# JSON escapes C0 itself; with ensure_ascii=False it leaves DEL and C1 as they are.
_JSON_ESCAPES: Final = {code: f"\\u{code:04x}" for code in range(0x7F, 0xA0)}


def escape_controls(text: str) -> str:
    """``text`` with every C0, DEL and C1 character (and U+2028/9) as a visible escape:
    ``\\x1b``, ``\\x9b``, ``\\n``, ``\\u2028``."""
    return text.translate(_ESCAPES)


def json_c1_safe(document: str) -> str:
    """A JSON document with DEL and C1 characters as ``\\u00NN`` escapes: the same data,
    but no raw CSI (U+009B) or OSC (U+009D) for a terminal that shows the output.

    Valid because JSON's own syntax is ASCII, so these characters only occur in strings.
    """
    return document.translate(_JSON_ESCAPES)


def for_terminal(value: T) -> T:
    """A copy of ``value`` with every string in it escaped (:func:`escape_controls`).

    Walks API models (pydantic, by duck typing: this module imports none), dataclasses,
    lists, tuples and dicts; enums and other values stay as they are. The original is
    untouched, so ``--json`` and the next API call still see the exact server data.
    """
    return _walk(value)  # type: ignore[no-any-return]


def _walk(value: Any) -> Any:
    # Returns ``value`` itself when nothing in it needs escaping: almost every row is
    # clean, and copying 10 000 audit rows regardless cost half a second.
    if isinstance(value, enum.Enum):
        return value  # validated against a fixed set on the wire
    if isinstance(value, str):
        return escape_controls(value) if _CONTROL.search(value) else value
    if isinstance(value, list | tuple):
        items = [_walk(v) for v in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        if isinstance(value, list):
            return items
        # A NamedTuple stays one (its class takes the fields as arguments).
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, dict):
        pairs = [(_walk(k), _walk(v), k, v) for k, v in value.items()]
        if all(nk is k and nv is v for nk, nv, k, v in pairs):
            return value
        return {nk: nv for nk, nv, _, _ in pairs}
    fields = getattr(type(value), "model_fields", None)
    if isinstance(fields, dict) and hasattr(value, "model_copy"):
        update = _changed(value, list(fields))
        return value.model_copy(update=update) if update else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = [f.name for f in dataclasses.fields(value) if f.init]
        changes = _changed(value, names)
        return dataclasses.replace(value, **changes) if changes else value
    return value


def _changed(value: Any, names: list[str]) -> dict[str, Any]:
    """The attributes of ``value`` that :func:`_walk` changes, walked."""
    changed = {}
    for name in names:
        old = getattr(value, name)
        new = _walk(old)
        if new is not old:
            changed[name] = new
    return changed
